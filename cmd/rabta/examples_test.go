package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// Every file under examples/ goes in the way a user puts it in: rules files with `rabta
// rules apply` (then `rabta rules list`) and PUT /api/v1/rules; the village list with `rabta
// import villages`; the subscriber list with `rabta import subscribers` and POST
// /api/v1/subscribers/import; the Wilson flood's hydrographs with `rabta forecast calibrate`; the batch examples with POST /v1.1/$batch, as
// docs/sensorthings.md's curl commands send them. A file this test has no path for fails it, so that a new example
// gets one. The rules documents written out in docs/*.md go through PUT /api/v1/rules too.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	cli := t.TempDir()    // the commands' data directory
	node := t.TempDir()   // the running node's
	storeEnv(t, cli, nil) // with RABTA_E2E_POSTGRES: its database lives as long as this test, not a subtest
	// the rules files name the demo's datastreams ("datastream 8 is the discharge at Khanki"),
	// and rules must name datastreams that exist: both stores hold the demo's stations
	// and examples/rules-full.yaml's three rain gauges (201–203), which the demo has not
	for _, dir := range []string{cli, node} {
		seedDemoStations(t, dir)
		seedDatastreams(t, dir, 201, 202, 203)
	}
	p := start(t, node, []string{"RABTA_ADMIN_KEY=" + adminKey})
	rows := func(path string) int {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(strings.TrimSpace(string(b)), "\n") // lines after the header
	}
	for _, f := range files {
		name := f.Name()
		path := filepath.Join("..", "..", "examples", name)
		t.Run(name, func(t *testing.T) {
			switch {
			case strings.HasSuffix(name, ".yaml"):
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				rules, err := rule.ParseYAML(name, b)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				out, errOut, err := rabta(t, "rules", "apply", "--data-dir", cli, path)
				if want := fmt.Sprintf("%d rules applied from %s", len(rules), path); err != nil || !strings.Contains(out, want) {
					t.Errorf("rabta rules apply: %v %s%s, want %q", err, out, errOut, want)
				}
				out, _, err = rabta(t, "rules", "list", "--data-dir", cli)
				var listed []any
				if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != len(rules) {
					t.Errorf("rabta rules list after apply: %v, %d rules, want %d\n%s", err, len(listed), len(rules), out)
				}
				st, body := p.req("PUT", "/api/v1/rules", adminKey, string(b))
				if st != 200 || !strings.Contains(body, fmt.Sprintf(`"applied": %d`, len(rules))) {
					t.Errorf("PUT /api/v1/rules: %d %s", st, body)
				}
				// the list shows the rules as written, exactly as GET /api/v1/rules does
				// (rule.View: "6h", not 21600000000000)
				st, body = p.req("GET", "/api/v1/rules", adminKey, "")
				var api struct{ Value []any }
				if st != 200 || json.Unmarshal([]byte(body), &api) != nil {
					t.Fatalf("GET /api/v1/rules: %d %s", st, body)
				}
				if !reflect.DeepEqual(listed, api.Value) {
					t.Errorf("rabta rules list differs from GET /api/v1/rules:\n%s\n%s", out, body)
				}
				if regexp.MustCompile(`"(window|hold|clearHold|maxGap|horizon)": \d`).MatchString(out) {
					t.Errorf("rabta rules list shows a duration in nanoseconds:\n%s", out)
				}
			case name == "villages.csv":
				out, errOut, err := rabta(t, "import", "villages", "--data-dir", cli, "--quiet", path)
				if want := fmt.Sprintf("%d villages imported, 0 rows refused", rows(path)); err != nil || !strings.Contains(out, want) {
					t.Errorf("rabta import villages: %v %s%s, want %q", err, out, errOut, want)
				}
			case name == "subscribers.csv":
				if _, errOut, err := rabta(t, "keys", "create", "--data-dir", cli, "--org", "pdma", "--role", "admin"); err != nil { // subscribers are an organisation's the node knows
					t.Fatalf("keys create: %v %s", err, errOut)
				}
				out, errOut, err := rabta(t, "import", "subscribers", "--data-dir", cli, "--org", "pdma", "--quiet", path)
				if want := fmt.Sprintf("%d subscribers imported, 0 rows refused", rows(path)); err != nil || !strings.Contains(out, want) {
					t.Errorf("rabta import subscribers: %v %s%s, want %q", err, out, errOut, want)
				}
				b, _ := os.ReadFile(path)
				st, body := p.req("POST", "/api/v1/subscribers/import", adminKey, string(b))
				if st != 200 || !strings.Contains(body, fmt.Sprintf(`"stored": %d`, rows(path))) || !strings.Contains(body, `"refused": 0`) {
					t.Errorf("POST /api/v1/subscribers/import: %d %s", st, body)
				}
			case name == "batch.json" || name == "batch.multipart": // docs/sensorthings.md's curl examples
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				ct, failed := "application/json", regexp.MustCompile(`"status": ?[45]\d\d`)
				if name == "batch.multipart" {
					ct, failed = "multipart/mixed; boundary=batch_1", regexp.MustCompile(`HTTP/1\.1 [45]\d\d`)
				}
				st, body := p.reqType("POST", "/v1.1/$batch", adminKey, ct, string(b))
				if st != 200 || failed.MatchString(body) || !strings.Contains(body, "201") {
					t.Errorf("POST /v1.1/$batch: %d %s", st, body)
				}
			case name == "wilson1974.csv": // a reach's hydrographs: README's rabta forecast calibrate
				out, errOut, err := rabta(t, "forecast", "calibrate", "--csv", path)
				var fit struct{ SSE float64 }
				if err != nil || json.Unmarshal([]byte(out), &fit) != nil || !(fit.SSE > 0) {
					t.Errorf("rabta forecast calibrate: %v %s%s", err, out, errOut)
				}
			case name == "rating.csv": // a station's gaugings: README's rabta forecast rating
				out, errOut, err := rabta(t, "forecast", "rating", "--csv", path)
				var c struct{ A, B float64 }
				if err != nil || json.Unmarshal([]byte(out), &c) != nil || !(c.A > 0 && c.B > 0) {
					t.Errorf("rabta forecast rating: %v %s%s", err, out, errOut)
				}
			default:
				t.Errorf("examples/%s: no test puts it in the way a user would; add its path to TestExamples", name)
			}
		})
	}

	// the rules documents of the docs, as written there
	docs, _ := filepath.Glob("../../docs/*.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	n := 0
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], "rules:") {
				continue
			}
			n++
			if st, body := p.req("PUT", "/api/v1/rules", adminKey, m[1]); st != 200 {
				t.Errorf("%s, rules document %d: PUT /api/v1/rules: %d %s", filepath.Base(d), i, st, body)
			}
		}
	}
	if n == 0 {
		t.Error("no rules document found in docs/*.md (docs/rules.md has one)")
	}
	p.stop()
}

// reqType is req with a Content-Type.
func (p *proc) reqType(method, path, key, contentType, body string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// seedDemoStations gives the data directory's store the demo's Things and Datastreams, with
// the ids `rabta serve --demo` gives them (no observations).
func seedDemoStations(t *testing.T, dataDir string) {
	t.Helper()
	ctx := context.Background()
	dsn := ""
	if env := storeEnv(t, dataDir, nil); len(env) > 0 {
		dsn = strings.TrimPrefix(env[0], "RABTA_DB=")
	}
	st, err := node.OpenStores(ctx, dataDir, dsn, &ingest.QC{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := demo.Seed(ctx, st.Entities, ds)
	if err != nil {
		t.Fatal(err)
	}
	if ids["pdma-khanki/discharge"] != 8 {
		t.Fatalf("the demo's Khanki discharge is datastream %d; examples/rules*.yaml say 8", ids["pdma-khanki/discharge"])
	}
}

// seedDatastreams makes Datastreams with these ids, of the node-wide organisation, in the data
// directory's store (storetest.SeedDatastreams), for rules that name them.
func seedDatastreams(t *testing.T, dataDir string, ids ...int64) {
	t.Helper()
	eng, dsn := openEngine(t, dataDir)
	storetest.SeedDatastreams(t, eng, auth.NodeOrganisation, ids...)
	if dsn == "" {
		eng.(*sqlite.DB).Close()
	} else {
		eng.(*postgres.DB).Close()
	}
}

// openEngine opens the store of a data directory (as storeEnv chose it) as an SQL engine, and
// returns the PostgreSQL DSN ("" for SQLite).
func openEngine(t *testing.T, dataDir string) (sqlq.Engine, string) {
	t.Helper()
	ctx := context.Background()
	if env := storeEnv(t, dataDir, nil); len(env) > 0 {
		dsn := strings.TrimPrefix(env[0], "RABTA_DB=")
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		return db, dsn
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db, ""
}
