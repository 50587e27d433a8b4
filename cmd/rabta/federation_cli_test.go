package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/node"
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

// snapshot is every file under dir with its size, mode and modification time ("" when dir does
// not exist).
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v %d\n", strings.TrimPrefix(p, dir), fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A refused federation or keys command changes nothing: its arguments, files and keys are
// checked before the data directory is touched — no new directory, store, signing key, node id
// or audit entry (a newcomer's `partners add` with a missing --cert file made rabta.db, node-cert.pem
// and node-key.pem).
func TestRefusedCommandsChangeNothing(t *testing.T) {
	noDataDir(t)
	t.Setenv("RABTA_NODE_ID", "islamabad") // recorded by a command that goes ahead, not by a refused one
	tmp := t.TempDir()
	key := func() string {
		out, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	nk := key()
	agreement := filepath.Join(tmp, "a.json")
	os.WriteFile(agreement, []byte(`{"providerOrganisation":"admin","consumerOrganisation":"admin","consumerNode":"karachi","selection":{"datastreams":[1]},"resolution":"weekly","purpose":"x","validFrom":"2025-01-01T00:00:00Z"}`), 0o600)
	notPEM := filepath.Join(tmp, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	missing := filepath.Join(tmp, "missing.pem")

	add := []string{"federation", "partners", "add", "--node", "karachi", "--nkey", nk} // (islamabad is this node: RABTA_NODE_ID)
	refusedNew := []struct {
		args []string
		want string
	}{
		{append(add, "--cert", missing), "--cert: open " + missing},
		{append(add, "--url", "tls://127.0.0.1:4222", "--ca", missing), "--ca: open " + missing},
		{append(add, "--cert", notPEM), "partner: cert"},
		{append(add, "--url", "nats://127.0.0.1:4222", "--ca", notPEM), "partner: ca"},
		{append(add, "--url", "nats://islamabad.example.org:4222"), "partner: url"},
		{[]string{"federation", "partners", "add", "--node", "karachi", "--nkey", nk[:55] + map[bool]string{true: "B", false: "A"}[nk[55] == 'A']}, "partner: nkey"}, // the checksum broken
		{[]string{"federation", "partners", "add", "--node", "Islamabad", "--nkey", nk}, "partner: node"},
		{append(add, "extra"), `unexpected argument "extra"`},
		{[]string{"keys", "create", "--org", "admin", "--role", "boss"}, "role"},
		{[]string{"keys", "create", "--org", "pd ma", "--role", "admin"}, "character 3"},
		{[]string{"keys", "create", "--org", "admin", "--role", "admin", "--expires", "soon"}, "--expires"},
		{[]string{"keys", "create", "--org", "admin", "--role", "admin", "--name", "a\x01b"}, "control character"},
	}
	// a data directory that does not exist, then one that does but is empty: neither is touched
	for _, dir := range []string{filepath.Join(tmp, "new"), t.TempDir()} {
		before := snapshot(t, dir)
		for _, c := range refusedNew {
			_, _, err := inProcess(t, append(c.args, "--data-dir", dir)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("rabta %s: %v; want it refused with %q", strings.Join(c.args, " "), err, c.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatalf("the refused rabta %s changed the data directory:\nbefore:\n%s\nafter:\n%s", strings.Join(c.args, " "), before, after)
			}
		}
	}

	// a node (its store made by keys create, no signing key yet): each refused command leaves
	// it as it was
	nodeDir := filepath.Join(tmp, "node")
	if _, _, err := inProcess(t, "keys", "create", "--org", "admin", "--role", "admin", "--data-dir", nodeDir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(nodeDir, "node-id")); err != nil || strings.TrimSpace(string(b)) != "islamabad" {
		t.Errorf("the node id after the first command on a new node: %q %v (want islamabad recorded)", b, err)
	}
	refusedNode := append(refusedNew,
		struct {
			args []string
			want string
		}{[]string{"federation", "agreements", "create", agreement}, "resolution"},
		struct {
			args []string
			want string
		}{[]string{"federation", "agreements", "create", missing}, "open " + missing},
		struct {
			args []string
			want string
		}{[]string{"federation", "agreements", "create"}, "want one argument, not 0"},
		struct {
			args []string
			want string
		}{[]string{"federation", "agreements", "approve", "x"}, `agreement id "x"`},
		struct {
			args []string
			want string
		}{[]string{"federation", "agreements", "revoke", "1", "2"}, "want one argument, not 2"},
		struct {
			args []string
			want string
		}{[]string{"federation", "partners", "remove", "Karachi"}, `partner "Karachi"`},
		struct {
			args []string
			want string
		}{[]string{"federation", "key", "extra"}, `unexpected argument "extra"`},
	)
	before := snapshot(t, nodeDir)
	for _, c := range refusedNode {
		_, _, err := inProcess(t, append(c.args, "--data-dir", nodeDir)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rabta %s on a node: %v; want it refused with %q", strings.Join(c.args, " "), err, c.want)
		}
		if after := snapshot(t, nodeDir); after != before {
			t.Fatalf("the refused rabta %s changed the node's data directory:\nbefore:\n%s\nafter:\n%s", strings.Join(c.args, " "), before, after)
		}
	}
	// the same partner, given right, is added
	if _, _, err := inProcess(t, append(add, "--data-dir", nodeDir)...); err != nil {
		t.Errorf("partners add, right: %v", err)
	}
}

// rabta federation key, a new node's first step in docs/federation.md, makes the data
// directory it is told (--data-dir or RABTA_DATA_DIR) when new: its owner's only (0700, as
// serve makes it, which then has nothing to warn about), with the key 0600 and the node id
// given recorded; the same key on every later call. Without a data directory named it makes
// no ./rabta-data (TestReadOnlyCommandsMakeNoNode).
func TestFederationKeyMakesNamedDataDir(t *testing.T) {
	noDataDir(t)
	t.Setenv("RABTA_NODE_ID", "islamabad")
	byFlag := filepath.Join(t.TempDir(), "srv", "islamabad")
	byEnv := filepath.Join(t.TempDir(), "karachi")
	keyOf := func(args ...string) string {
		t.Helper()
		out, errOut, err := inProcess(t, append([]string{"federation", "key"}, args...)...)
		if err != nil {
			t.Fatalf("rabta federation key %s: %v %s", strings.Join(args, " "), err, errOut)
		}
		k := strings.TrimSpace(out)
		if len(k) != 56 || k[0] != 'U' {
			t.Errorf("rabta federation key %s printed %q, want a public nkey", strings.Join(args, " "), out)
		}
		return k
	}
	k := keyOf("--data-dir", byFlag)
	t.Setenv("RABTA_DATA_DIR", byEnv)
	keyOf()
	for _, dir := range []string{byFlag, byEnv} {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s after federation key: %v %v, want a directory 0700", dir, fi.Mode(), err)
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, "federation.nk")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("the key in %s: %v", dir, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "node-id")); err != nil || strings.TrimSpace(string(b)) != "islamabad" {
			t.Errorf("the node id recorded in %s: %q %v", dir, b, err)
		}
	}
	if again := keyOf("--data-dir", byFlag); again != k {
		t.Errorf("federation key again: %s, want %s", again, k)
	}
	// the next step of the setup on it works: the node's store is made there
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", keyOf("--data-dir", byEnv), "--data-dir", byFlag); err != nil {
		t.Errorf("partners add after federation key: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(byFlag, "rabta.db")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the store made after federation key: %v %v", fi, err)
	}
}

// docAgreement is the agreement docs/federation.md gives as its example (the first JSON block
// of its section "Agreements"): TestFederation runs it as its raw agreement.
func docAgreement(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/federation.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Agreements\n")
	if i < 0 {
		t.Fatal("docs/federation.md has no section Agreements")
	}
	s = s[i:]
	j := strings.Index(s, "```json\n")
	if j < 0 {
		t.Fatal("docs/federation.md: no JSON block in Agreements")
	}
	s = s[j+len("```json\n"):]
	k := strings.Index(s, "```")
	if k < 0 {
		t.Fatal("docs/federation.md: the agreement's JSON block does not end")
	}
	return s[:k]
}

// The example agreement of docs/federation.md does, for a newcomer who follows the doc, what
// the doc says: it parses, is valid for a while yet, and its retention keeps what it
// back-fills — the consumer keeps values whose phenomenonTime is within retention of now, so a
// retention shorter than the time since validFrom had the history purged ~30 s after it
// arrived (the example had validFrom 2025-01-01 and retention 30d). That it selects exactly
// Datastream 1 is TestFederation's, which runs it.
func TestDocsAgreementExample(t *testing.T) {
	a, err := federation.ParseAgreement([]byte(docAgreement(t)))
	if err != nil {
		t.Fatalf("the example agreement of docs/federation.md: %v", err)
	}
	soon := time.Now().AddDate(1, 0, 0) // the doc should hold a year from now
	if a.ValidUntil != nil && a.ValidUntil.Before(soon) {
		t.Errorf("the example's validUntil %s: it expires within a year", a.ValidUntil)
	}
	if r := time.Duration(a.Retention); r > 0 && a.ValidFrom.Before(soon.Add(-r)) {
		t.Errorf("the example's retention %s does not reach back to its validFrom %s: the back-filled history would be purged on arrival", a.Retention, a.ValidFrom.Format(time.RFC3339))
	}
	if len(a.Selection.ObservedProperties) > 0 && len(a.Selection.Things)+len(a.Selection.Datastreams) > 1 {
		t.Errorf("the example narrows %v by observedProperties %v: deep-inserted stations have an ObservedProperty each (docs/federation.md)", a.Selection, a.Selection.ObservedProperties)
	}
}

// TestPartnersAddRefusesItself: the command line, like the API, refuses the node itself as a
// partner — by its own id, or by its own key under another name (the walkthrough registered
// islamabad with islamabad).
func TestPartnersAddRefusesItself(t *testing.T) {
	noDataDir(t)
	dir := t.TempDir()
	t.Setenv("RABTA_NODE_ID", "islamabad")
	out, _, err := inProcess(t, "federation", "key", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	own := strings.TrimSpace(out)
	other, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"--node", "islamabad", "--nkey", strings.TrimSpace(other)}},
		{[]string{"--node", "lahore", "--nkey", own}},
	} {
		_, _, err := inProcess(t, append(append([]string{"federation", "partners", "add"}, c.args...), "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), "itself") && !strings.Contains(err.Error(), "own public key") {
			t.Errorf("partners add %v on islamabad: %v, want refused as the node itself", c.args, err)
		}
	}
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", strings.TrimSpace(other), "--data-dir", dir); err != nil {
		t.Errorf("another node as a partner: %v", err)
	}
}

// TestPartnersAddAgainUpdates: adding a partner that exists updates it — a new key replaces
// the old one, and what is not given (url, cert) keeps its stored value — says so, and prints
// what is stored, with the original created time.
func TestPartnersAddAgainUpdates(t *testing.T) {
	noDataDir(t)
	dir := t.TempDir()
	t.Setenv("RABTA_NODE_ID", "islamabad")
	key := func() string {
		out, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	// the first add makes this node's certificate: karachi's, for the test
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "lahore", "--nkey", key(), "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "node-cert.pem")
	add := func(args ...string) (federation.PartnerSummary, string) {
		t.Helper()
		out, errOut, err := inProcess(t, append(append([]string{"federation", "partners", "add", "--node", "karachi"}, args...), "--data-dir", dir)...)
		if err != nil {
			t.Fatalf("partners add %v: %v", args, err)
		}
		var p federation.PartnerSummary
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("partners add %v printed %q: %v", args, out, err)
		}
		return p, errOut
	}
	first, errOut := add("--nkey", key(), "--url", "nats://127.0.0.1:4222", "--cert", cert)
	if strings.Contains(errOut, "updated") || first.URL == "" || len(first.Cert) != 1 {
		t.Fatalf("first add: %+v, stderr %q", first, errOut)
	}
	k2 := key()
	time.Sleep(10 * time.Millisecond)
	second, errOut := add("--nkey", k2)
	if !strings.Contains(errOut, "partner karachi updated") {
		t.Errorf("second add's stderr %q: want it to say the partner was updated", errOut)
	}
	if second.NKey != k2 || second.URL != "nats://127.0.0.1:4222" || len(second.Cert) != 1 || !second.Created.Equal(first.Created) {
		t.Errorf("second add printed %+v, want the new key with the stored url, cert and created %v", second, first.Created)
	}
	out, _, err := inProcess(t, "federation", "partners", "list", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []federation.PartnerSummary
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Node == "karachi" && !reflect.DeepEqual(p, second) {
			t.Errorf("stored %+v, printed %+v", p, second)
		}
	}
}

// TestPartnersAddRefusesUserInfo: a URL with a user and password is refused for that reason
// (not as "not loopback"), and the error does not repeat the password.
func TestPartnersAddRefusesUserInfo(t *testing.T) {
	noDataDir(t)
	dir := t.TempDir()
	t.Setenv("RABTA_NODE_ID", "islamabad")
	nk, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", strings.TrimSpace(nk), "--url", "nats://user:s3cret@127.0.0.1:4222", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "partners log in with their nkey: leave user and password out of the URL") {
		t.Errorf("partners add with user info: %v", err)
	}
	if strings.Contains(fmt.Sprint(err)+out+errOut, "s3cret") {
		t.Errorf("the password is repeated: %v %q %q", err, out, errOut)
	}
}

// TestPartnersAddWarnsWithoutNodeID: partners add on a node with no id (docs/federation.md
// step 0 missed) says so on stderr — the node is "local", its certificate named for it, and
// how to set the id; with an id it says nothing of the kind.
func TestPartnersAddWarnsWithoutNodeID(t *testing.T) {
	noDataDir(t)
	t.Setenv("RABTA_NODE_ID", "")
	os.Unsetenv("RABTA_NODE_ID")
	nk, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, errOut, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", strings.TrimSpace(nk), "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"this node has no id yet", `"local"`, "CN=rabta node local", "RABTA_NODE_ID=", "step 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("partners add without a node id: stderr %q, want it to name %q", errOut, want)
		}
	}
	t.Setenv("RABTA_NODE_ID", "islamabad")
	_, errOut, err = inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", strings.TrimSpace(nk), "--data-dir", t.TempDir())
	if err != nil || strings.Contains(errOut, "no id") {
		t.Errorf("partners add with a node id: %v, stderr %q", err, errOut)
	}
}

// Removing, on a receiving node, a partner it receives agreements from stops them: the command
// says so on stderr, naming them (a newcomer removed the provider and saw nothing).
func TestPartnersRemoveWarnsOfReceived(t *testing.T) {
	noDataDir(t)
	dir := t.TempDir()
	t.Setenv("RABTA_NODE_ID", "karachi")
	pub, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir()) // islamabad's
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "islamabad", "--nkey", strings.TrimSpace(pub), "--url", "nats://127.0.0.1:4222", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	stores, err := node.OpenStores(t.Context(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = stores.Federation.SaveReceived(t.Context(), "islamabad", map[int64]federation.ReceivedState{3: federation.ReceivedActive, 4: federation.ReceivedEnded, 5: federation.ReceivedActive}, nil, time.Now())
	stores.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := inProcess(t, "federation", "partners", "remove", "islamabad", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "partner islamabad removed") ||
		!strings.Contains(errOut, "warning: this node received agreements 3, 5 from islamabad: nothing more arrives under them") {
		t.Errorf("partners remove islamabad: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
}
