package node_test

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/node"
)

// heatAdvisory is a heat advisory for Lahore district as an operator writes it: the rules file
// expands it into one rule per audience (hospitals, clinics, public).
const heatAdvisory = `advisories:
  - id: heat-lahore
    type: heat
    place: Lahore district
    temperature: 1
    humidity: 2
    area: {geocodes: [{name: district, value: PK-Lahore}]}
`

const lahoreWeather = `{"name":"Lahore weather","description":"weather station",
 "Locations":[{"name":"Lahore","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.35,31.55]}}],
 "Datastreams":[
  {"name":"Air temperature","description":"T","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
   "unitOfMeasurement":{"name":"degree Celsius","symbol":"Cel","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
   "ObservedProperty":{"name":"Air temperature","definition":"t","description":"t"}},
  {"name":"Relative humidity","description":"RH","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
   "unitOfMeasurement":{"name":"percent","symbol":"%","definition":"x"},"Sensor":{"name":"h","description":"h","encodingType":"text/html","metadata":"x"},
   "ObservedProperty":{"name":"Relative humidity","definition":"h","description":"h"}}]}`

// A heat advisory end to end: temperature and humidity readings at the same hour make a heat
// index of about 43 °C (Danger); each audience's rule drafts an alert; the hospitals' draft,
// approved, is CAP with category Health, the hospitals' audience and their instruction in each
// language, and reaches over SMPP the hospital subscribed in Lahore and no one else in Lahore
// (not the school, not the member of the public). Its impact preview counted that one too,
// and named its audience with that count.
func TestHeatAdvisoryEndToEnd(t *testing.T) {
	smsc := channeltest.SMSC(t)
	logs := &syncBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	n, err := node.New(t.Context(), node.Options{ID: "lahore", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminKey: adminKey, Registry: prometheus.NewRegistry(),
		Dissemination: node.DisseminationOptions{SMPP: &smpp.Options{Addr: smsc.Addr, SystemID: smsc.SystemID, Password: smsc.Password, Source: "RABTA"}},
		Log:           slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, b := do(t, n, "POST", "/v1.1/Things", lahoreWeather); st != 201 {
		t.Fatalf("thing: %d %s", st, b)
	}
	if st, b := do(t, n, "PUT", "/api/v1/rules", heatAdvisory); st != 200 || !strings.Contains(b, `"applied": 3`) {
		t.Fatalf("rules: %d %s", st, b)
	}
	for _, s := range []string{
		`{"name":"Mayo Hospital","kind":"organisation","language":"ur","audiences":["hospitals"],"place":"district:Lahore","contacts":[{"channel":"sms","address":"+923001110001"}],"consent":{"source":"test"}}`,
		`{"name":"A school","kind":"organisation","language":"en","audiences":["schools"],"place":"district:Lahore","contacts":[{"channel":"sms","address":"+923001110002"}],"consent":{"source":"test"}}`,
		`{"name":"Bilal","language":"en","audiences":["public"],"place":"district:Lahore","contacts":[{"channel":"sms","address":"+923001110003"}],"consent":{"source":"test"}}`,
	} {
		if st, b := do(t, n, "POST", "/api/v1/subscribers", s); st != 201 {
			t.Fatalf("subscriber: %d %s", st, b)
		}
	}
	// 36 °C and 50 % at 06:00 UTC: heat index 43.1 °C, Danger (41–54 °C)
	for _, o := range []struct{ ds, body string }{
		{"1", `{"phenomenonTime":"2025-06-10T06:00:00Z","result":36}`},
		{"2", `{"phenomenonTime":"2025-06-10T06:05:00Z","result":50}`},
	} {
		if st, b := do(t, n, "POST", "/v1.1/Datastreams("+o.ds+")/Observations", o.body); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}
	type info struct {
		Language, Audience, Headline, Instruction string
		Categories                                []string
		Parameters                                []struct{ Name, Value string }
	}
	type alertV struct {
		ID     int64
		Rule   string
		Level  string
		Draft  *struct{ Infos []info }
		Impact map[string]struct {
			Subscribers int
			Audiences   []struct {
				Audience    string
				Subscribers int
			}
		}
	}
	var drafts []alertV
	waitFor(t, "three drafts", 30*time.Second, func() bool {
		_, b := do(t, n, "GET", "/api/v1/alerts?state=draft", "")
		var v struct{ Value []alertV }
		json.Unmarshal([]byte(b), &v)
		drafts = v.Value
		return len(drafts) == 3
	})
	var hosp *alertV
	for i, d := range drafts {
		if d.Level != "Danger" {
			t.Errorf("draft %s: level %q, want Danger", d.Rule, d.Level)
		}
		if d.Rule == "heat-lahore-hospitals" {
			hosp = &drafts[i]
		}
	}
	if hosp == nil || hosp.Draft == nil || len(hosp.Draft.Infos) != 3 {
		t.Fatalf("hospitals' draft: %+v", hosp)
	}
	for _, in := range hosp.Draft.Infos {
		aud := ""
		for _, p := range in.Parameters {
			if p.Name == "rabta:audience" {
				aud = p.Value
			}
		}
		if len(in.Categories) != 1 || in.Categories[0] != "Health" || aud != "hospitals" || in.Audience == "" {
			t.Errorf("%s info: categories %v, rabta:audience %q, audience %q", in.Language, in.Categories, aud, in.Audience)
		}
		want := map[string]string{"en": "emergency department", "ur": "ایمرجنسی", "zh": "急诊"}[in.Language]
		if want == "" || !strings.Contains(in.Instruction, want) {
			t.Errorf("%s instruction %q does not speak to hospitals", in.Language, in.Instruction)
		}
		if lvl := map[string]string{"en": "Danger", "ur": "خطرہ", "zh": "危险"}[in.Language]; !strings.Contains(in.Headline, lvl) {
			t.Errorf("%s headline %q does not name the level %q", in.Language, in.Headline, lvl)
		}
	}
	// the impact preview of each draft counts its own audience only: the hospital, the
	// clinics' nobody, the public's all three (a public advisory reaches everyone in the area)
	want := map[string]int{"heat-lahore-hospitals": 1, "heat-lahore-clinics": 0, "heat-lahore-public": 3}
	waitFor(t, "the drafts' impact", 30*time.Second, func() bool {
		_, b := do(t, n, "GET", "/api/v1/alerts?state=draft", "")
		var v struct{ Value []alertV }
		json.Unmarshal([]byte(b), &v)
		ok := len(v.Value) == 3
		for _, d := range v.Value {
			_, b := do(t, n, "GET", "/api/v1/alerts/"+strconv.FormatInt(d.ID, 10), "")
			json.Unmarshal([]byte(b), &d)
			imp, has := d.Impact["draft"]
			// and names its audience with the same count (docs/advisories.md)
			aud := strings.TrimPrefix(d.Rule, "heat-lahore-")
			ok = ok && has && imp.Subscribers == want[d.Rule] && len(imp.Audiences) == 1 &&
				imp.Audiences[0].Audience == aud && imp.Audiences[0].Subscribers == want[d.Rule]
		}
		return ok
	})
	if st, b := do(t, n, "POST", "/api/v1/alerts/"+strconv.FormatInt(hosp.ID, 10)+"/approve", `{"why":"heatwave confirmed"}`); st != 200 {
		t.Fatalf("approve: %d %s", st, b)
	}
	got := func() map[string][]string {
		out := map[string][]string{}
		for _, m := range smsc.Received() {
			to := "+" + strings.TrimPrefix(m.Destination, "+")
			out[to] = append(out[to], m.Text)
		}
		return out
	}
	waitFor(t, "the hospital's SMS", 30*time.Second, func() bool { return len(got()["+923001110001"]) == 1 })
	time.Sleep(300 * time.Millisecond)
	if r := got(); len(r) != 1 || !strings.Contains(r["+923001110001"][0], "گرمی") {
		t.Errorf("SMS went to %v; want only the hospital, in Urdu", r)
	}
	// the impact of the issued message counts the hospital only
	_, b := do(t, n, "GET", "/api/v1/alerts/"+strconv.FormatInt(hosp.ID, 10)+"/deliveries", "")
	var prog struct {
		Impact map[string]struct{ Subscribers int }
	}
	json.Unmarshal([]byte(b), &prog)
	issued := 0
	for id, imp := range prog.Impact {
		if id == "draft" {
			continue
		}
		issued++
		if imp.Subscribers != 1 {
			t.Errorf("impact of %s counts %d subscribers, want 1 (the hospital): %s", id, imp.Subscribers, b)
		}
	}
	if issued != 1 {
		t.Errorf("impact of %d messages, want 1: %s", issued, b)
	}
}
