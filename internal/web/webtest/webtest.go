// Package webtest drives Debian's headless Chromium from Go tests (through chromedp): pages
// with or without JavaScript, every network request a page makes with its size on the wire,
// screenshots kept as test artefacts, and axe-core's accessibility checks run in the page.
//
// Start finds the browser: $RABTA_CHROMIUM, else /usr/bin/chromium, else chromium or
// chromium-browser in PATH. When none is there the test is skipped with a message saying how
// to install it — unless CI=true, where it fails (scripts/test.sh installs Debian's chromium).
// The browser runs with its own temporary profile and no background traffic of its own
// (--disable-background-networking, --disable-component-update, --disable-sync, --no-first-run,
// --disable-quic), so every request a page's test sees is the page's.
//
// Screenshots go to ArtefactDir: $RABTA_ARTEFACTS/<test name> when RABTA_ARTEFACTS is set
// (kept after the run, for people to look at), else a directory under t.TempDir() (removed
// with the test).
//
// axe-core (npm axe-core 4.14.1, MPL-2.0, by Deque Systems) is vendored as
// testdata/axe.min.js and embedded in test binaries that import this package; refresh it with
//
//	npm pack axe-core@<version> && tar xzf axe-core-<version>.tgz package/axe.min.js
//
// and update AxeVersion.
package webtest

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// AxeVersion is the version of the vendored axe-core.
const AxeVersion = "4.14.1"

//go:embed testdata/axe.min.js
var axeSource string

// Browser is one headless Chromium process for a test (and its subtests).
type Browser struct {
	ctx context.Context
}

// Chromium returns the path of the browser Start would run, or "".
func Chromium() string {
	if p := os.Getenv("RABTA_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a headless Chromium that t's cleanup stops. Without a browser it skips t (fails
// it when CI=true).
func Start(t testing.TB) *Browser {
	t.Helper()
	return StartAsync(t)()
}

// StartAsync is Start with the browser started in the background (while the test sets up what
// it will look at): it skips or fails t at once when there is no browser, and returns the
// function that waits for the browser (failing t when it did not start).
func StartAsync(t testing.TB) func() *Browser {
	t.Helper()
	path := Chromium()
	if path == "" {
		msg := "webtest: no Chromium (looked at $RABTA_CHROMIUM, /usr/bin/chromium, chromium and chromium-browser in PATH); install it: apt-get install chromium (scripts/test.sh does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// chromedp's defaults (headless, no first run, no background networking, no sync, shared
	// memory in the temporary directory rather than a container's small /dev/shm …) and ours
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// the first action starts the browser and its first tab: with ctx itself, not a context
	// with a timeout, whose end would end the browser
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	return func() *Browser {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatalf("webtest: start %s: %v", path, err)
		}
		return &Browser{ctx: ctx}
	}
}

// PageOptions shape a new tab.
type PageOptions struct {
	// NoScript disables JavaScript in the tab (Emulation.setScriptExecutionDisabled): what a
	// reader with scripts off, or a browser without them, sees.
	NoScript bool
	// Width and Height are the viewport in CSS pixels (0: 360 × 740, a small phone).
	Width, Height int64
}

// Request is one network request a page made.
type Request struct {
	URL  string
	Type string // the resource type Chromium gives: Document, Stylesheet, Script, Image, Font …
	// Bytes is what crossed the network for it: headers and the body as sent (compressed,
	// when it was), Network.loadingFinished's encodedDataLength.
	Bytes  int64
	Failed string // the error, for a request that failed
}

// Page is one browser tab.
type Page struct {
	t   testing.TB
	Ctx context.Context

	mu    sync.Mutex
	reqs  map[network.RequestID]*Request
	order []network.RequestID
}

// Page opens a tab that t's cleanup closes; its requests are recorded from the first.
func (b *Browser) Page(t testing.TB, o PageOptions) *Page {
	t.Helper()
	p := &Page{t: t, reqs: map[network.RequestID]*Request{}}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.listen))
	t.Cleanup(cancel)
	p.Ctx = ctx
	w, h := o.Width, o.Height
	if w == 0 || h == 0 {
		w, h = 360, 740
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("webtest: open a tab: %v", err)
	}
	if o.NoScript {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("webtest: disable scripts: %v", err)
		}
	}
	return p
}

// listen records requests; it runs in the tab's message loop, so it only takes notes.
func (p *Page) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if r, ok := p.reqs[ev.RequestID]; ok && ev.RedirectResponse != nil { // a redirect: the same id goes on
			r.URL = ev.Request.URL
			return
		}
		p.reqs[ev.RequestID] = &Request{URL: ev.Request.URL, Type: string(ev.Type)}
		p.order = append(p.order, ev.RequestID)
	case *network.EventLoadingFinished:
		if r, ok := p.reqs[ev.RequestID]; ok {
			r.Bytes = int64(ev.EncodedDataLength)
		}
	case *network.EventLoadingFailed:
		if r, ok := p.reqs[ev.RequestID]; ok {
			r.Failed = ev.ErrorText
		}
	}
}

// Navigate loads url and waits for its load event; it clears the requests recorded before.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.mu.Lock()
	p.reqs, p.order = map[network.RequestID]*Request{}, nil
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("webtest: navigate to %s: %v", url, err)
	}
}

// Requests returns the requests made since the last Navigate, in the order they were made.
func (p *Page) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, 0, len(p.order))
	for _, id := range p.order {
		out = append(out, *p.reqs[id])
	}
	return out
}

// Weight is the bytes on the wire of every request since the last Navigate.
func (p *Page) Weight() int64 {
	var n int64
	for _, r := range p.Requests() {
		n += r.Bytes
	}
	return n
}

// Foreign returns the requests since the last Navigate to another origin than base's
// (scheme, host and port); data: URLs load nothing and are not counted.
func (p *Page) Foreign(base string) []Request {
	b, err := url.Parse(base)
	if err != nil {
		p.t.Fatalf("webtest: %v", err)
	}
	var out []Request
	for _, r := range p.Requests() {
		u, err := url.Parse(r.URL)
		if err != nil || u.Scheme != "data" && (u.Scheme != b.Scheme || u.Host != b.Host) {
			out = append(out, r)
		}
	}
	return out
}

// Eval evaluates a JavaScript expression in the page and decodes its JSON value into T.
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("webtest: evaluate %.80q: %v", js, err)
	}
	return v
}

// HTML returns the page's document as the browser has it (read through the DOM domain, so it
// works with scripts disabled).
func (p *Page) HTML() string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		p.t.Fatalf("webtest: read the document: %v", err)
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArtefactDir is where t's screenshots go: $RABTA_ARTEFACTS/<t.Name()> (created) when set,
// else a directory under t.TempDir().
func ArtefactDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RABTA_ARTEFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("webtest: artefact directory: %v", err)
	}
	return dir
}

// Screenshot writes a PNG of the whole page to ArtefactDir/<name>.png and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		p.t.Fatalf("webtest: screenshot: %v", err)
	}
	path := filepath.Join(ArtefactDir(p.t), unsafeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("webtest: %v", err)
	}
	p.t.Logf("screenshot %s", path)
	return path
}

// Violation is one axe-core rule a page breaks, with the elements that break it.
type Violation struct {
	Rule    string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"` // CSS selectors of the elements
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.Rule, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// Axe runs axe-core over the loaded page (every rule of WCAG 2.0, 2.1 and 2.2 A and AA and
// axe's best practices) and returns the violations. It injects axe-core through DevTools with
// the page's Content-Security-Policy bypassed (the page's own CSP rightly forbids foreign
// scripts) and needs JavaScript on in the tab.
func (p *Page) Axe() []Violation {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		p.t.Fatalf("webtest: bypass CSP: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
		p.t.Fatalf("webtest: inject axe-core: %v", err)
	}
	const run = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, targets: v.nodes.map(n => n.target.join(" "))})))`
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("webtest: run axe-core: %v", err)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Rule < vs[j].Rule })
	return vs
}

// CheckAxe fails the test with every axe-core violation of the loaded page, each with its
// rule and the selectors of the elements.
func (p *Page) CheckAxe(what string) {
	p.t.Helper()
	for _, v := range p.Axe() {
		p.t.Errorf("%s: accessibility: %s", what, v)
	}
}
