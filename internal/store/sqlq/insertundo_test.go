package sqlq_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// A batch whose transaction fails leaves the caller's Observations as they were given — no
// ids, FeaturesOfInterest, QC flags or resultQuality from the failed attempt (the store
// inserts the batch itself, not a copy, and puts back what the insert set: insertundo.go);
// one that commits changes nothing in them but those four fields.
func TestIngestFailureLeavesObservations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ents := sqlite.NewEntities(db, &ingest.QC{})
	if _, err := ents.Create(ctx, &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"},
		Links: map[string][]*sensing.Entity{
			"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}},
			"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "d", "description": "d", "observationType": "x", "unitOfMeasurement": json.RawMessage(`{"name":"metre","symbol":"m","definition":"x"}`)},
				Links: map[string][]*sensing.Entity{
					"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
					"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "Water level", "definition": "d", "description": "d"}}},
				}}},
		}}); err != nil {
		t.Fatal(err)
	}
	// a trigger refuses the batch's last row, in the second multi-row INSERT (256 rows each):
	// the first has set ids by then
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER refuse_666 BEFORE INSERT ON observations WHEN NEW.result_num = 666 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC)
	obs := make([]sensing.Observation, 300)
	for i := range obs {
		v := 1 + float64(i%7)*0.01
		switch {
		case i%50 == 3:
			v = -9999 // QC: bad, with resultQuality
		case i == len(obs)-1:
			v = 666
		}
		at := t0.Add(time.Duration(i) * time.Hour)
		obs[i] = sensing.Observation{DatastreamID: 1, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339), ResultNum: &v}
	}
	given := append([]sensing.Observation(nil), obs...)
	if _, _, err := ents.Ingest(ctx, obs); err == nil {
		t.Fatal("the trigger's refusal did not fail the batch")
	}
	if !reflect.DeepEqual(obs, given) {
		for i := range obs {
			if !reflect.DeepEqual(obs[i], given[i]) {
				t.Fatalf("after the failed batch, observation %d is %+v, was given as %+v", i, obs[i], given[i])
			}
		}
	}
	if _, err := raw.Exec(`DROP TRIGGER refuse_666`); err != nil {
		t.Fatal(err)
	}
	ids, errs, err := ents.Ingest(ctx, obs)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range obs {
		if errs[i] != nil || ids[i] == 0 || obs[i].ID != ids[i] || obs[i].FoIID == 0 {
			t.Fatalf("observation %d: id %d (in obs %d), FoI %d, error %v", i, ids[i], obs[i].ID, obs[i].FoIID, errs[i])
		}
		if obs[i].Flag == sensing.FlagBad && len(obs[i].Quality) > 0 {
			bad++
		}
		o := obs[i]
		o.ID, o.FoIID, o.Flag, o.Quality = given[i].ID, given[i].FoIID, given[i].Flag, given[i].Quality
		if !reflect.DeepEqual(o, given[i]) {
			t.Fatalf("observation %d: the insert changed more than id, FoI, flag and resultQuality:\n%+v\nwas\n%+v", i, obs[i], given[i])
		}
	}
	if bad != 6 {
		t.Errorf("%d observations flagged bad with a resultQuality, want the 6 sentinels", bad)
	}
}
