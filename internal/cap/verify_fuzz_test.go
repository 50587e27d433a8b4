package cap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzVerify: signature verification never panics; every refusal is a *cap.Error wrapping one
// of the package's sentinel errors; and nothing verifies but what the one trusted key signed —
// whatever the fuzzer does to the bytes, an alert Verify returns is the alert that was signed.
// Seeded with a signed alert, tampered copies of it, an unsigned one, one signed by an
// untrusted key and NAAD's real signed alert (RSA-SHA1, not trusted here).
func FuzzVerify(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	cert := testCert(f, key, "ndma-alerts")
	at := time.Now()
	a := floodAlert(at.Truncate(time.Second).UTC())
	xml, err := Marshal(a)
	if err != nil {
		f.Fatal(err)
	}
	signed, err := Sign(xml, key, cert)
	if err != nil {
		f.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mallory, err := Sign(xml, other, testCert(f, other, "mallory"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(xml)
	f.Add(mallory)
	f.Add(bytes.Replace(signed, []byte("<headline>"), []byte("<headline>X"), 1))
	f.Add(bytes.Replace(signed, []byte("<info>"), []byte("<info><language>en</language><category>Met</category><event>fake</event><urgency>Past</urgency><severity>Minor</severity><certainty>Unlikely</certainty></info><info>"), 1))
	f.Add(bytes.Replace(signed, []byte("<headline>"), []byte("<headline><!-- c -->"), 1))
	f.Add(bytes.Replace(signed, []byte("SignatureValue>"), []byte("SignatureValue>AAAA"), 1))
	f.Add(append([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"), signed...))
	f.Add(readTestdata(f, "google/canada_signed.cap"))
	trusted := []*x509.Certificate{cert}
	sentinels := []error{ErrTooLarge, ErrTooDeep, ErrDoctype, ErrCharset, ErrSyntax, ErrNamespace, ErrSchema, ErrInvalid, ErrSignature}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := VerifyAt(b, trusted, at)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, not a *cap.Error", err, err)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v wraps %d sentinel errors, want 1", err, n)
			}
			return
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("verified an alert that was not signed:\n%s", b)
		}
	})
}
