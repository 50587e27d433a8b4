package sqlq

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/rabta/rabta/internal/federation"
)

// selectedArea adds to out the Datastreams of organisation org whose Thing's first Location
// lies inside sel.Area (federation.Area.ContainsLocation), narrowed by sel.ObservedProperties
// when given; out unchanged when sel has no area. It reads every Datastream of org with its
// Thing's Location and decides in Go (both engines alike; PostGIS is not needed), each time
// the exporter asks: a station added later inside the area is selected from then on.
func (s *Federation) selectedArea(ctx context.Context, org string, sel federation.Selection, out map[int64]federation.RemoteSource) (map[int64]federation.RemoteSource, error) {
	if sel.Area == nil {
		return out, nil
	}
	q := `SELECT d.id, d.name, d.unit_of_measurement, t.name, o.name, o.definition,
		(SELECT l.location FROM thing_locations tl JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1)
		FROM datastreams d
		JOIN things t ON t.id = d.thing_id JOIN observed_properties o ON o.id = d.observed_property_id
		WHERE d.organisation = ?`
	args := []any{org}
	if ops := sel.ObservedProperties; len(ops) > 0 {
		q += ` AND d.observed_property_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(ops)), ", ") + `)`
		for _, id := range ops {
			args = append(args, id)
		}
	}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var src federation.RemoteSource
		var unit string
		var loc *string
		if err := r.Scan(&src.ID, &src.Name, &unit, &src.Thing, &src.ObservedProperty, &src.Definition, &loc); err != nil {
			return err
		}
		if _, ok := out[src.ID]; ok || loc == nil || !sel.Area.ContainsLocation([]byte(*loc)) {
			return nil
		}
		src.Location, src.Unit = json.RawMessage(*loc), json.RawMessage(unit)
		out[src.ID] = src
		return nil
	}, q, args...)
	return out, err
}

// selections remembers the selections read lately, by their stored JSON: the exporter reads
// every agreement on each round, and decoding a selection with a 10,000-position area costs
// milliseconds (BenchmarkParseArea). A Selection read from the store is never changed.
var selections struct {
	sync.Mutex
	m map[string]federation.Selection
}

// selectionOf decodes a stored selection, from selections when it was read before.
func selectionOf(s string) (federation.Selection, error) {
	selections.Lock()
	sel, ok := selections.m[s]
	selections.Unlock()
	if ok {
		return sel, nil
	}
	if err := json.Unmarshal([]byte(s), &sel); err != nil {
		return sel, err
	}
	if len(s) > 4096 { // only big ones are worth keeping
		selections.Lock()
		if selections.m == nil || len(selections.m) >= 64 {
			selections.m = map[string]federation.Selection{}
		}
		selections.m[s] = sel
		selections.Unlock()
	}
	return sel, nil
}
