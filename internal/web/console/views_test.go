package console_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

var agreementRow = regexp.MustCompile(`<tr id="agreement-(\d+)"`)

// testAgreementsAudit: the agreements page shows each key what GET /api/v1/federation/agreements
// shows it (the node-wide admin all, others their organisation's, an unrelated organisation
// none); the audit page is the node-wide admin's, lists the approval of the decisions subtest
// and the agreements' creation and approval, says the chain verifies, and names the first bad
// entry in red once an entry is altered in the store behind the node's back.
func testAgreementsAudit(t *testing.T, e *env) {
	admin := e.browser()
	admin.signin("admin")
	// no agreements yet
	resp, page := admin.do("GET", "/console/agreements", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "No agreements.") || !strings.Contains(page, `href="/console/agreements" aria-current="page"`) {
		t.Fatalf("agreements page, none: %d %.1500s", resp.StatusCode, page)
	}
	// keys of two more organisations: one that provides under an agreement, one unrelated
	for _, org := range []string{"wapda", "other"} {
		st, b := e.api("POST", "/api/v1/keys", "admin", fmt.Sprintf(`{"organisation":%q,"role":"viewer","name":"console %s viewer"}`, org, org))
		if st != 201 {
			t.Fatalf("key of %s: %d %s", org, st, b)
		}
		var k struct {
			ID  int64  `json:"id"`
			Key string `json:"key"`
		}
		json.Unmarshal([]byte(b), &k)
		e.keys[org], e.ids[org] = k.Key, k.ID
	}
	// a partner and two agreements through the node's federation API: wapda's to nea at the
	// partner (approved), and the node organisation's own (proposed)
	e.must(201, "POST", "/api/v1/federation/partners", `{"node":"lahore-node","nkey":"`+func() string { kp, _ := nkeys.CreateUser(); pub, _ := kp.PublicKey(); return pub }()+`"}`)
	// (an agreement names Datastreams that are its providing organisation's: twelve of wapda's,
	// with ids far from those the node gives)
	storetest.SeedDatastreams(t, e.store(t), "wapda", 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112)
	e.must(201, "POST", "/api/v1/federation/agreements", `{"providerOrganisation":"wapda","consumerOrganisation":"nea","consumerNode":"lahore-node",
	 "selection":{"datastreams":[101,102,103,104,105,106,107,108,109,110,111,112]},"resolution":"hourly-mean","embargo":"6h","purpose":"flood forecasting <downstream>",
	 "validFrom":"2025-01-01T00:00:00Z","validUntil":"2099-01-01T00:00:00Z","retention":"30d"}`)
	e.must(200, "POST", "/api/v1/federation/agreements/1/approve", "")
	e.must(201, "POST", "/api/v1/federation/agreements", `{"providerOrganisation":"admin","consumerOrganisation":"admin","consumerNode":"lahore-node",
	 "selection":{"things":[1]},"resolution":"raw","purpose":"gauge sharing","validFrom":"2025-01-01T00:00:00Z"}`)

	// each key sees on the page exactly the ids the API lists for it
	for role, want := range map[string][]string{"admin": {"2", "1"}, "wapda": {"1"}, "viewer": {"2"}, "other": nil} {
		st, body := e.api("GET", "/api/v1/federation/agreements", role, "")
		var list struct {
			Value []struct {
				ID                    int64
				CreatedBy, ApprovedBy string
			}
		}
		if st != 200 || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("API list as %s: %d %s", role, st, body)
		}
		var api []string
		for _, a := range list.Value {
			api = append(api, strconv.FormatInt(a.ID, 10))
		}
		slices.Reverse(api) // the page is newest first
		b := e.browser()
		b.signin(role)
		resp, page := b.do("GET", "/console/agreements", nil)
		var shown []string
		for _, m := range agreementRow.FindAllStringSubmatch(page, -1) {
			shown = append(shown, m[1])
		}
		if resp.StatusCode != 200 || !slices.Equal(shown, want) || !slices.Equal(api, want) {
			t.Fatalf("%s: page shows %v, API lists %v, want %v (%d)", role, shown, api, want, resp.StatusCode)
		}
		switch role {
		case "other":
			if !strings.Contains(page, "No agreements of organisation other.") {
				t.Fatalf("other: %.2000s", page)
			}
		case "wapda":
			// the row: provider → consumer and node, selection (ten ids, then the count),
			// resolution, embargo, purpose (escaped), validity, state, who created and approved
			for _, s := range []string{"wapda <small class=\"muted\">(console)</small> → nea <small class=\"muted\">at node lahore-node</small>",
				"datastreams 101, 102, 103, 104, 105, 106, 107, 108, 109, 110 … (12 in all)", "hourly-mean", "kept 30d", "<td>6h</td>",
				"flood forecasting &lt;downstream&gt;", "from 2025-01-01 00:00Z<br>until 2099-01-01 00:00Z", `<span class="st st-approved">approved</span>`,
				"created by " + list.Value[0].CreatedBy + " ", "approved by " + list.Value[0].ApprovedBy + " ", "organisation <strong>wapda</strong>"} {
				if !strings.Contains(page, s) {
					t.Fatalf("wapda's agreement page lacks %q: %.3000s", s, page)
				}
			}
		}
		// only the node-wide admin has the audit log's link, and only it may open the page
		if link := strings.Contains(page, `href="/console/audit"`); link != (role == "admin") {
			t.Fatalf("%s: audit link shown: %v", role, link)
		}
	}

	// the audit page: the viewer of the node's organisation (and the others) are refused
	for _, role := range []string{"viewer", "approver", "wapda"} {
		b := e.browser()
		b.signin(role)
		if resp, page := b.do("GET", "/console/audit", nil); resp.StatusCode != 403 || !strings.Contains(page, "needs role admin") || strings.Contains(page, "agreement.create") {
			t.Fatalf("%s opens the audit log: %d %.600s", role, resp.StatusCode, page)
		}
	}
	st, body := e.api("GET", "/api/v1/audit?limit=10000", "admin", "")
	var log struct {
		Entries []struct {
			Seq                  int64
			Kind, Actor, Subject string
		}
	}
	if st != 200 || json.Unmarshal([]byte(body), &log) != nil || len(log.Entries) < 5 {
		t.Fatalf("API audit: %d %.300s", st, body)
	}
	n := len(log.Entries)
	resp, page = admin.do("GET", "/console/audit", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, fmt.Sprintf("Chain of %d entries verifies, head signed by console (certificate rabta node console) at entry %d,", n, n)) ||
		!strings.Contains(page, fmt.Sprintf("at entry %d,", n)) || strings.Contains(page, `class="error"`) {
		t.Fatalf("audit page: %d %.3000s", resp.StatusCode, page)
	}
	// the entries, newest first: the agreements' and the alert approval (by the second
	// approver's key: the first edited the draft, so four eyes left the approval to another)
	var kinds []string
	for _, m := range regexp.MustCompile(`<tr id="entry-(\d+)">\s*<td>\d+</td><td>[^<]*</td><td>([^<]+)</td><td>([^<]*)</td>`).FindAllStringSubmatch(page, -1) {
		kinds = append(kinds, m[2])
		if m[2] == "alert.approve" && m[3] != fmt.Sprintf("admin/key-%d", e.ids["approverB"]) {
			t.Fatalf("alert approval by %s", m[3])
		}
	}
	if len(kinds) != n || kinds[0] != "agreement.create" || kinds[1] != "agreement.approve" || kinds[2] != "agreement.create" || kinds[3] != "partner.add" ||
		!slices.Contains(kinds, "alert.approve") {
		t.Fatalf("audit rows (%d of %d): %v", len(kinds), n, kinds)
	}
	// a long detail is cut: agreement 1's (its selection, purpose …) is over 160 characters
	if !strings.Contains(page, "…</code>") {
		t.Fatalf("no shortened detail: %.3000s", page)
	}

	// an entry altered in the store: the page names it, in red; put back, it verifies again
	seq := log.Entries[1].Seq
	subject := log.Entries[1].Subject
	e.alterStore(t, `UPDATE audit_log SET subject = 'organisation/someone-else' WHERE seq = ?`, seq)
	_, page = admin.do("GET", "/console/audit", nil)
	if !strings.Contains(page, fmt.Sprintf(`<p class="error" role="alert" id="verify">The chain does not verify: entry %d — edited: its contents do not match its hash.`, seq)) ||
		!strings.Contains(page, fmt.Sprintf(`<tr id="entry-%d" class="error">`, seq)) || strings.Contains(page, "verifies, head signed") {
		t.Fatalf("altered entry %d: %.3000s", seq, page)
	}
	e.alterStore(t, `UPDATE audit_log SET subject = ? WHERE seq = ?`, subject, seq)
	if _, page = admin.do("GET", "/console/audit", nil); !strings.Contains(page, "verifies, head signed by console") {
		t.Fatalf("restored: %.1000s", page)
	}
}

// store opens a second connection to the node's store (the same SQLite file or PostgreSQL
// schema), as someone with access to the database could; closed when the test ends.
func (e *env) store(t *testing.T) sqlq.Engine {
	t.Helper()
	ctx := t.Context()
	var eng interface {
		sqlq.Engine
		Close() error
	}
	if e.dsn != "" {
		db, err := postgres.Open(ctx, e.dsn)
		if err != nil {
			t.Fatal(err)
		}
		eng = db
	} else {
		db, err := sqlite.Open(ctx, filepath.Join(e.dataDir, "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		eng = db
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// alterStore runs one statement on the node's store behind its back.
func (e *env) alterStore(t *testing.T, stmt string, args ...any) {
	t.Helper()
	ctx := t.Context()
	eng := e.store(t)
	if err := eng.Write(ctx, func(tx sqlq.Tx) error {
		n, err := tx.Exec(ctx, stmt, args...)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d rows changed", n)
		}
		return err
	}); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
