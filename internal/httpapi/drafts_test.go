package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/rule"
)

// twoRules are pdma's khanki rule (rulesYAML) and a second one, marala, on Datastream 2.
const twoRules = rulesYAML + `  - id: marala
    name: Marala (needs an approver)
    kind: threshold
    datastreams: [2]
    levels:
      - {name: Low, value: 100000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: Chenab near Marala, circles: [{center: [32.67, 74.46], radiusKm: 25}]}
    status: Exercise
    templates:
      en: {headline: "{{.Level}} flood at Marala", description: "{{.Value}}", instruction: "Move to higher ground."}
`

// listed is GET /api/v1/alerts as role reads it: the alerts by id, and the body.
func (n *node) listed(query, role string) (map[int64]map[string]any, string) {
	n.t.Helper()
	resp, b := n.do("GET", "/api/v1/alerts"+query, role, "")
	if resp.StatusCode != 200 {
		n.t.Fatalf("GET /api/v1/alerts%s as %s: %d %s", query, role, resp.StatusCode, b)
	}
	var v struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal([]byte(b), &v); err != nil {
		n.t.Fatal(err)
	}
	out := map[int64]map[string]any{}
	for _, a := range v.Value {
		out[int64(a["id"].(float64))] = a
	}
	return out, b
}

// listedOne is alert id as role reads it in GET /api/v1/alerts/{id}.
func (n *node) listedOne(id int64, role string) map[string]any {
	n.t.Helper()
	resp, b := n.do("GET", fmt.Sprintf("/api/v1/alerts/%d", id), role, "")
	var v map[string]any
	if err := json.Unmarshal([]byte(b), &v); resp.StatusCode != 200 || err != nil {
		n.t.Fatalf("GET /api/v1/alerts/%d as %s: %d %s", id, role, resp.StatusCode, b)
	}
	return v
}

// What an alert never issued — a draft waiting (a first Alert; a Cancel waiting on an issued
// alert), an alert withdrawn before issue — is read by viewers of its organisation (pdma) and
// by the node-wide admin only: another organisation's viewer or approver lists none of it,
// reads an unissued alert as one that does not exist (404, the same words), and sees an issued
// alert without the draft waiting on it; a key is needed at all (401 anonymous, whatever the
// feed's setting). What was issued stays readable by all, and on the public feed.
func TestDraftsReadByOrganisation(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			n := newNodeOn(t, openStore(t, engine, filepath.Join(t.TempDir(), "rabta.db")))
			testDraftsReadByOrganisation(t, n)
		})
	}
}

func testDraftsReadByOrganisation(t *testing.T, n *node) {
	ctx := context.Background()
	if resp, b := n.do("PUT", "/api/v1/rules", "admin", twoRules); resp.StatusCode != 200 {
		t.Fatalf("rules: %d %s", resp.StatusCode, b)
	}
	fire := func(ruleID string, ds int64, kind rule.TriggerKind, level int, cause string) {
		t.Helper()
		now := time.Now().UTC()
		tr := rule.Trigger{RuleID: ruleID, Kind: kind, Level: level, LevelName: "Low", PrevLevel: -1, Datastream: ds, Value: 150000, ObservedAt: now, At: now, Cause: cause}
		if level < 0 {
			tr.LevelName, tr.PrevLevel, tr.Value = "", 0, 50000
		}
		if _, err := n.svc.Trigger(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	owners := []string{"pdmaviewer", "approver", "nodeadmin"} // a viewer of pdma, an approver of pdma, the node-wide admin
	others := []string{"viewer", "other", "otheradmin"}       // a viewer of public, an approver and an admin of ndma

	// 1. alert 1, khanki's first Alert, waiting: pdma's alone
	fire("khanki", 1, rule.Fire, 0, "Khanki: 150000 ≥ 100000 (Low)")
	for _, path := range []string{"/api/v1/alerts", "/api/v1/alerts/1"} {
		resp, b := n.do("GET", path, "", "")
		n.refused(resp, b, 401, "API key")
	}
	for _, who := range owners {
		got, b := n.listed("?state=draft", who)
		if a := got[1]; a == nil || a["draft"] == nil || !strings.Contains(b, "/api/v1/alerts/1/approve") {
			t.Errorf("%s lists no draft 1: %s", who, b)
		}
		resp, b := n.do("GET", "/api/v1/alerts/1", who, "")
		if resp.StatusCode != 200 || !strings.Contains(b, `"headline": "Low flood at Khanki"`) || !strings.Contains(b, "Khanki: 150000") {
			t.Errorf("%s reads draft 1: %d %s", who, resp.StatusCode, b)
		}
	}
	for _, who := range others {
		for _, q := range []string{"", "?state=draft", "?rule=khanki", "?state=draft&rule=khanki&limit=1"} {
			if got, b := n.listed(q, who); len(got) != 0 {
				t.Errorf("%s lists %s: %s", who, q, b)
			}
		}
		for _, path := range []string{"/api/v1/alerts/1", "/api/v1/alerts/99"} { // the same answer: no confirmation
			resp, b := n.do("GET", path, who, "")
			n.refused(resp, b, 404, "alert "+strings.TrimPrefix(path, "/api/v1/alerts/")+" does not exist")
			if strings.Contains(b, "Khanki") || strings.Contains(b, "pdma") {
				t.Errorf("%s GET %s: %s", who, path, b)
			}
		}
	}
	for _, c := range []struct{ path, body string }{
		{"/api/v1/alerts/1/approve", `{"why":"x"}`},
		{"/api/v1/alerts/1/reject", `{"why":"x"}`},
		{"/api/v1/alerts/1/edit", `{"why":"x","infos":[{"language":"en","headline":"h"}]}`},
	} {
		resp, b := n.do("POST", c.path, "other", c.body)
		n.refused(resp, b, 404, "alert 1 does not exist")
	}
	if a, err := n.alerts.GetAlert(ctx, 1); err != nil || a.State != alert.Draft || a.Draft.Infos[0].Headline != "Low flood at Khanki" {
		t.Fatalf("refused, yet alert 1 changed: %+v %v", a, err)
	}
	if resp, b := n.do("GET", "/cap/alerts.atom", "", ""); resp.StatusCode != 200 || strings.Contains(b, "Khanki") {
		t.Errorf("the feed shows a draft: %d %s", resp.StatusCode, b)
	}

	// 2. alert 1 issued; then the condition clears: a Cancel draft waits on it. alert 2
	// (marala), newer, waits as a first Alert.
	if resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"seen at the gauge"}`); resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, b)
	}
	issued := map[string]map[string]any{} // alert 1 as the others read it once issued
	for _, who := range others {
		issued[who] = n.listedOne(1, who)
		if issued[who]["level"] != "Low" || issued[who]["updated"] == nil {
			t.Errorf("%s reads issued alert 1: %v", who, issued[who])
		}
	}
	time.Sleep(2 * time.Millisecond) // the Cancel draft is made at a later time
	fire("khanki", 1, rule.Clear, -1, "Khanki: 50000 below 100000")
	fire("marala", 2, rule.Fire, 0, "Marala: 150000 ≥ 100000 (Low)")
	for _, who := range owners {
		resp, b := n.do("GET", "/api/v1/alerts/1", who, "")
		if resp.StatusCode != 200 || !strings.Contains(b, `"msgType": "Cancel"`) || !strings.Contains(b, "all clear") || !strings.Contains(b, "/api/v1/alerts/1/reject") {
			t.Errorf("%s reads alert 1 without its Cancel draft: %d %s", who, resp.StatusCode, b)
		}
		if got, _ := n.listed("?limit=1", who); got[2] == nil {
			t.Errorf("%s: the newest alert, draft 2, is not listed first: %v", who, got)
		}
	}
	for _, who := range others {
		resp, b := n.do("GET", "/api/v1/alerts/1", who, "")
		var v struct {
			State       string           `json:"state"`
			Level       string           `json:"level"`
			Draft       any              `json:"draft"`
			Links       any              `json:"links"`
			Messages    []map[string]any `json:"messages"`
			Transitions []map[string]any `json:"transitions"`
		}
		if err := json.Unmarshal([]byte(b), &v); resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s reads issued alert 1: %d %s", who, resp.StatusCode, b)
		}
		if v.State != "issued" || len(v.Messages) != 1 || v.Draft != nil || v.Links != nil || v.Level != "Low" {
			t.Errorf("%s reads alert 1 with what waits on it: %s", who, b)
		}
		// neither its level (an all-clear's, -1, while the Cancel waits) nor its time moved
		if got := n.listedOne(1, who); got["level"] != issued[who]["level"] || got["updated"] != issued[who]["updated"] {
			t.Errorf("%s reads alert 1 changed by the Cancel draft waiting on it: %v, was %v", who, got, issued[who])
		}
		// only the step that issued the message: not the drafting, not the Cancel drafted
		if len(v.Transitions) != 1 || v.Transitions[0]["identifier"] != v.Messages[0]["identifier"] {
			t.Errorf("%s reads alert 1's steps: %v", who, v.Transitions)
		}
		for _, leak := range []string{"Cancel", "all clear", "50000", "150000", "rule:khanki"} {
			if strings.Contains(b, leak) {
				t.Errorf("%s reads %q in alert 1: %s", who, leak, b)
			}
		}
		// the limit counts what the reader sees: the newest alert it may read is alert 1
		got, b := n.listed("?limit=1", who)
		if a := got[1]; len(got) != 1 || a == nil || a["draft"] != nil || a["links"] != nil {
			t.Errorf("%s lists with limit 1: %s", who, b)
		}
		if got, b := n.listed("?state=issued", who); got[1] == nil || strings.Contains(b, "Cancel") {
			t.Errorf("%s lists issued alerts: %s", who, b)
		}
		resp, b = n.do("GET", "/api/v1/alerts/2", who, "")
		n.refused(resp, b, 404, "alert 2 does not exist")
		resp, b = n.do("POST", "/api/v1/alerts/1/reject", who, `{"why":"x"}`) // issued: the 403 naming both
		if who == "viewer" {
			n.refused(resp, b, 403, "needs role approver")
		} else {
			n.refused(resp, b, 403, `alert 1 belongs to organisation "pdma"`)
		}
	}

	// 3. alert 2 rejected before issue: withdrawn, still pdma's alone
	if resp, b := n.do("POST", "/api/v1/alerts/2/reject", "approver", `{"why":"gauge fault"}`); resp.StatusCode != 200 {
		t.Fatalf("reject: %d %s", resp.StatusCode, b)
	}
	for _, who := range owners {
		if got, b := n.listed("?state=withdrawn", who); got[2] == nil {
			t.Errorf("%s lists no withdrawn alert 2: %s", who, b)
		}
		if resp, b := n.do("GET", "/api/v1/alerts/2", who, ""); resp.StatusCode != 200 || !strings.Contains(b, "gauge fault") {
			t.Errorf("%s reads alert 2: %d %s", who, resp.StatusCode, b)
		}
	}
	for _, who := range others {
		got, b := n.listed("", who)
		if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, []int64{1}) {
			t.Errorf("%s lists %v: %s", who, ids, b)
		}
		if got, b := n.listed("?state=withdrawn", who); len(got) != 0 {
			t.Errorf("%s lists withdrawn alerts: %s", who, b)
		}
		resp, b := n.do("GET", "/api/v1/alerts/2", who, "")
		n.refused(resp, b, 404, "alert 2 does not exist")
	}
	// what was issued is on the public feed for anyone
	if resp, b := n.do("GET", "/cap/alerts.atom", "", ""); resp.StatusCode != 200 || !strings.Contains(b, "Low flood at Khanki") || strings.Contains(b, "Marala") {
		t.Errorf("the feed: %d %s", resp.StatusCode, b)
	}
}
