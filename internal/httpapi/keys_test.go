package httpapi_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/httpapi"
	"github.com/rabta/rabta/internal/openapi"
)

// keysNode is the key API on a real store, with a clock both the store and the API read.
type keysNode struct {
	t       *testing.T
	srv     *httptest.Server
	st      store
	log     *syncBuffer
	keys    map[string]string // by actor
	mu      sync.Mutex
	now     time.Time
	revoked []int64 // by OnKeyRevoked
}

func (n *keysNode) clock() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

func newKeysNode(t *testing.T, engine string) *keysNode {
	t.Helper()
	n := &keysNode{t: t, st: openStore(t, engine, filepath.Join(t.TempDir(), "rabta.db")), log: &syncBuffer{}, keys: map[string]string{},
		now: time.Now().UTC().Truncate(time.Second)}
	n.st.auth.Now = n.clock
	for actor, k := range map[string]struct {
		org  string
		role auth.Role
	}{"nodeAdmin": {auth.NodeOrganisation, auth.Admin}, "pdmaAdmin": {"pdma", auth.Admin}, "pdmaApprover": {"pdma", auth.Approver},
		"ndmaAdmin": {"ndma", auth.Admin}} {
		clear, _, err := auth.Create(context.Background(), n.st.auth, k.org, k.role, actor)
		if err != nil {
			t.Fatal(err)
		}
		n.keys[actor] = clear
	}
	api := &httpapi.Server{Store: n.st.alerts, Rules: n.st.alerts, Keys: n.st.auth, Now: n.clock, MaxBody: 1 << 20,
		Log: slog.New(slog.NewJSONHandler(n.log, nil)),
		OnKeyRevoked: func(id int64) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.revoked = append(n.revoked, id)
		}}
	mux := http.NewServeMux()
	api.Register(mux)
	authn := &auth.Authenticator{Store: n.st.auth}
	n.srv = httptest.NewServer(auth.RequestID(authn.Middleware(api.Error)(mux)))
	t.Cleanup(n.srv.Close)
	return n
}

// do sends a request with key ("" for none).
func (n *keysNode) do(method, path, key, body string) (int, string) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.srv.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		for _, p := range openapi.Style(b) {
			n.t.Errorf("%s %s: JSON style: %s", method, path, p)
		}
	}
	return resp.StatusCode, string(b)
}

type keyJSON struct {
	ID           int64      `json:"id"`
	Organisation string     `json:"organisation"`
	Role         string     `json:"role"`
	Name         string     `json:"name"`
	Prefix       string     `json:"prefix"`
	State        string     `json:"state"`
	Expires      *time.Time `json:"expires"`
	Revoked      *time.Time `json:"revoked"`
	Key          string     `json:"key"`
}

func (n *keysNode) list(actor string) []keyJSON {
	n.t.Helper()
	st, b := n.do("GET", "/api/v1/keys", n.keys[actor], "")
	var v struct{ Value []keyJSON }
	if err := json.Unmarshal([]byte(b), &v); st != 200 || err != nil {
		n.t.Fatalf("list as %s: %d %s", actor, st, b)
	}
	return v.Value
}

func (n *keysNode) count() int {
	n.t.Helper()
	ks, err := n.st.auth.Keys(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	return len(ks)
}

// Who may create, list, show and revoke which keys, on both stores: an admin of an organisation
// manages its own organisation's keys only, the node-wide admin every organisation's; lesser
// roles and anonymous requests none. Every refusal stores nothing.
func TestKeysAuthorisation(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			n := newKeysNode(t, engine)
			create := func(org, role string) string {
				return fmt.Sprintf(`{"organisation":%q,"role":%q,"name":"made by the test"}`, org, role)
			}
			// keys to act on: one of pdma, one of ndma (made by the node-wide admin)
			target := map[string]int64{}
			for _, org := range []string{"pdma", "ndma"} {
				st, b := n.do("POST", "/api/v1/keys", n.keys["nodeAdmin"], create(org, "viewer"))
				var k keyJSON
				if json.Unmarshal([]byte(b), &k); st != 201 || k.ID == 0 {
					t.Fatalf("create %s: %d %s", org, st, b)
				}
				target[org] = k.ID
			}
			cases := []struct {
				actor, method, path, body string
				want                      int
			}{
				// create: own organisation, another, the node's
				{"nodeAdmin", "POST", "/api/v1/keys", create("pdma", "operator"), 201},
				{"nodeAdmin", "POST", "/api/v1/keys", create(auth.NodeOrganisation, "admin"), 201},
				{"pdmaAdmin", "POST", "/api/v1/keys", create("pdma", "operator"), 201},
				{"pdmaAdmin", "POST", "/api/v1/keys", create("pdma", "admin"), 201},
				{"pdmaAdmin", "POST", "/api/v1/keys", create("ndma", "viewer"), 403},
				{"pdmaAdmin", "POST", "/api/v1/keys", create(auth.NodeOrganisation, "admin"), 403},
				{"pdmaAdmin", "POST", "/api/v1/keys", create("newcomer", "viewer"), 403},
				{"pdmaApprover", "POST", "/api/v1/keys", create("pdma", "viewer"), 403},
				{"", "POST", "/api/v1/keys", create("pdma", "viewer"), 401},
				// list
				{"pdmaApprover", "GET", "/api/v1/keys", "", 403},
				{"", "GET", "/api/v1/keys", "", 401},
				// show
				{"nodeAdmin", "GET", fmt.Sprintf("/api/v1/keys/%d", target["ndma"]), "", 200},
				{"pdmaAdmin", "GET", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 200},
				{"pdmaAdmin", "GET", fmt.Sprintf("/api/v1/keys/%d", target["ndma"]), "", 403},
				{"pdmaApprover", "GET", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 403},
				{"pdmaAdmin", "GET", "/api/v1/keys/999999", "", 404},
				{"pdmaAdmin", "GET", "/api/v1/keys/x", "", 400},
				// revoke, both ways
				{"pdmaAdmin", "DELETE", fmt.Sprintf("/api/v1/keys/%d", target["ndma"]), "", 403},
				{"pdmaAdmin", "POST", fmt.Sprintf("/api/v1/keys/%d/revoke", target["ndma"]), "", 403},
				{"pdmaApprover", "DELETE", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 403},
				{"", "DELETE", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 401},
				{"pdmaAdmin", "DELETE", "/api/v1/keys/999999", "", 404},
				{"pdmaAdmin", "DELETE", "/api/v1/keys/-1", "", 400},
				{"pdmaAdmin", "DELETE", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 204},
				{"pdmaAdmin", "DELETE", fmt.Sprintf("/api/v1/keys/%d", target["pdma"]), "", 409},
				{"pdmaAdmin", "POST", fmt.Sprintf("/api/v1/keys/%d/revoke", target["pdma"]), "", 409},
				{"nodeAdmin", "POST", fmt.Sprintf("/api/v1/keys/%d/revoke", target["ndma"]), "", 200},
			}
			for _, c := range cases {
				before := n.count()
				st, b := n.do(c.method, c.path, n.keys[c.actor], c.body)
				if st != c.want {
					t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.actor, st, b, c.want)
				}
				added := n.count() - before
				if c.method == "POST" && c.path == "/api/v1/keys" && added != map[bool]int{true: 1, false: 0}[c.want == 201] {
					t.Errorf("%s %s as %q: %d keys stored", c.method, c.path, c.actor, added)
				}
				if st == 403 && c.actor == "pdmaAdmin" && !strings.Contains(b, `organisation \"pdma\"`) {
					t.Errorf("%s %s as %q: the refusal does not name the organisations: %s", c.method, c.path, c.actor, b)
				}
			}
			if n.revoked == nil || len(n.revoked) != 2 || n.revoked[0] != target["pdma"] || n.revoked[1] != target["ndma"] {
				t.Errorf("OnKeyRevoked: %v, want [%d %d]", n.revoked, target["pdma"], target["ndma"])
			}
			// lists: each admin its own organisation's; never a key or a hash
			all := n.list("nodeAdmin")
			orgs := map[string]int{}
			for _, k := range all {
				orgs[k.Organisation]++
				if k.Key != "" {
					t.Errorf("a clear key in the list: %+v", k)
				}
			}
			if orgs["pdma"] != 6 || orgs["ndma"] != 2 || orgs[auth.NodeOrganisation] != 2 {
				t.Errorf("the node-wide admin's list by organisation: %v", orgs)
			}
			for _, k := range n.list("pdmaAdmin") {
				if k.Organisation != "pdma" {
					t.Errorf("pdma's admin lists a key of %s", k.Organisation)
				}
			}
			if len(n.list("pdmaAdmin")) != 6 {
				t.Errorf("pdma's admin lists %d keys, want 6", len(n.list("pdmaAdmin")))
			}
			_, raw := n.do("GET", "/api/v1/keys", n.keys["nodeAdmin"], "")
			for actor, k := range n.keys {
				if strings.Contains(raw, k) || strings.Contains(raw, hex.EncodeToString(auth.Hash(k))) || strings.Contains(raw, strings.SplitN(k, "_", 3)[2]) {
					t.Errorf("the list shows %s's key or its hash", actor)
				}
				if strings.Contains(n.log.String(), k) {
					t.Errorf("%s's key is in the log", actor)
				}
			}
		})
	}
}

// A key made through the API works at once and is refused at once when revoked or expired
// (by the store's clock, as the bus's session check reads it too); its creation answer is the
// only place its clear key appears. Bad bodies get a 400 (413 over the limit) that names the
// field and the limit, and store nothing.
func TestKeysLifeCycle(t *testing.T) {
	n := newKeysNode(t, "sqlite")
	admin := n.keys["pdmaAdmin"]
	st, b := n.do("POST", "/api/v1/keys", admin, `{"organisation":"pdma","role":"admin","name":"logger 7","expiresIn":"1h"}`)
	var k keyJSON
	if err := json.Unmarshal([]byte(b), &k); st != 201 || err != nil || !strings.HasPrefix(k.Key, "rbt_"+k.Prefix+"_") || k.State != "active" ||
		k.Expires == nil || !k.Expires.Equal(n.now.Add(time.Hour)) || k.Role != "admin" || k.Name != "logger 7" {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, _ := n.do("GET", "/api/v1/keys", k.Key, ""); st != 200 {
		t.Errorf("the new key: %d", st)
	}
	if strings.Contains(n.log.String(), k.Key) || !strings.Contains(n.log.String(), `"msg":"key_created"`) {
		t.Errorf("log: %s", n.log.String())
	}
	// expiry: refused the second it expires, shown as expired
	n.mu.Lock()
	n.now = n.now.Add(time.Hour)
	n.mu.Unlock()
	if st, b := n.do("GET", "/api/v1/keys", k.Key, ""); st != 401 || !strings.Contains(b, "expiry") {
		t.Errorf("the expired key: %d %s, want 401", st, b)
	}
	if st, b := n.do("GET", fmt.Sprintf("/api/v1/keys/%d", k.ID), admin, ""); st != 200 || !strings.Contains(b, `"state": "expired"`) {
		t.Errorf("the expired key shown: %d %s", st, b)
	}
	// revocation: refused at once, shown as revoked, OnKeyRevoked told
	st, b = n.do("POST", "/api/v1/keys", admin, `{"organisation":"pdma","role":"operator","expiresAt":"`+n.now.Add(48*time.Hour).Format(time.RFC3339)+`"}`)
	json.Unmarshal([]byte(b), &k)
	if st != 201 || k.Expires == nil || !k.Expires.Equal(n.now.Add(48*time.Hour)) {
		t.Fatalf("create with expiresAt: %d %s", st, b)
	}
	if st, _ := n.do("GET", "/api/v1/keys", k.Key, ""); st != 403 { // an operator: known, but not an admin
		t.Errorf("the operator key: %d, want 403", st)
	}
	st, b = n.do("POST", fmt.Sprintf("/api/v1/keys/%d/revoke", k.ID), admin, "")
	if st != 200 || !strings.Contains(b, `"state": "revoked"`) || !strings.Contains(b, `"revoked": "`) || strings.Contains(b, `"key"`) {
		t.Errorf("revoke: %d %s", st, b)
	}
	if st, b := n.do("GET", "/api/v1/keys", k.Key, ""); st != 401 || !strings.Contains(b, "revoked") {
		t.Errorf("the revoked key: %d %s, want 401", st, b)
	}
	if len(n.revoked) != 1 || n.revoked[0] != k.ID {
		t.Errorf("OnKeyRevoked: %v", n.revoked)
	}

	past := n.now.Add(-time.Minute).Format(time.RFC3339)
	for _, c := range []struct {
		body string
		want int
		msg  string
	}{
		{`{"organisation":"pdma","role":"root"}`, 400, `unknown role \"root\"`},
		{`{"organisation":"pdma"}`, 400, "unknown role"},
		{`{"role":"viewer"}`, 400, "organisation is required"},
		{`{"organisation":"pdma","role":"viewer","name":"` + strings.Repeat("n", 201) + `"}`, 400, "over the limit of 200"},
		{`{"organisation":"pdma","role":"viewer","name":"a\u001b[2Jb"}`, 400, "control character"},
		{`{"organisation":"pdma","role":"viewer","expiresIn":"1h","expiresAt":"2030-01-01T00:00:00Z"}`, 400, "not both"},
		{`{"organisation":"pdma","role":"viewer","expiresAt":"` + past + `"}`, 400, "not in the future"},
		{`{"organisation":"pdma","role":"viewer","expiresAt":"2030-01-01"}`, 400, "RFC 3339"},
		{`{"organisation":"pdma","role":"viewer","expiresIn":"-1h"}`, 400, "above zero"},
		{`{"organisation":"pdma","role":"viewer","expiresIn":"99999d"}`, 400, "from 1 to 36500"},
		{`{"organisation":"pdma","role":"viewer","expiresIn":"soon"}`, 400, "expiresIn"},
		{`{"organisation":"pdma","role":"viewer","admin":true}`, 400, "body"},
		{`{"organisation":"pdma","role":"viewer"`, 400, "body"},
		{`{"organisation":"pdma","role":"viewer","name":"` + strings.Repeat("n", httpapi.MaxKeyBody) + `"}`, 413, "over the limit of 4096 bytes"},
	} {
		before := n.count()
		st, b := n.do("POST", "/api/v1/keys", admin, c.body)
		if st != c.want || !strings.Contains(b, c.msg) {
			t.Errorf("%.80s: %d %s, want %d with %q", c.body, st, b, c.want, c.msg)
		}
		if n.count() != before {
			t.Errorf("%.80s: stored a key", c.body)
		}
	}
	// an organisation name the node-wide admin may give but that is malformed
	if st, b := n.do("POST", "/api/v1/keys", n.keys["nodeAdmin"], `{"organisation":"pd ma","role":"viewer"}`); st != 400 || !strings.Contains(b, "character 3") {
		t.Errorf("a malformed organisation: %d %s", st, b)
	}
}
