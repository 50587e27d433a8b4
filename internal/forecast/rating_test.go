package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// syntheticRating returns n stages uniform in [lo, hi] and discharges a (h − h0)^b with
// multiplicative Gaussian noise of relative size noise, from a fixed seed.
func syntheticRating(n int, a, b, h0, lo, hi, noise float64, seed uint64) (h, q []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for range n {
		s := lo + (hi-lo)*r.Float64()
		h = append(h, s)
		q = append(q, a*math.Pow(s-h0, b)*(1+noise*r.NormFloat64()))
	}
	return h, q
}

func TestFitRatingRecoversParameters(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		a, b, h0, lo, hi, nois float64
		n                      int
		tolA, tolB, tolH0      float64 // relative, relative, absolute (stage units)
	}{
		{"exact", 35, 1.7, 0.4, 1, 9, 0, 50, 1e-4, 1e-4, 1e-3},
		{"noise 3%", 35, 1.7, 0.4, 1, 9, 0.03, 300, 0.15, 0.05, 0.25},
		// Cusecs against feet, at the scale of a Punjab barrage.
		{"large units", 2200, 2.1, 650, 655, 690, 0.02, 200, 0.25, 0.05, 1.5},
		{"b below 1", 80, 0.8, -2, 0, 5, 0.01, 100, 0.1, 0.05, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, q := syntheticRating(tc.n, tc.a, tc.b, tc.h0, tc.lo, tc.hi, tc.nois, 7)
			c, err := FitRating(h, q, RatingOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("a=%.4g b=%.4g h0=%.4g RMSE=%.4g R²=%.5f n=%d", c.A, c.B, c.H0, c.RMSE, c.R2, c.N)
			if math.Abs(c.A-tc.a)/tc.a > tc.tolA || math.Abs(c.B-tc.b)/tc.b > tc.tolB || math.Abs(c.H0-tc.h0) > tc.tolH0 {
				t.Errorf("fitted a=%v b=%v h0=%v, want %v %v %v", c.A, c.B, c.H0, tc.a, tc.b, tc.h0)
			}
			if c.N != tc.n || c.R2 < 0.95 || c.R2 > 1 || c.RMSE < 0 {
				t.Errorf("stats n=%d R²=%v RMSE=%v", c.N, c.R2, c.RMSE)
			}
			if tc.nois == 0 && c.R2 < 1-1e-9 {
				t.Errorf("exact data: R² = %v, want 1", c.R2)
			}
			// RMSE must be the RMSE of the returned curve.
			var s float64
			for i := range h {
				d := c.A*math.Pow(h[i]-c.H0, c.B) - q[i]
				s += d * d
			}
			if got := math.Sqrt(s / float64(len(h))); math.Abs(got-c.RMSE) > 1e-9*(1+got) {
				t.Errorf("RMSE %v, recomputed %v", c.RMSE, got)
			}
			lo, hi := h[0], h[0]
			for _, v := range h {
				lo, hi = min(lo, v), max(hi, v)
			}
			if c.MinStage != lo || c.MaxStage != hi || math.Abs(c.Margin-0.1*(hi-lo)) > 1e-12 {
				t.Errorf("range %v…%v margin %v, want %v…%v margin %v", c.MinStage, c.MaxStage, c.Margin, lo, hi, 0.1*(hi-lo))
			}
		})
	}
}

func TestFitRatingDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		h, q []float64
		want string
	}{
		{"too few", []float64{1, 2, 3}, []float64{1, 2, 3}, "3 points, want at least 4"},
		{"none", nil, nil, "0 points"},
		{"lengths differ", []float64{1, 2, 3, 4}, []float64{1, 2, 3}, "4 stages but 3 discharges"},
		{"all same stage", []float64{2, 2, 2, 2, 2}, []float64{5, 6, 5, 7, 6}, "1 distinct stages"},
		{"two stages", []float64{2, 3, 2, 3}, []float64{5, 9, 5, 9}, "2 distinct stages"},
		{"zero discharge", []float64{1, 2, 3, 4}, []float64{0, 2, 3, 4}, "discharge 0 is 0"},
		{"negative discharge", []float64{1, 2, 3, 4}, []float64{1, 2, -3, 4}, "discharge 2 is -3"},
		{"NaN stage", []float64{1, math.NaN(), 3, 4}, []float64{1, 2, 3, 4}, "stage 1 is NaN"},
		{"falling", []float64{1, 2, 3, 4, 5}, []float64{50, 40, 30, 20, 10}, "does not rise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FitRating(tc.h, tc.q, RatingOptions{})
			if err == nil {
				t.Fatalf("fitted %+v, want an error", c)
			}
			if !errors.Is(err, ErrRatingInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrRatingInput saying %q", err, tc.want)
			}
		})
	}
}

func TestFitRatingFixedH0(t *testing.T) {
	h, q := syntheticRating(200, 35, 1.7, 0.4, 1, 9, 0.03, 5)
	h0 := 0.4
	c, err := FitRating(h, q, RatingOptions{H0: &h0})
	if err != nil {
		t.Fatal(err)
	}
	if c.H0 != h0 || math.Abs(c.A-35)/35 > 0.05 || math.Abs(c.B-1.7)/1.7 > 0.03 || c.N != 200 {
		t.Errorf("fitted a=%v b=%v h0=%v n=%d, want 35 1.7 0.4 200", c.A, c.B, c.H0, c.N)
	}
	// Two distinct stages fix a and b when h0 is given.
	if _, err := FitRating([]float64{2, 3, 2, 3}, []float64{10, 20, 10, 20}, RatingOptions{H0: &h0}); err != nil {
		t.Errorf("two stages with h0 given: %v", err)
	}
	// A stage at or below the given h0 has no flow: refused, naming the point.
	h0 = 2
	_, err = FitRating([]float64{3, 4, 2, 5}, []float64{10, 20, 5, 30}, RatingOptions{H0: &h0})
	if !errors.Is(err, ErrRatingInput) || !strings.Contains(err.Error(), "stage 2 is 2, at or below h0 = 2") {
		t.Errorf("err = %v, want stage 2 at or below h0", err)
	}
	nan := math.NaN()
	if _, err := FitRating([]float64{3, 4, 2, 5}, []float64{10, 20, 5, 30}, RatingOptions{H0: &nan}); !errors.Is(err, ErrRatingInput) {
		t.Errorf("h0 NaN: err = %v", err)
	}
}

func TestRatingDischargeStageRange(t *testing.T) {
	c := RatingCurve{A: 10, B: 2, H0: 1, MinStage: 2, MaxStage: 12, Margin: 1}
	for _, tc := range []struct {
		h      float64
		q      float64
		ex     bool
		errSub string
	}{
		{2, 10, false, ""},
		{12, 1210, false, ""},
		{1.5, 2.5, true, ""}, // within the margin below
		{13, 1440, true, ""}, // at the margin above
		{13.01, 0, false, "beyond the fitted range"},
		{0.99, 0, false, "at or below the zero-flow stage"},
		{1, 0, false, "at or below the zero-flow stage"},
		{math.Inf(1), 0, false, "stage +Inf"},
	} {
		q, ex, err := c.Discharge(tc.h)
		if tc.errSub != "" {
			if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), tc.errSub) {
				t.Errorf("Discharge(%v) = %v, %v, %v; want ErrOutOfRange saying %q", tc.h, q, ex, err, tc.errSub)
			}
			continue
		}
		if err != nil || math.Abs(q-tc.q) > 1e-9 || ex != tc.ex {
			t.Errorf("Discharge(%v) = %v, %v, %v; want %v, %v", tc.h, q, ex, err, tc.q, tc.ex)
			continue
		}
		h, ex2, err := c.Stage(q)
		if err != nil || math.Abs(h-tc.h) > 1e-9 || ex2 != tc.ex {
			t.Errorf("Stage(%v) = %v, %v, %v; want %v, %v", q, h, ex2, err, tc.h, tc.ex)
		}
	}
	for _, q := range []float64{0, -1, math.NaN(), 1441} {
		if _, _, err := c.Stage(q); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Stage(%v) err = %v, want ErrOutOfRange", q, err)
		}
	}
	// A negative margin option means no extrapolation at all.
	h, q := syntheticRating(20, 10, 2, 1, 2, 12, 0, 3)
	fit, err := FitRating(h, q, RatingOptions{Margin: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fit.Discharge(fit.MaxStage + 1e-6); !errors.Is(err, ErrOutOfRange) || fit.Margin != 0 {
		t.Errorf("margin %v: Discharge just above the range err = %v", fit.Margin, err)
	}
}

func TestDischargeSeriesCarriesQC(t *testing.T) {
	c := RatingCurve{A: 10, B: 2, H0: 1, MinStage: 2, MaxStage: 12, Margin: 1}
	t0 := time.Date(2025, 8, 27, 6, 0, 0, 0, time.UTC)
	in := []RatingPoint{
		{Time: t0, Value: 3, QC: sensing.FlagGood},
		{Time: t0.Add(time.Hour), Value: 4, QC: sensing.FlagSuspect},
		{Time: t0.Add(2 * time.Hour), Value: 20, QC: sensing.FlagGood},  // beyond the margin
		{Time: t0.Add(3 * time.Hour), Value: 12.5, QC: sensing.FlagBad}, // extrapolated
		{Time: t0.Add(4 * time.Hour), Value: 0.5, QC: sensing.FlagGood}, // below h0
	}
	out, refused := c.DischargeSeries(in)
	want := []RatingPoint{
		{Time: t0, Value: 40, QC: sensing.FlagGood},
		{Time: t0.Add(time.Hour), Value: 90, QC: sensing.FlagSuspect},
		{Time: t0.Add(3 * time.Hour), Value: 10 * 11.5 * 11.5, QC: sensing.FlagBad, Extrapolated: true},
	}
	if len(out) != len(want) {
		t.Fatalf("out = %+v, want %+v", out, want)
	}
	for i := range want {
		if !out[i].Time.Equal(want[i].Time) || math.Abs(out[i].Value-want[i].Value) > 1e-9 || out[i].QC != want[i].QC || out[i].Extrapolated != want[i].Extrapolated {
			t.Errorf("out[%d] = %+v, want %+v", i, out[i], want[i])
		}
	}
	if len(refused) != 2 || refused[0].Index != 2 || refused[1].Index != 4 || !refused[1].Time.Equal(t0.Add(4*time.Hour)) ||
		!errors.Is(refused[0].Err, ErrOutOfRange) || !errors.Is(refused[1].Err, ErrOutOfRange) {
		t.Errorf("refused = %+v, want indexes 2 and 4 with ErrOutOfRange", refused)
	}
}

// FuzzRatingInverse checks that Stage inverts Discharge over a curve's whole domain.
func FuzzRatingInverse(f *testing.F) {
	f.Add(10.0, 2.0, 1.0, 2.0, 12.0, 5.0)
	f.Add(2200.0, 2.1, 650.0, 655.0, 690.0, 689.9)
	f.Add(0.5, 0.7, -3.0, 0.0, 1.0, -0.05)
	f.Fuzz(func(t *testing.T, a, b, h0, lo, hi, h float64) {
		if !(a > 1e-3 && a < 1e6 && b > 0.3 && b < 5 && finite(h0) && math.Abs(h0) < 1e4 && lo > h0 && hi > lo && hi-lo < 1e4) {
			return
		}
		c := RatingCurve{A: a, B: b, H0: h0, MinStage: lo, MaxStage: hi, Margin: 0.1 * (hi - lo)}
		q, ex, err := c.Discharge(h)
		if err != nil {
			if !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("Discharge(%v) err = %v", h, err)
			}
			return
		}
		if q < 0 || !finite(q) {
			t.Fatalf("Discharge(%v) = %v", h, q)
		}
		if q == 0 {
			return // underflow just above h0
		}
		back, ex2, err := c.Stage(q)
		if err != nil {
			if math.Abs(h-(lo-c.Margin)) < 1e-6*(1+math.Abs(h)) || math.Abs(h-(hi+c.Margin)) < 1e-6*(1+math.Abs(h)) {
				return // rounding at the edge of the margin
			}
			t.Fatalf("Stage(%v) err = %v for h %v", q, err, h)
		}
		if math.Abs(back-h) > 1e-6*(1+math.Abs(h)+math.Abs(h0)) {
			t.Fatalf("Stage(Discharge(%v)) = %v", h, back)
		}
		nearEdge := math.Abs(h-lo) < 1e-8*(1+math.Abs(h)) || math.Abs(h-hi) < 1e-8*(1+math.Abs(h))
		if ex != ex2 && !nearEdge {
			t.Fatalf("extrapolated %v vs %v at h %v", ex, ex2, h)
		}
	})
}

func BenchmarkFitRating1000(b *testing.B) {
	h, q := syntheticRating(1000, 2200, 2.1, 650, 655, 690, 0.03, 11)
	for b.Loop() {
		if _, err := FitRating(h, q, RatingOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
