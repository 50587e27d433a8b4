package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/warning"
)

// rules applies a YAML rules file to the node's store (a running node picks it up within
// seconds), or lists the rules applied: a JSON array of rule.View, the rules as written in a
// rules file (durations "6h", hysteresis "5%"), as GET /api/v1/rules shows them.
func rules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "apply" && args[0] != "list") {
		return errors.New("usage: rabta rules apply [--data-dir DIR] FILE | rabta rules list")
	}
	var c common
	fs := flag.NewFlagSet("rules "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := c.load(fs); err != nil {
		return err
	}
	if args[0] == "apply" && fs.NArg() != 1 {
		return errors.New("usage: rabta rules apply [--data-dir DIR] FILE")
	}
	var parsed []rule.Rule
	if args[0] == "apply" {
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		if parsed, err = rule.ParseYAML(fs.Arg(0), b); err != nil {
			return err
		}
	}
	stores, err := c.openStores(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	store := stores.Alerts
	if args[0] == "list" {
		rs, _, err := store.LoadRules(ctx)
		if err != nil {
			return err
		}
		views := []rule.View{}
		for _, r := range rs {
			views = append(views, r.View())
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(views)
	}
	if err := warning.Apply(ctx, store, parsed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d rules applied from %s\n", len(parsed), fs.Arg(0))
	return nil
}
