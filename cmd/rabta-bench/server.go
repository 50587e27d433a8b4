package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// adminKey is the bootstrap admin key the benchmark's servers are started with.
const adminKey = "bench-admin-key-0123456789abcdef" // 32 characters

// buildRabta builds cmd/rabta into dir and returns the binary's path.
func buildRabta(ctx context.Context, dir string) (string, error) {
	bin := dir + "/rabta"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rabta/rabta/cmd/rabta")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/rabta (run rabta-bench inside the repository, or pass -rabta BINARY): %v\n%s", err, out)
	}
	return bin, nil
}

// env is the environment of the processes the benchmark starts: the caller's, without any
// RABTA_* setting (a config from the shell must not change what is measured), plus extra.
func env(extra ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "RABTA_") {
			out = append(out, e)
		}
	}
	return append(out, extra...)
}

// benchDB is the store of the servers the benchmark starts: empty for SQLite in their data
// directory, or a PostgreSQL URL (flag -db; give an empty database: the phases that start a
// server assume a fresh store, so use -phases api,query with it).
var benchDB string

// server is a running `rabta serve`.
type server struct {
	cmd    *exec.Cmd
	base   string
	dir    string // the data directory
	nats   string // the embedded NATS client listener, host:port
	mqtt   string // the embedded MQTT listener, host:port
	done   chan struct{}
	err    error
	mu     sync.Mutex
	stderr bytes.Buffer // the server's log (warn and above), bounded
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs bin serve on dataDir and waits until /readyz answers, without the per-key
// write limit (RABTA_WRITE_RATE=0: the phases write as fast as the server takes, over HTTP
// and MQTT, with one key). The process is killed when ctx ends; the caller must call stop
// (or kill) on every path.
func startServer(ctx context.Context, bin, dataDir string, outbox bool) (*server, error) {
	return startServerOn(ctx, bin, dataDir, outbox, benchDB, "RABTA_WRITE_RATE=0")
}

// pickPort chooses each port startServerOn gives a server (a variable for the tests).
var pickPort = freePort

// startServerOn is startServer on the store db ("" for SQLite in dataDir, or a PostgreSQL URL),
// with extra environment variables (RABTA_WRITE_RATE=0, …). A port found free can be taken
// before the server listens on it (by another process, or by any connect(2) on this machine
// that is given it as its local port: the ports are in the ephemeral range); a server that
// exits for that is started again on new ports, at most three times in all.
func startServerOn(ctx context.Context, bin, dataDir string, outbox bool, db string, extra ...string) (*server, error) {
	for attempt := 1; ; attempt++ {
		s, err := startServerOnce(ctx, bin, dataDir, outbox, db, extra...)
		if err == nil || attempt == 3 || !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
}

// errPortTaken: the server exited because one of its ports was in use.
var errPortTaken = errors.New("a port was taken before the server listened on it")

func startServerOnce(ctx context.Context, bin, dataDir string, outbox bool, db string, extra ...string) (*server, error) {
	var ports [3]int // HTTP, NATS, MQTT: free ones, so that a node already running here does not collide
	for i := range ports {
		p, err := pickPort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", dataDir, "--http-addr", addr, "--log-level", "warn", "--log", "text")
	cmd.Env = env(append([]string{"RABTA_ADMIN_KEY=" + adminKey,
		"RABTA_NATS_ADDR=127.0.0.1:" + strconv.Itoa(ports[1]),
		"RABTA_MQTT_ADDR=127.0.0.1:" + strconv.Itoa(ports[2]),
		"RABTA_OUTBOX=" + strconv.FormatBool(outbox), "RABTA_DB=" + db}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // also if the benchmark is killed
	cmd.WaitDelay = 5 * time.Second
	s := &server{cmd: cmd, base: "http://" + addr, dir: dataDir, done: make(chan struct{}),
		nats: "127.0.0.1:" + strconv.Itoa(ports[1]), mqtt: "127.0.0.1:" + strconv.Itoa(ports[2])}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rabta serve: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			if s.stderr.Len() < 1<<20 {
				s.stderr.WriteString(sc.Text() + "\n")
			}
			s.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		s.err = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	// with a timeout: on a port taken by another process, the answer may never come
	ready := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := ready.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			if strings.Contains(s.log(), "address already in use") {
				return nil, fmt.Errorf("rabta serve exited before it was ready: %w: %v\n%s", errPortTaken, s.err, s.log())
			}
			return nil, fmt.Errorf("rabta serve exited before it was ready: %v\n%s", s.err, s.log())
		case <-ctx.Done():
			s.kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("rabta serve not ready after 60s\n%s", s.log())
		}
	}
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop asks the server to shut down (SIGTERM) and kills it if it has not within 30 s.
func (s *server) stop() error {
	select {
	case <-s.done:
		return s.err
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		s.kill()
		return errors.New("rabta serve did not stop within 30s of SIGTERM; killed")
	}
}

// kill kills the server and waits for it; safe to call more than once.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	<-s.done
}

// httpClient is shared by all requests; keep-alive connections, one per client goroutine.
var httpClient = &http.Client{
	Timeout:   10 * time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
}

// do sends one request and returns the status and body.
func (s *server) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// createStreams creates the data set's d stations (one Thing with a Location and a Datastream
// each) and returns the datastream ids by station index.
func (s *server) createStreams(ctx context.Context, d int) ([]int64, error) {
	for i := 0; i < d; i++ {
		body, _ := json.Marshal(streamThing(i))
		st, b, err := s.do(ctx, "POST", "/v1.1/Things", body)
		if err != nil {
			return nil, err
		}
		if st != http.StatusCreated {
			return nil, fmt.Errorf("POST /v1.1/Things: %d %s", st, b)
		}
	}
	return s.streamIDs(ctx, d)
}

// streamIDs returns the ids of the d datastreams createStreams made, by their names.
func (s *server) streamIDs(ctx context.Context, d int) ([]int64, error) {
	byName := map[string]int64{}
	path := "/v1.1/Datastreams?$top=1000&$orderby=id%20asc"
	for path != "" {
		st, b, err := s.do(ctx, "GET", path, nil)
		if err != nil {
			return nil, err
		}
		if st != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, st, b)
		}
		var page struct {
			Value []struct {
				ID   int64  `json:"@iot.id"`
				Name string `json:"name"`
			} `json:"value"`
			Next string `json:"@iot.nextLink"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		for _, v := range page.Value {
			byName[v.Name] = v.ID
		}
		path = strings.TrimPrefix(page.Next, s.base)
	}
	ids := make([]int64, d)
	for i := range ids {
		id, ok := byName[streamName(i)]
		if !ok {
			return nil, fmt.Errorf("datastream %q was not created", streamName(i))
		}
		ids[i] = id
	}
	return ids, nil
}

// memory is a process's resident memory from /proc/<pid>/status.
type memory struct {
	HWMKiB int64 `json:"vmHWM_KiB"` // peak resident set size
	RSSKiB int64 `json:"vmRSS_KiB"` // resident set size now
}

func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			m.HWMKiB = n
		case "VmRSS:":
			m.RSSKiB = n
		}
	}
	return m, nil
}

// cpuSeconds is a process's user+system CPU time so far, from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14, utime
	st, _ := strconv.ParseFloat(f[12], 64) // field 15, stime
	return (ut + st) / 100                 // USER_HZ is 100 on Linux
}

// selfCPU is this process's user+system CPU time so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// dbSize returns the sizes of the database file and its WAL in dir.
func dbSize(dir string) (db, wal int64) {
	if fi, err := os.Stat(dir + "/rabta.db"); err == nil {
		db = fi.Size()
	}
	if fi, err := os.Stat(dir + "/rabta.db-wal"); err == nil {
		wal = fi.Size()
	}
	return db, wal
}
