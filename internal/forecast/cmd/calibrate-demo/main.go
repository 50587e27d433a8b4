// Command calibrate-demo calibrates the demo river network (forecast.PunjabIndus) on the demo's
// PDMA Punjab discharge readings (internal/demo) and writes the model JSON that
// forecast.PunjabIndusModel embeds, with a table of the reaches on stdout:
//
//	go run ./internal/forecast/cmd/calibrate-demo -out internal/forecast/data/punjab_model.json
//
// By default it calibrates on the June–July 2026 reports only, so that the hindcast of the
// 2025 season (forecast.Hindcast, TestHindcastTable) verifies on data the calibration never
// saw; -from and -to choose another window (e.g. -from 2025-07-01 -to 2025-10-01 for the
// in-sample comparison in docs/forecast.md).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/forecast"
)

func main() {
	from := flag.String("from", "2026-01-01", "first day of the readings used (UTC date)")
	to := flag.String("to", "2027-01-01", "day after the last (UTC date)")
	out := flag.String("out", "", "write the model JSON here (default: none)")
	corr := flag.String("correction", "additive", "forecast correction of the model: additive, ratio or none")
	decay := flag.Duration("decay", 0, "e-folding time of the correction (0: the default)")
	hold := flag.Bool("hold-branches", false, "hold a confluence's shorter branches past their horizon (Model.HoldBranches)")
	growth := flag.Float64("band-growth", 0, "band widening per hour of lead, cusecs/h (Model.BandGrowth; TestHindcastTable logs the estimate)")
	flag.Parse()
	t0, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		log.Fatal(err)
	}
	t1, err := time.Parse(time.DateOnly, *to)
	if err != nil {
		log.Fatal(err)
	}
	n, err := forecast.PunjabIndus()
	if err != nil {
		log.Fatal(err)
	}
	ds, err := demo.Load()
	if err != nil {
		log.Fatal(err)
	}
	series := map[string][]forecast.Reading{}
	for _, s := range ds.Series {
		if !strings.HasSuffix(s.Key, "/discharge") || !strings.HasPrefix(s.Key, "pdma-") {
			continue
		}
		id := StationID(ds.Station(s.StationKey).Properties["pdmaName"].(string))
		for _, o := range s.Obs {
			if !o.Time.Before(t0) && o.Time.Before(t1) {
				series[id] = append(series[id], forecast.Reading{Time: o.Time, Value: o.Value})
			}
		}
	}
	start := time.Now()
	m, reps, err := forecast.CalibrateModel(n, series, time.Hour, forecast.CalibrateModelOptions{Scheme: forecast.SchemeRK4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("calibrated on %s … %s in %v\n\n", t0.Format(time.DateOnly), t1.Format(time.DateOnly), time.Since(start).Round(time.Millisecond))
	fmt.Println("| reach | samples | lag h (published) | K | x | m | gain | RMSE | NSE |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range reps {
		pub := "–"
		if r.PriorLag > 0 {
			pub = fmt.Sprintf("%.1f", r.PriorLag.Hours())
		}
		if !r.Calibrated {
			fmt.Printf("| %s → %s | – | %.0f (%s) | prior | | | | | %s |\n", r.From, r.To, r.Model.Lag.Hours(), pub, r.Reason)
			continue
		}
		mu := r.Model.Muskingum
		fmt.Printf("| %s → %s | %d | %.0f (%s) | %.3g | %.2f | %.2f | %.2f | %.0f | %.2f |\n", r.From, r.To, r.Samples,
			r.Model.Lag.Hours(), pub, mu.K, mu.X, mu.M, r.Model.Gain, r.Model.RMSE, r.NSE)
	}
	if err := m.Correction.UnmarshalText([]byte(*corr)); err != nil {
		log.Fatal(err)
	}
	m.CorrectionDecay, m.HoldBranches, m.BandGrowth = *decay, *hold, *growth
	if *out != "" {
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// StationID is the network's id of a PDMA gauge name: lower case, "G.S.Wala" → "gs_wala".
func StationID(pdma string) string {
	if pdma == "G.S.Wala" {
		return "gs_wala"
	}
	return strings.ToLower(pdma)
}
