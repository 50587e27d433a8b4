package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
)

// ownedNode is a running node with four eyes on, and keys of several organisations made the
// way `rabta keys create` makes them (on the node's store, while it runs).
type ownedNode struct {
	t    *testing.T
	n    *node.Node
	keys map[string]string // clear key by name; "node" is the node-wide admin (the bootstrap key)
	by   map[string]string // the name decisions are recorded under (auth.Principal.Name)
}

func startOwned(t *testing.T, keys map[string]struct {
	org  string
	role auth.Role
}) *ownedNode {
	t.Helper()
	dir := t.TempDir()
	n, err := node.New(t.Context(), node.Options{
		ID: "foureyes", DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		AdminKey: adminKey, FourEyes: true, TickEvery: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	o := &ownedNode{t: t, n: n, keys: map[string]string{"node": adminKey}, by: map[string]string{}}
	st, err := node.OpenStores(context.Background(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bootstrap, err := (&auth.Authenticator{Store: st.Keys}).Authenticate(context.Background(), adminKey)
	if err != nil || !bootstrap.NodeAdmin() {
		t.Fatalf("the bootstrap key: %+v %v", bootstrap, err)
	}
	o.by["node"] = bootstrap.Name()
	for name, k := range keys {
		clear, id, err := auth.Create(context.Background(), st.Keys, k.org, k.role, name)
		if err != nil {
			t.Fatal(err)
		}
		o.keys[name] = clear
		o.by[name] = (&auth.Principal{KeyID: id, Organisation: k.org}).Name()
	}
	return o
}

func (o *ownedNode) do(method, path, key, body string) (int, string) {
	o.t.Helper()
	req, _ := http.NewRequest(method, "http://"+o.n.Addr().String()+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+o.keys[key])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// draftFor waits until the rule's alert has a draft and returns the alert.
func (o *ownedNode) draftFor(ruleID string) alertJSON {
	o.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, b := o.do("GET", "/api/v1/alerts?state=draft&rule="+ruleID, "node", "")
		var list struct{ Value []alertJSON }
		json.Unmarshal([]byte(b), &list)
		if len(list.Value) == 1 {
			_, b = o.do("GET", fmt.Sprintf("/api/v1/alerts/%d", list.Value[0].ID), "node", "")
			var a alertJSON
			if err := json.Unmarshal([]byte(b), &a); err != nil {
				o.t.Fatalf("alert: %v %s", err, b)
			}
			return a
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("no draft for rule %s: %s", ruleID, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type alertJSON struct {
	ID           int64  `json:"id"`
	Rule         string `json:"rule"`
	Organisation string `json:"organisation"`
	State        string `json:"state"`
	Draft        *struct {
		By      string `json:"by"`
		Authors []struct{ Name, As string }
	} `json:"draft"`
}

// fourEyesRules is one review rule (no autoIssue) on datastream DS.
const fourEyesRules = `rules:
  - id: RULE
    name: Review RULE
    kind: threshold
    datastreams: [DS]
    levels:
      - {name: Low, value: 100, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    status: Exercise
`

// Four eyes through the HTTP API of a running node: whoever wrote the rule, and whoever posted
// the value that set it off, is an author of the draft and cannot approve it; another approver
// of the rule's organisation can; an approver of another organisation cannot decide at all.
// Each case runs on a node of its own: a rule is written by one key, the deciding value posted
// by another (or the same), then every refused approver tries and gets a 403 naming why, and
// the last one approves.
func TestFourEyesThroughTheAPI(t *testing.T) {
	t.Parallel()
	type role = struct {
		org  string
		role auth.Role
	}
	keys := map[string]role{
		"pdma-admin":     {"pdma", auth.Admin},
		"pdma-operator":  {"pdma", auth.Operator},
		"pdma-approver":  {"pdma", auth.Approver},
		"pdma-approver2": {"pdma", auth.Approver},
		"ndma-approver":  {"ndma", auth.Approver},
		"node-approver":  {auth.NodeOrganisation, auth.Approver},
	}
	for _, c := range []struct {
		name     string
		org      string // whose rules (PUT ?organisation=, needed for the node admin only)
		writer   string // writes the rule
		poster   string // posts the deciding value
		refused  map[string]string
		approver string
		authors  string // the draft's authors as shown
	}{
		{"one admin key writes, posts and approves", "", "node", "node",
			map[string]string{"node": "changed rule r1"}, "node-approver", "[{N rule} {N value}]"},
		{"the org's admin writes, an approver of the org posts", "", "pdma-admin", "pdma-approver",
			map[string]string{"pdma-approver": "posted the value that decided it", "pdma-admin": "changed rule r1",
				"ndma-approver": "alert 1 does not exist", "pdma-operator": "needs role approver"},
			"pdma-approver2", "[{A rule} {P value}]"},
		{"the org's admin writes, an operator of the org posts", "", "pdma-admin", "pdma-operator",
			map[string]string{"pdma-admin": "changed rule r1", "ndma-approver": "alert 1 does not exist"},
			"pdma-approver", "[{A rule} {O value}]"},
		{"the node admin writes the org's rule, the org's approver posts", "pdma", "node", "pdma-approver",
			map[string]string{"node": "changed rule r1", "pdma-approver": "posted the value that decided it"},
			"pdma-approver2", "[{N rule} {P value}]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := startOwned(t, keys)
			thing := `{"name":"Gauge","description":"gauge",
			 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
			 "Datastreams":[{"name":"Level","description":"h","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
			  "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
			  "ObservedProperty":{"name":"Gauge reading","definition":"d","description":"d"}}]}`
			station := c.writer // the station belongs to the rule's organisation (organisations are a boundary)
			if c.org != "" {
				station = c.org + "-admin"
			}
			if st, b := o.do("POST", "/v1.1/Things", station, thing); st != 201 {
				t.Fatalf("create: %d %s", st, b)
			}
			rules := strings.NewReplacer("RULE", "r1", "DS", "1").Replace(fourEyesRules)
			path := "/api/v1/rules"
			if c.org != "" {
				path += "?organisation=" + c.org
			}
			if st, b := o.do("PUT", path, c.writer, rules); st != 200 {
				t.Fatalf("rules: %d %s", st, b)
			}
			obs := `{"phenomenonTime":"` + time.Now().UTC().Format(time.RFC3339) + `","result":150,"Datastream":{"@iot.id":1}}`
			if st, b := o.do("POST", "/v1.1/Observations", c.poster, obs); st != 201 {
				t.Fatalf("observation: %d %s", st, b)
			}
			t0 := time.Now()
			a := o.draftFor("r1")
			t.Logf("draft after %v", time.Since(t0))
			wantOrg := c.org
			if wantOrg == "" {
				wantOrg = keys[c.writer].org
				if c.writer == "node" {
					wantOrg = auth.NodeOrganisation
				}
			}
			if a.Organisation != wantOrg || a.Draft == nil || a.Draft.By != "rule:r1" {
				t.Fatalf("draft: %+v", a)
			}
			got := fmt.Sprint(a.Draft.Authors)
			want := strings.NewReplacer("N", o.by["node"], "A", o.by["pdma-admin"], "P", o.by["pdma-approver"], "O", o.by["pdma-operator"]).Replace(c.authors)
			if got != want {
				t.Errorf("authors %s, want %s", got, want)
			}
			approve := fmt.Sprintf("/api/v1/alerts/%d/approve", a.ID)
			for who, why := range c.refused {
				st, b := o.do("POST", approve, who, `{"why":"looks right"}`)
				var e struct{ Message string }
				json.Unmarshal([]byte(b), &e)
				want := 403
				if strings.HasSuffix(why, "does not exist") { // another organisation's draft: not found, as GET answers (docs/alerts.md)
					want = 404
				}
				if st != want || !strings.Contains(e.Message, why) {
					t.Errorf("%s approving: %d %s, want %d with %q", who, st, b, want, why)
				}
			}
			st, b := o.do("POST", approve, c.approver, `{"why":"checked with the gauge reader"}`)
			if st != 200 || !strings.Contains(b, `"state": "issued"`) || !strings.Contains(b, `"by": "`+o.by[c.approver]+`"`) {
				t.Fatalf("%s approving: %d %s", c.approver, st, b)
			}
		})
	}
}

// Four eyes tells holders apart, not keys: a key an organisation's admin mints through the API
// (directly, or through another key it minted) is that admin's own, so it cannot approve a draft
// the admin is an author of; a key the node-wide admin mints for the organisation is someone
// else's and can.
func TestFourEyesTellsHoldersApart(t *testing.T) {
	t.Parallel()
	o := startOwned(t, map[string]struct {
		org  string
		role auth.Role
	}{"pdma-admin": {"pdma", auth.Admin}, "pdma-operator": {"pdma", auth.Operator}})
	mint := func(by, role, name string) {
		t.Helper()
		st, b := o.do("POST", "/api/v1/keys", by, `{"organisation":"pdma","role":"`+role+`","name":"`+name+`"}`)
		var k struct {
			ID  int64
			Key string
		}
		if err := json.Unmarshal([]byte(b), &k); st != 201 || err != nil || k.Key == "" {
			t.Fatalf("%s minting %s: %d %s", by, name, st, b)
		}
		o.keys[name], o.by[name] = k.Key, fmt.Sprintf("pdma/key-%d", k.ID)
	}
	mint("pdma-admin", "approver", "own-approver") // the admin's second key
	mint("pdma-admin", "admin", "own-admin")
	mint("own-admin", "approver", "own-approver2") // minted by a key the admin minted
	mint("node", "approver", "colleague")          // the node-wide admin's: another person
	thing := `{"name":"Gauge","description":"gauge",
	 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
	 "Datastreams":[{"name":"Level","description":"h","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
	  "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
	  "ObservedProperty":{"name":"Gauge reading","definition":"d","description":"d"}}]}`
	if st, b := o.do("POST", "/v1.1/Things", "pdma-admin", thing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, b := o.do("PUT", "/api/v1/rules", "pdma-admin", strings.NewReplacer("RULE", "r1", "DS", "1").Replace(fourEyesRules)); st != 200 {
		t.Fatalf("rules: %d %s", st, b)
	}
	obs := `{"phenomenonTime":"` + time.Now().UTC().Format(time.RFC3339) + `","result":150,"Datastream":{"@iot.id":1}}`
	if st, b := o.do("POST", "/v1.1/Observations", "pdma-operator", obs); st != 201 {
		t.Fatalf("observation: %d %s", st, b)
	}
	a := o.draftFor("r1")
	approve := fmt.Sprintf("/api/v1/alerts/%d/approve", a.ID)
	for _, who := range []string{"own-approver", "own-approver2"} {
		st, b := o.do("POST", approve, who, `{"why":"looks right"}`)
		if st != 403 || !strings.Contains(b, "changed rule r1 as "+o.by["pdma-admin"]+", a key of the same holder") {
			t.Errorf("%s approving: %d %s, want 403 naming the admin's key", who, st, b)
		}
	}
	st, b := o.do("POST", approve, "colleague", `{"why":"checked with the gauge reader"}`)
	if st != 200 || !strings.Contains(b, `"state": "issued"`) {
		t.Fatalf("colleague approving: %d %s", st, b)
	}
}

// An admin of an organisation is an admin within it only (the sibling of the alerts' fault in
// the subscriber routes, httpapi's orgOf): it neither lists, reads nor erases another
// organisation's subscribers; the node-wide admin does all three.
func TestOrgAdminIsNotNodeWideForSubscribers(t *testing.T) {
	o := startOwned(t, map[string]struct {
		org  string
		role auth.Role
	}{"pdma-operator": {"pdma", auth.Operator}, "ndma-admin": {"ndma", auth.Admin}})
	sub := `{"name":"Farmer","language":"ur","lat":31.5,"lon":74.3,"contacts":[{"channel":"sms","address":"+923001112233"}],"consent":{"source":"test"}}`
	st, b := o.do("POST", "/api/v1/subscribers", "pdma-operator", sub)
	var made struct {
		ID  int64  `json:"id"`
		Org string `json:"organisation"`
	}
	if err := json.Unmarshal([]byte(b), &made); st != 201 || err != nil || made.ID == 0 {
		t.Fatalf("subscriber: %d %s", st, b)
	}
	one := fmt.Sprintf("/api/v1/subscribers/%d", made.ID)
	for _, c := range []struct {
		method, path, key string
		status            int
		sees              bool // the list shows the subscriber
	}{
		{"GET", "/api/v1/subscribers", "ndma-admin", 200, false},
		{"GET", one, "ndma-admin", 404, false},
		{"DELETE", one, "ndma-admin", 404, false},
		{"GET", "/api/v1/subscribers", "pdma-operator", 200, true},
		{"GET", "/api/v1/subscribers", "node", 200, true},
		{"GET", one, "node", 200, true},
	} {
		st, b := o.do(c.method, c.path, c.key, `{"reason":"test"}`)
		if st != c.status || strings.Contains(b, "Farmer") != c.sees {
			t.Errorf("%s %s by %s: %d %s; want %d, subscriber shown %v", c.method, c.path, c.key, st, b, c.status, c.sees)
		}
	}
}

// The Go profiler's stacks and heap show every organisation's requests: only the node-wide
// admin reads /debug/pprof/; an admin of another organisation gets 403 naming the reason, a
// viewer 403, no key 401.
func TestProfilerNodeAdminOnly(t *testing.T) {
	o := startOwned(t, map[string]struct {
		org  string
		role auth.Role
	}{
		"pdma-admin":  {"pdma", auth.Admin},
		"node-viewer": {auth.NodeOrganisation, auth.Viewer},
	})
	for _, c := range []struct {
		key  string
		want int
	}{{"node", 200}, {"pdma-admin", 403}, {"node-viewer", 403}, {"", 401}} {
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
			st, b := o.do("GET", path, c.key, "")
			if st != c.want {
				t.Errorf("%s by %q: %d, want %d: %.200s", path, c.key, st, c.want, b)
			}
			if c.key == "pdma-admin" && !strings.Contains(b, "the Go profiler") {
				t.Errorf("%s by an organisation's admin: %.200s", path, b)
			}
		}
	}
}
