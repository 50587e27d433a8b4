package forecast

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// chainModel is a two-reach chain a → b → c with a 3 h lag on the first reach, pure
// translation with no attenuation (x = 0.5 would be translation; here K is one step and x
// 0.2, so the wave is attenuated a little), gain 1.
func chainModel(t *testing.T) Model {
	t.Helper()
	n, err := NewNetwork([]Station{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		[]Reach{{From: "a", To: "b", TravelTime: 3 * time.Hour}, {From: "b", To: "c", TravelTime: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return Model{Network: n, Step: time.Hour, Reaches: []ReachModel{
		{From: "a", To: "b", Muskingum: Muskingum{K: 1, X: 0.2, M: 1}, Scheme: SchemeRK4, Lag: 3 * time.Hour, Gain: 1, RMSE: 10, N: 100},
	}}
}

func TestModelJSONRoundTrip(t *testing.T) {
	m := chainModel(t)
	m.Correction, m.CorrectionDecay = CorrectRatio, 12*time.Hour
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back.Reaches, m.Reaches) || back.Step != m.Step || back.Correction != m.Correction || back.CorrectionDecay != m.CorrectionDecay {
		t.Errorf("round trip: got %+v, want %+v", back, m)
	}
	if !reflect.DeepEqual(back.Network.Reaches(), m.Network.Reaches()) || !reflect.DeepEqual(back.Network.Stations(), m.Network.Stations()) {
		t.Errorf("network differs after the round trip")
	}
	b2, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Errorf("second marshal differs:\n%s\n%s", b, b2)
	}
}

func TestPunjabIndusModel(t *testing.T) {
	m, err := PunjabIndusModel()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Network.Reaches()); got != 20 {
		t.Errorf("%d reaches, want 20", got)
	}
	if _, err := NewForecaster(m); err != nil {
		t.Fatal(err)
	}
}

func TestForecasterChain(t *testing.T) {
	f, err := NewForecaster(chainModel(t))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	// steady 100 at a and b, then a rises to 200 at t0+10h
	for h := 0; h <= 10; h++ {
		q := 100.0
		if h == 10 {
			q = 200
		}
		if err := f.Observe("a", t0.Add(time.Duration(h)*time.Hour), q, sensing.FlagGood); err != nil {
			t.Fatal(err)
		}
		if err := f.Observe("b", t0.Add(time.Duration(h)*time.Hour), 100, sensing.FlagGood); err != nil {
			t.Fatal(err)
		}
	}
	issued := t0.Add(10 * time.Hour)
	fc := f.Update(issued, "a")
	if len(fc) != 2 || fc[0].Station != "b" || fc[1].Station != "c" {
		t.Fatalf("forecasts for %v, want b and c", fc)
	}
	b := fc[0]
	if len(b.Points) != 3 {
		t.Fatalf("b: %d points, want 3 (the lag)", len(b.Points))
	}
	for i, p := range b.Points {
		if want := issued.Add(time.Duration(i+1) * time.Hour); !p.Time.Equal(want) {
			t.Errorf("b point %d at %v, want %v", i, p.Time, want)
		}
		if p.Lower > p.Value || p.Upper < p.Value || math.Abs((p.Upper-p.Value)-z90*10) > 1e-9 {
			t.Errorf("b point %d: band %v–%v around %v, want ±%.3f", i, p.Lower, p.Upper, p.Value, z90*10)
		}
	}
	// the rise reaches b after the lag and is attenuated: above 100 at the last point, below 200
	if v := b.Points[2].Value; !(v > 100 && v < 200) {
		t.Errorf("b at +3 h: %v, want between 100 and 200", v)
	}
	if v := b.Points[1].Value; math.Abs(v-100) > 1e-6 {
		t.Errorf("b at +2 h: %v, want 100 (the rise has not arrived)", v)
	}
	// c: b's forecast routed by a prior reach (lag 2 h): known to +5 h
	c := fc[1]
	if len(c.Points) != 5 {
		t.Fatalf("c: %d points, want 5", len(c.Points))
	}
}

func TestForecasterNoLeak(t *testing.T) {
	m := chainModel(t)
	all, _ := NewForecaster(m)
	part, _ := NewForecaster(m)
	t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	issued := t0.Add(20 * time.Hour)
	for h := 0; h <= 40; h += 3 {
		tm := t0.Add(time.Duration(h) * time.Hour)
		qa, qb := 100+50*math.Sin(float64(h)/5), 100+40*math.Sin(float64(h-3)/5)
		all.Observe("a", tm, qa, sensing.FlagGood)
		all.Observe("b", tm, qb, sensing.FlagGood)
		if !tm.After(issued) {
			part.Observe("a", tm, qa, sensing.FlagGood)
			part.Observe("b", tm, qb, sensing.FlagGood)
		}
	}
	fa, fp := all.Update(issued), part.Update(issued)
	if len(fa) == 0 || !reflect.DeepEqual(fa, fp) {
		t.Errorf("forecast with future readings differs:\n%+v\n%+v", fa, fp)
	}
}
