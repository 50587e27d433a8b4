package advisory

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Stage is a crop stage an agromet advisory is about.
type Stage string

// Stages.
const (
	Sowing    Stage = "sowing"
	Flowering Stage = "flowering"
	Harvest   Stage = "harvest"
	Standing  Stage = "standing" // in the field, from sowing to harvest
)

// Crop is one crop's calendar: the months (1–12) of each stage in a region.
type Crop struct {
	Name   string
	Stages map[Stage][]time.Month
	Source string
}

// Punjab is the crop calendar of wheat, cotton and rice in Punjab, Pakistan, by month.
// Sowing and harvest follow FAO's crop calendar for Pakistan (FAO, "Agriculture in Pakistan —
// crop seasons: Rabi and Kharif", dwms.fao.org/~test/dat_crops_en.asp: Rabi crops sown
// October–December; cotton sown March–May, rice June–July; Kharif harvests September–December),
// with wheat's harvest in April–May as in central Punjab (harvest "starts in April, beginning in
// the southern parts", Dawn, herald.dawn.com/news/1153402). Flowering months are ours, read
// between sowing and harvest (wheat heading in February–March, cotton flowering July–August,
// rice September) and need review by an agronomist (docs/advisories.md).
var Punjab = map[string]Crop{
	"wheat": {Name: "wheat", Source: "FAO crop calendar (sowing), Dawn (harvest); flowering ours", Stages: map[Stage][]time.Month{
		Sowing: {10, 11, 12}, Flowering: {2, 3}, Harvest: {4, 5}, Standing: {11, 12, 1, 2, 3, 4}}},
	"cotton": {Name: "cotton", Source: "FAO crop calendar; flowering ours", Stages: map[Stage][]time.Month{
		Sowing: {3, 4, 5}, Flowering: {7, 8}, Harvest: {9, 10, 11, 12}, Standing: {4, 5, 6, 7, 8, 9, 10, 11}}},
	"rice": {Name: "rice", Source: "FAO crop calendar; flowering ours", Stages: map[Stage][]time.Month{
		Sowing: {6, 7}, Flowering: {9}, Harvest: {10, 11}, Standing: {7, 8, 9, 10}}},
}

// Months returns the months of a crop's stage in Punjab, sorted, or an error naming the crops
// and stages that exist.
func Months(crop string, stage Stage) ([]time.Month, error) {
	c, ok := Punjab[crop]
	if !ok {
		names := make([]string, 0, len(Punjab))
		for n := range Punjab {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("crop %q is not in the Punjab crop calendar (%v)", crop, names)
	}
	m, ok := c.Stages[stage]
	if !ok {
		return nil, fmt.Errorf("stage %q is not one of sowing, flowering, harvest, standing", stage)
	}
	m = slices.Clone(m)
	slices.Sort(m)
	return m, nil
}
