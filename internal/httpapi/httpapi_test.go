package httpapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/httpapi"
	"github.com/rabta/rabta/internal/openapi"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/warning"
)

const rulesYAML = `rules:
  - id: khanki
    name: Khanki (needs an approver)
    kind: threshold
    datastreams: [1]
    levels:
      - {name: Low, value: 100000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    status: Exercise
    templates:
      en: {headline: "{{.Level}} flood at Khanki", description: "{{.Value}}", instruction: "Move to higher ground."}
`

// signer signs with a test key, which the server trusts.
type signer struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func (s signer) Sign(xml []byte) ([]byte, error) { return cap.Sign(xml, s.key, s.cert) }

func newSigner(t *testing.T) signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabta test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, cert}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// key is an API key and the name the API records its decisions under.
type key struct{ clear, by string }

// node is the REST API on a real SQLite store, wired as rabta serve wires it.
type node struct {
	t      *testing.T
	srv    *httptest.Server
	db     sqlq.Engine
	api    *httpapi.Server
	alerts *sqlq.Alerts
	svc    *alert.Service
	log    *syncBuffer
	// keys by name: "admin", "operator", "approver", "approver2" and "pdmaviewer" are of
	// organisation pdma, which owns the rules admin applies; "other" is an approver and
	// "otheradmin" an admin of organisation ndma; "nodeadmin" is the node-wide admin (role admin
	// of organisation "admin"); "viewer" is of organisation public
	keys map[string]key
}

func newNode(t *testing.T) *node {
	t.Helper()
	return newNodeOn(t, openStore(t, "sqlite", filepath.Join(t.TempDir(), "rabta.db")))
}

// store is one of the two stores, opened on a database that can be opened again (a restart).
type store struct {
	eng    sqlq.Engine
	alerts *sqlq.Alerts
	auth   *sqlq.Auth
	reopen func() *sqlq.Alerts
}

// openStore opens the SQLite file at where, or (engine "postgres") a fresh schema of the
// test PostgreSQL (skipped without RABTA_TEST_POSTGRES).
func openStore(t *testing.T, engine, where string) store {
	t.Helper()
	ctx := context.Background()
	if engine == "postgres" {
		dsn := storetest.PostgresSchema(t)
		open := func() *postgres.DB {
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		db := open()
		return store{db, postgres.NewAlerts(db), postgres.NewAuth(db), func() *sqlq.Alerts { return postgres.NewAlerts(open()) }}
	}
	open := func() *sqlite.DB {
		db, err := sqlite.Open(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open()
	return store{db, sqlite.NewAlerts(db), sqlite.NewAuth(db), func() *sqlq.Alerts { return sqlite.NewAlerts(open()) }}
}

func newNodeOn(t *testing.T, st store) *node {
	t.Helper()
	ctx := context.Background()
	ks := st.auth
	n := &node{t: t, db: st.eng, alerts: st.alerts, log: &syncBuffer{}, keys: map[string]key{}}
	storetest.SeedDatastreams(t, st.eng, "pdma", 1, 2) // what the tests' rules read
	for name, k := range map[string]struct {
		org  string
		role auth.Role
	}{"admin": {"pdma", auth.Admin}, "viewer": {"public", auth.Viewer}, "pdmaviewer": {"pdma", auth.Viewer}, "operator": {"pdma", auth.Operator},
		"approver": {"pdma", auth.Approver}, "approver2": {"pdma", auth.Approver}, "other": {"ndma", auth.Approver},
		"otheradmin": {"ndma", auth.Admin}, "nodeadmin": {auth.NodeOrganisation, auth.Admin}} {
		clear, id, err := auth.Create(ctx, ks, k.org, k.role, name)
		if err != nil {
			t.Fatal(err)
		}
		n.keys[name] = key{clear, fmt.Sprintf("%s/key-%d", k.org, id)}
	}
	sign := newSigner(t)
	runner := &warning.Runner{Store: n.alerts}
	n.svc = &alert.Service{Store: n.alerts, Signer: sign, Rules: runner.Rule,
		Config: alert.Config{Node: "test", Sender: "test.rabta.org", FourEyes: true, Expiry: 6 * time.Hour}}
	runner.Alerts = n.svc
	log := slog.New(slog.NewJSONHandler(n.log, nil))
	n.api = &httpapi.Server{Alerts: n.svc, Store: n.alerts, Rules: n.alerts, Runner: runner,
		Trusted: func() []*x509.Certificate { return []*x509.Certificate{sign.cert} }, FeedTitle: "test", Author: "test", MaxBody: 1 << 20, Log: log}
	mux := http.NewServeMux()
	n.api.Register(mux)
	authn := &auth.Authenticator{Store: ks}
	n.srv = httptest.NewServer(auth.RequestID(authn.Middleware(n.api.Error)(mux)))
	t.Cleanup(n.srv.Close)
	return n
}

// do sends a request with the key of role ("" for none) and returns the response and its body.
func (n *node) do(method, path, role, body string, header ...string) (*http.Response, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+n.keys[role].clear)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.HasPrefix(path, "/api/v1/") && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		for _, p := range openapi.Style(b) { // one JSON style for every answer of /api/v1
			n.t.Errorf("%s %s: JSON style: %s", method, path, p)
		}
	}
	return resp, string(b)
}

// refused checks an error answer: its status, a message containing want, the request id in
// the header and the body, and one log line with that id.
func (n *node) refused(resp *http.Response, body string, status int, want string) {
	n.t.Helper()
	var e struct {
		Code      int    `json:"code"`
		Type      string `json:"type"`
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		n.t.Fatalf("%s %s: %d %q is not a JSON error: %v", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, err)
	}
	if resp.StatusCode != status || e.Code != status || e.Type != "error" || !strings.Contains(e.Message, want) {
		n.t.Errorf("%s %s: %d %s; want %d with %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, want)
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || e.RequestID != id {
		n.t.Errorf("%s %s: request id %q in the body, %q in the header", resp.Request.Method, resp.Request.URL.Path, e.RequestID, id)
	} else if c := strings.Count(n.log.String(), `"request_id":"`+id+`"`); c != 1 {
		n.t.Errorf("%s %s: %d log lines with request id %s, want 1", resp.Request.Method, resp.Request.URL.Path, c, id)
	}
	for _, leak := range []string{"json:", "Go struct", "sqlite", "SQL", "*", "%!"} {
		if strings.Contains(e.Message, leak) {
			n.t.Errorf("%s %s: message shows %q: %s", resp.Request.Method, resp.Request.URL.Path, leak, e.Message)
		}
	}
}

// draft applies the rules and fires the rule once: alert 1, a draft by "rule:khanki".
func (n *node) draft() {
	n.t.Helper()
	if resp, b := n.do("PUT", "/api/v1/rules", "admin", rulesYAML); resp.StatusCode != 200 {
		n.t.Fatalf("rules: %d %s", resp.StatusCode, b)
	}
	now := time.Now().UTC()
	a, err := n.svc.Trigger(context.Background(), rule.Trigger{RuleID: "khanki", Kind: rule.Fire, Level: 0, LevelName: "Low", PrevLevel: -1,
		Datastream: 1, Value: 150000, ObservedAt: now, At: now, Cause: "Khanki: 150000 ≥ 100000 (Low)"})
	if err != nil || a == nil || a.ID != 1 || a.State != alert.Draft {
		n.t.Fatalf("trigger: %+v %v", a, err)
	}
}

func TestRules(t *testing.T) {
	n := newNode(t)
	resp, b := n.do("PUT", "/api/v1/rules", "", rulesYAML)
	n.refused(resp, b, 401, "API key")
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	resp, b = n.do("PUT", "/api/v1/rules", "approver", rulesYAML)
	n.refused(resp, b, 403, "role admin")
	resp, b = n.do("PUT", "/api/v1/rules", "admin", "rules:\n  - id: x\n    kind: threshold\n    levels: [oops\n")
	n.refused(resp, b, 400, "rules: request body:")
	resp, b = n.do("PUT", "/api/v1/rules", "admin", strings.Replace(rulesYAML, "{{.Level}}", "{{.Nope", 1))
	n.refused(resp, b, 400, "rule khanki: templates.en.headline")
	resp, b = n.do("PUT", "/api/v1/rules", "admin", strings.Repeat("#", 1<<20+1))
	n.refused(resp, b, 413, "1 MiB")

	resp, b = n.do("PUT", "/api/v1/rules", "admin", rulesYAML)
	if resp.StatusCode != 200 || !strings.Contains(b, `"applied": 1`) {
		t.Fatalf("PUT rules: %d %s", resp.StatusCode, b)
	}
	resp, _ = n.do("GET", "/api/v1/rules", "", "")
	if resp.StatusCode != 401 {
		t.Errorf("anonymous GET rules: %d", resp.StatusCode)
	}
	resp, b = n.do("GET", "/api/v1/rules", "viewer", "")
	var got struct{ Value []map[string]any }
	if err := json.Unmarshal([]byte(b), &got); resp.StatusCode != 200 || err != nil || len(got.Value) != 1 || got.Value[0]["id"] != "khanki" {
		t.Errorf("GET rules: %d %s %v", resp.StatusCode, b, err)
	}
}

// GET /api/v1/rules shows rules in the forms of a rules file: durations as Go durations,
// hysteresis as "5%", zero values left out; the stored rule (rule.Rule's JSON) is not what the
// API shows.
func TestRulesAsWritten(t *testing.T) {
	n := newNode(t)
	doc := strings.Replace(rulesYAML, "    status: Exercise\n", "    status: Exercise\n    hysteresis: 5%\n    hold: 10m\n    clearHold: 90m\n", 1) +
		"  - {id: quiet, kind: silence, maxGap: 48h, datastreams: [2]}\n"
	if resp, b := n.do("PUT", "/api/v1/rules", "admin", doc); resp.StatusCode != 200 {
		t.Fatalf("PUT rules: %d %s", resp.StatusCode, b)
	}
	_, b := n.do("GET", "/api/v1/rules", "viewer", "")
	var got struct{ Value []map[string]any }
	if err := json.Unmarshal([]byte(b), &got); err != nil || len(got.Value) != 2 {
		t.Fatalf("GET rules: %s %v", b, err)
	}
	k, q := got.Value[0], got.Value[1]
	if k["id"] != "khanki" {
		k, q = q, k
	}
	for key, want := range map[string]any{"hysteresis": "5%", "hold": "10m", "clearHold": "1h30m", "status": "Exercise"} {
		if k[key] != want {
			t.Errorf("khanki %s: %v, want %v (%s)", key, k[key], want, b)
		}
	}
	if q["maxGap"] != "48h" || q["hysteresis"] != nil || q["area"] != nil || q["levels"] != nil {
		t.Errorf("quiet: %v", q)
	}
}

// A draft's CAP infos are shown in the API's style: camelCase CAP names, lists in the plural,
// areas as rules write them, no zero times.
func TestDraftInfos(t *testing.T) {
	n := newNode(t)
	n.draft()
	resp, b := n.do("GET", "/api/v1/alerts/1", "pdmaviewer", "")
	var a struct {
		Draft struct {
			Infos []map[string]any `json:"infos"`
		} `json:"draft"`
	}
	if err := json.Unmarshal([]byte(b), &a); resp.StatusCode != 200 || err != nil || len(a.Draft.Infos) == 0 {
		t.Fatalf("draft: %d %s %v", resp.StatusCode, b, err)
	}
	in := a.Draft.Infos[0]
	area, _ := in["areas"].([]any)
	if in["language"] != "en" || in["headline"] != "Low flood at Khanki" || in["urgency"] != "Expected" || len(area) != 1 ||
		!strings.Contains(b, `"desc": "Chenab near Khanki"`) || !strings.Contains(b, `"radiusKm": 25`) || !strings.Contains(b, `"categories": [`) {
		t.Errorf("draft info: %v", in)
	}
}

func TestAlertsByRole(t *testing.T) {
	n := newNode(t)
	n.draft()
	resp, b := n.do("GET", "/api/v1/alerts?state=draft", "", "")
	n.refused(resp, b, 401, "API key")
	resp, b = n.do("GET", "/api/v1/alerts?state=draft", "pdmaviewer", "")
	if resp.StatusCode != 200 || !strings.Contains(b, `"state": "draft"`) || !strings.Contains(b, `/api/v1/alerts/1/approve`) {
		t.Fatalf("list drafts: %d %s", resp.StatusCode, b)
	}
	for _, bad := range []struct{ path, want string }{
		{"/api/v1/alerts?state=open", `state "open": want draft`},
		{"/api/v1/alerts?limit=0", `limit "0": want 1 to 1000`},
		{"/api/v1/alerts/x", `alert id "x": want a positive integer`},
	} {
		resp, b := n.do("GET", bad.path, "viewer", "")
		n.refused(resp, b, 400, bad.want)
	}
	resp, b = n.do("GET", "/api/v1/alerts/99", "viewer", "")
	n.refused(resp, b, 404, "alert 99 does not exist")

	for _, role := range []string{"viewer", "operator"} {
		resp, b := n.do("POST", "/api/v1/alerts/1/approve", role, "")
		n.refused(resp, b, 403, "needs role approver")
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why": 1}`)
	n.refused(resp, b, 400, `body: want {"why": "..."}`)
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"because": "x"}`)
	n.refused(resp, b, 400, `body: want {"why": "..."}`)

	// four eyes: a draft written by a person is approved by another one
	ctx := context.Background()
	a, err := n.alerts.GetAlert(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	a.DraftBy = n.keys["approver"].by
	if err := n.alerts.SaveAlert(ctx, a, alert.Transition{AlertID: 1, From: alert.Draft, To: alert.Draft, By: a.DraftBy, Why: "edited", At: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"mine"}`)
	n.refused(resp, b, 403, "four eyes")
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver2", `{"why":"confirmed by the gauge reader"}`)
	if resp.StatusCode != 200 || !strings.Contains(b, `"state": "issued"`) || !strings.Contains(b, `"by": "`+n.keys["approver2"].by+`"`) ||
		!strings.Contains(b, "confirmed by the gauge reader") {
		t.Fatalf("approve: %d %s", resp.StatusCode, b)
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver2", "")
	n.refused(resp, b, 409, "alert 1 has no draft to approve (state issued)")

	// the condition clears: a Cancel draft, which an approver may reject (the alert stays issued)
	now := time.Now().UTC()
	if _, err := n.svc.Trigger(ctx, rule.Trigger{RuleID: "khanki", Kind: rule.Clear, Level: -1, PrevLevel: 0, Datastream: 1, Value: 50000, ObservedAt: now, At: now, Cause: "below"}); err != nil {
		t.Fatal(err)
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/reject", "operator", "")
	n.refused(resp, b, 403, "needs role approver")
	resp, b = n.do("POST", "/api/v1/alerts/1/reject", "approver", `{"why":"still rising upstream"}`)
	if resp.StatusCode != 200 || !strings.Contains(b, `"state": "issued"`) || strings.Contains(b, `"draft": {`) {
		t.Fatalf("reject: %d %s", resp.StatusCode, b)
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/reject", "approver", "")
	n.refused(resp, b, 409, "no draft to reject")
	resp, b = n.do("POST", "/api/v1/alerts/1/cancel", "approver", "")
	n.refused(resp, b, 400, "cancelling needs a reason")
	resp, b = n.do("POST", "/api/v1/alerts/1/cancel", "approver", `{"why":"gauge fault"}`)
	if resp.StatusCode != 200 || !strings.Contains(b, `"state": "cancelled"`) {
		t.Fatalf("cancel: %d %s", resp.StatusCode, b)
	}
}

// oldDraft is a draft as the store kept it before the API had its own view (and as it still
// keeps it): cap.Alert's JSON, with Go field names, null lists and zero times.
const oldDraft = `{"Identifier":"","Sender":"test.rabta.org","Sent":"0001-01-01T00:00:00Z","Status":"Exercise","MsgType":"Alert",
"Source":"","Scope":"Public","Restriction":"","Addresses":null,"Codes":null,"Note":"","References":null,"Incidents":null,
"Infos":[{"Language":"ur","Categories":["Met"],"Event":"سیلاب","ResponseType":["Evacuate"],"Urgency":"Immediate","Severity":"Severe",
"Certainty":"Observed","Audience":"","EventCodes":null,"Effective":"0001-01-01T00:00:00Z","Onset":"0001-01-01T00:00:00Z",
"Expires":"2025-08-28T12:00:00+05:00","SenderName":"","Headline":"کھنکی پر سیلاب","Description":"","Instruction":"","Web":"","Contact":"",
"Parameters":[{"ValueName":"rabta:level","Value":"High"}],"Resources":null,
"Areas":[{"AreaDesc":"Khanki","Polygons":null,"Circles":[{"Center":{"Lat":32.4,"Lon":73.97},"RadiusKM":25}],"Geocodes":null,"Altitude":null,"Ceiling":null}]}],
"Extensions":null}`

// A draft stored by an earlier version reads, and the API shows it in its own style.
func TestDraftStoredBefore(t *testing.T) {
	n := newNode(t)
	n.draft()
	ctx := context.Background()
	if err := n.db.Write(ctx, func(tx sqlq.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE alerts SET draft = ? WHERE id = 1`, oldDraft)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	resp, b := n.do("GET", "/api/v1/alerts/1", "pdmaviewer", "") // do holds it to the style
	var a struct {
		Draft struct {
			Headline string           `json:"headline"`
			Infos    []map[string]any `json:"infos"`
		} `json:"draft"`
	}
	if err := json.Unmarshal([]byte(b), &a); resp.StatusCode != 200 || err != nil || len(a.Draft.Infos) != 1 {
		t.Fatalf("old draft: %d %s %v", resp.StatusCode, b, err)
	}
	in := a.Draft.Infos[0]
	if a.Draft.Headline != "کھنکی پر سیلاب" || in["language"] != "ur" || in["expires"] != "2025-08-28T12:00:00+05:00" || in["onset"] != nil ||
		!strings.Contains(b, `"parameters": [`) || !strings.Contains(b, `"name": "rabta:level"`) || !strings.Contains(b, `"radiusKm": 25`) {
		t.Errorf("old draft shown as %s", b)
	}
}

func TestFeedAndVerify(t *testing.T) {
	n := newNode(t)
	n.draft()
	resp, b := n.do("GET", "/cap/alerts.atom", "", "")
	if resp.StatusCode != 200 || strings.Contains(b, "<entry>") {
		t.Fatalf("feed before issue: %d %s", resp.StatusCode, b)
	}
	empty := resp.Header.Get("ETag")
	if resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"ok"}`); resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, b)
	}
	resp, b = n.do("GET", "/cap/alerts.atom", "", "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !strings.Contains(b, "<entry>") || !strings.Contains(b, "Low flood at Khanki") || etag == "" || etag == empty ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("feed: %d %q %s", resp.StatusCode, etag, b)
	}
	if resp, b := n.do("GET", "/cap/alerts.atom", "", "", "If-None-Match", etag); resp.StatusCode != 304 || b != "" {
		t.Errorf("feed with its ETag: %d %q", resp.StatusCode, b)
	}
	if resp, _ := n.do("GET", "/cap/alerts.atom", "", "", "If-None-Match", empty); resp.StatusCode != 200 {
		t.Errorf("feed with an old ETag: %d", resp.StatusCode)
	}

	a, err := n.alerts.GetAlert(context.Background(), 1)
	if err != nil || len(a.Issued) != 1 {
		t.Fatalf("issued: %+v %v", a, err)
	}
	path := "/cap/alerts/" + a.Issued[0].Identifier + ".xml"
	resp, xml := n.do("GET", path, "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/cap+xml") || !strings.Contains(xml, "<ds:Signature") {
		t.Fatalf("CAP message: %d %s", resp.StatusCode, xml)
	}
	if resp, _ := n.do("GET", path, "", "", "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != 304 {
		t.Errorf("CAP message with its ETag: %d", resp.StatusCode)
	}
	resp, b = n.do("GET", "/cap/alerts/nope.xml", "", "")
	n.refused(resp, b, 404, `no alert message "nope"`)
	resp, b = n.do("GET", "/cap/alerts/nope", "", "")
	n.refused(resp, b, 404, "CAP messages are at /cap/alerts/<identifier>.xml")

	// verify: the node's own signature verifies; a changed byte does not, and says where
	resp, b = n.do("POST", "/api/v1/cap/verify", "", xml)
	n.refused(resp, b, 401, "API key")
	resp, b = n.do("POST", "/api/v1/cap/verify", "viewer", xml)
	if resp.StatusCode != 200 || !strings.Contains(b, `"verified": true`) || !strings.Contains(b, a.Issued[0].Identifier) {
		t.Fatalf("verify: %d %s", resp.StatusCode, b)
	}
	resp, b = n.do("POST", "/api/v1/cap/verify", "viewer", strings.Replace(xml, "Low flood", "High flood", 1))
	n.refused(resp, b, 400, "not verified: cap: alert/Signature")
	resp, b = n.do("POST", "/api/v1/cap/verify", "viewer", "<alert>")
	n.refused(resp, b, 400, "not verified: cap:")
}

// failing is an alert store whose listing fails as a database can.
type failing struct{ alert.Store }

func (failing) ListAlerts(context.Context, alert.Filter) ([]*alert.Alert, error) {
	return nil, fmt.Errorf("list alerts: %w", errors.New("database is locked (5) (SQLITE_BUSY)"))
}

// An internal error is a 500 that says only "internal error" and the request id; its one log
// line, at level error, has the same id and the whole cause.
func TestInternalErrorIsLoggedNotShown(t *testing.T) {
	n := newNode(t)
	n.api.Store = failing{n.alerts}
	resp, b := n.do("GET", "/api/v1/alerts", "viewer", "", "X-Request-Id", "support-ticket-42")
	n.refused(resp, b, 500, "internal error")
	if strings.Contains(b, "locked") || resp.Header.Get("X-Request-Id") != "support-ticket-42" {
		t.Errorf("500: %s, id %q", b, resp.Header.Get("X-Request-Id"))
	}
	var line map[string]any
	for _, l := range strings.Split(n.log.String(), "\n") {
		if strings.Contains(l, "support-ticket-42") {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["level"] != "ERROR" || line["msg"] != "request_failed" || !strings.Contains(fmt.Sprint(line["err"]), "SQLITE_BUSY") {
		t.Errorf("log line: %v", line)
	}
}
