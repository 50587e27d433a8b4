package kannel_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/sms"
)

const (
	gsmText  = "Flood warning: Chenab at Marala 3.2 m & rising {high}. Move to high ground. €5 fine @ 10:00"
	urduText = "سیلاب کا انتباہ: چناب کا پانی بڑھ رہا ہے۔ اونچی جگہ پر چلے جائیں۔"
	to       = "+923001234567"
)

func sender(t testing.TB, k *channeltest.KannelServer, mod func(*kannel.Options)) *kannel.Sender {
	t.Helper()
	o := kannel.Options{URL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "Rabta"}
	if mod != nil {
		mod(&o)
	}
	s, err := kannel.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func msg(id int64, text string) channel.Message {
	return channel.Message{DeliveryID: id, Kind: channel.SMS, To: to, Text: text}
}

// reports collects what a DLRHandler passes on.
type reports struct {
	mu      sync.Mutex
	got     []channel.Report
	changed chan struct{}
}

func newReports() *reports { return &reports{changed: make(chan struct{}, 1000)} }

func (r *reports) add(rep channel.Report) {
	r.mu.Lock()
	r.got = append(r.got, rep)
	r.mu.Unlock()
	r.changed <- struct{}{}
}

// wait waits until ok holds for the reports so far.
func (r *reports) wait(t *testing.T, what string, ok func([]channel.Report) bool) []channel.Report {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]channel.Report(nil), r.got...)
		r.mu.Unlock()
		if ok(got) {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("no %s among the reports: %+v", what, got)
		}
	}
}

func has(id int64, status string) func([]channel.Report) bool {
	return func(rs []channel.Report) bool {
		for _, r := range rs {
			if r.DeliveryID == id && strings.HasPrefix(r.Status, status) {
				return true
			}
		}
		return false
	}
}

func TestKannel(t *testing.T) {
	t.Parallel()
	k := channeltest.Kannel(t, channeltest.KannelOptions{})
	rep := newReports()
	const secret = "dlr-secret"
	dlr := httptest.NewServer(kannel.DLRHandler(secret, rep.add, nil))
	t.Cleanup(dlr.Close)
	s := sender(t, k, func(o *kannel.Options) { o.DLRURL = dlr.URL + "/sms/kannel/dlr"; o.DLRSecret = secret })
	ctx := context.Background()
	long := strings.Repeat(urduText+" ", 3)
	multiline := "Flood warning\nChenab at Marala\n\nMove to high ground"
	texts := []string{gsmText, urduText, long, multiline}
	for i, text := range texts {
		r, err := s.Submit(ctx, msg(int64(i+1), text))
		if err != nil {
			t.Fatal(err)
		}
		if r.Queued || r.Parts != sms.Analyze(text).Parts || !strings.HasPrefix(r.Status, "0:") {
			t.Errorf("text %d: result %+v, want accepted (not queued) in %d parts", i, r, sms.Analyze(text).Parts)
		}
	}
	got := k.Wait("every text whole", 10*time.Second, func(got []channeltest.KannelSMS) bool {
		return len(got) == len(texts) && got[len(got)-1].Text == multiline
	})
	for i, text := range texts {
		var found bool
		for _, m := range got {
			if m.Text != text {
				continue
			}
			found = true
			p := sms.Analyze(text)
			if m.To != to || m.From != "Rabta" || m.Coding != p.Coding || m.Parts != p.Parts {
				t.Errorf("text %d arrived as to %s from %s, %v in %d parts; want %v in %d parts", i, m.To, m.From, m.Coding, m.Parts, p.Coding, p.Parts)
			}
		}
		if !found {
			t.Errorf("text %d did not arrive intact; the fake SMSC got %+v", i, got)
		}
	}
	if p := sms.Analyze(long).Parts; p < 3 {
		t.Fatalf("the long text takes %d parts; the test wants at least 3", p)
	}
	if n, want := len(k.Segments()), 1+1+sms.Analyze(long).Parts+1; sms.Analyze(urduText).Parts != 1 || n != want {
		t.Errorf("the fake SMSC received %d segments, want %d: %+v", n, want, k.Segments())
	}

	// Kannel's fake SMSC reports "SMSC submit" when it took the message and "delivered"
	// right after; a concatenated message gets one of each, not one per part.
	for i := range texts {
		id := int64(i + 1)
		rs := rep.wait(t, "smsc_submit and delivered", func(rs []channel.Report) bool {
			return has(id, "smsc_submit")(rs) && has(id, "delivered")(rs)
		})
		for _, r := range rs {
			if r.DeliveryID == id && r.Status == "delivered" && (!r.Delivered || r.Failed || r.At.IsZero()) {
				t.Errorf("delivered report %+v", r)
			}
		}
	}

	t.Run("refused", func(t *testing.T) {
		bad := sender(t, k, func(o *kannel.Options) { o.Password = "not-the-password" })
		_, err := bad.Send(ctx, msg(10, "x"))
		if !channel.IsPermanent(err) {
			t.Fatalf("wrong password: err = %v, want permanent", err)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, m := range []channel.Message{
			{DeliveryID: 1, Kind: channel.SMS, To: "03001234567", Text: "x"},
			{DeliveryID: 1, Kind: channel.SMS, To: "+92 300 1234567", Text: "x"},
			{DeliveryID: 1, Kind: channel.Email, To: to, Text: "x"},
			{DeliveryID: 1, Kind: channel.SMS, To: to, Text: strings.Repeat("ا", 11*67)},
		} {
			if _, err := s.Send(ctx, m); !channel.IsPermanent(err) {
				t.Errorf("%v: err = %v, want permanent", m, err)
			} else if strings.Contains(err.Error(), "1234567") {
				t.Errorf("the error shows the number: %v", err)
			}
		}
	})
}

// TestOutage stops the SMSC (Kannel queues, and says so) and then the whole gateway (Send
// fails, transiently, and works again after the restart).
func TestOutage(t *testing.T) {
	t.Parallel()
	k := channeltest.Kannel(t, channeltest.KannelOptions{})
	rep := newReports()
	const secret = "s3"
	dlr := httptest.NewServer(kannel.DLRHandler(secret, rep.add, nil))
	t.Cleanup(dlr.Close)
	s := sender(t, k, func(o *kannel.Options) { o.DLRURL = dlr.URL; o.DLRSecret = secret; o.Timeout = 3 * time.Second })
	ctx := context.Background()

	k.StopSMSC()
	r, err := s.Submit(ctx, msg(1, "queued while the SMSC is away"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Queued || !strings.HasPrefix(r.Status, "3:") {
		t.Fatalf("SMSC down: result %+v, want queued", r)
	}
	if n := len(k.Received()); n != 0 {
		t.Fatalf("the fake SMSC received %d messages while stopped", n)
	}
	k.StartSMSC()
	if got := k.WaitReceived(1, 10*time.Second); got[0].Text != "queued while the SMSC is away" {
		t.Fatalf("after the SMSC returned: %+v", got)
	}
	rep.wait(t, "smsc_submit for the queued message", has(1, "smsc_submit"))

	k.Stop()
	_, err = s.Send(ctx, msg(2, "gateway down"))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("gateway down: err = %v, want a transient error", err)
	}
	if strings.Contains(err.Error(), k.Password) || strings.Contains(err.Error(), "password") {
		t.Errorf("the error shows the password or the URL with it: %v", err)
	}
	k.Start()
	if _, err := s.Send(ctx, msg(3, "gateway back")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	got := k.WaitReceived(2, 10*time.Second)
	for _, m := range got {
		if m.Text == "gateway down" {
			t.Errorf("a message refused while the gateway was down arrived")
		}
	}
	if got[1].Text != "gateway back" {
		t.Errorf("after restart the fake SMSC got %+v", got)
	}
}

// TestThroughput checks Rabta's limit (Send waits for its turn within ctx), counted where
// the fake SMSC receives, and records what the gateway's own (the SMSC group's throughput)
// does.
func TestThroughput(t *testing.T) {
	t.Parallel()
	const perSecond, n = 10, 25
	ctx := context.Background()

	t.Run("gateway", func(t *testing.T) {
		t.Parallel()
		k := channeltest.Kannel(t, channeltest.KannelOptions{Throughput: perSecond})
		s := sender(t, k, nil)
		// Kannel 1.4.5's fake SMSC pauses 1/throughput after each segment, but every new
		// message handed to it cuts the pause short: its limit does not hold. Seen here
		// with 25 queued segments at 10/s: from 1 ms (no pacing at all) to 2.3 s, and up
		// to 19 in one second. So this only records what the gateway did; the limit that
		// holds is Rabta's own (below), and it should be set at or under the operator's.
		k.StopSMSC()
		for i := range n {
			if r, err := s.Submit(ctx, msg(int64(i+1), "burst")); err != nil || !r.Queued {
				t.Fatalf("message %d: %+v, %v; want queued", i, r, err)
			}
		}
		k.StartSMSC()
		k.WaitReceived(n, 10*time.Second)
		segs := k.Segments()
		if len(segs) != n {
			t.Fatalf("received %d segments, want %d", len(segs), n)
		}
		logged := map[int64]int{}
		for _, s := range segs {
			logged[s.Logged.Unix()]++
		}
		t.Logf("Kannel's throughput %d/s: %d segments in %v, per second %v", perSecond, n, segs[n-1].At.Sub(segs[0].At), logged)
	})

	t.Run("rabta", func(t *testing.T) {
		t.Parallel()
		k := channeltest.Kannel(t, channeltest.KannelOptions{})
		s := sender(t, k, func(o *kannel.Options) { o.Rate = perSecond; o.Burst = 1 })
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := s.Send(ctx, msg(int64(i+1), "paced")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		k.WaitReceived(n, 10*time.Second)
		// Counted per second of fakesmsc's own clock, allowing 2 for a second's edge.
		logged := map[int64]int{}
		for _, s := range k.Segments() {
			logged[s.Logged.Unix()]++
		}
		for sec, c := range logged {
			if c > perSecond+2 {
				t.Errorf("the fake SMSC logged %d segments in second %d; Rabta's limit is %d/s (%v)", c, sec, perSecond, logged)
			}
		}

		limited := sender(t, k, func(o *kannel.Options) { o.Rate = 0.5; o.Burst = 1 })
		if _, err := limited.Send(ctx, msg(100, "first")); err != nil {
			t.Fatal(err)
		}
		// The next token is 2 s away: Send gives up at once rather than outwait ctx.
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := limited.Send(short, msg(101, "second")); err == nil || channel.IsPermanent(err) {
			t.Fatalf("over Rabta's rate: err = %v, want a transient error", err)
		}
		for _, m := range k.WaitReceived(n+1, 10*time.Second) {
			if m.Text == "second" {
				t.Errorf("a message over Rabta's rate was sent")
			}
		}
	})
}

// TestRefusedNumber: a number the gateway refuses (its white list) is a permanent error.
func TestRefusedNumber(t *testing.T) {
	t.Parallel()
	k := channeltest.Kannel(t, channeltest.KannelOptions{WhiteList: `^\+92[0-9]{10}$`})
	s := sender(t, k, nil)
	_, err := s.Send(context.Background(), channel.Message{DeliveryID: 1, Kind: channel.SMS, To: "+8613800138000", Text: "x"})
	if !channel.IsPermanent(err) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("number off the white list: err = %v, want a permanent 400", err)
	}
	if strings.Contains(err.Error(), "13800138000") {
		t.Errorf("the error shows the number: %v", err)
	}
	if _, err := s.Send(context.Background(), msg(2, "x")); err != nil {
		t.Fatal(err)
	}
	if got := k.WaitReceived(1, 10*time.Second); len(got) != 1 || got[0].To != to {
		t.Errorf("received %+v", got)
	}
}

func TestNew(t *testing.T) {
	ok := kannel.Options{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p"}
	for _, tc := range []struct {
		name string
		mod  func(*kannel.Options)
		want string
	}{
		{"no url", func(o *kannel.Options) { o.URL = "" }, "URL"},
		{"ftp", func(o *kannel.Options) { o.URL = "ftp://h/x" }, "URL"},
		{"password in url", func(o *kannel.Options) { o.URL = "http://u:p@h/cgi-bin/sendsms" }, "URL"},
		{"query in url", func(o *kannel.Options) { o.URL = "http://h/cgi-bin/sendsms?password=p" }, "URL"},
		{"no username", func(o *kannel.Options) { o.Username = "" }, "username"},
		{"dlr without secret", func(o *kannel.Options) { o.DLRURL = "https://r.example/dlr" }, "dlr_secret"},
		{"relative dlr", func(o *kannel.Options) { o.DLRURL = "/dlr"; o.DLRSecret = "s" }, "dlr_url"},
		{"mask", func(o *kannel.Options) { o.DLRMask = 64 }, "dlr_mask"},
		{"rate", func(o *kannel.Options) { o.Rate = -1 }, "rate"},
		{"parts", func(o *kannel.Options) { o.MaxParts = 256 }, "max_parts"},
	} {
		o := ok
		tc.mod(&o)
		_, err := kannel.New(o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %s", tc.name, err, tc.want)
		}
	}
	if _, err := kannel.New(ok); err != nil {
		t.Error(err)
	}
}

// BenchmarkSend measures SMS accepted per second by Kannel's sendsms (sms/s) and received
// by its fake SMSC (smsc_sms/s), whose group allows 500 segments per second: with Rabta
// unlimited (gateway_limit) and with Rabta's own limit also at 500/s (rabta_limit).
//
//	go test -run '^$' -bench Send -benchtime 3000x ./internal/channel/kannel
func BenchmarkSend(b *testing.B) {
	const limit = 500
	for _, bc := range []struct {
		name string
		rate float64
	}{{"gateway_limit", 0}, {"rabta_limit", limit}} {
		b.Run(bc.name, func(b *testing.B) {
			k := channeltest.Kannel(b, channeltest.KannelOptions{Throughput: limit})
			s := sender(b, k, func(o *kannel.Options) { o.Rate = bc.rate })
			ctx := context.Background()
			var id atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Send(ctx, msg(id.Add(1), gsmText)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			accepted := time.Since(start)
			b.StopTimer()
			k.WaitReceived(b.N, time.Duration(b.N/limit+30)*time.Second)
			received := time.Since(start)
			b.ReportMetric(float64(b.N)/accepted.Seconds(), "sms/s")
			b.ReportMetric(float64(b.N)/received.Seconds(), "smsc_sms/s")
		})
	}
}
