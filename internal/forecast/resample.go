package forecast

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// Reading is one discharge reading: its time, value (the model's flow unit) and QC flag.
type Reading struct {
	Time  time.Time
	Value float64
	Flag  sensing.Flag
}

// Segment is an unbroken run of a series on a regular grid: Values[i] is the value at
// Start + i·step. Suspect[i] is true when a reading it was interpolated from was suspect.
type Segment struct {
	Start   time.Time
	Values  []float64
	Suspect []bool
}

// End is the time of the segment's last value.
func (s Segment) End(step time.Duration) time.Time {
	return s.Start.Add(time.Duration(len(s.Values)-1) * step)
}

// Resample interpolates readings linearly onto the grid of multiples of step (time.Truncate's
// grid: whole hours for a step of 1 h, so every series resampled with one step shares it). Bad readings are dropped;
// for a time given twice the later reading in rs wins; the order of rs does not matter. Two
// consecutive readings further apart than maxGap are not interpolated across: the series
// breaks there into separate segments. Nothing is extrapolated: a segment runs from the first
// grid time at or after its first reading to the last at or before its last reading (a run
// that contains no grid time gives no segment). Errors: step or maxGap not positive, a value
// of a reading that is not bad that is negative or not finite.
func Resample(rs []Reading, step, maxGap time.Duration) ([]Segment, error) {
	if step <= 0 || maxGap <= 0 {
		return nil, fmt.Errorf("resample: step %v and maximum gap %v must be positive", step, maxGap)
	}
	good := make([]Reading, 0, len(rs))
	for i, r := range rs {
		if r.Flag == sensing.FlagBad {
			continue
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Value < 0 {
			return nil, fmt.Errorf("resample: reading %d at %s: discharge %v: want a finite number ≥ 0", i, r.Time.Format(time.RFC3339), r.Value)
		}
		good = append(good, r)
	}
	slices.SortStableFunc(good, func(a, b Reading) int { return a.Time.Compare(b.Time) })
	// for equal times keep the last given
	dedup := good[:0]
	for _, r := range good {
		if n := len(dedup); n > 0 && dedup[n-1].Time.Equal(r.Time) {
			dedup[n-1] = r
			continue
		}
		dedup = append(dedup, r)
	}
	var out []Segment
	for lo := 0; lo < len(dedup); {
		hi := lo
		for hi+1 < len(dedup) && dedup[hi+1].Time.Sub(dedup[hi].Time) <= maxGap {
			hi++
		}
		if seg, ok := resampleRun(dedup[lo:hi+1], step); ok {
			out = append(out, seg)
		}
		lo = hi + 1
	}
	return out, nil
}

func resampleRun(rs []Reading, step time.Duration) (Segment, bool) {
	first := ceilTime(rs[0].Time, step)
	last := rs[len(rs)-1].Time.Truncate(step)
	if last.Before(first) {
		return Segment{}, false
	}
	n := int(last.Sub(first)/step) + 1
	seg := Segment{Start: first, Values: make([]float64, n), Suspect: make([]bool, n)}
	p := 0
	for i := range n {
		t := first.Add(time.Duration(i) * step)
		for p+1 < len(rs) && !rs[p+1].Time.After(t) {
			p++
		}
		a := rs[p]
		if a.Time.Equal(t) || p+1 == len(rs) {
			seg.Values[i], seg.Suspect[i] = a.Value, a.Flag == sensing.FlagSuspect
			continue
		}
		b := rs[p+1]
		w := float64(t.Sub(a.Time)) / float64(b.Time.Sub(a.Time))
		seg.Values[i] = a.Value + w*(b.Value-a.Value)
		seg.Suspect[i] = a.Flag == sensing.FlagSuspect || b.Flag == sensing.FlagSuspect
	}
	return seg, true
}

// ceilTime is the first grid time (time.Truncate's grid) at or after t.
func ceilTime(t time.Time, step time.Duration) time.Time {
	f := t.Truncate(step)
	if f.Before(t) {
		f = f.Add(step)
	}
	return f
}
