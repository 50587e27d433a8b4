package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

// inProcess runs the rabta command line in this process, as main does.
func inProcess(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestParseFlagsAnywhere(t *testing.T) {
	for _, c := range []struct {
		args      []string
		dir, name string
		pos       []string
		err       string
	}{
		{args: []string{"3", "--data-dir", "d"}, dir: "d", pos: []string{"3"}},
		{args: []string{"--data-dir", "d", "3"}, dir: "d", pos: []string{"3"}},
		{args: []string{"--data-dir=d", "a", "--name", "n", "b"}, dir: "d", name: "n", pos: []string{"a", "b"}},
		{args: []string{"a", "--", "--data-dir", "d"}, pos: []string{"a", "--data-dir", "d"}},
		{args: []string{"--", "-x"}, pos: []string{"-x"}},
		{args: []string{"-"}, pos: []string{"-"}}, // stdin, by convention
		{args: nil, pos: []string{}},
		{args: []string{"3", "--nope"}, err: "flag provided but not defined: -nope"},
		{args: []string{"3", "--data-dir"}, err: "flag needs an argument: -data-dir"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		dir := fs.String("data-dir", "", "")
		name := fs.String("name", "", "")
		err := parse(fs, c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || *dir != c.dir || *name != c.name || strings.Join(fs.Args(), "|") != strings.Join(c.pos, "|") {
			t.Errorf("%q: data-dir %q name %q args %q %v; want %q %q %q", c.args, *dir, *name, fs.Args(), err, c.dir, c.name, c.pos)
		}
	}
}

// FuzzParse: whatever the arguments, parse neither panics nor loses or reorders a positional
// argument: those it returns are the arguments in their order, less flags and their values.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"3 --data-dir d", "--data-dir d 3", "a -- --data-dir d", "--name=x a b --quiet", "- --", "--data-dir", "-- --", "a --quiet=false b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("data-dir", "", "")
		fs.String("name", "", "")
		fs.Bool("quiet", false, "")
		if err := parse(fs, args); err != nil {
			return
		}
		i := 0 // the positional arguments are a subsequence of args
		for _, p := range fs.Args() {
			for i < len(args) && args[i] != p {
				i++
			}
			if i == len(args) {
				t.Fatalf("%q: positional %q (of %q) is not in order in the arguments", args, p, fs.Args())
			}
			i++
		}
	})
}

// Every subcommand that takes positional arguments takes its flags before or after them:
// "rabta keys revoke ID --data-dir DIR" acts on DIR, not on ./rabta-data. Each runs with its
// flags after its arguments, on a data directory of the test's own; nothing appears in the
// working directory.
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	backup := filepath.Join(t.TempDir(), "backup.db")
	restored := filepath.Join(t.TempDir(), "restored")
	out, _, err := inProcess(t, "keys", "create", "--org", "pdma", "--role", "viewer", "--data-dir", dir)
	if err != nil || !strings.HasPrefix(out, "rbt_") {
		t.Fatalf("keys create: %v %q", err, out)
	}
	// what examples/rules.yaml reads (rules name datastreams that exist); the commands run in
	// this process, on SQLite in dir whatever RABTA_E2E_POSTGRES says
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	storetest.SeedDatastreams(t, db, auth.NodeOrganisation, 1, 2, 3, 4, 5, 6, 7, 8)
	db.Close()
	for _, c := range []struct {
		args []string
		out  string // in stdout
	}{
		{[]string{"keys", "revoke", "1", "--data-dir", dir}, "key 1 revoked"},
		{[]string{"keys", "list", "--data-dir", dir}, "revoked"},
		{[]string{"import", "villages", "../../examples/villages.csv", "--data-dir", dir, "--quiet"}, "4 villages imported"},
		{[]string{"import", "subscribers", "../../examples/subscribers.csv", "--org", "pdma", "--data-dir", dir, "--quiet"}, "4 subscribers imported"},
		{[]string{"rules", "apply", "../../examples/rules.yaml", "--data-dir", dir}, "2 rules applied"},
		{[]string{"import", "observations", "../../internal/sensing/testdata/pdma_excerpt.csv", "--data-dir", dir, "--quiet"}, "0 stored"}, // no such stations here
		{[]string{"backup", backup, "--data-dir", dir}, "backup written to " + backup},
		{[]string{"restore", backup, "--data-dir", restored}, "restored " + backup},
	} {
		out, errOut, err := inProcess(t, c.args...)
		if !strings.Contains(out, c.out) {
			t.Errorf("%q: %v %q %q, want %q", c.args, err, out, errOut, c.out)
		}
	}
	// --help gives the usage, and succeeds; no command (or a flag where the command belongs)
	// gives it as the error, not "unknown command --data-dir"
	for _, h := range [][]string{{"keys", "--help"}, {"keys", "-h"}, {"keys", "help"}, {"keys"}, {"keys", "--data-dir", dir}} {
		out, errOut, err := inProcess(t, h...)
		help := len(h) == 2 && h[1] != "--data-dir"
		if help != (err == nil) || !strings.Contains(fmt.Sprint(err)+out+errOut, "usage: rabta keys create --org ORG") {
			t.Errorf("%q: %v %q, want the usage", h, err, errOut)
		}
	}
	// the restored store is the backup of dir: its revoked key is there
	out, _, err = inProcess(t, "keys", "list", "--data-dir", restored)
	if err != nil || !regexp.MustCompile(`(?m)^1 +pdma +viewer .* revoked `).MatchString(out) {
		t.Errorf("keys list of the restored store: %v\n%s", err, out)
	}
	if _, err := os.Stat("rabta-data"); err == nil {
		t.Error("a command wrote ./rabta-data")
	}
	// a flag after the argument is a flag, not a second argument
	if _, _, err := inProcess(t, "keys", "revoke", "1", "2", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "usage: rabta keys revoke") {
		t.Errorf("two ids: %v", err)
	}
	if _, _, err := inProcess(t, "keys", "list", "extra", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Errorf("keys list extra: %v", err)
	}
	if _, _, err := inProcess(t, "keys", "revoke", "x", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), `key id "x": want a positive integer`) {
		t.Errorf("keys revoke x: %v", err)
	}
}

// rabta keys create --expires: a time or a duration from now, shown by keys list; a bad or past
// one is refused and no key is made.
func TestKeysCreateExpires(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		expires string
		ok      bool
		msg     string // in stderr (ok) or the error
	}{
		{"90d", true, "expires 20"},
		{"2099-01-01T00:00:00Z", true, "expires 2099-01-01T00:00:00Z"},
		{"soon", false, `--expires: expiry "soon"`},
		{"2020-01-01T00:00:00Z", false, "not in the future"},
		{"-1h", false, "above zero"},
	} {
		out, errOut, err := inProcess(t, "keys", "create", "--org", "pdma", "--role", "operator", "--expires", c.expires, "--data-dir", dir)
		if c.ok != (err == nil) || c.ok && (!strings.HasPrefix(out, "rbt_") || !strings.Contains(errOut, c.msg)) || !c.ok && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("--expires %s: %v %q %q, want ok=%v with %q", c.expires, err, out, errOut, c.ok, c.msg)
		}
	}
	out, _, err := inProcess(t, "keys", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "EXPIRES") || !regexp.MustCompile(`(?m)^2 +pdma +operator .* active .* 2099-01-01T00:00:00Z +-$`).MatchString(out) ||
		strings.Count(out, "\n") != 3 {
		t.Errorf("keys list:\n%s", out)
	}
	if _, _, err := inProcess(t, "keys", "create", "--org", "pd ma", "--role", "viewer", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "character 3") {
		t.Errorf("a malformed organisation: %v", err)
	}
}
