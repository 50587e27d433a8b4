package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/place"
)

// importVillages loads a list of villages (CSV: name, lat, lon, population, languages,
// connectivity) into the node's places, with a progress bar and every refused row's line,
// column and reason. A running node picks the new places up at its next alert.
func importVillages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("import villages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	quiet := fs.Bool("quiet", false, "no progress bar")
	dropSynthetic := fs.Bool("replace-synthetic", false, "delete the synthetic villages (the demo's) before importing the real list")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", "usage: rabta import villages [flags] FILE")
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
	bar := &progress{w: stderr, total: info.Size(), off: *quiet}
	villages, rowErrs, err := place.ReadVillages(f, place.CSVOptions{Source: fs.Arg(0), Progress: func(rows int, n int64) { bar.showRows(n, rows) }})
	bar.done()
	for _, e := range rowErrs {
		fmt.Fprintln(stdout, e.Error())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	regions, err := place.Load()
	if err != nil {
		return err
	}
	place.Locate(regions, villages) // each village's district and province, from its coordinates
	stores, err := c.openStores(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	if *dropSynthetic {
		n, err := stores.Places.DeleteSynthetic(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d synthetic villages deleted\n", n)
	}
	if counts, err := stores.Places.Count(ctx); err != nil {
		return err
	} else if counts[place.District] == 0 { // a store no node has started on yet
		if err := stores.Places.Upsert(ctx, regions); err != nil {
			return err
		}
	}
	if err := stores.Places.Upsert(ctx, villages); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d villages imported, %d rows refused\n", fs.Arg(0), len(villages), len(rowErrs))
	if len(rowErrs) > 0 {
		return fmt.Errorf("%d rows refused", len(rowErrs))
	}
	return nil
}

// importSubscribers loads subscribers from CSV (see dissemination.CSVColumns) for an
// organisation, sealing their contacts with the node's contacts key.
func importSubscribers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("import subscribers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	org := fs.String("org", "", "the organisation that holds the subscribers (required)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *org == "" {
		return usagef("%s", "usage: rabta import subscribers --org ORG [flags] FILE")
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
	open := c.openStores
	if *org != auth.NodeOrganisation {
		open = c.openExisting // another organisation's subscribers need a node that knows it
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	if err := node.KnownOrganisation(ctx, stores, *org); err != nil { // a typo imports nothing
		return err
	}
	keyFile := c.cfg.Dissemination.ContactsKeyFile
	if keyFile == "" {
		keyFile = c.cfg.DataDir + "/contacts.key"
	}
	key, err := dissemination.LoadOrCreateKey(keyFile)
	if err != nil {
		return err
	}
	sealer, err := dissemination.NewSealer(key)
	if err != nil {
		return err
	}
	// places of interest are checked against the node's places (the embedded real set when
	// no node has stored any yet)
	ps, err := stores.Places.List(ctx)
	if err == nil && len(ps) == 0 {
		ps, err = place.Load()
	}
	if err != nil {
		return err
	}
	g, err := place.NewGazetteer(ps)
	if err != nil {
		return err
	}
	svc := &dissemination.Service{Store: stores.Dissemination, Sealer: sealer, Places: dissemination.Places{G: g}, Now: time.Now,
		Log: logger(c.cfg, stderr).With("component", "dissemination")} // the node's log format, not Go's default
	bar := &progress{w: stderr, total: info.Size(), off: *quiet}
	n, rowErrs, err := svc.ImportCSV(ctx, counter, *org, func(rows int) { bar.showRows(counter.n, rows) })
	bar.done()
	for _, e := range rowErrs {
		fmt.Fprintln(stdout, e.Error())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d subscribers imported, %d rows refused\n", fs.Arg(0), n, len(rowErrs))
	if len(rowErrs) > 0 {
		return fmt.Errorf("%d rows refused", len(rowErrs))
	}
	return nil
}
