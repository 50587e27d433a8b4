package bus

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A link that cannot connect says why when the error names it: a tls:// link to a provider
// whose listener has no TLS names that (a newcomer read "secure connection not available"
// with a hint listing everything else); a link that does not trust the provider's
// certificate names --ca.
func TestLinkHint(t *testing.T) {
	plain, _, _, kSeed, _ := fedSetup(t, Options{})
	certs := t.TempDir()
	testCert(t, certs)
	secure, _, _, kSeed2, _ := fedSetup(t, Options{TLS: TLSFiles{Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}})
	other := t.TempDir()
	testCert(t, other)
	otherCA, _ := os.ReadFile(filepath.Join(other, "ca.pem"))
	for _, c := range []struct {
		name, url string
		seed, ca  []byte
		hint      string
	}{
		{"tls:// to a listener without TLS", strings.Replace(plain.ClientURL(), "nats://", "tls://", 1), kSeed, nil, "the provider's NATS listener has no TLS"},
		{"a certificate of another CA", strings.Replace(secure.ClientURL(), "nats://", "tls://", 1), kSeed2, otherCA, "partners add --ca FILE"},
	} {
		logs := &logBuf{}
		l, err := DialLog(c.url, "prov", "karachi", c.seed, c.ca, slog.New(slog.NewJSONHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
		if ids, err := l.Agreements(ctx); err == nil {
			t.Errorf("%s: agreements %v, want the link refused", c.name, ids)
		}
		cancel()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "federation_link_down") && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		l.Close()
		if s := logs.String(); !strings.Contains(s, "federation_link_down") || !strings.Contains(s, c.hint) {
			t.Errorf("%s: logged %s; want federation_link_down with the hint %q", c.name, s, c.hint)
		}
	}
}

// ServerAt reads a NATS server's name from its INFO line without logging in; anything else at
// the url is an error that says what.
func TestServerAt(t *testing.T) {
	b, _, _, _, _ := fedSetup(t, Options{})
	name, err := ServerAt(t.Context(), b.ClientURL())
	if err != nil || name != ServerName(b.opts.Node) {
		t.Errorf("ServerAt(the bus): %q %v, want %q", name, err, ServerName(b.opts.Node))
	}
	if name, err := ServerAt(t.Context(), strings.Replace(b.ClientURL(), "nats://", "tls://", 1)); err != nil || name != ServerName(b.opts.Node) {
		t.Errorf("ServerAt(tls:// to the bus): %q %v (the INFO line comes before any TLS)", name, err)
	}
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	for url, want := range map[string]string{
		strings.Replace(web.URL, "http://", "nats://", 1): "no INFO",
		"nats://127.0.0.1:99999":                          "invalid port",
		"not a url":                                       "is not a nats:// or tls:// url",
	} {
		if _, err := ServerAt(t.Context(), url); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ServerAt(%s): %v, want an error saying %q", url, err, want)
		}
	}
}
