package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/webhook"
)

const secret = "whsec_5uP3r-s3cr3t"

var capXML = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>urn:oid:2.49.0.1.586.0.2026.1</identifier>` +
	`<info><language>ur</language><headline>قادرآباد بیراج پر کم درجے کا سیلاب</headline></info></alert>`)

// receiver is a partner's endpoint: it verifies each delivery as docs/webhooks.md says, drops
// deliveries it has already processed, and records what it accepted.
type receiver struct {
	mu        sync.Mutex
	accepted  [][]byte
	headers   []http.Header
	processed map[string]bool
	rejected  []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.rejected = append(rc.rejected, err)
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	id := r.Header.Get(webhook.DeliveryHeader)
	if rc.processed[id] {
		w.WriteHeader(http.StatusOK) // already done: acknowledge, do nothing
		return
	}
	if rc.processed == nil {
		rc.processed = map[string]bool{}
	}
	rc.processed[id] = true
	rc.accepted = append(rc.accepted, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	w.WriteHeader(http.StatusAccepted)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSender(t *testing.T, o webhook.Options) *webhook.Sender {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	s, err := webhook.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func message(id int64, url string) channel.Message {
	return channel.Message{DeliveryID: id, Kind: channel.Webhook, To: url, Alert: "urn:oid:2.49.0.1.586.0.2026.1",
		Body: capXML, ContentType: "application/cap+xml", Secret: secret}
}

func TestSendOverTLS(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	s := newSender(t, webhook.Options{Transport: srv.Client().Transport})
	if s.Kind() != channel.Webhook {
		t.Errorf("Kind = %q", s.Kind())
	}
	url := srv.URL + "/hooks/rabta?token=partner-token"
	rcpt, err := s.Send(context.Background(), message(42, url))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Parts != 1 {
		t.Errorf("Parts = %d", rcpt.Parts)
	}
	// The same delivery again (a retry after a lost answer): accepted, processed once.
	if _, err := s.Send(context.Background(), message(42, url)); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.rejected) > 0 {
		t.Fatalf("receiver rejected: %v", rc.rejected)
	}
	if len(rc.accepted) != 1 || !bytes.Equal(rc.accepted[0], capXML) {
		t.Fatalf("accepted %d bodies, want the CAP message once", len(rc.accepted))
	}
	h := rc.headers[0]
	for name, want := range map[string]string{
		"Content-Type":         "application/cap+xml",
		webhook.DeliveryHeader: "42",
		"Idempotency-Key":      "42",
		webhook.AlertHeader:    "urn:oid:2.49.0.1.586.0.2026.1",
		"User-Agent":           "Rabta-Webhook/1",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestSignatureFromTheSendersClock(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	defer srv.Close()
	at := time.Unix(1_784_000_000, 0)
	s := newSender(t, webhook.Options{Now: func() time.Time { return at }, AllowNetworks: loopback})
	if _, err := s.Send(context.Background(), message(1, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if want := webhook.Sign(secret, at, capXML); got.Get(webhook.SignatureHeader) != want {
		t.Errorf("signature %q, want %q", got.Get(webhook.SignatureHeader), want)
	}
	if !strings.HasPrefix(got.Get(webhook.SignatureHeader), "t=1784000000,v1=") {
		t.Errorf("signature %q does not start with the timestamp", got.Get(webhook.SignatureHeader))
	}
	// A receiver ten minutes later refuses it.
	if err := webhook.Verify(secret, got.Get(webhook.SignatureHeader), capXML, at.Add(10*time.Minute), 5*time.Minute); !errors.Is(err, webhook.ErrStale) {
		t.Errorf("ten minutes late: %v, want ErrStale", err)
	}
}

func TestAnswers(t *testing.T) {
	var mu sync.Mutex
	var redirected int
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("code") {
		case "200":
		case "204":
			w.WriteHeader(http.StatusNoContent)
		case "301":
			http.Redirect(w, r, "/moved", http.StatusMovedPermanently)
		case "400":
			w.WriteHeader(http.StatusBadRequest)
		case "404":
			w.WriteHeader(http.StatusNotFound)
		case "410":
			w.WriteHeader(http.StatusGone)
		case "408":
			w.WriteHeader(http.StatusRequestTimeout)
		case "429":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case "503":
			w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/moved", func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		redirected++
		mu.Unlock()
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	s := newSender(t, webhook.Options{Transport: srv.Client().Transport})

	for _, c := range []struct {
		code             string
		ok, permanent    bool
		waitMin, waitMax time.Duration
	}{
		{code: "200", ok: true},
		{code: "204", ok: true},
		{code: "301", permanent: true},
		{code: "400", permanent: true},
		{code: "404", permanent: true},
		{code: "410", permanent: true},
		{code: "408"},
		{code: "429", waitMin: 7 * time.Second, waitMax: 7 * time.Second},
		{code: "503", waitMin: time.Minute, waitMax: 2 * time.Minute},
		{code: "500"},
	} {
		_, err := s.Send(context.Background(), message(1, srv.URL+"/status/"+c.code))
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.code, err)
			}
			continue
		}
		if err == nil || channel.IsPermanent(err) != c.permanent {
			t.Errorf("%s: err = %v, want permanent %v", c.code, err, c.permanent)
			continue
		}
		var se *webhook.StatusError
		if !errors.As(err, &se) || fmt.Sprint(se.Code) != c.code {
			t.Errorf("%s: %v is not a StatusError", c.code, err)
		}
		var ra interface{ RetryAfter() time.Duration }
		if !errors.As(err, &ra) {
			t.Errorf("%s: no RetryAfter on %v", c.code, err)
		} else if w := ra.RetryAfter(); w < c.waitMin || w > c.waitMax {
			t.Errorf("%s: RetryAfter %v, want %v…%v", c.code, w, c.waitMin, c.waitMax)
		}
	}
	if redirected != 0 {
		t.Errorf("the redirect was followed %d times", redirected)
	}
}

func TestURLRules(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc) // plain http on 127.0.0.1
	defer srv.Close()
	// A transport that takes any host to the test server, to stand for a partner far away.
	toSrv := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	strict := newSender(t, webhook.Options{Transport: toSrv})
	lax := newSender(t, webhook.Options{Transport: toSrv, AllowHTTP: true})
	ctx := context.Background()

	if _, err := strict.Send(ctx, message(1, srv.URL+"/hook")); err != nil {
		t.Errorf("http to loopback: %v", err)
	}
	for _, u := range []string{"http://partner.example/hook", "ftp://partner.example/hook", "partner.example/hook", "https:///hook"} {
		if _, err := strict.Send(ctx, message(2, u)); !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", u, err)
		}
	}
	if _, err := lax.Send(ctx, message(3, "http://partner.example/hook")); err != nil {
		t.Errorf("http with AllowHTTP: %v", err)
	}
	bad := map[string]channel.Message{
		"no secret":       {To: srv.URL, Body: capXML, ContentType: "application/json"},
		"no content type": {To: srv.URL, Body: capXML, Secret: secret},
		"header newline":  {To: srv.URL, Body: capXML, Secret: secret, ContentType: "application/json", Alert: "a\r\nX-Evil: 1"},
	}
	for name, m := range bad {
		if _, err := strict.Send(ctx, m); !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.accepted) != 2 {
		t.Errorf("%d accepted, want 2", len(rc.accepted))
	}
}

func TestNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewTLSServer(&receiver{})
	url := srv.URL + "/hook?token=partner-token"
	var logs bytes.Buffer
	// the logger as the node gives it: named by its component, which the sender does not add again
	s := newSender(t, webhook.Options{Transport: srv.Client().Transport, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "webhook")})
	srv.Close()
	_, err := s.Send(context.Background(), message(1, url))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("server down: err = %v, want transient", err)
	}
	if !strings.Contains(logs.String(), "webhook_not_delivered") {
		t.Errorf("no debug log of the failure: %s", logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Count(line, "component=") != 1 {
			t.Errorf("want one component: %s", line)
		}
	}
	for _, text := range []string{err.Error(), logs.String()} {
		if strings.Contains(text, "partner-token") || strings.Contains(text, "/hook") {
			t.Errorf("URL path or token in clear: %s", text)
		}
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s := newSender(t, webhook.Options{Timeout: 200 * time.Millisecond, AllowNetworks: loopback})
	_, err := s.Send(context.Background(), message(1, srv.URL))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("hanging endpoint: err = %v, want transient", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []webhook.Options{{Timeout: -1}, {Rate: -1}, {Burst: -1}} {
		if _, err := webhook.New(o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}

// BenchmarkSend measures signed deliveries per second to a local TLS endpoint that verifies
// each one.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	s, err := webhook.New(webhook.Options{Transport: srv.Client().Transport, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), message(1, srv.URL)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
