package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/sensing"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// delivered records what a durable consumer saw.
type delivered struct {
	mu    sync.Mutex
	ids   map[int64]string // observation id → outbox message id that carried it
	dupes int              // an observation in two different messages: must never happen
	redel int              // a message seen again (after a crash): harmless, suppressed
	msgs  map[string]bool
}

func (d *delivered) handle(_ context.Context, m bus.Delivery) error {
	b, err := sensing.DecodeObsBatch(m.Data)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.msgs[m.MsgID] {
		d.redel++
		return nil
	}
	d.msgs[m.MsgID] = true
	for _, o := range b.Obs {
		if prev, ok := d.ids[o.ID]; ok && prev != m.MsgID {
			d.dupes++
		}
		d.ids[o.ID] = m.MsgID
	}
	return nil
}

// TestCrashSafety ingests from several clients at full speed, kills the node with SIGKILL at a
// random moment, restarts it, and checks that every acknowledged observation is stored and was
// delivered to a durable consumer once in effect. Three rounds, three kill moments.
func TestCrashSafety(t *testing.T) { t.Parallel(); crashSafety(t, 3, 4, false) }

// TestCrashSafetySinglePOSTs is TestCrashSafety with 8 clients each POSTing one observation
// per request (POST /Datastreams(id)/Observations), the path group commit serves: every 201'd
// observation survives the SIGKILL. One round (suite time).
func TestCrashSafetySinglePOSTs(t *testing.T) { t.Parallel(); crashSafety(t, 1, 8, true) }

// crashSafety runs rounds of load from clients (dataArray requests of 100 observations, or
// single POSTs), each ended by a SIGKILL.
func crashSafety(t *testing.T, rounds, clients int, single bool) {
	if testing.Short() {
		t.Skip("kills and restarts the node")
	}
	dir := t.TempDir()
	httpAddr, natsAddr := freePort(t), freePort(t)
	env := []string{"RABTA_ADMIN_KEY=" + adminKey}
	args := []string{"--http-addr", httpAddr, "--nats-addr", natsAddr}
	p := start(t, dir, env, args...)
	const streams = 4
	for i := range streams {
		th := regexp.MustCompile(`Khanki`).ReplaceAllString(gaugeThing, "Gauge"+strconv.Itoa(i))
		if st, b := p.req("POST", "/v1.1/Things", adminKey, th); st != 201 {
			t.Fatalf("create: %d %s", st, b)
		}
	}
	ctx := context.Background()
	client, err := bus.Open(ctx, bus.Options{Node: "local", URL: "nats://" + natsAddr, Key: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	d := &delivered{ids: map[int64]string{}, msgs: map[string]bool{}}
	cons, err := client.Consume(ctx, "crash-test", false, d.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()

	acked := map[int64]bool{}
	var ackMu sync.Mutex
	minute := 0
	for round := range rounds {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				hc := &http.Client{Timeout: 10 * time.Second}
				for {
					select {
					case <-stop:
						return
					default:
					}
					ackMu.Lock()
					minute++
					m := minute
					ackMu.Unlock()
					if single {
						body := fmt.Sprintf(`{"phenomenonTime":"%s","result":%d}`, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m)*time.Second).Format(time.RFC3339), m)
						req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/v1.1/Datastreams(%d)/Observations", httpAddr, c%streams+1), strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+adminKey)
						resp, err := hc.Do(req)
						if err != nil {
							continue // the node is down: nothing was acknowledged
						}
						_, err = io.ReadAll(resp.Body)
						resp.Body.Close()
						id := obsID.FindStringSubmatch(resp.Header.Get("Location"))
						if resp.StatusCode != 201 || err != nil || id == nil {
							continue // refused, or cut off mid-answer: not acknowledged
						}
						n, _ := strconv.ParseInt(id[1], 10, 64)
						ackMu.Lock()
						acked[n] = true
						ackMu.Unlock()
						continue
					}
					var rows bytes.Buffer
					for i := range 100 {
						if i > 0 {
							rows.WriteByte(',')
						}
						fmt.Fprintf(&rows, `["%s",%d]`, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m*100+i)*time.Second).Format(time.RFC3339), 1000+i)
					}
					body := fmt.Sprintf(`[{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[%s]}]`, c%streams+1, rows.String())
					req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1.1/CreateObservations", bytes.NewBufferString(body))
					req.Header.Set("Authorization", "Bearer "+adminKey)
					resp, err := hc.Do(req)
					if err != nil {
						continue // the node is down: nothing was acknowledged
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 201 {
						continue
					}
					var links []string
					if json.Unmarshal(b, &links) != nil {
						continue // cut off mid-answer: not acknowledged
					}
					ackMu.Lock()
					for _, l := range links {
						if m := obsID.FindStringSubmatch(l); m != nil {
							id, _ := strconv.ParseInt(m[1], 10, 64)
							acked[id] = true
						}
					}
					ackMu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(500+rand.IntN(2500)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		close(stop)
		wg.Wait()
		ackMu.Lock()
		t.Logf("round %d: killed with %d observations acknowledged so far", round, len(acked))
		ackMu.Unlock()
		p = start(t, dir, env, args...)
	}
	// everything acknowledged is stored ...
	stored := map[int64]bool{}
	next := "/v1.1/Observations?$select=id&$top=10000&$orderby=id"
	for next != "" {
		st, b := p.req("GET", next, "", "")
		if st != 200 {
			t.Fatalf("list: %d %s", st, b)
		}
		var page struct {
			Value []struct {
				ID int64 `json:"@iot.id"`
			} `json:"value"`
			Next string `json:"@iot.nextLink"`
		}
		json.Unmarshal([]byte(b), &page)
		for _, v := range page.Value {
			stored[v.ID] = true
		}
		next = ""
		if page.Next != "" {
			next = page.Next[len("http://"+httpAddr):]
		}
	}
	for id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged observation %d is not in the store", id)
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged: the test proved nothing")
	}
	// ... and every stored observation reaches the durable consumer, once in effect
	deadline := time.Now().Add(60 * time.Second)
	for {
		d.mu.Lock()
		missing := 0
		for id := range stored {
			if _, ok := d.ids[id]; !ok {
				missing++
			}
		}
		extra := len(d.ids) - (len(stored) - missing)
		d.mu.Unlock()
		if missing == 0 {
			if extra != 0 {
				t.Errorf("%d observations delivered that are not in the store", extra)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d stored observations never reached the consumer", missing, len(stored))
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dupes != 0 {
		t.Errorf("%d observations arrived in two different messages", d.dupes)
	}
	t.Logf("%d acknowledged, %d stored, %d delivered; %d redeliveries suppressed", len(acked), len(stored), len(d.ids), d.redel)
	p.stop()
}

var obsID = regexp.MustCompile(`/Observations\((\d+)\)$`)

// TestMQTTCrashSafety: observations published at QoS 1 and acknowledged (mosquitto_pub has
// exited) survive a SIGKILL right after, and are stored once each after the restart.
func TestMQTTCrashSafety(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	dir := t.TempDir()
	httpAddr, natsAddr, mqttAddr := freePort(t), freePort(t), freePort(t)
	env := []string{"RABTA_ADMIN_KEY=" + adminKey}
	args := []string{"--http-addr", httpAddr, "--nats-addr", natsAddr, "--mqtt-addr", mqttAddr}
	p := start(t, dir, env, args...)
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	const n = 10000
	var lines bytes.Buffer
	t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&lines, `{"phenomenonTime":"%s","result":%d}`+"\n", t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 1000+i)
	}
	host, port, _ := net.SplitHostPort(mqttAddr)
	cmd := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", "logger", "-P", adminKey, "-q", "1", "-t", "rabta/local/ingest/1", "-l")
	cmd.Stdin = &lines
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	// every message is acknowledged: kill the node before it can have stored them all
	_, before := p.req("GET", "/v1.1/Datastreams(1)/Observations?$count=true&$top=0", "", "")
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p = start(t, dir, env, args...)
	var count string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, b := p.req("GET", "/v1.1/Datastreams(1)/Observations?$count=true&$top=0", "", "")
		count = b
		if strings.Contains(b, fmt.Sprintf(`"@iot.count":%d`, n)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(count, fmt.Sprintf(`"@iot.count":%d`, n)) {
		t.Fatalf("after the crash: %s, want all %d acknowledged observations, once each", count, n)
	}
	t.Logf("stored when killed: %s", before)
	time.Sleep(500 * time.Millisecond) // nothing more may arrive: no duplicates
	if _, b := p.req("GET", "/v1.1/Datastreams(1)/Observations?$count=true&$top=0", "", ""); !strings.Contains(b, fmt.Sprintf(`"@iot.count":%d`, n)) {
		t.Errorf("duplicates after the restart: %s", b)
	}
	p.stop()
}

// TestExternalNATS: with --nats-url a node starts no server of its own and uses the given one
// (here another node's embedded server, reached with an admin key as the NATS token).
func TestExternalNATS(t *testing.T) {
	t.Parallel()
	a := start(t, t.TempDir(), []string{"RABTA_ADMIN_KEY=" + adminKey}, "--node-id", "hub")
	natsURL := strings.Replace(a.nats, "nats://", "nats://"+adminKey+"@", 1)
	bdir := t.TempDir()
	b := start(t, bdir, []string{"RABTA_ADMIN_KEY=" + adminKey}, "--node-id", "edge", "--nats-url", natsURL, "--nats-addr", "", "--mqtt-addr", "")
	if b.nats != "" || b.mqtt != "" {
		t.Errorf("a node on an external cluster listens itself: nats %q mqtt %q", b.nats, b.mqtt)
	}
	if _, err := os.Stat(filepath.Join(bdir, "nats")); err == nil {
		t.Error("a node on an external cluster keeps JetStream files of its own")
	}
	ctx := context.Background()
	client, err := bus.Open(ctx, bus.Options{Node: "edge", URL: natsURL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	got := make(chan int, 10)
	cons, err := client.Consume(ctx, "check", false, func(_ context.Context, d bus.Delivery) error {
		batch, err := sensing.DecodeObsBatch(d.Data)
		if err == nil {
			got <- len(batch.Obs)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	if st, body := b.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := b.req("POST", "/v1.1/CreateObservations", adminKey, `[{"Datastream":{"@iot.id":1},"components":["result"],"dataArray":[[1],[2],[3]]}]`); st != 201 {
		t.Fatalf("ingest: %d %s", st, body)
	}
	select {
	case n := <-got:
		if n != 3 {
			t.Errorf("batch of %d observations, want 3", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the edge node's observations never reached the hub's JetStream")
	}
	b.stop()
	a.stop()
}
