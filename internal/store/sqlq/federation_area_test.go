package sqlq

import (
	"encoding/json"
	"math"
	"testing"
)

// BenchmarkSelectionOf: decoding a stored selection with an area of 10,000 positions, as each
// read of an agreement does, the first time and then from selections.
func BenchmarkSelectionOf(b *testing.B) {
	ring := make([][2]float64, 0, 10000)
	for i := range 9999 {
		t := 2 * math.Pi * float64(i) / 9999
		ring = append(ring, [2]float64{math.Round((74+0.5*math.Cos(t))*1e5) / 1e5, math.Round((32.5+0.5*math.Sin(t))*1e5) / 1e5})
	}
	ring = append(ring, ring[0])
	sel, _ := json.Marshal(map[string]any{"datastreams": []int{1}, "area": map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}}})
	for b.Loop() {
		s, err := selectionOf(string(sel))
		if err != nil || s.Area == nil {
			b.Fatal(s, err)
		}
	}
}
