package channeltest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SMSCOptions configure the SMPP server SMSCWith starts. The zero value is SMSC's.
type SMSCOptions struct {
	SystemID string // default "rabta"
	Password string // default "secret"
	// RefusePrefix: a submit_sm whose destination_addr starts with it gets ESME_RINVDSTADR.
	RefusePrefix string
	// ThrottlePrefix: a submit_sm whose destination_addr starts with it gets ESME_RTHROTTLED.
	ThrottlePrefix string
	// FailPrefix: accepted, but the delivery receipt says stat:UNDELIV.
	FailPrefix string
	// Throttle answers every submit_sm with ESME_RTHROTTLED.
	Throttle bool
}

// SMSCServer is a running SMPP 3.4 server (scripts/smsc/server.js under node) on a loopback
// port of the test's own. It records every submit_sm, bind and enquire_link it sees.
type SMSCServer struct {
	// Addr is host:port; it stays the same across Stop and Start.
	Addr     string
	SystemID string
	Password string

	t    testing.TB
	opts SMSCOptions
	dir  string
	port int

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced whenever an event arrives
	submits      []Submit
	binds        []Bind
	enquire      int
	unbinds      int
	cmd          *exec.Cmd
	stdin        io.WriteCloser // server.js's control commands
	mos          []int          // per deliver control command, the sessions it went to
	deliverResps []int          // command_status of each deliver_sm_resp the client sent
	done         chan struct{}  // closed when cmd has exited
	stderr       *bytes.Buffer
}

// Submit is one submit_sm as the server saw it.
type Submit struct {
	MessageID      string `json:"message_id"` // "" when refused
	Status         uint32 `json:"status"`     // the command_status answered (0 = ESME_ROK)
	ServiceType    string `json:"service_type"`
	Source         string `json:"source"`
	SourceTON      int    `json:"source_ton"`
	SourceNPI      int    `json:"source_npi"`
	Destination    string `json:"destination"`
	DestinationTON int    `json:"destination_ton"`
	DestinationNPI int    `json:"destination_npi"`
	DataCoding     int    `json:"data_coding"`
	ESMClass       int    `json:"esm_class"`
	Registered     int    `json:"registered_delivery"`
	UDH            *UDH   `json:"udh"`  // the concatenation header, nil when absent
	Hex            string `json:"hex"`  // short_message octets as sent (UDH included)
	Text           string `json:"text"` // short_message as the npm smpp package decoded it (UDH excluded)
}

// UDH is a concatenation information element (3GPP TS 23.040 §9.2.3.24.1).
type UDH struct {
	Ref   int `json:"ref"`
	Total int `json:"total"`
	Part  int `json:"part"`
}

// Bind is one bind request as the server saw it.
type Bind struct {
	Command    string `json:"command"` // bind_transceiver, bind_transmitter, bind_receiver
	SystemID   string `json:"system_id"`
	SystemType string `json:"system_type"`
	OK         bool   `json:"ok"`
}

// SMS is a message as the handset would show it: a single submit_sm, or the parts of a
// concatenated one put back together by their UDH reference.
type SMS struct {
	Source      string
	Destination string
	DataCoding  int
	Text        string
	Parts       int
	Ref         int      // the UDH reference; 0 for a single message
	MessageIDs  []string // one per part, in part order
}

// SMSC starts the SMPP server with system_id "rabta" and password "secret" and stops it when
// the test ends. Without node or the npm package it skips the test (fails under CI).
func SMSC(t testing.TB) *SMSCServer { return SMSCWith(t, SMSCOptions{}) }

// SMSCWith starts the SMPP server with o.
func SMSCWith(t testing.TB, o SMSCOptions) *SMSCServer {
	t.Helper()
	if o.SystemID == "" {
		o.SystemID = "rabta"
	}
	if o.Password == "" {
		o.Password = "secret"
	}
	dir := smscDir(t)
	s := &SMSCServer{t: t, opts: o, dir: dir, SystemID: o.SystemID, Password: o.Password, changed: make(chan struct{})}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// smscDir finds scripts/smsc beside this source file and makes sure its node_modules exist
// (scripts/test.sh runs npm ci; a developer's first run does it here, once, under a lock).
func smscDir(t testing.TB) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node not found: install Node.js (apt-get install nodejs npm), then (cd scripts/smsc && npm ci)")
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "smsc")
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
		t.Fatalf("scripts/smsc/server.js not found beside the source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "smpp")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skip("scripts/smsc/node_modules missing and npm not found: install npm, then (cd scripts/smsc && npm ci)")
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "smpp")); err == nil {
		return dir // another test process installed it meanwhile
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		skip("npm ci in scripts/smsc failed (%v): %s", err, out)
	}
	return dir
}

// Start starts the server: on a free port the first time, on the same port afterwards.
func (s *SMSCServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.t.Fatal("channeltest: SMSC already running")
	}
	args := []string{"server.js", "--host", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--system-id", s.opts.SystemID, "--password", s.opts.Password}
	if s.opts.RefusePrefix != "" {
		args = append(args, "--refuse-prefix", s.opts.RefusePrefix)
	}
	if s.opts.ThrottlePrefix != "" {
		args = append(args, "--throttle-prefix", s.opts.ThrottlePrefix)
	}
	if s.opts.FailPrefix != "" {
		args = append(args, "--fail-prefix", s.opts.FailPrefix)
	}
	if s.opts.Throttle {
		args = append(args, "--throttle")
	}
	// The port may still be held for a moment after a restart; try a few times.
	deadline := time.Now().Add(10 * time.Second)
	for {
		port, err := s.start(args)
		if err == nil {
			s.port = port
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("channeltest: start SMSC: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *SMSCServer) start(args []string) (int, error) {
	cmd := exec.Command("node", args...)
	cmd.Dir = s.dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: stderr}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	listening := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.record(sc.Bytes(), listening)
		}
		_ = cmd.Wait()
		close(done)
		s.mu.Lock()
		s.notify()
		s.mu.Unlock()
	}()
	select {
	case port := <-listening:
		s.mu.Lock()
		s.cmd, s.done, s.stderr, s.stdin = cmd, done, stderr, stdin
		s.mu.Unlock()
		return port, nil
	case <-done:
		s.mu.Lock()
		msg := stderr.String()
		s.mu.Unlock()
		return 0, fmt.Errorf("server.js exited: %s", strings.TrimSpace(msg))
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return 0, fmt.Errorf("server.js did not report listening within 15s")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *SMSCServer) record(line []byte, listening chan<- int) {
	var ev struct {
		Event string `json:"event"`
		Port  int    `json:"port"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		s.t.Logf("channeltest: SMSC wrote a line that is not JSON: %q", line)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Event {
	case "listening":
		listening <- ev.Port
	case "submit_sm":
		var sub Submit
		if err := json.Unmarshal(line, &sub); err != nil {
			s.t.Logf("channeltest: SMSC submit_sm line: %v", err)
			return
		}
		s.submits = append(s.submits, sub)
	case "bind":
		var b Bind
		_ = json.Unmarshal(line, &b)
		s.binds = append(s.binds, b)
	case "mo":
		var mo struct {
			Sessions int `json:"sessions"`
		}
		_ = json.Unmarshal(line, &mo)
		s.mos = append(s.mos, mo.Sessions)
	case "enquire_link":
		s.enquire++
	case "deliver_sm_resp":
		var r struct {
			Status int `json:"status"`
		}
		_ = json.Unmarshal(line, &r)
		s.deliverResps = append(s.deliverResps, r.Status)
	case "unbind":
		s.unbinds++
	}
	s.notify()
}

// Deliver sends a message from a handset: a deliver_sm (esm_class 0) from source (digits,
// international, e.g. "923001234567") to destination, GSM when text is printable ASCII,
// UCS-2 otherwise, to every session bound as transceiver or receiver. It waits up to 10 s
// for such a session (the client binds when it first sends or starts) and fails the test
// when there is none.
func (s *SMSCServer) Deliver(source, destination, text string) {
	s.t.Helper()
	line, _ := json.Marshal(map[string]string{"command": "deliver", "source": source, "destination": destination, "text": text})
	s.deliver(line)
}

// DeliverResps returns the command_status of every deliver_sm_resp received so far (receipts'
// and messages from handsets alike), in order.
func (s *SMSCServer) DeliverResps() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.deliverResps...)
}

// MOParts says how DeliverParts cuts a message from a handset into concatenated parts.
type MOParts struct {
	Parts int   // parts, 2 or more (the text is cut into this many pieces of whole characters)
	Ref   int   // the reference shared by the parts
	Ref16 bool  // a 16-bit reference (UDH IEI 0x08) instead of an 8-bit one (IEI 0x00)
	SAR   bool  // sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs instead of a UDH
	Order []int // part numbers in the order they are sent (repeats are duplicates); nil: 1..Parts
}

// DeliverParts sends a long message from a handset as several deliver_sm, as an SMSC
// forwards a concatenated SMS: each with a concatenation UDH (esm_class UDHI 0x40) or the
// SAR TLVs, as o says. Otherwise as Deliver.
func (s *SMSCServer) DeliverParts(source, destination, text string, o MOParts) {
	s.t.Helper()
	line, _ := json.Marshal(map[string]any{"command": "deliver", "source": source, "destination": destination, "text": text,
		"parts": o.Parts, "ref": o.Ref, "ref16": o.Ref16, "sar": o.SAR, "order": o.Order})
	s.deliver(line)
}

func (s *SMSCServer) deliver(line []byte) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		w, n := s.stdin, len(s.mos)
		s.mu.Unlock()
		if w == nil {
			s.t.Fatal("channeltest: Deliver: the SMSC is not running")
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			s.t.Fatalf("channeltest: Deliver: %v", err)
		}
		for {
			s.mu.Lock()
			got := len(s.mos) > n
			sessions := 0
			if got {
				sessions = s.mos[n]
			}
			ch := s.changed
			s.mu.Unlock()
			if got && sessions > 0 {
				return
			}
			if got {
				break
			}
			select {
			case <-ch:
			case <-time.After(time.Until(deadline)):
				s.t.Fatal("channeltest: Deliver: the SMSC did not answer the control command")
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatal("channeltest: Deliver: no client bound as transceiver or receiver")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notify wakes Wait; s.mu must be held.
func (s *SMSCServer) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Stop stops the server (SIGTERM: it drops every session, as a crashed SMSC would) and waits
// for it to exit. Stopping a stopped server does nothing.
func (s *SMSCServer) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops the server and starts it again on the same port. What it recorded is kept.
func (s *SMSCServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Submits returns every submit_sm received so far, refused ones included, in arrival order.
func (s *SMSCServer) Submits() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submit(nil), s.submits...)
}

// Binds returns every bind request received so far.
func (s *SMSCServer) Binds() []Bind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Bind(nil), s.binds...)
}

// EnquireLinks returns how many enquire_link requests the server has answered.
func (s *SMSCServer) EnquireLinks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enquire
}

// Unbinds returns how many unbind requests the server has answered.
func (s *SMSCServer) Unbinds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unbinds
}

// Received returns the accepted messages, concatenated ones reassembled (by source,
// destination and UDH reference) once all their parts have arrived, in the order they were
// completed.
func (s *SMSCServer) Received() []SMS {
	return Reassemble(s.Submits())
}

// Reassemble puts accepted submits together as Received does.
func Reassemble(subs []Submit) []SMS {
	type key struct {
		src, dst string
		ref      int
	}
	var out []SMS
	groups := map[key][]Submit{}
	for _, sub := range subs {
		if sub.Status != 0 {
			continue
		}
		if sub.UDH == nil || sub.UDH.Total <= 1 {
			out = append(out, SMS{Source: sub.Source, Destination: sub.Destination, DataCoding: sub.DataCoding,
				Text: sub.Text, Parts: 1, MessageIDs: []string{sub.MessageID}})
			continue
		}
		k := key{sub.Source, sub.Destination, sub.UDH.Ref}
		groups[k] = append(groups[k], sub)
		if len(groups[k]) == sub.UDH.Total {
			parts := groups[k]
			delete(groups, k)
			sort.SliceStable(parts, func(i, j int) bool { return parts[i].UDH.Part < parts[j].UDH.Part })
			m := SMS{Source: sub.Source, Destination: sub.Destination, DataCoding: parts[0].DataCoding,
				Parts: len(parts), Ref: sub.UDH.Ref}
			var text strings.Builder
			for _, p := range parts {
				text.WriteString(p.Text)
				m.MessageIDs = append(m.MessageIDs, p.MessageID)
			}
			m.Text = text.String()
			out = append(out, m)
		}
	}
	return out
}

// Wait polls cond each time the server records something, until it holds or timeout passes;
// it fails the test then, with the server's stderr.
func (s *SMSCServer) Wait(timeout time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.mu.Lock()
			var errText string
			if s.stderr != nil {
				errText = s.stderr.String()
			}
			s.mu.Unlock()
			s.t.Fatalf("channeltest: SMSC: %s: not within %v (server stderr: %q)", what, timeout, errText)
		}
	}
}
