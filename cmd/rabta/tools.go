package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
)

// keysUsage is the keys command's usage, for --help and for a command it does not know.
const keysUsage = "usage: rabta keys create --org ORG --role viewer|operator|approver|admin [--name NAME] [--expires WHEN] | rabta keys list | rabta keys revoke ID (each with [--data-dir DIR] [--config FILE]; flags before or after ID)"

// keys creates, lists and revokes API keys in the node's store (a running node sees a new or
// revoked key at once: every request looks its key up).
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" { // --help, or flags before the command
		return usagef("%s", keysUsage)
	}
	if !slices.Contains([]string{"create", "list", "revoke"}, args[0]) { // before its flags: "keys nope -h" is no command's help
		return usagef("unknown keys command %q; %s", args[0], keysUsage)
	}
	var c common
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	org := fs.String("org", "", "organisation the key belongs to (created if new)")
	role := fs.String("role", "", "viewer, operator, approver or admin")
	name := fs.String("name", "", "a label for the key")
	expires := fs.String("expires", "", "when the key expires: an RFC 3339 time, or a duration from now (720h, 90d); empty: never")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "create", "list":
		if fs.NArg() > 0 {
			return usagef("keys %s: unexpected argument %q", args[0], fs.Arg(0))
		}
	case "revoke":
		if fs.NArg() != 1 {
			return usagef("%s", "usage: rabta keys revoke [--data-dir DIR] ID")
		}
	default:
		return usagef("unknown keys command %q; %s", args[0], keysUsage)
	}
	if err := c.load(fs); err != nil {
		return err
	}
	open := c.openExisting // list and revoke: a node's keys, not a new node's
	var r auth.Role
	var until time.Time
	if args[0] == "create" {
		open = c.openStores // a key may be the first thing a new node has
		// checked before the store is opened: a refused key makes no node
		var err error
		if r, err = auth.ParseRole(*role); err != nil {
			return err
		}
		if err := auth.CheckOrganisation(strings.TrimSpace(*org)); err != nil {
			return err
		}
		if err := auth.CheckKeyName(*name); err != nil {
			return err
		}
		if *expires != "" {
			if until, err = auth.ParseExpiry(*expires, time.Now()); err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
		}
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	st := stores.Keys
	switch args[0] {
	case "create":
		key, id, err := auth.CreateUntil(ctx, st, *org, r, *name, until)
		if err != nil {
			return err
		}
		exp := "never expires"
		if !until.IsZero() {
			exp = "expires " + until.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "key %d for %s with role %s, %s (shown once):\n", id, strings.TrimSpace(*org), r, exp)
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		ks, err := st.Keys(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tORGANISATION\tROLE\tNAME\tPREFIX\tSTATE\tCREATED\tEXPIRES\tREVOKED")
		at := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.Format(time.RFC3339)
		}
		for _, k := range ks {
			prefix := "rbt_" + k.Prefix + "_…"
			if k.Prefix == "custom" { // a key the operator chose (RABTA_ADMIN_KEY): no prefix of ours
				prefix = "(custom)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Organisation, k.Role, k.Name, prefix, k.State(now),
				k.CreatedAt.Format(time.RFC3339), at(k.ExpiresAt), at(k.RevokedAt))
		}
		return tw.Flush()
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("key id %q: want a positive integer", fs.Arg(0))
	}
	if err := st.RevokeKey(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %d revoked\n", id)
	return nil
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", "usage: rabta import observations [flags] FILE")
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
	// observations go into Datastreams that exist: a new, empty store would refuse every row
	stores, err := c.openExisting(ctx, &ingest.QC{})
	if err != nil {
		return err
	}
	defer stores.Close()
	bar := &progress{w: stderr, total: info.Size(), off: *quiet}
	shown := 0
	im := &ingest.CSVImport{
		Service: &ingest.Service{Store: stores.Entities},
		Resolve: stores.Entities,
		Batch:   importBatch,
		Reject: func(line int, reason string) {
			if shown++; shown <= *maxErrors {
				bar.clear()
				fmt.Fprintf(stdout, "line %d: %s\n", line, reason)
			}
		},
		Progress: func(n ingest.ImportCount) { bar.show(counter.n, n.Stored, n.Duplicates, n.Rejected) },
	}
	n, err := im.Run(ctx, rd)
	if err != nil {
		return err
	}
	bar.done()
	fmt.Fprintf(stdout, "%s: %d stored, %d already present, %d rejected\n", fs.Arg(0), n.Stored, n.Duplicates, n.Rejected)
	if n.Rejected > 0 {
		return fmt.Errorf("%d rows rejected", n.Rejected)
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

// showRows draws the bar for an import that counts rows read.
func (p *progress) showRows(n int64, rows int) {
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
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d rows read", strings.Repeat("#", full), strings.Repeat(".", width-full), frac*100, rows)
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
