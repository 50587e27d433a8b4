package federation

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"
)

// CertSummary is what a person checks of a certificate: whose it is, its fingerprint (to
// compare with what the partner's operator reads out, or with `openssl x509 -noout
// -fingerprint -sha256`) and until when it is valid.
type CertSummary struct {
	Subject  string    `json:"subject"`
	SHA256   string    `json:"sha256"` // of the DER, upper-case hex pairs joined by ':', as openssl prints it
	NotAfter time.Time `json:"notAfter"`
}

// PartnerSummary is a partner as listed to a person: its certificates summarised, not in PEM.
type PartnerSummary struct {
	Node string `json:"node"`
	NKey string `json:"nkey"`
	URL  string `json:"url,omitempty"`
	// CA summarises each certificate of the partner's CA (what its tls:// listener must chain
	// to), Cert its own certificate (what its shared alerts are verified with).
	CA      []CertSummary `json:"ca,omitempty"`
	Cert    []CertSummary `json:"cert,omitempty"`
	Created time.Time     `json:"created"`
}

// Summary returns p with its certificates summarised.
func (p Partner) Summary() PartnerSummary {
	return PartnerSummary{Node: p.Node, NKey: p.NKey, URL: p.URL, CA: SummariseCerts(p.CA), Cert: SummariseCerts(p.Cert), Created: p.Created}
}

// SummariseCerts summarises each CERTIFICATE block of PEM text, in order; a block that is not
// a certificate X.509 can parse is summarised by its fingerprint alone, with the subject
// saying why.
func SummariseCerts(text string) []CertSummary {
	var out []CertSummary
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		sum := sha256.Sum256(b.Bytes)
		hx := strings.ToUpper(hex.EncodeToString(sum[:]))
		pairs := make([]string, 0, len(sum))
		for i := 0; i < len(hx); i += 2 {
			pairs = append(pairs, hx[i:i+2])
		}
		s := CertSummary{SHA256: strings.Join(pairs, ":")}
		if c, err := x509.ParseCertificate(b.Bytes); err != nil {
			s.Subject = "(not a certificate X.509 can read: " + err.Error() + ")"
		} else {
			s.Subject, s.NotAfter = c.Subject.String(), c.NotAfter.UTC()
		}
		out = append(out, s)
	}
}
