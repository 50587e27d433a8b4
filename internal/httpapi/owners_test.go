package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/store/storetest"
)

// alertFor applies the rules as pdma's admin and fires the rule (alert 1, a draft); for an
// action that needs an issued alert, approver2 issues it first.
func (n *node) alertFor(action string) {
	n.t.Helper()
	n.draft()
	if action == "cancel" {
		if resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver2", `{"why":"ok"}`); resp.StatusCode != 200 {
			n.t.Fatalf("approve: %d %s", resp.StatusCode, b)
		}
	}
}

// An alert belongs to its rule's organisation (pdma here): approving, rejecting and cancelling
// it is for approvers of pdma and for the node-wide admin; a key of another organisation gets
// a 403 naming both organisations, whatever its role — or, for an alert that never issued a
// message (approve and reject here), the 404 of an alert that does not exist, as GET answers
// it (TestDraftsReadByOrganisation) — and the alert is unchanged.
func TestAlertDecisionsByOrganisation(t *testing.T) {
	for _, action := range []string{"approve", "reject", "cancel"} {
		others, want := 404, "alert 1 does not exist" // a draft never issued: not another's to know of
		if action == "cancel" {                       // an issued alert
			others, want = 403, `alert 1 belongs to organisation "pdma"; the key is of organisation "ndma"`
		}
		for _, c := range []struct {
			key    string
			status int
			want   string
		}{
			{"other", others, want},
			{"otheradmin", others, want},
			{"operator", 403, "needs role approver"},
			{"approver", 200, ""},
			{"nodeadmin", 200, ""},
		} {
			t.Run(action+"/"+c.key, func(t *testing.T) {
				n := newNode(t)
				n.alertFor(action)
				before, err := n.alerts.GetAlert(context.Background(), 1)
				if err != nil {
					t.Fatal(err)
				}
				if before.Organisation != "pdma" {
					t.Fatalf("alert of organisation %q, want the rule's, pdma", before.Organisation)
				}
				resp, b := n.do("POST", "/api/v1/alerts/1/"+action, c.key, `{"why":"test"}`)
				if c.status != 200 {
					n.refused(resp, b, c.status, c.want)
					after, err := n.alerts.GetAlert(context.Background(), 1)
					if err != nil || after.State != before.State || len(after.Issued) != len(before.Issued) || (after.Draft == nil) != (before.Draft == nil) {
						t.Errorf("a refused %s changed the alert: %+v %v", action, after, err)
					}
					return
				}
				if resp.StatusCode != 200 || !strings.Contains(b, `"organisation": "pdma"`) {
					t.Errorf("%s by %s: %d %s", action, c.key, resp.StatusCode, b)
				}
			})
		}
	}
}

// PUT /api/v1/rules replaces the rules of one organisation: an organisation's admin its own,
// never another's (not by naming it, not by reusing one of its rule ids); the node-wide admin
// any organisation's (?organisation=), but a rule id stays with its organisation. Every change
// is recorded with who made it.
func TestRulesByOrganisation(t *testing.T) {
	n := newNode(t)
	storetest.SeedDatastreams(t, n.db, "ndma", 3)
	onPDMAs := strings.ReplaceAll(rulesYAML, "id: khanki", "id: ndma-khanki")
	ndmaRules := strings.ReplaceAll(onPDMAs, "datastreams: [1]", "datastreams: [3]")
	onNothing := strings.ReplaceAll(onPDMAs, "datastreams: [1]", "datastreams: [3, 404]")
	steps := []struct {
		key, query, doc string
		status          int
		want            string // in the body
	}{
		{"admin", "", rulesYAML, 200, `"organisation": "pdma"`},
		{"otheradmin", "", rulesYAML, 403, `rule khanki belongs to organisation \"pdma\"; the key is of organisation \"ndma\"`},
		{"otheradmin", "?organisation=pdma", ndmaRules, 403, `the rule set of organisation \"pdma\" belongs to organisation \"pdma\"; the key is of organisation \"ndma\"`},
		{"otheradmin", "", onPDMAs, 403, `rule ndma-khanki: datastream 1 belongs to organisation \"pdma\"; a rule of organisation \"ndma\" reads only its own organisation's datastreams`},
		{"otheradmin", "", onNothing, 400, `rule ndma-khanki: datastream 404 does not exist`},
		{"otheradmin", "", ndmaRules, 200, `"organisation": "ndma"`},
		{"approver", "", rulesYAML, 403, "needs role admin"},
		{"nodeadmin", "?organisation=%20ndma", ndmaRules, 400, `organisation \" ndma\": empty, or spaces at either end`},
		{"otheradmin", "?organisation=", ndmaRules, 400, `organisation \"\": empty`},
		{"nodeadmin", "?organisation=" + strings.Repeat("x", 65), ndmaRules, 400, "organisation: 65 bytes, over the limit of 64"},
		{"nodeadmin", "?organisation=ndma", rulesYAML, 409, `rule id \"khanki\" is a rule of organisation \"pdma\"`},
		{"nodeadmin", "?organisation=ndma", ndmaRules + strings.ReplaceAll(strings.TrimPrefix(ndmaRules, "rules:\n"), "id: ndma-khanki", "id: ndma-two"), 200, `"applied": 2`},
		{"admin", "", "rules: []\n", 200, `"applied": 0`},
	}
	for i, s := range steps {
		resp, b := n.do("PUT", "/api/v1/rules"+s.query, s.key, s.doc)
		if resp.StatusCode != s.status || !strings.Contains(b, s.want) {
			t.Errorf("step %d: PUT rules%s by %s: %d %s; want %d with %s", i, s.query, s.key, resp.StatusCode, b, s.status, s.want)
		}
	}
	_, b := n.do("GET", "/api/v1/rules", "viewer", "")
	var got struct {
		Value []struct{ ID, Organisation string }
	}
	json.Unmarshal([]byte(b), &got)
	if fmt.Sprint(got.Value) != "[{ndma-khanki ndma} {ndma-two ndma}]" {
		t.Errorf("rules: %v (%s)", got.Value, b)
	}
	var changes struct {
		Value []struct{ By, Change, Organisation string }
	}
	for id, want := range map[string]string{
		"khanki":      fmt.Sprintf("[{%s created pdma} {%[1]s removed pdma}]", n.keys["admin"].by),
		"ndma-khanki": fmt.Sprintf("[{%s created ndma}]", n.keys["otheradmin"].by),
		"ndma-two":    fmt.Sprintf("[{%s created ndma}]", n.keys["nodeadmin"].by),
	} {
		resp, b := n.do("GET", "/api/v1/rules/"+id+"/changes", "viewer", "")
		changes.Value = nil
		json.Unmarshal([]byte(b), &changes)
		if resp.StatusCode != 200 || fmt.Sprint(changes.Value) != want {
			t.Errorf("changes of %s: %d %s, want %s", id, resp.StatusCode, b, want)
		}
	}
	resp, b := n.do("GET", "/api/v1/rules/nothing/changes", "viewer", "")
	n.refused(resp, b, 404, `rule "nothing" has no recorded changes`)
}

// With four eyes on, whoever changed the rule (even after the draft was made) or posted the
// deciding value cannot approve the draft; the reason is named; another approver can.
func TestFourEyesAuthors(t *testing.T) {
	n := newNode(t)
	if resp, b := n.do("PUT", "/api/v1/rules", "admin", rulesYAML); resp.StatusCode != 200 {
		t.Fatalf("rules: %d %s", resp.StatusCode, b)
	}
	now := time.Now().UTC()
	a, err := n.svc.Trigger(context.Background(), rule.Trigger{RuleID: "khanki", Kind: rule.Fire, Level: 0, LevelName: "Low", PrevLevel: -1,
		Datastream: 1, Value: 150000, ObservedAt: now, At: now, Cause: "test", PostedBy: []string{n.keys["approver"].by}})
	if err != nil || a.Organisation != "pdma" {
		t.Fatalf("trigger: %+v %v", a, err)
	}
	_, b := n.do("GET", "/api/v1/alerts/1", "pdmaviewer", "")
	want := fmt.Sprintf(`"authors": [
      {
        "name": %q,
        "as": "rule"
      },
      {
        "name": %q,
        "as": "value"
      }
    ]`, n.keys["admin"].by, n.keys["approver"].by)
	if !strings.Contains(b, want) {
		t.Errorf("draft's authors: %s\nwant %s", b, want)
	}
	resp, b := n.do("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"mine"}`)
	n.refused(resp, b, 403, "four eyes: "+n.keys["approver"].by+" posted the value that decided it")
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "admin", `{"why":"mine"}`)
	n.refused(resp, b, 403, "four eyes: "+n.keys["admin"].by+" changed rule khanki")
	// the node-wide admin changes the rule after the draft was made (in pdma's rules: the id
	// stays with its organisation): an author now, too
	changed := strings.Replace(rulesYAML, "Khanki (needs an approver)", "Khanki, renamed", 1)
	resp, b = n.do("PUT", "/api/v1/rules", "nodeadmin", changed)
	n.refused(resp, b, 409, `rule id "khanki" is a rule of organisation "pdma"`)
	if resp, b := n.do("PUT", "/api/v1/rules?organisation=pdma", "nodeadmin", changed); resp.StatusCode != 200 {
		t.Fatalf("rules: %d %s", resp.StatusCode, b)
	}
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "nodeadmin", `{"why":"mine"}`)
	n.refused(resp, b, 403, "four eyes: "+n.keys["nodeadmin"].by+" changed rule khanki")
	resp, b = n.do("POST", "/api/v1/alerts/1/approve", "approver2", `{"why":"checked"}`)
	if resp.StatusCode != 200 || !strings.Contains(b, `"state": "issued"`) {
		t.Fatalf("approver2: %d %s", resp.StatusCode, b)
	}
	if got, err := n.alerts.GetAlert(context.Background(), 1); err != nil || got.State != alert.Issued || got.Authors != nil {
		t.Errorf("issued: %+v %v", got, err)
	}
}
