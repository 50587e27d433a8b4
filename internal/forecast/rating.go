package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"

	"github.com/rabta/rabta/internal/sensing"
)

// Rating curves.
//
// A rating curve turns a gauge's water level (stage h) into discharge Q with the power law
//
//	Q = a (h − h0)^b,   h > h0
//
// where h0 is the stage of zero flow, a > 0 and b > 0 (typically 1.5–2.5 for a natural
// channel control). Units are the caller's: Q comes out in the unit of the fitted discharges
// (m³/s or cusecs) and h in the unit of the fitted stages (m or ft); a's unit follows.
//
// FitRating fits a, b and h0 to paired observations by least squares on Q: a seed from the
// log-linear regression log Q = log a + b log(h − h0) over a grid of h0 below the lowest
// stage, refined by gonum's Nelder–Mead simplex over (log a, b, log(hmin − h0)), which keeps
// a > 0 and h0 < hmin. The curve is valid over the fitted stage range [MinStage, MaxStage];
// Discharge and Stage extrapolate up to Margin beyond it (flagging the result) and refuse
// anything further.

// RatingCurve is a fitted stage–discharge relation for one station.
type RatingCurve struct {
	// Q = A (h − H0)^B.
	A  float64 `json:"a"`
	B  float64 `json:"b"`
	H0 float64 `json:"h0"`

	// MinStage and MaxStage are the lowest and highest fitted stages: the validity range.
	MinStage float64 `json:"min_stage"`
	MaxStage float64 `json:"max_stage"`
	// Margin is how far beyond the validity range, in stage units, Discharge and Stage still
	// answer (flagged as extrapolated); further out they refuse with ErrOutOfRange.
	Margin float64 `json:"margin"`

	// Fit statistics over the fitted points, in discharge units: root-mean-square error,
	// coefficient of determination (1 − SSE/SST) and the number of points.
	RMSE float64 `json:"rmse"`
	R2   float64 `json:"r2"`
	N    int     `json:"n"`
}

// RatingOptions tune FitRating. The zero value is the default.
type RatingOptions struct {
	// Margin is the extrapolation margin as a fraction of the fitted stage range
	// (MaxStage − MinStage). 0 means the default, 0.1 (10 %); negative means none.
	Margin float64
	// H0, when set, fixes the zero-flow stage (known from a survey of the control) and only
	// a and b are fitted; every stage must then lie above it.
	H0 *float64
}

// DefaultRatingMargin is the extrapolation margin used when RatingOptions.Margin is 0, as a
// fraction of the fitted stage range.
const DefaultRatingMargin = 0.1

// MinRatingPoints is the fewest (h, Q) pairs FitRating accepts: three parameters and at least
// one degree of freedom left for the error.
const MinRatingPoints = 4

// Errors of rating curves.
var (
	ErrRatingInput = errors.New("rating curve: bad input")
	ErrOutOfRange  = errors.New("rating curve: outside the valid range")
)

// FitRating fits Q = a (h − h0)^b to paired stages h and discharges q (same length, same
// order). Errors wrap ErrRatingInput: lengths differ, fewer than MinRatingPoints pairs, a
// value not finite, a discharge ≤ 0, fewer than three distinct stages (all the same stage
// cannot fix three parameters; two with a given H0), a stage at or below a given H0, or a
// fit that does not give a rising curve (b ≤ 0).
func FitRating(h, q []float64, opt RatingOptions) (RatingCurve, error) {
	switch {
	case len(h) != len(q):
		return RatingCurve{}, fmt.Errorf("%w: %d stages but %d discharges", ErrRatingInput, len(h), len(q))
	case len(h) < MinRatingPoints:
		return RatingCurve{}, fmt.Errorf("%w: %d points, want at least %d", ErrRatingInput, len(h), MinRatingPoints)
	}
	for i := range h {
		switch {
		case !finite(h[i]):
			return RatingCurve{}, fmt.Errorf("%w: stage %d is %v", ErrRatingInput, i, h[i])
		case !finite(q[i]) || q[i] <= 0:
			return RatingCurve{}, fmt.Errorf("%w: discharge %d is %v, want a finite value > 0", ErrRatingInput, i, q[i])
		}
	}
	hmin, hmax := slices.Min(h), slices.Max(h)
	want := 3
	if opt.H0 != nil {
		want = 2
		if !finite(*opt.H0) {
			return RatingCurve{}, fmt.Errorf("%w: h0 is %v", ErrRatingInput, *opt.H0)
		}
		for i := range h {
			if h[i] <= *opt.H0 {
				return RatingCurve{}, fmt.Errorf("%w: stage %d is %v, at or below h0 = %v (no flow there)", ErrRatingInput, i, h[i], *opt.H0)
			}
		}
	}
	if distinct(h) < want {
		return RatingCurve{}, fmt.Errorf("%w: %d distinct stages (%v to %v), want at least %d", ErrRatingInput, distinct(h), hmin, hmax, want)
	}
	span := hmax - hmin

	// Sum of squared errors, scaled by the discharges' variance so the simplex's tolerances
	// do not depend on units.
	sst := stat.Variance(q, nil) * float64(len(q)-1)
	if sst == 0 {
		sst = 1
	}
	sse := func(la, b, h0 float64) float64 {
		var s float64
		for i := range h {
			d := math.Exp(la)*math.Pow(h[i]-h0, b) - q[i]
			s += d * d
		}
		return s
	}

	// Seed: for each h0 on a log-spaced grid below hmin (or the given h0 alone), regress
	// log Q on log(h − h0).
	x := make([]float64, len(h))
	y := make([]float64, len(q))
	for i := range q {
		y[i] = math.Log(q[i])
	}
	best := [3]float64{}
	bestSSE := math.Inf(1)
	for k := 0; k <= 60; k++ {
		d := span * math.Pow(10, -4+5*float64(k)/60) // 1e-4 … 10 stage ranges below hmin
		if opt.H0 != nil {
			if k > 0 {
				break
			}
			d = hmin - *opt.H0
		}
		h0 := hmin - d
		for i := range h {
			x[i] = math.Log(h[i] - h0)
		}
		la, b := stat.LinearRegression(x, y, nil, false)
		if !finite(la) || !finite(b) || b <= 0 {
			continue
		}
		if s := sse(la, b, h0); s < bestSSE {
			best, bestSSE = [3]float64{la, b, math.Log(d)}, s
		}
	}
	if math.IsInf(bestSSE, 1) {
		return RatingCurve{}, fmt.Errorf("%w: discharge does not rise with stage", ErrRatingInput)
	}

	// Refine in Q space with Nelder–Mead: over (log a, b, log(hmin − h0)), or (log a, b) when
	// h0 is given.
	params := func(v []float64) (la, b, h0 float64) {
		if opt.H0 != nil {
			return v[0], v[1], *opt.H0
		}
		return v[0], v[1], hmin - math.Exp(v[2])
	}
	start := best[:]
	if opt.H0 != nil {
		start = best[:2]
	}
	p := optimize.Problem{Func: func(v []float64) float64 {
		la, b, h0 := params(v)
		if b <= 0 || b > 20 || math.Abs(la) > 700 || hmin-h0 > math.Exp(30) {
			return math.Inf(1)
		}
		s := sse(la, b, h0) / sst
		if !finite(s) {
			return math.Inf(1)
		}
		return s
	}}
	res, err := optimize.Minimize(p, slices.Clone(start), &optimize.Settings{MajorIterations: 5000, FuncEvaluations: 20000}, &optimize.NelderMead{})
	v := start
	if err == nil && res != nil && res.F <= bestSSE/sst {
		v = res.X
	}
	la, b, h0 := params(v)
	c := RatingCurve{A: math.Exp(la), B: b, H0: h0, MinStage: hmin, MaxStage: hmax, N: len(h)}
	if !finite(c.A) || c.B <= 0 {
		return RatingCurve{}, fmt.Errorf("%w: fit gave a = %v, b = %v", ErrRatingInput, c.A, c.B)
	}
	s := sse(la, b, h0)
	c.RMSE = math.Sqrt(s / float64(len(h)))
	c.R2 = 1 - s/sst
	m := opt.Margin
	if m == 0 {
		m = DefaultRatingMargin
	}
	c.Margin = max(0, m) * span
	return c, nil
}

func distinct(v []float64) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return len(slices.Compact(s))
}

// Discharge returns Q for stage h. extrapolated is true when h is outside [MinStage,
// MaxStage] but within Margin of it. Errors: ErrOutOfRange when h is further out, or at or
// below H0 (no flow: the power law is undefined), or not finite.
func (c RatingCurve) Discharge(h float64) (q float64, extrapolated bool, err error) {
	switch {
	case !finite(h):
		return 0, false, fmt.Errorf("%w: stage %v", ErrOutOfRange, h)
	case h <= c.H0:
		return 0, false, fmt.Errorf("%w: stage %v at or below the zero-flow stage h0 = %.4g", ErrOutOfRange, h, c.H0)
	case h < c.MinStage-c.Margin || h > c.MaxStage+c.Margin:
		return 0, false, fmt.Errorf("%w: stage %v beyond the fitted range %.4g…%.4g and its margin %.3g", ErrOutOfRange, h, c.MinStage, c.MaxStage, c.Margin)
	}
	return c.A * math.Pow(h-c.H0, c.B), h < c.MinStage || h > c.MaxStage, nil
}

// Stage returns the stage h giving discharge q (the inverse, h = h0 + (q/a)^(1/b)), with the
// same validity rules as Discharge applied to the resulting stage. Errors: ErrOutOfRange
// when q ≤ 0, not finite, or maps to a stage beyond the margin.
func (c RatingCurve) Stage(q float64) (h float64, extrapolated bool, err error) {
	if !finite(q) || q <= 0 {
		return 0, false, fmt.Errorf("%w: discharge %v, want > 0", ErrOutOfRange, q)
	}
	h = c.H0 + math.Pow(q/c.A, 1/c.B)
	if h < c.MinStage-c.Margin || h > c.MaxStage+c.Margin {
		return 0, false, fmt.Errorf("%w: discharge %v maps to stage %.4g, beyond the fitted range %.4g…%.4g and its margin %.3g", ErrOutOfRange, q, h, c.MinStage, c.MaxStage, c.Margin)
	}
	// Rounding in the inverse can put the image of MinStage or MaxStage a hair outside.
	tol := 1e-9 * (1 + math.Abs(h))
	return h, h < c.MinStage-tol || h > c.MaxStage+tol, nil
}

// RatingPoint is one value of a series: a water level or a discharge at a time, with the
// observation's QC flag.
type RatingPoint struct {
	Time  time.Time
	Value float64
	QC    sensing.Flag
	// Extrapolated is set on a discharge computed from a stage outside the fitted range
	// (within the margin).
	Extrapolated bool
}

// RatingRefusal says why one point of a series was not converted.
type RatingRefusal struct {
	Index int // position in the input series
	Time  time.Time
	Err   error // wraps ErrOutOfRange
}

// DischargeSeries maps a water-level series to discharge point by point: each output point
// keeps its input's time and QC flag (a suspect or bad stage gives a suspect or bad
// discharge) and says whether it was extrapolated. Points the curve refuses (beyond the
// margin, at or below h0) are left out of out and listed in refused, in input order.
func (c RatingCurve) DischargeSeries(stages []RatingPoint) (out []RatingPoint, refused []RatingRefusal) {
	out = make([]RatingPoint, 0, len(stages))
	for i, p := range stages {
		q, ex, err := c.Discharge(p.Value)
		if err != nil {
			refused = append(refused, RatingRefusal{Index: i, Time: p.Time, Err: err})
			continue
		}
		out = append(out, RatingPoint{Time: p.Time, Value: q, QC: p.QC, Extrapolated: ex})
	}
	return out, refused
}
