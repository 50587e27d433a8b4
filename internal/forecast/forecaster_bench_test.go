package forecast_test

import (
	"slices"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/demo"
	. "github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/sensing"
)

// BenchmarkForecastUpdate: the demo network (PunjabIndusModel) holding the 2025 readings up to
// the Chenab flood (27 Aug 2025 13:00 PKT); each call records one new reading at an upstream
// station and updates the forecasts downstream of it (changed = that station), or of every
// station ("all"). Reports the median and the 99th percentile of the per-call time (Observe +
// Update) as "median-ms" and "p99-ms".
func BenchmarkForecastUpdate(b *testing.B) {
	ds, err := demo.Load()
	if err != nil {
		b.Fatal(err)
	}
	m, err := PunjabIndusModel()
	if err != nil {
		b.Fatal(err)
	}
	issued := time.Date(2025, 8, 27, 13, 0, 0, 0, demo.PKT)
	for _, station := range []string{"tarbela", "marala", ""} {
		name := station
		if name == "" {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			f, err := NewForecaster(m)
			if err != nil {
				b.Fatal(err)
			}
			for id, rs := range demoReadings(b, ds, season2025[0], issued) {
				for _, r := range rs {
					if err := f.Observe(id, r.Time, r.Value, r.Flag); err != nil {
						b.Fatal(err)
					}
				}
			}
			src := station
			if src == "" {
				src = "marala"
			}
			var times []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				// a new reading one hour after the last, alternating between two values
				if err := f.Observe(src, issued.Add(time.Hour), 300000+float64(i%2)*1000, sensing.FlagGood); err != nil {
					b.Fatal(err)
				}
				var out []StationForecast
				if station == "" {
					out = f.Update(issued.Add(time.Hour))
				} else {
					out = f.Update(issued.Add(time.Hour), src)
				}
				times = append(times, time.Since(start))
				if len(out) == 0 {
					b.Fatal("no forecast")
				}
				i++
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
