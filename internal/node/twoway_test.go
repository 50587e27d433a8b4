package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/sms"
)

// twoWayGateway is a real SMS gateway as the two-way tests drive it: inject a message from a
// handset, read what the operator side received.
type twoWayGateway struct {
	mo       func(from, text string)
	received func() []sent
	// moParts, when set, injects a message as two concatenated parts (UDH, 8-bit reference)
	moParts func(from, text string)
}

type sent struct {
	to, text string
	coding   sms.Coding
}

// replies returns the texts the gateway delivered to number ("+92…"), in order.
func (g twoWayGateway) replies(number string) []sent {
	var out []sent
	for _, m := range g.received() {
		if "+"+strings.TrimPrefix(m.to, "+") == number {
			out = append(out, m)
		}
	}
	return out
}

// People text the node through a real gateway: JOIN with a misspelt place subscribes them
// and a flood alert then reaches them; LEVEL (in Urdu script too) answers with the gauge's
// level, flood class and trend; STOP ends deliveries (the alert's Cancel no longer reaches
// them); a number over its rate limit gets one "too many" reply and then silence. Once
// through Kannel (fakesmsc injecting the messages), once over SMPP (the test SMSC sending
// deliver_sm).
func TestTwoWaySMS(t *testing.T) {
	t.Parallel()
	for _, gw := range []string{"kannel", "smpp"} {
		t.Run(gw, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			const moSecret = "mo-secret-0123456789abcdef"
			var opts node.DisseminationOptions
			var g twoWayGateway
			switch gw {
			case "kannel":
				k := channeltest.Kannel(t, channeltest.KannelOptions{MOURL: "http://" + addr + "/sms/kannel/mo?token=" + moSecret + "&"})
				opts.Kannel = &kannel.Options{URL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "8282"}
				opts.KannelMOSecret = moSecret
				g.mo = func(from, text string) { k.SendMO(strings.TrimPrefix(from, "+"), "8282", text) }
				g.received = func() []sent {
					var out []sent
					for _, m := range k.Received() {
						out = append(out, sent{m.To, m.Text, m.Coding})
					}
					return out
				}
			case "smpp":
				smsc := channeltest.SMSC(t)
				opts.SMPP = &smpp.Options{Addr: smsc.Addr, SystemID: smsc.SystemID, Password: smsc.Password, Source: "8282"}
				g.mo = func(from, text string) { smsc.Deliver(strings.TrimPrefix(from, "+"), "8282", text) }
				g.moParts = func(from, text string) {
					smsc.DeliverParts(strings.TrimPrefix(from, "+"), "8282", text, channeltest.MOParts{Parts: 2, Ref: 42, Order: []int{2, 1}})
				}
				g.received = func() []sent {
					var out []sent
					for _, m := range smsc.Received() {
						out = append(out, sent{m.Destination, m.Text, sms.Coding(m.DataCoding)})
					}
					return out
				}
			}
			logs := &syncBuf{}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("node log:\n%s", logs.String())
				}
			})
			reg := prometheus.NewRegistry()
			n, err := node.New(t.Context(), node.Options{ID: "lahore", DataDir: t.TempDir(), HTTPAddr: addr, AdminKey: adminKey, Registry: reg,
				Dissemination: opts, Log: slog.New(slog.NewTextHandler(logs, nil))})
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
			const ayesha, bilal, spammer = "+923001234567", "+923011234567", "+923021234567"
			waitReply := func(number string, n int, what string) sent {
				t.Helper()
				// 90 s: the first command seeds the node's places (25 s seen under the suite's load)
				waitFor(t, what, 90*time.Second, func() bool { return len(g.replies(number)) >= n })
				r := g.replies(number)[n-1]
				if r.coding == sms.UCS2 && len([]rune(r.text)) > sms.UCS2Single || len([]rune(r.text)) > sms.GSM7Single {
					t.Errorf("%s: %q does not fit one segment", what, r.text)
				}
				return r
			}

			// JOIN with a misspelt place, in English: Bilal is subscribed to Lahore district
			g.mo(bilal, "join  LAHOR!")
			if r := waitReply(bilal, 1, "the JOIN reply"); !strings.Contains(r.text, "Joined") || !strings.Contains(r.text, "Lahore") || r.coding != sms.GSM7 {
				t.Fatalf("JOIN reply %q (%v)", r.text, r.coding)
			}
			// in Roman Urdu: Ayesha is subscribed, her replies in Urdu
			g.mo(ayesha, "Shamil lahore")
			if r := waitReply(ayesha, 1, "the SHAMIL reply"); !strings.Contains(r.text, "شامل") || !strings.Contains(r.text, "لاہور") || r.coding != sms.UCS2 {
				t.Fatalf("SHAMIL reply %q (%v)", r.text, r.coding)
			}
			if st, b := do(t, n, "GET", "/api/v1/subscribers", ""); st != 200 || strings.Count(b, "sms-join") != 2 || strings.Contains(b, "1234567") {
				t.Fatalf("subscribers after two JOINs: %d %s", st, b)
			}
			if g.moParts != nil {
				// an Urdu JOIN in two concatenated parts, the second first, is one command (a
				// phone cuts only texts over 70 UCS-2 characters; internal/channel/smpp's
				// TestLongMOReassembled sends such texts — this checks the way into the node)
				const dana = "+923041234567"
				g.moParts(dana, "شامل لاہور")
				if r := waitReply(dana, 1, "the two-part JOIN reply"); !strings.Contains(r.text, "شامل") || !strings.Contains(r.text, "لاہور") {
					t.Fatalf("two-part JOIN reply %q", r.text)
				}
				time.Sleep(300 * time.Millisecond) // a second reply (a part taken as a command) would come now
				if r := g.replies(dana); len(r) != 1 {
					t.Fatalf("the two-part JOIN got %d replies, want 1: %v", len(r), r)
				}
			}
			// LEVEL before the flood: two readings, rising, below the High level
			for _, o := range []string{`{"phenomenonTime":"2025-08-27T03:00:00Z","result":600}`, `{"phenomenonTime":"2025-08-27T04:00:00Z","result":800}`} {
				if st, b := do(t, n, "POST", "/v1.1/Datastreams(1)/Observations", o); st != 201 {
					t.Fatalf("observation: %d %s", st, b)
				}
			}
			g.mo(bilal, "LEVEL shahdara")
			if r := waitReply(bilal, 2, "the LEVEL reply"); !strings.Contains(r.text, "Ravi at Shahdara") || !strings.Contains(r.text, "800 cusec") ||
				!strings.Contains(r.text, "normal") || !strings.Contains(r.text, "rising") {
				t.Fatalf("LEVEL reply %q", r.text)
			}
			// the flood: the alert reaches both who joined by SMS
			if st, b := do(t, n, "POST", "/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T06:00:00Z","result":2500}`); st != 201 {
				t.Fatalf("observation: %d %s", st, b)
			}
			if r := waitReply(bilal, 3, "the flood warning to Bilal"); !strings.Contains(r.text, "flood") {
				t.Fatalf("Bilal's warning %q", r.text)
			}
			if r := waitReply(ayesha, 2, "the flood warning to Ayesha"); !strings.Contains(r.text, "سیلاب") {
				t.Fatalf("Ayesha's warning %q", r.text)
			}
			// LEVEL in Urdu script with a place: the nearest gauge, its class, in Urdu
			g.mo(ayesha, "سطح لاہور")
			if r := waitReply(ayesha, 3, "the Urdu LEVEL reply"); !strings.Contains(r.text, "2500") || !strings.Contains(r.text, "High") || !strings.Contains(r.text, "بڑھ رہا") {
				t.Fatalf("Urdu LEVEL reply %q", r.text)
			}
			// STOP: Bilal gets a confirmation and no more warnings (the Cancel reaches Ayesha only)
			g.mo(bilal, "stop")
			if r := waitReply(bilal, 4, "the STOP reply"); !strings.Contains(r.text, "no longer") {
				t.Fatalf("STOP reply %q", r.text)
			}
			if st, b := do(t, n, "POST", "/api/v1/alerts/1/cancel", `{"why":"the river fell"}`); st != 200 {
				t.Fatalf("cancel: %d %s", st, b)
			}
			waitReply(ayesha, 4, "the Cancel to Ayesha")
			// rate limit: 5 at once, then one "too many" reply, then silence
			for i := range 8 {
				g.mo(spammer, fmt.Sprintf("hello %d", i))
			}
			waitFor(t, "the rate-limited messages counted", 30*time.Second, func() bool {
				return inboundCount(reg, "UNKNOWN", "dropped") == 2
			})
			waitFor(t, "six replies to the rate-limited number", 30*time.Second, func() bool { return len(g.replies(spammer)) >= 6 })
			time.Sleep(500 * time.Millisecond) // nothing more may come
			if r := g.replies(bilal); len(r) != 4 {
				t.Errorf("after STOP Bilal got %d messages, want 4 (the Cancel must not reach him): %v", len(r), r)
			}
			sp := g.replies(spammer)
			helps, tooMany := 0, 0
			for _, r := range sp { // the gateway may deliver them out of order
				if strings.Contains(r.text, "شامل <جگہ>") {
					helps++
				}
				if strings.Contains(r.text, "بہت زیادہ پیغامات") {
					tooMany++
				}
			}
			if len(sp) != 6 || helps != 5 || tooMany != 1 {
				t.Errorf("over the rate limit: %d replies %v, want 5 help texts (in Urdu, the default) and one \"too many messages\"", len(sp), sp)
			}
			if lg := logs.String(); strings.Contains(lg, "1234567") {
				t.Errorf("a phone number is in the log")
			}
			// the MO route needs its token
			resp, err := http.Get("http://" + addr + "/sms/kannel/mo?token=wrong&from=923001234567&text=STOP")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if gw == "kannel" && (err != nil || resp.StatusCode != 403) {
				t.Errorf("a wrong MO token: %v %v", resp, err)
			}
		})
	}
}

// inboundCount reads rabta_sms_inbound_total{command, outcome}.
func inboundCount(reg *prometheus.Registry, command, outcome string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "rabta_sms_inbound_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["command"] == command && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
