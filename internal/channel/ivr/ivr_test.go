package ivr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/ivr"
)

// The gateway's answer decides the outcome: 2xx accepted (its call id kept), 408, 429 and
// 5xx transient, anything else (a redirect too) permanent; every request carries the token,
// the idempotency key and the documented body.
func TestSend(t *testing.T) {
	var got ivr.Request
	var hdr http.Header
	status := 200
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		json.NewDecoder(r.Body).Decode(&got)
		if status == 302 {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"id":"c-17"}`))
	}))
	defer gw.Close()
	s, err := ivr.New(ivr.Options{URL: gw.URL + "/call", Token: "tok-0123456789", CallbackURL: "https://node.example/ivr/report", ReportSecret: "report-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	m := channel.Message{DeliveryID: 42, Kind: channel.Voice, To: "+923001234567", Language: "ur", Alert: "rabta-x-1-1",
		AudioURL: "https://node.example/cap/alerts/rabta-x-1-1/audio/ur.wav"}
	rc, err := s.Send(context.Background(), m)
	if err != nil || rc.GatewayID != "c-17" {
		t.Fatalf("accepted: %+v %v", rc, err)
	}
	want := ivr.Request{To: m.To, Audio: m.AudioURL, Language: "ur", Alert: m.Alert, Delivery: 42, Callback: "https://node.example/ivr/report?token=" + ivr.Token("report-secret-0123456789", 42)}
	if got != want || hdr.Get("Authorization") != "Bearer tok-0123456789" || hdr.Get("Idempotency-Key") != "42" || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("request %+v %v, want %+v", got, hdr, want)
	}
	for _, c := range []struct {
		status    int
		permanent bool
	}{{503, false}, {429, false}, {408, false}, {400, true}, {401, true}, {302, true}} {
		status = c.status
		_, err := s.Send(context.Background(), m)
		if err == nil || channel.IsPermanent(err) != c.permanent {
			t.Errorf("answer %d: %v, want permanent=%v", c.status, err, c.permanent)
		}
	}
	status = 200
	for name, bad := range map[string]channel.Message{
		"no audio":  {Kind: channel.Voice, To: "+923001234567"},
		"not E.164": {Kind: channel.Voice, To: "0300 1234567", AudioURL: m.AudioURL},
		"an SMS":    {Kind: channel.SMS, To: "+923001234567", AudioURL: m.AudioURL},
	} {
		if _, err := s.Send(context.Background(), bad); !channel.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
}

func TestNew(t *testing.T) {
	for _, o := range []ivr.Options{
		{URL: "http://ivr.example.org/call", Token: "t"}, // plain http off the machine
		{URL: "https://user:pw@ivr.example.org/call", Token: "t"},
		{URL: "ftp://ivr.example.org", Token: "t"},
		{URL: "https://ivr.example.org/call"}, // no token
	} {
		if _, err := ivr.New(o); err == nil || !strings.HasPrefix(err.Error(), "ivr: ") {
			t.Errorf("%+v: %v, want refused", o, err)
		}
	}
	if _, err := ivr.New(ivr.Options{URL: "https://ivr.example.org/call", Token: "t"}); err != nil {
		t.Error(err)
	}
}

// The callback carries a token good for one delivery; the handler takes a report only with
// that token, and maps the statuses.
func TestReports(t *testing.T) {
	var got ivr.Request
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewDecoder(r.Body).Decode(&got) }))
	defer gw.Close()
	s, err := ivr.New(ivr.Options{URL: gw.URL, Token: "tok", CallbackURL: "https://node.example/voice/ivr/report", ReportSecret: "report-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), channel.Message{DeliveryID: 7, To: "+923001234567", AudioURL: "https://n/a.wav"}); err != nil {
		t.Fatal(err)
	}
	if got.Callback != "https://node.example/voice/ivr/report?token="+ivr.Token("report-secret-0123456789", 7) {
		t.Fatalf("callback %q", got.Callback)
	}
	var reports []channel.Report
	h := ivr.ReportHandler("report-secret-0123456789", func(r channel.Report) { reports = append(reports, r) }, nil)
	post := func(token, body string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/voice/ivr/report?token="+token, strings.NewReader(body)))
		return w.Code
	}
	tok := ivr.Token("report-secret-0123456789", 7)
	if c := post(tok, `{"delivery":7,"status":"Answered","id":"c-1","duration":12}`); c != 200 || len(reports) != 1 || !reports[0].Delivered || reports[0].GatewayID != "c-1" || reports[0].DeliveryID != 7 {
		t.Fatalf("answered: %d %+v", c, reports)
	}
	if c := post(tok, `{"delivery":7,"status":"no-answer"}`); c != 200 || !reports[1].Failed || reports[1].Delivered {
		t.Fatalf("no-answer: %d %+v", c, reports)
	}
	if c := post(tok, `{"delivery":8,"status":"answered"}`); c != 403 {
		t.Errorf("another delivery's report with this token: %d", c)
	}
	for _, body := range []string{`{"delivery":7,"status":"ringing"}`, `{"delivery":-7,"status":"answered"}`, `{"delivery":"x"}`, `[]`, strings.Repeat("x", 5000)} {
		if c := post(tok, body); c != 400 {
			t.Errorf("%.40q: %d, want 400", body, c)
		}
	}
	if len(reports) != 2 {
		t.Errorf("%d reports taken, want 2", len(reports))
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{`{"delivery":7,"status":"answered","id":"c"}`, `{"delivery":1e3,"status":"busy"}`, `{"delivery":"7","status":"failed"}`, `{}`, `null`, `{"delivery":9223372036854775808,"status":"answered"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ivr.ParseReport(b)
		if err != nil {
			return
		}
		if r.DeliveryID <= 0 || r.Delivered == r.Failed || len(r.GatewayID) > 204 {
			t.Fatalf("%q → %+v", b, r)
		}
	})
}
