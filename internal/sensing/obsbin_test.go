package sensing

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// binaryBatch has one of each kind of item the store writes.
func binaryBatch() ObsBatch {
	t0 := time.Date(2025, 8, 27, 7, 0, 0, 123456000, time.UTC)
	return ObsBatch{V: ObsBatchBinary, Node: "islamabad", Datastream: 8, Accepted: t0, By: "pdma/key-7", Obs: []ObsItem{
		{ID: 100, PhenomenonTime: "2025-08-27T12:00:00+05:00", Start: t0, End: t0, Num: 1001480, IsNum: true, Result: json.RawMessage(`1001480`)},
		{ID: 101, PhenomenonTime: "2025-08-27T12:00:00Z/2025-08-27T13:00:00Z", Start: t0, End: t0.Add(time.Hour), ResultTime: "2025-08-27T13:00:05Z",
			Result: json.RawMessage(`{"level": "high", "note": "<b> & \"q\" ü"}`), Flag: FlagSuspect,
			Quality: json.RawMessage(`{"flag":"suspect","issues":[{"check":"spike"}]}`), FoI: 4, Parameters: json.RawMessage(` {"a": [1, 2]} `)},
		{ID: 99, PhenomenonTime: "x\"<y>\u2028", Start: t0.Add(-time.Hour), End: t0, Result: json.RawMessage(`"text"`), Flag: FlagBad},
		{ID: 105, PhenomenonTime: "p", Start: t0, End: t0, Result: json.RawMessage(`-0.25`)}, // a number from JSON: kept as a number
		{ID: 106, PhenomenonTime: "p", Start: t0, End: t0, Result: json.RawMessage(`1.50`)},  // not as the number writes back: text
		{ID: 107, PhenomenonTime: "p", Start: t0, End: t0, Num: 1e21, IsNum: true, Result: json.RawMessage(`1e+21`)},
		{ID: 108, PhenomenonTime: "p", Start: t0, End: t0},                                                                        // no result: null
		{ID: 109, PhenomenonTime: "p", Start: t0, End: t0, Num: math.Copysign(0, -1), IsNum: true, Result: json.RawMessage(`-0`)}, // -0
	}}
}

// The compact form carries what the JSON form (version 1) carries: decoded, every field the
// same, for items of every kind; DecodeObsValues gives the same header, ids, times, flags and
// numbers and leaves the text fields out; it is several times smaller.
func TestObsBatchBinaryMatchesJSON(t *testing.T) {
	b := binaryBatch()
	bin := b.AppendBinary(nil)
	if bin[0] != ObsBatchBinary {
		t.Fatalf("first byte %d, want the version %d", bin[0], ObsBatchBinary)
	}
	got, err := DecodeObsBatch(bin)
	if err != nil {
		t.Fatal(err)
	}
	jb := b
	jb.V = ObsBatchVersion
	want, err := DecodeObsBatch(jb.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != want.Node || got.Datastream != want.Datastream || got.MultiDatastream != want.MultiDatastream ||
		!got.Accepted.Equal(want.Accepted) || got.By != want.By || len(got.Obs) != len(want.Obs) {
		t.Fatalf("header:\n%+v\nwant\n%+v", got, want)
	}
	for i := range got.Obs {
		g, w := got.Obs[i], want.Obs[i]
		if g.ID != w.ID || g.PhenomenonTime != w.PhenomenonTime || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.ResultTime != w.ResultTime ||
			g.Flag != w.Flag || g.FoI != w.FoI || !sameJSON(g.Result, w.Result) || !sameJSON(g.Quality, w.Quality) || !sameJSON(g.Parameters, w.Parameters) {
			t.Errorf("obs[%d]:\n%+v\nwant (JSON form)\n%+v", i, g, w)
		}
		gn, gok := g.Number()
		wn, wok := w.Number()
		if gn != wn || gok != wok {
			t.Errorf("obs[%d].Number() = %v %v, want %v %v", i, gn, gok, wn, wok)
		}
	}
	if !got.Obs[3].IsNum || got.Obs[4].IsNum || string(got.Obs[4].Result) != `1.50` || string(got.Obs[6].Result) != `null` {
		t.Errorf("numbers: -0.25 numeric %v; 1.50 numeric %v as %s; no result as %s", got.Obs[3].IsNum, got.Obs[4].IsNum, got.Obs[4].Result, got.Obs[6].Result)
	}
	vals, err := DecodeObsValues(bin)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals.Obs {
		v, g := vals.Obs[i], got.Obs[i]
		if v.ID != g.ID || !v.Start.Equal(g.Start) || !v.End.Equal(g.End) || v.Flag != g.Flag || v.IsNum != g.IsNum || v.Num != g.Num {
			t.Errorf("values obs[%d]: %+v, want %+v", i, v, g)
		}
		if v.PhenomenonTime != "" || v.ResultTime != "" || v.Quality != nil || v.Parameters != nil || v.FoI != 0 || v.Result != nil {
			t.Errorf("values obs[%d] has text fields: %+v", i, v)
		}
	}

	// size: a batch as the relay sends it, 1,000 hourly numbers
	big := ObsBatch{V: ObsBatchBinary, Node: "local", Datastream: 42, Accepted: b.Accepted, By: "pdma/key-7"}
	for i := range 1000 {
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		big.Obs = append(big.Obs, ObsItem{ID: int64(5000000 + i), PhenomenonTime: at.Format(time.RFC3339), Start: at, End: at, Num: float64(i%977) * 0.25, IsNum: true})
	}
	nb, nj := len(big.AppendBinary(nil)), len(big.AppendJSON(nil))
	t.Logf("1,000 numeric observations: compact %d bytes, JSON %d bytes (%.1f×)", nb, nj, float64(nj)/float64(nb))
	if nb*3 > nj {
		t.Errorf("compact form %d bytes, JSON %d: want at most a third", nb, nj)
	}
}

// The compact form's bytes do not change with the encoder: testdata/obsbatch-v2.bin is
// binaryBatch as the first encoder (one loop per column over []ObsItem) wrote it, and an
// ObsEncoder fed item by item, reused after Reset, writes the same bytes, allocating exactly
// what they need when given no buffer.
func TestObsEncoderLayout(t *testing.T) {
	want, err := os.ReadFile("testdata/obsbatch-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	b := binaryBatch()
	if got := b.AppendBinary(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendBinary:\n% x\nwant (testdata/obsbatch-v2.bin)\n% x", got, want)
	}
	var e ObsEncoder
	other := ObsBatch{Datastream: 3}
	for range 2 {
		e.Add(&ObsItem{ID: 1, Start: b.Accepted, End: b.Accepted, Result: json.RawMessage(`"x"`)})
		one, err := DecodeObsBatch(e.Append(nil, &other))
		if err != nil || len(one.Obs) != 1 || one.Obs[0].ID != 1 || string(one.Obs[0].Result) != `"x"` || one.Datastream != 3 {
			t.Fatalf("one item: %+v, %v", one, err)
		}
		e.Reset()
		for i := range b.Obs {
			e.Add(&b.Obs[i])
		}
		got := e.Append(nil, &ObsBatch{Node: b.Node, Datastream: b.Datastream, Accepted: b.Accepted, By: b.By})
		if !bytes.Equal(got, want) {
			t.Fatalf("ObsEncoder:\n% x\nwant\n% x", got, want)
		}
		if cap(got) < len(got) || cap(got) > len(got)+64 {
			t.Errorf("ObsEncoder.Append(nil): %d bytes in a buffer of %d", len(got), cap(got))
		}
		e.Reset()
	}
}

// Bad payloads are refused with an error naming what is wrong, never a panic.
func TestObsBatchBinaryRefuses(t *testing.T) {
	b := binaryBatch()
	bin := b.AppendBinary(nil)
	for n := 1; n < len(bin); n++ {
		if _, err := DecodeObsBatch(bin[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(bin))
		}
	}
	for _, c := range []struct {
		name string
		b    ObsBatch
		edit func([]byte) []byte
		want string
	}{
		{"trailing bytes", b, func(p []byte) []byte { return append(p, 0) }, "after the text section"},
		{"both streams", ObsBatch{Datastream: 1, MultiDatastream: 2}, nil, "one datastream or one MultiDatastream"},
		{"no stream", ObsBatch{}, nil, "one datastream or one MultiDatastream"},
		{"unknown flag", ObsBatch{Datastream: 1, Obs: []ObsItem{{ID: 1, Flag: 7, IsNum: true}}}, nil, "flag 7"},
		{"NaN", ObsBatch{Datastream: 1, Obs: []ObsItem{{ID: 1, Num: math.NaN(), IsNum: true}}}, nil, "not a JSON number"},
		{"result not JSON", ObsBatch{Datastream: 1, Obs: []ObsItem{{ID: 1, Result: json.RawMessage(`{`)}}}, func(p []byte) []byte {
			return []byte(strings.Replace(string(p), "\x04null", "\x04{nul", 1))
		}, "result is not JSON"},
		{"too many", ObsBatch{Datastream: 1}, func(p []byte) []byte {
			return append(p[:len(p)-2], 0xff, 0xff, 0x7f) // n = 2,097,151
		}, "at most 65536"},
	} {
		p := c.b.AppendBinary(nil)
		if c.edit != nil {
			p = c.edit(p)
		}
		_, err := DecodeObsBatch(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

// FuzzDecodeObsBinary: the compact decoder never panics nor allocates for what a message only
// claims; what it accepts re-encodes (AppendBinary) to a payload that decodes to the same
// batch; DecodeObsValues accepts it too and agrees on every value it reads.
func FuzzDecodeObsBinary(f *testing.F) {
	b := binaryBatch()
	f.Add(b.AppendBinary(nil))
	f.Add((&ObsBatch{Datastream: 1}).AppendBinary(nil))
	f.Add((&ObsBatch{MultiDatastream: 3, Obs: []ObsItem{{ID: 9, Result: json.RawMessage(`[1001480,8.9,null]`)}}}).AppendBinary(nil))
	f.Add([]byte{ObsBatchBinary})
	f.Add([]byte{ObsBatchBinary, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) == 0 || p[0] != ObsBatchBinary {
			p = append([]byte{ObsBatchBinary}, p...)
		}
		m, err := DecodeObsBatch(p)
		if err != nil {
			return
		}
		m2, err := DecodeObsBatch(m.AppendBinary(nil))
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m, m2)
		}
		v, err := DecodeObsValues(p)
		if err != nil {
			t.Fatalf("DecodeObsValues refuses what DecodeObsBatch accepts: %v", err)
		}
		for i := range v.Obs {
			a, b := v.Obs[i], m.Obs[i]
			if a.ID != b.ID || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) || a.Flag != b.Flag || a.IsNum != b.IsNum || (a.IsNum && a.Num != b.Num) {
				t.Fatalf("values obs[%d] %+v, full %+v", i, a, b)
			}
		}
	})
}
