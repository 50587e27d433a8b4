package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memPeak is a server's resident memory at the largest VmRSS sampled (every 250 ms), split
// into what /proc/<pid>/status tells apart — anonymous memory (the Go runtime's heap, stacks
// and metadata, and SQLite's page caches, which the pure-Go driver allocates outside the Go
// heap), file-backed pages (the rabta binary's text and read-only data) and shared memory —
// and the Go runtime's own share of it from GET /metrics (go_memstats_sys_bytes −
// go_memstats_heap_released_bytes, sampled at most a second before). VmHWM, the kernel's
// exact peak, is reported beside it; a peak between two samples is missed here, not there.
type memPeak struct {
	RSSKiB   int64 `json:"vmRSS_KiB"`
	AnonKiB  int64 `json:"rssAnon_KiB"`
	FileKiB  int64 `json:"rssFile_KiB"`
	ShmemKiB int64 `json:"rssShmem_KiB"`
	GoKiB    int64 `json:"go_runtime_KiB"` // 0 when /metrics was not readable
}

// sampleMemory samples srv until stop is called, which returns the peak sample.
func sampleMemory(ctx context.Context, srv *server) (stop func() memPeak) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var peak memPeak
	var goKiB int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var lastGo time.Time
		for {
			if time.Since(lastGo) >= time.Second {
				if v, err := goHeld(ctx, srv); err == nil {
					goKiB = v
				}
				lastGo = time.Now()
			}
			if m, err := readStatus(srv.pid()); err == nil {
				mu.Lock()
				if m.RSSKiB > peak.RSSKiB {
					peak, peak.GoKiB = m, goKiB
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() memPeak {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// readStatus reads VmRSS, RssAnon, RssFile and RssShmem from /proc/<pid>/status.
func readStatus(pid int) (memPeak, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memPeak{}, err
	}
	defer f.Close()
	var m memPeak
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.RSSKiB = n
		case "RssAnon":
			m.AnonKiB = n
		case "RssFile":
			m.FileKiB = n
		case "RssShmem":
			m.ShmemKiB = n
		}
	}
	return m, sc.Err()
}

// goHeld is the memory the server's Go runtime holds from the OS, in KiB, from its /metrics.
func goHeld(ctx context.Context, srv *server) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, body, err := srv.do(ctx, "GET", "/metrics", nil)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, fmt.Errorf("GET /metrics: %d", st)
	}
	var sys, released float64
	var seen int
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch name {
		case "go_memstats_sys_bytes":
			sys, _ = strconv.ParseFloat(val, 64)
			seen++
		case "go_memstats_heap_released_bytes":
			released, _ = strconv.ParseFloat(val, 64)
			seen++
		}
	}
	if seen != 2 {
		return 0, fmt.Errorf("GET /metrics: no go_memstats_sys_bytes and go_memstats_heap_released_bytes")
	}
	return int64(sys-released) / 1024, nil
}
