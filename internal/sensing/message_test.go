package sensing

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestObsBatchAppendJSONMatchesMarshal(t *testing.T) {
	t0 := time.Date(2025, 8, 27, 7, 0, 0, 123000000, time.UTC)
	for _, b := range []ObsBatch{
		{V: 1, Datastream: 3, Accepted: t0},
		{V: 1, Datastream: 3, Accepted: t0, By: "pdma/key-7"},
		{V: 1, Node: "islamabad", Datastream: 8, Accepted: t0, By: "ndma \"<&>\"/key-12", Obs: []ObsItem{
			{ID: 1, PhenomenonTime: "2025-08-27T12:00:00+05:00", Start: t0, End: t0, Result: json.RawMessage(`1001480`)},
			{ID: 2, PhenomenonTime: "2025-08-27T12:00:00Z/2025-08-27T13:00:00Z", Start: t0, End: t0.Add(time.Hour), ResultTime: "2025-08-27T13:00:05Z",
				Result: json.RawMessage(`{"level": "high", "note": "<b> & \"q\" ü"}`), Flag: FlagSuspect,
				Quality: json.RawMessage(`{"flag":"suspect","issues":[{"check":"spike"}]}`), FoI: 4, Parameters: json.RawMessage(` {"a": [1, 2]} `)},
			{ID: 3, PhenomenonTime: "x\"<y>\u2028", Start: t0, End: t0, Result: json.RawMessage(`"text"`), Flag: FlagBad},
		}},
	} {
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got := b.AppendJSON(nil)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("AppendJSON is not JSON: %v\n%s", err, got)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("AppendJSON:\n%s\nwant the value json.Marshal gives:\n%s", got, want)
		}
	}
}
