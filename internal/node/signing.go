package node

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/cap"
)

// signer signs issued CAP messages with the node's key.
type signer struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var _ alert.Signer = (*signer)(nil)

// Sign implements alert.Signer.
func (s *signer) Sign(xml []byte) ([]byte, error) { return cap.Sign(xml, s.key, s.cert) }

// nodeSigner loads the node's signing key and certificate from the data directory, making a
// self-signed pair on first start (RSA 2048: what CAP consumers verify most widely). An
// operator replaces the two files with ones issued by their national PKI to be trusted by others.
func nodeSigner(dataDir, node, keyFile, certFile string) (*signer, error) {
	keyPath, certPath := filepath.Join(dataDir, "node-key.pem"), filepath.Join(dataDir, "node-cert.pem")
	if keyFile != "" {
		keyPath, certPath = keyFile, certFile // given: never made here
		if _, err := os.Stat(keyPath); err != nil {
			return nil, fmt.Errorf("signing_key_file: %w", err)
		}
	}
	kb, kerr := os.ReadFile(keyPath)
	cb, cerr := os.ReadFile(certPath)
	if errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: "rabta node " + node, Organization: []string{"Rabta"}},
			NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
		if err != nil {
			return nil, err
		}
		kb = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
		cb = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(keyPath, kb, 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(certPath, cb, 0o644); err != nil {
			return nil, err
		}
	} else if kerr != nil || cerr != nil {
		return nil, fmt.Errorf("node signing key: need both %s and %s: %v", keyPath, certPath, errors.Join(kerr, cerr))
	}
	kblk, _ := pem.Decode(kb)
	cblk, _ := pem.Decode(cb)
	if kblk == nil || cblk == nil {
		return nil, fmt.Errorf("node signing key: %s or %s is not PEM", keyPath, certPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("node signing key %s: %w", keyPath, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("node signing key %s: not a signing key", keyPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("node certificate %s: %w", certPath, err)
	}
	return &signer{key: key, cert: cert}, nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// trustedCerts reads the PEM certificates in dir (CAP signatures by their holders verify).
func trustedCerts(dir string) ([]*x509.Certificate, error) {
	if dir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		certs, err := cap.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("trusted certificate %s: %w", f, err)
		}
		out = append(out, certs...)
	}
	return out, nil
}
