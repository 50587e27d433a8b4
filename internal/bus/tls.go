package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// TLSFiles are the PEM files of the embedded server's NATS client listener's certificate
// (with its chain) and private key. Both or neither.
type TLSFiles struct{ Cert, Key string }

// config loads the files: nil when neither is set; an error naming the file otherwise.
func (t TLSFiles) config() (*tls.Config, error) {
	if t.Cert == "" && t.Key == "" {
		return nil, nil
	}
	if t.Cert == "" || t.Key == "" {
		return nil, errors.New("bus: federation_tls_cert and federation_tls_key: set both or neither")
	}
	c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("bus: federation_tls_cert %s / federation_tls_key %s: %w", t.Cert, t.Key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// caPool parses PEM certificates (a CA, or the provider's own certificate pinned) into a pool.
func caPool(pem []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	return p, nil
}
