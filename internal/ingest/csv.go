package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Resolver finds the datastreams a CSV file names: by id or unique name (the generic layout's
// datastream column), or by PDMA gauge name (the PDMA report layout: the gauge's discharge).
type Resolver interface {
	DatastreamByName(ctx context.Context, ref string) (int64, error)
	DatastreamByPDMA(ctx context.Context, station string) (int64, error)
}

// CSVImport takes observations from a CSV file (sensing.CSVReader: the generic or the PDMA
// layout) through the service, in batches: each row checked like any other observation (QC),
// an observation identical to a stored one left out (IngestAgain), so that importing the same
// file twice changes nothing. A row that cannot be read or stored is reported with its line
// and the reason, and the import goes on.
type CSVImport struct {
	Service *Service
	Resolve Resolver
	// Batch is how many rows go to the store per transaction (0: 5,000).
	Batch int
	// Reject, when set, is told each rejected row: its line (from 1) and what is wrong with it,
	// starting with the column at fault ("result: …", "datastream: no datastream \"7\"") when
	// the problem is one column's.
	Reject func(line int, reason string)
	// Progress, when set, is told after each batch how many rows are done so far.
	Progress func(ImportCount)
}

// ImportCount counts the rows of an import.
type ImportCount struct {
	Stored, Duplicates, Rejected int
}

// Run reads rd to its end. Its error is a failure of the store (or ctx's); rejected rows are
// counted and reported, not errors.
func (im *CSVImport) Run(ctx context.Context, rd *sensing.CSVReader) (ImportCount, error) {
	size := im.Batch
	if size <= 0 {
		size = 5000
	}
	var n ImportCount
	reject := func(line int, reason string) {
		n.Rejected++
		if im.Reject != nil {
			im.Reject(line, reason)
		}
	}
	// the column naming the datastream, to which a refusal by the store (the row's datastream
	// or its Thing cannot take it) points
	dsCol := "datastream"
	if rd.Layout() == sensing.LayoutPDMA {
		dsCol = "station"
	}
	type resolution struct {
		id     int64
		reason string // why there is no id, for the user
	}
	resolved := map[string]resolution{}
	var batch []sensing.Observation
	var lines []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, errs, err := im.Service.IngestAgain(ctx, "csv", batch)
		if err != nil {
			return err
		}
		for i, e := range errs {
			switch {
			case e == nil:
				n.Stored++
			case Duplicate(e):
				n.Duplicates++
			default:
				reject(lines[i], dsCol+": "+apperr.Message(e))
			}
		}
		batch, lines = batch[:0], lines[:0]
		if im.Progress != nil {
			im.Progress(n)
		}
		return nil
	}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sensing.RowError
		if errors.As(err, &re) {
			reject(re.Line, re.UserMessage()) // the file's own mistake, said in full
			continue
		}
		if err != nil {
			return n, err
		}
		ref, key := row.Datastream, "id:"+row.Datastream
		if rd.Layout() == sensing.LayoutPDMA {
			ref, key = row.Station, "pdma:"+row.Station
		}
		res, ok := resolved[key]
		if !ok {
			if rd.Layout() == sensing.LayoutPDMA {
				res.id, err = im.Resolve.DatastreamByPDMA(ctx, ref)
			} else {
				res.id, err = im.Resolve.DatastreamByName(ctx, ref)
			}
			switch k := apperr.KindOf(err); {
			case err == nil:
			case k == apperr.Internal || k == apperr.Unavailable:
				return n, err
			case k == apperr.NotFound:
				res.reason = fmt.Sprintf("no datastream %q", ref)
			default: // e.g. two datastreams of that name: say so, the user can give the id
				res.reason = apperr.Message(err)
			}
			resolved[key] = res // unresolved too: every row of it is reported
		}
		if res.reason != "" {
			reject(row.Line, dsCol+": "+res.reason)
			continue
		}
		batch = append(batch, observation(res.id, row))
		lines = append(lines, row.Line)
		if len(batch) >= size {
			if err := flush(); err != nil {
				return n, err
			}
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, flush()
}

// observation is the observation of a CSV row, of datastream id.
func observation(id int64, row sensing.CSVRow) sensing.Observation {
	o := sensing.Observation{DatastreamID: id, PhenStart: row.Start, PhenEnd: row.End, PhenText: row.PhenomenonTime, Parameters: row.Parameters}
	if row.ResultTime != nil {
		o.ResultTime, o.ResultTimeText = row.ResultTime, row.ResultTime.Format(time.RFC3339Nano)
	}
	switch v := row.Result.(type) {
	case float64:
		o.ResultNum = &v
	case json.RawMessage:
		o.ResultJSON = v
	}
	return o
}
