package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/warning"
)

const networkUsage = "usage: rabta forecast network show [--data-dir DIR] | rabta forecast network load [--data-dir DIR] FILE"

// forecastNetwork shows the node's river network (the document GET /api/v1/forecast/network
// answers, as JSON) or stores one from a YAML or JSON file (as PUT does, for the node's own
// organisation: whoever runs the command line holds the node's data directory, so it acts for
// the node), making the forecast Datastreams; a running node takes it up within its tick
// (forecasting.Service.Refresh). Errors name the file's line and field.
func forecastNetwork(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "load") {
		return usagef("%s", networkUsage)
	}
	var c common
	fs := flag.NewFlagSet("forecast network "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := c.load(fs); err != nil {
		return err
	}
	pos := fs.Args()
	if (args[0] == "show") != (len(pos) == 0) || len(pos) > 1 {
		return usagef("%s", networkUsage)
	}
	var n *forecasting.Network
	var where forecasting.Positions
	if args[0] == "load" {
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if n, where, err = forecasting.Parse(b); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
	}
	open := c.openExisting // show reads a node's network: never makes a node
	if args[0] == "load" {
		open = c.openStores
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	svc := &forecasting.Service{Store: stores.Entities, Log: logger(c.cfg, stderr).With("component", "forecast")}
	if args[0] == "load" {
		name := ""
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		n.By = warning.CLIName(name)
		if err := svc.Save(ctx, n); err != nil {
			return fmt.Errorf("%s: %w", pos[0], where.Annotate(err))
		}
	} else if n, err = svc.Network(ctx); err != nil {
		return err
	}
	d, err := forecasting.View(n)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// forecastCmd runs "rabta forecast SUBCOMMAND": calibrate, rating (rating.go), or network
// show|load.
func forecastCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "network" {
		return forecastNetwork(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "rating" {
		return ratingCmd(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "calibrate" {
		return usagef("%s", forecastUsage)
	}
	fs := flag.NewFlagSet("forecast calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("csv", "", "CSV of one reach's hydrographs: header time,inflow,outflow; time RFC 3339 or hours; a constant step")
	scheme := fs.String("scheme", "classic", "routing step the parameters are fitted for: classic (Tung 1985, the literature's), euler or rk4")
	maxLag := fs.Int("max-lag", -1, "longest travel time searched, in whole steps (-1: a quarter of the series, at most 48 steps)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" || fs.NArg() != 0 {
		return usagef("%s", "usage: rabta forecast calibrate --csv FILE [--scheme classic|euler|rk4] [--max-lag STEPS]")
	}
	sc, err := forecast.ParseScheme(*scheme)
	if err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := parseHydrographs(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	lag := *maxLag
	if lag < 0 {
		lag = min(len(h.inflow)/4, 48)
	}
	c, err := forecast.Calibrate(h.inflow, h.outflow, h.step, forecast.CalibrateOptions{Scheme: sc, MaxLag: lag})
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(calibrationJSON{
		K: c.K, X: c.X, M: c.M,
		LagSteps: c.Lag, LagHours: c.LagHours(), StepHours: c.Step,
		SSE: c.SSE, RMSE: math.Sqrt(c.SSE / float64(c.N)), N: c.N, Scheme: c.Scheme.String(),
	})
}

// calibrationJSON is what "rabta forecast calibrate" prints (docs/forecast.md): the fitted
// nonlinear Muskingum parameters of S = K [x I + (1 − x) O]^m, with S in flow unit × hours
// (so K is in hours × flow^(1−m): hours for m = 1), the travel time, and the fit.
type calibrationJSON struct {
	K         float64 `json:"K"`
	X         float64 `json:"x"`
	M         float64 `json:"m"`
	LagSteps  int     `json:"lagSteps"`
	LagHours  float64 `json:"lagHours"`
	StepHours float64 `json:"stepHours"`
	SSE       float64 `json:"sse"`
	RMSE      float64 `json:"rmse"`
	N         int     `json:"n"`
	Scheme    string  `json:"scheme"`
}

// hydrographs are one reach's paired series at a constant step.
type hydrographs struct {
	step            float64 // hours
	inflow, outflow []float64
}

// parseHydrographs reads CSV with the header "time,inflow,outflow" (any case, spaces around
// ignored) and one row per sample: time as RFC 3339 or as a number of hours (every row the
// same kind), increasing by one constant step; flows finite and not negative, in any one unit.
// Errors name the line and column (1-based) that is wrong.
func parseHydrographs(r io.Reader) (hydrographs, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return hydrographs{}, errors.New("empty: want a header time,inflow,outflow and rows")
	}
	if err != nil {
		return hydrographs{}, err
	}
	for i, want := range []string{"time", "inflow", "outflow"} {
		if got := strings.ToLower(strings.TrimSpace(head[i])); got != want {
			line, _ := cr.FieldPos(i)
			return hydrographs{}, fmt.Errorf("line %d, column %d: header %q, want %q (columns time,inflow,outflow)", line, i+1, head[i], want)
		}
	}
	var (
		h       hydrographs
		times   []float64 // hours since the first row
		t0      time.Time
		rfc3339 bool
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return hydrographs{}, err // *csv.ParseError: "record on line N: …"
		}
		line, _ := cr.FieldPos(0)
		ts := strings.TrimSpace(rec[0])
		var hours float64
		if len(times) == 0 {
			if t, err := time.Parse(time.RFC3339, ts); err == nil {
				rfc3339, t0 = true, t
			}
		}
		if rfc3339 {
			t, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				return hydrographs{}, fmt.Errorf("line %d, column 1 (time): %q is not an RFC 3339 time like the first row's", line, ts)
			}
			hours = t.Sub(t0).Hours()
		} else {
			v, err := strconv.ParseFloat(ts, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return hydrographs{}, fmt.Errorf("line %d, column 1 (time): %q is neither an RFC 3339 time nor a number of hours", line, ts)
			}
			hours = v
		}
		var flows [2]float64
		for j, name := range []string{"inflow", "outflow"} {
			s := strings.TrimSpace(rec[j+1])
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return hydrographs{}, fmt.Errorf("line %d, column %d (%s): %q is not a flow (a finite number, not negative)", line, j+2, name, s)
			}
			flows[j] = v
		}
		if n := len(times); n > 0 {
			d := hours - times[n-1]
			if n == 1 {
				if !(d > 0) {
					return hydrographs{}, fmt.Errorf("line %d, column 1 (time): %s is not after the previous row's time", line, ts)
				}
				h.step = d
			} else if math.Abs(d-h.step) > 1e-9*math.Max(1, h.step) {
				return hydrographs{}, fmt.Errorf("line %d, column 1 (time): %s is %g h after the previous row, but the step is %g h (a constant step is required)", line, ts, d, h.step)
			}
		}
		times = append(times, hours)
		h.inflow, h.outflow = append(h.inflow, flows[0]), append(h.outflow, flows[1])
	}
	if len(times) < 3 {
		return hydrographs{}, fmt.Errorf("%d rows: at least 3 are needed", len(times))
	}
	return h, nil
}
