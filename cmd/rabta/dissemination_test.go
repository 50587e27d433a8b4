package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel/channeltest"
)

// khankiRule issues by itself when the Chenab at Khanki passes 100,000 cusecs; its area is
// the district of Gujranwala.
const khankiRule = `rules:
  - id: khanki
    name: Khanki
    kind: threshold
    datastreams: [1]
    levels:
      - {name: High, value: 100000, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Gujranwala district, geocodes: [{name: district, value: PK-Gujranwala}]}
    autoIssue: true
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}", description: "{{.Value}}", instruction: "Move to higher ground."}
      ur: {headline: "{{.Station}} پر {{.Level}} درجے کا سیلاب", description: "{{.Value}}", instruction: "اونچی جگہ پر جائیں۔"}
`

// subscribersCSV is n subscribers in Gujranwala with a phone each: +92300100000 + i.
func subscribersCSV(n int) string {
	var b strings.Builder
	b.WriteString("name,language,place,phone,consent_source\n")
	for i := range n {
		lang := "ur"
		if i%3 == 0 {
			lang = "en"
		}
		fmt.Fprintf(&b, "Subscriber %d,%s,district:Gujranwala,+92300%07d,crash test\n", i, lang, 1000000+i)
	}
	return b.String()
}

// counts is the alert's deliveries by state, and how many were ambiguous.
func deliveryCounts(t *testing.T, p *proc) (map[string]int, int) {
	st, b := p.req("GET", "/api/v1/alerts/1/deliveries", adminKey, "")
	if st != 200 {
		t.Fatalf("deliveries: %d %s", st, b)
	}
	var v struct {
		Counts []struct {
			State     string
			N         int
			Ambiguous int
		}
	}
	json.Unmarshal([]byte(b), &v)
	out, amb := map[string]int{}, 0
	for _, c := range v.Counts {
		out[c.State] += c.N
		amb += c.Ambiguous
	}
	return out, amb
}

// TestDisseminationCrashSafety sends one alert to 1,000 subscribers by SMS over SMPP, through
// a real SMPP server that counts what it receives, and (sigkill) kills Rabta with SIGKILL in
// the middle of the send and starts it again, or (gateway-down) stops the SMSC in the middle
// for a few seconds. Every subscriber must receive the warning. SMPP carries no idempotency
// key, so a send in flight at the moment of a crash may go twice: such duplicates must be
// among the deliveries Rabta marked ambiguous and no more than the sends in flight.
func TestDisseminationCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills and restarts the node")
	}
	const n, inFlight = 1000, 8 + 10 // workers + the SMPP window
	for _, mode := range []string{"sigkill", "gateway-down"} {
		t.Run(mode, func(t *testing.T) {
			smsc := channeltest.SMSC(t)
			dir := t.TempDir()
			pw := filepath.Join(dir, "smpp-password")
			os.WriteFile(pw, []byte(smsc.Password), 0o600)
			cfg := filepath.Join(t.TempDir(), "rabta.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`dissemination:
  smpp: {addr: %q, system_id: %q, password_file: %q, source: RABTA, rate: 250, window: 10}
  workers: 8
  lease: 3s
`, smsc.Addr, smsc.SystemID, pw)), 0o644)
			env := []string{"RABTA_ADMIN_KEY=" + adminKey}
			p := start(t, dir, env, "--config", cfg)
			if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
				t.Fatalf("thing: %d %s", st, b)
			}
			if st, b := p.req("PUT", "/api/v1/rules", adminKey, khankiRule); st != 200 {
				t.Fatalf("rules: %d %s", st, b)
			}
			if st, b := p.req("POST", "/api/v1/subscribers/import", adminKey, subscribersCSV(n)); st != 200 || !strings.Contains(b, fmt.Sprintf(`"stored": %d`, n)) {
				t.Fatalf("import: %d %s", st, b)
			}
			if st, b := p.req("POST", "/v1.1/Datastreams(1)/Observations", adminKey, `{"phenomenonTime":"2025-08-27T06:00:00Z","result":250000}`); st != 201 {
				t.Fatalf("observation: %d %s", st, b)
			}
			received := func() map[string]int {
				out := map[string]int{}
				for _, m := range smsc.Received() {
					out[m.Destination]++
				}
				return out
			}
			smsc.Wait(60*time.Second, "the send under way", func() bool { return len(smsc.Received()) >= 200 })
			switch mode {
			case "sigkill":
				p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
				t.Logf("killed after %d SMS", len(smsc.Received()))
				p = start(t, dir, env, "--config", cfg)
			case "gateway-down":
				smsc.Stop()
				down := len(smsc.Received())
				time.Sleep(time.Second)
				before, _ := deliveryCounts(t, p)
				time.Sleep(2 * time.Second)
				after, _ := deliveryCounts(t, p)
				if after["sent"]+after["delivered"] > before["sent"]+before["delivered"] {
					t.Errorf("deliveries recorded sent while the SMSC was down: %v then %v", before, after)
				}
				t.Logf("SMSC stopped after %d SMS; while down: %v", down, after)
				smsc.Start()
			}
			smsc.Wait(120*time.Second, "every subscriber", func() bool { return len(received()) == n })
			deadline := time.Now().Add(30 * time.Second)
			var counts map[string]int
			var ambiguous int
			for {
				counts, ambiguous = deliveryCounts(t, p)
				if counts["planned"]+counts["sending"] == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // anything still on its way arrives
			dupes := 0
			for _, k := range received() {
				dupes += k - 1
			}
			t.Logf("%s: %d subscribers reached, %d SMS at the SMSC, %d duplicates, %d deliveries ambiguous; states %v", mode, len(received()), len(smsc.Received()), dupes, ambiguous, counts)
			if counts["sent"]+counts["delivered"] != n || counts["failed"] != 0 {
				t.Errorf("states %v: want all %d sent or delivered", counts, n)
			}
			if dupes > inFlight {
				t.Errorf("%d duplicates: more than the %d sends that can be in flight", dupes, inFlight)
			}
			if mode == "sigkill" && dupes > ambiguous {
				t.Errorf("%d duplicates but only %d deliveries marked ambiguous", dupes, ambiguous)
			}
		})
	}
}
