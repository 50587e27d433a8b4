package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// mqttResult is the mqtt phase's figures: the same observations ingested over MQTT (one message
// per observation, QoS 1, several publishers) and as HTTP dataArray, on one server.
type mqttResult struct {
	Messages   int     `json:"messages"`
	Publishers int     `json:"publishers"`
	QoS        int     `json:"qos"`
	PublishS   float64 `json:"publish_s"` // start of the publishers until the last one exited (everything PUBACKed)
	WallS      float64 `json:"wall_s"`    // start of the publishers until the count reached the expected number
	Stored     int     `json:"stored"`
	PerSec     float64 `json:"obs_per_s"`
	ServerCPU  float64 `json:"server_cpu_s"`
	// ServerCPUPerObsUs is the server's CPU per stored observation, µs.
	ServerCPUPerObsUs float64 `json:"server_cpu_per_obs_us"`
	CountPolls        int     `json:"count_polls"`

	HTTP              phaseResult `json:"http_dataarray"`
	HTTPCPUPerObsUs   float64     `json:"http_server_cpu_per_obs_us"`
	HTTPBatch         int         `json:"http_batch"`
	HTTPClients       int         `json:"http_clients"`
	HTTPOverMQTT      float64     `json:"http_over_mqtt"`
	PublisherVersion  string      `json:"mosquitto_pub"`
	PublisherStderr   string      `json:"publisher_stderr,omitempty"`
	StallGaveUpAfterS float64     `json:"stall_gave_up_after_s,omitempty"`
}

// mqttThroughput publishes n observations over MQTT from pubs concurrent `mosquitto_pub -l`
// processes (QoS 1, one connection each, n/pubs messages to its own datastream), times them
// until GET /v1.1/Observations?$count=true says all are stored, then POSTs the same rows as
// dataArray to pubs other datastreams (batch rows per request, clients clients).
func mqttThroughput(ctx context.Context, s *server, n, pubs, batch, clients int) (mqttResult, error) {
	res := mqttResult{Messages: n, Publishers: pubs, QoS: 1, HTTPBatch: batch, HTTPClients: clients}
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		return res, fmt.Errorf("mosquitto_pub not found: apt-get install -y mosquitto-clients")
	}
	out, _ := exec.CommandContext(ctx, "mosquitto_pub", "--help").CombinedOutput()
	for l := range bytes.Lines(out) {
		if bytes.Contains(l, []byte(" version ")) {
			res.PublisherVersion = string(bytes.TrimSpace(l))
			break
		}
	}
	ids, err := s.createStreams(ctx, 2*pubs) // the first pubs for MQTT, the others for HTTP
	if err != nil {
		return res, err
	}
	g := dataset{n: n, d: pubs}
	// one stdin per publisher: {"phenomenonTime":"…","result":…} per line
	inputs := make([][]byte, pubs)
	for i := range pubs {
		var b []byte
		for h := 0; h < g.rows(i); h++ {
			b = append(b, `{"phenomenonTime":"`...)
			b = appendTime(b, h)
			b = append(b, `","result":`...)
			b = appendValue(b, value(i, h))
			b = append(b, "}\n"...)
		}
		inputs[i] = b
	}
	host, port, _ := net.SplitHostPort(s.mqtt)
	count := func() (int, error) {
		st, b, err := s.do(ctx, "GET", "/v1.1/Observations?$count=true&$top=0", nil)
		if err != nil {
			return 0, err
		}
		if st != http.StatusOK {
			return 0, fmt.Errorf("count: %d %.300s", st, b)
		}
		var v struct {
			Count int `json:"@iot.count"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return 0, fmt.Errorf("count: %w", err)
		}
		return v.Count, nil
	}
	before, err := count()
	if err != nil {
		return res, err
	}
	want := before + n

	cpu0 := cpuSeconds(s.pid())
	cmds := make([]*exec.Cmd, pubs)
	stderrs := make([]bytes.Buffer, pubs)
	for i := range pubs {
		c := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-u", "rabta-bench", "-P", adminKey,
			"-i", "rabta-bench-"+strconv.Itoa(i), "-q", "1", "-t", "rabta/local/ingest/"+strconv.FormatInt(ids[i], 10), "-l")
		c.Stdin = bytes.NewReader(inputs[i])
		c.Stderr = &stderrs[i]
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmds[i] = c
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, pubs)
	var pubMu sync.Mutex
	var lastExit time.Time
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			for _, c := range cmds[:i] {
				c.Process.Kill()
			}
			return res, fmt.Errorf("mosquitto_pub: %w", err)
		}
		wg.Go(func() {
			errs[i] = c.Wait()
			pubMu.Lock()
			if t := time.Now(); t.After(lastExit) {
				lastExit = t
			}
			pubMu.Unlock()
		})
	}
	pubsDone := make(chan struct{})
	go func() { wg.Wait(); close(pubsDone) }()
	// poll the count every 20 ms; give up if it has not moved for 20 s after the publishers ended
	var got int
	lastMove, lastGot := time.Now(), -1
	done := false
	for !done {
		if got, err = count(); err != nil {
			return res, err
		}
		res.CountPolls++
		if got >= want {
			res.WallS = time.Since(start).Seconds()
			break
		}
		if got != lastGot {
			lastGot, lastMove = got, time.Now()
		}
		select {
		case <-pubsDone:
			if time.Since(lastMove) > 20*time.Second {
				res.StallGaveUpAfterS = time.Since(start).Seconds()
				done = true
			}
		default:
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	<-pubsDone
	res.ServerCPU = cpuSeconds(s.pid()) - cpu0
	res.PublishS = lastExit.Sub(start).Seconds()
	res.Stored = got - before
	for i, e := range errs {
		if t := bytes.TrimSpace(stderrs[i].Bytes()); len(t) > 0 {
			res.PublisherStderr += fmt.Sprintf("publisher %d: %.500s\n", i, t)
		}
		if e != nil {
			return res, fmt.Errorf("mosquitto_pub %d: %v\n%s", i, e, stderrs[i].String())
		}
	}
	if res.StallGaveUpAfterS > 0 {
		return res, fmt.Errorf("mqtt: %d of %d observations stored; the count had not moved for 20 s after the publishers ended", res.Stored, n)
	}
	res.PerSec = float64(res.Stored) / res.WallS
	res.ServerCPUPerObsUs = res.ServerCPU / float64(res.Stored) * 1e6

	// the same rows as dataArray to the other datastreams
	h, err := apiIngest(ctx, s, g, ids[pubs:], batch, clients)
	h.WallS = h.Wall.Seconds()
	res.HTTP = h
	if err != nil {
		return res, fmt.Errorf("http dataArray: %w", err)
	}
	if h.Stored > 0 {
		res.HTTPCPUPerObsUs = h.ServerCPU / float64(h.Stored) * 1e6
	}
	if res.PerSec > 0 {
		res.HTTPOverMQTT = h.PerSec / res.PerSec
	}
	return res, nil
}
