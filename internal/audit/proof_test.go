package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// seedProof builds a valid proof of three entries (the second withheld), signed with a fresh
// ECDSA key, without a store.
func seedProof(t testing.TB) ([]byte, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabta node karachi"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	p := Proof{Format: ProofFormat, Node: "karachi", Partner: "cma", Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	prev := ""
	for i, e := range []Entry{
		{Time: at, Kind: "agreement.create", Actor: "pmd/key-1", Subject: "agreement/1", Detail: []byte(`{"consumerOrganisation":"cma"}`)},
		{Time: at.Add(time.Second), Kind: "key.create", Actor: "admin/key-1", Subject: "key/2", Detail: []byte(`null`)},
		{Time: at.Add(2 * time.Second), Kind: "export.batch", Actor: "node", Subject: "agreement/1", Detail: []byte(`{"count":3}`)},
	} {
		r := Record{Seq: int64(i + 1), Entry: e, Prev: prev}
		r.Hash = HashOf(r)
		it := Item{Seq: r.Seq, Hash: r.Hash}
		if i == 1 {
			it.Body = BodyHash(e)
		} else {
			it.Entry = &r.Entry
		}
		p.Items = append(p.Items, it)
		prev = r.Hash
	}
	p.Head = Head{Node: "karachi", Seq: 3, Hash: prev, Time: at.Add(3 * time.Second)}
	sig, err := sign(key, HeadMessage(p.Head))
	if err != nil {
		t.Fatal(err)
	}
	p.Head.Signature = sig
	b, _ := json.Marshal(p)
	return b, cert
}

func TestProofECDSA(t *testing.T) {
	b, cert := seedProof(t)
	p, err := ParseProof(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyProof(p, cert)
	if err != nil || len(rep.Entries) != 2 || rep.Entries[1].Seq != 3 || !rep.Pinned {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	var pretty bytes.Buffer // a reader's pretty-printing changes no hash (detail is hashed compacted)
	json.Indent(&pretty, b, "", "    ")
	if q, err := ParseProof(&pretty); err != nil {
		t.Fatal(err)
	} else if _, err := VerifyProof(q, cert); err != nil {
		t.Errorf("pretty-printed proof: %v", err)
	}
	if rep, err := VerifyProof(p, nil); err != nil || rep.Pinned || rep.Cert.Subject.CommonName != "rabta node karachi" {
		t.Errorf("verify with the proof's own certificate: %+v %v", rep, err)
	}
	p.Items = p.Items[:2] // cut short: does not reach the signed head
	if _, err := VerifyProof(p, cert); err == nil {
		t.Error("a segment that stops before the head verified")
	}
	for _, bad := range []string{`{}`, `{"format":"rabta-audit-proof/1","items":[]}`, `[]`, `{"format":"rabta-audit-proof/1","items":[{"seq":1,"hash":"x"}]}`,
		`{"format":"rabta-audit-proof/1","items":[{"seq":1,"body":"zz","hash":"x"}]}`, `{"format":"rabta-audit-proof/1","extra":1}`} {
		if _, err := ParseProof(bytes.NewReader([]byte(bad))); err == nil {
			t.Errorf("ParseProof(%s) accepted", bad)
		}
	}
}

// FuzzProof: any bytes given to ParseProof and, when they parse, VerifyProof, give an answer
// or an error, never a panic; a valid proof's seed verifies.
func FuzzProof(f *testing.F) {
	b, cert := seedProof(f)
	f.Add(b)
	f.Add([]byte(`{"format":"rabta-audit-proof/1","items":[{"seq":1,"body":"` + string(bytes.Repeat([]byte("a"), 64)) + `","hash":""}],"head":{"seq":1}}`))
	f.Add([]byte(`{"format":"rabta-audit-proof/1","items":[{"seq":1,"entry":{"kind":"k","detail":null},"hash":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(bytes.NewReader(data))
		if err != nil {
			return
		}
		VerifyProof(p, cert)
		VerifyProof(p, nil)
	})
}
