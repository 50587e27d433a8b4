package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// -h and --help on every command of the binary, on each of its subcommands and in place of a
// subcommand print a usage (on stdout or stderr), succeed and make nothing (no ./rabta-data).
// The commands are run's own list (commands), so a command added there is covered here. Each
// runs in this process; the binary runs once for each command (and its first subcommand), for
// its exit status and an empty working directory.
func TestEveryCommandHelp(t *testing.T) {
	var lines [][]string
	lines = append(lines, nil) // "rabta -h"
	binLines := map[string]bool{"": true}
	for _, c := range commands {
		lines = append(lines, []string{c.name})
		binLines[c.name] = true
		for i, s := range c.subs {
			words := strings.Fields(s)
			for j := 1; j < len(words); j++ { // "forecast network -h"
				lines = append(lines, append([]string{c.name}, words[:j]...))
			}
			lines = append(lines, append([]string{c.name}, words...))
			if i == 0 {
				binLines[c.name+" "+s] = true
			}
		}
	}
	if _, err := os.Stat(defaultDataDir); err == nil {
		t.Fatalf("%s is there before the test", defaultDataDir)
	}
	var env []string
	for _, e := range os.Environ() { // nothing names a node: a command that made one would make ./rabta-data
		if !strings.HasPrefix(e, "RABTA_") {
			env = append(env, e)
		}
	}
	seen := map[string]bool{}
	for _, l := range lines {
		key := strings.Join(l, " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, l...), h)
			out, errOut, err := inProcess(t, args...)
			if err != nil || !strings.Contains(strings.ToLower(out+errOut), "usage") {
				t.Errorf("rabta %s: %v, want the usage and success\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
			}
			if _, err := os.Stat(defaultDataDir); err == nil {
				t.Fatalf("rabta %s made %s", strings.Join(args, " "), defaultDataDir)
			}
			if !binLines[key] || h != "-h" {
				continue
			}
			wd := t.TempDir()
			cmd := exec.Command(binary, args...)
			cmd.Dir, cmd.Env = wd, env
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("rabta %s (the binary): %v, want exit 0\n%s", strings.Join(args, " "), err, b)
			}
			if ents, err := os.ReadDir(wd); err != nil || len(ents) != 0 {
				t.Errorf("rabta %s made %v in the working directory (%v)", strings.Join(args, " "), ents, err)
			}
		}
	}
	if len(seen) < 40 {
		t.Errorf("%d command lines checked, want every command and subcommand (40 or more)", len(seen))
	}
}

// Every "rabta COMMAND SUBCOMMAND" the usages name is in commands, so that
// TestEveryCommandHelp runs its -h.
func TestCommandsListed(t *testing.T) {
	texts := []string{usage}
	for _, c := range commands {
		texts = append(texts, c.usage)
	}
	texts = append(texts, federationUsage, exerciseUsage)
	named := regexp.MustCompile(`rabta ([a-z-]+)(?: ([a-z-]+))?`)
	n := 0
	for _, text := range texts {
		for _, m := range named.FindAllStringSubmatch(text, -1) {
			var c *command
			for i := range commands {
				if commands[i].name == m[1] {
					c = &commands[i]
				}
			}
			if c == nil {
				if m[1] != "help" {
					t.Errorf("%q: no command %q in commands", m[0], m[1])
				}
				continue
			}
			if len(c.subs) == 0 || m[2] == "" {
				continue
			}
			found := false
			for _, s := range c.subs {
				found = found || strings.Fields(s)[0] == m[2]
			}
			if !found {
				t.Errorf("%q: no subcommand %q of %q in commands", m[0], m[2], m[1])
			}
			n++
		}
	}
	if n < 20 {
		t.Errorf("%d subcommands named in the usages, want them all (20 or more)", n)
	}
}

// TestUsageErrorsExit2: a command line no command can run — no command, an unknown command or
// subcommand (also with -h after it), a flag the command does not know, a missing or extra
// argument — is exit status 2 (the flag package's convention) on every command, with a
// message, and makes nothing; a command that ran and failed is exit status 1 (the tests of each
// command check those).
func TestUsageErrorsExit2(t *testing.T) {
	lines := [][]string{{}, {"nope"}, {"nope", "-h"}}
	for _, c := range commands {
		lines = append(lines, []string{c.name, "--no-such-flag"})
		if c.name == "serve" || c.name == "version" || c.name == "backup" || c.name == "restore" { // (no subcommands; backup and restore take a FILE)
			continue
		}
		lines = append(lines, []string{c.name, "nope"}, []string{c.name, "nope", "-h"})
		for _, s := range c.subs {
			lines = append(lines, append(strings.Fields(c.name+" "+s), "--no-such-flag"))
		}
	}
	lines = append(lines, []string{"keys"}, []string{"keys", "revoke"}, []string{"keys", "list", "extra"}, []string{"serve", "extra"},
		[]string{"import"}, []string{"import", "observations"}, []string{"rules", "apply"}, []string{"forecast", "rating"},
		[]string{"backup"}, []string{"restore"}, []string{"audit", "verify", "extra"}, []string{"orgs", "open"},
		[]string{"federation", "agreements", "approve"}, []string{"exercise"}, []string{"version", "extra"})
	for _, l := range lines {
		_, errOut, err := inProcess(t, l...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("rabta %s: %v (exit %d), want a usage error, exit 2", strings.Join(l, " "), err, exitCode(err))
		}
		if err != nil && strings.TrimSpace(err.Error()+errOut) == "" {
			t.Errorf("rabta %s: exit 2 without a word", strings.Join(l, " "))
		}
		if _, err := os.Stat(defaultDataDir); err == nil {
			t.Fatalf("rabta %s made %s", strings.Join(l, " "), defaultDataDir)
		}
	}
	if len(lines) < 60 {
		t.Errorf("%d command lines, want every command and subcommand", len(lines))
	}
	// a backup to restore that is not there: a failure (exit 1), and no data directory made
	if _, _, err := inProcess(t, "restore", "no-such-backup.db"); err == nil || exitCode(err) != 1 {
		t.Errorf("restore of a missing file: %v (exit %d), want exit 1", err, exitCode(err))
	}
	if _, err := os.Stat(defaultDataDir); err == nil {
		t.Fatalf("restore of a missing file made %s", defaultDataDir)
	}
}
