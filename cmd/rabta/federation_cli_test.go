package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noDataDir runs the test in a new empty directory with no data directory named by the
// environment, as a newcomer's shell: ./rabta-data would be the default.
func noDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("RABTA_DATA_DIR", "")
	os.Unsetenv("RABTA_DATA_DIR")
	t.Setenv("RABTA_DB", "")
	os.Unsetenv("RABTA_DB")
	return dir
}

// -h and --help on federation and each of its subcommands print the usage on stdout and
// succeed, without looking for a node; each subcommand's help lists its own flags.
func TestFederationHelp(t *testing.T) {
	dir := noDataDir(t)
	for _, c := range []struct {
		args      []string
		want      []string // in stdout
		wantNot   []string
		wantLines int // usage lines naming a command ("  rabta federation …")
	}{
		{[]string{"federation", "-h"}, []string{"rabta federation key", "partners add", "agreements list"}, nil, 7},
		{[]string{"federation", "--help"}, []string{"rabta federation key", "agreements create"}, nil, 7},
		{[]string{"federation", "help"}, []string{"rabta federation key"}, nil, 7},
		{[]string{"federation", "partners", "-h"}, []string{"partners add", "partners remove", "partners list"}, []string{"rabta federation agreements"}, 3},
		{[]string{"federation", "agreements", "--help"}, []string{"agreements create", "approve|revoke", "agreements list"}, []string{"rabta federation partners"}, 3},
		{[]string{"federation", "key", "-h"}, []string{"rabta federation key", "-data-dir", "-db", "-config"}, []string{"-nkey", "-url", "-ca", "-cert", "-pem", "-node"}, 1},
		{[]string{"federation", "key", "--data-dir", "x", "--help"}, []string{"rabta federation key"}, []string{"-nkey"}, 1},
		{[]string{"federation", "partners", "add", "--help"}, []string{"partners add", "-node", "-nkey", "-url", "-ca", "-cert", "-pem", "-data-dir"}, []string{"rabta federation agreements"}, 1},
		{[]string{"federation", "partners", "list", "-h"}, []string{"partners list", "-pem", "-data-dir"}, []string{"-nkey", "-url"}, 1},
		{[]string{"federation", "partners", "remove", "-h"}, []string{"partners remove NODE", "-data-dir"}, []string{"-nkey", "-pem"}, 1},
		{[]string{"federation", "agreements", "create", "-h"}, []string{"agreements create FILE", "-data-dir"}, []string{"-nkey", "-pem"}, 1},
		{[]string{"federation", "agreements", "approve", "-h"}, []string{"approve|revoke ID"}, []string{"-nkey"}, 1},
		{[]string{"federation", "agreements", "revoke", "--help"}, []string{"approve|revoke ID"}, []string{"-nkey"}, 1},
		{[]string{"federation", "agreements", "list", "-h"}, []string{"agreements list", "-data-dir"}, []string{"-nkey", "-pem"}, 1},
	} {
		out, errOut, err := inProcess(t, c.args...)
		name := strings.Join(c.args, " ")
		if err != nil {
			t.Errorf("rabta %s: %v %s; want the usage and success", name, err, errOut)
			continue
		}
		if n := strings.Count(out, "  rabta federation "); n != c.wantLines || !strings.HasPrefix(out, "usage:") {
			t.Errorf("rabta %s: %d usage lines, want %d:\n%s", name, n, c.wantLines, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("rabta %s: no %q in\n%s", name, w, out)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(out, w) {
				t.Errorf("rabta %s: %q, which is not its own, in\n%s", name, w, out)
			}
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("asking for help made %v", ents)
	}
	// as the newcomer ran it: exit status 0, the usage on stdout
	out, errOut, err := rabta(t, "federation", "agreements", "-h")
	if err != nil || !strings.Contains(out, "agreements create FILE") || strings.Contains(errOut, "no node") {
		t.Errorf("rabta federation agreements -h: %v\n%s%s", err, out, errOut)
	}
	// an unknown subcommand is refused, naming it, and opens nothing
	if _, _, err := inProcess(t, "federation", "partners", "rename", "--data-dir", filepath.Join(dir, "n")); err == nil || !strings.Contains(err.Error(), "unknown command 'federation partners rename'") {
		t.Errorf("federation partners rename: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "n")); !os.IsNotExist(err) {
		t.Errorf("an unknown subcommand made its data directory (%v)", err)
	}
}
