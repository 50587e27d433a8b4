package forecast

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"testing"
)

// wilson reads the Wilson (1974) flood from testdata (see testdata/wilson1974.PROVENANCE.md).
func wilson(t testing.TB) (in, out []float64) {
	t.Helper()
	f, err := os.Open("testdata/wilson1974.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows[1:] {
		h, _ := strconv.ParseFloat(r[0], 64)
		if h != float64(6*i) {
			t.Fatalf("row %d: time %v, want %d", i+2, h, 6*i)
		}
		a, err1 := strconv.ParseFloat(r[1], 64)
		b, err2 := strconv.ParseFloat(r[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d: %v %v", i+2, err1, err2)
		}
		in, out = append(in, a), append(out, b)
	}
	if len(in) != 22 {
		t.Fatalf("%d samples, want 22", len(in))
	}
	return in, out
}

// The published optimum (Geem 2006 with Δt = 1 step: K = 0.0863, x = 0.2869, m = 1.8679;
// Barati 2011 with Δt = 6 h: K = 0.5175, x = 0.2869, m = 1.8680; SSE = 36.77) routed with
// the classic scheme gives the published SSE; the other schemes do not, which is why the
// scheme is part of a calibration.
func TestRouteWilsonPublishedParameters(t *testing.T) {
	in, obs := wilson(t)
	p := Muskingum{K: 0.5175, X: 0.2869, M: 1.8680}
	got, err := Route(in, obs[0], 6, p, SchemeClassic)
	if err != nil {
		t.Fatal(err)
	}
	if sse := SSE(got, obs); math.Abs(sse-36.77) > 0.01*36.77 {
		t.Errorf("classic scheme at the published parameters: SSE %.3f, want 36.77 ± 1%%", sse)
	}
	// K scales with the time unit: Geem's K for a step of 1 (6 h) routes identically
	got1, err := Route(in, obs[0], 1, Muskingum{K: 0.5175 / 6, X: 0.2869, M: 1.8680}, SchemeClassic)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Abs(got[i]-got1[i]) > 1e-9 {
			t.Fatalf("step 6 h vs step 1 with K/6 differ at %d: %v vs %v", i, got[i], got1[i])
		}
	}
	for _, s := range []Scheme{SchemeEuler, SchemeRK4} {
		got, err := Route(in, obs[0], 6, p, s)
		if err != nil {
			t.Fatal(err)
		}
		if sse := SSE(got, obs); sse < 100 {
			t.Errorf("%v at the classic optimum: SSE %.2f; the schemes should differ", s, sse)
		}
	}
}

// Linear Muskingum (m = 1) with a steady inflow stays steady; a pulse is conserved in volume
// by the mass-consistent scheme.
func TestRouteSteadyAndVolume(t *testing.T) {
	in := make([]float64, 200)
	for i := range in {
		in[i] = 50
	}
	for _, s := range []Scheme{SchemeClassic, SchemeEuler, SchemeRK4} {
		out, err := Route(in, 50, 1, Muskingum{K: 5, X: 0.2, M: 1.3}, s)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			if math.Abs(v-50) > 1e-9 {
				t.Fatalf("%v: steady inflow 50 gave %v at %d", s, v, i)
			}
		}
	}
	for i := range in {
		in[i] = 10 + 90*math.Exp(-math.Pow(float64(i-40)/10, 2))
	}
	out, err := Route(in, 10, 1, Muskingum{K: 4, X: 0.2, M: 1}, SchemeRK4)
	if err != nil {
		t.Fatal(err)
	}
	var vi, vo, pi, po float64
	var ti, to int
	for i := range in {
		vi, vo = vi+in[i], vo+out[i]
		if in[i] > pi {
			pi, ti = in[i], i
		}
		if out[i] > po {
			po, to = out[i], i
		}
	}
	if math.Abs(vi-vo)/vi > 0.01 {
		t.Errorf("volume in %.1f, out %.1f", vi, vo)
	}
	if !(po < pi && to > ti) {
		t.Errorf("peak in %.1f at %d, out %.1f at %d: want attenuated and later", pi, ti, po, to)
	}
}

func TestRouteErrors(t *testing.T) {
	in := []float64{1, 2, 3}
	for name, c := range map[string]struct {
		in   []float64
		step float64
		p    Muskingum
	}{
		"K=0":     {in, 1, Muskingum{K: 0, X: 0.2, M: 1}},
		"x=1":     {in, 1, Muskingum{K: 1, X: 1, M: 1}},
		"m<0":     {in, 1, Muskingum{K: 1, X: 0.2, M: -1}},
		"step=0":  {in, 0, Muskingum{K: 1, X: 0.2, M: 1}},
		"empty":   {nil, 1, Muskingum{K: 1, X: 0.2, M: 1}},
		"NaN in":  {[]float64{1, math.NaN()}, 1, Muskingum{K: 1, X: 0.2, M: 1}},
		"NaN par": {in, 1, Muskingum{K: math.NaN(), X: 0.2, M: 1}},
	} {
		if _, err := Route(c.in, 1, c.step, c.p, SchemeClassic); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// a tiny K against the step makes the explicit step overshoot
	_, err := Route([]float64{10, 100, 10, 100, 10}, 10, 6, Muskingum{K: 0.01, X: 0.2, M: 1}, SchemeEuler)
	if !errors.Is(err, ErrUnstable) {
		t.Errorf("unstable routing: %v, want ErrUnstable", err)
	}
}

// BenchmarkRoute: one reach, a season of hourly data (2,000 steps), per scheme.
func BenchmarkRoute(b *testing.B) {
	in, _ := synthetic(2000, Muskingum{K: 1, X: 0.25, M: 1.2}, 0, SchemeRK4, 0, 7)
	out := make([]float64, len(in))
	for _, s := range []Scheme{SchemeClassic, SchemeEuler, SchemeRK4} {
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				if err := route(out, in, in[0], 1, Muskingum{K: 1, X: 0.25, M: 1.2}, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A calibration's scheme travels by name, and an unknown name is refused.
func TestSchemeText(t *testing.T) {
	for _, sc := range []Scheme{SchemeClassic, SchemeEuler, SchemeRK4} {
		b, err := json.Marshal(sc)
		var back Scheme
		if err != nil || json.Unmarshal(b, &back) != nil || back != sc || string(b) != `"`+sc.String()+`"` {
			t.Errorf("%v: %s %v -> %v", sc, b, err, back)
		}
	}
	var s Scheme
	if err := json.Unmarshal([]byte(`"implicit"`), &s); err == nil {
		t.Error("unknown scheme accepted")
	}
	if _, err := json.Marshal(Scheme(7)); err == nil {
		t.Error("Scheme(7) marshalled")
	}
}
