package main

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The README's commands, and every file under examples/, are run the way a user runs them.
// Each shell command in a README code block must be in readmeCommands; TestReadmeCommands
// fails when the README gains a command this table does not cover (or the table keeps one the
// README lost), and runs the tour literally against a real node.

// readmeCommand says how one README command is exercised: by the tour (run literally, see
// TestReadmeCommands) with the outcome it must have, or by another test of this package that
// runs it (by: the test's name; marker: a string that test's source must contain).
type readmeCommand struct {
	status int    // curl: the HTTP status; 0: the command must exit 0
	exit   int    // other commands: the exit status (default 0)
	want   string // in the output
	by     string // run by this test instead of the tour
	marker string // ... whose source contains this
	why    string // why it is not run by a test at all (by == "")
}

// readmeCommands maps each README command (white space collapsed) to how it is exercised.
var readmeCommands = map[string]readmeCommand{
	`go run ./cmd/rabta serve --demo`: {by: "TestDemo", marker: `"--demo"`},
	`bash scripts/test.sh`:            {why: "the test runner itself: running it from a test would run the suite inside the suite (CI runs it)"},

	`K="Authorization: Bearer $RABTA_ADMIN_KEY"`: {},
	`curl -s localhost:8080/v1.1/api`:            {status: 200, want: `"openapi"`},
	`curl -s localhost:8080/v1.1/`:               {status: 200, want: `"conformance"`},
	`curl -sG localhost:8080/v1.1/Things --data-urlencode "\$filter=properties/river eq 'Chenab'" --data-urlencode '$select=name'`:       {status: 200, want: `"name":"Khanki Headworks"`},
	`curl -sG localhost:8080/v1.1/Things --data-urlencode "\$filter=properties/pdmaName eq 'Khanki'"`:                                    {status: 200, want: `"Datastreams"`},
	`curl -sG 'localhost:8080/v1.1/Datastreams(8)/Observations' --data-urlencode '$filter=phenomenonTime ge 2026-01-01T00:00:00Z'`:       {status: 200, want: `"result":150000`},
	`curl -sG localhost:8080/v1.1/Locations --data-urlencode "\$filter=geo.distance(location, geography'POINT(74.34 31.55)') lt 0.5"`:    {status: 200, want: `"name":"Lahore gauge site"`},
	`curl -s -H "$K" localhost:8080/v1.1/Things -d '{"name":"Jhang gauge","description":"Chenab at Jhang",`:                              {status: 201, want: `"Jhang gauge"`},
	`curl -s -H "$K" localhost:8080/v1.1/CreateObservations -d '[{"Datastream":{"@iot.id":1},`:                                           {status: 201, want: `Observations(`},
	`go run ./cmd/rabta import observations internal/sensing/testdata/pdma_excerpt.csv`:                                                  {exit: 1, want: `already present`}, // the excerpt's other stations have no datastream here: those rows are refused, and the command says so with exit status 1
	`go run ./cmd/rabta keys create --org ndma --role operator`:                                                                          {want: "rbt_"},
	`curl -s -H "$K" localhost:8080/api/v1/keys -d '{"organisation":"ndma","role":"viewer","name":"dashboard","expiresIn":"90d"}'`:       {status: 201, want: `"key": "rbt_`},
	`curl -s localhost:8080/api/v1/qc/silent`:                                                                                            {status: 200},
	`mosquitto_pub -u logger -P "$RABTA_ADMIN_KEY" -q 1 -t rabta/local/ingest/1 -m 1001480`:                                              {},
	`mosquitto_sub -u me -P "$RABTA_ADMIN_KEY" -t 'v1.1/Datastreams(1)/Observations'`:                                                    {want: `1001480`},
	`go run ./cmd/rabta rules apply examples/rules.yaml`:                                                                                 {want: "2 rules applied from examples/rules.yaml"},
	`curl -s localhost:8080/cap/alerts.atom`:                                                                                             {status: 200, want: "<feed"},
	`curl -s 'localhost:8080/?lang=ur'`:                                                                                                  {status: 200, want: `<html lang="ur" dir="rtl">`},
	`curl -s -H "$K" 'localhost:8080/api/v1/alerts?state=draft'`:                                                                         {status: 200, want: `"state": "draft"`},
	`curl -s -H "$K" -X POST localhost:8080/api/v1/alerts/3/approve -d '{"why":"confirmed by the gauge reader"}'`:                        {status: 200, want: `"state": "issued"`},
	`go run ./cmd/rabta import villages examples/villages.csv`:                                                                           {want: "4 villages imported, 0 rows refused"},
	`go run ./cmd/rabta import subscribers --org ndma examples/subscribers.csv`:                                                          {want: "4 subscribers imported, 0 rows refused"},
	`curl -s -H "$K" localhost:8080/api/v1/subscribers -d '{"name":"Ayesha","language":"ur","place":"district:Lahore",`:                  {status: 201, want: `"Ayesha"`},
	`curl -s -H "$K" localhost:8080/api/v1/impact -d '{"desc":"Khanki","circles":[{"center":{"lat":32.40,"lon":73.97},"radiusKm":25}]}'`: {status: 200, want: `"people"`},
	`curl -s -H "$K" localhost:8080/api/v1/alerts/3/deliveries`:                                                                          {status: 200},
	`go run ./cmd/rabta forecast rating --csv examples/rating.csv`:                                                                       {by: "TestForecastRating", marker: `"../../examples/rating.csv"`},
	`go run ./cmd/rabta forecast calibrate --csv examples/wilson1974.csv`:                                                                {by: "TestForecastCalibrate", marker: `"../../examples/wilson1974.csv"`},
	`go run ./cmd/rabta exercise run --demo --from 2025-08-21 --to 2025-08-31 --speed max --approve-after 30m`:                           {by: "TestExerciseRun", marker: `"--approve-after", "30m"`},
	`curl -s localhost:8080/metrics`:                                                                                                     {status: 200, want: "rabta_"},
	`go run ./cmd/rabta backup /backups/rabta-$(date +%F).db`:                                                                            {},

	// WIS2 and the audit log (part F2)
	`curl -s localhost:8080/wis2/catalogue`: {status: 200, want: `"wmo:dataPolicy"`},
	`go run ./cmd/rabta orgs open pdma`:     {by: "TestAuditCLI", marker: `"orgs", "open"`},
	`go run ./cmd/rabta audit verify`:       {by: "TestAuditCLI", marker: `"audit", "verify"`},
}

// docsCurls maps each curl command of docs/*.md addressed to a node (localhost:8080), by file
// and first line, to the outcome it must have when TestReadmeCommands runs it after the
// README's tour (with $KEY the admin key, and alerts/7 the tour's alert, by then issued).
// A docs command not in this table fails the test. (curl commands to other hosts, such as
// docs/webhooks.md's POST to a partner's endpoint, are the partner's to run.)
var docsCurls = map[string]readmeCommand{
	`voice.md: curl -s -H "$K" localhost:8080/api/v1/subscribers -d '{"name":"Nasreen","language":"ur","place":"district:Lahore",`:                                               {status: 201, want: `"Nasreen"`},
	`alerts.md: curl -s localhost:8080/cap/alerts.atom`:                                                                                                                          {status: 200, want: "<cap:msgType>Alert</cap:msgType>"},
	`alerts.md: curl -s -H "Authorization: Bearer $KEY" 'localhost:8080/api/v1/alerts?state=draft'`:                                                                              {status: 200, want: `"value"`},
	`alerts.md: curl -s -H "Authorization: Bearer $KEY" -X POST localhost:8080/api/v1/alerts/7/approve -d '{"why":"checked"}'`:                                                   {status: 409, want: "has no draft to approve (state issued)"}, // the tour approved it
	`sensorthings.md: curl -s -H "$K" -H 'Content-Type: multipart/mixed; boundary=batch_1' --data-binary @examples/batch.multipart 'localhost:8080/v1.1/$batch'`:                 {status: 200, want: "HTTP/1.1 201 Created"},
	`sensorthings.md: curl -s -H "$K" -H 'Content-Type: application/json' --data-binary @examples/batch.json 'localhost:8080/v1.1/$batch'`:                                       {status: 200, want: `"status":201`},
	`keys.md: curl -s -H "Authorization: Bearer $KEY" localhost:8080/api/v1/keys -d '{"organisation":"pdma-punjab","role":"operator","name":"gauge loggers","expiresIn":"90d"}'`: {status: 201, want: `"state": "active"`},
	`keys.md: curl -s -H "Authorization: Bearer $KEY" localhost:8080/api/v1/keys`:                                                                                                {status: 200, want: `"name": "gauge loggers"`},
	`keys.md: curl -s -H "Authorization: Bearer $KEY" -X POST localhost:8080/api/v1/keys/2/revoke`:                                                                               {status: 200, want: `"state": "revoked"`},               // the README's keys create
	`forecast.md: curl -s -H "$K" localhost:8080/api/v1/forecast/network`:                                                                                                        {status: 404, want: "the node has no forecast network"}, // not a demo node: TestForecastChain (internal/node) stores one
	`forecast.md: curl -s -H "$K" 'localhost:8080/v1.1/Datastreams?$filter=properties/forecast%20eq%20true&$select=id,name'`:                                                     {status: 200, want: `"value":[]`},
	`forecast.md: curl -s -H "$K" 'localhost:8080/api/v1/alerts?rule=forecast-khanki'`:                                                                                           {status: 200, want: `"value"`},
	`dissemination.md: curl -s -H "$K" localhost:8080/api/v1/impact -d '{"desc":"Khanki","circles":[{"center":{"lat":32.40,"lon":73.97},"radiusKm":25}]}'`:                       {status: 200, want: `"people"`},
}

// shellCommands returns the commands of the shell code blocks (```sh, ```bash, ```shell) of a
// Markdown file: comment lines dropped, a command continued over lines that end in "\" or
// inside an open quote, a trailing "# comment" cut.
func shellCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	var cur strings.Builder
	var q byte // the quote open at the end of the last line
	for _, line := range strings.Split(string(b), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			lang := strings.TrimPrefix(trim, "```")
			if !in && (lang == "sh" || lang == "bash" || lang == "shell") {
				in = true
			} else if in {
				in = false
			}
			continue
		}
		if !in {
			continue
		}
		if cur.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		code, open := cutComment(line, q)
		q = open
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(code)
		if open != 0 || strings.HasSuffix(strings.TrimRight(code, " "), "\\") {
			continue
		}
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	return out
}

// cutComment cuts a "# comment" that starts outside quotes, given the quote q open at the
// start of the line (0 for none); it returns the quote still open at its end (the command
// goes on).
func cutComment(line string, q byte) (string, byte) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else if c == '\\' && q == '"' {
				i++
			}
		case c == '\'' || c == '"':
			q = c
		case c == '\\':
			i++
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return strings.TrimRight(line[:i], " "), 0
		}
	}
	return line, q
}

// key is the table's key for a command: its first line, white space collapsed, without a
// trailing "\".
func key(cmd string) string {
	first, _, _ := strings.Cut(cmd, "\n")
	return strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(first), "\\")), " ")
}

// testSources returns the source of every test function of this package by name.
func testSources(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*_test.go")
	out := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Test") {
				out[fn.Name.Name] = string(src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset])
			}
		}
	}
	return out
}

// TestReadmeCommands holds readmeCommands to the README, checks the commands run by other
// tests are there, and runs the tour block literally against a real node, each command with
// the outcome the table gives; then the curl commands of docs/*.md (docsCurls). What is
// changed before running, and why:
//   - "go run ./cmd/rabta" is the binary built for the tests (the same main package);
//   - localhost:8080 and the MQTT port are the test node's (it listens on free ports);
//   - the working directory is a scratch one, with the repository's examples/ and internal/
//     linked in, and the node's data in ./rabta-data (the default the commands use);
//   - curl gets -w to print the status; mosquitto_sub gets -d -C 1 -W and runs in the
//     background, so that it returns after one message, and the publish before it is repeated
//     once its SUBACK says it listens (subscribeAndPublish); /backups/ is a scratch folder;
//   - "alerts/3" is the draft the rules of examples/rules.yaml make on this node: before the
//     tour the node gets the demo's Khanki gauge (8 datastreams, the 8th the discharge the
//     rules watch), and after "rules apply" a reading over its first level.
func TestReadmeCommands(t *testing.T) {
	t.Parallel()
	cmds := shellCommands(t, "../../README.md")
	seen := map[string]bool{}
	for _, c := range cmds {
		k := key(c)
		seen[k] = true
		if _, ok := readmeCommands[k]; !ok {
			t.Errorf("README command not exercised by any test; add it to readmeCommands (and run it):\n%s", c)
		}
	}
	srcs := testSources(t)
	for k, rc := range readmeCommands {
		if !seen[k] {
			t.Errorf("readmeCommands has a command the README no longer has:\n%s", k)
		}
		if rc.by != "" && !strings.Contains(srcs[rc.by], rc.marker) {
			t.Errorf("%s is said to be run by %s, whose source lacks %s", k, rc.by, rc.marker)
		}
	}
	if t.Failed() {
		return
	}
	needMosquitto(t)

	tmp := t.TempDir()
	for _, d := range []string{"examples", "internal"} {
		abs, _ := filepath.Abs(filepath.Join("..", "..", d))
		if err := os.Symlink(abs, filepath.Join(tmp, d)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(tmp, "backups"), 0o755)
	dataDir := filepath.Join(tmp, "rabta-data")
	p := start(t, dataDir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	host := strings.TrimPrefix(p.base, "http://")
	mqttHost, mqttPort, _ := net.SplitHostPort(p.mqtt)
	env := append(append(os.Environ(), "RABTA_ADMIN_KEY="+adminKey), storeEnv(t, dataDir, nil)...)

	// what a demo node has: the Khanki gauge with 8 datastreams (the 8th the discharge
	// examples/rules.yaml watches), a reading on it, and a site near Lahore
	var dss []string
	for i := 1; i <= 8; i++ {
		dss = append(dss, fmt.Sprintf(`{"name":"Khanki %d","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		 "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"x"},"Sensor":{"name":"s%d","description":"s","encodingType":"text/html","metadata":"x"},
		 "ObservedProperty":{"name":"Discharge %d","definition":"d","description":"d"}}`, i, i, i))
	}
	gauge := `{"name":"Khanki Headworks","description":"gauge","properties":{"pdmaName":"Khanki","river":"Chenab"},
	 "Locations":[{"name":"Lahore gauge site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.30,31.60]}}],
	 "Datastreams":[` + strings.Join(dss, ",") + `]}`
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gauge); st != 201 {
		t.Fatalf("seed the gauge: %d %s", st, b)
	}
	if st, b := p.req("POST", "/v1.1/Observations", adminKey, `{"Datastream":{"@iot.id":8},"phenomenonTime":"2026-02-01T00:00:00Z","result":150000}`); st != 201 {
		t.Fatalf("seed a reading: %d %s", st, b)
	}

	var vars []string // assignments, carried to every later command
	draft := ""
	lastPub := "" // the README's last mosquitto_pub, repeated once mosquitto_sub listens
	for _, c := range cmds {
		k := key(c)
		rc := readmeCommands[k]
		if rc.by != "" || rc.why != "" {
			continue
		}
		run := strings.ReplaceAll(c, "go run ./cmd/rabta", binary)
		run = strings.ReplaceAll(run, "localhost:8080", host)
		run = strings.ReplaceAll(run, "/backups/", "backups/")
		if draft != "" {
			run = strings.ReplaceAll(run, "/alerts/3/", "/alerts/"+draft+"/")
		}
		if regexp.MustCompile(`^[A-Z_]+=`).MatchString(run) {
			vars = append(vars, run)
			continue
		}
		curl := strings.HasPrefix(run, "curl ")
		if curl {
			run += ` -w '\n%{http_code}'`
		}
		if strings.HasPrefix(run, "mosquitto_") {
			run = strings.Replace(run, " -u ", " -h "+mqttHost+" -p "+mqttPort+" -u ", 1)
		}
		script := strings.Join(append(append([]string{}, vars...), run), "\n")
		if strings.HasPrefix(run, "mosquitto_sub") {
			pubScript := strings.Join(append(append([]string{}, vars...), strings.Replace(lastPub, " -u ", " -h "+mqttHost+" -p "+mqttPort+" -u ", 1)), "\n")
			if out, err := subscribeAndPublish(tmp, env, script, pubScript, 90*time.Second); err != nil {
				t.Errorf("%s\n→ %v\n%s\nthe node's MQTT log:\n%s", c, err, out, mqttLines(p.stderr.String()))
			} else if !strings.Contains(out, rc.want) {
				t.Errorf("%s\n→ %s\nwant %q", c, out, rc.want)
			}
			continue
		}
		if strings.HasPrefix(run, "mosquitto_pub") {
			lastPub = c
		}
		out, err := runBash(tmp, env, script)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		switch {
		case curl:
			body, status, _ := cutLast(out)
			if code != 0 || status != fmt.Sprint(rc.status) || !strings.Contains(body, rc.want) {
				t.Errorf("%s\n→ exit %d, HTTP %s: %s\nwant HTTP %d with %q", c, code, status, body, rc.status, rc.want)
			}
		case code != rc.exit || !strings.Contains(out, rc.want):
			t.Errorf("%s\n→ exit %d: %s\nwant exit %d with %q", c, code, out, rc.exit, rc.want)
		}
		if strings.Contains(k, "rules apply examples/rules.yaml") {
			draft = waitDraft(t, p, dataDir)
		}
	}
	// the docs' curl commands to a node
	docs, _ := filepath.Glob("../../docs/*.md")
	vars = append(vars, "KEY="+adminKey)
	ran := map[string]bool{}
	for _, d := range docs {
		for _, c := range shellCommands(t, d) {
			if !strings.HasPrefix(c, "curl ") || !strings.Contains(c, "localhost:8080") {
				continue
			}
			k := filepath.Base(d) + ": " + key(c)
			rc, ok := docsCurls[k]
			if !ok {
				t.Errorf("%s: a curl command no test runs; add it to docsCurls:\n%s", filepath.Base(d), c)
				continue
			}
			ran[k] = true
			run := strings.ReplaceAll(c, "localhost:8080", host)
			run = strings.ReplaceAll(run, "/alerts/7/", "/alerts/"+draft+"/")
			out, err := runBash(tmp, env, strings.Join(append(append([]string{}, vars...), run+` -w '\n%{http_code}'`), "\n"))
			body, status, _ := cutLast(out)
			if err != nil || status != fmt.Sprint(rc.status) || !strings.Contains(body, rc.want) {
				t.Errorf("%s\n→ %v, HTTP %s: %s\nwant HTTP %d with %q", k, err, status, body, rc.status, rc.want)
			}
		}
	}
	for k := range docsCurls {
		if !ran[k] {
			t.Errorf("docsCurls has a command the docs no longer have: %s", k)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(tmp, "backups", "rabta-*.db")); len(files) != 1 {
		t.Errorf("backup: %v", files)
	}
	p.stop()
}

// subscribeAndPublish runs the README's mosquitto_sub (script) until it receives one message,
// and the README's mosquitto_pub before it (pub) again once it listens, within limit in all
// (a loaded machine may take seconds to connect and subscribe). The subscriber runs with -d,
// whose SUBACK line says that it listens; one that ends before it does (it could not connect)
// is started again. Once it listens, the publish is repeated every 2 s until the message
// arrives: each publish is one more value of the Datastream, and the subscriber takes the
// first. It returns the subscriber's output; an error when no message came within limit.
func subscribeAndPublish(dir string, env []string, script, pub string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	var tries []string
	for time.Until(deadline) > time.Second {
		secs := int(time.Until(deadline) / time.Second)
		// stdbuf -oL: its debug lines (SUBACK) are written as they come, not when it exits
		cmd := exec.Command("bash", "-c", strings.Replace(script, "mosquitto_sub ", fmt.Sprintf("exec stdbuf -oL mosquitto_sub -d -C 1 -W %d ", secs), 1))
		out := &watchWriter{mark: "SUBACK", seen: make(chan struct{})}
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
		if err := cmd.Start(); err != nil {
			return "", err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done: // ended before it listened: start it again
			tries = append(tries, fmt.Sprintf("ended before its SUBACK (%v): %s", err, out.String()))
			time.Sleep(500 * time.Millisecond)
			continue
		case <-out.seen:
		case <-time.After(time.Until(deadline)):
			cmd.Process.Kill()
			<-done
			return out.String(), fmt.Errorf("no SUBACK within %v (%d earlier tries: %s)", limit, len(tries), strings.Join(tries, "; "))
		}
		for {
			if msg, err := runBash(dir, env, pub); err != nil {
				cmd.Process.Kill()
				<-done
				return out.String(), fmt.Errorf("mosquitto_pub again: %v %s", err, msg)
			}
			select {
			case err := <-done:
				if err != nil {
					return out.String(), fmt.Errorf("mosquitto_sub: %v", err) // -W ran out: nothing received
				}
				return out.String(), nil
			case <-time.After(2 * time.Second):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-done
				return out.String(), fmt.Errorf("nothing received within %v", limit)
			}
		}
	}
	return "", fmt.Errorf("mosquitto_sub never listened within %v: %s", limit, strings.Join(tries, "; "))
}

// mqttLines returns the lines of a node's log about MQTT (its component's, the bus's).
func mqttLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "mqtt") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// watchWriter collects a command's output and closes seen once it holds mark.
type watchWriter struct {
	mu   sync.Mutex
	buf  strings.Builder
	mark string
	seen chan struct{}
	shut bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.shut && strings.Contains(w.buf.String(), w.mark) {
		w.shut = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func runBash(dir string, env []string, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cutLast splits curl's output into the body and the status line -w added.
func cutLast(out string) (body, last string, ok bool) {
	i := strings.LastIndex(out, "\n")
	if i < 0 {
		return "", out, false
	}
	return out[:i], strings.TrimSpace(out[i+1:]), true
}

// waitDraft posts readings over the first level of examples/rules.yaml's rule (every 2 s:
// the running node loads applied rules on its next tick, and a reading that came before
// counts for nothing) until its draft is there; it returns the alert's id. The readings come
// from a gauge's key of their own (an operator of the node's organisation): with four eyes on,
// whoever posts the deciding value may not approve the draft, and the tour approves with the
// admin key.
func waitDraft(t *testing.T, p *proc, dataDir string) string {
	t.Helper()
	gauge, e, err := rabta(t, "keys", "create", "--data-dir", dataDir, "--org", "admin", "--role", "operator")
	if err != nil {
		t.Fatalf("a gauge's key: %v %s", err, e)
	}
	gauge = strings.TrimSpace(gauge)
	deadline := time.Now().Add(60 * time.Second)
	var posted time.Time
	for time.Now().Before(deadline) {
		if time.Since(posted) > 2*time.Second {
			posted = time.Now()
			at := posted.UTC().Format(time.RFC3339Nano)
			if st, b := p.req("POST", "/v1.1/Observations", gauge, `{"Datastream":{"@iot.id":8},"phenomenonTime":"`+at+`","result":150000}`); st != 201 {
				t.Fatalf("a reading over the first level: %d %s", st, b)
			}
		}
		_, b := p.req("GET", "/api/v1/alerts?state=draft", adminKey, "")
		var v struct {
			Value []struct {
				ID   int64  `json:"id"`
				Rule string `json:"rule"`
			} `json:"value"`
		}
		json.Unmarshal([]byte(b), &v)
		for _, a := range v.Value {
			if a.Rule == "chenab-khanki-flood" {
				return fmt.Sprint(a.ID)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no draft from examples/rules.yaml\n%s", p.stderr)
	return ""
}

// The package map's list of the binary's commands ("the `serve`, `import`, … commands") names
// every command of the usage text, and no other.
func TestReadmeCommandList(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)and the (`serve`.*?) commands\\.").FindSubmatch(b)
	if m == nil {
		t.Fatal("README: no list of commands in the package map")
	}
	listed := map[string]bool{}
	for _, c := range regexp.MustCompile("`([a-z-]+)`").FindAllSubmatch(m[1], -1) {
		listed[string(c[1])] = true
	}
	used := map[string]bool{}
	for _, c := range regexp.MustCompile(`(?m)^  rabta ([a-z-]+)`).FindAllStringSubmatch(usage, -1) {
		used[c[1]] = true
	}
	for c := range used {
		if !listed[c] {
			t.Errorf("README's package map leaves out the command %q", c)
		}
	}
	for c := range listed {
		if !used[c] {
			t.Errorf("README's package map lists %q, which is not a command", c)
		}
	}
}
