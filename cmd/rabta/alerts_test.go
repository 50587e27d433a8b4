package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/cap"
)

const testRules = `rules:
  - id: khanki-auto
    name: Khanki (issues by itself)
    kind: threshold
    datastreams: [1]
    hysteresis: 5%
    levels:
      - {name: Low, value: 100000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
      - {name: Exceptionally High, value: 600000, severity: Extreme, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    autoIssue: true
    status: Test
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}", description: "{{.Value}} {{.Unit}} at {{.ObservedAt}}", instruction: "Move to higher ground."}
      ur: {headline: "{{.Station}} پر سیلاب", description: "{{.Value}}", instruction: "اونچی جگہ پر جائیں۔"}
  - id: khanki-review
    name: Khanki (needs an approver)
    kind: threshold
    datastreams: [1]
    levels:
      - {name: Low, value: 100000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, geocodes: [{name: district, value: PK-Gujranwala}]}
    status: Exercise
`

func TestAlertLifeCycle(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("xmllint not found: install libxml2-utils (scripts/test.sh does)")
	}
	dir := t.TempDir()
	p := start(t, dir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	key := func(role string) string {
		out, _, err := rabta(t, "keys", "create", "--data-dir", dir, "--org", "ndma", "--role", role)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	operator, approver := key("operator"), key("approver")
	// the station is ndma's, so that its operator may post into it (organisations are a boundary)
	if st, b := p.req("POST", "/v1.1/Things", operator, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	// rules: bad YAML is refused with a position; only admins may apply
	if st, b := p.req("PUT", "/api/v1/rules", adminKey, "rules:\n  - id: x\n    kind: threshold\n    datastreams: [1]\n    levels: [{name: A, value: 5}, {name: B, value: 3}]\n"); st != 400 || !strings.Contains(b, "rules[0].levels[1].value") {
		t.Errorf("bad rules: %d %s", st, b)
	}
	if st, _ := p.req("PUT", "/api/v1/rules", approver, testRules); st != 403 {
		t.Errorf("approver applying rules: %d, want 403", st)
	}
	// the file way: rabta rules apply, picked up by the running node
	rf := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rf, []byte(testRules), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - id: x\n    kind: thresold\n"), 0o644)
	if _, e, err := rabta(t, "rules", "apply", "--data-dir", dir, bad); err == nil || !strings.Contains(e, "bad.yaml:3:") {
		t.Errorf("rules apply of a bad file: %v %s", err, e)
	}
	// the rules are ndma's (the node-wide admin names the organisation), so that ndma's approver decides on their alerts
	if out, e, err := rabta(t, "rules", "apply", "--data-dir", dir, rf, "--org", "ndma"); err != nil || !strings.Contains(out, "2 rules applied") || !strings.Contains(out, "organisation ndma") {
		t.Fatalf("rules apply: %v %s %s", err, out, e)
	}
	if st, b := p.req("PUT", "/api/v1/rules?organisation=ndma", adminKey, testRules); st != 200 {
		t.Fatalf("rules: %d %s", st, b)
	}
	// who changed the rules: the command line (as cli/<user>); the same rules put again change nothing
	if out, e, err := rabta(t, "rules", "changes", "khanki-auto", "--data-dir", dir); err != nil || strings.Count(out, `"change"`) != 1 ||
		!strings.Contains(out, `"by": "cli/`) || !strings.Contains(out, `"organisation": "ndma"`) || !strings.Contains(out, `"change": "created"`) {
		t.Errorf("rules changes: %v %s %s", err, out, e)
	}
	if out, _, err := rabta(t, "rules", "list", "--data-dir", dir, "--org", "admin"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("the node organisation's rules: %v %s", err, out)
	}
	ctx := context.Background()
	client, err := bus.Open(ctx, bus.Options{Node: "local", URL: p.nats, Key: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var mu sync.Mutex
	var onBus []*cap.Alert
	stop, err := client.SubscribeAlerts(func(xml []byte) {
		a, err := cap.Unmarshal(xml)
		if err != nil {
			t.Errorf("bus alert: %v", err)
			return
		}
		mu.Lock()
		onBus = append(onBus, a)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitBus := func(n int) []*cap.Alert {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			k := len(onBus)
			mu.Unlock()
			if k >= n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(onBus) < n {
			t.Fatalf("%d alerts on the bus, want %d", len(onBus), n)
		}
		return append([]*cap.Alert(nil), onBus...)
	}
	obs := func(v int) {
		t.Helper()
		body := `{"phenomenonTime":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","result":` + itoa(v) + `,"Datastream":{"@iot.id":1}}`
		if st, b := p.req("POST", "/v1.1/Observations", operator, body); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}

	obs(150000) // Low: the auto rule issues, the review rule drafts
	first := waitBus(1)[0]
	if first.MsgType != cap.MsgAlert || first.Status != cap.StatusTest || len(first.Infos) != 2 || first.Infos[0].Headline != "Low flood at Khanki Headworks" {
		t.Errorf("first alert: %+v", first)
	}
	feed := func() (int, string, string) {
		req, _ := http.NewRequest("GET", p.base+"/cap/alerts.atom", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, resp.Header.Get("ETag"), b.String()
	}
	st, etag, atom := feed()
	if st != 200 || !strings.Contains(atom, first.Identifier) || etag == "" {
		t.Fatalf("feed: %d %q %s", st, etag, atom)
	}
	req, _ := http.NewRequest("GET", p.base+"/cap/alerts.atom", nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("conditional GET of an unchanged feed: %v %v", err, resp.StatusCode)
	}
	// the CAP XML on the feed: the schema validates it, the node's certificate verifies it
	_, xml := p.req("GET", "/cap/alerts/"+first.Identifier+".xml", "", "")
	f := filepath.Join(t.TempDir(), "alert.xml")
	os.WriteFile(f, []byte(xml), 0o644)
	if out, err := exec.Command("xmllint", "--noout", "--schema", "../../internal/cap/schema/CAP-v1.2.xsd", f).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v %s", err, out)
	}
	if st, b := p.req("POST", "/api/v1/cap/verify", operator, xml); st != 200 || !strings.Contains(b, `"verified": true`) {
		t.Errorf("verify: %d %s", st, b)
	}
	tampered := strings.Replace(xml, "Low flood", "No flood", 1)
	if st, _ := p.req("POST", "/api/v1/cap/verify", operator, tampered); st != 400 {
		t.Errorf("verify of a tampered message: %d", st)
	}

	// the review rule's draft waits for an approver
	var list struct {
		Value []struct {
			ID    int64  `json:"id"`
			Rule  string `json:"rule"`
			State string `json:"state"`
		} `json:"value"`
	}
	// (the two rules see the value independently: the draft may come after the issued alert)
	var b string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, b = p.req("GET", "/api/v1/alerts?state=draft", operator, "")
		list.Value = nil
		json.Unmarshal([]byte(b), &list)
		if len(list.Value) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(list.Value) != 1 || list.Value[0].Rule != "khanki-review" {
		t.Fatalf("drafts: %s", b)
	}
	draft := list.Value[0].ID
	if st, _ := p.req("POST", "/api/v1/alerts/"+itoa(int(draft))+"/approve", operator, `{"why":"looks right"}`); st != 403 {
		t.Errorf("operator approving: %d, want 403", st)
	}
	if st, b := p.req("POST", "/api/v1/alerts/"+itoa(int(draft))+"/approve", approver, `{"why":"checked with the gauge reader"}`); st != 200 || !strings.Contains(b, `"state": "issued"`) {
		t.Fatalf("approve: %d %s", st, b)
	}
	reviewed := waitBus(2)[1]
	if reviewed.Status != cap.StatusExercise {
		t.Errorf("approved alert status %s, want Exercise", reviewed.Status)
	}

	obs(700000) // escalation: an Update that references the first message
	update := waitBus(3)[2]
	if update.MsgType != cap.MsgUpdate || len(update.References) != 1 || update.References[0].Identifier != first.Identifier ||
		update.Infos[0].Severity != cap.Severity("Extreme") {
		t.Errorf("escalation: %+v", update)
	}
	obs(5000) // all clear: a Cancel referencing both, on the feed beside what it withdraws
	cancel := waitBus(4)[3]
	if cancel.MsgType != cap.MsgCancel || len(cancel.References) != 2 {
		t.Errorf("all clear: %+v", cancel)
	}
	_, _, atom = feed()
	for _, id := range []string{cancel.Identifier, update.Identifier, first.Identifier, reviewed.Identifier} {
		if !strings.Contains(atom, id) {
			t.Errorf("feed after the all clear lacks %s (the Cancel stays beside what it withdraws for feed_keep):\n%s", id, atom)
		}
	}
	if !strings.Contains(atom, "<cap:msgType>Cancel</cap:msgType>") {
		t.Errorf("no Cancel entry on the feed:\n%s", atom)
	}
	// every step is on record, with who and why
	_, b = p.req("GET", "/api/v1/alerts/"+itoa(int(draft)), operator, "")
	if !strings.Contains(b, "checked with the gauge reader") || !strings.Contains(b, "ndma/key-") {
		t.Errorf("transitions: %s", b)
	}
	if st, _ := p.req("GET", "/api/v1/alerts/999", operator, ""); st != 404 {
		t.Errorf("unknown alert: %d", st)
	}
	if st, _ := p.req("GET", "/api/v1/alerts/x", operator, ""); st != 400 {
		t.Errorf("bad alert id: %d", st)
	}
	p.stop()
}

func itoa(v int) string { return strconv.Itoa(v) }
