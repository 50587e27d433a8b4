package console

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/twoway"
)

// The session cookie is Secure when the request came over TLS (or through a proxy the node
// trusts that says so), and is HttpOnly and SameSite=Strict always.
func TestCookieAttributes(t *testing.T) {
	r := httptest.NewRequest("GET", "https://node.example/console/", nil)
	r.TLS = &tls.ConnectionState{}
	c := cookie(r, SessionCookie, "x", 60)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != Prefix {
		t.Fatalf("over TLS: %+v", c)
	}
	r = httptest.NewRequest("GET", "http://node.example/console/", nil)
	if c := cookie(r, SessionCookie, "x", 60); c.Secure {
		t.Fatalf("over plain HTTP: Secure set")
	}
	r.Header.Set("X-Forwarded-Proto", "https") // only ever present when auth.Proxies believed it
	if c := cookie(r, SessionCookie, "x", 60); !c.Secure {
		t.Fatalf("behind a trusted TLS proxy: Secure not set")
	}
}

// Sessions: kept by hash, expire, end with their key, bounded in number.
func TestSessions(t *testing.T) {
	now := time.Date(2026, 8, 27, 6, 0, 0, 0, time.UTC)
	ss := newSessions(2)
	a, _ := ss.create(auth.Principal{KeyID: 1}, now.Add(time.Hour), now)
	b, _ := ss.create(auth.Principal{KeyID: 2}, now.Add(2*time.Hour), now)
	for k := range ss.m {
		if string(k[:]) == a || string(k[:]) == b {
			t.Fatal("a session id is kept in clear")
		}
	}
	if ss.get(a, now) == nil || ss.get(a, now.Add(time.Hour)) != nil || ss.len() != 1 {
		t.Fatal("expiry")
	}
	c, _ := ss.create(auth.Principal{KeyID: 2}, now.Add(3*time.Hour), now)
	ss.create(auth.Principal{KeyID: 3}, now.Add(4*time.Hour), now) // full: b, ending soonest, goes
	if ss.get(b, now) != nil || ss.get(c, now) == nil || ss.len() != 2 {
		t.Fatal("bound")
	}
	if n := ss.endKey(2); n != 1 || ss.get(c, now) != nil {
		t.Fatal("endKey")
	}
}

// Flood class colours follow the rank among the gauge's levels.
func TestColour(t *testing.T) {
	for _, c := range []struct {
		rank, n int
		want    string
	}{{0, 3, Normal}, {1, 1, Palette[3]}, {1, 2, Palette[0]}, {2, 2, Palette[3]}, {1, 4, Palette[0]}, {2, 4, Palette[1]}, {3, 4, Palette[2]}, {4, 4, Palette[3]}, {2, 3, Palette[2]}} {
		if got := colour(c.rank, c.n); got != c.want {
			t.Errorf("colour(%d, %d) = %s, want %s", c.rank, c.n, got, c.want)
		}
	}
	// levels below: the lowest class is the highest value
	g := twoway.Gauge{Direction: rule.Below, Levels: []rule.Level{{Name: "Dry", Value: 1}, {Name: "Low", Value: 5}}, Recent: []sensing.Point{{V: 3}}}
	lv := sortedLevels(g)
	if lv[0].Name != "Low" || twoway.Class(g) != "Low" {
		t.Fatalf("below: %+v %s", lv, twoway.Class(g))
	}
}

// Sector advisories are labelled by sector; flood warnings (no audiences) are not advisories.
func TestAdvisoryLabel(t *testing.T) {
	for _, c := range []struct {
		r    rule.Rule
		want string
	}{
		{rule.Rule{Category: "Met"}, ""},
		{rule.Rule{Category: "Health", Audiences: []string{"hospitals"}}, "Health"},
		{rule.Rule{Category: "Env", Audiences: []string{"schools"}}, "Env"},
		{rule.Rule{Category: "Met", Audiences: []string{"farmers-wheat"}}, "Agri"},
		{rule.Rule{Audiences: []string{"public"}}, "Advisory"},
	} {
		if got := advisoryLabel(c.r); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

// The vendored map and chart libraries are the versions web/console/package-lock.json pins
// (scripts/web-build.sh copies them) and carry their version banners.
func TestVendorMatchesLock(t *testing.T) {
	lockb, err := os.ReadFile("../../../web/console/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(lockb, &lock); err != nil {
		t.Fatal(err)
	}
	vb, err := files.ReadFile("static/vendor/versions.json")
	if err != nil {
		t.Fatal(err)
	}
	var copied map[string]string
	json.Unmarshal(vb, &copied)
	for name, c := range map[string]struct{ file, banner string }{
		"leaflet": {"static/vendor/leaflet.js", `Leaflet (\d+\.\d+\.\d+)`},
		"uplot":   {"static/vendor/uPlot.iife.min.js", `uPlot \(v(\d+\.\d+\.\d+)\)`},
	} {
		want := lock.Packages["node_modules/"+name].Version
		if want == "" || copied[name] != want {
			t.Errorf("%s: lock %q, copied %q: run scripts/web-build.sh", name, want, copied[name])
		}
		b, err := files.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(c.banner).FindSubmatch(b[:min(len(b), 400)])
		if m == nil || string(m[1]) != want {
			t.Errorf("%s: banner of %s says %q, lock %q", name, c.file, m, want)
		}
	}
	// nothing in the console's own assets or pages reaches outside the node
	for _, dir := range []string{"static", "templates"} {
		ents, _ := files.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			b, _ := files.ReadFile(dir + "/" + e.Name())
			if m := regexp.MustCompile(`(?:src|href)="https?://|import .* from ['"]https?://|url\(https?://`).Find(b); m != nil {
				t.Errorf("%s/%s loads from elsewhere: %s", dir, e.Name(), m)
			}
		}
	}
}

// FuzzParseHours: any ?hours= is a number in range or an Invalid naming the parameter.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"", "1", "72", "720", "721", "0", "-1", "1e3", " 5", "٣", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHours(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "hours=") {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if h < 1 || h > MaxSeriesHours {
			t.Fatalf("%q: %d out of range", s, h)
		}
	})
}

// FuzzSafeNext: the redirect after sign-in never leaves the console.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/console/", "/console/alerts", "//evil.example", "/console//evil.example", "https://evil.example/console/", "/console/\\evil", "/console/\r\nSet-Cookie: x", "/consolex"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := safeNext(s)
		if !strings.HasPrefix(n, Prefix+"/") || strings.HasPrefix(n, Prefix+"//") || strings.ContainsAny(n, "\\\r\n") {
			t.Fatalf("%q → %q", s, n)
		}
		req, err := http.NewRequest("GET", "http://node.example"+n, nil)
		if err == nil && req.URL.Host != "node.example" {
			t.Fatalf("%q → %q leaves the node (%s)", s, n, req.URL.Host)
		}
	})
}

// The queue shows an advisory's impact by audience beside the other counts, for a draft and
// for an issued alert; a flood warning's impact (no audiences) shows none.
func TestAlertsPageAudiences(t *testing.T) {
	imp := &dissemination.Impact{Subscribers: 3, Audiences: []dissemination.AudienceCount{{Audience: "hospitals", Subscribers: 2}, {Audience: "clinics", Subscribers: 1}}}
	flood := &dissemination.Impact{Subscribers: 7}
	now := time.Date(2026, 6, 10, 6, 0, 0, 0, time.UTC)
	row := func(id int64, st alert.State, imp *dissemination.Impact) alertRow {
		return alertRow{A: &alert.Alert{ID: id, State: st, Updated: now}, Impact: imp}
	}
	var buf strings.Builder
	err := parseTemplates()["alerts"].Execute(&buf, page{Data: map[string]any{
		"Drafts": []alertRow{row(1, alert.Draft, imp), row(2, alert.Draft, flood)}, "Issued": []alertRow{row(3, alert.Issued, imp)}}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `<dt>By audience</dt><dd class="audiences">hospitals 2 · clinics 1</dd>`) || strings.Count(out, "<dt>By audience</dt>") != 1 ||
		!strings.Contains(out, "3 subscribers (by audience: hospitals 2 · clinics 1).") {
		t.Fatalf("alerts page:\n%s", out)
	}
}

// TestWebBuildReproduces runs scripts/web-build.sh (npm ci at package-lock.json's versions)
// into a temporary directory and checks that it copies exactly the committed vendor files, so
// docs/console.md's build step is the one that made them. Skipped without npm, except under CI.
func TestWebBuildReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm ci")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm is not installed (scripts/test.sh installs it)")
		}
		t.Skip("npm is not installed")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../../../scripts/web-build.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("web-build.sh: %v\n%s", err, b)
	}
	committed, err := fs.Sub(files, "static/vendor")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(committed, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, _ := fs.ReadFile(committed, path)
		got, err := os.ReadFile(filepath.Join(out, path))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the build step's copy differs from the committed file (%v)", path, err)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk the committed vendor files: %d files, %v", n, err)
	}
}

// A form's change counts against its key's write limit (write_rate, write_burst) as the API's
// writes do: past the burst the answer is 429 with Retry-After, naming the limit, and the
// handler does not run; a page (GET) is not a write.
func TestFormsUnderWriteLimit(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := sqlite.NewAuth(db)
	_, id, err := auth.Create(t.Context(), keys, "pdma", auth.Approver, "a")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Keys: keys, Authn: &auth.Authenticator{Store: keys, Limit: auth.NewLimiter(auth.Limits{WriteRate: 0.001, WriteBurst: 2}, nil)}}
	s.init()
	sid, ss := s.ss.create(auth.Principal{KeyID: id, Organisation: "pdma", Role: auth.Approver}, time.Now().Add(time.Hour), time.Now())
	ran := 0
	h := s.session(func(w http.ResponseWriter, r *http.Request) { ran++ })
	do := func(method string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/console/alerts/1/approve", strings.NewReader("csrf="+ss.csrf))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: sid})
		w := httptest.NewRecorder()
		h(w, r)
		return w
	}
	for i := 0; i < 2; i++ {
		if w := do("POST"); w.Code != 200 {
			t.Fatalf("write %d within the burst: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := do("POST")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "write_rate") || ran != 2 {
		t.Fatalf("past the burst: %d %q %s (handler ran %d times)", w.Code, w.Header().Get("Retry-After"), w.Body, ran)
	}
	if w := do("GET"); w.Code != 200 || ran != 3 {
		t.Fatalf("a page past the burst: %d (handler ran %d times)", w.Code, ran)
	}
}
