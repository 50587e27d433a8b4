package httpapi_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/cap"
)

// The CAP feed after a Cancel, on both stores: the Cancel stands beside the warning it
// withdraws for the keep time, <updated> and Last-Modified never go back (not to 1970 when
// nothing is active, not across a restart), and ETag, If-None-Match and If-Modified-Since
// stay right at every step.
func TestFeedAfterCancel(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			st := openStore(t, engine, filepath.Join(t.TempDir(), "rabta.db"))
			n := newNodeOn(t, st)
			var clock time.Time // zero: the wall clock
			n.api.Now = func() time.Time {
				if clock.IsZero() {
					return time.Now()
				}
				return clock
			}
			type read struct {
				entries  []cap.Entry
				updated  time.Time
				etag, lm string
			}
			var last read
			get := func(step string) read {
				t.Helper()
				resp, b := n.do("GET", "/cap/alerts.atom", "", "")
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", step, resp.StatusCode, b)
				}
				f, err := cap.ParseFeed([]byte(b))
				if err != nil {
					t.Fatalf("%s: the feed does not parse: %v\n%s", step, err, b)
				}
				r := read{f.Entries, f.Updated, resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")}
				lm, err := http.ParseTime(r.lm)
				if err != nil || !lm.Equal(r.updated) {
					t.Errorf("%s: Last-Modified %q, <updated> %v", step, r.lm, r.updated)
				}
				if r.updated.Year() < 2026 || r.updated.Before(last.updated) {
					t.Errorf("%s: updated %v (before: %v): it must never go back", step, r.updated, last.updated)
				}
				if r.etag == "" {
					t.Errorf("%s: no ETag", step)
				}
				// conditional GETs: the current validators give 304, the previous ones 200
				if resp, b := n.do("GET", "/cap/alerts.atom", "", "", "If-None-Match", r.etag); resp.StatusCode != 304 || b != "" {
					t.Errorf("%s: If-None-Match with the current ETag: %d", step, resp.StatusCode)
				}
				if resp, _ := n.do("GET", "/cap/alerts.atom", "", "", "If-Modified-Since", r.lm); resp.StatusCode != 304 {
					t.Errorf("%s: If-Modified-Since Last-Modified: %d", step, resp.StatusCode)
				}
				if last.etag != "" && last.etag != r.etag {
					if resp, _ := n.do("GET", "/cap/alerts.atom", "", "", "If-None-Match", last.etag); resp.StatusCode != 200 {
						t.Errorf("%s: If-None-Match with the previous ETag: %d", step, resp.StatusCode)
					}
				}
				if !last.updated.IsZero() && r.updated.After(last.updated) {
					if resp, _ := n.do("GET", "/cap/alerts.atom", "", "", "If-Modified-Since", last.lm); resp.StatusCode != 200 {
						t.Errorf("%s: If-Modified-Since the previous Last-Modified: %d", step, resp.StatusCode)
					}
				}
				last = r
				return r
			}
			types := func(r read) string {
				var s []string
				for _, e := range r.entries {
					s = append(s, string(e.MsgType))
				}
				return strings.Join(s, ",")
			}

			n.draft()
			empty := get("no alert yet")
			if len(empty.entries) != 0 || empty.updated.After(time.Now()) {
				t.Errorf("before issue: %d entries, updated %v (want the store's creation)", len(empty.entries), empty.updated)
			}
			if resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"ok"}`); resp.StatusCode != 200 {
				t.Fatalf("approve: %d %s", resp.StatusCode, b)
			}
			issued := get("issued")
			a, err := n.alerts.GetAlert(context.Background(), 1)
			if err != nil || types(issued) != "Alert" || !issued.updated.Equal(a.Issued[0].Sent) || issued.etag == empty.etag {
				t.Fatalf("issued: %s updated %v etag %s; %v", types(issued), issued.updated, issued.etag, err)
			}
			time.Sleep(time.Until(a.Issued[0].Sent.Add(1100 * time.Millisecond))) // the Cancel is sent a second later
			if resp, b := n.do("POST", "/api/v1/alerts/1/cancel", "approver", `{"why":"gauge fault"}`); resp.StatusCode != 200 {
				t.Fatalf("cancel: %d %s", resp.StatusCode, b)
			}
			a, _ = n.alerts.GetAlert(context.Background(), 1)
			cancelSent := a.Issued[1].Sent
			cancelled := get("cancelled")
			if types(cancelled) != "Cancel,Alert" || !cancelled.updated.Equal(cancelSent) || cancelled.entries[0].ID == cancelled.entries[1].ID ||
				!strings.Contains(cancelled.entries[0].Title, "Cancelled") {
				t.Errorf("after the Cancel: entries %s (%+v), updated %v, want Cancel beside the Alert, updated %v", types(cancelled), cancelled.entries, cancelled.updated, cancelSent)
			}

			// a day and a bit later both have left; updated is when they left, not 1970
			clock = cancelSent.Add(25 * time.Hour)
			gone := get("after the keep time")
			if len(gone.entries) != 0 || !gone.updated.Equal(cancelSent.Add(24*time.Hour)) {
				t.Errorf("after 25 h: %s, updated %v, want none, updated %v", types(gone), gone.updated, cancelSent.Add(24*time.Hour))
			}

			// a restart (a new server on the store opened again) says the same
			api2 := *n.api
			api2.Store = st.reopen()
			mux := http.NewServeMux()
			(&api2).Register(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", n.srv.URL+"/cap/alerts.atom", nil))
			if rec.Code != 200 || rec.Header().Get("ETag") != gone.etag || rec.Header().Get("Last-Modified") != gone.lm {
				t.Errorf("after a restart: %d ETag %s Last-Modified %s, want %s %s", rec.Code, rec.Header().Get("ETag"), rec.Header().Get("Last-Modified"), gone.etag, gone.lm)
			}

			// the keep time is configurable
			short := *n.api
			short.FeedKeep = time.Hour
			mux = http.NewServeMux()
			short.Register(mux)
			clock = cancelSent.Add(2 * time.Hour)
			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", n.srv.URL+"/cap/alerts.atom", nil))
			f, err := cap.ParseFeed(rec.Body.Bytes())
			if err != nil || len(f.Entries) != 0 || !f.Updated.Equal(cancelSent.Add(time.Hour)) {
				t.Errorf("keep 1 h, 2 h after the Cancel: %v entries, updated %v; %v", f, f.Updated, err)
			}
		})
	}
}

// Degenerate areas in a rules document are a 400 naming the rule and the ring or circle,
// and nothing is applied; a signed CAP message with one verifies, and its problems are listed.
func TestDegenerateAreas(t *testing.T) {
	n := newNode(t)
	for _, tc := range []struct{ name, area, want string }{
		{"bow tie", `polygons: [[[31, 74], [32, 75], [31, 75], [32, 74], [31, 74]]]`, "rules[0].area.polygons[0]: crosses itself at 31.5,74.5"},
		{"four identical points", `polygons: [[[31, 74], [31, 74], [31, 74], [31, 74]]]`, "rules[0].area.polygons[0]: has only 1 distinct point(s): it encloses no area"},
		{"radius 0", `circles: [{center: [32.40, 73.97], radiusKm: 0}]`, "rules[0].area.circles[0].radiusKm: radius 0 km: it must be greater than 0"},
		{"negative radius", `circles: [{center: [32.40, 73.97], radiusKm: -1}]`, "rules[0].area.circles[0].radiusKm: radius -1 km"},
		{"unclosed", `polygons: [[[31, 74], [31, 75], [32, 75], [32, 74]]]`, "rules[0].area.polygons[0]: is not closed"},
		{"three points", `polygons: [[[31, 74], [31, 75], [31, 74]]]`, "rules[0].area.polygons[0]: has 3 points"},
		{"latitude", `polygons: [[[95, 74], [31, 75], [32, 75], [95, 74]]]`, "rules[0].area.polygons[0]: point 0 (95,74): latitude out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(rulesYAML, "circles: [{center: [32.40, 73.97], radiusKm: 25}]", tc.area, 1)
			resp, b := n.do("PUT", "/api/v1/rules", "admin", doc)
			n.refused(resp, b, 400, tc.want)
			if resp, b := n.do("GET", "/api/v1/rules", "viewer", ""); resp.StatusCode != 200 || strings.Contains(b, "khanki") {
				t.Errorf("a refused document was applied: %s", b)
			}
		})
	}

	// a received message: it verifies, and the bow tie and the radius-0 circle are reported
	s := newSigner(t)
	n.api.Trusted = func() []*x509.Certificate { return []*x509.Certificate{s.cert} }
	sent := time.Now().UTC().Truncate(time.Second)
	var bowTie cap.Polygon
	for _, p := range [][2]float64{{31, 74}, {32, 75}, {31, 75}, {32, 74}, {31, 74}} {
		bowTie = append(bowTie, cap.Point{Lat: p[0], Lon: p[1]})
	}
	a := &cap.Alert{Identifier: "partner-1", Sender: "partner.example", Sent: sent, Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: cap.ScopePublic,
		Infos: []cap.Info{{Categories: []cap.Category{cap.CatMet}, Event: "Flood", Urgency: cap.UrgencyImmediate, Severity: cap.SeveritySevere, Certainty: cap.CertaintyObserved,
			Areas: []cap.Area{{AreaDesc: "bow tie", Polygons: []cap.Polygon{bowTie}, Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 74}}}}}}}}
	xml, err := cap.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if xml, err = s.Sign(xml); err != nil {
		t.Fatal(err)
	}
	resp, b := n.do("POST", "/api/v1/cap/verify", "viewer", string(xml))
	if resp.StatusCode != 200 || !strings.Contains(b, `"verified": true`) ||
		!strings.Contains(b, "alert/info[0]/area[0]/polygon[0]: crosses itself at 31.5,74.5") || !strings.Contains(b, "alert/info[0]/area[0]/circle[0]: radius 0 km") {
		t.Errorf("verify: %d %s", resp.StatusCode, b)
	}
}

// With PrivateAlerts (public_alerts: false), the CAP feed and an issued CAP message are for
// keys only: anonymous clients get 401 naming what is needed (and not whether the message
// exists), a viewer the feed and the message, with Cache-Control private so that no shared
// cache hands them on. Without it (the default, every other test) both are public.
func TestFeedPrivateAlerts(t *testing.T) {
	n := newNode(t)
	n.draft()
	if resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"ok"}`); resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, b)
	}
	a, err := n.alerts.GetAlert(context.Background(), 1)
	if err != nil || len(a.Issued) != 1 {
		t.Fatalf("issued: %+v %v", a, err)
	}
	doc := "/cap/alerts/" + a.Issued[0].Identifier + ".xml"
	for _, public := range []bool{true, false} {
		n.api.PrivateAlerts = !public
		for _, path := range []string{"/cap/alerts.atom", doc, "/cap/alerts/nope.xml"} {
			resp, b := n.do("GET", path, "", "")
			switch {
			case !public:
				n.refused(resp, b, 401, "this needs an API key with role viewer or higher")
			case path == "/cap/alerts/nope.xml":
				n.refused(resp, b, 404, `no alert message "nope"`)
			case resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public"):
				t.Errorf("public alerts: anonymous GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
			if path == "/cap/alerts/nope.xml" {
				continue
			}
			resp, b = n.do("GET", path, "viewer", "")
			cc := resp.Header.Get("Cache-Control")
			if resp.StatusCode != 200 || !strings.Contains(b, "Low flood at Khanki") || public != strings.HasPrefix(cc, "public") || !public && !strings.HasPrefix(cc, "private") {
				t.Errorf("public alerts %v: a viewer's GET %s: %d %q %.200s", public, path, resp.StatusCode, cc, b)
			}
		}
	}
}
