package node_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/node"
)

// The node serves the public alert page at / (instead of a redirect to the SensorThings
// root, which stays at /v1.1/), to anyone even when reads need a key, compressed; with its
// alerts private (--public-alerts=false) it has no public page and / leads to /v1.1/ as before.
func TestPublicPageOnTheNode(t *testing.T) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableCompression: true}}
	get := func(method, u string, header ...string) (*http.Response, string) {
		t.Helper()
		req := must(http.NewRequest(method, u, nil))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, private := range []bool{false, true} {
		n, err := node.New(t.Context(), node.Options{ID: "pub", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
			MQTTAddr: "127.0.0.1:0", AdminKey: adminKey, PublicRead: false, PrivateAlerts: private, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		base := "http://" + n.Addr().String()
		if private {
			if resp, _ := get("GET", base+"/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/v1.1/" {
				t.Errorf("private alerts: GET / %d to %q, want 302 to /v1.1/", resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp, _ := get("GET", base+"/alerts/1"); resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				t.Errorf("private alerts: GET /alerts/1 %d %s, want the API's 404", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			continue
		}
		resp, b := get("GET", base+"/", "Accept-Language", "ur-PK", "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET /: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"))
		}
		if resp, b = get("GET", base+"/?lang=ur"); !strings.Contains(b, `<html lang="ur" dir="rtl">`) || !strings.Contains(b, "اس وقت کوئی انتباہ جاری نہیں۔") {
			t.Errorf("GET /?lang=ur: %d\n%s", resp.StatusCode, b)
		}
		if resp, b = get("GET", base+"/?lat=95&lon=0"); resp.StatusCode != 400 || !strings.Contains(b, "lat from -90 to 90") {
			t.Errorf("GET /?lat=95&lon=0: %d\n%s", resp.StatusCode, b)
		}
		if resp, _ = get("GET", base+"/alerts/1"); resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "html") {
			t.Errorf("GET /alerts/1: %d %s, want the page's 404", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp, _ = get("POST", base+"/"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		// the SensorThings root is where it was, and reads there still need a key
		if resp, _ = get("GET", base+"/v1.1/Things"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /v1.1/Things without a key: %d", resp.StatusCode)
		}
		if resp, _ = get("GET", base+"/v1.1/Things", "Authorization", "Bearer "+adminKey); resp.StatusCode != 200 {
			t.Errorf("GET /v1.1/Things: %d", resp.StatusCode)
		}
	}
}
