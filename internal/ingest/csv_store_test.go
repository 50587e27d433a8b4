package ingest_test

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// openEntities opens a fresh store of kind store ("sqlite" or "postgres").
func openEntities(t *testing.T, store string) *sqlq.Entities {
	ctx := context.Background()
	switch store {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewEntities(db, &ingest.QC{})
	}
	db, err := postgres.Open(ctx, storetest.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return postgres.NewEntities(db, &ingest.QC{})
}

// thing creates a Thing (with a Location when located) with one Datastream named ds.
func thing(t *testing.T, s *sqlq.Entities, name, ds string, located bool) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	e := &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": name, "description": "d"}, Links: map[string][]*sensing.Entity{
		"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": ds, "description": "d", "observationType": "x",
			"unitOfMeasurement": raw(`{"name":"cusec","symbol":"[cft_i]/s","definition":"x"}`)}, Links: map[string][]*sensing.Entity{
			"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "d", "encodingType": "text/html", "metadata": raw(`"x"`)}}},
			"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "Discharge", "definition": "x", "description": "d"}}},
		}}}}}
	if located {
		e.Links["Locations"] = []*sensing.Entity{{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d",
			"encodingType": "application/geo+json", "location": raw(`{"type":"Point","coordinates":[73.97,32.4]}`)}}}
	}
	if _, err := s.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// TestCSVRowErrors: every kind of broken row of an observation CSV is reported with its line,
// the column at fault and the reason — never "internal error" — on both stores; the good rows
// are stored, the broken ones are not.
func TestCSVRowErrors(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			s := openEntities(t, store)
			thing(t, s, "Khanki", "Discharge at Khanki", true) // Datastream 1
			thing(t, s, "Nowhere", "Discharge nowhere", false) // 2: its Thing has no Location
			thing(t, s, "Twin a", "Twin", true)                // 3 and 4: the same name
			thing(t, s, "Twin b", "Twin", true)
			rows := []struct{ row, want string }{
				{`1,2025-09-01T00:00:00Z,100`, ""},
				{`1,2025-09-01T01:00:00Z,"""text"""`, ""},
				{`1,not-a-time,5`, `phenomenonTime: invalid time "not-a-time"`},
				{`1,2025-09-01T02:00:00Z,high`, `result: "high" is neither a number nor a JSON value`},
				{`1,2025-09-01T02:00:00Z,1e400`, `result: "1e400" is out of range`},
				{`1,2025-09-01T02:00:00Z,"[1,1e400]"`, `result: [1] (byte 4): number 1e400 is out of range`},
				{`1,2025-09-01T02:00:00Z,"{""a"":1,""a"":2}"`, `result: a (byte 8): member "a" given twice`},
				{"1,2025-09-01T02:00:00Z,\"\"\"\xff\"\"\"", `result: byte 2 (0xff): the text is not UTF-8`},
				{"1,2025-09-01T02:00:00Z,\"\"\"a\x00\"\"\"", `result: byte 3: the NUL character is not allowed`},
				{`1,2025-09-01T02:00:00Z,"""a\u0000"""`, `result: at byte 3: the NUL character (\u0000) is not allowed`},
				{`1,2025-09-01T02:00:00Z,5,,"{""m"":1,""m"":2}"`, `parameters: m (byte 8): member "m" given twice`},
				{`1,2025-09-01T02:00:00Z,5,2025-09-01T02:00:00Z/2025-09-01T03:00:00Z,`, `resultTime: an interval`},
				{`7,2025-09-01T02:00:00Z,5`, `datastream: no datastream "7"`},
				{`Twin,2025-09-01T02:00:00Z,5`, `datastream: more than one datastream named "Twin": Datastream(3), Datastream(4); use the id`},
				{"Discharge \xfe,2025-09-01T02:00:00Z,5", `datastream: byte 11 (0xfe): the text is not UTF-8`},
				{strings.Repeat("x", sensing.MaxNameBytes+1) + `,2025-09-01T02:00:00Z,5`, `datastream: 4097 bytes, over the limit of 4096 bytes for a name`},
				{`2,2025-09-01T02:00:00Z,5`, `datastream: Observation has no FeatureOfInterest and its Thing(2) has no Location`},
				{`1,2025-09-01T02:00:00Z`, `2 fields, want 5 as in the header`},
				{`Discharge at Khanki,2025-09-01T05:00:00+05:00,7`, ""},
			}
			var file strings.Builder
			file.WriteString("datastream,phenomenonTime,result,resultTime,parameters\n")
			want := map[int]string{}
			good := 0
			for i, r := range rows {
				row := r.row
				if !strings.HasPrefix(r.want, "2 fields") && !strings.HasPrefix(r.want, "parameters") && !strings.HasPrefix(r.want, "resultTime") {
					row += ",," // no resultTime, no parameters
				}
				file.WriteString(row + "\n")
				if r.want == "" {
					good++
				} else {
					want[i+2] = r.want
				}
			}
			got := map[int]string{}
			im := &ingest.CSVImport{Service: &ingest.Service{Store: s}, Resolve: s, Batch: 3,
				Reject: func(line int, reason string) { got[line] = reason }}
			rd, err := sensing.NewCSVReader(strings.NewReader(file.String()))
			if err != nil {
				t.Fatal(err)
			}
			n, err := im.Run(context.Background(), rd)
			if err != nil {
				t.Fatal(err)
			}
			for line, w := range want {
				if !strings.Contains(got[line], w) {
					t.Errorf("line %d: %q, want %q", line, got[line], w)
				}
			}
			for line, g := range got {
				if _, ok := want[line]; !ok || strings.Contains(g, "internal error") {
					t.Errorf("line %d refused: %q", line, g)
				}
			}
			if n.Stored != good || n.Rejected != len(want) {
				t.Errorf("%+v, want %d stored and %d rejected", n, good, len(want))
			}
			count := int64(0)
			for _, ds := range []int64{1, 2, 3, 4} {
				page, err := s.List(context.Background(), &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: ds, Nav: "Observations"},
					Opts: mustOpts(t), Top: 100})
				if err != nil {
					t.Fatal(err)
				}
				count += int64(len(page.Entities))
			}
			if count != int64(good) {
				t.Errorf("%d observations stored, want %d", count, good)
			}
			// the PDMA layout names its own columns
			pdma := strings.Join(sensing.PDMAHeader, ",") + "\n" +
				"2025-07-05T12:00:00+05:00,Khanki,Chenab,56998,,,\n" +
				"2025-07-05T12:00:00+05:00,Kh\xffanki,Chenab,56998,,,\n" +
				"2025-07-05T12:00:00+05:00,Khanki,Chenab,56998,,rising\x00,\n" +
				"2025-07-05T12:00:00+05:00,Khanki,Chenab,lots,,,\n"
			got = map[int]string{}
			rd, err = sensing.NewCSVReader(strings.NewReader(pdma))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := im.Run(context.Background(), rd); err != nil {
				t.Fatal(err)
			}
			for line, w := range map[int]string{2: `station: no datastream "Khanki"`, 3: "station: byte 3 (0xff): the text is not UTF-8",
				4: "trend: byte 7: the NUL character", 5: `discharge_cusecs: "lots" is not a number`} {
				if !strings.Contains(got[line], w) {
					t.Errorf("PDMA line %d: %q, want %q", line, got[line], w)
				}
			}
		})
	}
}

func mustOpts(t *testing.T) *odata.Options {
	o, err := odata.ParseOptions(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}
