package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/apperr"
)

// Limits of one entry, enforced by Append (an entry over them is apperr.Invalid, naming the field).
const (
	MaxKind    = 64        // bytes of Entry.Kind
	MaxName    = 256       // bytes of Entry.Actor and Entry.Subject
	MaxDetail  = 64 << 10  // bytes of Entry.Detail
	maxEntries = 1_000_000 // entries one proof holds at most (Export, ParseProof)
	page       = 10_000    // records or heads read from the store at a time
)

// Entry is what is recorded: when, what kind of event, who did it, to what, and its detail (a
// JSON value; empty: null).
type Entry struct {
	Time    time.Time       `json:"time"`
	Kind    string          `json:"kind"`
	Actor   string          `json:"actor"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
}

// Record is an entry as the log holds it: its sequence number, the hash of the entry before
// (hex, "" for the first) and its own hash (hex).
type Record struct {
	Seq int64 `json:"seq"`
	Entry
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// Head is a signed chain head: the last entry's seq and hash when it was signed, the time of
// signing and the signature (PKCS #1 v1.5 or ASN.1 ECDSA over SHA-256 of HeadMessage).
type Head struct {
	Node      string    `json:"node"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// Link is the end of the chain an append continues: the last entry's seq and hash (0, "" when
// the log is empty).
type Link struct {
	Seq  int64
	Hash string
}

// Store keeps the log. It has no update and no delete.
type Store interface {
	// Append runs next in one write transaction, holding the log's lock: next gets the end of
	// the chain and returns the record and the signed head to insert.
	Append(ctx context.Context, next func(last Link) (Record, Head, error)) error
	// Records returns the records with from ≤ seq ≤ to (to 0: to the end), by seq, at most limit.
	Records(ctx context.Context, from, to int64, limit int) ([]Record, error)
	// Heads returns the signed heads with from ≤ seq ≤ to (to 0: to the end), by seq, at most
	// limit.
	Heads(ctx context.Context, from, to int64, limit int) ([]Head, error)
	// LastHead returns the head with the highest seq (nil when there is none).
	LastHead(ctx context.Context) (*Head, error)
}

// BatchStore is a Store that can also append several entries in one write transaction,
// holding the log's lock, with one signed head after the last of them (sqlq.Audit is one).
// Log.AppendAll uses it when the store has it.
type BatchStore interface {
	Store
	// AppendBatch is Append for several records: next gets the end of the chain and returns
	// the records, in order, and the signed head of the last.
	AppendBatch(ctx context.Context, next func(last Link) ([]Record, Head, error)) error
}

// Log is a node's audit log.
type Log struct {
	Store Store
	// Node names the node in signed heads; Key and Cert are its signing key and certificate
	// (node/signing.go: the CAP signing pair). Key may be nil for a log that only verifies.
	Node string
	Key  crypto.Signer
	Cert *x509.Certificate
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Page is how many records or heads Verify and Export read from the store at a time (0:
	// 10,000); small pages are for tests of the page boundaries.
	Page int
}

func (l *Log) page() int {
	if l.Page > 0 {
		return l.Page
	}
	return page
}

func (l *Log) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Record appends an entry of kind by actor about subject, with detail marshalled to JSON, at
// the log's time. It is the method other packages call (federation.AuditSink).
func (l *Log) Record(ctx context.Context, kind, actor, subject string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: detail: %w", kind, err)
	}
	_, err = l.Append(ctx, Entry{Kind: kind, Actor: actor, Subject: subject, Detail: b})
	return err
}

// Append adds e at the end of the chain (its Time, when zero, is now), signs the new head and
// returns the record. Bad entries (empty kind, a field over its limit, a detail that is not
// JSON, text not UTF-8) are apperr.Invalid; nothing is written then.
func (l *Log) Append(ctx context.Context, e Entry) (Record, error) {
	if l.Key == nil {
		return Record{}, errors.New("audit: no signing key")
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if len(e.Detail) == 0 {
		e.Detail = json.RawMessage("null")
	}
	if err := check(e); err != nil {
		return Record{}, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, e.Detail); err != nil {
		return Record{}, apperr.E(apperr.Invalid, "audit entry detail: not JSON: %v", err)
	}
	e.Detail = c.Bytes()
	var out Record
	err := l.Store.Append(ctx, func(last Link) (Record, Head, error) {
		r := Record{Seq: last.Seq + 1, Entry: e, Prev: last.Hash}
		r.Hash = HashOf(r)
		h := Head{Node: l.Node, Seq: r.Seq, Hash: r.Hash, Time: e.Time}
		sig, err := sign(l.Key, HeadMessage(h))
		if err != nil {
			return Record{}, Head{}, fmt.Errorf("sign audit head: %w", err)
		}
		h.Signature = sig
		out = r
		return r, h, nil
	})
	return out, err
}

// AppendAll adds es at the end of the chain, in order, and signs only the head after the
// last of them: one signature (an RSA signature costs milliseconds) for a batch of entries,
// each still bound to the one before by its hash, so Verify and Export check them as any
// others. Entries are checked as Append checks one; when any is bad, nothing is written.
// With a store that is not a BatchStore it appends them one by one (each signed).
func (l *Log) AppendAll(ctx context.Context, es []Entry) ([]Record, error) {
	if len(es) == 0 {
		return nil, nil
	}
	if l.Key == nil {
		return nil, errors.New("audit: no signing key")
	}
	bs, ok := l.Store.(BatchStore)
	if !ok {
		out := make([]Record, 0, len(es))
		for _, e := range es {
			r, err := l.Append(ctx, e)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	now := l.now()
	prepared := make([]Entry, len(es))
	for i, e := range es {
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		if len(e.Detail) == 0 {
			e.Detail = json.RawMessage("null")
		}
		if err := check(e); err != nil {
			return nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, e.Detail); err != nil {
			return nil, apperr.E(apperr.Invalid, "audit entry detail: not JSON: %v", err)
		}
		e.Detail = c.Bytes()
		prepared[i] = e
	}
	var out []Record
	err := bs.AppendBatch(ctx, func(last Link) ([]Record, Head, error) {
		out = make([]Record, len(prepared))
		prev := last
		for i, e := range prepared {
			r := Record{Seq: prev.Seq + 1, Entry: e, Prev: prev.Hash}
			r.Hash = HashOf(r)
			out[i], prev = r, Link{Seq: r.Seq, Hash: r.Hash}
		}
		r := out[len(out)-1]
		h := Head{Node: l.Node, Seq: r.Seq, Hash: r.Hash, Time: r.Time}
		sig, err := sign(l.Key, HeadMessage(h))
		if err != nil {
			return nil, Head{}, fmt.Errorf("sign audit head: %w", err)
		}
		h.Signature = sig
		return out, h, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// check enforces the limits of an entry.
func check(e Entry) error {
	switch {
	case e.Kind == "":
		return apperr.E(apperr.Invalid, "audit entry: kind is empty")
	case len(e.Kind) > MaxKind:
		return apperr.E(apperr.Invalid, "audit entry kind: %d bytes, at most %d", len(e.Kind), MaxKind)
	case len(e.Actor) > MaxName:
		return apperr.E(apperr.Invalid, "audit entry actor: %d bytes, at most %d", len(e.Actor), MaxName)
	case len(e.Subject) > MaxName:
		return apperr.E(apperr.Invalid, "audit entry subject: %d bytes, at most %d", len(e.Subject), MaxName)
	case len(e.Detail) > MaxDetail:
		return apperr.E(apperr.Invalid, "audit entry detail: %d bytes, at most %d", len(e.Detail), MaxDetail)
	}
	for name, s := range map[string]string{"kind": e.Kind, "actor": e.Actor, "subject": e.Subject} {
		if !utf8.ValidString(s) {
			return apperr.E(apperr.Invalid, "audit entry %s: not UTF-8", name)
		}
	}
	return nil
}

// BodyHash is the hex SHA-256 of the entry's canonical encoding (time in Unix µs, kind, actor,
// subject, detail text without insignificant white space), as the package doc spells it: a
// proof pretty-printed by its reader hashes the same.
func BodyHash(e Entry) string {
	var c bytes.Buffer
	if json.Compact(&c, e.Detail) == nil {
		e.Detail = c.Bytes()
	}
	b, _ := json.Marshal(struct {
		Time    int64  `json:"time"`
		Kind    string `json:"kind"`
		Actor   string `json:"actor"`
		Subject string `json:"subject"`
		Detail  string `json:"detail"`
	}{e.Time.UnixMicro(), e.Kind, e.Actor, e.Subject, string(e.Detail)})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// linkHash is the hash of an entry from its seq, the previous hash and its body hash.
func linkHash(seq int64, prev, body string) string {
	b, _ := json.Marshal(struct {
		Seq  int64  `json:"seq"`
		Prev string `json:"prev"`
		Body string `json:"body"`
	}{seq, prev, body})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// HashOf computes r's hash (hex) from its seq, Prev and entry; it ignores r.Hash.
func HashOf(r Record) string { return linkHash(r.Seq, r.Prev, BodyHash(r.Entry)) }

// HeadMessage is the byte string a head's signature is over.
func HeadMessage(h Head) []byte {
	b, _ := json.Marshal(struct {
		Node string `json:"node"`
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
		Time int64  `json:"time"`
	}{h.Node, h.Seq, h.Hash, h.Time.UnixMicro()})
	return b
}

func sign(key crypto.Signer, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	switch key.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return key.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	return nil, fmt.Errorf("audit: signing key %T: want RSA or ECDSA", key.Public())
}

// CheckHead verifies h's signature with cert.
func CheckHead(h Head, cert *x509.Certificate) error {
	alg := x509.SHA256WithRSA
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		alg = x509.ECDSAWithSHA256
	}
	return cert.CheckSignature(alg, HeadMessage(h), h.Signature)
}

// Problem is why a chain does not verify: the first bad entry (or head) and what is wrong.
type Problem struct {
	Seq int64  // the entry (or, for a head, the head's seq)
	Why string // "edited", "removed", "reordered", "bad signature", "no signed head"
	Msg string // a sentence for people
}

func (p *Problem) Error() string { return fmt.Sprintf("audit entry %d: %s", p.Seq, p.Msg) }

// Report is what Verify found: how many entries, the last signed head, and the first problem
// (nil: the chain verifies).
type Report struct {
	Entries int64
	Head    *Head
	Problem *Problem
}

// Verify reads the whole chain and checks, in order: that seqs run 1, 2, 3 … without a gap
// (a gap: removed), that each entry's prev is the hash of the entry before (otherwise
// reordered, when prev is the hash of a later entry, or removed), that each entry's hash
// matches its contents (edited), that every signed head's signature verifies with l.Cert (bad
// signature) and names the hash its entry has (edited or removed), and that the latest head
// is at the last entry (entries after it were not signed; entries before it removed). An
// error is returned only when the store cannot be read. It reads the chain and the heads a
// page (10,000) at a time, so its memory does not grow with the log, whose length has no
// limit (one export.batch entry a second per agreement is 31.5 million a year).
func (l *Log) Verify(ctx context.Context) (Report, error) {
	return l.verify(ctx, false)
}

// VerifyLatest is Verify checking the signature of the latest head only (each head's hash is
// still checked against its entry). The latest head's signature covers the whole chain, since
// each entry's hash binds the one before; what VerifyLatest does not find is an earlier head's
// signature altered in place. It costs a SHA-256 per entry, where Verify adds a signature check
// per head (an RSA-2048 verification: about 0.1 ms here, and a node signs a head a second while
// it exchanges data), so the console's audit page uses it on every view.
func (l *Log) VerifyLatest(ctx context.Context) (Report, error) {
	return l.verify(ctx, true)
}

func (l *Log) verify(ctx context.Context, latest bool) (Report, error) {
	v := &verifier{store: l.Store, cert: l.Cert, page: l.page(), latest: latest}
	p, err := v.run(ctx)
	if err != nil {
		return Report{}, err
	}
	return Report{Entries: v.n, Head: v.last, Problem: p}, nil
}

// verifier is one pass of Verify over the chain; n is the records seen, last the last head.
type verifier struct {
	store  Store
	cert   *x509.Certificate
	page   int
	latest bool // check only the last head's signature (VerifyLatest)
	n      int64
	last   *Head
	heads  []Head // the page of heads not yet matched to a record, by seq
	hseen  int64  // the seq of the last head read
	hdone  bool   // no more heads to read
	bad    *Problem
}

// signature checks h's signature.
func (v *verifier) signature(h Head) *Problem {
	if err := CheckHead(h, v.cert); err != nil {
		return &Problem{Seq: h.Seq, Why: "bad signature", Msg: fmt.Sprintf("bad signature on the head signed at entry %d: %v", h.Seq, err)}
	}
	return nil
}

// nextHead returns the next head by seq (nil: none left).
func (v *verifier) nextHead(ctx context.Context) (*Head, error) {
	if len(v.heads) == 0 && !v.hdone {
		hs, err := v.store.Heads(ctx, v.hseen+1, 0, v.page)
		if err != nil {
			return nil, err
		}
		v.heads, v.hdone = hs, len(hs) < v.page
		if len(hs) > 0 {
			v.hseen = hs[len(hs)-1].Seq
		}
	}
	if len(v.heads) == 0 {
		return nil, nil
	}
	return &v.heads[0], nil
}

// head checks a head (its signature; its hash against the record's, hash "" when there is no
// such record) and keeps the first problem: a problem of the chain itself is reported before
// any of the heads.
func (v *verifier) head(h Head, hash string) {
	c := h
	v.last = &c
	if v.bad != nil {
		return
	}
	if v.cert == nil {
		v.bad = &Problem{Seq: h.Seq, Why: "bad signature", Msg: "no certificate to check the signed head with"}
		return
	}
	if !v.latest {
		if err := v.signature(h); err != nil {
			v.bad = err
			return
		}
	}
	if h.Seq < 1 || hash != "" && hash != h.Hash {
		v.bad = &Problem{Seq: h.Seq, Why: "edited", Msg: fmt.Sprintf("edited: its hash is not the one signed at entry %d", h.Seq)}
	}
}

func (v *verifier) run(ctx context.Context) (*Problem, error) {
	prev := ""
	for {
		recs, err := v.store.Records(ctx, v.n+1, 0, v.page)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			want := v.n + 1
			if r.Seq != want {
				return &Problem{Seq: want, Why: "removed", Msg: fmt.Sprintf("removed: the chain jumps from %d to %d", want-1, r.Seq)}, nil
			}
			if r.Prev != prev {
				later, err := v.laterSeq(ctx, r.Seq, r.Prev)
				if err != nil {
					return nil, err
				}
				if later > 0 {
					return &Problem{Seq: r.Seq, Why: "reordered", Msg: fmt.Sprintf("reordered: it follows entry %d, which comes later in the log", later)}, nil
				}
				if HashOf(r) != r.Hash {
					return &Problem{Seq: r.Seq, Why: "edited", Msg: "edited: its contents do not match its hash"}, nil
				}
				return &Problem{Seq: r.Seq, Why: "removed", Msg: fmt.Sprintf("removed or replaced: the entry before it is not the one it was chained to (entry %d's hash differs)", r.Seq-1)}, nil
			}
			if HashOf(r) != r.Hash {
				return &Problem{Seq: r.Seq, Why: "edited", Msg: "edited: its contents do not match its hash"}, nil
			}
			prev, v.n = r.Hash, r.Seq
			for {
				h, err := v.nextHead(ctx)
				if err != nil {
					return nil, err
				}
				if h == nil || h.Seq > r.Seq {
					break
				}
				v.head(*h, r.Hash) // h.Seq is r.Seq (the records run 1, 2, 3 …), or below 1: edited either way
				v.heads = v.heads[1:]
			}
		}
		if len(recs) < v.page {
			break
		}
	}
	// heads past the last record
	for {
		h, err := v.nextHead(ctx)
		if err != nil {
			return nil, err
		}
		if h == nil {
			break
		}
		v.head(*h, "")
		if v.bad == nil {
			v.bad = &Problem{Seq: v.n + 1, Why: "removed", Msg: fmt.Sprintf("removed: a head was signed at entry %d but the log ends at %d", h.Seq, v.n)}
		}
		v.heads = v.heads[1:]
	}
	if v.bad == nil && v.latest && v.last != nil && v.cert != nil {
		v.bad = v.signature(*v.last)
	}
	if v.bad != nil {
		return v.bad, nil
	}
	switch {
	case v.last == nil && v.n == 0:
		return nil, nil
	case v.last == nil:
		return &Problem{Seq: v.n, Why: "no signed head", Msg: "no signed head: the chain's heads were removed"}, nil
	case v.last.Seq != v.n:
		return &Problem{Seq: v.last.Seq + 1, Why: "edited", Msg: fmt.Sprintf("not signed: the last signed head is at entry %d, the log ends at %d", v.last.Seq, v.n)}, nil
	}
	return nil, nil
}

// laterSeq is the seq of the record after seq whose hash is hash (0: none): the entry a
// record that does not follow its predecessor was chained to, when that one comes later.
func (v *verifier) laterSeq(ctx context.Context, seq int64, hash string) (int64, error) {
	for from := seq + 1; ; {
		recs, err := v.store.Records(ctx, from, 0, v.page)
		if err != nil || len(recs) == 0 {
			return 0, err
		}
		for _, r := range recs {
			if r.Hash == hash {
				return r.Seq, nil
			}
		}
		from = recs[len(recs)-1].Seq + 1
	}
}

// List returns the records with from ≤ seq ≤ to (to 0: to the end), at most limit (1–10000).
func (l *Log) List(ctx context.Context, from, to int64, limit int) ([]Record, error) {
	if limit < 1 || limit > 10000 {
		return nil, apperr.E(apperr.Invalid, "limit %d: between 1 and 10000", limit)
	}
	if from < 1 {
		from = 1
	}
	if to != 0 && to < from {
		return nil, apperr.E(apperr.Invalid, "to %d is before from %d", to, from)
	}
	return l.Store.Records(ctx, from, to, limit)
}

// actorOrg is the organisation of an actor "<org>/key-<id>" ("" otherwise).
func actorOrg(actor string) string {
	org, rest, ok := strings.Cut(actor, "/")
	if !ok || !strings.HasPrefix(rest, "key-") {
		return ""
	}
	return org
}
