package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/warning"
)

const rulesUsage = "usage: rabta rules apply [--org ORG] [--data-dir DIR] FILE | rabta rules list [--org ORG] | rabta rules changes RULE"

// rules applies a YAML rules file to the node's store as the rules of one organisation (a
// running node picks them up within seconds), lists the rules applied (a JSON array of
// rule.View, the rules as written in a rules file, with each rule's organisation, as GET
// /api/v1/rules shows them), or lists who changed a rule (JSON, as GET
// /api/v1/rules/{id}/changes). A change made here is recorded as by "cli/<user>"
// (warning.CLIName): whoever runs the command line holds the node's data directory, so it acts
// for the node and may apply any organisation's rules (--org; default the node's own,
// "admin"). Flags may come before or after FILE.
func rules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "apply" && args[0] != "list" && args[0] != "changes") {
		return usagef("%s", rulesUsage)
	}
	var c common
	fs := flag.NewFlagSet("rules "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	org := fs.String("org", "", `organisation whose rules these are (apply: default "admin", the node's own; list: only this one's)`)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	pos := fs.Args()
	if err := c.load(fs); err != nil {
		return err
	}
	if (args[0] == "list" && len(pos) != 0) || (args[0] != "list" && len(pos) != 1) {
		return usagef("%s", rulesUsage)
	}
	var parsed []rule.Rule
	if args[0] == "apply" {
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if parsed, err = rule.ParseYAML(pos[0], b); err != nil {
			return err
		}
	}
	if args[0] == "apply" && *org == "" {
		*org = auth.NodeOrganisation
	}
	open := c.openExisting // list and changes read a node's rules: never make a node
	if args[0] == "apply" && *org == auth.NodeOrganisation {
		open = c.openStores // the node's own rules may be a new node's first step; another organisation's need a node that knows it
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	if *org != "" {
		if err := node.KnownOrganisation(ctx, stores, *org); err != nil { // a typo applies nothing
			return err
		}
	}
	store := stores.Alerts
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	switch args[0] {
	case "list":
		rs, _, err := store.LoadRules(ctx)
		if err != nil {
			return err
		}
		type view struct {
			rule.View
			Organisation string `json:"organisation"`
		}
		views := []view{}
		for _, r := range rs {
			if *org == "" || r.Organisation == *org {
				views = append(views, view{r.View(), r.Organisation})
			}
		}
		return enc.Encode(views)
	case "changes":
		cs, err := store.RuleChanges(ctx, pos[0])
		if err != nil {
			return err
		}
		return enc.Encode(cs)
	}
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if err := warning.Apply(ctx, store, *org, warning.CLIName(name), parsed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d rules applied from %s (organisation %s)\n", len(parsed), pos[0], *org)
	return nil
}
