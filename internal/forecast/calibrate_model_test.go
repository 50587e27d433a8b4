package forecast

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestCalibrateModelRecovers: a network a → c ← b, c → d, e → d (e has no readings) with
// readings every 3 h made by routing known parameters: CalibrateModel recovers the lags and
// gains, fits the sum at the confluence, and keeps the prior for the reach without data.
func TestCalibrateModelRecovers(t *testing.T) {
	n, err := NewNetwork([]Station{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}, {ID: "e"}}, []Reach{
		{From: "a", To: "c", TravelTime: 6 * time.Hour},
		{From: "b", To: "c", LengthKM: 30}, // no travel time: searched up to 30 km / 1.5 km/h = 20 h
		{From: "c", To: "d", TravelTime: 10 * time.Hour},
		{From: "e", To: "d", TravelTime: 4 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	const hours = 240
	wave := func(peak, at, width float64) []float64 {
		out := make([]float64, hours)
		for h := range out {
			out[h] = 100 + peak*math.Exp(-math.Pow((float64(h)-at)/width, 2))
		}
		return out
	}
	qa, qb := wave(900, 70, 20), wave(400, 150, 15)
	lin := Muskingum{K: 3, X: 0.2, M: 1}
	route := func(in []float64, lag int, gain float64) []float64 {
		out, err := Route(lagged(in, lag), in[0], 1, lin, SchemeRK4)
		if err != nil {
			t.Fatal(err)
		}
		for i := range out {
			out[i] *= gain
		}
		return out
	}
	ra, rb := route(qa, 6, 0.8), route(qb, 12, 1.1)
	qc := make([]float64, hours)
	for i := range qc {
		qc[i] = ra[i] + rb[i]
	}
	series := map[string][]Reading{}
	for id, q := range map[string][]float64{"a": qa, "b": qb, "c": qc} {
		for h := 0; h < hours; h += 3 {
			series[id] = append(series[id], Reading{Time: at(h), Value: q[h]})
		}
	}
	m, reps, err := CalibrateModel(n, series, time.Hour, CalibrateModelOptions{Scheme: SchemeRK4})
	if err != nil {
		t.Fatal(err)
	}
	byReach := map[string]ReachReport{}
	for _, r := range reps {
		byReach[r.From+">"+r.To] = r
	}
	for _, c := range []struct {
		reach string
		lag   time.Duration
		gain  float64
	}{{"a>c", 6 * time.Hour, 0.8}, {"b>c", 12 * time.Hour, 1.1}} {
		r := byReach[c.reach]
		if !r.Calibrated {
			t.Fatalf("%s not calibrated: %s", c.reach, r.Reason)
		}
		// lag and K both delay a smooth wave and trade off against each other (docs/forecast.md,
		// "Calibration"): what must be recovered is the total delay, lag + K (x ≪ 0.5)
		delay := r.Model.Lag.Hours() + r.Model.Muskingum.K
		if want := c.lag.Hours() + lin.K; math.Abs(delay-want) > 2 {
			t.Errorf("%s: lag %v + K %.2f h = %.1f h, want %.1f h ± 2 h", c.reach, r.Model.Lag, r.Model.Muskingum.K, delay, want)
		}
		if math.Abs(r.Model.Gain-c.gain) > 0.05*c.gain {
			t.Errorf("%s: gain %.3f, want %.3f ± 5 %%", c.reach, r.Model.Gain, c.gain)
		}
		if r.NSE < 0.99 || r.Model.N != r.Samples || r.Model.N < 230 {
			t.Errorf("%s: NSE %.4f over %d samples (N %d)", c.reach, r.NSE, r.Samples, r.Model.N)
		}
	}
	for _, reach := range []string{"c>d", "e>d"} {
		r := byReach[reach]
		if r.Calibrated || !strings.Contains(r.Reason, "no readings") || r.Model.N != 0 {
			t.Errorf("%s: calibrated %v (%s), want the prior for lack of readings", reach, r.Calibrated, r.Reason)
		}
	}
	if lag := byReach["c>d"].Model.Lag; lag != 10*time.Hour {
		t.Errorf("c>d prior lag %v, want the published 10 h", lag)
	}
	if _, err := NewForecaster(m); err != nil {
		t.Fatal(err)
	}
	// refusals
	if _, _, err := CalibrateModel(n, map[string][]Reading{"zz": nil}, time.Hour, CalibrateModelOptions{}); err == nil {
		t.Error("readings of an unknown station accepted")
	}
	if _, _, err := CalibrateModel(n, map[string][]Reading{"a": {{Time: at(0), Value: math.Inf(1)}}}, time.Hour, CalibrateModelOptions{}); err == nil {
		t.Error("an infinite reading accepted")
	}
}

// TestPriorCelerity: the demo network's ten reaches with a published travel time give a
// median celerity of 3.65 km/h, and a reach without one gets its length at that speed.
func TestPriorCelerity(t *testing.T) {
	n, err := PunjabIndus()
	if err != nil {
		t.Fatal(err)
	}
	c := PriorCelerity(n)
	if math.Abs(c-3.65) > 0.01 {
		t.Errorf("celerity %.3f km/h, want 3.65", c)
	}
	r, _ := n.Downstream("panjnad") // 171.7 km, no travel time
	if got := PriorReach(r, time.Hour, c).Lag; got != 47*time.Hour {
		t.Errorf("panjnad → guddu prior lag %v, want 171.7 km / 3.65 km/h ≈ 47 h", got)
	}
}
