package node_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/email"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/channel/webhook"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/sms"
)

// lahoreRule issues by itself when the Ravi at Lahore passes 1,000 cusecs; its area is the
// district of Lahore (a geocode the gazetteer resolves to its real boundary).
const lahoreRule = `rules:
  - id: ravi-lahore
    name: Ravi at Lahore
    kind: threshold
    datastreams: [1]
    levels:
      - {name: High, value: 1000, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Lahore district, geocodes: [{name: district, value: PK-Lahore}]}
    autoIssue: true
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}", description: "{{.Value}} at {{.ObservedAt}}", instruction: "Move to higher ground."}
      ur: {headline: "{{.Station}} پر {{.Level}} درجے کا سیلاب", description: "{{.Value}}", instruction: "اونچی جگہ پر جائیں۔"}
`

const ravi = `{"name":"Ravi at Shahdara","description":"gauge",
 "Locations":[{"name":"Shahdara","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.28,31.62]}}],
 "Datastreams":[{"name":"Ravi discharge","description":"Q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
  "unitOfMeasurement":{"name":"cusec","symbol":"cusec","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
  "ObservedProperty":{"name":"Discharge","definition":"d","description":"d"}}]}`

// hooks receives webhook deliveries and verifies each signature as a partner would.
type hooks struct {
	mu     sync.Mutex
	got    []string // Rabta-Delivery ids
	bodies []string
	bad    int
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify("partner-secret-0123456789", r.Header.Get("Rabta-Signature"), body, time.Now(), 0); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.got = append(h.got, r.Header.Get("Rabta-Delivery"))
	h.bodies = append(h.bodies, string(body))
}

func (h *hooks) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An alert issued for Lahore reaches, through real gateways, exactly the subscribers in
// Lahore, each in their language, on the channels they chose; delivery reports come back;
// the Cancel reaches the same people. Once with SMS over SMPP, once through Kannel.
func TestDisseminationThroughRealGateways(t *testing.T) {
	t.Parallel()
	for _, gw := range []string{"smpp", "kannel"} {
		t.Run(gw, func(t *testing.T) {
			mail := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
			hk := &hooks{}
			partner := httptest.NewServer(hk)
			t.Cleanup(partner.Close)
			opts := node.DisseminationOptions{SMTP: &email.Options{Addr: mail.Addr, From: "Rabta warnings <warnings@rabta.test>"},
				Webhook: webhook.Options{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}} // the partner's endpoint is on this machine
			var received func() map[string][]string // destination → texts
			var coding func(to string) sms.Coding
			switch gw {
			case "smpp":
				smsc := channeltest.SMSC(t)
				opts.SMPP = &smpp.Options{Addr: smsc.Addr, SystemID: smsc.SystemID, Password: smsc.Password, Source: "RABTA"}
				received = func() map[string][]string {
					out := map[string][]string{}
					for _, m := range smsc.Received() {
						out["+"+strings.TrimPrefix(m.Destination, "+")] = append(out["+"+strings.TrimPrefix(m.Destination, "+")], m.Text)
					}
					return out
				}
				coding = func(to string) sms.Coding {
					for _, m := range smsc.Received() {
						if "+"+strings.TrimPrefix(m.Destination, "+") == to {
							return sms.Coding(m.DataCoding)
						}
					}
					return 255
				}
			case "kannel":
				k := channeltest.Kannel(t, channeltest.KannelOptions{})
				opts.Kannel = &kannel.Options{URL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "RABTA"}
				received = func() map[string][]string {
					out := map[string][]string{}
					for _, m := range k.Received() {
						out["+"+strings.TrimPrefix(m.To, "+")] = append(out["+"+strings.TrimPrefix(m.To, "+")], m.Text)
					}
					return out
				}
				coding = func(to string) sms.Coding {
					for _, m := range k.Received() {
						if "+"+strings.TrimPrefix(m.To, "+") == to {
							return m.Coding
						}
					}
					return 255
				}
			}
			logs := &syncBuf{}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("node log:\n%s", logs.String())
				}
			})
			reg := prometheus.NewRegistry()
			n, err := node.New(t.Context(), node.Options{ID: "lahore", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminKey: adminKey, Registry: reg,
				FourEyes: true, Dissemination: opts, Log: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			if err := n.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			if st, b := do(t, n, "POST", "/v1.1/Things", ravi); st != 201 {
				t.Fatalf("thing: %d %s", st, b)
			}
			if st, b := do(t, n, "PUT", "/api/v1/rules", lahoreRule); st != 200 {
				t.Fatalf("rules: %d %s", st, b)
			}
			for _, s := range []string{
				// in Lahore district, Urdu, SMS first then e-mail
				`{"name":"Ayesha","language":"ur","place":"district:Lahore","contacts":[{"channel":"sms","address":"0300 1234567"},{"channel":"email","address":"ayesha@example.org"}],"consent":{"source":"test"}}`,
				// in the city of Lahore (GeoNames), English
				`{"name":"Bilal","language":"en","place":"geonames:1172451","contacts":[{"channel":"sms","address":"+923011234567"}],"consent":{"source":"test"}}`,
				// a partner's system at a point in Lahore
				`{"name":"Partner","kind":"organisation","language":"en","lat":31.52,"lon":74.35,"radiusKm":2,"contacts":[{"channel":"webhook","address":"` + partner.URL + `/hook","secret":"partner-secret-0123456789"}],"consent":{"source":"agreement"}}`,
				// in Karachi: not warned
				`{"name":"Chen","language":"zh","place":"district:Karachi South","contacts":[{"channel":"sms","address":"+923021234567"}],"consent":{"source":"test"}}`,
			} {
				if st, b := do(t, n, "POST", "/api/v1/subscribers", s); st != 201 || strings.Contains(b, "1234567") {
					t.Fatalf("subscriber: %d %s (contacts must come back redacted)", st, b)
				}
			}
			if st, b := do(t, n, "POST", "/api/v1/subscribers", `{"name":"X","language":"ur","place":"district:Lahore","contacts":[{"channel":"sms","address":"12"}],"consent":{"source":"t"}}`); st != 400 || !strings.Contains(b, "contacts[0]") {
				t.Fatalf("a bad number: %d %s", st, b)
			}
			if st, b := do(t, n, "POST", "/api/v1/subscribers", `{"name":"X","language":"ur","place":"district:lahore","contacts":[{"channel":"sms","address":"+923001234560"}],"consent":{"source":"t"}}`); st != 400 || !strings.Contains(b, "place") {
				t.Fatalf("an unknown place: %d %s", st, b)
			}
			if st, b := do(t, n, "POST", "/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T06:00:00Z","result":2500}`); st != 201 {
				t.Fatalf("observation: %d %s", st, b)
			}
			t.Cleanup(func() {
				if t.Failed() {
					_, b := do(t, n, "GET", "/api/v1/alerts/1/deliveries", "")
					t.Logf("deliveries: %s", b)
				}
			})
			waitFor(t, "the SMS", 30*time.Second, func() bool { r := received(); return len(r["+923001234567"]) == 1 && len(r["+923011234567"]) == 1 })
			mails := mail.WaitMails(1, 30*time.Second)
			waitFor(t, "the webhook", 30*time.Second, func() bool { return hk.count() == 1 })
			r := received()
			if len(r["+923021234567"]) != 0 || len(r) != 2 {
				t.Fatalf("SMS went to %v", r)
			}
			if ur := r["+923001234567"][0]; !strings.Contains(ur, "سیلاب") || coding("+923001234567") != sms.UCS2 {
				t.Errorf("Ayesha's SMS %q (coding %v) is not the Urdu text in UCS-2", ur, coding("+923001234567"))
			}
			if en := r["+923011234567"][0]; !strings.Contains(en, "flood") || coding("+923011234567") != sms.GSM7 {
				t.Errorf("Bilal's SMS %q (coding %v) is not the English text in GSM-7", en, coding("+923011234567"))
			}
			if len(mails) != 1 || mails[0].To[0] != "ayesha@example.org" || !strings.Contains(string(mails[0].Data), "List-Unsubscribe:") {
				t.Errorf("mails: %+v", mails)
			}
			// the e-mail's link to the alert's CAP document resolves
			link := regexp.MustCompile(`https?://\S+/cap/alerts/\S+\.xml`).FindString(mailText(t, mails[0].Data))
			if resp, err := http.Get(link); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "cap+xml") {
				t.Errorf("the e-mail's link %q: %v %v", link, resp, err)
			} else {
				resp.Body.Close()
			}
			if hk.bad != 0 || !strings.Contains(hk.bodies[0], "<alert") {
				t.Errorf("webhook: %d bad signatures, body %.80q", hk.bad, hk.bodies[0])
			}
			// progress: reports move the SMS to delivered
			var prog struct {
				Counts []struct {
					Channel, State string
					N              int
				}
				Impact map[string]struct {
					People      int64
					Subscribers int
					Districts   []struct{ Name string }
				}
			}
			waitFor(t, "delivery reports", 30*time.Second, func() bool {
				_, b := do(t, n, "GET", "/api/v1/alerts/1/deliveries", "")
				prog.Counts = nil
				json.Unmarshal([]byte(b), &prog)
				delivered := 0
				for _, c := range prog.Counts {
					if c.Channel == "sms" && c.State == "delivered" {
						delivered = c.N
					}
				}
				return delivered == 2
			})
			for id, imp := range prog.Impact {
				if imp.Subscribers != 3 || imp.People < 1_000_000 || len(imp.Districts) == 0 || imp.Districts[0].Name != "Lahore" {
					t.Errorf("impact of %s: %+v", id, imp)
				}
			}
			// the Cancel reaches the same people on the same channels, and nobody else
			if st, b := do(t, n, "POST", "/api/v1/alerts/1/cancel", `{"why":"the river fell"}`); st != 200 {
				t.Fatalf("cancel: %d %s", st, b)
			}
			waitFor(t, "the Cancel by SMS", 30*time.Second, func() bool { r := received(); return len(r["+923001234567"]) == 2 && len(r["+923011234567"]) == 2 })
			mail.WaitMails(2, 30*time.Second)
			waitFor(t, "the Cancel by webhook", 30*time.Second, func() bool { return hk.count() == 2 })
			time.Sleep(300 * time.Millisecond)
			if r := received(); len(r) != 2 || len(r["+923001234567"]) != 2 {
				t.Fatalf("after the Cancel, SMS went to %v", r)
			} else if !strings.Contains(r["+923001234567"][1], "منسوخ") || !strings.Contains(r["+923011234567"][1], "Cancelled") {
				t.Errorf("the Cancel does not read as one: %q / %q", r["+923001234567"][1], r["+923011234567"][1])
			}
			if got := metric(t, reg, "rabta_deliveries"); got != 8 {
				t.Errorf("rabta_deliveries sums to %v, want 8 (4 per message)", got)
			}
		})
	}
}

// syncBuf collects a node's log for a failing test.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mailText is the decoded text of every part of a MIME message.
func mailText(t *testing.T, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	var out strings.Builder
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable itself
		if err != nil {
			break
		}
		var r io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, _ := io.ReadAll(r)
		out.Write(b)
	}
	return out.String()
}
