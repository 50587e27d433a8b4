package console_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The alert queue shows what an alert never issued to its organisation only (docs/alerts.md
// "Organisations"): the draft of organisation admin's rule is on the queue of a viewer of
// admin and of the node-wide admin, not on that of a viewer or approver of ndma, whose approve
// is the API's 404; once issued, the alert is on everyone's queue, and the Cancel draft then
// waiting on it is shown to admin's viewer (with the drafts) and to no one of ndma.
func TestConsoleDraftsByOrganisation(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			e := startEnv(t, engine, nil)
			for _, role := range []string{"viewer", "approver"} {
				st, b := e.api("POST", "/api/v1/keys", "admin", fmt.Sprintf(`{"organisation":"ndma","role":%q,"name":"ndma %s"}`, role, role))
				if st != 201 {
					t.Fatalf("key: %d %s", st, b)
				}
				var k struct{ Key string }
				json.Unmarshal([]byte(b), &k)
				e.keys["ndma-"+role] = k.Key
			}
			queue := func(role string) string {
				t.Helper()
				b := e.browser()
				b.signin(role)
				resp, page := b.do("GET", "/console/alerts", nil)
				if resp.StatusCode != 200 {
					t.Fatalf("queue of %s: %d %.300s", role, resp.StatusCode, page)
				}
				return page
			}
			const draft = `class="alert draft" id="alert-1"`
			const issued = `class="alert issued" id="alert-1"`
			for _, role := range []string{"viewer", "admin"} { // admin's viewer, the node-wide admin
				if page := queue(role); !strings.Contains(page, draft) || !strings.Contains(page, "flood warning: Chenab at Khanki") {
					t.Errorf("%s's queue without the draft: %.3000s", role, page)
				}
			}
			for _, role := range []string{"ndma-viewer", "ndma-approver"} {
				if page := queue(role); strings.Contains(page, "alert-1") || strings.Contains(page, "flood warning") || strings.Contains(page, "drafted by") {
					t.Errorf("%s's queue shows admin's draft: %.3000s", role, page)
				}
			}
			b := e.browser()
			b.signin("ndma-approver")
			resp, body := b.do("POST", "/console/alerts/1/approve", url.Values{"csrf": {b.csrf("/console/alerts")}})
			if resp.StatusCode != 404 || !strings.Contains(body, "alert 1 does not exist") {
				t.Errorf("ndma's approver approves: %d %.500s", resp.StatusCode, body)
			}
			if st := e.alertState(); st != "draft" {
				t.Fatalf("refused, yet alert 1 is %s", st)
			}

			// issued; then the river falls: a Cancel draft waits on it
			if st, b := e.api("POST", "/api/v1/alerts/1/approve", "approver", `{"why":"seen"}`); st != 200 {
				t.Fatalf("approve: %d %s", st, b)
			}
			e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"result":10,"Datastream":{"@iot.id":1}}`, time.Now().UTC().Format(time.RFC3339)))
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, b := e.api("GET", "/api/v1/alerts/1", "admin", "")
				if strings.Contains(b, `"msgType": "Cancel"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no Cancel draft within 30 s: %s", b)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if page := queue("viewer"); !strings.Contains(page, draft) || !strings.Contains(page, "Cancel drafted by") {
				t.Errorf("admin's viewer's queue without the Cancel draft: %.3000s", page)
			}
			for _, role := range []string{"ndma-viewer", "ndma-approver"} {
				page := queue(role)
				if !strings.Contains(page, issued) || !strings.Contains(page, "/cap/alerts/rabta-console-1-1.xml") {
					t.Errorf("%s's queue without the issued alert: %.3000s", role, page)
				}
				if strings.Contains(page, "Cancel") || strings.Contains(page, "drafted by") {
					t.Errorf("%s's queue shows the draft waiting: %.3000s", role, page)
				}
				// the level issued, not the waiting Cancel's (an all-clear)
				if !strings.Contains(page, "level High") {
					t.Errorf("%s's queue without the level issued: %.3000s", role, page)
				}
			}
		})
	}
}
