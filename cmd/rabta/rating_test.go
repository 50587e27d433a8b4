package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/forecast"
)

// TestForecastRating runs README's `go run ./cmd/rabta forecast rating --csv
// examples/rating.csv` (as the built binary). The example is synthetic: 40 gaugings drawn from
// Q = 35 (h − 0.4)^1.7 with 3 % scatter (docs/forecast.md, "Derived discharge in the node"); the fit must recover the curve
// it was drawn from, and what it prints must be a rating curve a derived Datastream accepts.
func TestForecastRating(t *testing.T) {
	out, errOut, err := rabta(t, "forecast", "rating", "--csv", "../../examples/rating.csv")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	var c forecast.RatingCurve
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if math.Abs(c.A-35)/35 > 0.1 || math.Abs(c.B-1.7) > 0.05 || math.Abs(c.H0-0.4) > 0.2 || c.N != 40 || c.R2 < 0.99 {
		t.Errorf("fit %+v, want about a = 35, b = 1.7, h0 = 0.4 from 40 gaugings", c)
	}
	// the range is the gauged stages', the margin 10 % of it
	if c.MinStage >= c.MaxStage || math.Abs(c.Margin-0.1*(c.MaxStage-c.MinStage)) > 1e-9 {
		t.Errorf("range %v…%v, margin %v", c.MinStage, c.MaxStage, c.Margin)
	}

	// --datastream: the properties of the derived Datastream, as the store reads them; --h0 fixes h0
	out, errOut, err = rabta(t, "forecast", "rating", "--csv", "../../examples/rating.csv", "--datastream", "12", "--h0", "0.4", "--margin", "0.2")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	d, err := forecast.ParseDerivation(json.RawMessage(out))
	if err != nil || d == nil || d.Datastream != 12 || d.RatingCurve.H0 != 0.4 || math.Abs(d.RatingCurve.Margin-0.2*(c.MaxStage-c.MinStage)) > 1e-9 {
		t.Fatalf("--datastream 12 --h0 0.4 --margin 0.2: %+v %v from %s", d, err, out)
	}

	// bad input: an error naming the file, the line and the column; exit status 1
	for name, tc := range map[string]struct{ csv, want string }{
		"header":    {"stage,flow\n1,2\n", `line 1, column 2: header "flow", want "discharge"`},
		"number":    {"stage,discharge\n1,2\n2,x\n", `line 3, column 2 (discharge): "x" is not a finite number`},
		"zero flow": {"time,stage,discharge\n,1,2\n,2,0\n", `line 3, column 3 (discharge): 0, want a discharge > 0`},
		"time":      {"time,stage,discharge\nmonday,1,2\n", `line 2, column 1 (time): "monday" is not an RFC 3339 time`},
		"few":       {"stage,discharge\n1,2\n2,3\n", `2 gaugings: at least 4 are needed`},
		"flat":      {"stage,discharge\n1,2\n1,3\n1,4\n1,5\n", `1 distinct stages`},
	} {
		p := filepath.Join(t.TempDir(), name+".csv")
		os.WriteFile(p, []byte(tc.csv), 0o600)
		_, errOut, err := rabta(t, "forecast", "rating", "--csv", p)
		if err == nil || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, p) {
			t.Errorf("%s: %v %q, want an error naming the file and %q", name, err, errOut, tc.want)
		}
	}
	if _, errOut, err := rabta(t, "forecast", "rating", "--csv", "../../examples/rating.csv", "--h0", "x"); err == nil || !strings.Contains(errOut, `--h0 "x"`) {
		t.Errorf("--h0 x: %v %q", err, errOut)
	}
}

// FuzzParseGaugings: any input gives an error or gaugings FitRating can take (finite stages,
// discharges > 0, at least MinRatingPoints).
func FuzzParseGaugings(f *testing.F) {
	for _, s := range []string{
		"stage,discharge\n1,2\n2,5\n3,9\n4,14\n",
		"time,stage,discharge\n2025-04-01T08:00:00Z,3.07,182.5\n,4,300\n2025-04-02T08:00:00Z,5,400\n,6,550\n",
		"time,stage,discharge\nx,1,2\n", "stage,discharge\n1,NaN\n", "stage,discharge\n1,-2\n", "stage\n1\n", "", "\"", "stage,discharge\n1,2,3\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, q, err := parseGaugings(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(h) != len(q) || len(h) < forecast.MinRatingPoints {
			t.Fatalf("%d stages, %d discharges", len(h), len(q))
		}
		for i := range h {
			if math.IsNaN(h[i]) || math.IsInf(h[i], 0) || !(q[i] > 0) || math.IsInf(q[i], 0) {
				t.Fatalf("gauging %d: %v, %v", i, h[i], q[i])
			}
		}
	})
}
