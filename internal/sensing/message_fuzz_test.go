package sensing

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeObsBatch: the bus payload decoder never panics; what it accepts has the version it
// knows and a datastream; and re-encoding with AppendJSON (as the relay does) gives valid JSON
// that decodes to the same batch, so a consumer reads what the relay meant.
func FuzzDecodeObsBatch(f *testing.F) {
	at := time.Date(2025, 8, 27, 7, 0, 0, 0, time.UTC)
	num := 1001480.0
	full := ObsBatch{V: ObsBatchVersion, Node: "lahore", Datastream: 8, Accepted: at, By: "pdma/key-7", Obs: []ObsItem{
		(&Observation{ID: 1, PhenText: "2025-08-27T12:00:00+05:00", PhenStart: at, PhenEnd: at, ResultNum: &num, Flag: FlagGood}).Item(),
		{ID: 2, PhenomenonTime: "2025-08-27T12:00:00+05:00/2025-08-27T18:00:00+05:00", Start: at, End: at.Add(6 * time.Hour),
			ResultTime: "2025-08-27T18:05:00+05:00", Result: json.RawMessage(`{"stage": 12.5, "note": "<gauge & co>"}`), Flag: FlagSuspect,
			Quality: json.RawMessage(`{"flag":"suspect","checks":["spike"]}`), FoI: 3, Parameters: json.RawMessage(`{"by":"reader"}`)},
		{ID: 3, PhenomenonTime: "ünïcode\u2028", Start: at, End: at, Result: json.RawMessage(`"n/a"`), Flag: FlagBad},
	}}
	f.Add(full.AppendJSON(nil))
	f.Add((&ObsBatch{V: ObsBatchVersion, Datastream: 1, Accepted: at}).AppendJSON(nil))
	for _, s := range []string{
		`{"v":1,"datastream":1,"accepted":"2025-08-27T07:00:00Z","obs":[]}`,
		`{"v":2,"datastream":1}`,
		`{"v":1,"datastream":0}`,
		`{"v":1,"datastream":1,"obs":[{"id":1,"result":null,"flag":"bad"}]}`,
		`{"v":1,"datastream":1,"obs":[{"flag":"great"}]}`,
		`{"v":1,"datastream":1,"node":"a\u007fb","obs":[{"id":1,"result":1e308,"start":"0001-01-01T00:00:00Z"}]}`,
		`{"v":1,"datastream":9223372036854775807,"accepted":"2025-08-27T12:00:00.123456789+05:00"}`,
		`[1,2]`, `null`, ``, `{`,
		// a MultiDatastream's batch (18-088 §9): one of the two streams, never both
		`{"v":1,"datastream":0,"multiDatastream":3,"accepted":"2025-08-27T07:00:00Z","obs":[{"id":9,"result":[1001480,8.9,null],"flag":"good"}]}`,
		`{"v":1,"datastream":2,"multiDatastream":3}`,
		`{"v":1,"multiDatastream":-3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeObsBatch(b)
		if err != nil {
			return
		}
		if (m.V != ObsBatchVersion && m.V != ObsBatchBinary) || (m.Datastream > 0) == (m.MultiDatastream > 0) || m.Datastream < 0 || m.MultiDatastream < 0 {
			t.Fatalf("accepted version %d, datastream %d, MultiDatastream %d", m.V, m.Datastream, m.MultiDatastream)
		}
		out := m.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("AppendJSON gives invalid JSON: %s", out)
		}
		m2, err := DecodeObsBatch(out)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v\n%s", err, out)
		}
		if m.Node != m2.Node || m.Datastream != m2.Datastream || m.MultiDatastream != m2.MultiDatastream || !m.Accepted.Equal(m2.Accepted) || len(m.Obs) != len(m2.Obs) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m, m2)
		}
		for i := range m.Obs {
			a, b := m.Obs[i], m2.Obs[i]
			if a.ID != b.ID || a.PhenomenonTime != b.PhenomenonTime || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) ||
				a.ResultTime != b.ResultTime || a.Flag != b.Flag || a.FoI != b.FoI ||
				!sameJSON(orNull(a.Result), b.Result) || !sameJSON(a.Quality, b.Quality) || !sameJSON(a.Parameters, b.Parameters) {
				t.Fatalf("obs[%d] round trip differs:\n%+v\n%+v", i, a, b)
			}
		}
	})
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// sameJSON reports whether a and b are the same JSON text up to insignificant space.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
