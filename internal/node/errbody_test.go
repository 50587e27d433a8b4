package node_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// Every API surface answers an error with the same body, in the same form: one line of
// compact JSON {"code","message","requestId","type":"error"} — SensorThings, /api/v1 (alerts,
// federation, audit), the fallback for unknown paths and the console's /console/api.
func TestErrorBodiesOneForm(t *testing.T) {
	n, _ := start(t, "errbody")
	body := regexp.MustCompile(`^\{"code":(\d{3}),"message":"[^\n]+","requestId":"[^"\n]+","type":"error"\}\n$`)
	for _, c := range []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/v1.1/Things(999)", adminKey, "", 404},
		{"GET", "/api/v1/alerts/999", adminKey, "", 404},
		{"GET", "/api/v1/alerts/999", "", "", 401},
		{"POST", "/api/v1/federation/agreements/x/approve", adminKey, "", 400},
		{"POST", "/api/v1/federation/agreements", adminKey, `{"nope":1}`, 400},
		{"GET", "/api/v1/federation/partners", "", "", 401},
		{"GET", "/api/v1/audit?limit=x", adminKey, "", 400},
		{"GET", "/api/v1/nothing-here", adminKey, "", 404},
		{"GET", "/console/api/stations", "", "", 401},
	} {
		req, _ := http.NewRequest(c.method, "http://"+n.Addr().String()+c.path, strings.NewReader(c.body))
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := body.FindStringSubmatch(string(b))
		if resp.StatusCode != c.status || m == nil || m[1] != resp.Status[:3] || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s %q; want %d and the one error body, compact", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b, c.status)
		}
	}
}

// An agreement whose selection names Things, ObservedProperties or a providing organisation
// the node does not have is a 400 naming each, with the member it came from; nothing is made.
func TestAgreementNamesWhatDoesNotExist(t *testing.T) {
	n, _ := start(t, "namesmissing")
	key := func() string { // another node's key (the node's own is refused as a partner's)
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		return pub
	}()
	// a member twice is refused, not decided by whichever the decoder keeps
	if st, b := do(t, n, "POST", "/api/v1/federation/partners", `{"node":"karachi","nkey":"`+key+`","node":"lahore"}`); st != 400 || !strings.Contains(b, `\"node\"`) {
		t.Errorf("a partner with node twice: %d %s; want 400 naming it", st, b)
	}
	if st, b := do(t, n, "POST", "/api/v1/federation/agreements", `{"providerOrganisation":"admin","providerOrganisation":"pdma","consumerOrganisation":"c","consumerNode":"karachi",
		"selection":{"alerts":true},"resolution":"raw","purpose":"p","validFrom":"2025-01-01T00:00:00Z"}`); st != 400 || !strings.Contains(b, `\"providerOrganisation\"`) {
		t.Errorf("an agreement with providerOrganisation twice: %d %s; want 400 naming it", st, b)
	}
	if st, b := do(t, n, "POST", "/api/v1/federation/partners", `{"node":"karachi","nkey":"`+key+`"}`); st != 201 {
		t.Fatalf("partner: %d %s", st, b)
	}
	for _, c := range []struct {
		provider, selection string
		want                []string
	}{
		{"admin", `{"things":[41,42],"observedProperties":[43]}`, []string{"selection.things: Things 41, 42 do not exist", "selection.observedProperties: ObservedProperty 43 does not exist"}},
		{"admin", `{"datastreams":[44]}`, []string{"selection.datastreams: Datastream 44 does not exist"}},
		{"nobody", `{"alerts":true}`, []string{`providerOrganisation: \"nobody\" does not exist`}},
	} {
		st, b := do(t, n, "POST", "/api/v1/federation/agreements", `{"providerOrganisation":"`+c.provider+`","consumerOrganisation":"c","consumerNode":"karachi",
			"selection":`+c.selection+`,"resolution":"raw","purpose":"p","validFrom":"2025-01-01T00:00:00Z"}`)
		if st != 400 {
			t.Errorf("%s: %d %s, want 400", c.selection, st, b)
		}
		for _, w := range c.want {
			if !strings.Contains(b, w) {
				t.Errorf("%s: %s; want it to say %s", c.selection, b, w)
			}
		}
	}
	if st, b := do(t, n, "GET", "/api/v1/federation/agreements", ""); st != 200 || b != "{\"value\":[]}\n" {
		t.Errorf("agreements after the refusals: %d %s; want none", st, b)
	}
}
