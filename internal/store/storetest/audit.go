package storetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// testKey is the audit log's signing key in these tests: ECDSA P-256, made in microseconds
// (an RSA-2048 key, what a node makes, can take seconds under -race; the node's and the
// command line's tests sign with one).
var testKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// SigningPair returns a self-signed certificate for key named cn (for the audit log's tests).
func SigningPair(t testing.TB, key crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RunAudit runs the audit log's conformance tests on fresh engines from open: entries append
// and verify; a detail edited (and re-hashed), an entry removed (in the middle, at the end),
// two entries swapped and a signature altered in SQL are each found, naming the entry, and the
// chain verifies again once each is undone; a proof for a partner verifies with the provider's
// certificate and not with another, and holds only that partner's entries in full.
func RunAudit(t *testing.T, open func(t *testing.T) sqlq.Engine) {
	key := testKey()
	cert := SigningPair(t, key, "rabta node islamabad")
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	fill := func(t *testing.T) (*audit.Log, sqlq.Engine) {
		eng := open(t)
		clock := at
		l := &audit.Log{Store: sqlq.NewAudit(eng), Node: "islamabad", Key: key, Cert: cert, Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
		for i, e := range []struct {
			kind, actor, subject string
			detail               any
		}{
			{"agreement.create", "pmd/key-2", "agreement/1", map[string]any{"providerOrganisation": "pmd", "consumerOrganisation": "cma", "purpose": "flood warning ü"}},
			{"key.create", "admin/key-1", "key/7", map[string]any{"organisation": "ndma", "role": "operator"}},
			{"agreement.approve", "pmd/key-3", "agreement/1", map[string]any{"agreement": 1, "from": "proposed", "to": "approved"}},
			{"agreement.create", "pmd/key-2", "agreement/2", map[string]any{"providerOrganisation": "pmd", "consumerOrganisation": "imd"}},
			{"export.batch", "node", "agreement/1", map[string]any{"agreement": 1, "count": 120, "sha256": "ab"}},
		} {
			if err := l.Record(ctx(), e.kind, e.actor, e.subject, e.detail); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		return l, eng
	}
	exec := func(t *testing.T, eng sqlq.Engine, stmts ...string) {
		t.Helper()
		if err := eng.Write(ctx(), func(tx sqlq.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx(), s); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	verifyFails := func(t *testing.T, l *audit.Log, seq int64, why string) {
		t.Helper()
		verify := map[string]func(context.Context) (audit.Report, error){"Verify": l.Verify, "VerifyLatest": l.VerifyLatest}
		if why == "bad signature" { // VerifyLatest checks the latest head's only: cases of their own
			delete(verify, "VerifyLatest")
		}
		for name, v := range verify {
			rep, err := v(ctx())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem == nil || rep.Problem.Seq != seq || rep.Problem.Why != why {
				t.Fatalf("%s after tampering: %+v, want entry %d %s", name, rep.Problem, seq, why)
			}
		}
	}
	latestFinds := func(t *testing.T, l *audit.Log, seq int64, why string) {
		t.Helper()
		rep, err := l.VerifyLatest(ctx())
		if err != nil {
			t.Fatal(err)
		}
		if seq == 0 && rep.Problem != nil || seq != 0 && (rep.Problem == nil || rep.Problem.Seq != seq || rep.Problem.Why != why) {
			t.Fatalf("VerifyLatest: %+v, want entry %d %s", rep.Problem, seq, why)
		}
	}

	t.Run("AppendVerify", func(t *testing.T) {
		l, _ := fill(t)
		rep, err := l.Verify(ctx())
		if err != nil || rep.Problem != nil || rep.Entries != 5 || rep.Head == nil || rep.Head.Seq != 5 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		recs, err := l.List(ctx(), 1, 0, 100)
		if err != nil || len(recs) != 5 {
			t.Fatalf("list: %d %v", len(recs), err)
		}
		r := recs[0]
		if r.Seq != 1 || r.Prev != "" || !r.Time.Equal(at.Add(time.Minute)) || r.Kind != "agreement.create" || r.Actor != "pmd/key-2" ||
			string(r.Detail) != `{"consumerOrganisation":"cma","providerOrganisation":"pmd","purpose":"flood warning ü"}` || r.Hash != audit.HashOf(r) {
			t.Errorf("first record: %+v", r)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Prev != recs[i-1].Hash || recs[i].Seq != int64(i+1) {
				t.Errorf("record %d not chained to %d", recs[i].Seq, recs[i-1].Seq)
			}
		}
		if got, err := l.List(ctx(), 2, 3, 100); err != nil || len(got) != 2 || got[0].Seq != 2 {
			t.Errorf("list 2..3: %+v %v", got, err)
		}
		if _, err := l.List(ctx(), 1, 0, 0); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("limit 0: %v", err)
		}
		// bad entries are refused, nothing written
		for _, e := range []audit.Entry{{Kind: ""}, {Kind: strings.Repeat("k", audit.MaxKind+1)}, {Kind: "x", Detail: []byte("{")},
			{Kind: "x", Actor: strings.Repeat("a", audit.MaxName+1)}, {Kind: "x", Detail: []byte(`"` + strings.Repeat("d", audit.MaxDetail) + `"`)}} {
			if _, err := l.Append(ctx(), e); apperr.KindOf(err) != apperr.Invalid {
				t.Errorf("append %.40q: %v, want Invalid", e.Kind, err)
			}
		}
		if rep, _ := l.Verify(ctx()); rep.Entries != 5 || rep.Problem != nil {
			t.Errorf("after refused appends: %+v", rep)
		}
	})

	// AppendAll: several entries, chained, under one signed head; the chain and a partner's
	// proof verify; a bad entry among them writes none
	t.Run("AppendAll", func(t *testing.T) {
		l, eng := fill(t)
		heads := func() int {
			hs, err := l.Store.Heads(ctx(), 1, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			return len(hs)
		}
		before := heads()
		recs, err := l.AppendAll(ctx(), []audit.Entry{
			{Kind: "export.batch", Actor: "node/islamabad", Subject: "agreement/1", Detail: []byte(`{"agreement": 1, "consumer": "cma", "values": 3}`)},
			{Kind: "import.batch", Actor: "node/beijing", Subject: "agreement/4", Detail: []byte(`{"agreement":4,"provider":"beijing"}`)},
			{Kind: "export.batch", Actor: "node/islamabad", Subject: "agreement/2", Detail: []byte(`{"agreement":2,"consumer":"imd"}`)},
		})
		if err != nil || len(recs) != 3 || recs[0].Seq != 6 || recs[2].Seq != 8 || recs[1].Prev != recs[0].Hash || string(recs[0].Detail) != `{"agreement":1,"consumer":"cma","values":3}` {
			t.Fatalf("append all: %+v %v", recs, err)
		}
		if n := heads(); n != before+1 {
			t.Errorf("heads after appending 3 entries at once: %d more, want 1", n-before)
		}
		rep, err := l.Verify(ctx())
		if err != nil || rep.Problem != nil || rep.Entries != 8 || rep.Head.Seq != 8 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		p, err := l.Export(ctx(), "cma", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if pr, err := audit.VerifyProof(p, cert); err != nil || len(pr.Entries) < 2 || pr.Entries[len(pr.Entries)-1].Seq != 6 {
			t.Errorf("proof: %+v %v", pr, err)
		}
		if _, err := l.AppendAll(ctx(), []audit.Entry{{Kind: "x"}, {Kind: ""}}); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("append all with an empty kind: %v, want Invalid", err)
		}
		if rep, _ := l.Verify(ctx()); rep.Entries != 8 {
			t.Errorf("after a refused batch: %d entries, want 8", rep.Entries)
		}
		// an entry of the batch edited in SQL is found
		exec(t, eng, `UPDATE audit_log SET detail = '{"agreement":2,"consumer":"xyz"}' WHERE seq = 8`)
		verifyFails(t, l, 8, "edited")
	})
	// the tampering, each undone after (so one engine serves them all, and a restored chain
	// verifies again)
	// each with the whole chain in one page, and with pages of 2 (the boundaries)
	t.Run("Tampered", func(t *testing.T) {
		for _, pg := range []int{0, 2} {
			t.Run(fmt.Sprintf("page%d", pg), func(t *testing.T) {
				l, eng := fill(t)
				l.Page = pg
				orig, err := l.List(ctx(), 1, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				restore := func(t *testing.T, seqs ...int64) {
					t.Helper()
					if err := eng.Write(ctx(), func(tx sqlq.Tx) error {
						for _, seq := range seqs {
							r := orig[seq-1]
							if _, err := tx.Exec(ctx(), `DELETE FROM audit_log WHERE seq = ?`, seq); err != nil {
								return err
							}
							if _, err := tx.Exec(ctx(), `INSERT INTO audit_log (seq, at_us, kind, actor, subject, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
								r.Seq, r.Time.UnixMicro(), r.Kind, r.Actor, r.Subject, string(r.Detail), r.Prev, r.Hash); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					if rep, err := l.Verify(ctx()); err != nil || rep.Problem != nil {
						t.Fatalf("restored chain: %+v %v", rep.Problem, err)
					}
				}
				// edited
				exec(t, eng, `UPDATE audit_log SET detail = '{"agreement":1,"from":"proposed","to":"revoked"}' WHERE seq = 3`)
				verifyFails(t, l, 3, "edited")
				restore(t, 3)
				// edited, and the hash recomputed by the owner: the next entry's link breaks
				r := orig[1]
				r.Subject = "key/8"
				exec(t, eng, `UPDATE audit_log SET subject = 'key/8', hash = '`+audit.HashOf(r)+`' WHERE seq = 2`)
				verifyFails(t, l, 3, "removed")
				restore(t, 2)
				// removed, in the middle and at the end
				exec(t, eng, `DELETE FROM audit_log WHERE seq = 4`)
				verifyFails(t, l, 4, "removed")
				restore(t, 4)
				exec(t, eng, `DELETE FROM audit_log WHERE seq = 5`)
				verifyFails(t, l, 5, "removed")
				restore(t, 5)
				// two swapped
				exec(t, eng, `UPDATE audit_log SET seq = 100 WHERE seq = 2`, `UPDATE audit_log SET seq = 2 WHERE seq = 3`, `UPDATE audit_log SET seq = 3 WHERE seq = 100`)
				verifyFails(t, l, 2, "reordered")
				exec(t, eng, `DELETE FROM audit_log WHERE seq IN (2, 3)`)
				restore(t, 2, 3)
				// a signature altered
				heads, _ := sqlq.NewAudit(eng).Heads(ctx(), 1, 0, 1000)
				sig := append([]byte(nil), heads[4].Signature...)
				sig[10] ^= 1
				setSig := func(seq int64, sig []byte) {
					if err := eng.Write(ctx(), func(tx sqlq.Tx) error {
						_, err := tx.Exec(ctx(), `UPDATE audit_heads SET signature = ? WHERE seq = ?`, sig, seq)
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				setSig(5, sig)
				verifyFails(t, l, 5, "bad signature")
				latestFinds(t, l, 5, "bad signature")
				setSig(5, heads[4].Signature)
				// an earlier head's: Verify finds it, VerifyLatest does not look (as documented)
				sig2 := append([]byte(nil), heads[1].Signature...)
				sig2[10] ^= 1
				setSig(2, sig2)
				verifyFails(t, l, 2, "bad signature")
				latestFinds(t, l, 0, "")
				setSig(2, heads[1].Signature)
				// and a log checked with another node's certificate fails on the first head (the
				// latest, for VerifyLatest)
				l2 := *l
				ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				l2.Cert = SigningPair(t, ek, "someone else")
				verifyFails(t, &l2, 1, "bad signature")
				latestFinds(t, &l2, 5, "bad signature")
				restore(t)
			})
		}
	})
	t.Run("Proof", func(t *testing.T) {
		l, _ := fill(t)
		p, err := l.Export(ctx(), "cma", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(p)
		q, err := audit.ParseProof(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := audit.VerifyProof(q, cert)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, r := range rep.Entries {
			seqs = append(seqs, r.Seq)
		}
		// cma: agreement 1's creation names it; its approval and export share the subject
		if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 3 || seqs[2] != 5 || !rep.Pinned || rep.Head.Seq != 5 {
			t.Errorf("proof for cma: entries %v, head %d, pinned %v; want 1, 3, 5 at head 5", seqs, rep.Head.Seq, rep.Pinned)
		}
		if q.Items[1].Entry != nil || len(q.Items[1].Body) != 64 {
			t.Errorf("entry 2 (ndma's key) is in cma's proof in full: %+v", q.Items[1])
		}
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := audit.VerifyProof(q, SigningPair(t, ek, "impostor")); err == nil || !strings.Contains(err.Error(), "signature") {
			t.Errorf("proof with another certificate: %v, want a signature error", err)
		}
		// an entry edited in the proof fails, naming it
		q.Items[2].Entry.Detail = []byte(`{"agreement":1,"from":"proposed","to":"revoked"}`)
		if _, err := audit.VerifyProof(q, cert); err == nil || !strings.Contains(err.Error(), "entry 3") {
			t.Errorf("edited proof: %v, want entry 3", err)
		}
		// a window: only imd's agreement, created at the 4th minute; the proof ends at the head
		// signed after it, not at the end of the log
		p, err = l.Export(ctx(), "imd", at.Add(4*time.Minute), at.Add(4*time.Minute))
		if err != nil || len(p.Items) != 1 || p.Items[0].Entry == nil || p.Head.Seq != 4 {
			t.Errorf("proof for imd: %+v %v", p, err)
		} else if _, err := audit.VerifyProof(p, cert); err != nil {
			t.Errorf("proof for imd: %v", err)
		}
		// read two entries at a time, the same proof
		l.Page = 2
		if p2, err := l.Export(ctx(), "cma", time.Time{}, time.Time{}); err != nil || len(p2.Items) != len(q.Items) || p2.Anchor != q.Anchor || p2.Head.Seq != 5 {
			t.Errorf("proof for cma in pages of 2: %+v %v", p2, err)
		}
		if _, err := l.Export(ctx(), "nobody", time.Time{}, time.Time{}); apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("proof for nobody: %v, want NotFound", err)
		}
	})
}

// BenchAudit measures the audit log on a fresh engine from open: appending one entry (a write
// transaction under the node-wide lock, the hash, an RSA-2048 signature of the head, as a
// node's key), and verifying a chain of 1000 entries (every hash and every head's signature).
func BenchAudit(b *testing.B, open func(b *testing.B) sqlq.Engine) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	cert := SigningPair(b, key, "bench")
	b.Run("Append", func(b *testing.B) {
		l := &audit.Log{Store: sqlq.NewAudit(open(b)), Node: "bench", Key: key, Cert: cert}
		for b.Loop() {
			if err := l.Record(ctx(), "export.batch", "node", "agreement/1", map[string]any{"agreement": 1, "count": 500, "sha256": "ab"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify1000", func(b *testing.B) {
		l := &audit.Log{Store: sqlq.NewAudit(open(b)), Node: "bench", Key: key, Cert: cert}
		for range 1000 {
			if err := l.Record(ctx(), "export.batch", "node", "agreement/1", map[string]any{"count": 500}); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			if rep, err := l.Verify(ctx()); err != nil || rep.Problem != nil {
				b.Fatal(rep.Problem, err)
			}
		}
	})
}
