package webtest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/web/webtest"
)

// The harness sees what it is for: a request to another host (an image from a second
// server), the bytes a page weighs, a screenshot written as a PNG, and axe-core's findings on
// a page built to break two rules (an image without alt text, an input without a label).
func TestHarnessFindsWhatItLooksFor(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
	}))
	defer other.Close()
	page := `<!DOCTYPE html><html lang="en"><head><title>bad</title><link rel="icon" href="data:,"></head><body><main>
<img src="` + other.URL + `/pixel.gif"><input type="text" name="q"><p>` + strings.Repeat("x", 2000) + `</p></main></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	defer srv.Close()

	b := webtest.Start(t)
	p := b.Page(t, webtest.PageOptions{})
	p.Navigate(srv.URL + "/")
	reqs := p.Requests()
	if len(reqs) != 2 || reqs[0].URL != srv.URL+"/" || reqs[1].URL != other.URL+"/pixel.gif" {
		t.Fatalf("requests: %+v", reqs)
	}
	if f := p.Foreign(srv.URL); len(f) != 1 || f[0].URL != other.URL+"/pixel.gif" {
		t.Errorf("foreign: %+v, want the image", f)
	}
	if w := p.Weight(); w < int64(len(page)) {
		t.Errorf("weight %d, less than the document's %d bytes", w, len(page))
	}
	rules := map[string]bool{}
	for _, v := range p.Axe() {
		rules[v.Rule] = true
		if len(v.Targets) == 0 {
			t.Errorf("violation without elements: %v", v)
		}
	}
	if !rules["image-alt"] || !rules["label"] {
		t.Errorf("axe-core found %v, want image-alt and label among them", rules)
	}
	png, err := os.ReadFile(p.Screenshot("bad"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("screenshot: %v, %.8q", err, png)
	}
}
