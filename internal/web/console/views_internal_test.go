package console

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
)

// Without federation or an audit log wired in, their pages say so (and the audit page still
// refuses anyone but the node-wide admin).
func TestViewsNotSetUp(t *testing.T) {
	s := &Server{Node: "n"}
	s.init()
	get := func(p auth.Principal, page func(w2 *httptest.ResponseRecorder, ctx context.Context)) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		ss := &session{principal: p, csrf: "t", expires: time.Now().Add(time.Hour)}
		page(w, auth.WithPrincipal(context.WithValue(context.Background(), sessionKey{}, ss), &ss.principal))
		return w
	}
	agreements := func(w *httptest.ResponseRecorder, ctx context.Context) {
		s.agreementsPage(w, httptest.NewRequest("GET", Prefix+"/agreements", nil).WithContext(ctx))
	}
	auditp := func(w *httptest.ResponseRecorder, ctx context.Context) {
		s.auditPage(w, httptest.NewRequest("GET", Prefix+"/audit", nil).WithContext(ctx))
	}
	admin := auth.Principal{KeyID: 1, Organisation: auth.NodeOrganisation, Role: auth.Admin}
	viewer := auth.Principal{KeyID: 2, Organisation: "wapda", Role: auth.Viewer}
	if w := get(viewer, agreements); w.Code != 200 || !strings.Contains(w.Body.String(), "Federation is not set up on this node.") {
		t.Fatalf("agreements: %d %.600s", w.Code, w.Body)
	}
	if w := get(admin, auditp); w.Code != 200 || !strings.Contains(w.Body.String(), "The audit log is not set up on this node.") {
		t.Fatalf("audit: %d %.600s", w.Code, w.Body)
	}
	orgAdmin := auth.Principal{KeyID: 3, Organisation: "wapda", Role: auth.Admin}
	if w := get(orgAdmin, auditp); w.Code != 403 || !strings.Contains(w.Body.String(), "the audit log belongs to organisation") {
		t.Fatalf("audit as an organisation's admin: %d %.600s", w.Code, w.Body)
	}
}

// The selection summary lists at most MaxSelectionIDs ids of each list, then the count.
func TestSelectionSummary(t *testing.T) {
	many := make([]int64, 25)
	for i := range many {
		many[i] = int64(i + 1)
	}
	for _, c := range []struct {
		sel  federation.Selection
		want string
	}{
		{federation.Selection{}, "nothing"},
		{federation.Selection{Datastreams: []int64{4, 2}}, "datastreams 4, 2"},
		{federation.Selection{Things: many[:10], ObservedProperties: []int64{3}}, "things 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 · observed properties 3"},
		{federation.Selection{Datastreams: many}, "datastreams 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 … (25 in all)"},
	} {
		if got := selectionSummary(c.sel); got != c.want {
			t.Errorf("%+v: %q, want %q", c.sel, got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{0: "none", 6 * time.Hour: "6h", 48 * time.Hour: "2d", 90 * time.Minute: "1h30m"} {
		if got := durationOr(d, "none"); got != want {
			t.Errorf("durationOr(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzShorten: the audit page's detail is valid UTF-8 of at most n characters: s itself (bad
// bytes replaced) when it fits, else n characters, a prefix of s and "…".
func FuzzShorten(f *testing.F) {
	for _, s := range []string{"", "null", `{"agreement":1}`, strings.Repeat("x", 200), strings.Repeat("سیلاب", 50), "\xff\xfe{", "ab\xc3"} {
		f.Add(s, 160)
		f.Add(s, 3)
	}
	f.Add("abc", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 1000
		got := shorten(s, n)
		v := string([]rune(s)) // s with each byte that is not UTF-8 replaced by U+FFFD
		c := utf8.RuneCountInString(got)
		switch {
		case !utf8.ValidString(got):
			t.Fatalf("%q, %d: %q not UTF-8", s, n, got)
		case n < 1:
			if got != "" {
				t.Fatalf("%q, %d: %q", s, n, got)
			}
		case c > n:
			t.Fatalf("%q, %d: %q has %d characters", s, n, got, c)
		case utf8.RuneCountInString(v) <= n:
			if got != v {
				t.Fatalf("%q, %d: fits but became %q", s, n, got)
			}
		case c != n || !strings.HasSuffix(got, "…") || !strings.HasPrefix(v, strings.TrimSuffix(got, "…")):
			t.Fatalf("%q, %d: cut to %q", s, n, got)
		}
	})
}

// agreementList is an AgreementLister over a fixed list (what federation.Service's List
// returns is tested with the store in testAgreementsAudit).
type agreementList []federation.Agreement

func (l agreementList) List(context.Context) ([]federation.Agreement, error) { return l, nil }

// An agreement that shares no Observations (alerts only) is shown as such: not with the
// resolution, embargo and retention it stores by default ("raw", none, no limit), which the
// API leaves out for it; an agreement sharing data still shows them.
func TestAgreementsPageAlertsOnly(t *testing.T) {
	area, err := federation.ParseArea([]byte(`{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	base := federation.Agreement{ProviderOrg: "wapda", ConsumerOrg: "nea", ConsumerNode: "kathmandu", Resolution: federation.Raw,
		ValidFrom: from, State: federation.Approved, CreatedBy: "admin", CreatedAt: from}
	alerts, alertsArea, data := base, base, base
	alerts.ID, alerts.Selection = 1, federation.Selection{Alerts: true}
	alertsArea.ID, alertsArea.Selection = 2, federation.Selection{Alerts: true, Observations: &no, Area: area}
	data.ID, data.Selection, data.Retention, data.Embargo = 3, federation.Selection{Datastreams: []int64{4}, Alerts: true}, federation.Duration(30*24*time.Hour), federation.Duration(6*time.Hour)
	s := &Server{Node: "lahore", Agreements: agreementList{alerts, alertsArea, data}}
	s.init()
	p := auth.Principal{KeyID: 1, Organisation: auth.NodeOrganisation, Role: auth.Admin}
	ss := &session{principal: p, csrf: "t", expires: time.Now().Add(time.Hour)}
	ctx := auth.WithPrincipal(context.WithValue(context.Background(), sessionKey{}, ss), &ss.principal)
	w := httptest.NewRecorder()
	s.agreementsPage(w, httptest.NewRequest("GET", Prefix+"/agreements", nil).WithContext(ctx))
	page := w.Body.String()
	row := func(id int) string {
		m := regexp.MustCompile(`(?s)<tr id="agreement-` + strconv.Itoa(id) + `".*?</tr>`).FindString(page)
		if m == "" {
			t.Fatalf("no row for agreement %d: %d %.3000s", id, w.Code, page)
		}
		return m
	}
	for id, sel := range map[int]string{1: "<td>alerts</td>", 2: "<td>area · alerts</td>"} {
		r := row(id)
		if !strings.Contains(r, "alerts only") || !strings.Contains(r, sel) || strings.Contains(r, "raw") || strings.Contains(r, "kept") ||
			strings.Contains(r, "none") {
			t.Errorf("alerts-only agreement %d: want 'alerts only', %q and no resolution, retention or embargo:\n%s", id, sel, r)
		}
	}
	if r := row(3); strings.Contains(r, "alerts only") || !strings.Contains(r, "raw") || !strings.Contains(r, "kept 30d") ||
		!strings.Contains(r, "<td>6h</td>") || !strings.Contains(r, "<td>datastreams 4 · alerts</td>") {
		t.Errorf("a data agreement: want its resolution, retention and embargo:\n%s", r)
	}
}
