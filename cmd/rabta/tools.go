package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
)

func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: rabta keys create|list|revoke")
	}
	var c common
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	org := fs.String("org", "", "organisation the key belongs to (created if new)")
	role := fs.String("role", "", "viewer, operator, approver or admin")
	name := fs.String("name", "", "a label for the key")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.load(fs); err != nil {
		return err
	}
	stores, err := c.openStores(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	st := stores.Keys
	switch args[0] {
	case "create":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		key, id, err := auth.Create(ctx, st, *org, r, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "key %d for %s with role %s (shown once):\n", id, *org, r)
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		ks, err := st.Keys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tORGANISATION\tROLE\tNAME\tPREFIX\tCREATED\tREVOKED")
		for _, k := range ks {
			rev := "-"
			if k.RevokedAt != nil {
				rev = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\trbt_%s_…\t%s\t%s\n", k.ID, k.Organisation, k.Role, k.Name, k.Prefix, k.CreatedAt.Format(time.RFC3339), rev)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: rabta keys revoke ID")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("key id %q: not a number", fs.Arg(0))
		}
		return st.RevokeKey(ctx, id)
	}
	return fmt.Errorf("unknown keys command %q (create, list, revoke)", args[0])
}

// importBatch is how many rows go to the store per transaction.
const importBatch = 5000

func importObservations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("import observations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	quiet := fs.Bool("quiet", false, "no progress bar")
	maxErrors := fs.Int("max-errors", 1000, "row errors to print before only counting them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: rabta import observations [flags] FILE")
	}
	if err := c.load(fs); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	info, _ := f.Stat()
	counter := &countingReader{r: f}
	rd, err := sensing.NewCSVReader(counter)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	stores, err := c.openStores(ctx, &ingest.QC{})
	if err != nil {
		return err
	}
	defer stores.Close()
	ents := stores.Entities
	bar := &progress{w: stderr, total: info.Size(), off: *quiet}
	resolved := map[string]int64{}
	var stored, dup, bad int
	var batch []sensing.Observation
	var lines []int
	report := func(line int, err error) {
		bad++
		if bad <= *maxErrors {
			bar.clear()
			msg := apperr.Message(err)
			if re := (*sensing.RowError)(nil); errors.As(err, &re) {
				msg = re.UserMessage() // the file's own mistake, said in full
			}
			fmt.Fprintf(stdout, "line %d: %s\n", line, msg)
		}
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, errs, err := ents.IngestNew(ctx, batch)
		if err != nil {
			return err
		}
		for i, e := range errs {
			switch {
			case e == nil:
				stored++
			case ingest.Duplicate(e):
				dup++
			default:
				report(lines[i], e)
			}
		}
		batch, lines = batch[:0], lines[:0]
		bar.show(counter.n, stored, dup, bad)
		return nil
	}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sensing.RowError
		if errors.As(err, &re) {
			report(re.Line, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		ref, key := row.Datastream, "id:"+row.Datastream
		if rd.Layout() == sensing.LayoutPDMA {
			ref, key = row.Station, "pdma:"+row.Station
		}
		id, ok := resolved[key]
		if !ok {
			if rd.Layout() == sensing.LayoutPDMA {
				id, err = ents.DatastreamByPDMA(ctx, ref)
			} else {
				id, err = ents.DatastreamByName(ctx, ref)
			}
			if err != nil && apperr.KindOf(err) == apperr.Internal {
				return err
			}
			resolved[key] = id // 0 when unknown: every row of it is reported
		}
		if id == 0 {
			report(row.Line, apperr.E(apperr.NotFound, "no datastream %q", ref))
			continue
		}
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
		batch = append(batch, o)
		lines = append(lines, row.Line)
		if len(batch) >= importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := flush(); err != nil {
		return err
	}
	bar.done()
	fmt.Fprintf(stdout, "%s: %d stored, %d already present, %d rejected\n", fs.Arg(0), stored, dup, bad)
	if bad > 0 {
		return fmt.Errorf("%d rows rejected", bad)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress draws a one-line progress bar on a terminal-ish writer.
type progress struct {
	w     io.Writer
	total int64
	off   bool
	last  time.Time
}

func (p *progress) show(n int64, stored, dup, bad int) {
	if p.off || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	frac := 1.0
	if p.total > 0 {
		frac = min(1, float64(n)/float64(p.total))
	}
	const width = 30
	full := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		if i < full {
			bar[i] = '#'
		} else {
			bar[i] = '.'
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %3.0f%%  %d stored, %d present, %d rejected", bar, frac*100, stored, dup, bad)
}

func (p *progress) clear() {
	if !p.off && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) done() {
	if !p.off && !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
}
