package sqlq

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzCursorKey: whatever JSON a client puts among a $skiptoken's keys, cursorKey either
// refuses it or gives a value the engines bind (nil, int64, finite float64, string, bool), and
// of the kind asked for.
func FuzzCursorKey(f *testing.F) {
	for _, s := range []string{`null`, `true`, `1`, `-1`, `1.5`, `1e308`, `1e999`, `9223372036854775807`, `-9223372036854775809`,
		`"x"`, `"NaN"`, `"Infinity"`, `{"a":1}`, `[1]`, `[]`, `0`, `2`} {
		f.Add(s, uint8(0), false)
		f.Add(s, uint8(4), true)
	}
	f.Fuzz(func(t *testing.T, key string, kind uint8, pg bool) {
		k := KeyKind(kind % 5)
		dec := json.NewDecoder(strings.NewReader(key))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if n, ok := v.(json.Number); ok { // as the server turns numbers (sensorthings.Server.options)
			if i, err := n.Int64(); err == nil {
				v = i
			} else {
				v, _ = n.Float64()
			}
		}
		got, ok := cursorKey(k, v, pg)
		if !ok {
			return
		}
		switch g := got.(type) {
		case nil, string:
		case int64:
			if k == KeyString || (k == KeyAny && pg) || (k == KeyBool && pg) {
				t.Fatalf("%s as %d (pg %v): int64 %d", key, k, pg, g)
			}
		case float64:
			if math.IsNaN(g) || math.IsInf(g, 0) || k == KeyInt || k == KeyString || k == KeyBool || (k == KeyAny && pg) {
				t.Fatalf("%s as %d (pg %v): float64 %v", key, k, pg, g)
			}
		case bool:
			if k != KeyBool && k != KeyAny || (k == KeyAny && pg) {
				t.Fatalf("%s as %d (pg %v): bool", key, k, pg)
			}
		default:
			t.Fatalf("%s as %d: %T", key, k, got)
		}
	})
}
