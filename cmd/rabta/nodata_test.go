package main

import (
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readOnly are the commands that read a node's store, or change what must be there already:
// run where there is no node, each says where it looked and how to name the right place, and
// makes nothing there (issue 11: `rabta federation agreements list` made ./rabta-data and
// printed []).
var readOnly = [][]string{
	{"keys", "list"}, {"keys", "revoke", "1"},
	{"audit", "verify"}, {"audit", "list"}, {"audit", "export", "--partner", "karachi"},
	{"orgs", "list-open"},
	{"rules", "list"}, {"rules", "changes", "r1"},
	{"forecast", "network", "show"},
	{"backup", "out.db"},
	{"federation", "key"},
	{"federation", "partners", "list"}, {"federation", "partners", "remove", "karachi"},
	{"federation", "agreements", "list"}, {"federation", "agreements", "approve", "1"}, {"federation", "agreements", "revoke", "1"},
	{"federation", "agreements", "create", "agreement.json"}, // it names a partner, an organisation and Datastreams of the node
	{"import", "observations", "obs.csv"},                    // into Datastreams that exist
}

func TestReadOnlyCommandsMakeNoNode(t *testing.T) {
	t.Chdir(t.TempDir()) // a directory with no node data, as a newcomer's
	if err := os.WriteFile("obs.csv", []byte("datastream,phenomenonTime,result\n1,2025-08-27T12:00:00Z,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RABTA_DATA_DIR", "")
	os.Unsetenv("RABTA_DATA_DIR")
	t.Setenv("RABTA_DB", "")
	os.Unsetenv("RABTA_DB")
	wd, _ := os.Getwd()
	for _, args := range readOnly {
		_, _, err := inProcess(t, args...)
		want := "no node in data directory " + filepath.Join(wd, "rabta-data")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "RABTA_DATA_DIR") {
			t.Errorf("rabta %s without --data-dir: %v; want %q and how to name it", strings.Join(args, " "), err, want)
		}
		if strings.Join(args, " ") == "federation key" && (err == nil || !strings.Contains(err.Error(), "'rabta federation key --data-dir DIR' makes DIR")) {
			t.Errorf("rabta federation key without --data-dir: %v; want it to say that key --data-dir makes a new node's directory", err)
		}
		if _, err := os.Stat("rabta-data"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("rabta %s made ./rabta-data (%v)", strings.Join(args, " "), err)
		}
	}
	// an existing directory without a node: the same, and no store made in it (rabta
	// federation key makes the node's key there: the directory is the node's, as the
	// setup in docs/federation.md has it before the node first runs)
	empty := t.TempDir()
	for _, args := range readOnly {
		if args[0] == "federation" && args[1] == "key" {
			continue
		}
		_, _, err := inProcess(t, append(args, "--data-dir", empty)...)
		if err == nil || !strings.Contains(err.Error(), "no node in data directory "+empty) {
			t.Errorf("rabta %s --data-dir EMPTY: %v; want it refused, naming the directory", strings.Join(args, " "), err)
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("the empty data directory after the read-only commands holds %v; want nothing", ents)
	}
	// a command that sets a node up makes it; then the read-only ones answer
	node := filepath.Join(t.TempDir(), "node")
	if _, _, err := inProcess(t, "keys", "create", "--org", "admin", "--role", "admin", "--data-dir", node); err != nil {
		t.Fatal(err)
	}
	if out, _, err := inProcess(t, "federation", "agreements", "list", "--data-dir", node); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("agreements list on a node: %q %v", out, err)
	}
}

// The read-only commands given an empty PostgreSQL database (--db, no Rabta tables) refuse it
// as they refuse a data directory without a node: naming the database (never its password)
// and making no tables there.
func TestReadOnlyCommandsMakeNoNodeOnPostgres(t *testing.T) {
	dsn := pgDatabase(t)
	tables := func() string {
		out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-Atc",
			"SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY 1) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	before := tables() // PostGIS's own, if any
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	want := "no node in PostgreSQL database " + u.User.Username() + "@" + u.Hostname() + ":" + u.Port() + u.Path
	t.Chdir(t.TempDir())
	if err := os.WriteFile("obs.csv", []byte("datastream,phenomenonTime,result\n1,2025-08-27T12:00:00Z,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// a well-formed agreement (the command reads its file before it opens the store): refused
	// for the store, not for the file
	if err := os.WriteFile("agreement.json", []byte(`{"providerOrganisation":"admin","consumerOrganisation":"admin","consumerNode":"karachi","selection":{"datastreams":[1]},"resolution":"raw","purpose":"x","validFrom":"2025-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range readOnly {
		if args[0] == "federation" && args[1] == "key" { // the node's key, in the data directory: no store
			continue
		}
		_, _, err := inProcess(t, append(args, "--db", dsn, "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--db URL") {
			t.Errorf("rabta %s --db EMPTY: %v; want %q and how to name it", strings.Join(args, " "), err, want)
		}
		if pw, ok := u.User.Password(); ok && err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("rabta %s --db EMPTY: the message holds the password: %v", strings.Join(args, " "), err)
		}
		if after := tables(); after != before {
			t.Fatalf("rabta %s made tables in the empty database: %s (before: %s)", strings.Join(args, " "), after, before)
		}
	}
	// a command that sets a node up makes it; then the read-only ones answer
	if _, _, err := inProcess(t, "keys", "create", "--org", "admin", "--role", "admin", "--db", dsn, "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if out, _, err := inProcess(t, "keys", "list", "--db", dsn, "--data-dir", dir); err != nil || !strings.Contains(out, "admin") {
		t.Errorf("keys list on a node in PostgreSQL: %q %v", out, err)
	}
}

// partners list prints each partner's certificates as subject, SHA-256 fingerprint and expiry,
// not PEM; --pem prints the whole records.
func TestPartnersListSummary(t *testing.T) {
	dir := t.TempDir()
	key := func(d string) string {
		out, _, err := inProcess(t, "federation", "key", "--data-dir", d)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", key(t.TempDir()), "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "node-cert.pem") // made by the first change (its audit entry is signed)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	sum := sha256.Sum256(blk.Bytes)
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02X", b))
	}
	out, _, err := inProcess(t, "federation", "partners", "add", "--node", "islamabad", "--nkey", key(t.TempDir()), "--url", "nats://127.0.0.1:4222", "--cert", certFile, "--data-dir", dir)
	if err != nil || strings.Contains(out, "BEGIN CERTIFICATE") || !strings.Contains(out, strings.Join(fp, ":")) {
		t.Errorf("partners add prints: %s %v; want the summary, not the PEM", out, err)
	}
	out, _, err = inProcess(t, "federation", "partners", "list", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []struct {
		Node, NKey, URL string
		Cert            []struct{ Subject, SHA256, NotAfter string }
	}
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(out, "BEGIN CERTIFICATE") || len(ps) != 2 || ps[0].Node != "islamabad" || ps[0].URL != "nats://127.0.0.1:4222" || len(ps[0].Cert) != 1 ||
		ps[0].Cert[0].Subject != "CN=rabta node local,O=Rabta" || ps[0].Cert[0].SHA256 != strings.Join(fp, ":") || !strings.HasPrefix(ps[0].Cert[0].NotAfter, "20") ||
		ps[1].Node != "karachi" || len(ps[1].Cert) != 0 {
		t.Errorf("partners list:\n%s", out)
	}
	out, _, err = inProcess(t, "federation", "partners", "list", "--pem", "--data-dir", dir)
	if err != nil || !strings.Contains(out, strings.ReplaceAll(strings.TrimSpace(string(certPEM)), "\n", `\n`)) {
		t.Errorf("partners list --pem: %s %v; want the PEM", out, err)
	}
}
