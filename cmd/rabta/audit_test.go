package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// The audit commands as an operator and a partner run them: opening an organisation's data
// (rabta orgs open) is recorded; rabta audit verify says the chain verifies and who signed its
// head; rabta audit export writes the partner's proof, which rabta audit verify-proof accepts
// with the node's certificate and refuses with another (exit 1); after a row is edited in the
// database, rabta audit verify exits 1 naming the entry.
func TestAuditCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, org := range []string{"pmd", "ndma"} {
		if _, errb, err := rabta(t, "keys", "create", "--data-dir", dir, "--org", org, "--role", "viewer"); err != nil { // an organisation comes into being with its first key
			t.Fatalf("keys create %s: %v\n%s", org, err, errb)
		}
		if out, errb, err := rabta(t, "orgs", "open", "--data-dir", dir, org); err != nil || !strings.Contains(out, "organisation "+org+"'s data is now open") {
			t.Fatalf("orgs open %s: %v\n%s%s", org, err, out, errb)
		}
	}
	out, errb, err := rabta(t, "audit", "verify", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "chain of 2 entries verifies, head signed by CN=rabta node local,O=Rabta") {
		t.Fatalf("audit verify: %v\n%s%s", err, out, errb)
	}
	if out, _, err := rabta(t, "audit", "list", "--data-dir", dir); err != nil || !strings.Contains(out, "1\t") || !strings.Contains(out, "organisation.open\tnode\torganisation/ndma") {
		t.Errorf("audit list: %v\n%s", err, out)
	}
	if out, errb, _ := rabta(t, "audit", "export", "-h"); strings.Contains(out+errb, "-cert") || !strings.Contains(out+errb, "-partner") {
		t.Errorf("audit export -h lists verify-proof's --cert, or not its own --partner:\n%s%s", out, errb)
	}
	if out, errb, _ := rabta(t, "audit", "verify-proof", "-h"); !strings.Contains(out+errb, "-cert") {
		t.Errorf("audit verify-proof -h does not list --cert:\n%s%s", out, errb)
	}
	proof, errb, err := rabta(t, "audit", "export", "--data-dir", dir, "--partner", "ndma")
	if err != nil {
		t.Fatalf("audit export: %v %s", err, errb)
	}
	pf := filepath.Join(t.TempDir(), "proof.json")
	os.WriteFile(pf, []byte(proof), 0o644)
	if out, errb, err := rabta(t, "audit", "verify-proof", "--cert", filepath.Join(dir, "node-cert.pem"), pf); err != nil ||
		!strings.Contains(out, "proof verifies: 1 entries concerning ndma, chain to entry 2 signed by CN=rabta node local,O=Rabta") {
		t.Errorf("verify-proof with the node's certificate: %v\n%s%s", err, out, errb)
	}
	other := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(other, otherCert(t), 0o644)
	if out, errb, err := rabta(t, "audit", "verify-proof", "--cert", other, pf); exitStatus(err) != 1 || !strings.Contains(errb, "signature") {
		t.Errorf("verify-proof with another certificate: exit %d\n%s%s", exitStatus(err), out, errb)
	}

	// the database's owner edits an entry: verify names it
	editAuditEntry(t, dir, 1)
	out, errb, err = rabta(t, "audit", "verify", "--data-dir", dir)
	if exitStatus(err) != 1 || !strings.Contains(errb, "audit entry 1: edited") {
		t.Errorf("verify after an edit: exit %d\n%s%s", exitStatus(err), out, errb)
	}
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return -1
}

// otherCert is a PEM certificate of another signer.
func otherCert(t *testing.T) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "impostor"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// editAuditEntry changes audit entry seq's subject in dir's database behind the log's back, as
// the database's owner could.
func editAuditEntry(t *testing.T, dir string, seq int) {
	t.Helper()
	ctx := t.Context()
	var eng interface {
		sqlq.Engine
		Close() error
	}
	if dsn := dbFor[dir]; dsn != "" {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		eng = db
	} else {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		eng = db
	}
	defer eng.Close()
	if err := eng.Write(ctx, func(tx sqlq.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE audit_log SET subject = 'organisation/someone-else' WHERE seq = ?`, seq)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNodeIDRecorded: the first command run with the node's id (RABTA_NODE_ID) records it in
// the data directory; a later command given none runs as that node (its audit heads, its
// certificate), and one given another id is refused, naming both, and changes nothing.
func TestNodeIDRecorded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(id string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--data-dir", dir)...)
		cmd.Env = append(os.Environ(), storeEnv(t, dir, nil)...)
		if id != "" {
			cmd.Env = append(cmd.Env, "RABTA_NODE_ID="+id)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, org := range []string{"pmd", "ndma"} {
		if out, err := run("islamabad", "keys", "create", "--org", org, "--role", "viewer"); err != nil {
			t.Fatalf("keys create %s as islamabad: %v %s", org, err, out)
		}
	}
	if out, err := run("islamabad", "orgs", "open", "pmd"); err != nil {
		t.Fatalf("orgs open as islamabad: %v %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node-id")); err != nil || strings.TrimSpace(string(b)) != "islamabad" {
		t.Fatalf("node-id: %q %v", b, err)
	}
	if out, err := run("", "audit", "verify"); err != nil || !strings.Contains(out, "head signed by CN=rabta node islamabad,O=Rabta") {
		t.Errorf("audit verify with no id given: %v %s", err, out)
	}
	out, err := run("karachi", "orgs", "open", "ndma")
	if err == nil || !strings.Contains(out, `belongs to node "islamabad"`) || !strings.Contains(out, `not "karachi"`) {
		t.Errorf("a command as another node: %v %s", err, out)
	}
	if out, err := run("", "orgs", "list-open"); err != nil || strings.Contains(out, "ndma") {
		t.Errorf("the refused command changed something: %v %s", err, out)
	}
}
