package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/email"
)

const (
	urduSubject = "سیلاب کی وارننگ: قادرآباد بیراج پر کم درجے کا سیلاب"
	urduText    = "دریائے چناب میں قادرآباد بیراج پر پانی کا بہاؤ بڑھ رہا ہے۔ محفوظ مقام پر چلے جائیں۔\nمزید معلومات کے لیے ضلعی انتظامیہ سے رابطہ کریں۔"
	chineseHTML = "<p lang=\"zh\">洪水预警：卡迪拉巴德堰出现低级洪水。请前往安全地点。</p>\n<p dir=\"rtl\" lang=\"ur\">محفوظ مقام پر چلے جائیں۔</p>"
)

func newSender(t *testing.T, o email.Options) *email.Sender {
	t.Helper()
	if o.From == "" {
		o.From = "Rabta warnings <warnings@rabta.example>"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := email.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func message(id int64, to string) channel.Message {
	return channel.Message{
		DeliveryID: id, Kind: channel.Email, To: to, Language: "ur", Alert: "urn:oid:2.49.0.1.586.0.2026.1",
		Subject: urduSubject, Text: urduText, HTML: chineseHTML,
		UnsubscribeURL: "https://rabta.example/unsubscribe?t=abc123",
	}
}

// parts reads a multipart/alternative body into content type → decoded text.
func parts(t *testing.T, msg *mail.Message) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // undoes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if cp["charset"] != "utf-8" {
			t.Errorf("part %s charset %q, want utf-8", ct, cp["charset"])
		}
		out[ct] = string(b)
	}
	return out
}

func TestSendUrduAndChinese(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	now := time.Date(2026, 7, 14, 9, 30, 0, 0, time.UTC)
	s := newSender(t, email.Options{Addr: srv.Addr, Now: func() time.Time { return now }})
	if s.Kind() != channel.Email {
		t.Errorf("Kind = %q", s.Kind())
	}
	rc, err := s.Send(context.Background(), message(4711, "amina@example.pk"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Parts != 1 {
		t.Errorf("Parts = %d, want 1", rc.Parts)
	}
	got := srv.WaitMails(1, 5*time.Second)[0]
	if got.From != "warnings@rabta.example" || len(got.To) != 1 || got.To[0] != "amina@example.pk" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	var dec mime.WordDecoder
	if subj, err := dec.DecodeHeader(h.Get("Subject")); err != nil || subj != urduSubject {
		t.Errorf("Subject decodes to %q (%v), want %q", subj, err, urduSubject)
	}
	if strings.ContainsFunc(h.Get("Subject"), func(r rune) bool { return r >= 0x80 }) {
		t.Errorf("Subject is not 7-bit: %q", h.Get("Subject"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(now) {
		t.Errorf("Date = %v (%v), want %v", d, err, now)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "warnings@rabta.example" || from[0].Name != "Rabta warnings" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "amina@example.pk" {
		t.Errorf("To = %v (%v)", to, err)
	}
	for name, want := range map[string]string{
		"Message-Id":            "<rabta.delivery.4711@rabta.example>",
		"Content-Language":      "ur",
		"Mime-Version":          "1.0",
		"List-Unsubscribe":      "<https://rabta.example/unsubscribe?t=abc123>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Auto-Submitted":        "auto-generated",
	} {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	p := parts(t, msg)
	if len(p) != 2 {
		t.Fatalf("parts %v, want text/plain and text/html", p)
	}
	if want := strings.ReplaceAll(urduText, "\n", "\r\n"); p["text/plain"] != want {
		t.Errorf("text/plain = %q, want %q", p["text/plain"], want)
	}
	if want := strings.ReplaceAll(chineseHTML, "\n", "\r\n"); p["text/html"] != want {
		t.Errorf("text/html = %q, want %q", p["text/html"], want)
	}
	for _, line := range strings.Split(string(got.Data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78 characters: %q", line)
		}
	}
}

func TestSendPlainTextOnly(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	s := newSender(t, email.Options{Addr: srv.Addr})
	m := channel.Message{DeliveryID: 9, To: "ops@example.org", Language: "en", Subject: "Flood warning: Chenab",
		Text: "Water is rising at Qadirabad Barrage.\nMove to safety. = 100% sure"}
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(srv.WaitMails(1, 5*time.Second)[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Errorf("Content-Transfer-Encoding = %q", cte)
	}
	if msg.Header.Get("Subject") != m.Subject || msg.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("Subject %q, List-Unsubscribe %q", msg.Header.Get("Subject"), msg.Header.Get("List-Unsubscribe"))
	}
}

func TestRefusedRecipient(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	var logs bytes.Buffer
	// the logger as the node gives it: named by its component, which the sender does not add again
	s := newSender(t, email.Options{Addr: srv.Addr, MaxConns: 1, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "email")})
	ctx := context.Background()

	srv.Refuse("gone@example.org", 550)
	_, err := s.Send(ctx, message(1, "gone@example.org"))
	if err == nil || !channel.IsPermanent(err) {
		t.Fatalf("550: err = %v, want a permanent error", err)
	}
	srv.Refuse("busy@example.org", 451)
	_, err = s.Send(ctx, message(2, "busy@example.org"))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("451: err = %v, want a transient error", err)
	}
	if !strings.Contains(logs.String(), "email_not_sent") {
		t.Errorf("no debug log of the refusals: %s", logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Count(line, "component=") != 1 {
			t.Errorf("want one component: %s", line)
		}
	}
	for _, text := range []string{err.Error(), logs.String()} {
		if strings.Contains(text, "busy@example.org") || strings.Contains(text, "gone@example.org") {
			t.Errorf("address in clear: %s", text)
		}
	}
	// The session survives refusals: the same connection carries the next message.
	srv.Refuse("busy@example.org", 0)
	if _, err := s.Send(ctx, message(2, "busy@example.org")); err != nil {
		t.Fatalf("after the 451 cleared: %v", err)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("%d messages arrived, want 1", n)
	}
}

func TestBadMessageIsPermanent(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	s := newSender(t, email.Options{Addr: srv.Addr})
	for name, m := range map[string]channel.Message{
		"address":     {To: "not an address", Text: "x"},
		"named":       {To: "Amina <amina@example.pk>", Text: "x"},
		"language":    {To: "a@example.org", Text: "x", Language: "ur\r\nBcc: x@example.org"},
		"unsubscribe": {To: "a@example.org", Text: "x", UnsubscribeURL: "mailto:x@example.org"},
		"empty":       {To: "a@example.org"},
		"utf8":        {To: "a@example.org", Text: "\xff"},
		"smtputf8":    {To: "امینہ@example.pk", Text: "x"}, // the test server offers no SMTPUTF8
	} {
		if _, err := s.Send(context.Background(), m); !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
	if n := len(srv.Mails()); n != 0 {
		t.Errorf("%d messages arrived, want 0", n)
	}
}

func TestOutage(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	s := newSender(t, email.Options{Addr: srv.Addr, MaxConns: 1, Timeout: 5 * time.Second})
	ctx := context.Background()
	if _, err := s.Send(ctx, message(1, "a@example.org")); err != nil {
		t.Fatal(err)
	}
	// Restarted between two messages: the kept connection is dead; a fresh one carries it.
	srv.Stop()
	srv.Start()
	if _, err := s.Send(ctx, message(2, "a@example.org")); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	srv.Stop()
	_, err := s.Send(ctx, message(3, "a@example.org"))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("server down: err = %v, want a transient error", err)
	}
	srv.Start()
	if _, err := s.Send(ctx, message(3, "a@example.org")); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n := len(srv.WaitMails(3, 5*time.Second)); n != 3 {
		t.Errorf("%d messages arrived, want 3", n)
	}
}

func TestStartTLSAndAuth(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{TLS: true, Username: "rabta", Password: "s3cret"})
	tlsc := &tls.Config{RootCAs: srv.CertPool()}
	s := newSender(t, email.Options{Addr: srv.Addr, StartTLS: true, TLSConfig: tlsc, Username: "rabta", Password: "s3cret", HelloName: "node1.rabta.example"})
	if _, err := s.Send(context.Background(), message(1, "a@example.org")); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitMails(1, 5*time.Second)[0]
	if !got.TLS || got.Auth != "rabta" {
		t.Errorf("TLS %v, auth %q; want TLS and rabta", got.TLS, got.Auth)
	}

	wrong := newSender(t, email.Options{Addr: srv.Addr, StartTLS: true, TLSConfig: tlsc, Username: "rabta", Password: "wrong"})
	_, err := wrong.Send(context.Background(), message(2, "a@example.org"))
	if err == nil || channel.IsPermanent(err) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad password: err = %v, want a transient error without the password", err)
	}
	untrusted := newSender(t, email.Options{Addr: srv.Addr, StartTLS: true})
	if _, err := untrusted.Send(context.Background(), message(3, "a@example.org")); err == nil {
		t.Error("a certificate nobody vouches for was accepted")
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("%d messages arrived, want 1", n)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]email.Options{
		"no addr":        {From: "a@example.org"},
		"addr no port":   {Addr: "smtp.example.org", From: "a@example.org"},
		"no from":        {Addr: "smtp.example.org:587"},
		"bad from":       {Addr: "smtp.example.org:587", From: "warnings"},
		"auth in clear":  {Addr: "smtp.example.org:587", From: "a@example.org", Username: "u", Password: "p"},
		"password alone": {Addr: "127.0.0.1:25", From: "a@example.org", Password: "p"},
		"negative rate":  {Addr: "127.0.0.1:25", From: "a@example.org", Rate: -1},
	} {
		if _, err := email.New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	if _, err := email.New(email.Options{Addr: "127.0.0.1:25", From: "a@example.org", Username: "u", Password: "p"}); err != nil {
		t.Errorf("AUTH without TLS on loopback: %v", err)
	}
}

func TestRateLimitWaitsWithinContext(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	s := newSender(t, email.Options{Addr: srv.Addr, Rate: 0.001, Burst: 1})
	if _, err := s.Send(context.Background(), message(1, "a@example.org")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Send(ctx, message(2, "a@example.org")); err == nil || channel.IsPermanent(err) {
		t.Errorf("over the limit: err = %v, want a transient error", err)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("%d messages arrived, want 1", n)
	}
}

// BenchmarkSend measures e-mails per second to a local go-smtp server, over 4 connections.
func BenchmarkSend(b *testing.B) {
	srv := channeltest.StartSMTP(b, channeltest.SMTPOptions{})
	s, err := email.New(email.Options{Addr: srv.Addr, From: "warnings@rabta.example", MaxConns: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(1)
	var id int64
	next := make(chan int64)
	go func() {
		for {
			id++
			select {
			case next <- id:
			case <-b.Context().Done():
				return
			}
		}
	}()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), message(<-next, "reader@example.org")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

func TestCancelledContext(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	s := newSender(t, email.Options{Addr: srv.Addr})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Send(ctx, message(1, "a@example.org"))
	if !errors.Is(err, context.Canceled) || channel.IsPermanent(err) {
		t.Errorf("err = %v, want a transient context.Canceled", err)
	}
}
