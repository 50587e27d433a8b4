package audit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/rabta/rabta/internal/apperr"
)

// ProofFormat is the value of Proof.Format this package writes and reads.
const ProofFormat = "rabta-audit-proof/1"

// MaxProofBytes bounds a proof document ParseProof reads.
const MaxProofBytes = 64 << 20

// Proof is what a provider gives a partner to prove what it recorded about it: a segment of
// the chain from the first entry concerning the partner to the signed head, the entries
// concerning the partner in full and the others by their body hash only, the signed head and
// the provider's certificate (PEM). From and To, when set, are the window the entries in full
// were taken from (entries outside it are withheld too).
type Proof struct {
	Format      string     `json:"format"`
	Node        string     `json:"node"`
	Partner     string     `json:"partner"`
	From        *time.Time `json:"from,omitempty"`
	To          *time.Time `json:"to,omitempty"`
	Anchor      string     `json:"anchor"` // the hash of the entry before the first item ("" when that is entry 1)
	Items       []Item     `json:"items"`
	Head        Head       `json:"head"`
	Certificate string     `json:"certificate"`
}

// Item is one entry of a proof's segment: in full (Entry) when it concerns the partner,
// otherwise only its body hash (Body, hex). Hash is the entry's hash, which the verifier
// recomputes.
type Item struct {
	Seq   int64  `json:"seq"`
	Entry *Entry `json:"entry,omitempty"`
	Body  string `json:"body,omitempty"`
	Hash  string `json:"hash"`
}

// partyFields are the detail fields that name the organisations or nodes an entry concerns.
var partyFields = []string{"providerOrganisation", "consumerOrganisation", "consumerNode", "organisation", "partner", "node", "provider", "consumer"}

// concerns tells whether e names partner: in one of partyFields at the top of its detail, as
// the organisation of its actor ("<org>/key-<id>"), or as its subject "organisation/<org>" or
// "partner/<org>".
func concerns(e Entry, partner string) bool {
	if actorOrg(e.Actor) == partner || e.Subject == "organisation/"+partner || e.Subject == "partner/"+partner {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(e.Detail, &m) != nil {
		return false
	}
	for _, f := range partyFields {
		var s string
		if v, ok := m[f]; ok && json.Unmarshal(v, &s) == nil && s == partner {
			return true
		}
	}
	return false
}

// Export builds the proof of what the log records about partner between from and to (zero:
// unbounded). An entry concerns the partner when it names it (see concerns) or has the
// subject of an earlier entry that did (agreement/3's approval and revocation, once its
// creation named the consumer). The proof runs from the first entry in the window that
// concerns the partner to the first signed head at or after the last one (every append signs
// a head), every entry between them by its body hash: at most 1,000,000 entries, or
// apperr.Invalid naming the limit (choose a narrower window). It refuses (apperr.Conflict)
// when the chain does not verify, and is apperr.NotFound when no entry concerns the partner.
// It reads the log a page at a time.
func (l *Log) Export(ctx context.Context, partner string, from, to time.Time) (*Proof, error) {
	if partner == "" {
		return nil, apperr.E(apperr.Invalid, "partner: empty; name the partner organisation or node")
	}
	if l.Cert == nil {
		return nil, fmt.Errorf("audit export: no certificate")
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		return nil, err
	}
	if rep.Problem != nil {
		return nil, apperr.E(apperr.Conflict, "the audit chain does not verify (%s); run rabta audit verify", rep.Problem.Error())
	}
	// first pass: which entries concern the partner, and which of them are in the window
	subjects := map[string]bool{}
	full := map[int64]bool{}
	var first, last int64
	err = l.each(ctx, 1, rep.Entries, func(r Record) {
		c := concerns(r.Entry, partner) || (r.Subject != "" && subjects[r.Subject])
		if c && r.Subject != "" {
			subjects[r.Subject] = true
		}
		if c && (from.IsZero() || !r.Time.Before(from)) && (to.IsZero() || !r.Time.After(to)) {
			if first == 0 {
				first = r.Seq
			}
			last = r.Seq
			if len(full) < maxEntries {
				full[r.Seq] = true
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if first == 0 {
		return nil, apperr.E(apperr.NotFound, "no audit entry concerns partner %q in that window", partner)
	}
	heads, err := l.Store.Heads(ctx, last, 0, 1)
	if err != nil {
		return nil, err
	}
	if len(heads) == 0 { // Verify found the last entry signed
		return nil, fmt.Errorf("audit export: no signed head at or after entry %d", last)
	}
	head := heads[0]
	if n := head.Seq - first + 1; n > maxEntries {
		return nil, apperr.E(apperr.Invalid, "the proof for partner %q would hold %d entries (from entry %d to the head signed at %d), over the limit of %d: choose a narrower window (from, to)", partner, n, first, head.Seq, maxEntries)
	}
	p := &Proof{Format: ProofFormat, Node: l.Node, Partner: partner, Head: head,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Cert.Raw}))}
	if !from.IsZero() {
		f := from.UTC()
		p.From = &f
	}
	if !to.IsZero() {
		t := to.UTC()
		p.To = &t
	}
	// second pass: the segment
	err = l.each(ctx, first, head.Seq, func(r Record) {
		if r.Seq == first {
			p.Anchor = r.Prev
		}
		it := Item{Seq: r.Seq, Hash: r.Hash}
		if full[r.Seq] {
			e := r.Entry
			it.Entry = &e
		} else {
			it.Body = BodyHash(r.Entry)
		}
		p.Items = append(p.Items, it)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ParseProof reads a proof document (at most MaxProofBytes; unknown fields refused) and checks
// its shape: the format, consecutive seqs, each item either in full or by a 64-hex body hash.
// It does not check hashes or the signature (VerifyProof does). Errors are apperr.Invalid and
// name the item.
func ParseProof(r io.Reader) (*Proof, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxProofBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxProofBytes {
		return nil, apperr.E(apperr.TooLarge, "proof: more than %d bytes", MaxProofBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Proof
	if err := dec.Decode(&p); err != nil {
		return nil, apperr.E(apperr.Invalid, "proof: not a proof document: %v", err)
	}
	if dec.More() {
		return nil, apperr.E(apperr.Invalid, "proof: data after the document")
	}
	switch {
	case p.Format != ProofFormat:
		return nil, apperr.E(apperr.Invalid, "proof: format %q, want %q", p.Format, ProofFormat)
	case len(p.Items) == 0:
		return nil, apperr.E(apperr.Invalid, "proof: no items")
	case len(p.Items) > maxEntries:
		return nil, apperr.E(apperr.Invalid, "proof: %d items, at most %d", len(p.Items), maxEntries)
	}
	for i, it := range p.Items {
		if it.Seq < 1 || (i > 0 && it.Seq != p.Items[i-1].Seq+1) {
			return nil, apperr.E(apperr.Invalid, "proof: item %d: seq %d does not follow %d", i, it.Seq, p.Items[max(i-1, 0)].Seq)
		}
		if (it.Entry == nil) == (it.Body == "") {
			return nil, apperr.E(apperr.Invalid, "proof: item %d (seq %d): give either entry or body", i, it.Seq)
		}
		if it.Body != "" && !isHex64(it.Body) {
			return nil, apperr.E(apperr.Invalid, "proof: item %d (seq %d): body is not a 64-digit hex hash", i, it.Seq)
		}
		if it.Entry != nil {
			if err := check(*it.Entry); err != nil {
				return nil, apperr.E(apperr.Invalid, "proof: item %d (seq %d): %v", i, it.Seq, err)
			}
		}
	}
	return &p, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ProofReport is what a proof proved: the entries concerning the partner, in full, by seq;
// the signed head; the certificate it verified with, and whether that certificate came from
// the verifier (Pinned) rather than from the proof itself.
type ProofReport struct {
	Entries []Record
	Head    Head
	Cert    *x509.Certificate
	Pinned  bool
}

// VerifyProof checks p: every item's hash recomputed from the anchor on (a withheld entry from
// its body hash), the last one equal to the signed head's hash at the head's seq, and the
// head's signature by cert — the provider's certificate the partner holds; nil uses the
// certificate inside the proof, which proves only that the proof is consistent, not who made
// it. Errors name the first item that fails.
func VerifyProof(p *Proof, cert *x509.Certificate) (*ProofReport, error) {
	rep := &ProofReport{Head: p.Head, Cert: cert, Pinned: cert != nil}
	if cert == nil {
		blk, _ := pem.Decode([]byte(p.Certificate))
		if blk == nil {
			return nil, apperr.E(apperr.Invalid, "proof: certificate is not PEM")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "proof: certificate: %v", err)
		}
		rep.Cert = c
	}
	prev := p.Anchor
	for _, it := range p.Items {
		body := it.Body
		if it.Entry != nil {
			body = BodyHash(*it.Entry)
		}
		h := linkHash(it.Seq, prev, body)
		if h != it.Hash {
			return nil, apperr.E(apperr.Invalid, "proof: entry %d: its hash does not match its contents and the entry before (edited, removed or reordered)", it.Seq)
		}
		if it.Entry != nil {
			rep.Entries = append(rep.Entries, Record{Seq: it.Seq, Entry: *it.Entry, Prev: prev, Hash: h})
		}
		prev = h
	}
	last := p.Items[len(p.Items)-1]
	if last.Seq != p.Head.Seq || prev != p.Head.Hash {
		return nil, apperr.E(apperr.Invalid, "proof: the segment ends at entry %d, not at the signed head (entry %d)", last.Seq, p.Head.Seq)
	}
	if err := CheckHead(p.Head, rep.Cert); err != nil {
		return nil, apperr.E(apperr.Invalid, "proof: the head's signature does not verify with certificate %q: %v", rep.Cert.Subject.String(), err)
	}
	return rep, nil
}

// each calls f for the records with from ≤ seq ≤ to, in order, reading them a page at a time.
func (l *Log) each(ctx context.Context, from, to int64, f func(Record)) error {
	for seq := from; seq <= to; {
		recs, err := l.Store.Records(ctx, seq, to, l.page())
		if err != nil || len(recs) == 0 {
			return err
		}
		for _, r := range recs {
			f(r)
		}
		seq = recs[len(recs)-1].Seq + 1
	}
	return nil
}
