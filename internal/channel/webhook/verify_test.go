package webhook_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel/webhook"
)

func TestVerify(t *testing.T) {
	at := time.Unix(1_784_000_000, 0)
	body := []byte(`{"alert":"urn:oid:2.49.0.1.586.0.2026.1","headline":"洪水预警"}`)
	good := webhook.Sign(secret, at, body)
	other := webhook.Sign("old-secret", at, body)
	sig := good[strings.Index(good, "v1=")+3:]
	for _, c := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		want                 error // nil, or the sentinel wrapped
	}{
		{"good", secret, good, body, at, nil},
		{"within tolerance, late", secret, good, body, at.Add(5 * time.Minute), nil},
		{"within tolerance, early clock", secret, good, body, at.Add(-5 * time.Minute), nil},
		{"spaces after commas", secret, strings.ReplaceAll(good, ",", ", "), body, at, nil},
		{"two signatures, second matches", secret, other + ",v1=" + sig, body, at, nil},
		{"unknown key ignored", secret, good + ",v0=whatever", body, at, nil},
		{"body changed", secret, good, append(bytes.Clone(body), ' '), at, webhook.ErrMismatch},
		{"wrong secret", "another", good, body, at, webhook.ErrMismatch},
		{"timestamp changed", secret, strings.Replace(good, "t=1784000000", "t=1784000001", 1), body, at, webhook.ErrMismatch},
		{"stale", secret, good, body, at.Add(5*time.Minute + time.Second), webhook.ErrStale},
		{"from the future", secret, good, body, at.Add(-6 * time.Minute), webhook.ErrStale},
		{"empty", secret, "", body, at, webhook.ErrMalformed},
		{"no timestamp", secret, "v1=" + sig, body, at, webhook.ErrMalformed},
		{"no signature", secret, "t=1784000000", body, at, webhook.ErrMalformed},
		{"two timestamps", secret, "t=1784000000," + good, body, at, webhook.ErrMalformed},
		{"timestamp not a number", secret, "t=soon,v1=" + sig, body, at, webhook.ErrMalformed},
		{"negative timestamp", secret, "t=-5,v1=" + sig, body, at, webhook.ErrMalformed},
		{"short signature", secret, "t=1784000000,v1=" + sig[:62], body, at, webhook.ErrMalformed},
		{"not hex", secret, "t=1784000000,v1=" + strings.Repeat("zz", 32), body, at, webhook.ErrMalformed},
		{"not key=value", secret, good + ",junk", body, at, webhook.ErrMalformed},
	} {
		err := webhook.Verify(c.secret, c.header, c.body, c.now, 5*time.Minute)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if err := webhook.Verify("", good, body, at, 0); err == nil {
		t.Error("an empty secret verified")
	}
	// Tolerance 0 means the default five minutes.
	if err := webhook.Verify(secret, good, body, at.Add(4*time.Minute), 0); err != nil {
		t.Errorf("default tolerance: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	at := time.Unix(1_784_000_000, 0)
	f.Add(secret, webhook.Sign(secret, at, capXML), capXML, int64(0))
	f.Add(secret, "t=1784000000,v1=00", []byte("x"), int64(30))
	f.Add("k", "t=,v1=", []byte{}, int64(-400))
	f.Add("k", "t=99999999999999999999,v1="+strings.Repeat("a", 64), []byte("{}"), int64(1))
	f.Add("k", ",,,=,t==1", []byte("\x00"), int64(0))
	f.Fuzz(func(t *testing.T, secret, header string, body []byte, skew int64) {
		now := at.Add(time.Duration(skew%3600) * time.Second)
		err := webhook.Verify(secret, header, body, now, 5*time.Minute)
		if err == nil && secret == "" {
			t.Fatal("verified with an empty secret")
		}
		if err == nil && !strings.Contains(header, "v1=") {
			t.Fatalf("verified a header without v1: %q", header)
		}
		// Whatever was fuzzed, what Sign makes verifies, and a changed body does not.
		if secret == "" {
			return
		}
		sig := webhook.Sign(secret, now, body)
		if err := webhook.Verify(secret, sig, body, now, 5*time.Minute); err != nil {
			t.Fatalf("Sign then Verify: %v", err)
		}
		if err := webhook.Verify(secret, sig, append(bytes.Clone(body), '!'), now, 5*time.Minute); !errors.Is(err, webhook.ErrMismatch) {
			t.Fatalf("changed body: %v", err)
		}
	})
}

// TestOpenSSLRecipe runs the shell recipe of docs/webhooks.md, as written there, against
// signatures made by Sign.
func TestOpenSSLRecipe(t *testing.T) {
	for _, bin := range []string{"openssl", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found under CI: apt-get install openssl", bin)
			}
			t.Skipf("%s not found (apt-get install openssl)", bin)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- recipe:verify-openssl -->\n```sh\n")
	recipe, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("docs/webhooks.md: no ```sh block after <!-- recipe:verify-openssl -->")
	}
	bodyFile := filepath.Join(t.TempDir(), "body")
	run := func(secret, header string, body []byte) (string, error) {
		if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-c", recipe)
		cmd.Env = append(os.Environ(), "SECRET="+secret, "HEADER="+header, "BODY="+bodyFile)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	now := time.Now()
	binary := []byte("\x00\xff\r\n.\n" + string(capXML)) // NUL, CRLF and a final newline survive
	for _, body := range [][]byte{capXML, binary, {}} {
		if out, err := run(secret, webhook.Sign(secret, now, body), body); err != nil || out != "valid" {
			t.Errorf("signature made by Sign over %d bytes: %q (%v), want valid", len(body), out, err)
		}
	}
	// Rotation: two v1 values, the second made with the secret the partner has.
	rotated := webhook.Sign("old", now, capXML) + ",v1=" + strings.SplitN(webhook.Sign(secret, now, capXML), "v1=", 2)[1]
	if out, err := run(secret, rotated, capXML); err != nil || out != "valid" {
		t.Errorf("rotated: %q (%v), want valid", out, err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
	}{
		"body changed": {secret, webhook.Sign(secret, now, capXML), append(bytes.Clone(capXML), ' ')},
		"wrong secret": {"another", webhook.Sign(secret, now, capXML), capXML},
		"stale":        {secret, webhook.Sign(secret, now.Add(-10*time.Minute), capXML), capXML},
		"no timestamp": {secret, "v1=" + strings.Repeat("0", 64), capXML},
	} {
		if out, err := run(c.secret, c.header, c.body); err == nil {
			t.Errorf("%s: the recipe said %q, want a refusal", name, out)
		}
	}
}
