package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
)

// TestExporter checks the provider's exporter with three raw agreements over two Datastreams:
// A (Datastream 1) and B (by Thing: Datastream 2) get their history from validFrom and what
// follows, each value once, in order, and nothing of the other's Datastream; C (Datastream 1,
// embargoed an hour) gets nothing yet. The cursors reach the last Observation in the store,
// and the audit log holds export.batch entries whose values add up to what was sent, on a
// chain that verifies.
func TestExporter(t *testing.T) {
	t.Parallel()
	dir, pdir := t.TempDir(), t.TempDir()
	ecdsaSigningPair(t, dir) // not the RSA key a node makes: seconds under -race on a busy machine
	t0 := time.Now()
	p, err := New(t.Context(), Options{ID: "islamabad", DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		AdminKey: benchKey, Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 2 { // Things 1 and 2, Datastreams 1 and 2
		req, _ := http.NewRequest("POST", "http://"+p.Addr().String()+"/v1.1/Things", strings.NewReader(benchGauge))
		req.Header.Set("Authorization", "Bearer "+benchKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("create: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	ctx := context.Background()
	now := time.Now().UTC()
	t.Logf("node started in %s", time.Since(t0).Round(time.Millisecond))
	ingest := func(ds int64, n int, at time.Time) []int64 {
		obs := make([]sensing.Observation, n)
		for i := range obs {
			v := float64(i)
			ti := at.Add(time.Duration(i) * time.Second)
			obs[i] = sensing.Observation{DatastreamID: ds, PhenStart: ti, PhenEnd: ti, PhenText: ti.Format(time.RFC3339Nano), ResultNum: &v}
		}
		ids, errs, err := p.ingest.Ingest(ctx, "test", obs)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				t.Fatal(e)
			}
		}
		return ids
	}
	old := ingest(1, 2, now.Add(-2*time.Hour)) // before validFrom: not shared
	want := map[string][]int64{"A": ingest(1, 5, now.Add(-30*time.Minute)), "B": ingest(2, 3, now.Add(-30*time.Minute))}

	pkey, err := FedPublicKey(pdir)
	if err != nil {
		t.Fatal(err)
	}
	svc := p.fed.svc
	if err := svc.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: pkey}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, x := range []struct {
		name    string
		sel     federation.Selection
		embargo time.Duration
	}{{"A", federation.Selection{Datastreams: []int64{1}}, 0}, {"B", federation.Selection{Things: []int64{2}}, 0},
		{"C", federation.Selection{Datastreams: []int64{1}}, time.Hour}} {
		a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: x.sel,
			Resolution: federation.Raw, Embargo: federation.Duration(x.embargo), Purpose: "test " + x.name, ValidFrom: now.Add(-time.Hour)}
		if err := svc.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Approve(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		ids[x.name] = a.ID
	}
	want["A"] = append(want["A"], ingest(1, 4, now)...)
	want["B"] = append(want["B"], ingest(2, 2, now)...)
	last := want["B"][len(want["B"])-1]

	seed, err := FedSeed(pdir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := bus.Dial(p.NATSURL(), "islamabad", "karachi", seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := map[string][]int64{}
	deadline := time.Now().Add(15 * time.Second)
	for name, id := range ids {
		got[name] = fetchValues(t, l, id, nil, len(want[name]), deadline)
	}
	if msgs, _ := l.Fetch(ctx, ids["A"], 100, 300*time.Millisecond); len(msgs) != 0 { // nothing twice
		t.Errorf("A: %d more values after the %d expected", len(msgs), len(want["A"]))
	}
	for _, name := range []string{"A", "B", "C"} {
		if fmt.Sprint(got[name]) != fmt.Sprint(want[name]) {
			t.Errorf("agreement %s got Observations %v, want %v (not %v: before validFrom)", name, got[name], want[name], old)
		}
	}

	// the cursors reach the last Observation (saved within a second), the audit batches add up
	var cur map[int64]int64
	var sums map[int64]int
	for time.Now().Before(deadline) {
		if cur, err = p.stores.Federation.Cursors(ctx); err != nil {
			t.Fatal(err)
		}
		recs, err := p.audit.List(ctx, 1, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		sums = map[int64]int{}
		for _, r := range recs {
			if r.Kind == "export.batch" {
				var d struct{ Agreement, Values int64 }
				if err := json.Unmarshal(r.Detail, &d); err != nil {
					t.Fatal(err)
				}
				sums[d.Agreement] += int(d.Values)
			}
		}
		if cur[ids["A"]] == last && cur[ids["B"]] == last && sums[ids["A"]] == len(want["A"]) && sums[ids["B"]] == len(want["B"]) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cur[ids["A"]] != last || cur[ids["B"]] != last || cur[ids["C"]] >= want["A"][0] {
		t.Errorf("cursors %v: want A and B at %d, C before %d (embargoed)", cur, last, want["A"][0])
	}
	if sums[ids["A"]] != len(want["A"]) || sums[ids["B"]] != len(want["B"]) || sums[ids["C"]] != 0 {
		t.Errorf("export.batch values by agreement: %v, want A %d, B %d, C 0", sums, len(want["A"]), len(want["B"]))
	}
	// an agreement whose validUntil passes expires, recorded once in the audit log
	until := time.Now().Add(1500 * time.Millisecond)
	d := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "test D", ValidFrom: now.Add(-time.Hour), ValidUntil: &until}
	if err := svc.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	expiries := func() (n int) {
		recs, _ := p.audit.List(ctx, 1, 0, 10000)
		for _, r := range recs {
			if r.Kind == "agreement.expire" && r.Subject == fmt.Sprintf("agreement/%d", d.ID) {
				n++
			}
		}
		return n
	}
	for dl := time.Now().Add(10 * time.Second); expiries() == 0 && time.Now().Before(dl); time.Sleep(100 * time.Millisecond) {
	}
	time.Sleep(1500 * time.Millisecond) // more export rounds: still once
	if n := expiries(); n != 1 {
		t.Errorf("agreement.expire entries for agreement %d: %d, want 1", d.ID, n)
	}
	if got, _ := p.stores.Federation.Agreement(ctx, d.ID); got.State != federation.Expired {
		t.Errorf("agreement %d after its validUntil: %s", d.ID, got.State)
	}
	if rep, err := p.audit.Verify(ctx); err != nil || rep.Problem != nil {
		t.Errorf("audit verify: %+v %v", rep.Problem, err)
	}
	t.Logf("checked in %s", time.Since(t0).Round(time.Millisecond))
}

// fetchValues fetches agreement id's messages over l, acknowledging them, until got (what
// was fetched before) holds n provider Observation ids or deadline passes; it returns got
// with what it fetched appended, in the order fetched.
func fetchValues(t *testing.T, l *bus.Link, id int64, got []int64, n int, deadline time.Time) []int64 {
	t.Helper()
	for len(got) < n && time.Now().Before(deadline) {
		msgs, err := l.Fetch(t.Context(), id, 100, 200*time.Millisecond)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the stream, or the permission, not there yet
			continue
		}
		for _, fm := range msgs {
			ms, err := federation.DecodeMessages(fm.Data)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				got = append(got, m.Observation)
			}
		}
		if err := l.Ack(t.Context(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// ecdsaSigningPair writes an ECDSA P-256 signing key and its self-signed certificate where a
// node looks for its own (node-key.pem, node-cert.pem in dir).
func ecdsaSigningPair(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabta node islamabad"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node-cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Many makers of the node's federation key at once, as the server starting and `rabta
// federation key` run together: all get the same whole seed (one read a file made but not yet
// written, and failed the node's start or a partner's registration).
func TestFedSeedMadeOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	seeds := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seeds[i], errs[i] = FedSeed(dir)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || len(seeds[i]) == 0 || string(seeds[i]) != string(seeds[0]) {
			t.Fatalf("maker %d: %q %v; maker 0: %q", i, seeds[i], errs[i], seeds[0])
		}
	}
	if _, err := nkeys.FromSeed(seeds[0]); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files left: %d, want the key alone", len(ents))
	}
	if fi, err := os.Stat(filepath.Join(dir, FedKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
}
