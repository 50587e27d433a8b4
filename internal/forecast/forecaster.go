package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// Forecasting a network.
//
// A Forecaster holds the recent discharge readings of every station of a Model. Update, given
// an issue time, computes each requested station's forecast on a grid of Model.Step anchored
// at the issue time (grid times issued + k·Step):
//
//  1. Readings. Each station's readings with time ≤ issued (bad ones dropped) are
//     interpolated linearly onto the grid. Two readings further apart than Model.MaxGap are not
//     interpolated across: the series used is the last unbroken run ending at the latest
//     reading. Nothing is extrapolated: the observed series ends at the last grid time at or
//     before the latest reading.
//  2. Routing. Stations are computed upstream first. The inflow of a reach is its upstream
//     station's best series: observed where there are readings, its own corrected forecast
//     after them (a station with no readings at all: its simulation). The inflow is shifted by
//     the reach's Lag, routed through its Muskingum parameters with its Scheme, and multiplied
//     by Gain. The routing starts Model.Warmup before the issue time (later if the inflow
//     starts later) from the observed downstream flow then (split between the branches of a
//     confluence in proportion to their routed inflow; where the station has no reading then,
//     from the steady state, outflow = inflow). At a confluence the branches are summed.
//  3. Horizon. A routed branch is known as far as its inflow plus its Lag; at a confluence the
//     forecast stops where the first branch stops (as far as every branch is known); past
//     that no value is given — unless Model.HoldBranches is set: then the forecast goes on to
//     where the last branch stops, each branch that stopped held at its last routed value,
//     and those points are flagged suspect (extrapolated). A station any of whose branches
//     has no usable inflow gets no forecast.
//  4. Correction. The latest reading at the station (at or before issued, at most MaxGap
//     old) is compared with the simulation then; the error corrects the forecast, decaying
//     with lead time (Model.Correction, Model.CorrectionDecay).
//  5. Band. Each reach adds its calibration RMSE (a reach with N = 0: PriorRelErr of its
//     routed flow) as a standard deviation; an inflow that is itself a forecast carries its
//     own, scaled by Gain; they add in quadrature, and so does Model.BandGrowth × lead time.
//     The band is ±1.645 σ (90 %, normal errors), its lower edge not below 0.
//
// Flags: a grid value interpolated from a suspect reading is suspect, and so is every routed
// value that rests on it; suspect inflow makes the forecast points it reaches suspect.

// z90 is the standard normal quantile of a two-sided 90 % band.
const z90 = 1.6448536269514722

// StationForecast is the forecast at one station, as issued at one time.
type StationForecast struct {
	Station string
	Issued  time.Time       // resultTime of every point
	Points  []ForecastPoint // phenomenon times strictly after Issued, ascending, one per Step
}

// ForecastPoint is one forecast value: discharge in the model's flow unit.
type ForecastPoint struct {
	Time         time.Time    // valid time (phenomenonTime)
	Value        float64      // expected discharge
	Lower, Upper float64      // 90 % band from the calibration residuals
	Flag         sensing.Flag // FlagGood, or FlagSuspect when a reading it rests on was suspect or extrapolated
}

type reading struct {
	t    time.Time
	q    float64
	flag sensing.Flag
}

// Forecaster keeps the recent discharge readings of every station of a Model and computes forecasts.
// Not safe for concurrent use (the caller serialises).
type Forecaster struct {
	m        Model
	net      *Network
	ids      []string       // station index → id
	idx      map[string]int // id → station index
	reaches  []ReachModel   // network reach index → its model
	from     []int          // network reach index → From station index
	readings [][]reading    // per station, ascending time
	newest   time.Time      // newest reading or issue time seen
	window   time.Duration
}

// NewForecaster validates m and returns a Forecaster for it, with no readings. Its memory
// (Window) is Warmup + the longest reach lag + MaxGap + 1 day.
func NewForecaster(m Model) (*Forecaster, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	f := &Forecaster{m: m, net: m.Network, idx: map[string]int{}}
	for i, s := range m.Network.Stations() {
		f.ids = append(f.ids, s.ID)
		f.idx[s.ID] = i
	}
	var maxLag time.Duration
	for _, r := range m.Network.Reaches() {
		rm := m.reach(r)
		f.reaches = append(f.reaches, rm)
		f.from = append(f.from, f.idx[r.From])
		maxLag = max(maxLag, rm.Lag)
	}
	f.readings = make([][]reading, len(f.ids))
	f.window = m.warmup() + maxLag + m.maxGap() + 24*time.Hour
	return f, nil
}

// Model returns the forecaster's model.
func (f *Forecaster) Model() Model { return f.m }

// Window is the forecaster's memory: readings older than the newest reading (or issue time)
// seen minus Window are dropped.
func (f *Forecaster) Window() time.Duration { return f.window }

// SetWindow sets the memory (at least the default of NewForecaster is sensible; a longer one
// keeps more readings). d ≤ 0 is ignored.
func (f *Forecaster) SetWindow(d time.Duration) {
	if d > 0 {
		f.window = d
	}
}

// ErrReading is wrapped by Observe's errors about the reading itself.
var ErrReading = errors.New("forecast: bad reading")

// Observe records a discharge reading (flow unit of the model) at a station; a reading for a time
// already held replaces it; readings older than the forecaster's memory (Window) are dropped.
// Unknown station → error. Flag is the reading's QC flag (sensing.Flag): bad readings are ignored,
// suspect ones are used and make the forecasts they feed suspect.
//
// A bad reading for a time already held removes the held one (a correction that rejects it).
// Errors: ErrUnknownStation; ErrReading for a zero time, or a value that is negative, NaN or
// infinite and not flagged bad, or an unknown flag.
func (f *Forecaster) Observe(station string, t time.Time, q float64, flag sensing.Flag) error {
	i, ok := f.idx[station]
	if !ok {
		return fmt.Errorf("forecast: observe %q: %w", station, ErrUnknownStation)
	}
	if t.IsZero() {
		return fmt.Errorf("forecast: observe %q: no time: %w", station, ErrReading)
	}
	if flag > sensing.FlagBad {
		return fmt.Errorf("forecast: observe %q at %s: unknown flag %d: %w", station, t.Format(time.RFC3339), flag, ErrReading)
	}
	if flag != sensing.FlagBad && (math.IsNaN(q) || math.IsInf(q, 0) || q < 0) {
		return fmt.Errorf("forecast: observe %q at %s: discharge %v: want a finite number ≥ 0: %w", station, t.Format(time.RFC3339), q, ErrReading)
	}
	rs := f.readings[i]
	j, found := slices.BinarySearchFunc(rs, t, func(r reading, t time.Time) int { return r.t.Compare(t) })
	switch {
	case flag == sensing.FlagBad:
		if found {
			f.readings[i] = slices.Delete(rs, j, j+1)
		}
		return nil
	case found:
		rs[j] = reading{t, q, flag}
	default:
		if t.Before(f.newest.Add(-f.window)) {
			return nil
		}
		f.readings[i] = slices.Insert(rs, j, reading{t, q, flag})
	}
	if t.After(f.newest) {
		f.newest = t
		f.prune()
	}
	return nil
}

// prune drops readings older than newest − window.
func (f *Forecaster) prune() {
	cut := f.newest.Add(-f.window)
	for i, rs := range f.readings {
		n := 0
		for n < len(rs) && rs[n].t.Before(cut) {
			n++
		}
		if n > 0 {
			f.readings[i] = slices.Delete(rs, 0, n)
		}
	}
}

// gseries is a contiguous series on the grid issued + k·Step, k from k0.
type gseries struct {
	k0  int
	v   []float64
	sus []bool
	sd  []float64 // standard deviation; 0 where observed
}

func (g *gseries) ok() bool { return g != nil && len(g.v) > 0 }
func (g *gseries) end() int { return g.k0 + len(g.v) - 1 }
func (g *gseries) has(k int) bool {
	return g.ok() && k >= g.k0 && k <= g.end()
}

// observed interpolates station i's readings with time ≤ issued onto the grid (see the
// package comment above) and returns the series and the latest reading used.
func (f *Forecaster) observed(i int, issued time.Time, step time.Duration, kmin int) (*gseries, reading, bool) {
	rs := f.readings[i]
	j := sortSearchAfter(rs, issued) - 1 // last reading ≤ issued
	if j < 0 {
		return nil, reading{}, false
	}
	last := rs[j]
	maxGap := f.m.maxGap()
	lo := j
	for lo > 0 && rs[lo].t.Sub(rs[lo-1].t) <= maxGap && !rs[lo-1].t.Before(issued.Add(time.Duration(kmin)*step)) {
		lo--
	}
	k0 := gridCeil(rs[lo].t.Sub(issued), step)
	k1 := gridFloor(last.t.Sub(issued), step)
	if k1 < k0 {
		return nil, last, true
	}
	g := &gseries{k0: k0, v: make([]float64, k1-k0+1), sus: make([]bool, k1-k0+1), sd: make([]float64, k1-k0+1)}
	p := lo
	for k := k0; k <= k1; k++ {
		t := issued.Add(time.Duration(k) * step)
		for p+1 <= j && !rs[p+1].t.After(t) {
			p++
		}
		a := rs[p]
		n := k - k0
		if a.t.Equal(t) || p == j {
			g.v[n], g.sus[n] = a.q, a.flag == sensing.FlagSuspect
			continue
		}
		b := rs[p+1]
		w := float64(t.Sub(a.t)) / float64(b.t.Sub(a.t))
		g.v[n] = a.q + w*(b.q-a.q)
		g.sus[n] = a.flag == sensing.FlagSuspect || b.flag == sensing.FlagSuspect
	}
	return g, last, true
}

// sortSearchAfter returns the index of the first reading after t.
func sortSearchAfter(rs []reading, t time.Time) int {
	lo, hi := 0, len(rs)
	for lo < hi {
		m := (lo + hi) / 2
		if rs[m].t.After(t) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func gridFloor(d, step time.Duration) int {
	k := d / step
	if d%step != 0 && d < 0 {
		k--
	}
	return int(k)
}

func gridCeil(d, step time.Duration) int {
	k := d / step
	if d%step != 0 && d > 0 {
		k++
	}
	return int(k)
}

// Update computes, as issued at `issued`, the forecast of every station downstream of `changed`
// (all stations with an upstream reach when changed is empty), using only readings with time ≤ issued
// (nothing from the future leaks in), out to the horizon the network allows (at a confluence: as far
// as every branch is known). Stations with no forecast (no upstream data) are left out.
//
// A changed station that has an upstream reach is forecast too (its correction changed);
// unknown stations in changed are ignored. The result is in the network's topological order.
func (f *Forecaster) Update(issued time.Time, changed ...string) []StationForecast {
	if issued.After(f.newest) {
		f.newest = issued
		f.prune()
	}
	n := len(f.ids)
	target := make([]bool, n)
	if len(changed) == 0 {
		for i := range target {
			target[i] = len(f.net.up[i]) > 0
		}
	} else {
		for _, id := range changed {
			i, ok := f.idx[id]
			if !ok {
				continue
			}
			for s := i; s >= 0; {
				target[s] = len(f.net.up[s]) > 0
				r := f.net.down[s]
				if r < 0 {
					break
				}
				s = f.idx[f.net.reaches[r].To]
			}
		}
	}
	need := make([]bool, n)
	for i := range target {
		if target[i] {
			need[i] = true
			for s, in := range f.net.upstreamSet(i) {
				if in {
					need[s] = true
				}
			}
		}
	}
	step := f.m.Step
	warm := int(f.m.warmup() / step)
	kmin := -int(f.window / step)
	best := make([]*gseries, n)
	var out []StationForecast
	for _, s := range f.net.order {
		if !need[s] {
			continue
		}
		obs, last, hasLast := f.observed(s, issued, step, kmin)
		if len(f.net.up[s]) == 0 {
			best[s] = obs
			continue
		}
		sim := f.simulate(s, obs, best, warm)
		if !sim.ok() {
			best[s] = obs
			continue
		}
		if hasLast && issued.Sub(last.t) <= f.m.maxGap() {
			f.correct(sim, last, issued, step)
		}
		best[s] = merge(obs, sim)
		if !target[s] {
			continue
		}
		fc := StationForecast{Station: f.ids[s], Issued: issued}
		for k := max(1, sim.k0); k <= sim.end(); k++ {
			x := k - sim.k0
			v, sd := sim.v[x], sim.sd[x]
			if g := f.m.BandGrowth; g > 0 {
				e := g * float64(k) * step.Hours()
				sd = math.Sqrt(sd*sd + e*e)
			}
			p := ForecastPoint{Time: issued.Add(time.Duration(k) * step), Value: v,
				Lower: max(0, v-z90*sd), Upper: v + z90*sd}
			if sim.sus[x] {
				p.Flag = sensing.FlagSuspect
			}
			fc.Points = append(fc.Points, p)
		}
		if len(fc.Points) > 0 {
			out = append(out, fc)
		}
	}
	return out
}

// simulate routes every reach into station s from the best series of their upstream
// stations and sums them; nil when a branch has no usable inflow or the routing fails.
func (f *Forecaster) simulate(s int, obs *gseries, best []*gseries, warm int) *gseries {
	ups := f.net.up[s]
	type branch struct {
		rm  ReachModel
		in  *gseries
		lag int
	}
	bs := make([]branch, 0, len(ups))
	ks := -warm
	end, longest := math.MaxInt, math.MinInt
	for _, r := range ups {
		in := best[f.from[r]]
		if !in.ok() {
			return nil
		}
		rm := f.reaches[r]
		lag := int(rm.Lag / f.m.Step)
		bs = append(bs, branch{rm, in, lag})
		ks = max(ks, in.k0+lag)
		end = min(end, in.end()+lag)
		longest = max(longest, in.end()+lag)
	}
	if end < ks {
		return nil
	}
	if f.m.HoldBranches {
		end = longest
	}
	// starting outflow: the observed flow at ks shared in proportion to the routed inflow
	share := make([]float64, len(bs))
	var tot float64
	for b, br := range bs {
		share[b] = br.rm.Gain * br.in.v[ks-br.lag-br.in.k0]
		tot += share[b]
	}
	if obs.has(ks) && tot > 0 {
		q := obs.v[ks-obs.k0]
		for b := range share {
			share[b] = q * share[b] / tot
		}
	}
	L := end - ks + 1
	sim := &gseries{k0: ks, v: make([]float64, L), sus: make([]bool, L), sd: make([]float64, L)}
	inflow := make([]float64, L)
	routed := make([]float64, L)
	for b, br := range bs {
		// the branch is known up to x = known; past it (HoldBranches) it is held
		known := min(L-1, br.in.end()+br.lag-ks)
		for x := range inflow[:known+1] {
			k := ks + x - br.lag - br.in.k0
			inflow[x] = br.in.v[k]
			if br.in.sus[k] || (x > 0 && br.in.sus[k-1]) {
				sim.sus[x] = true
			}
		}
		if err := route(routed[:known+1], inflow[:known+1], share[b]/br.rm.Gain, f.m.Step.Hours(), br.rm.Muskingum, br.rm.Scheme); err != nil {
			return nil
		}
		for x := range routed {
			xk := min(x, known)
			q := max(0, routed[xk]*br.rm.Gain)
			sim.v[x] += q
			e := br.rm.RMSE
			if br.rm.N == 0 && e == 0 {
				e = PriorRelErr * q
			}
			sdIn := br.rm.Gain * br.in.sd[ks+xk-br.lag-br.in.k0]
			sim.sd[x] += e*e + sdIn*sdIn // variance for now
			if x > known {
				sim.sus[x] = true
			}
		}
	}
	for x := range sim.sd {
		sim.sd[x] = math.Sqrt(sim.sd[x])
	}
	return sim
}

// correct applies the correction for the error at the latest reading to sim (in place) for
// the grid times after it.
func (f *Forecaster) correct(sim *gseries, last reading, issued time.Time, step time.Duration) {
	if f.m.Correction == CorrectNone {
		return
	}
	// simulated value at the reading's time, interpolated between grid points
	pos := float64(last.t.Sub(issued)) / float64(step)
	k := int(math.Floor(pos))
	if k < sim.k0 || k > sim.end() {
		return
	}
	x := k - sim.k0
	simv := sim.v[x]
	if w := pos - float64(k); w > 0 {
		if k+1 > sim.end() {
			return
		}
		simv += w * (sim.v[x+1] - simv)
	}
	tau := f.m.correctionDecay().Hours()
	e := last.q - simv
	r := 1.0
	if simv > 0 {
		r = last.q / simv
	}
	for x := range sim.v {
		dt := issued.Add(time.Duration(sim.k0+x) * step).Sub(last.t).Hours()
		if dt <= 0 {
			continue
		}
		d := math.Exp(-dt / tau)
		switch f.m.Correction {
		case CorrectAdditive:
			sim.v[x] = max(0, sim.v[x]+e*d)
		case CorrectRatio:
			sim.v[x] *= 1 + (r-1)*d
		}
	}
}

// merge is the best series of a station: observed where it has readings, then its forecast.
func merge(obs, sim *gseries) *gseries {
	if !obs.ok() {
		return sim
	}
	if !sim.ok() || sim.end() <= obs.end() || sim.k0 > obs.end()+1 {
		return obs
	}
	from := obs.end() + 1 - sim.k0
	return &gseries{k0: obs.k0,
		v:   append(slices.Clip(obs.v), sim.v[from:]...),
		sus: append(slices.Clip(obs.sus), sim.sus[from:]...),
		sd:  append(slices.Clip(obs.sd), sim.sd[from:]...)}
}
