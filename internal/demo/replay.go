package demo

import (
	"context"
	"sort"
	"time"
)

// Batch is what a Replay hands to its sink: observations of one series whose
// times have been shifted onto the wall clock (UTC).
type Batch struct {
	// Series is the series the observations belong to (its Obs hold the
	// original, unshifted times).
	Series *Series
	// Obs are the shifted observations, sorted by time.
	Obs []Obs
}

// Sink receives replayed batches, e.g. to insert them as SensorThings
// observations. An error stops Run, which returns it; a sink that should
// survive failures logs them and returns nil.
type Sink func(ctx context.Context, b Batch) error

// Replay maps a Dataset's series onto the wall clock:
//
//	shifted(t) = now + (t − s.Split) / speed
//
// for every observation t of series s, both before the split (the backfill,
// limited to s.Split − history ≤ t in original time) and after it (emitted
// by Run). Shifted times are in UTC. A Replay is used by one goroutine.
type Replay struct {
	ds      *Dataset
	now     time.Time
	speed   float64
	history time.Duration
}

// NewReplay returns a replay of ds starting at now. speed is how many
// seconds of data pass per wall-clock second (DefaultSpeed if speed <= 0);
// history is the backfill window in original time (none if history <= 0).
// The Dataset must not change while the Replay is in use.
func NewReplay(ds *Dataset, now time.Time, speed float64, history time.Duration) *Replay {
	if speed <= 0 {
		speed = DefaultSpeed
	}
	if history < 0 {
		history = 0
	}
	return &Replay{ds: ds, now: now.UTC(), speed: speed, history: history}
}

// Start returns the wall-clock instant every split maps to (UTC).
func (r *Replay) Start() time.Time { return r.now }

// Speed returns the replay speed in data seconds per wall-clock second.
func (r *Replay) Speed() float64 { return r.speed }

// Shift maps an original time t of series s onto the wall clock (UTC).
func (r *Replay) Shift(s *Series, t time.Time) time.Time {
	d := t.Sub(s.Split)
	return r.now.Add(time.Duration(float64(d) / r.speed))
}

// Unshift is the inverse of Shift, up to rounding to the nanosecond: it
// returns the original time of series s shown at wall-clock instant w.
func (r *Replay) Unshift(s *Series, w time.Time) time.Time {
	d := w.Sub(r.now)
	return s.Split.Add(time.Duration(float64(d) * r.speed))
}

// Backfill returns, per series with data in the window, the observations
// with s.Split − history ≤ t < s.Split, shifted into the past (before
// Start). Series without such observations are left out.
func (r *Replay) Backfill() []Batch {
	var out []Batch
	for i := range r.ds.Series {
		s := &r.ds.Series[i]
		from := s.Split.Add(-r.history)
		lo := sort.Search(len(s.Obs), func(j int) bool { return !s.Obs[j].Time.Before(from) })
		hi := sort.Search(len(s.Obs), func(j int) bool { return !s.Obs[j].Time.Before(s.Split) })
		if lo >= hi {
			continue
		}
		b := Batch{Series: s, Obs: make([]Obs, 0, hi-lo)}
		for _, o := range s.Obs[lo:hi] {
			b.Obs = append(b.Obs, Obs{Time: r.Shift(s, o.Time), Value: o.Value})
		}
		out = append(out, b)
	}
	return out
}

// event is one future observation on the wall clock.
type event struct {
	at     time.Time
	series int
	value  float64
}

// pending returns every observation at or after its series' split, sorted
// by shifted time, then by series order in the Dataset.
func (r *Replay) pending() []event {
	var ev []event
	for i := range r.ds.Series {
		s := &r.ds.Series[i]
		lo := sort.Search(len(s.Obs), func(j int) bool { return !s.Obs[j].Time.Before(s.Split) })
		for _, o := range s.Obs[lo:] {
			ev = append(ev, event{at: r.Shift(s, o.Time), series: i, value: o.Value})
		}
	}
	sort.SliceStable(ev, func(a, b int) bool {
		if !ev[a].at.Equal(ev[b].at) {
			return ev[a].at.Before(ev[b].at)
		}
		return ev[a].series < ev[b].series
	})
	return ev
}

// Run emits every observation at or after its series' split when the clock
// reaches its shifted time: observations due at the same instant go out
// together, one Batch per series, in Dataset order. Run waits with
// time.Timer (so testing/synctest can drive it), returns nil once all are
// emitted, ctx.Err() when ctx is cancelled, or the sink's first error.
// Observations already due when Run starts are emitted at once. Waits are
// measured against time.Now, so the Replay's start should be the current
// time.
func (r *Replay) Run(ctx context.Context, sink Sink) error {
	ev := r.pending()
	timer := time.NewTimer(time.Hour)
	timer.Stop() // Go 1.23+ timers: Stop leaves no stale tick behind
	defer timer.Stop()
	for len(ev) > 0 {
		at := ev[0].at
		n := 1
		for n < len(ev) && ev[n].at.Equal(at) {
			n++
		}
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		group := ev[:n]
		ev = ev[n:]
		for len(group) > 0 {
			si := group[0].series
			k := 1
			for k < len(group) && group[k].series == si {
				k++
			}
			b := Batch{Series: &r.ds.Series[si], Obs: make([]Obs, k)}
			for j := range k {
				b.Obs[j] = Obs{Time: at, Value: group[j].value}
			}
			if err := sink(ctx, b); err != nil {
				return err
			}
			group = group[k:]
		}
	}
	return nil
}
