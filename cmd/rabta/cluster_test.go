package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	natsOnce sync.Once
	natsBin  string
	natsErr  error
)

// natsCluster starts three nats-server processes (built from the nats-server module this project
// already depends on) as one JetStream cluster on loopback ports of their own, and returns the
// client URLs.
func natsCluster(t *testing.T) string {
	t.Helper()
	natsOnce.Do(func() {
		natsBin = filepath.Join(filepath.Dir(binary), "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsErr = fmt.Errorf("build nats-server: %v %s", err, out)
		}
	})
	if natsErr != nil {
		t.Fatal(natsErr)
	}
	var client, routes []string
	var cports []string
	for range 3 {
		client = append(client, freePort(t))
		cports = append(cports, freePort(t))
	}
	for _, c := range cports {
		routes = append(routes, "nats://"+c)
	}
	for i := range 3 {
		host, port, _ := strings.Cut(client[i], ":")
		cmd := exec.Command(natsBin, "-js", "-sd", t.TempDir(), "-n", "n"+strconv.Itoa(i+1), "-a", host, "-p", port,
			"--cluster_name", "rabta", "--cluster", "nats://"+cports[i], "--routes", strings.Join(routes, ","))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	var urls []string
	for _, c := range client {
		urls = append(urls, "nats://"+c)
	}
	return strings.Join(urls, ",")
}

// Two processes of one node on a three-server NATS cluster and one PostgreSQL: observations go
// to both, one process is killed mid-way, and every acknowledged observation is stored and
// leaves the outbox for the bus.
func TestTwoProcessesOnACluster(t *testing.T) {
	t.Parallel()
	dsn := pgDatabase(t)
	cluster := natsCluster(t)
	env := []string{"RABTA_ADMIN_KEY=" + adminKey, "RABTA_DB=" + dsn, "RABTA_NATS_URL=" + cluster, "RABTA_NATS_REPLICAS=3"}
	args := []string{"--nats-addr", "", "--mqtt-addr", ""}
	a := start(t, t.TempDir(), env, args...)
	b := start(t, t.TempDir(), env, args...)
	if st, body := a.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	var mu sync.Mutex
	acked := map[int64]bool{}
	post := func(p *proc, stop <-chan struct{}, start int) {
		hc := &http.Client{Timeout: 10 * time.Second}
		for n := start; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			var rows bytes.Buffer
			for i := range 50 {
				if i > 0 {
					rows.WriteByte(',')
				}
				fmt.Fprintf(&rows, `["%s",%d]`, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n*50+i)*time.Second).Format(time.RFC3339), 1000+i)
			}
			req, _ := http.NewRequest("POST", p.base+"/v1.1/CreateObservations", strings.NewReader(`[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[`+rows.String()+`]}]`))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			resp, err := hc.Do(req)
			if err != nil {
				continue
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var links []string
			if resp.StatusCode != 201 || json.Unmarshal(out, &links) != nil {
				continue
			}
			mu.Lock()
			for _, l := range links {
				if m := obsID.FindStringSubmatch(l); m != nil {
					id, _ := strconv.ParseInt(m[1], 10, 64)
					acked[id] = true
				}
			}
			mu.Unlock()
		}
	}
	stopA, stopB := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { post(a, stopA, 0) })
	wg.Go(func() { post(b, stopB, 1_000_000) })
	time.Sleep(1500 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGKILL) // one process dies mid-way; the other goes on
	<-a.done
	close(stopA)
	time.Sleep(1000 * time.Millisecond)
	close(stopB)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n == 0 {
		t.Fatal("nothing acknowledged")
	}
	_, body := b.req("GET", "/v1.1/Observations?$count=true&$top=0", "", "")
	var page struct {
		Count int `json:"@iot.count"`
	}
	json.Unmarshal([]byte(body), &page)
	if page.Count < n {
		t.Errorf("%d observations acknowledged, %d stored", n, page.Count)
	}
	// everything stored leaves the outbox: the surviving process's relay publishes what the
	// dead one had not
	deadline := time.Now().Add(20 * time.Second)
	var metrics string
	for time.Now().Before(deadline) {
		_, metrics = b.req("GET", "/metrics", "", "")
		if strings.Contains(metrics, "\nrabta_outbox_backlog 0\n") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(metrics, "\nrabta_outbox_backlog 0\n") {
		t.Errorf("outbox not drained after one process died")
	}
	t.Logf("%d acknowledged, %d stored", n, page.Count)
	b.stop()
}
