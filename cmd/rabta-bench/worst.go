package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// worstPath is the request of issue 15 that grew a node to 12 GB and 330 CPU-seconds and sent
// nothing in 300 s: 10,000 asked at each of six $expand levels, the path turning back on itself.
const worstPath = "/v1.1/Things?$top=10000&$expand=Datastreams($top=10000;$expand=Observations($top=10000;$expand=Datastream($expand=Thing($expand=Datastreams($top=10000;$expand=Observations($top=10000))))))"

// worstResult is the worst phase's figures: issue 15's request on the store the api phase
// filled, sent once, with what it cost the server.
type worstResult struct {
	Path     string  `json:"request"`
	Status   int     `json:"status"` // 0: no answer within the timeout
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	CPU      float64 `json:"server_cpu_s"`
	RSSKiB   int64   `json:"server_vmRSS_before_KiB"` // the server's RSS before the request
	HWMKiB   int64   `json:"server_vmHWM_KiB"`        // its peak RSS during the request
	Error    string  `json:"error,omitempty"`
	TimeoutS float64 `json:"timeout_s"`
}

// worstRequest sends worstPath once with a client timeout, having reset the server's peak RSS
// (/proc/<pid>/clear_refs), and reports the answer's status, size and time, the server's CPU
// time and its peak RSS meanwhile.
func worstRequest(ctx context.Context, s *server, timeout time.Duration) worstResult {
	res := worstResult{Path: worstPath, TimeoutS: timeout.Seconds()}
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0) // 5: reset VmHWM to VmRSS
	cpu := cpuSeconds(s.pid())
	before, _ := readMemory(s.pid())
	res.RSSKiB = before.RSSKiB
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+worstPath, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = httpClient.Do(req); err == nil {
			res.Status = resp.StatusCode
			res.Bytes, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	if err != nil {
		res.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			res.Error = "no answer within the timeout"
		}
	}
	time.Sleep(time.Second) // a server that does not stop at the client's going shows it here
	res.CPU = cpuSeconds(s.pid()) - cpu
	m, _ := readMemory(s.pid())
	res.HWMKiB = m.HWMKiB
	return res
}
