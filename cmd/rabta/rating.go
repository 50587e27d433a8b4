package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/forecast"
)

const ratingUsage = "usage: rabta forecast rating --csv FILE [--h0 STAGE] [--margin FRACTION] [--datastream ID]"

// ratingCmd runs "rabta forecast rating": it fits Q = a (h − h0)^b to a station's gaugings
// (forecast.FitRating) and prints the curve as JSON in the shape of a derived Datastream's
// properties.derivedFrom.ratingCurve (docs/forecast.md, "Derived discharge in the node"); with
// --datastream, the whole properties object to paste into the discharge Datastream.
func ratingCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forecast rating", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("csv", "", "CSV of gaugings: header stage,discharge or time,stage,discharge; stage and discharge in the units of the datastreams")
	h0 := fs.String("h0", "", "the stage of zero flow, when known from a survey of the control (fitted otherwise)")
	margin := fs.Float64("margin", 0, "how far beyond the gauged stages the curve still answers (flagged), as a fraction of their range (0: 0.1)")
	ds := fs.Int64("datastream", 0, "print the properties of a discharge Datastream derived from this stage Datastream (@iot.id)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() != 0 || *ds < 0 {
		return usagef("%s", ratingUsage)
	}
	var opt forecast.RatingOptions
	if *h0 != "" {
		v, err := strconv.ParseFloat(*h0, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("--h0 %q: want a finite number (a stage)", *h0)
		}
		opt.H0 = &v
	}
	if math.IsNaN(*margin) || math.IsInf(*margin, 0) {
		return fmt.Errorf("--margin %v: want a finite fraction", *margin)
	}
	opt.Margin = *margin
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	h, q, err := parseGaugings(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	c, err := forecast.FitRating(h, q, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	var out any = c
	if *ds > 0 {
		out = map[string]any{"derivedFrom": forecast.Derivation{Datastream: *ds, RatingCurve: c}}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// parseGaugings reads CSV with the header "stage,discharge" or "time,stage,discharge" (any
// case, spaces around ignored) and one gauging per row: stage a finite number, discharge a
// finite number > 0, time (when there is the column) RFC 3339 — read for checking only: a rating
// curve does not depend on when. Errors name the line and column (1-based) that is wrong.
func parseGaugings(r io.Reader) (h, q []float64, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("empty: want a header stage,discharge (or time,stage,discharge) and rows")
	}
	if err != nil {
		return nil, nil, err
	}
	cols := []string{"stage", "discharge"}
	if len(head) == 3 {
		cols = []string{"time", "stage", "discharge"}
	}
	if len(head) != len(cols) {
		return nil, nil, fmt.Errorf("line 1: %d columns, want stage,discharge or time,stage,discharge", len(head))
	}
	for i, want := range cols {
		if got := strings.ToLower(strings.TrimSpace(head[i])); got != want {
			return nil, nil, fmt.Errorf("line 1, column %d: header %q, want %q (columns %s)", i+1, head[i], want, strings.Join(cols, ","))
		}
	}
	off := len(cols) - 2
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err // *csv.ParseError: "record on line N: …"
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, nil, fmt.Errorf("line %d: %d columns, want %d (%s)", line, len(rec), len(cols), strings.Join(cols, ","))
		}
		if off == 1 {
			if ts := strings.TrimSpace(rec[0]); ts != "" {
				if _, err := time.Parse(time.RFC3339, ts); err != nil {
					return nil, nil, fmt.Errorf("line %d, column 1 (time): %q is not an RFC 3339 time (or leave it empty)", line, ts)
				}
			}
		}
		var v [2]float64
		for j, name := range []string{"stage", "discharge"} {
			s := strings.TrimSpace(rec[off+j])
			x, err := strconv.ParseFloat(s, 64)
			switch {
			case err != nil || math.IsNaN(x) || math.IsInf(x, 0):
				return nil, nil, fmt.Errorf("line %d, column %d (%s): %q is not a finite number", line, off+j+1, name, s)
			case j == 1 && x <= 0:
				return nil, nil, fmt.Errorf("line %d, column %d (discharge): %s, want a discharge > 0", line, off+j+1, s)
			}
			v[j] = x
		}
		h, q = append(h, v[0]), append(q, v[1])
	}
	if len(h) < forecast.MinRatingPoints {
		return nil, nil, fmt.Errorf("%d gaugings: at least %d are needed", len(h), forecast.MinRatingPoints)
	}
	return h, q, nil
}
