// Command rabta runs a Rabta node and its tools.
//
//	rabta serve [--demo] [--data-dir DIR] [--http-addr ADDR] [--config FILE]
//	rabta import observations [--data-dir DIR] FILE.csv
//	rabta keys create --org ORG --role ROLE [--name NAME] | keys list | keys revoke ID
//	rabta forecast rating --csv FILE
//	rabta forecast calibrate --csv FILE
//	rabta forecast network show|load FILE
//	rabta exercise run --from T1 --to T2 (--demo | --source URL --key K) [--speed N|max]
//	rabta version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	_ "time/tzdata" // time zones for messages (time_zone), on machines without a zone database

	"github.com/rabta/rabta/internal/config"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/sensing"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `rabta — open early-warning node for digitally friendly cities

Usage:
  rabta serve [flags]                     run a node (no flags: a complete node on 127.0.0.1:8080)
  rabta import observations [flags] FILE  bulk-load observations from CSV (generic or PDMA layout)
  rabta import villages [flags] FILE      load a village list (name,lat,lon,population,languages,connectivity)
  rabta import subscribers --org ORG FILE load subscribers from CSV (contacts sealed with the node's key)
  rabta keys create --org ORG --role ROLE create an API key (printed once)
  rabta keys list                         list API keys (never the keys themselves)
  rabta keys revoke ID                    revoke an API key
  rabta rules apply [--org ORG] FILE      apply an organisation's warning rules from YAML; list, changes RULE
  rabta federation key|partners|agreements  share data with partner nodes under agreements (docs/federation.md)
  rabta forecast rating --csv FILE        fit a station's rating curve (stage → discharge) to gaugings
  rabta forecast calibrate --csv FILE     fit a reach's flood routing (K, x, m, travel time) to past hydrographs
  rabta forecast network show|load FILE   show or store the node's river network (stations, datastreams, routing)
  rabta exercise run --from T1 --to T2    replay past floods through an isolated exercise node, then report
  rabta audit verify|list|export|verify-proof  the tamper-evident audit log and partners' proofs (docs/audit.md)
  rabta orgs open|close ORG               make an organisation's data open (WIS2 notifications, docs/wis2.md)
  rabta backup FILE                       write a consistent copy of the store (while the node runs)
  rabta restore FILE                      replace the store with a backup (node stopped)
  rabta version                           print the version

Run 'rabta COMMAND -h' for a command's flags. Exit status: 0 done, 1 failed (the message says
why), 2 a command line no command can run (unknown command or flag, missing argument).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rabta:", err)
		}
		os.Exit(exitCode(err))
	}
}

// command is one command of the rabta binary, as run dispatches it.
type command struct {
	name string
	// subs are its subcommands, the words that follow its name ("network show": two); nil
	// for a command that takes none
	subs []string
	// usage is what -h or --help print, on stdout, in place of a subcommand (or after a first
	// word of one, "forecast network -h"); "" when the command answers those itself
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

const (
	importUsage   = "usage: rabta import observations|villages|subscribers [flags] FILE"
	forecastUsage = "usage: rabta forecast calibrate --csv FILE [--scheme classic|euler|rk4] [--max-lag STEPS] | rabta forecast rating --csv FILE | rabta forecast network show|load"
	orgsUsage     = "usage: rabta orgs open ORG | orgs close ORG | orgs list-open"
)

// commands are the commands of the rabta binary: run knows no other (the -h test of every
// command and subcommand, TestEveryCommandHelp, goes through this list).
var commands = []command{
	{name: "serve", run: serve},
	{name: "import", subs: []string{"observations", "villages", "subscribers"}, usage: importUsage, run: importCmd},
	{name: "keys", subs: []string{"create", "list", "revoke"}, usage: keysUsage, run: keys},
	{name: "rules", subs: []string{"apply", "list", "changes"}, usage: rulesUsage, run: rules},
	{name: "audit", subs: []string{"verify", "list", "export", "verify-proof"}, usage: auditUsage, run: auditCmd},
	{name: "orgs", subs: []string{"open", "close", "list-open"}, usage: orgsUsage, run: orgsCmd},
	{name: "federation", subs: federationNames(), run: federationCmd}, // answers -h itself
	{name: "forecast", subs: []string{"rating", "calibrate", "network show", "network load"}, usage: forecastUsage, run: forecastCmd},
	{name: "exercise", subs: []string{"run"}, run: exerciseCmd}, // answers -h itself
	{name: "backup", run: backup},
	{name: "restore", run: restore},
	{name: "version", usage: "usage: rabta version (prints the version)", run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
		if len(args) > 0 {
			return usagef("version: unexpected argument %q (usage: rabta version)", args[0])
		}
		fmt.Fprintln(stdout, "rabta", version)
		return nil
	}},
}

// federationNames are the federation subcommands' names ("partners add" …).
func federationNames() []string {
	var names []string
	for _, c := range federationCmds {
		names = append(names, c.name)
	}
	return names
}

// groupHelp reports whether args, what follows a command's name, ask for the command's usage:
// -h, -help, --help or help in place of a subcommand, or after the first words of one.
func groupHelp(args, subs []string) bool {
	for i, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "help" {
			prefix := strings.Join(args[:i], " ")
			if prefix == "" {
				return true
			}
			for _, s := range subs {
				if strings.HasPrefix(s, prefix+" ") {
					return true
				}
			}
			return false
		}
		if strings.HasPrefix(a, "-") {
			return false
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		if c.usage != "" && groupHelp(args[1:], c.subs) {
			fmt.Fprintln(stdout, c.usage)
			return nil
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h of a subcommand: the flag package printed its usage and flags
		}
		return err
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", args[0])
}

// importCmd runs "rabta import observations|villages|subscribers".
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	what := ""
	if len(args) > 0 {
		what = args[0]
	}
	switch what {
	case "observations":
		return importObservations(ctx, args[1:], stdout, stderr)
	case "villages":
		return importVillages(ctx, args[1:], stdout, stderr)
	case "subscribers":
		return importSubscribers(ctx, args[1:], stdout, stderr)
	}
	return usagef("%s", importUsage)
}

// parse parses args with fs, flags before, between or after the positional arguments
// ("rabta keys revoke 3 --data-dir DIR" as "rabta keys revoke --data-dir DIR 3"), which then
// are fs.Args(). After "--" every argument is positional.
//
// A flag it does not know, or a value it cannot read, is a usage error (exit status 2, as the
// flag package's own programs exit); -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	err := parseFlags(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return &usageError{err.Error()}
	}
	return err
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // the flag package stopped at "--"
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// fs.Args() is what the last Parse left: parse the positional arguments after a "--" again
	return fs.Parse(append([]string{"--"}, pos...))
}

// common holds the flags every command that opens the store shares.
type common struct {
	cfg        config.Config
	configFile string
}

func (c *common) flags(fs *flag.FlagSet) {
	c.cfg = config.Default()
	fs.StringVar(&c.configFile, "config", "", "YAML configuration file")
	fs.StringVar(&c.cfg.DataDir, "data-dir", c.cfg.DataDir, "data directory (env RABTA_DATA_DIR)")
	fs.StringVar(&c.cfg.DB, "db", c.cfg.DB, "store: empty for SQLite in the data directory, or a postgres:// URL (env RABTA_DB)")
}

// openStores opens the configured store: SQLite in the data directory, or PostgreSQL. The
// data directory and the database are made when missing: for the commands that set a node up
// (serve, import, keys create, rules apply …). A command that only reads, or changes what must
// be there already, opens with openExisting.
func (c *common) openStores(ctx context.Context, qc sensing.Checker) (*node.Stores, error) {
	s, err := node.OpenStores(ctx, c.cfg.DataDir, c.cfg.DB, qc)
	if err != nil {
		return nil, err
	}
	// the node id given recorded, now that the command goes ahead (load only looked it up)
	if _, err := node.ResolveID(c.cfg.DataDir, c.cfg.NodeID); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openExisting opens the store of a node that exists: with SQLite, rabta.db must be in the
// data directory; with PostgreSQL, the database must hold a node's tables. A read-only command run in the wrong directory (without --data-dir: the
// default ./rabta-data) then says where it looked instead of making an empty node there and
// answering as if it had none of anything.
func (c *common) openExisting(ctx context.Context, qc sensing.Checker) (*node.Stores, error) {
	if c.cfg.DB == "" {
		if err := c.needNode(filepath.Join(c.cfg.DataDir, node.DBFile)); err != nil {
			return nil, err
		}
	} else if err := c.needNodeDB(ctx); err != nil {
		return nil, err
	}
	return c.openStores(ctx, qc)
}

// needNodeDB says, when the PostgreSQL database (--db) holds no node's store, that there is no
// node there and how to name the right one: opening it would make a new, empty node there
// (its tables).
func (c *common) needNodeDB(ctx context.Context) error {
	ok, name, err := node.PostgresNode(ctx, c.cfg.DB)
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("no node in PostgreSQL database %s (it has no Rabta tables): name the node's database with --db URL, "+
		"RABTA_DB or db in --config FILE; 'rabta serve --db URL' makes a new node", name)
}

// needNode says, when path (the store's file, or the data directory) does not exist, that there
// is no node there and how to name the right one.
func (c *common) needNode(path string) error {
	_, err := os.Stat(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir := c.cfg.DataDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fmt.Errorf("no node in data directory %s (%s does not exist): name the node's data directory with --data-dir DIR, "+
		"RABTA_DATA_DIR or data_dir in --config FILE (or its PostgreSQL database with --db URL or RABTA_DB); "+
		"'rabta serve --data-dir DIR' makes a new node", dir, path)
}

// load applies, in order: defaults, the file, the environment, then flags given explicitly.
func (c *common) load(fs *flag.FlagSet) error {
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	flagCfg := c.cfg
	c.cfg = config.Default()
	if c.configFile != "" {
		if err := c.cfg.Load(c.configFile); err != nil {
			return err
		}
	}
	if err := c.cfg.Env(os.LookupEnv); err != nil {
		return err
	}
	apply := map[string]func(){
		"data-dir":      func() { c.cfg.DataDir = flagCfg.DataDir },
		"db":            func() { c.cfg.DB = flagCfg.DB },
		"http-addr":     func() { c.cfg.HTTPAddr = flagCfg.HTTPAddr },
		"demo":          func() { c.cfg.Demo = flagCfg.Demo },
		"demo-speed":    func() { c.cfg.DemoSpeed = flagCfg.DemoSpeed },
		"public-read":   func() { c.cfg.PublicRead = flagCfg.PublicRead },
		"node-id":       func() { c.cfg.NodeID = flagCfg.NodeID },
		"log":           func() { c.cfg.Log = flagCfg.Log },
		"log-level":     func() { c.cfg.LogLevel = flagCfg.LogLevel },
		"max-body-size": func() { c.cfg.MaxBodyBytes = flagCfg.MaxBodyBytes },
		"nats-url":      func() { c.cfg.NATSURL = flagCfg.NATSURL },
		"nats-addr":     func() { c.cfg.NATSAddr = flagCfg.NATSAddr },
		"mqtt-addr":     func() { c.cfg.MQTTAddr = flagCfg.MQTTAddr },

		// who may read what, and the limits on abuse
		"public-alerts":   func() { c.cfg.PublicAlerts = flagCfg.PublicAlerts },
		"auth-fail-rate":  func() { c.cfg.AuthFailRate = flagCfg.AuthFailRate },
		"write-rate":      func() { c.cfg.WriteRate = flagCfg.WriteRate },
		"trusted-proxies": func() { c.cfg.TrustedProxies = flagCfg.TrustedProxies },
	}
	for name := range set {
		if f, ok := apply[name]; ok {
			f()
		}
	}
	if err := c.cfg.Validate(); err != nil {
		return err
	}
	// the id the data directory records, when none is given (internal/node/nodeid.go); an id
	// given is recorded when the command opens the store, not here: a command refused before
	// that changes nothing
	id, err := node.LookupID(c.cfg.DataDir, c.cfg.NodeID)
	c.cfg.NodeID = id
	return err
}

func logger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
