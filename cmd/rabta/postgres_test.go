package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pgDatabase makes a fresh database for one test in the PostgreSQL the test script started
// (RABTA_TEST_POSTGRES) and returns its URL.
func pgDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("RABTA_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("RABTA_TEST_POSTGRES is not set: scripts/test.sh starts a PostgreSQL")
		}
		t.Skip("RABTA_TEST_POSTGRES not set (scripts/test.sh starts a PostgreSQL)")
	}
	name := fmt.Sprintf("rabta_e2e_%d", rand.Uint32())
	if out, err := exec.Command("psql", base, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE "+name).CombinedOutput(); err != nil {
		t.Fatalf("create database: %v %s", err, out)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	t.Cleanup(func() { exec.Command("psql", base, "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run() })
	return u.String()
}

// The node on PostgreSQL, end to end: SensorThings reads and writes, CSV import, MQTT, rules,
// and a signed alert on the feed.
func TestNodeOnPostgres(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	dsn := pgDatabase(t)
	dir := t.TempDir()
	env := []string{"RABTA_ADMIN_KEY=" + adminKey, "RABTA_DB=" + dsn}
	p := start(t, dir, env)
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, b := p.req("POST", "/v1.1/CreateObservations", adminKey, `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],
	  "dataArray":[["2025-08-26T12:00:00+05:00",600000],["2025-08-27T12:00:00+05:00",1001480]]}]`); st != 201 || strings.Contains(b, "error") {
		t.Fatalf("dataArray: %d %s", st, b)
	}
	_, b := p.req("GET", "/v1.1/Datastreams(1)/Observations?$filter=result%20gt%20700000&$select=result,phenomenonTime", "", "")
	if !strings.Contains(b, `"phenomenonTime":"2025-08-27T12:00:00+05:00"`) || strings.Contains(b, "600000") {
		t.Errorf("filter on PostgreSQL: %s", b)
	}
	if out, e, err := rabta(t, "import", "observations", "--quiet", "--db", dsn, "../../internal/sensing/testdata/pdma_excerpt.csv"); err == nil || !strings.Contains(out, "stored") {
		t.Errorf("import into PostgreSQL: %v %s %s", err, out, e)
	}
	if st, b := p.req("PUT", "/api/v1/rules", adminKey, testRules); st != 200 {
		t.Fatalf("rules: %d %s", st, b)
	}
	if out, err := pub(p.mqtt, adminKey, "rabta/local/ingest/1", fmt.Sprintf(`{"phenomenonTime":"%s","result":150000}`, time.Now().UTC().Format(time.RFC3339))); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	var atom string
	for time.Now().Before(deadline) {
		_, atom = p.req("GET", "/cap/alerts.atom", "", "")
		if strings.Contains(atom, "<entry>") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(atom, "Low flood at Khanki Headworks") {
		t.Errorf("no alert on the feed of a PostgreSQL node:\n%.1500s", atom)
	}
	// backup while running, restore into another database, and a node there sees the same
	backup := filepath.Join(t.TempDir(), "rabta.dump")
	if out, e, err := rabta(t, "backup", "--db", dsn, backup); err != nil {
		t.Fatalf("backup: %v %s %s", err, out, e)
	}
	if fi, err := os.Stat(backup); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup's mode: %v, want 0600 (its owner's only)", fi.Mode())
	}
	p.req("POST", "/v1.1/Things", adminKey, `{"name":"after the backup","description":"x"}`)
	p.stop()
	other := pgDatabase(t)
	// the data directory is locked during a restore on PostgreSQL too: one of the test's own
	if out, e, err := rabta(t, "restore", "--db", other, "--data-dir", t.TempDir(), backup); err != nil {
		t.Fatalf("restore: %v %s %s", err, out, e)
	}
	q := start(t, t.TempDir(), []string{"RABTA_ADMIN_KEY=" + adminKey, "RABTA_DB=" + other})
	_, b = q.req("GET", "/v1.1/Things?$select=name", "", "")
	if !strings.Contains(b, "Khanki Headworks") || strings.Contains(b, "after the backup") {
		t.Errorf("restored database: %s", b)
	}
	_, atom = q.req("GET", "/cap/alerts.atom", "", "")
	if !strings.Contains(atom, "Low flood at Khanki Headworks") {
		t.Errorf("the restored node lost its alert")
	}
	q.stop()
}

// Two processes serve one node: one PostgreSQL, one NATS (the first process's embedded server,
// as an external cluster for the second). Observations arrive at either; the warning engine's
// state and the alerts are shared, so the rule issues one thread — Alert, Update, Cancel — not
// one per process.
func TestTwoProcessesOneNode(t *testing.T) {
	dsn := pgDatabase(t)
	env := []string{"RABTA_ADMIN_KEY=" + adminKey, "RABTA_DB=" + dsn}
	a := start(t, t.TempDir(), env)
	natsURL := strings.Replace(a.nats, "nats://", "nats://"+adminKey+"@", 1)
	b := start(t, t.TempDir(), env, "--nats-url", natsURL, "--nats-addr", "", "--mqtt-addr", "")
	if st, body := a.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := b.req("PUT", "/api/v1/rules", adminKey, testRules); st != 200 {
		t.Fatalf("rules: %d %s", st, body)
	}
	time.Sleep(6 * time.Second) // the other process reloads the rules within 5 s
	for i, step := range []struct {
		p *proc
		v int
	}{{a, 150000}, {b, 160000}, {a, 700000}, {b, 710000}, {a, 5000}, {b, 4000}} {
		body := fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"Datastream":{"@iot.id":1}}`, time.Now().UTC().Format(time.RFC3339Nano), step.v)
		if st, out := step.p.req("POST", "/v1.1/Observations", adminKey, body); st != 201 {
			t.Fatalf("step %d: %d %s", i, st, out)
		}
		time.Sleep(400 * time.Millisecond)
	}
	var detail string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, list := a.req("GET", "/api/v1/alerts?rule=khanki-auto", adminKey, "")
		switch n := strings.Count(list, `"rule": "khanki-auto"`); {
		case n == 0: // the observations reach the warning engine through the bus: not yet
			time.Sleep(200 * time.Millisecond)
			continue
		case n > 1:
			t.Fatalf("the auto rule has %d alert threads, want 1:\n%s", n, list)
		}
		id := list[strings.Index(list, `"id": `)+6:]
		id = id[:strings.IndexAny(id, ",\n")]
		_, detail = a.req("GET", "/api/v1/alerts/"+id, adminKey, "")
		if strings.Contains(detail, `"state": "cancelled"`) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	types := strings.Count(detail, `"msgType": "Alert"`)*100 + strings.Count(detail, `"msgType": "Update"`)*10 + strings.Count(detail, `"msgType": "Cancel"`)
	if types != 111 || !strings.Contains(detail, `"state": "cancelled"`) {
		t.Errorf("one Alert, one Update and one Cancel expected, issued once each:\n%s", detail)
	}
	b.stop()
	a.stop()
}
