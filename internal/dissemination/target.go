package dissemination

import (
	"context"
	"slices"
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
)

// Reach is what a gazetteer finds in an area: the impact figures and the places inside, with
// their connectivity.
type Reach struct {
	People    int64             `json:"people"`
	Places    map[string]int    `json:"places,omitempty"`   // places by kind (town, village …)
	Villages  map[string]int    `json:"villages,omitempty"` // villages by connectivity
	Districts []DistrictReach   `json:"districts,omitempty"`
	Keys      map[string]string `json:"-"` // place key → connectivity ("fibre", "mobile-data", "sms-only", "none", "" unknown)
	// Unresolved names the parts of the area the gazetteer could not place (an unknown
	// geocode).
	Unresolved []string `json:"unresolved,omitempty"`
}

// DistrictReach is the people of one district inside an area.
type DistrictReach struct {
	Name     string `json:"name"`
	Province string `json:"province,omitempty"`
	People   int64  `json:"people"`
}

// Gazetteer resolves CAP areas to places (package place, loaded from the store).
type Gazetteer interface {
	Reach(areas []cap.Area) (Reach, error)
}

// Points finds which of many (id, point, radius) lie in CAP areas: the subscribers who gave a
// point instead of a place.
type Points interface {
	Add(id int64, lat, lon, radiusKM float64)
	Within(areas []cap.Area) ([]int64, error)
}

// channel bits, in the compact target.
var kinds = []channel.Kind{channel.SMS, channel.Email, channel.Webhook, channel.Voice}

func kindBit(k channel.Kind) uint8 {
	for i, x := range kinds {
		if x == k {
			return 1 << i
		}
	}
	return 0
}

// target is a subscriber in the in-memory index: about 40 bytes, so that a million fit.
type target struct {
	id       int64
	lang     uint16             // index into index.langs
	aud      audSet             // bit i: Audiences[i]
	nch      uint8              // 0: no contact left, or replaced by a newer entry (a tombstone)
	channels [MaxContacts]uint8 // kind bit per contact, in preference order
	pos      [MaxContacts]uint8 // the contacts' stored positions
}

// index is the targeting index: subscribers by place key and by point, built from the store
// and brought up to date from its change log (Store.Changes); a changed subscriber's old entry
// becomes a tombstone and a new one is appended. Rebuilt whole when tombstones pile up.
type index struct {
	version int64
	checked time.Time // when the change log was last read
	targets []target
	dead    int
	byID    map[int64]int32
	byPlace map[string][]int32
	pts     map[int64][3]float64 // subscribers' points: lat, lon, radius
	points  Points
	newPts  func() Points
	langs   []string
}

func (ix *index) lang(s string) uint16 {
	if i := slices.Index(ix.langs, s); i >= 0 {
		return uint16(i)
	}
	ix.langs = append(ix.langs, s)
	return uint16(len(ix.langs) - 1)
}

// audSet holds audience bits: bit i for Audiences[i]. 32 bits, so that there is room for
// new audiences (rule.MaxAudiences; there were 8 in a byte until it was full).
type audSet uint32

func audBits(aud []string) audSet {
	var b audSet
	for _, a := range aud {
		if i := slices.Index(Audiences, a); i >= 0 {
			b |= 1 << i
		}
	}
	return b
}

// add appends t (replacing an older entry of the same subscriber).
func (ix *index) add(t Target) {
	ix.remove(t.ID)
	tg := target{id: t.ID, lang: ix.lang(t.Language), aud: audBits(t.Audiences)}
	for i, ch := range t.Channels {
		if i >= MaxContacts {
			break
		}
		tg.channels[i] = kindBit(ch)
		if i < len(t.Positions) {
			tg.pos[i] = uint8(t.Positions[i])
		}
		tg.nch++
	}
	n := int32(len(ix.targets))
	ix.targets = append(ix.targets, tg)
	ix.byID[t.ID] = n
	if t.Place != "" {
		ix.byPlace[t.Place] = append(ix.byPlace[t.Place], n)
	}
	if t.Lat != nil && t.Lon != nil {
		ix.pts[t.ID] = [3]float64{*t.Lat, *t.Lon, t.RadiusKM}
	}
}

// remove makes a subscriber's entry a tombstone.
func (ix *index) remove(id int64) {
	if old, ok := ix.byID[id]; ok {
		ix.targets[old].nch = 0
		delete(ix.byID, id)
		ix.dead++
	}
	delete(ix.pts, id)
}

// indexPoints builds the point index of the subscribers' points.
func (ix *index) indexPoints() {
	if ix.newPts == nil {
		return
	}
	ix.points = ix.newPts()
	for id, p := range ix.pts {
		ix.points.Add(id, p[0], p[1], p[2])
	}
}

func buildIndex(ctx context.Context, st Store, newPoints func() Points, version int64, now time.Time) (*index, error) {
	ix := &index{version: version, checked: now, byID: map[int64]int32{}, byPlace: map[string][]int32{}, pts: map[int64][3]float64{}, newPts: newPoints}
	err := st.Targets(ctx, func(t Target) error {
		ix.add(t)
		return nil
	})
	ix.indexPoints()
	return ix, err
}

// update applies the store's changes since the index's version; false when there are too
// many (or too many tombstones) and the index should be rebuilt.
func (ix *index) update(ctx context.Context, st Store, now time.Time) (bool, error) {
	// a change commits within seconds of being numbered: look back a minute for any that
	// committed out of order (applying a change twice is harmless)
	ids, version, full, err := st.Changes(ctx, ix.version, ix.checked.Add(-time.Minute), 100_000)
	if err != nil || full {
		return false, err
	}
	hadPoints := len(ix.pts)
	pointsChanged := false
	for _, id := range ids {
		if _, ok := ix.pts[id]; ok {
			pointsChanged = true
		}
		ix.remove(id)
	}
	if err := st.TargetsOf(ctx, ids, func(t Target) error {
		if t.Lat != nil {
			pointsChanged = true
		}
		ix.add(t)
		return nil
	}); err != nil {
		return false, err
	}
	if pointsChanged || len(ix.pts) != hadPoints {
		ix.indexPoints()
	}
	ix.version, ix.checked = max(ix.version, version), now
	return ix.dead < len(ix.targets)/4+1000, nil
}
