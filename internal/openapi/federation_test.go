package openapi_test

import (
	"fmt"
	"strings"

	"github.com/nats-io/nkeys"
)

// federationAPI exercises the federation, audit and open-data routes (docs/federation.md,
// docs/audit.md, docs/wis2.md): every documented status but 401 (unauthenticated provokes
// those for every operation).
func federationAPI(c *checker, ids map[string]int64) {
	huge := `{"node":"` + strings.Repeat("x", 256<<10) + `"}` // over the federation routes' 256 KiB
	keys := map[string]string{}                               // a real user key per name
	nkey := func(name string) string {
		if keys[name] == "" {
			kp, _ := nkeys.CreateUser()
			keys[name], _ = kp.PublicKey()
		}
		return keys[name]
	}
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/federation/key"})

	// partners: the node-wide admin's
	c.must(201, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"karachi","nkey":"` + nkey("A") + `","url":"nats://127.0.0.1:4222"}`})
	c.must(200, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"karachi","nkey":"` + nkey("A") + `"}`}) // updated: the url kept
	c.must(400, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"Kar Achi","nkey":"` + nkey("B") + `"}`, bad: true})
	c.must(400, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"beijing","nkey":"` + nkey("B") + `","cert":"not PEM"}`})
	c.must(403, req{role: "operator", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"beijing","nkey":"` + nkey("B") + `"}`})
	c.must(409, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: `{"node":"beijing","nkey":"` + nkey("A") + `"}`})
	c.must(413, req{role: "admin", method: "POST", path: "/api/v1/federation/partners", body: huge, bad: true})
	c.must(200, req{role: "admin", method: "GET", path: "/api/v1/federation/partners"})
	c.must(403, req{role: "operator", method: "GET", path: "/api/v1/federation/partners"})

	// agreements: proposed by an operator of pdma, approved and revoked by an admin
	agreement := `{"providerOrganisation":"pdma","consumerOrganisation":"ndma","consumerNode":"karachi",
		"selection":{"datastreams":[1],"area":{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]},"alerts":true},
		"resolution":"raw","embargo":"1h","purpose":"flood warning downstream","validFrom":"2025-01-01T00:00:00Z","retention":"30d"}`
	created := c.must(201, req{role: "operator", method: "POST", path: "/api/v1/federation/agreements", body: agreement})
	a := id(c.t, created)
	if !strings.Contains(string(created), `"selectedDatastreams":`) { // how many it selects now
		c.t.Errorf("an agreement, as created: %s (want selectedDatastreams)", created)
	}
	c.must(400, req{role: "operator", method: "POST", path: "/api/v1/federation/agreements", body: strings.Replace(agreement, `"karachi"`, `"beijing"`, 1)})
	c.must(409, req{role: "admin", method: "DELETE", path: "/api/v1/federation/partners/karachi"})                                                                                       // its agreement is proposed
	c.must(400, req{role: "operator", method: "POST", path: "/api/v1/federation/agreements", body: strings.Replace(agreement, `[74.8,33.0],[73.5,33.0]`, `[73.5,33.0],[74.8,33.0]`, 1)}) // a bow tie
	c.must(403, req{role: "viewer", method: "POST", path: "/api/v1/federation/agreements", body: agreement})
	c.must(413, req{role: "operator", method: "POST", path: "/api/v1/federation/agreements", body: huge, bad: true})
	// an agreement for alerts only: written without resolution, embargo and retention
	alertsOnly := `{"providerOrganisation":"pdma","consumerOrganisation":"ndma","consumerNode":"karachi","selection":{"alerts":true,"observations":false,
		"area":{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}},"purpose":"warnings downstream","validFrom":"2025-01-01T00:00:00Z"}`
	b := string(c.must(201, req{role: "operator", method: "POST", path: "/api/v1/federation/agreements", body: alertsOnly}))
	if strings.Contains(b, `"resolution"`) || strings.Contains(b, `"embargo"`) || strings.Contains(b, `"retention"`) || strings.Contains(b, `"selectedDatastreams"`) {
		c.t.Errorf("an agreement for alerts only, as created: %s (want no resolution, embargo, retention or selectedDatastreams)", b)
	}
	c.must(200, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/federation/agreements/%d/revoke", id(c.t, []byte(b)))}) // (karachi is removed below)
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/federation/agreements"})
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/federation/received"})
	for _, verb := range []string{"approve", "revoke"} {
		p := fmt.Sprintf("/api/v1/federation/agreements/%d/%s", a, verb)
		c.must(400, req{role: "admin", method: "POST", path: "/api/v1/federation/agreements/x/" + verb, bad: true})
		c.must(404, req{role: "admin", method: "POST", path: "/api/v1/federation/agreements/999/" + verb})
		c.must(403, req{role: "operator", method: "POST", path: p})
		c.must(200, req{role: "admin", method: "POST", path: p})
		c.must(409, req{role: "admin", method: "POST", path: p})
	}

	c.must(403, req{role: "operator", method: "DELETE", path: "/api/v1/federation/partners/karachi"})
	c.must(204, req{role: "admin", method: "DELETE", path: "/api/v1/federation/partners/karachi"}) // its agreement is revoked
	c.must(404, req{role: "admin", method: "DELETE", path: "/api/v1/federation/partners/karachi"})

	// the audit log holds all of it
	c.must(200, req{role: "admin", method: "GET", path: "/api/v1/audit?from=1&limit=50"})
	c.must(400, req{role: "admin", method: "GET", path: "/api/v1/audit?limit=0"})
	c.must(403, req{role: "viewer", method: "GET", path: "/api/v1/audit"})
	c.must(200, req{role: "admin", method: "GET", path: "/api/v1/audit/proof?partner=ndma&from=2025-01-01T00:00:00Z"})
	c.must(400, req{role: "admin", method: "GET", path: "/api/v1/audit/proof", bad: true})
	c.must(403, req{role: "viewer", method: "GET", path: "/api/v1/audit/proof?partner=pdma"})

	// open data
	for _, m := range []string{"POST", "DELETE"} {
		c.must(200, req{role: "admin", method: m, path: "/api/v1/organisations/pdma/open"})
		c.must(400, req{role: "admin", method: m, path: "/api/v1/organisations/" + strings.Repeat("x", 65) + "/open"})
		c.must(403, req{role: "operator", method: m, path: "/api/v1/organisations/pdma/open"})
		c.must(404, req{role: "admin", method: m, path: "/api/v1/organisations/nobody/open"})
	}
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/organisations/open"})
	c.must(200, req{method: "GET", path: "/wis2/catalogue"})

	// the data a WIS2 notification links to: pdma's data is closed again, so a viewer of pdma
	// only; open, anyone
	data := fmt.Sprintf("/wis2/data/datastreams/%d/observations?from=1&to=100", ids["Datastreams"])
	c.must(404, req{method: "GET", path: data})
	c.must(200, req{role: "viewer", method: "GET", path: data})
	c.must(400, req{method: "GET", path: "/wis2/data/datastreams/x/observations?from=1&to=2", bad: true})
	c.must(400, req{method: "GET", path: fmt.Sprintf("/wis2/data/datastreams/%d/observations?from=1&to=10001", ids["Datastreams"])})
	c.must(200, req{role: "admin", method: "POST", path: "/api/v1/organisations/pdma/open"})
	c.must(200, req{method: "GET", path: data})
	c.must(200, req{role: "admin", method: "DELETE", path: "/api/v1/organisations/pdma/open"})
}
