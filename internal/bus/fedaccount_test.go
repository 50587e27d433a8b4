package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// fedStore answers the bus's questions about partners from a real store, as the node does.
type fedStore struct{ f *sqlq.Federation }

func (s fedStore) PartnerByNKey(ctx context.Context, key string) (string, error) {
	return s.f.PartnerByNKey(ctx, key)
}

func (s fedStore) AgreementsFor(ctx context.Context, node string) ([]int64, error) {
	all, err := s.f.Agreements(ctx)
	ids := []int64{}
	for _, a := range all {
		if a.ConsumerNode == node && a.Active(time.Now()) {
			ids = append(ids, a.ID)
		}
	}
	return ids, err
}

// fedSetup is a provider node "prov" with partners karachi (one approved agreement) and
// beijing (none), in a SQLite store; the seeds are the partners' nkeys.
func fedSetup(t *testing.T, o Options) (b *Bus, f *sqlq.Federation, agreement int64, kSeed, bSeed []byte) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f = sqlq.NewFederation(db)
	seed := func(node string) []byte {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		if err := f.AddPartner(ctx, &federation.Partner{Node: node, NKey: pub, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		s, _ := kp.Seed()
		return s
	}
	kSeed, bSeed = seed("karachi"), seed("beijing")
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi",
		Selection: federation.Selection{Datastreams: []int64{1}}, Resolution: federation.Raw, Purpose: "test",
		ValidFrom: time.Now().Add(-time.Hour), State: federation.Proposed, CreatedBy: "cli", CreatedAt: time.Now()}
	if err := f.CreateAgreement(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := f.SetState(ctx, a.ID, federation.Proposed, federation.Approved, "cli", time.Now()); err != nil {
		t.Fatal(err)
	}
	o.Node, o.DataDir, o.ClientAddr, o.Partners = "prov", t.TempDir(), "127.0.0.1:0", fedStore{f}
	b, err = Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.ServeFedList(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureFed(ctx, a.ID, "karachi", time.Hour); err != nil {
		t.Fatal(err)
	}
	return b, f, a.ID, kSeed, bSeed
}

// The account boundary holds on its own (the partners' per-user permissions are off here): a
// partner logs in to an account that imports its own agreements' consumer and nothing else.
// Karachi fetches and acknowledges its agreement's values; beijing (no agreement) gets nothing
// by fetching karachi's consumer, by the JetStream API of the node's account ($JS.API, and
// $JS.prov.API of its domain) or by subscribing to '>'; neither does karachi outside its
// agreement. Once the agreement is revoked karachi's new session fetches nothing, although the
// stream still holds a value: the new account does not import it.
func TestPartnerAccounts(t *testing.T) {
	ctx := t.Context()
	b, f, id, kSeed, bSeed := fedSetup(t, Options{})
	b.fmu.Lock()
	b.noPartnerPerms = true
	b.fmu.Unlock()
	for i := range 3 {
		if err := b.PublishFed(ctx, id, "m"+string(rune('0'+i)), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	kar, err := Dial(b.ClientURL(), "prov", "karachi", kSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kar.Close()
	bei, err := Dial(b.ClientURL(), "prov", "beijing", bSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bei.Close()

	// beijing (and karachi, off its agreement) subscribe to what they may not see
	var subs []*nats.Subscription
	for _, c := range []struct {
		l    *Link
		subj string
	}{{bei, ">"}, {kar, "rabta.>"}, {kar, "$JS.EVENT.>"}, {kar, "$MQTT.>"}} {
		s, err := c.l.Raw().SubscribeSync(c.subj)
		if err != nil {
			t.Fatal(err)
		}
		c.l.Raw().Flush()
		subs = append(subs, s)
	}

	if ids, err := kar.Agreements(ctx); err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("karachi's agreements: %v %v", ids, err)
	}
	msgs, err := kar.Fetch(ctx, id, 10, 2*time.Second)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("karachi fetched %d values, err %v (want 3)", len(msgs), err)
	}
	if err := kar.Ack(ctx, msgs); err != nil {
		t.Errorf("karachi's ack: %v", err)
	}
	if ids, err := bei.Agreements(ctx); err != nil || len(ids) != 0 {
		t.Errorf("beijing's agreements: %v %v (want none)", ids, err)
	}
	if err := b.PublishFed(ctx, id, "m3", []byte("value")); err != nil {
		t.Fatal(err)
	}
	if msgs, err := bei.Fetch(ctx, id, 10, 500*time.Millisecond); len(msgs) > 0 {
		t.Errorf("beijing fetched %d of karachi's values (err %v)", len(msgs), err)
	}
	for _, l := range []*Link{bei, kar} {
		for _, subj := range []string{"$JS.API.STREAM.LIST", "$JS.API.INFO", "$JS.prov.API.STREAM.LIST", "$JS.API.STREAM.INFO." + FedStream("prov", id),
			"$JS.API.CONSUMER.MSG.NEXT." + FedStream("prov", id) + ".beijing"} {
			if m, err := l.Raw().Request(subj, nil, 150*time.Millisecond); err == nil {
				t.Errorf("%s's request %s was answered: %s", l.node, subj, m.Data)
			}
		}
	}
	b.nc.Publish(ObsSubject("prov", 1), []byte("obs"))
	b.nc.Flush()
	time.Sleep(200 * time.Millisecond)
	for _, s := range subs {
		for m, err := s.NextMsg(10 * time.Millisecond); err == nil; m, err = s.NextMsg(10 * time.Millisecond) {
			if !strings.HasPrefix(m.Subject, inboxPrefix("beijing")+".") { // (the answers to its own requests)
				t.Errorf("a partner's subscription to %s got %s %s", s.Subject, m.Subject, m.Data)
			}
		}
	}

	// revoked: karachi's next session is in an account without the import
	if err := f.SetState(ctx, id, federation.Approved, federation.Revoked, "cli", time.Now()); err != nil {
		t.Fatal(err)
	}
	b.ReauthPartners("karachi")
	time.Sleep(300 * time.Millisecond)
	var ids []int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ids, err = kar.Agreements(ctx); err == nil {
			break
		}
	}
	if err != nil || len(ids) != 0 {
		t.Errorf("karachi's agreements after revocation: %v %v", ids, err)
	}
	if msgs, err := kar.Fetch(ctx, id, 10, 500*time.Millisecond); len(msgs) > 0 {
		t.Errorf("karachi fetched %d values after revocation (err %v)", len(msgs), err)
	}
	if info, err := b.js.Stream(ctx, FedStream("prov", id)); err != nil || info.CachedInfo().State.Msgs != 4 {
		t.Errorf("the stream: %v (want it still there with 4 values, the last not fetched)", err)
	}
}

// testCert makes a CA and a certificate it signs for 127.0.0.1, written as PEM files into dir:
// ca.pem, cert.pem, key.pem.
func testCert(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "prov"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	for name, blk := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A partner's link over TLS: with the provider's CA it works; with another CA it is refused;
// in clear (nats://) it is refused, the listener being TLS-only.
func TestFederationTLS(t *testing.T) {
	good, bad := t.TempDir(), t.TempDir()
	testCert(t, good)
	testCert(t, bad)
	logs := &logBuf{}
	b, _, id, kSeed, _ := fedSetup(t, Options{TLS: TLSFiles{Cert: filepath.Join(good, "cert.pem"), Key: filepath.Join(good, "key.pem")},
		Log: slog.New(slog.NewJSONHandler(logs, nil))})
	u := strings.Replace(b.ClientURL(), "nats://", "tls://", 1)
	ca, _ := os.ReadFile(filepath.Join(good, "ca.pem"))
	other, _ := os.ReadFile(filepath.Join(bad, "ca.pem"))
	l, err := Dial(u, "prov", "karachi", kSeed, ca)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ids, err := l.Agreements(t.Context()); err != nil || len(ids) != 1 || ids[0] != id {
		t.Errorf("agreements over TLS with the provider's CA: %v %v", ids, err)
	}
	for name, c := range map[string]struct {
		url string
		ca  []byte
	}{"another CA": {u, other}, "no TLS": {b.ClientURL(), nil}} {
		l, err := Dial(c.url, "prov", "karachi", kSeed, c.ca)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
		if ids, err := l.Agreements(ctx); err == nil {
			t.Errorf("%s: agreements %v, want the link refused", name, ids)
		}
		cancel()
		l.Close()
	}
	// the refused handshakes, retried, are logged once (a newcomer's provider logged four a second)
	if n := strings.Count(logs.String(), "TLS handshake error"); n != 1 || !strings.Contains(logs.String(), "bus_tls_handshake_failed") {
		t.Errorf("failed TLS handshakes logged %d times, want once:\n%s", n, logs.String())
	}
	if _, err := Dial(u, "prov", "karachi", kSeed, []byte("not PEM")); err == nil || !strings.Contains(err.Error(), "ca") {
		t.Errorf("a CA that is not PEM: %v", err)
	}
}

// A link that no longer logs in (a partner removed, retrying with its nkey) is refused at each
// try, and the refusals are logged once, not at every retry (a newcomer's provider logged an
// ERROR every two seconds).
func TestFederationAuthFailuresLoggedOnce(t *testing.T) {
	logs := &logBuf{}
	b, _, _, _, _ := fedSetup(t, Options{Log: slog.New(slog.NewJSONHandler(logs, nil))})
	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := stranger.Seed()
	l, err := Dial(b.ClientURL(), "prov", "karachi", seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if ids, err := l.Agreements(ctx); err == nil {
		t.Errorf("agreements %v for an nkey no partner has", ids)
	}
	time.Sleep(time.Second) // (the link retries 250 ms, 500 ms, 1 s apart: four or five attempts in all)
	out := logs.String()
	if n := strings.Count(out, "authentication error"); n != 1 || !strings.Contains(out, "bus_authentication_failed") {
		t.Errorf("failed logins logged %d times, want once:\n%s", n, out)
	}
	// the refusal of the key itself: once per key in 10 s too, naming the key (public)
	pub, _ := stranger.PublicKey()
	if n := strings.Count(out, "bus_partner_refused"); n != 1 || !strings.Contains(out, pub) {
		t.Errorf("the stranger's refusal logged %d times, want once with its key:\n%s", n, out)
	}
}

func TestFedListener(t *testing.T) {
	for _, c := range []struct {
		addr string
		tls  bool
		ok   bool
	}{
		{"127.0.0.1:4222", false, true}, {"[::1]:4222", false, true}, {"localhost:4222", false, true}, {"", false, true},
		{"0.0.0.0:4222", false, false}, {":4222", false, false}, {"192.0.2.7:4222", false, false},
		{"0.0.0.0:4222", true, true},
	} {
		if err := fedListener(c.addr, c.tls); (err == nil) != c.ok {
			t.Errorf("fedListener(%q, tls %v): %v", c.addr, c.tls, err)
		} else if err != nil && !strings.Contains(err.Error(), "federation_tls_cert") {
			t.Errorf("fedListener(%q): %v (want it to name federation_tls_cert)", c.addr, err)
		}
	}
	if _, err := (TLSFiles{Cert: "x.pem"}).config(); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("a certificate without a key: %v", err)
	}
	if _, err := (TLSFiles{Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem"}).config(); err == nil || !strings.Contains(err.Error(), "/nonexistent/c.pem") {
		t.Errorf("missing files: %v", err)
	}
}

// A node that kept its streams in the global account before accounts (a NATS server with no
// accounts) finds them in its own account after the upgrade.
func TestGlobalStoreMoved(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: filepath.Join(dir, "nats"), DontListen: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OLD", Subjects: []string{"old.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "old.1", []byte("kept")); err != nil || s == nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	b, err := Open(t.Context(), Options{Node: "n1", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.js.Stream(t.Context(), "OLD")
	if err != nil || st.CachedInfo().State.Msgs != 1 {
		t.Fatalf("the old stream in the node's account: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats", "jetstream", "n1")); err != nil {
		t.Errorf("the node's account's directory: %v", err)
	}
}

// A link whose logins are refused keeps trying, fewer times as it goes on, and comes up once
// the provider registers its key (a newcomer's link died for good after two refusals: the
// partner removed and added again, or a key registered with a typo and then corrected); the
// trouble is logged once, the recovery once.
func TestLinkSurvivesRefusedLogins(t *testing.T) {
	b, f, _, _, _ := fedSetup(t, Options{})
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	logs := &logBuf{}
	l, err := DialLog(b.ClientURL(), "prov", "lahore", seed, nil, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	time.Sleep(2 * time.Second) // refused, again and again: 250 ms, 500 ms, 1 s apart
	if _, err := l.Agreements(t.Context()); err == nil {
		t.Fatal("an unregistered key was served")
	}
	if !l.Refused() {
		t.Error("the link does not say its login is refused")
	}
	if err := f.AddPartner(t.Context(), &federation.Partner{Node: "lahore", NKey: pub, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := l.Agreements(t.Context()); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the link did not come up after the key was registered: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the connection's handlers log asynchronously: the up line may come just after the reply
	for end := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "federation_link_up") && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if l.Refused() {
		t.Error("the link, up again, still says its login is refused")
	}
	out := logs.String()
	if n := strings.Count(out, "federation_link_down"); n != 1 || strings.Count(out, "federation_link_up") != 1 {
		t.Errorf("logged %d federation_link_down (want 1, at most one a minute) and %d up:\n%s", n, strings.Count(out, "federation_link_up"), out)
	}
	for n, want := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second, 4: 2 * time.Second, 10: 2 * time.Second} {
		if got := linkRetry(n); got != want {
			t.Errorf("retry %d after %v, want %v", n, got, want)
		}
	}
	// a login the provider refuses: on doubling, up to a minute
	for n, want := range map[int]time.Duration{4: 2 * time.Second, 5: 4 * time.Second, 8: 32 * time.Second, 9: time.Minute, 20: time.Minute} {
		if got := linkRetryUpTo(n, linkRefusedMax); got != want {
			t.Errorf("refused: retry %d after %v, want %v", n, got, want)
		}
	}
}

// What a link logs of the provider's normal doings is INFO, not WARN: the provider closing
// its partners' sessions as their agreements change (federation_link_reconnecting, then up
// again), and refusing the consumer of an agreement it no longer offers
// (federation_agreement_not_offered, naming it). A newcomer saw a WARN at every approve and
// revoke, with a hint that the provider was down.
func TestLinkLogsAgreementChangesAtInfo(t *testing.T) {
	b, _, _, kSeed, _ := fedSetup(t, Options{})
	logs := &logBuf{}
	l, err := DialLog(b.ClientURL(), "prov", "karachi", kSeed, nil, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitLog := func(what string, n int) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); strings.Count(logs.String(), what) < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no %d× %s:\n%s", n, what, logs.String())
			}
		}
	}
	waitLog("federation_link_up", 1)
	b.ReauthPartners("karachi") // what the provider does when karachi's agreements change
	waitLog("federation_link_reconnecting", 1)
	waitLog("federation_link_up", 2)
	if _, err := l.Fetch(t.Context(), 999, 1, 200*time.Millisecond); err == nil {
		t.Fatal("fetched under an agreement the provider does not offer")
	}
	waitLog(`"msg":"federation_agreement_not_offered","agreement":999`, 1)
	if out := logs.String(); strings.Contains(out, `"level":"WARN"`) {
		t.Errorf("a normal event logged at WARN:\n%s", out)
	}
	if id, ok := notOffered(errors.New(`nats: permissions violation: Permissions Violation for Publish to "$JS.API.CONSUMER.INFO.FED_ISLAMABAD_1.karachi"`)); !ok || id != 1 {
		t.Errorf("the violation the brief quotes: agreement %d, %v", id, ok)
	}
	if _, ok := notOffered(errors.New(`nats: permissions violation: Permissions Violation for Publish to "$JS.API.STREAM.LIST"`)); ok {
		t.Error("a violation of no agreement's consumer taken for one")
	}
}
