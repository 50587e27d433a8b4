package node_test

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/wis2/wis2test"
)

// req makes a request with key (empty: anonymous) and returns the status and body.
func req(t *testing.T, method, url, key, body string) (int, []byte) {
	t.Helper()
	r, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A node announces, on the WIS2 topic hierarchy over its MQTT listener, each batch of
// observations of an organisation that opened its data — a notification that validates
// against the WNM schema, whose canonical link any client GETs (200) and whose integrity is
// the SHA-512 of those bytes — and nothing for an organisation that did not. The catalogue,
// public, validates against WCMP2 (core for open data, recommended otherwise). Opening data
// and creating keys go into the audit log, which verifies, and whose proof for the
// organisation verifies with the node's certificate.
func TestWIS2OpenDataAndAudit(t *testing.T) {
	n, _ := start(t, "wis2")
	base := "http://" + n.Addr().String()
	key := func(org, role string) string {
		st, b := req(t, "POST", base+"/api/v1/keys", adminKey, fmt.Sprintf(`{"organisation":%q,"role":%q}`, org, role))
		var k struct{ Key string }
		if json.Unmarshal(b, &k); st != 201 || k.Key == "" {
			t.Fatalf("create key: %d %s", st, b)
		}
		return k.Key
	}
	pmd, ndma, viewer := key("pmd", "admin"), key("ndma", "admin"), key("broker", "viewer")
	thing := func(k, name, prop string, lon float64) {
		st, b := req(t, "POST", base+"/v1.1/Things", k, `{"name":"`+name+`","description":"gauge",
		 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[`+fmt.Sprint(lon)+`,33.7]}}],
		 "Datastreams":[{"name":"`+prop+` at `+name+`","description":"h","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		  "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
		  "ObservedProperty":{"name":"`+prop+`","definition":"d","description":"d"}}]}`)
		if st != 201 {
			t.Fatalf("create %s: %d %s", name, st, b)
		}
	}
	thing(pmd, "Tarbela", "Water level", 72.7)     // Datastream 1, pmd's
	thing(ndma, "Lahore", "Air temperature", 74.3) // Datastream 2, ndma's

	// only pmd opens its data; another organisation's admin cannot open it
	if st, b := req(t, "POST", base+"/api/v1/organisations/pmd/open", ndma, ""); st != 403 {
		t.Errorf("ndma opening pmd's data: %d %s", st, b)
	}
	if st, b := req(t, "POST", base+"/api/v1/organisations/pmd/open", pmd, ""); st != 200 || !bytes.Contains(b, []byte(`"changed":true`)) {
		t.Fatalf("open pmd: %d %s", st, b)
	}

	msgs := make(chan paho.Message, 10)
	o := paho.NewClientOptions().AddBroker("tcp://" + n.MQTTAddr()).SetUsername("broker").SetPassword(viewer).
		SetClientID("wis2-gb").SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Subscribe("origin/a/wis2/#", 1, func(_ paho.Client, m paho.Message) { msgs <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	// closed data first: the notifier takes batches in order, so when pmd's arrives, ndma's was passed over
	if st, b := req(t, "POST", base+"/v1.1/Datastreams(2)/Observations", ndma, `{"phenomenonTime":"2025-08-27T06:00:00Z","result":31.5}`); st != 201 {
		t.Fatalf("ndma observation: %d %s", st, b)
	}
	if st, b := req(t, "POST", base+"/v1.1/CreateObservations", pmd, `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],
		"dataArray":[["2025-08-27T06:00:00Z",3.25],["2025-08-27T07:00:00Z",3.5]]}]`); st != 201 {
		t.Fatalf("pmd observations: %d %s", st, b)
	}
	var m paho.Message
	select {
	case m = <-msgs:
	case <-time.After(20 * time.Second):
		t.Fatal("no WIS2 notification for pmd's open data")
	}
	if want := "origin/a/wis2/xx-rabta-wis2/data/core/hydrology/surface-based-observations/water-quantity/stream"; m.Topic() != want || !wis2test.Topic(t, m.Topic()) {
		t.Errorf("topic %s, want %s", m.Topic(), want)
	}
	if err := wis2test.Notification(t, m.Payload()); err != nil {
		t.Errorf("notification does not validate: %v\n%s", err, m.Payload())
	}
	var wnm struct {
		Properties struct {
			MetadataID string `json:"metadata_id"`
			Integrity  struct{ Method, Value string }
			Start      string `json:"start_datetime"`
		}
		Links []struct{ Href, Rel string }
	}
	if err := json.Unmarshal(m.Payload(), &wnm); err != nil || len(wnm.Links) != 1 || wnm.Links[0].Rel != "canonical" {
		t.Fatalf("notification: %v %s", err, m.Payload())
	}
	if wnm.Properties.MetadataID != "urn:wmo:md:xx-rabta-wis2:rabta.pmd.1" || wnm.Properties.Start != "2025-08-27T06:00:00Z" {
		t.Errorf("notification properties: %+v", wnm.Properties)
	}
	st, data := req(t, "GET", wnm.Links[0].Href, "", "") // anonymous: open data
	sum := sha512.Sum512(data)
	if st != 200 || wnm.Properties.Integrity.Method != "sha512" || wnm.Properties.Integrity.Value != base64.StdEncoding.EncodeToString(sum[:]) ||
		!bytes.Contains(data, []byte(`"result":3.25`)) || !bytes.Contains(data, []byte(`"result":3.5`)) {
		t.Errorf("data link %s: %d %s (integrity %+v)", wnm.Links[0].Href, st, data, wnm.Properties.Integrity)
	}
	select {
	case m := <-msgs:
		t.Errorf("a second notification (closed data announced?): %s %s", m.Topic(), m.Payload())
	case <-time.After(300 * time.Millisecond):
	}
	// ndma's data stays closed: not served anonymously, served to its own key
	if st, b := req(t, "GET", base+"/wis2/data/datastreams/2/observations?from=1&to=1", "", ""); st != 404 {
		t.Errorf("closed data anonymously: %d %s", st, b)
	}
	if st, b := req(t, "GET", base+"/wis2/data/datastreams/2/observations?from=1&to=1", ndma, ""); st != 200 || !bytes.Contains(b, []byte("31.5")) {
		t.Errorf("closed data to its owner: %d %s", st, b)
	}
	for _, q := range []string{"from=2&to=1", "from=x&to=1", "from=1&to=20000", "to=3"} {
		if st, b := req(t, "GET", base+"/wis2/data/datastreams/1/observations?"+q, "", ""); st != 400 {
			t.Errorf("data link ?%s: %d %s, want 400", q, st, b)
		}
	}

	// the catalogue, public
	st, b := req(t, "GET", base+"/wis2/catalogue", "", "")
	var cat struct{ Features []json.RawMessage }
	if json.Unmarshal(b, &cat); st != 200 || len(cat.Features) != 2 {
		t.Fatalf("catalogue: %d %s", st, b)
	}
	if _, port, _ := net.SplitHostPort(n.MQTTAddr()); !strings.Contains(string(b), `"mqtt://127.0.0.1:`+port+`"`) {
		t.Errorf("the catalogue's MQTT link does not name the broker's port %s: %s", port, b)
	}
	policies := map[string]string{}
	for _, f := range cat.Features {
		if err := wis2test.Record(t, f); err != nil {
			t.Errorf("record does not validate: %v\n%s", err, f)
		}
		var r struct {
			ID         string
			Properties map[string]any
		}
		json.Unmarshal(f, &r)
		policies[r.ID], _ = r.Properties["wmo:dataPolicy"].(string)
	}
	if policies["urn:wmo:md:xx-rabta-wis2:rabta.pmd.1"] != "core" || policies["urn:wmo:md:xx-rabta-wis2:rabta.ndma.2"] != "recommended" {
		t.Errorf("data policies: %v", policies)
	}

	// the audit log: keys created, pmd's data opened; verifies; pmd's proof verifies
	if st, b := req(t, "GET", base+"/api/v1/audit", pmd, ""); st != 403 {
		t.Errorf("audit log to an organisation's admin: %d %s", st, b)
	}
	st, b = req(t, "GET", base+"/api/v1/audit?limit=50", adminKey, "")
	var log struct {
		Entries []audit.Record
		Head    *audit.Head
	}
	if json.Unmarshal(b, &log); st != 200 || len(log.Entries) != 4 || log.Entries[3].Kind != "organisation.open" || log.Entries[0].Kind != "key.create" ||
		log.Head == nil || log.Head.Seq != 4 {
		t.Fatalf("audit log: %d %s", st, b)
	}
	rep, err := n.Audit().Verify(t.Context())
	if err != nil || rep.Problem != nil || rep.Entries != 4 {
		t.Errorf("verify: %+v %v", rep, err)
	}
	st, b = req(t, "GET", base+"/api/v1/audit/proof?partner=pmd", pmd, "")
	if st != 200 {
		t.Fatalf("proof for pmd: %d %s", st, b)
	}
	p, err := audit.ParseProof(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := audit.VerifyProof(p, n.Audit().Cert); err != nil || len(pr.Entries) != 2 { // its key's creation, its opening
		t.Errorf("pmd's proof: %+v %v", pr, err)
	}
	if st, b := req(t, "GET", base+"/api/v1/audit/proof?partner=pmd", ndma, ""); st != 403 {
		t.Errorf("pmd's proof to ndma: %d %s", st, b)
	}
	// a rule set applied is recorded too, and the chain still verifies
	rules := `rules:
  - {id: tarbela-high, name: Tarbela, kind: threshold, datastreams: [1], levels: [{name: High, value: 5, severity: Severe, urgency: Expected, certainty: Observed, event: Flood}],
     area: {desc: Tarbela, circles: [{center: [34.1, 72.7], radiusKm: 5}]}, templates: {en: {headline: "{{.Level}} at {{.Station}}"}}}
`
	if st, b := req(t, "PUT", base+"/api/v1/rules", pmd, rules); st != 200 {
		t.Fatalf("rules: %d %s", st, b)
	}
	recs, err := n.Audit().List(t.Context(), 5, 0, 10)
	if err != nil || len(recs) != 1 || recs[0].Kind != "rules.apply" || recs[0].Actor == "" || !bytes.Contains(recs[0].Detail, []byte(`"rules":["tarbela-high"]`)) {
		t.Errorf("rules applied: %+v %v", recs, err)
	}
	if rep, err := n.Audit().Verify(t.Context()); err != nil || rep.Problem != nil || rep.Entries != 5 {
		t.Errorf("verify after rules: %+v %v", rep, err)
	}
}

// A WIS2 centre id that is not "<country>-<acronym>" is refused when the node is built.
func TestWIS2CentreChecked(t *testing.T) {
	_, err := node.New(t.Context(), node.Options{ID: "x", DataDir: t.TempDir(), WIS2Centre: "PMD Pakistan"})
	if err == nil || !strings.Contains(err.Error(), `WIS2 centre id "PMD Pakistan"`) {
		t.Errorf("node with a bad WIS2 centre id: %v", err)
	}
}

// Opening (or closing) the data of an organisation the node does not know is refused, 404
// naming it, and a name no organisation can have 400; nothing changes and nothing is
// audited. The node's own organisation and one with a key open.
func TestOpenUnknownOrganisation(t *testing.T) {
	n, _ := start(t, "orgs")
	base := "http://" + n.Addr().String()
	for _, c := range []struct {
		method, org string
		status      int
		want        string
	}{
		{"POST", "nobody", 404, `organisation \"nobody\" is not known on this node`},
		{"DELETE", "nobody", 404, `organisation \"nobody\" is not known on this node`},
		{"POST", "Bad%20Org!", 400, `organisation \"Bad Org!\": character 4 is ' '`},
		{"POST", strings.Repeat("x", 65), 400, "over the limit of 64"},
	} {
		if st, b := req(t, c.method, base+"/api/v1/organisations/"+c.org+"/open", adminKey, ""); st != c.status || !bytes.Contains(b, []byte(c.want)) {
			t.Errorf("%s %s: %d %s, want %d naming %q", c.method, c.org, st, b, c.status, c.want)
		}
	}
	if st, b := req(t, "GET", base+"/api/v1/organisations/open", adminKey, ""); st != 200 || string(bytes.TrimSpace(b)) != "{}" {
		t.Errorf("open organisations after refusals: %d %s", st, b)
	}
	if recs, err := n.Audit().List(t.Context(), 1, 0, 10); err != nil || len(recs) != 0 {
		t.Errorf("refusals audited: %+v %v", recs, err)
	}
	if st, b := req(t, "POST", base+"/api/v1/keys", adminKey, `{"organisation":"ndma","role":"viewer"}`); st != 201 {
		t.Fatalf("key: %d %s", st, b)
	}
	for _, org := range []string{"admin", "ndma"} {
		if st, b := req(t, "POST", base+"/api/v1/organisations/"+org+"/open", adminKey, ""); st != 200 || !bytes.Contains(b, []byte(`"changed":true`)) {
			t.Errorf("open %s: %d %s", org, st, b)
		}
	}
}

// The rules routes refuse an organisation the node does not know, given with ?organisation=:
// 404 naming it (400 for a name no organisation can have), nothing applied, and the typo does
// not become a known organisation (opening its data is still refused). One with a key, and
// the node's own, are served.
func TestRulesUnknownOrganisation(t *testing.T) {
	n, _ := start(t, "rulesorg")
	base := "http://" + n.Addr().String()
	for _, c := range []struct {
		method, query string
		status        int
		want          string
	}{
		{"PUT", "?organisation=pdma", 404, `organisation \"pdma\" is not known on this node`},
		{"GET", "?organisation=pdma", 404, `organisation \"pdma\" is not known on this node`},
		{"PUT", "?organisation=pd%20ma", 400, `organisation \"pd ma\": character 3 is ' '`},
	} {
		if st, b := req(t, c.method, base+"/api/v1/rules"+c.query, adminKey, "rules: []\n"); st != c.status || !bytes.Contains(b, []byte(c.want)) {
			t.Errorf("%s /api/v1/rules%s: %d %s, want %d naming %q", c.method, c.query, st, b, c.status, c.want)
		}
	}
	if st, b := req(t, "POST", base+"/api/v1/organisations/pdma/open", adminKey, ""); st != 404 {
		t.Errorf("pdma after the refused rules: %d %s; want it still unknown", st, b)
	}
	if recs, err := n.Audit().List(t.Context(), 1, 0, 10); err != nil || len(recs) != 0 {
		t.Errorf("refusals audited: %+v %v", recs, err)
	}
	if st, b := req(t, "POST", base+"/api/v1/keys", adminKey, `{"organisation":"ndma","role":"viewer"}`); st != 201 {
		t.Fatalf("key: %d %s", st, b)
	}
	for _, org := range []string{"ndma", "admin"} {
		if st, b := req(t, "PUT", base+"/api/v1/rules?organisation="+org, adminKey, "rules: []\n"); st != 200 || !bytes.Contains(b, []byte(`"organisation": "`+org+`"`)) {
			t.Errorf("PUT rules of %s: %d %s", org, st, b)
		}
		if st, b := req(t, "GET", base+"/api/v1/rules?organisation="+org, adminKey, ""); st != 200 {
			t.Errorf("GET rules of %s: %d %s", org, st, b)
		}
	}
}
