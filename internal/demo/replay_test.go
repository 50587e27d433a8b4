package demo

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestShift(t *testing.T) {
	split := time.Date(2025, 8, 10, 12, 0, 0, 0, PKT)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Series{Split: split}
	for _, tc := range []struct {
		name  string
		speed float64
		t     time.Time
		want  time.Time
	}{
		{"at split", 3600, split, now},
		{"one hour later at 3600", 3600, split.Add(time.Hour), now.Add(time.Second)},
		{"one hour earlier at 3600", 3600, split.Add(-time.Hour), now.Add(-time.Second)},
		{"Khanki peak at default", DefaultSpeed, time.Date(2025, 8, 27, 13, 0, 0, 0, PKT), now.Add(102*time.Second + 250*time.Millisecond)},
		{"real time", 1, split.Add(90 * time.Minute), now.Add(90 * time.Minute)},
		{"same instant in another zone", 3600, time.Date(2025, 8, 10, 15, 0, 0, 0, CST), now},
		{"speed <= 0 means default", 0, split.Add(4 * time.Hour), now.Add(time.Second)},
	} {
		r := NewReplay(&Dataset{}, now, tc.speed, 0)
		got := r.Shift(s, tc.t)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: Shift = %v, want %v UTC", tc.name, got, tc.want)
		}
		if back := r.Unshift(s, got); !back.Equal(tc.t) {
			t.Errorf("%s: Unshift = %v, want %v", tc.name, back, tc.t)
		}
	}
}

// testDataset has two series with different splits; a's last point and b's
// point fall on the same wall-clock instant.
func testDataset() *Dataset {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	return &Dataset{
		Stations: []Station{{Key: "x"}},
		Series: []Series{
			{Key: "a", StationKey: "x", Split: h(10), Obs: []Obs{{h(1), 1}, {h(8), 8}, {h(9), 9}, {h(10), 10}, {h(12), 12}, {h(14), 14}}},
			{Key: "b", StationKey: "x", Split: h(100), Obs: []Obs{{h(99), -1}, {h(101), 101}, {h(104), 104}}},
		},
	}
}

func TestBackfill(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewReplay(testDataset(), now, 3600, 2*time.Hour)
	got := r.Backfill()
	if len(got) != 2 {
		t.Fatalf("backfill: %d batches, want 2", len(got))
	}
	// a: split−2h = h(8) ≤ t < h(10) → h(8), h(9); h(1) is outside history.
	a := got[0]
	if a.Series.Key != "a" || len(a.Obs) != 2 || a.Obs[0].Value != 8 || !a.Obs[0].Time.Equal(now.Add(-2*time.Second)) || !a.Obs[1].Time.Equal(now.Add(-time.Second)) {
		t.Errorf("backfill a = %+v", a)
	}
	if b := got[1]; b.Series.Key != "b" || len(b.Obs) != 1 || b.Obs[0].Value != -1 {
		t.Errorf("backfill b = %+v", b)
	}
	if n := len(NewReplay(testDataset(), now, 3600, 0).Backfill()); n != 0 {
		t.Errorf("zero history: %d batches", n)
	}
}

type emitted struct {
	key   string
	at    time.Time // wall clock when the sink was called
	obsAt time.Time
	value float64
}

func TestRunEmitsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		r := NewReplay(testDataset(), now, 3600, 0)
		var got []emitted
		err := r.Run(context.Background(), func(_ context.Context, b Batch) error {
			for _, o := range b.Obs {
				got = append(got, emitted{b.Series.Key, time.Now(), o.Time, o.Value})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := []struct {
			key   string
			value float64
			after time.Duration
		}{
			{"a", 10, 0}, {"b", 101, time.Second}, {"a", 12, 2 * time.Second},
			{"a", 14, 4 * time.Second}, {"b", 104, 4 * time.Second},
		}
		if len(got) != len(want) {
			t.Fatalf("emitted %d, want %d: %+v", len(got), len(want), got)
		}
		for i, w := range want {
			g := got[i]
			at := now.Add(w.after)
			if g.key != w.key || g.value != w.value || !g.at.Equal(at) || !g.obsAt.Equal(at.UTC()) {
				t.Errorf("emit %d = %+v, want %s=%v at +%v", i, g, w.key, w.value, w.after)
			}
		}
		if d := time.Since(now); d != 4*time.Second {
			t.Errorf("Run returned after %v, want 4s", d)
		}
	})
}

func TestRunStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := NewReplay(testDataset(), time.Now(), 3600, 0)
		n := 0
		done := make(chan error)
		go func() {
			done <- r.Run(ctx, func(context.Context, Batch) error { n++; return nil })
		}()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if n != 2 {
			t.Errorf("after 1.5s: %d batches, want 2", n)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestRunSinkError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		r := NewReplay(testDataset(), time.Now(), 3600, 0)
		if err := r.Run(context.Background(), func(context.Context, Batch) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Run = %v, want boom", err)
		}
	})
}

// TestDemoTimeline checks the promised story at the default speed: the
// Khanki flood peak is emitted about 102 s after start.
func TestDemoTimeline(t *testing.T) {
	ds := load(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewReplay(ds, now, DefaultSpeed, DefaultHistory)
	s := ds.SeriesByKey("pdma-khanki/discharge")
	at := r.Shift(s, time.Date(2025, 8, 27, 13, 0, 0, 0, PKT))
	if d := at.Sub(now); d < 60*time.Second || d > 120*time.Second {
		t.Errorf("Khanki peak %v after start, want within 1–2 minutes", d)
	}
	seen := map[string]bool{}
	for _, b := range r.Backfill() {
		for _, o := range b.Obs {
			if !o.Time.Before(now) {
				t.Fatalf("backfill %s at %v, not before start", b.Series.Key, o.Time)
			}
		}
		seen[b.Series.StationKey] = true
	}
	if len(seen) != len(ds.Stations) {
		t.Errorf("backfill covers %d of %d stations", len(seen), len(ds.Stations))
	}
}
