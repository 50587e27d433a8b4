package forecast

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// CalibrateOptions tunes Calibrate. The zero value calibrates with SchemeClassic and no lag.
type CalibrateOptions struct {
	// Scheme is the routing step the parameters are fitted for (and must be routed with).
	Scheme Scheme
	// MaxLag is the longest pure travel time searched, in whole steps: the inflow is shifted
	// by 0, 1, …, MaxLag steps before routing and the lag with the smallest SSE wins
	// (ties go to the shorter lag). Negative is an error; it must leave at least 3 samples.
	MaxLag int
}

// Calibration is the result of Calibrate: the fitted parameters of one reach and how well they
// reproduce the observed outflow.
type Calibration struct {
	Muskingum
	Scheme Scheme
	// Step is the sampling interval of the series, in hours.
	Step float64
	// Lag is the pure travel time in whole steps (LagHours = Lag × Step): the reach is routed
	// as I′(t) = I(t − Lag) (I(t₀) before the series starts) through the Muskingum storage.
	Lag int
	// SSE is Σ (O_routed − O_observed)² over all N samples, in flow units squared.
	SSE float64
	// N is the number of samples compared.
	N int
}

// LagHours is the travel time in hours.
func (c Calibration) LagHours() float64 { return float64(c.Lag) * c.Step }

// Routed routes inflow (sampled every c.Step hours) through the calibrated reach, lag
// included, starting from outflow o0. It is what Calibrate scored.
func (c Calibration) Routed(inflow []float64, o0 float64) ([]float64, error) {
	return Route(lagged(inflow, c.Lag), o0, c.Step, c.Muskingum, c.Scheme)
}

// lagged returns in shifted later by lag samples, held at in[0] before it starts.
func lagged(in []float64, lag int) []float64 {
	if lag == 0 {
		return in
	}
	out := make([]float64, len(in))
	for t := range out {
		out[t] = in[max(t-lag, 0)]
	}
	return out
}

// Calibrate fits K, x and m of the nonlinear Muskingum model (and, with opts.MaxLag > 0, a
// pure travel time) to one upstream/downstream pair of hydrographs sampled every step hours,
// by minimising the sum of squared errors between the routed and the observed outflow. The
// routing starts from the observed first outflow.
//
// The search is gonum's Nelder–Mead simplex (optimize.NelderMead), in transformed
// coordinates that keep the bounds: K = e^a (K > 0), x = 0.5 / (1 + e^−b) (0 < x < 0.5),
// m = e^c (m > 0). At lag 0 it runs from eight starting points spread over the parameter
// space (see spread); each further lag starts from the previous lag's optimum (a continuation:
// the optimum moves smoothly with the lag). Each lag's best point is restarted until it stops
// improving, which guards against the simplex collapsing early. Parameters for which the
// explicit routing goes unstable score as a huge SSE. The series are not modified.
//
// Errors: series of different lengths or shorter than 3 samples after the lag, non-finite or
// negative flows, a step that is not a positive number of hours, a negative MaxLag, or no
// parameters that route stably.
func Calibrate(inflow, outflow []float64, step float64, opts CalibrateOptions) (Calibration, error) {
	n := len(inflow)
	if len(outflow) != n {
		return Calibration{}, fmt.Errorf("calibrate: %d inflow values but %d outflow values", n, len(outflow))
	}
	if opts.MaxLag < 0 {
		return Calibration{}, fmt.Errorf("calibrate: negative maximum lag %d", opts.MaxLag)
	}
	if n-opts.MaxLag < 3 {
		return Calibration{}, fmt.Errorf("calibrate: %d samples are too few (at least %d with a maximum lag of %d steps)", n, opts.MaxLag+3, opts.MaxLag)
	}
	if !(step > 0) || math.IsInf(step, 0) {
		return Calibration{}, fmt.Errorf("calibrate: step must be a positive number of hours, got %v", step)
	}
	var mean float64
	for i := range n {
		for _, v := range []float64{inflow[i], outflow[i]} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return Calibration{}, fmt.Errorf("calibrate: sample %d: flows must be finite and not negative, got inflow %v, outflow %v", i, inflow[i], outflow[i])
			}
		}
		mean += inflow[i] / float64(n)
	}
	if !(mean > 0) {
		return Calibration{}, errors.New("calibrate: the inflow is zero throughout")
	}
	best := Calibration{SSE: math.Inf(1)}
	var prev []float64 // the optimum at the previous lag: the next lag starts from it
	for lag := 0; lag <= opts.MaxLag; lag++ {
		var starts [][]float64
		if prev == nil {
			starts = spread(step, mean)
		} else {
			starts = [][]float64{prev}
		}
		c, u, err := calibrateLag(lagged(inflow, lag), outflow, step, opts.Scheme, starts)
		if err != nil {
			return Calibration{}, err
		}
		c.Lag, prev = lag, u
		if c.SSE < best.SSE {
			best = c
		}
	}
	if math.IsInf(best.SSE, 0) || best.SSE >= penalty {
		return Calibration{}, errors.New("calibrate: no parameters route this hydrograph stably")
	}
	return best, nil
}

// penalty is the SSE given to parameters the routing cannot follow.
const penalty = 1e300

func decode(u []float64) Muskingum {
	return Muskingum{K: math.Exp(u[0]), X: 0.5 / (1 + math.Exp(-u[1])), M: math.Exp(u[2])}
}

func encode(p Muskingum) []float64 {
	return []float64{math.Log(p.K), -math.Log(0.5/p.X - 1), math.Log(p.M)}
}

// spread is the set of starting points (transformed): linear storage constants of 1 and 3
// steps, x of 0.1 and 0.3, m of 1 and 2, with K = K_lin · mean^(1−m) so that each start stores
// as much at the mean inflow as its linear counterpart.
func spread(step, mean float64) [][]float64 {
	var u [][]float64
	for _, m := range []float64{1, 2} {
		for _, x := range []float64{0.1, 0.3} {
			for _, kl := range []float64{1, 3} {
				u = append(u, encode(Muskingum{K: kl * step * math.Pow(mean, 1-m), X: x, M: m}))
			}
		}
	}
	return u
}

// calibrateLag fits the parameters for one (already lagged) inflow from the given starting
// points; it returns the fit and its transformed parameters.
func calibrateLag(in, obs []float64, step float64, s Scheme, starts [][]float64) (Calibration, []float64, error) {
	settings := &optimize.Settings{
		FuncEvaluations: 3000,
		// stop when 20 iterations gain less than a part in 10⁹ of the SSE
		Converger: &optimize.FunctionConverge{Relative: 1e-9, Iterations: 20},
	}
	return fitMuskingum(in, obs, step, s, starts, decode, settings, 5)
}

// fitMuskingum minimises the SSE of routing in against obs over the transformed parameters u
// (dec maps them to a Muskingum; invalid or failing parameters score penalty) by Nelder–Mead
// from each start, then restarts from the best point up to restarts times while that still
// improves it. It returns the fit and its transformed parameters.
func fitMuskingum(in, obs []float64, step float64, s Scheme, starts [][]float64, dec func([]float64) Muskingum, settings *optimize.Settings, restarts int) (Calibration, []float64, error) {
	buf := make([]float64, len(in))
	f := func(u []float64) float64 {
		p := dec(u)
		if p.Valid() != nil {
			return penalty
		}
		if err := route(buf, in, obs[0], step, p, s); err != nil {
			return penalty
		}
		v := SSE(buf, obs)
		if math.IsNaN(v) || v > penalty {
			return penalty
		}
		return v
	}
	problem := optimize.Problem{Func: f}
	run := func(u0 []float64) (*optimize.Result, error) {
		r, err := optimize.Minimize(problem, u0, settings, &optimize.NelderMead{})
		if r == nil {
			return nil, fmt.Errorf("calibrate: %w", err)
		}
		return r, nil // a run that stops at its evaluation budget still has a usable best point
	}
	var best *optimize.Result
	for _, u0 := range starts {
		r, err := run(u0)
		if err != nil {
			return Calibration{}, nil, err
		}
		if best == nil || r.F < best.F {
			best = r
		}
	}
	for range restarts {
		r, err := run(best.X)
		if err != nil {
			return Calibration{}, nil, err
		}
		if r.F >= best.F*(1-1e-9) {
			break
		}
		best = r
	}
	return Calibration{Muskingum: dec(best.X), Scheme: s, Step: step, SSE: best.F, N: len(in)}, best.X, nil
}
