package smpp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/sms"
)

const wait = 15 * time.Second // upper bound for events; tests pass in far less

// reports collects delivery reports.
type reports struct {
	mu  sync.Mutex
	all []channel.Report
	ch  chan struct{}
}

func newReports() *reports { return &reports{ch: make(chan struct{}, 1000)} }

func (r *reports) add(rep channel.Report) {
	r.mu.Lock()
	r.all = append(r.all, rep)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// waitFor returns the report for id, waiting for it.
func (r *reports) waitFor(t *testing.T, id string) channel.Report {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		for _, rep := range r.all {
			if rep.GatewayID == id {
				r.mu.Unlock()
				return rep
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no delivery report for %q within %v", id, wait)
		}
	}
}

func (r *reports) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

func newSender(t testing.TB, srv *channeltest.SMSCServer, edit func(*smpp.Options)) *smpp.Sender {
	t.Helper()
	o := smpp.Options{
		Addr:           srv.Addr,
		SystemID:       srv.SystemID,
		Password:       srv.Password,
		SystemType:     "rabta",
		Source:         "RABTA",
		Rate:           math.Inf(1),
		RebindInterval: 50 * time.Millisecond,
		BindTimeout:    5 * time.Second,
	}
	if edit != nil {
		edit(&o)
	}
	s, err := smpp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func msg(to, text string) channel.Message {
	return channel.Message{DeliveryID: 1, Kind: channel.SMS, To: to, Language: "en", Text: text}
}

func TestBind(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, nil)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Wait(wait, "the bind", func() bool { return len(srv.Binds()) > 0 })
	binds := srv.Binds()
	if len(binds) != 1 || binds[0].Command != "bind_transceiver" || binds[0].SystemID != srv.SystemID ||
		binds[0].SystemType != "rabta" || !binds[0].OK {
		t.Fatalf("binds = %+v, want one accepted bind_transceiver as %q", binds, srv.SystemID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Wait(wait, "the unbind", func() bool { return srv.Unbinds() == 1 })
	if _, err := s.Send(context.Background(), msg("+923001234567", "hi")); !errors.Is(err, smpp.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestBindWrongPassword(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	var logs syncBuffer
	s := newSender(t, srv, func(o *smpp.Options) {
		o.Password = "wrong"
		// as the node gives it: named by its component, which the sender does not add again
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "smpp")
		o.Logger.Info("options", "smpp", *o)
	})
	err := s.Start(context.Background())
	if err == nil {
		t.Fatal("bind with a wrong password succeeded")
	}
	for _, want := range []string{"ESME_RBINDFAIL", "check system_id and password", srv.SystemID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bind error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("bind error %q shows the password", err)
	}
	_, err = s.Send(context.Background(), msg("+923001234567", "hi"))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("Send while the bind is refused: %v, want a transient error", err)
	}
	if out := logs.String(); !strings.Contains(out, "smpp_bind_failed") || strings.Contains(out, "wrong") {
		t.Errorf("logs should record the refused bind without the password:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Count(line, `"component":`) != 1 {
			t.Errorf("want one component: %s", line)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestCoding(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, func(o *smpp.Options) { o.Source = "+923450000000" })
	for _, tc := range []struct {
		name, text string
		coding     int
	}{
		{"gsm", "Flood warning: River Ravi at Lahore above 5.2 m. Move to high ground {now} ~ €", 0},
		{"urdu", "سیلاب کی وارننگ: دریائے راوی، لاہور۔ فوراً اونچی جگہ پر چلے جائیں۔", 8},
		{"astral", "Warning 🌊 flood", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcpt, err := s.Send(context.Background(), msg("+923001234567", tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if rcpt.Parts != 1 || rcpt.GatewayID == "" {
				t.Fatalf("receipt = %+v, want one part and a message_id", rcpt)
			}
			var got *channeltest.Submit
			srv.Wait(wait, "the submit_sm", func() bool {
				for _, sub := range srv.Submits() {
					if sub.MessageID == rcpt.GatewayID {
						got = &sub
						return true
					}
				}
				return false
			})
			if got.DataCoding != tc.coding || got.Text != tc.text || got.UDH != nil || got.ESMClass != 0 {
				t.Errorf("server got data_coding %d esm_class %#x udh %v text %q; want %d, 0, none, %q",
					got.DataCoding, got.ESMClass, got.UDH, got.Text, tc.coding, tc.text)
			}
			if got.Destination != "923001234567" || got.DestinationTON != 1 || got.DestinationNPI != 1 {
				t.Errorf("destination %q TON %d NPI %d, want 923001234567 1 1", got.Destination, got.DestinationTON, got.DestinationNPI)
			}
			if got.Source != "923450000000" || got.SourceTON != 1 || got.SourceNPI != 1 {
				t.Errorf("source %q TON %d NPI %d, want 923450000000 1 1", got.Source, got.SourceTON, got.SourceNPI)
			}
			if got.Registered != 1 {
				t.Errorf("registered_delivery = %d, want 1", got.Registered)
			}
		})
	}
}

func TestLongMessages(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, nil)
	urdu := strings.Repeat("سیلاب کی وارننگ: دریائے راوی میں پانی کی سطح بلند ہو رہی ہے۔ ", 6)
	gsm := strings.Repeat("Flood warning for Lahore [Ravi] {5.2 m}. ", 12)
	for _, tc := range []struct {
		name, text string
		coding     int
	}{{"urdu", urdu, 8}, {"gsm", gsm, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			want := sms.Analyze(tc.text).Parts
			if want < 3 {
				t.Fatalf("test text takes %d parts; make it longer", want)
			}
			rcpt, err := s.Send(context.Background(), msg("+923001234567", tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if rcpt.Parts != want {
				t.Fatalf("Parts = %d, want %d", rcpt.Parts, want)
			}
			var got channeltest.SMS
			srv.Wait(wait, "the reassembled message", func() bool {
				for _, m := range srv.Received() {
					if m.Parts > 1 && m.MessageIDs[0] == rcpt.GatewayID {
						got = m
						return true
					}
				}
				return false
			})
			if got.Parts != want || got.DataCoding != tc.coding || got.Text != tc.text {
				t.Errorf("server reassembled %d parts, data_coding %d, text %q; want %d, %d, %q",
					got.Parts, got.DataCoding, got.Text, want, tc.coding, tc.text)
			}
			for _, sub := range srv.Submits() {
				if sub.UDH != nil && sub.UDH.Ref == got.Ref && sub.Destination == got.Destination {
					if sub.ESMClass&0x40 == 0 || sub.UDH.Total != want {
						t.Errorf("part %d: esm_class %#x, total %d; want UDHI and %d", sub.UDH.Part, sub.ESMClass, sub.UDH.Total, want)
					}
				}
			}
		})
	}
}

func TestReports(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSCWith(t, channeltest.SMSCOptions{FailPrefix: "9231"})
	reps := newReports()
	s := newSender(t, srv, func(o *smpp.Options) { o.Reports = reps.add })
	ctx := context.Background()

	one, err := s.Send(ctx, msg("+923001234567", "Flood warning"))
	if err != nil {
		t.Fatal(err)
	}
	if rep := reps.waitFor(t, one.GatewayID); !rep.Delivered || rep.Failed || rep.Status != "DELIVRD" || rep.At.IsZero() {
		t.Errorf("report = %+v, want delivered DELIVRD", rep)
	}

	long, err := s.Send(ctx, msg("+923001234567", strings.Repeat("سیلاب کی وارننگ ", 20)))
	if err != nil {
		t.Fatal(err)
	}
	if rep := reps.waitFor(t, long.GatewayID); !rep.Delivered || rep.Status != "DELIVRD" {
		t.Errorf("report for %d parts = %+v, want one delivered report", long.Parts, rep)
	}

	failed, err := s.Send(ctx, msg("+923101234567", "Flood warning"))
	if err != nil {
		t.Fatal(err)
	}
	if rep := reps.waitFor(t, failed.GatewayID); rep.Delivered || !rep.Failed || rep.Status != "UNDELIV" {
		t.Errorf("report = %+v, want failed UNDELIV", rep)
	}
	// Every part of the long message had its receipt, but they make one report.
	srv.Wait(wait, "every receipt", func() bool { return len(srv.Submits()) == 2+long.Parts })
	if n := reps.count(); n != 3 {
		t.Errorf("%d reports, want 3 (the long message's parts gathered into one)", n)
	}
}

func TestEnquireLink(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, func(o *smpp.Options) { o.EnquireLink = 50 * time.Millisecond })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Wait(wait, "two enquire_link", func() bool { return srv.EnquireLinks() >= 2 })
}

func TestRebindAfterRestart(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	reps := newReports()
	s := newSender(t, srv, func(o *smpp.Options) { o.Reports = reps.add; o.ResponseTimeout = 2 * time.Second })
	ctx := context.Background()
	if _, err := s.Send(ctx, msg("+923001234567", "before")); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	// The sender learns of the loss and rebinds by itself; until then Send fails transiently.
	var rcpt channel.Receipt
	deadline := time.Now().Add(wait)
	for {
		var err error
		rcpt, err = s.Send(ctx, msg("+923001234567", "after"))
		if err == nil {
			break
		}
		if channel.IsPermanent(err) {
			t.Fatalf("Send while rebinding: permanent error %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rebind within %v: %v", wait, err)
		}
		time.Sleep(20 * time.Millisecond) // the sender's own rebind interval is 50 ms
	}
	reps.waitFor(t, rcpt.GatewayID)
	srv.Wait(wait, "both messages", func() bool { return len(srv.Received()) >= 2 })
	var texts []string
	for _, m := range srv.Received() {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "before,after" {
		t.Errorf("server received %q, want before and after", texts)
	}
	if n := len(srv.Binds()); n < 2 {
		t.Errorf("%d binds, want a second one after the restart", n)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSCWith(t, channeltest.SMSCOptions{RefusePrefix: "9299", ThrottlePrefix: "9298"})
	s := newSender(t, srv, nil)
	ctx := context.Background()

	_, err := s.Send(ctx, msg("+929912345678", "hi"))
	var se *smpp.StatusError
	if !channel.IsPermanent(err) || !errors.As(err, &se) || se.Status != data.ESME_RINVDSTADR {
		t.Errorf("refused destination: %v, want a permanent ESME_RINVDSTADR", err)
	}
	if err != nil && strings.Contains(err.Error(), "929912345678") {
		t.Errorf("error %q shows the phone number", err)
	}

	_, err = s.Send(ctx, msg("+929812345678", "hi"))
	if err == nil || channel.IsPermanent(err) || !errors.As(err, &se) || se.Status != data.ESME_RTHROTTLED {
		t.Errorf("throttled: %v, want a transient ESME_RTHROTTLED", err)
	}

	for _, to := range []string{"03001234567", "+0300", "+92 300 1234567", "", "+9230012345678901"} {
		if _, err := s.Send(ctx, msg(to, "hi")); !channel.IsPermanent(err) {
			t.Errorf("recipient %q: %v, want a permanent error", to, err)
		}
	}
	if _, err := s.Send(ctx, channel.Message{Kind: channel.Email, To: "+923001234567"}); !channel.IsPermanent(err) {
		t.Errorf("an e-mail message: %v, want a permanent error", err)
	}
	// Both refusals were recorded before they were answered; the invalid recipients never left.
	srv.Wait(wait, "two submit_sm", func() bool { return len(srv.Submits()) >= 2 })
	if n := len(srv.Submits()); n != 2 {
		t.Errorf("server saw %d submit_sm, want 2 (invalid recipients never sent)", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, func(o *smpp.Options) { o.Window = 4 })
	var wg sync.WaitGroup
	ids := make([]string, 40)
	errs := make([]error, len(ids))
	for i := range ids {
		wg.Go(func() {
			r, err := s.Send(context.Background(), msg(fmt.Sprintf("+9230000000%02d", i), fmt.Sprintf("message %d", i)))
			ids[i], errs[i] = r.GatewayID, err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[id] {
			t.Fatalf("message_id %q returned twice: responses crossed", id)
		}
		seen[id] = true
	}
	// Each Send got the message_id of its own submit_sm.
	srv.Wait(wait, "every submit_sm", func() bool { return len(srv.Submits()) == len(ids) })
	for _, sub := range srv.Submits() {
		var i int
		if _, err := fmt.Sscanf(sub.Text, "message %d", &i); err != nil || ids[i] != sub.MessageID {
			t.Errorf("submit %q got message_id %q, Send returned %q", sub.Text, sub.MessageID, ids[i])
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	s := newSender(t, srv, func(o *smpp.Options) { o.Rate, o.Burst = 0.001, 1 })
	if _, err := s.Send(context.Background(), msg("+923001234567", "first")); err != nil {
		t.Fatal(err)
	}
	// The next token is 1000 s away: a short deadline ends the wait, with a transient error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Send(ctx, msg("+923001234567", "second")); err == nil || channel.IsPermanent(err) {
		t.Fatalf("Send beyond the rate: %v, want a transient error", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []smpp.Options{
		{},
		{Addr: "localhost", SystemID: "x"},
		{Addr: "127.0.0.1:2775"},
		{Addr: "127.0.0.1:2775", SystemID: "x", Password: "longerthan8"},
		{Addr: "127.0.0.1:2775", SystemID: "x", Source: "TWELVE-CHARS"},
		{Addr: "127.0.0.1:2775", SystemID: "x", Source: "+0123"},
		{Addr: "127.0.0.1:2775", SystemID: "x", Rate: -1},
	} {
		if _, err := smpp.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// BenchmarkSend measures submit_sm per second through one session (each answered, with a
// receipt back) with no rate limit and with a limit of 500/s:
//
//	go test -run '^$' -bench BenchmarkSend -benchtime 2000x ./internal/channel/smpp
func BenchmarkSend(b *testing.B) {
	for _, limit := range []float64{math.Inf(1), 500} {
		b.Run(fmt.Sprintf("rate=%v", limit), func(b *testing.B) {
			srv := channeltest.SMSC(b)
			s := newSender(b, srv, func(o *smpp.Options) { o.Rate, o.Burst, o.Window = limit, 1, 32 })
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Send(context.Background(), msg("+923001234567", "Flood warning: move to high ground")); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
		})
	}
}

func TestSMSCDownAtFirstSend(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	srv.Stop()
	s := newSender(t, srv, nil)
	if _, err := s.Send(context.Background(), msg("+923001234567", "hi")); err == nil || channel.IsPermanent(err) {
		t.Fatalf("Send with the SMSC down: %v, want a transient error", err)
	}
	srv.Start()
	if _, err := s.Send(context.Background(), msg("+923001234567", "hi")); err != nil {
		t.Fatalf("Send once the SMSC is up: %v", err)
	}
}
