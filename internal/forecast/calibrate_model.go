package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/optimize"
)

// Calibrating a network.
//
// CalibrateModel fits every reach of a network to readings at its stations:
//
//   - Each station's readings are resampled onto the model's step (Resample), interpolating
//     across gaps up to CalibrateModelOptions.MaxGap.
//   - A station with upstream reaches is calibrated on the longest window in which it and every
//     station upstream of it by one reach have values.
//   - One reach (no confluence): the gain g is first the volume ratio Σ O / Σ I; the Muskingum
//     parameters and the lag are fitted to route I onto O/g (so that g·Route(I) ≈ O, as the
//     Forecaster routes); g is then re-estimated as the least-squares scale of the routed flow,
//     g = Σ O·R / Σ R², and the fit repeated once with it.
//   - A confluence: backfitting. Each branch starts as its inflow scaled by the common volume
//     ratio; then, round after round, each branch is fitted (as above) to the downstream flow
//     minus the other branches' current routed flows (clamped at 0). The downstream residual
//     of the sum gives the RMSE, shared equally in variance among the branches (each gets
//     RMSE/√branches, so the band at the station, their quadrature sum, is the residual's).
//   - The lag is searched on a coarse grid (every LagStride steps, 0 … the maximum lag), each
//     lag continuing from the previous one's optimum, then refined step by step around the
//     best; the maximum is LagFactor × the reach's published travel time, or, where none is
//     published, its length at MinCelerity, capped at MaxLagCap.
//   - A reach whose downstream station or any of whose sibling branches has no readings,
//     whose window is shorter than MinSamples, or whose fit has a Nash–Sutcliffe efficiency
//     below MinNSE (at a confluence: the sum's), keeps its prior (PriorReach: the published
//     travel time as lag, or the length at PriorCelerity; N = 0); its report says why.

// CalibrateModelOptions tunes CalibrateModel; zero fields take the defaults named.
type CalibrateModelOptions struct {
	Scheme      Scheme        // routing step of the fitted parameters (the zero value: SchemeClassic)
	MaxGap      time.Duration // longest gap interpolated across (default 7 days)
	MinSamples  int           // fewest samples in a reach's window to calibrate it (default 72)
	LagFactor   float64       // lag searched up to LagFactor × published travel time (default 1.5)
	MinCelerity float64       // km/h, bounds the lag of a reach without a travel time (default 1.5)
	MaxLagCap   time.Duration // the longest lag searched at all (default 240 h)
	LagStride   int           // coarse lag grid, steps (default 3)
	Rounds      int           // backfitting rounds at a confluence (default 3)
	// Nonlinear fits m too (Calibrate's search); by default m = 1 (the linear model) and only
	// K (bounded to [step, MaxK]) and x (0 … 0.5) are fitted: on sparse, regulated data the
	// free exponent runs off to degenerate values (m → 0 or m ≫ 1 with K of 10⁻⁶⁰ or 10¹⁵).
	Nonlinear bool
	MaxK      time.Duration // the largest K of the linear fit (default 96 h)
	// MinLagFactor bounds the lag from below for a reach with a published travel time:
	// searched from MinLagFactor × travel time (default 0.5).
	MinLagFactor float64
	// MinNSE: a fit whose Nash–Sutcliffe efficiency is below it (default 0: worse than the
	// window's mean flow) is not used; the reach keeps its prior.
	MinNSE *float64

	celerity float64 // PriorCelerity of the network
}

func (o CalibrateModelOptions) withDefaults() CalibrateModelOptions {
	if o.MaxGap <= 0 {
		o.MaxGap = 7 * 24 * time.Hour
	}
	if o.MinSamples <= 0 {
		o.MinSamples = 72
	}
	if o.LagFactor <= 0 {
		o.LagFactor = 1.5
	}
	if o.MinCelerity <= 0 {
		o.MinCelerity = 1.5
	}
	if o.MaxLagCap <= 0 {
		o.MaxLagCap = 240 * time.Hour
	}
	if o.LagStride <= 0 {
		o.LagStride = 3
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	if o.MaxK <= 0 {
		o.MaxK = 96 * time.Hour
	}
	if o.MinLagFactor <= 0 {
		o.MinLagFactor = 0.5
	}
	return o
}

// ReachReport says how one reach was calibrated.
type ReachReport struct {
	From, To   string
	Calibrated bool
	Reason     string // why not, when not calibrated
	// Start and End bound the calibration window; Samples is its length in steps.
	Start, End time.Time
	Samples    int
	PriorLag   time.Duration // the published travel time (0: none)
	MaxLag     time.Duration // the longest lag searched
	Model      ReachModel
	// NSE is the Nash–Sutcliffe efficiency of the routed flow (all branches summed at a
	// confluence) against the observed downstream flow over the window: 1 − SSE/SST.
	NSE float64
}

// CalibrateModel calibrates every reach of n from the readings in series (station id →
// readings, in the flow unit of the model) at the given step; see above. Stations without an
// entry have no readings. Errors: a step outside 1 minute … 24 hours, a reading that is
// negative or not finite (and not flagged bad), a station in series that is not in n.
func CalibrateModel(n *Network, series map[string][]Reading, step time.Duration, opts CalibrateModelOptions) (Model, []ReachReport, error) {
	o := opts.withDefaults()
	o.celerity = PriorCelerity(n)
	m := Model{Network: n, Step: step}
	if err := m.Validate(); err != nil {
		return Model{}, nil, err
	}
	segs := map[string][]Segment{}
	for id, rs := range series {
		if _, ok := n.Station(id); !ok {
			return Model{}, nil, fmt.Errorf("calibrate model: station %q: %w", id, ErrUnknownStation)
		}
		s, err := Resample(rs, step, o.MaxGap)
		if err != nil {
			return Model{}, nil, fmt.Errorf("calibrate model: station %q: %w", id, err)
		}
		segs[id] = s
	}
	var reports []ReachReport
	for _, id := range n.Order() {
		var ups []Reach
		for _, r := range n.Reaches() {
			if r.To == id {
				ups = append(ups, r)
			}
		}
		if len(ups) == 0 {
			continue
		}
		rms, reps := calibrateStation(id, ups, segs, step, o)
		m.Reaches = append(m.Reaches, rms...)
		reports = append(reports, reps...)
	}
	if err := m.Validate(); err != nil {
		return Model{}, nil, fmt.Errorf("calibrate model: %w", err)
	}
	return m, reports, nil
}

func (o CalibrateModelOptions) minLag(r Reach, step time.Duration) int {
	if r.TravelTime <= 0 {
		return 0
	}
	return int(time.Duration(o.MinLagFactor*float64(r.TravelTime)) / step)
}

func (o CalibrateModelOptions) maxLag(r Reach, step time.Duration) int {
	var d time.Duration
	switch {
	case r.TravelTime > 0:
		d = time.Duration(o.LagFactor * float64(r.TravelTime))
	case r.LengthKM > 0:
		d = time.Duration(r.LengthKM / o.MinCelerity * float64(time.Hour))
	default:
		d = o.MaxLagCap
	}
	return int(min(d, o.MaxLagCap) / step)
}

// calibrateStation calibrates the reaches ups that end at station id.
func calibrateStation(id string, ups []Reach, segs map[string][]Segment, step time.Duration, o CalibrateModelOptions) ([]ReachModel, []ReachReport) {
	prior := func(reason string) ([]ReachModel, []ReachReport) {
		var rms []ReachModel
		var reps []ReachReport
		for _, r := range ups {
			pm := PriorReach(r, step, o.celerity)
			pm.Scheme = o.Scheme
			rms = append(rms, pm)
			reps = append(reps, ReachReport{From: r.From, To: r.To, Reason: reason, PriorLag: r.TravelTime,
				MaxLag: time.Duration(o.maxLag(r, step)) * step, Model: pm})
		}
		return rms, reps
	}
	if len(segs[id]) == 0 {
		return prior(fmt.Sprintf("no readings at %s", id))
	}
	names := []string{id}
	for _, r := range ups {
		if len(segs[r.From]) == 0 {
			return prior(fmt.Sprintf("no readings at %s", r.From))
		}
		names = append(names, r.From)
	}
	start, vals := commonWindow(names, segs, step)
	if len(vals) == 0 || len(vals[0]) < o.MinSamples {
		got := 0
		if len(vals) > 0 {
			got = len(vals[0])
		}
		return prior(fmt.Sprintf("%d common samples, fewer than %d", got, o.MinSamples))
	}
	out := vals[0]
	ins := vals[1:]
	nb := len(ups)
	// current contribution of each branch at the station
	contrib := make([][]float64, nb)
	var sumIn, sumOut float64
	for _, v := range out {
		sumOut += v
	}
	for _, in := range ins {
		for _, v := range in {
			sumIn += v
		}
	}
	g0 := 1.0
	if sumIn > 0 && sumOut > 0 {
		g0 = sumOut / sumIn
	}
	for b, in := range ins {
		contrib[b] = make([]float64, len(in))
		for t, v := range in {
			contrib[b][t] = g0 * v
		}
	}
	fits := make([]ReachModel, nb)
	done := make([]bool, nb)
	rounds := o.Rounds
	if nb == 1 {
		rounds = 1
	}
	target := make([]float64, len(out))
	for range rounds {
		for b, r := range ups {
			for t := range out {
				v := out[t]
				for o2 := range nb {
					if o2 != b {
						v -= contrib[o2][t]
					}
				}
				target[t] = max(v, 0)
			}
			rm, routed, err := fitReach(r, ins[b], target, step, o)
			if err != nil {
				continue
			}
			fits[b], done[b], contrib[b] = rm, true, routed
		}
	}
	for b := range done {
		if !done[b] {
			return prior("no parameters route this reach stably")
		}
	}
	// residual of the sum
	var sse, mean, sst float64
	for _, v := range out {
		mean += v / float64(len(out))
	}
	for t, v := range out {
		var s float64
		for b := range nb {
			s += contrib[b][t]
		}
		sse += (s - v) * (s - v)
		sst += (v - mean) * (v - mean)
	}
	rmse := math.Sqrt(sse / float64(len(out)))
	nse := math.NaN()
	if sst > 0 {
		nse = 1 - sse/sst
	}
	minNSE := 0.0
	if o.MinNSE != nil {
		minNSE = *o.MinNSE
	}
	if !(nse >= minNSE) {
		rms, reps := prior(fmt.Sprintf("fit rejected: NSE %.2f below %.2f over %d samples", nse, minNSE, len(out)))
		return rms, reps
	}
	var reps []ReachReport
	for b, r := range ups {
		fits[b].RMSE = rmse / math.Sqrt(float64(nb))
		fits[b].N = len(out)
		reps = append(reps, ReachReport{From: r.From, To: r.To, Calibrated: true, Start: start,
			End: start.Add(time.Duration(len(out)-1) * step), Samples: len(out), PriorLag: r.TravelTime,
			MaxLag: time.Duration(o.maxLag(r, step)) * step, Model: fits[b], NSE: nse})
	}
	return fits, reps
}

// fitReach fits one reach: inflow in, target outflow out (same grid). It returns the model
// (RMSE and N not set) and its routed contribution g·Route(in).
func fitReach(r Reach, in, out []float64, step time.Duration, o CalibrateModelOptions) (ReachModel, []float64, error) {
	var si, so float64
	for t := range in {
		si += in[t]
		so += out[t]
	}
	if !(si > 0) || !(so > 0) {
		return ReachModel{}, nil, errors.New("no flow")
	}
	g := so / si
	maxLag := min(o.maxLag(r, step), len(in)-3)
	minLag := min(o.minLag(r, step), maxLag)
	h := step.Hours()
	var c Calibration
	var routed []float64
	scaled := make([]float64, len(out))
	for round := range 2 {
		for t := range out {
			scaled[t] = out[t] / g
		}
		var err error
		fit := func(in []float64, starts [][]float64) (Calibration, []float64, error) {
			if o.Nonlinear {
				return calibrateLag(in, scaled, h, o.Scheme, starts)
			}
			return calibrateLinear(in, scaled, h, o.MaxK.Hours(), o.Scheme, starts)
		}
		c, err = searchLag(in, minLag, maxLag, o.LagStride, fit, !o.Nonlinear, h)
		if err != nil {
			return ReachModel{}, nil, err
		}
		routed, err = c.Routed(in, scaled[0])
		if err != nil {
			return ReachModel{}, nil, err
		}
		if round == 1 {
			break
		}
		var num, den float64
		for t := range out {
			num += out[t] * routed[t]
			den += routed[t] * routed[t]
		}
		if den > 0 && num > 0 {
			g = num / den
		}
	}
	contrib := make([]float64, len(routed))
	for t, v := range routed {
		contrib[t] = g * v
	}
	rm := ReachModel{From: r.From, To: r.To, Muskingum: c.Muskingum, Scheme: o.Scheme,
		Lag: time.Duration(c.Lag) * step, Gain: g}
	return rm, contrib, nil
}

// searchLag is Calibrate with the lag searched on a coarse grid of stride steps, then refined
// step by step around the best coarse lag.
func searchLag(in []float64, minLag, maxLag, stride int, fit func([]float64, [][]float64) (Calibration, []float64, error), linear bool, step float64) (Calibration, error) {
	var mean float64
	for _, v := range in {
		mean += v / float64(len(in))
	}
	best := Calibration{SSE: math.Inf(1)}
	var bestU, prev []float64
	try := func(lag int, starts [][]float64) error {
		c, u, err := fit(lagged(in, lag), starts)
		if err != nil {
			return err
		}
		c.Lag = lag
		prev = u
		if c.SSE < best.SSE {
			best, bestU = c, u
		}
		return nil
	}
	for lag := minLag; lag <= maxLag; lag += stride {
		starts := [][]float64{prev}
		switch {
		case prev != nil:
		case linear:
			starts = linearStarts()
		default:
			starts = spread(step, mean)
		}
		if err := try(lag, starts); err != nil {
			return Calibration{}, err
		}
	}
	center := best.Lag
	for lag := max(minLag, center-stride+1); lag <= min(maxLag, center+stride-1); lag++ {
		if lag == center {
			continue
		}
		if err := try(lag, [][]float64{bestU}); err != nil {
			return Calibration{}, err
		}
	}
	if math.IsInf(best.SSE, 0) || best.SSE >= penalty {
		return Calibration{}, errors.New("calibrate: no parameters route this hydrograph stably")
	}
	return best, nil
}

// commonWindow returns the longest run of grid times at which every named station has a
// value, and the values there (in the order of names).
func commonWindow(names []string, segs map[string][]Segment, step time.Duration) (time.Time, [][]float64) {
	var lo, hi time.Time
	first := true
	for _, id := range names {
		for _, s := range segs[id] {
			if first || s.Start.Before(lo) {
				lo = s.Start
			}
			if first || s.End(step).After(hi) {
				hi = s.End(step)
			}
			first = false
		}
	}
	if first {
		return time.Time{}, nil
	}
	n := int(hi.Sub(lo)/step) + 1
	grid := make([][]float64, len(names))
	for i, id := range names {
		g := make([]float64, n)
		for k := range g {
			g[k] = math.NaN()
		}
		for _, s := range segs[id] {
			k0 := int(s.Start.Sub(lo) / step)
			copy(g[k0:], s.Values)
		}
		grid[i] = g
	}
	bestStart, bestLen, runStart := 0, 0, -1
	for k := 0; k <= n; k++ {
		ok := k < n
		for i := 0; ok && i < len(names); i++ {
			ok = !math.IsNaN(grid[i][k])
		}
		switch {
		case ok && runStart < 0:
			runStart = k
		case !ok && runStart >= 0:
			if k-runStart > bestLen {
				bestStart, bestLen = runStart, k-runStart
			}
			runStart = -1
		}
	}
	if bestLen == 0 {
		return time.Time{}, nil
	}
	out := make([][]float64, len(names))
	for i := range names {
		out[i] = grid[i][bestStart : bestStart+bestLen]
	}
	return lo.Add(time.Duration(bestStart) * step), out
}

// calibrateLinear fits K and x of the linear Muskingum model (m = 1) to one (already lagged)
// inflow, K bounded to [step, maxK] hours (K = step + (maxK − step)/(1 + e^−a)) and x to
// [0, 0.5] (x = 0.5/(1 + e^−b)), by Nelder–Mead from the given starts (transformed).
func calibrateLinear(in, obs []float64, step, maxK float64, s Scheme, starts [][]float64) (Calibration, []float64, error) {
	dec := func(u []float64) Muskingum {
		return Muskingum{K: step + (maxK-step)/(1+math.Exp(-u[0])), X: 0.5 / (1 + math.Exp(-u[1])), M: 1}
	}
	settings := &optimize.Settings{FuncEvaluations: 400, Converger: &optimize.FunctionConverge{Relative: 1e-7, Iterations: 10}}
	return fitMuskingum(in, obs, step, s, starts, dec, settings, 0)
}

// linearStarts are calibrateLinear's starting points: K near 2, 12 and 48 h (for the default
// bounds), x of 0.1 and 0.3.
func linearStarts() [][]float64 {
	var u [][]float64
	for _, a := range []float64{-3.7, -1.7, 0.1} {
		for _, b := range []float64{-1.4, 0.4} {
			u = append(u, []float64{a, b})
		}
	}
	return u
}
