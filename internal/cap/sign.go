package cap

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Sign adds an enveloped XML Signature to a CAP 1.2 message, as CAP 1.2 §3.3.4 allows: the
// <Signature> (namespace XMLDSigNamespace, prefix ds) becomes the last child of <alert>, where
// the schema's xmldsig wildcard admits it. Reference URI="" covers the whole alert, with the
// enveloped-signature transform and exclusive canonicalisation (xml-exc-c14n); the digest is
// SHA-256 and the signature RSA-SHA256 or ECDSA-SHA256 depending on key. cert (whose public
// key must be key's) is embedded in KeyInfo. Canonicalisation and signing are goxmldsig's;
// nothing here canonicalises by hand.
//
// xml must decode with Unmarshal and must not already be signed. The output is UTF-8 whatever
// the input's declared encoding. Sign does not re-marshal: the bytes signed are the bytes
// given (plus the Signature), so sign the output of Marshal and send the result unchanged.
func Sign(xml []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	a, err := Unmarshal(xml)
	if err != nil {
		return nil, err
	}
	for _, x := range a.Extensions {
		if x.Space == XMLDSigNamespace && x.Local == "Signature" {
			return nil, errf(ErrSignature, "alert/Signature", 0, "message is already signed")
		}
	}
	if key == nil || cert == nil {
		return nil, errf(ErrSignature, "", 0, "sign: key and certificate are required")
	}
	if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return nil, errf(ErrSignature, "", 0, "sign: the certificate's public key is not the signing key's")
	}
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		return nil, errf(ErrSignature, "", 0, "sign: %v", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	switch key.Public().(type) {
	case *rsa.PublicKey:
		err = ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod)
	case *ecdsa.PublicKey:
		err = ctx.SetSignatureMethod(dsig.ECDSASHA256SignatureMethod)
	default:
		return nil, errf(ErrSignature, "", 0, "sign: key type %T is not supported (RSA or ECDSA)", key.Public())
	}
	if err != nil {
		return nil, errf(ErrSignature, "", 0, "sign: %v", err)
	}
	doc, err := readEtree(xml)
	if err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(doc.Root())
	if err != nil {
		return nil, errf(ErrSignature, "", 0, "sign: %v", err)
	}
	out := etree.NewDocument()
	out.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	out.CreateText("\n")
	out.SetRoot(signed)
	b, err := out.WriteToBytes()
	if err != nil {
		return nil, errf(ErrSignature, "", 0, "sign: %v", err)
	}
	return append(b, '\n'), nil
}

// Verify checks the enveloped XML Signature of a CAP message against the trusted
// certificates at the current time; see VerifyAt.
func Verify(xml []byte, trusted []*x509.Certificate) (*Alert, error) {
	return VerifyAt(xml, trusted, time.Now())
}

// VerifyAt checks the enveloped XML Signature of a CAP message: the message must decode with
// Unmarshal (so hostile input is refused before any signature code sees it), carry a
// Signature whose Reference covers the whole alert, whose digest and signature value verify,
// and whose certificate (from KeyInfo) is one of trusted — compared exactly, not by chain —
// and valid at at. It returns the alert decoded from the content the signature covers (as
// goxmldsig returns it after the transforms), never from the bytes around it, so content
// outside the signature cannot be smuggled in; that alert has no Signature extension.
// RSA-SHA1 signatures, still used by some national systems (e.g. Canada's NAAD), verify too.
func VerifyAt(xml []byte, trusted []*x509.Certificate, at time.Time) (*Alert, error) {
	a, err := Unmarshal(xml)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, x := range a.Extensions {
		if x.Space == XMLDSigNamespace && x.Local == "Signature" {
			n++
		}
	}
	if n == 0 {
		return nil, errf(ErrSignature, "alert", 0, "message is not signed (no <Signature> in %q)", XMLDSigNamespace)
	}
	if len(trusted) == 0 {
		return nil, errf(ErrSignature, "alert/Signature", 0, "no trusted certificates given")
	}
	doc, err := readEtree(xml)
	if err != nil {
		return nil, err
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: trusted})
	ctx.Clock = dsig.NewFakeClockAt(at)
	verified, err := ctx.Validate(doc.Root())
	if err != nil {
		return nil, errf(ErrSignature, "alert/Signature", 0, "%v", err)
	}
	out := etree.NewDocument()
	out.SetRoot(verified)
	b, err := out.WriteToBytes()
	if err != nil {
		return nil, errf(ErrSignature, "alert/Signature", 0, "%v", err)
	}
	return Unmarshal(b)
}

// readEtree parses b for goxmldsig with the same character-set handling as Unmarshal; b has
// already passed Unmarshal's checks (size, DOCTYPE, depth, well-formedness).
func readEtree(b []byte) (*etree.Document, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	doc := etree.NewDocument()
	doc.ReadSettings.CharsetReader = charsetReader
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, errf(ErrSyntax, "", 0, "%v", err)
	}
	if doc.Root() == nil {
		return nil, errf(ErrSyntax, "", 0, "no root element")
	}
	return doc, nil
}

// ParseCertificates returns the certificates in PEM text (blocks of type CERTIFICATE; other
// blocks are passed over), for the trusted signers Verify takes.
func ParseCertificates(pemText []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, pemText = pem.Decode(pemText)
		if blk == nil {
			return out, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
