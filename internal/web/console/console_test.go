package console_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/web/console"
)

// The console's handlers on a running node, on each store engine: sign-in and its cookie,
// CSRF refusal, role refusal, four eyes, approval, the map and hydrograph JSON, a revoked
// key ending its session.
func TestConsole(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var limits *auth.Limits
			if engine == "sqlite" { // few failed sign-ins allowed, for the last subtest
				limits = &auth.Limits{FailRate: 0.001, FailBurst: 6, WriteRate: 1000, WriteBurst: 2000}
			}
			e := startEnv(t, engine, limits)
			t.Run("signin", func(t *testing.T) { testSignin(t, e) })
			t.Run("hydrograph JSON", func(t *testing.T) { testSeries(t, e) })
			t.Run("decisions", func(t *testing.T) { testDecisions(t, e) })
			// after an approval, which the audit page lists (views_test.go)
			t.Run("agreements and audit", func(t *testing.T) { testAgreementsAudit(t, e) })
			t.Run("map JSON", func(t *testing.T) { testMapJSON(t, e) }) // posts readings: after the others
			t.Run("revoked key", func(t *testing.T) { testRevoked(t, e) })
			if limits != nil {
				t.Run("sign-in limit", func(t *testing.T) { testSigninLimit(t, e) })
			}
		})
	}
}

func testSignin(t *testing.T, e *env) {
	b := e.browser()
	// no session: a page redirects to sign-in, an /api/ request is 401
	resp, _ := b.do("GET", "/console/alerts", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?next=%2Fconsole%2Falerts" {
		t.Fatalf("no session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.do("GET", "/console/api/stations", nil); resp.StatusCode != 401 || !strings.Contains(body, "not signed in") {
		t.Fatalf("api without session: %d %s", resp.StatusCode, body)
	}
	// the sign-in form without its CSRF token, or with another's: 403, no session
	b.csrf("/console/signin")
	for _, tok := range []string{"", "forged-token"} {
		resp, body := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {e.keys["viewer"]}})
		if resp.StatusCode != 403 || !strings.Contains(body, "CSRF") || len(resp.Cookies()) != 0 {
			t.Fatalf("sign-in with csrf %q: %d %v %.200s", tok, resp.StatusCode, resp.Cookies(), body)
		}
	}
	// a wrong key: 401 and the form again; an over-long one: 400 naming the limit
	tok := b.csrf("/console/signin")
	if resp, body := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {"not-a-key-of-this-node-000000"}}); resp.StatusCode != 401 || !strings.Contains(body, "not valid") {
		t.Fatalf("wrong key: %d %.300s", resp.StatusCode, body)
	}
	tok = b.csrf("/console/signin")
	if resp, body := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {strings.Repeat("k", console.MaxKeyLength+1)}}); resp.StatusCode != 400 || !strings.Contains(body, "longer than 512 bytes") {
		t.Fatalf("long key: %d %.300s", resp.StatusCode, body)
	}
	// the right key: a session cookie, HttpOnly, SameSite=Strict, path /console, not Secure
	// over plain HTTP, and a redirect to where the user was going
	tok = b.csrf("/console/signin?next=/console/rules")
	resp, _ = b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {e.keys["viewer"]}, "next": {"/console/rules"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/rules" {
		t.Fatalf("sign in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == console.SessionCookie {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.Secure || c.MaxAge <= 0 || len(c.Value) < 40 {
		t.Fatalf("session cookie: %+v", c)
	}
	if strings.Contains(c.Value, e.keys["viewer"]) {
		t.Fatal("the session cookie carries the key")
	}
	resp, page := b.do("GET", "/console/rules", nil)
	// the sector advisory is labelled with its sector and audience beside the flood warning
	if resp.StatusCode != 200 || !strings.Contains(page, "khanki") || !strings.Contains(page, "admin · viewer") ||
		!strings.Contains(page, "Health advisory: clinics") || strings.Count(page, "<td>warning</td>") != 1 {
		t.Fatalf("rules page: %d %.400s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "http") {
		t.Fatalf("CSP: %q", csp)
	}
	// the assets: embedded, gzip-compressed for a client that accepts it, cached
	req, _ := http.NewRequest("GET", e.base+"/console/static/vendor/leaflet.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	ar, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(ar.Body)
	if err != nil {
		t.Fatalf("leaflet.js not gzipped: %v %v", ar.Header, err)
	}
	js, _ := io.ReadAll(zr)
	ar.Body.Close()
	if ar.StatusCode != 200 || ar.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(ar.Header.Get("Cache-Control"), "max-age") ||
		!bytes.HasPrefix(js, []byte("/* @preserve\n * Leaflet 1.9.4")) || len(js) < 100000 {
		t.Fatalf("leaflet.js: %d %v, %d bytes", ar.StatusCode, ar.Header, len(js))
	}
	if resp, body := b.do("GET", "/console/nowhere", nil); resp.StatusCode != 404 || !strings.Contains(body, "no console page at /console/nowhere") {
		t.Fatalf("unknown page: %d %.300s", resp.StatusCode, body)
	}
	// an open redirect is not followed after sign-in
	b2 := e.browser()
	tok = b2.csrf("/console/signin")
	resp, _ = b2.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {e.keys["viewer"]}, "next": {"//evil.example/x"}})
	if resp.Header.Get("Location") != "/console/" {
		t.Fatalf("next=//evil.example: redirected to %q", resp.Header.Get("Location"))
	}
	// signing out needs the session's CSRF token; then the session is gone
	if resp, _ := b.do("POST", "/console/signout", url.Values{}); resp.StatusCode != 403 {
		t.Fatalf("sign out without csrf: %d", resp.StatusCode)
	}
	tok = b.csrf("/console/rules")
	if resp, _ := b.do("POST", "/console/signout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	jar := b.c.Jar
	b.c.Jar = nil // replay the old cookie by hand
	req, _ = http.NewRequest("GET", e.base+"/console/api/stations", nil)
	req.AddCookie(c)
	r2, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	b.c.Jar = jar
	if r2.StatusCode != 401 {
		t.Fatalf("old cookie after sign-out: %d", r2.StatusCode)
	}
}

// stations reads the map's JSON as the signed-in browser b.
func stations(t *testing.T, b *browser) console.StationsView {
	t.Helper()
	resp, body := b.do("GET", "/console/api/stations", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("stations: %d %s", resp.StatusCode, body)
	}
	var v console.StationsView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func testMapJSON(t *testing.T, e *env) {
	b := e.browser()
	b.signin("viewer")
	v := stations(t, b)
	if len(v.Stations) != 1 { // the forecast Datastream 2, read by the advisory rule, is not a station

		t.Fatalf("stations: %+v", v.Stations)
	}
	s := v.Stations[0]
	// 250 ≥ High (200), the highest of two levels: rank 2, the palette's last colour; 250
	// against 140 three readings back: rising; its latest reading passed QC
	if s.Datastream != 1 || s.Name != "Chenab at Khanki" || s.Lat != 32.40 || s.Lon != 73.97 || s.Unit != "cusecs" ||
		s.Value == nil || *s.Value != 250 || s.Class != "High" || s.Rank != 2 || s.Colour != console.Palette[len(console.Palette)-1] ||
		s.Trend != "rising" || s.QC != "good" || s.Ring != "#1b1b1b" || len(s.Levels) != 2 || s.Levels[0] != (console.Level{Name: "Low", Value: 100}) {
		t.Fatalf("station: %+v", s)
	}
	// a new reading below Low turns it Normal (and QC flags the fall as suspect: 250 → 20 in an hour)
	at := s.Time.Add(30 * 60e9).Format("2006-01-02T15:04:05Z")
	e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"result":20,"Datastream":{"@iot.id":1}}`, at))
	s = stations(t, b).Stations[0]
	if s.Class != "" || s.Rank != 0 || s.Colour != console.Normal || s.QC != "suspect" || s.Ring != "#ff6d00" || s.Trend != "falling" {
		t.Fatalf("after 20: %+v", s)
	}
	e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"result":120,"Datastream":{"@iot.id":1}}`, s.Time.Add(30*60e9).Format("2006-01-02T15:04:05Z")))
	if s = stations(t, b).Stations[0]; s.Class != "Low" || s.Colour != console.Palette[0] {
		t.Fatalf("after 120: %+v", s)
	}
	// the districts: GeoJSON Polygons of the node's districts, closed rings of at most 80 points
	resp, body := b.do("GET", "/console/api/districts", nil)
	var fc struct {
		Type     string
		Features []struct {
			Geometry struct {
				Type        string
				Coordinates [][][2]float64
			}
			Properties struct{ Name string }
		}
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/geo+json" || json.Unmarshal([]byte(body), &fc) != nil {
		t.Fatalf("districts: %d %.200s", resp.StatusCode, body)
	}
	names := map[string]bool{}
	for _, f := range fc.Features {
		ring := f.Geometry.Coordinates[0]
		if f.Geometry.Type != "Polygon" || len(ring) < 4 || len(ring) > console.DistrictVertices+1 || ring[0] != ring[len(ring)-1] {
			t.Fatalf("district %s: %s of %d points", f.Properties.Name, f.Geometry.Type, len(ring))
		}
		names[f.Properties.Name] = true
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 4 || !names["Sialkot"] || !names["Lahore"] {
		t.Fatalf("districts: %s, %v", fc.Type, names)
	}
	// the map page lists the station without JavaScript
	_, page := b.do("GET", "/console/", nil)
	if !strings.Contains(page, `<tr data-ds="1" data-colour="`+console.Palette[0]+`">`) || !strings.Contains(page, "Chenab at Khanki") {
		t.Fatalf("map page: %.600s", page)
	}
}

func testSeries(t *testing.T, e *env) {
	b := e.browser()
	b.signin("viewer")
	resp, body := b.do("GET", "/console/api/stations/1/series?hours=48", nil)
	var s console.Series
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("series: %d %.300s", resp.StatusCode, body)
	}
	// the eight readings, the 300 (a jump of 160 in an hour) flagged suspect
	if len(s.Observations) != len(readings) || s.Observations[0].V != 50 || s.Hours != 48 || s.Flags["suspect"] != 1 || s.Flags["good"] != 7 {
		t.Fatalf("observations: %+v flags %v", s.Observations, s.Flags)
	}
	if s.Observations[5].V != 300 || s.Observations[5].QC != "suspect" || s.Observations[4].QC != "good" {
		t.Fatalf("QC flags: %+v", s.Observations)
	}
	if len(s.Levels) != 2 || s.Direction != "above" {
		t.Fatalf("levels: %+v %q", s.Levels, s.Direction)
	}
	// the forecast: six hours, each from the later issue (20 higher), with its band
	if s.ForecastDS != 2 || len(s.Forecast) != 6 || s.Forecast[0].V != 280 || s.Forecast[0].Lower != 265 || s.Forecast[0].Upper != 295 || s.Forecast[5].V != 330 {
		t.Fatalf("forecast (ds %d): %+v", s.ForecastDS, s.Forecast)
	}
	for i := 1; i < len(s.Forecast); i++ {
		if s.Forecast[i].T-s.Forecast[i-1].T != 3600 {
			t.Fatalf("forecast times: %+v", s.Forecast)
		}
	}
	// limits and bad input: named, 4xx
	for path, want := range map[string]string{
		"/console/api/stations/1/series?hours=0":   "hours=\\\"0\\\": want a whole number of hours from 1 to 720",
		"/console/api/stations/1/series?hours=721": "from 1 to 720",
		"/console/api/stations/x/series":           `datastream \"x\" in the path: want a positive integer`,
		"/console/api/stations/2/series":           "Datastream 2 is not a gauge",
	} {
		resp, body := b.do("GET", path, nil)
		if resp.StatusCode/100 != 4 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	// the station page renders without JavaScript
	resp, page := b.do("GET", "/console/stations/1", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Chenab at Khanki") || !strings.Contains(page, "6 values from Datastream 2") || !strings.Contains(page, "suspect") {
		t.Fatalf("station page: %d %.800s", resp.StatusCode, page)
	}
}

func testDecisions(t *testing.T, e *env) {
	approve := func(b *browser, why string, csrf bool) (*http.Response, string) {
		form := url.Values{"why": {why}}
		if csrf {
			form.Set("csrf", b.csrf("/console/alerts"))
		}
		return b.do("POST", "/console/alerts/1/approve", form)
	}
	// the queue shows the draft with its impact preview
	admin := e.browser()
	admin.signin("admin")
	_, page := admin.do("GET", "/console/alerts", nil)
	if !strings.Contains(page, `id="alert-1"`) || !strings.Contains(page, "Chenab at Khanki") || !strings.Contains(page, "<dt>People</dt>") {
		t.Fatalf("queue: %.1500s", page)
	}
	// without the CSRF token: 403, nothing changes
	if resp, body := approve(admin, "", false); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("approve without csrf: %d %.300s", resp.StatusCode, body)
	}
	// the admin wrote the rule and posted the values: four eyes refuses it, as the API does
	if resp, body := approve(admin, "", true); resp.StatusCode != 403 || !strings.Contains(body, "four eyes") {
		t.Fatalf("admin approves: %d %.400s", resp.StatusCode, body)
	}
	// a viewer and an operator see no approve form and are refused
	for _, role := range []string{"viewer", "operator"} {
		b := e.browser()
		b.signin(role)
		if _, page := b.do("GET", "/console/alerts", nil); strings.Contains(page, "/console/alerts/1/approve") || !strings.Contains(page, "deciding needs role approver") {
			t.Fatalf("%s sees: %.1500s", role, page)
		}
		if resp, body := approve(b, "", true); resp.StatusCode != 403 || !strings.Contains(body, "needs role approver or higher; the key has role "+role) {
			t.Fatalf("%s approves: %d %.300s", role, resp.StatusCode, body)
		}
	}
	// an over-long reason: 400 naming the limit
	ap := e.browser()
	ap.signin("approver")
	if resp, body := approve(ap, strings.Repeat("x", console.MaxWhyLength+1), true); resp.StatusCode != 400 || !strings.Contains(body, "at most 1000 characters") {
		t.Fatalf("long why: %d %.300s", resp.StatusCode, body)
	}
	if st := e.alertState(); st != "draft" {
		t.Fatalf("after refusals: %s", st)
	}
	// editing the draft's text (docs/console.md, "Editing a draft")
	edit := func(b *browser, lang, headline, why string, csrf bool) (*http.Response, string) {
		form := url.Values{"language": {lang}, "headline": {headline}, "instruction": {"Leave the river bank now.\r\nTake your papers."}, "description": {""}, "why": {why}}
		if csrf {
			form.Set("csrf", b.csrf("/console/alerts"))
		}
		return b.do("POST", "/console/alerts/1/edit", form)
	}
	// a viewer sees no edit form and is refused; without the CSRF token: 403
	vw := e.browser()
	vw.signin("viewer")
	if _, page := vw.do("GET", "/console/alerts", nil); strings.Contains(page, "/console/alerts/1/edit") {
		t.Fatalf("viewer sees an edit form: %.1500s", page)
	}
	if resp, body := edit(vw, "en", "Mine now", "x", true); resp.StatusCode != 403 || !strings.Contains(body, "needs role approver or higher; the key has role viewer") {
		t.Fatalf("viewer edits: %d %.300s", resp.StatusCode, body)
	}
	if resp, body := edit(ap, "en", "Mine now", "x", false); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("edit without csrf: %d %.300s", resp.StatusCode, body)
	}
	// the approver sees a prefilled form per language; a bad edit is shown with what is wrong
	if _, page := ap.do("GET", "/console/alerts", nil); strings.Count(page, `action="/console/alerts/1/edit"`) != 2 || !strings.Contains(page, "اونچی جگہ پر چلے جائیں۔</textarea>") {
		t.Fatalf("approver's edit forms: %.3000s", page)
	}
	if resp, body := edit(ap, "fr", "Mine now", "x", true); resp.StatusCode != 400 || !strings.Contains(body, "has no info in &#34;fr&#34;; it has en, ur") && !strings.Contains(body, `has no info in "fr"; it has en, ur`) {
		t.Fatalf("edit in fr: %d %.500s", resp.StatusCode, body)
	}
	if resp, body := edit(ap, "en", "Mine now", "", true); resp.StatusCode != 400 || !strings.Contains(body, "needs a reason") {
		t.Fatalf("edit without why: %d %.500s", resp.StatusCode, body)
	}
	if resp, body := edit(ap, "en", strings.Repeat("h", console.MaxEditFormBytes), "x", true); resp.StatusCode != 400 || !strings.Contains(body, fmt.Sprintf("over %d bytes", console.MaxEditFormBytes)) {
		t.Fatalf("edit form over the limit: %d %.500s", resp.StatusCode, body)
	}
	if resp, body := edit(ap, "en", strings.Repeat("h", 201), "x", true); resp.StatusCode != 400 || !strings.Contains(body, "infos[0].headline: 201 characters, over the limit of 200") {
		t.Fatalf("long headline: %d %.500s", resp.StatusCode, body)
	}
	if st := e.alertState(); st != "draft" {
		t.Fatalf("after refused edits: %s", st)
	}
	// approver A edits: the queue shows the notice and the new text
	resp, _ := edit(ap, "en", "Chenab at Khanki: flood, move to higher ground now", "clearer wording", true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/alerts?done=Alert+1+edited." && resp.Header.Get("Location") != "/console/alerts?done=Alert%201%20edited." {
		t.Fatalf("edit: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page := ap.do("GET", resp.Header.Get("Location"), nil); !strings.Contains(page, "Alert 1 edited.") || !strings.Contains(page, "#1 Chenab at Khanki: flood, move to higher ground now") ||
		!strings.Contains(page, "Leave the river bank now.\nTake your papers.</textarea>") {
		t.Fatalf("after the edit: %.3000s", page)
	}
	// recorded in the audit log under A's key, with what changed
	if st, aud := e.api("GET", "/api/v1/audit", "admin", ""); st != 200 || !strings.Contains(aud, `"alert.edit"`) || !strings.Contains(aud, fmt.Sprintf(`"admin/key-%d"`, e.ids["approver"])) || !strings.Contains(aud, `"clearer wording"`) {
		t.Errorf("audit: %d %.3000s", st, aud)
	}
	// A edited it, so four eyes refuses A as its approver
	if resp, body := approve(ap, "", true); resp.StatusCode != 403 || !strings.Contains(body, "edited it") {
		t.Fatalf("editor approves: %d %.400s", resp.StatusCode, body)
	}
	// another approver, B, approves: issued with the edited text, recorded under B's key
	st, kb := e.api("POST", "/api/v1/keys", "admin", `{"organisation":"admin","role":"approver","name":"console approver B"}`)
	if st != 201 {
		t.Fatalf("key B: %d %s", st, kb)
	}
	var kB struct {
		ID  int64  `json:"id"`
		Key string `json:"key"`
	}
	json.Unmarshal([]byte(kb), &kB)
	e.keys["approverB"], e.ids["approverB"] = kB.Key, kB.ID
	ap = e.browser()
	ap.signin("approverB")
	resp, _ = approve(ap, "confirmed by the gauge reader", true)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/alerts?done=") {
		t.Fatalf("approve: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := e.alertState(); st != "issued" {
		t.Fatalf("after approval: %s", st)
	}
	_, b := e.api("GET", "/api/v1/alerts/1", "admin", "")
	var a struct {
		Transitions []struct{ To, By, Why string }
	}
	json.Unmarshal([]byte(b), &a)
	if last := a.Transitions[len(a.Transitions)-1]; last.To != "issued" || last.By != fmt.Sprintf("admin/key-%d", e.ids["approverB"]) || last.Why != "issued Alert: confirmed by the gauge reader" {
		t.Fatalf("transition: %+v", last)
	}
	if ed := a.Transitions[len(a.Transitions)-2]; ed.To != "draft" || ed.By != fmt.Sprintf("admin/key-%d", e.ids["approver"]) || ed.Why != "edited: clearer wording" {
		t.Fatalf("edit transition: %+v", ed)
	}
	if _, xml := e.api("GET", "/cap/alerts/rabta-console-1-1.xml", "viewer", ""); !strings.Contains(xml, "<headline>Chenab at Khanki: flood, move to higher ground now</headline>") {
		t.Errorf("issued CAP without the edit: %.2000s", xml)
	}
	// the queue lists it as issued, with its (empty) delivery table
	_, page = ap.do("GET", "/console/alerts?done=x", nil)
	if !strings.Contains(page, `class="alert issued`) || !strings.Contains(page, "/cap/alerts/") {
		t.Fatalf("issued: %.2000s", page)
	}
	// approving again: the API's conflict
	if resp, body := approve(ap, "", true); resp.StatusCode != 409 || !strings.Contains(body, "no draft to approve") {
		t.Fatalf("approve again: %d %.300s", resp.StatusCode, body)
	}
}

func testRevoked(t *testing.T, e *env) {
	b := e.browser()
	b.signin("operator")
	if v := stations(t, b); len(v.Stations) != 1 {
		t.Fatal("no station")
	}
	if st, body := e.api("DELETE", fmt.Sprintf("/api/v1/keys/%d", e.ids["operator"]), "admin", ""); st/100 != 2 {
		t.Fatalf("revoke: %d %s", st, body)
	}
	resp, body := b.do("GET", "/console/api/stations", nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "revoked") {
		t.Fatalf("after revocation: %d %s", resp.StatusCode, body)
	}
	// a revoked key cannot sign in again
	tok := b.csrf("/console/signin")
	if resp, _ := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {e.keys["operator"]}}); resp.StatusCode != 401 {
		t.Fatalf("sign in with a revoked key: %d", resp.StatusCode)
	}
}

// Failed sign-ins are slowed per address like any failed key (auth.Limiter): over the burst
// (the subtests before have failed twice), 429 with Retry-After, even for the right key.
func testSigninLimit(t *testing.T, e *env) {
	b := e.browser()
	limited := false
	for i := 0; i < 8 && !limited; i++ {
		tok := b.csrf("/console/signin")
		resp, _ := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {fmt.Sprintf("wrong-key-%d-0000000000000", i)}})
		switch resp.StatusCode {
		case 401:
		case 429:
			limited = true
		default:
			t.Fatalf("wrong key %d: %d", i, resp.StatusCode)
		}
	}
	if !limited {
		t.Fatal("8 wrong keys after 2 earlier failures, burst 6: never limited")
	}
	tok := b.csrf("/console/signin")
	resp, body := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {e.keys["viewer"]}})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "failed") {
		t.Fatalf("over the limit: %d %q %.400s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
