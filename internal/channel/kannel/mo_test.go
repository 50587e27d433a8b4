package kannel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/kannel"
)

func TestParseMO(t *testing.T) {
	at := time.Date(2025, 8, 27, 6, 0, 0, 0, time.UTC)
	ucs2 := string([]byte{0x06, 0x33, 0x06, 0x37, 0x06, 0x2d}) // سطح
	for _, tc := range []struct {
		q          string
		from, text string
		err        string
	}{
		{"from=923001234567&to=8282&text=JOIN+Lahore", "+923001234567", "JOIN Lahore", ""},
		{"from=%2B923001234567&text=stop&coding=0", "+923001234567", "stop", ""},
		{"from=03001234567&text=help", "+923001234567", "help", ""}, // national, read as Pakistani
		{"from=923001234567&text=" + url.QueryEscape(ucs2) + "&coding=2", "+923001234567", "سطح", ""},
		{"from=923001234567&text=caf%E9&coding=0&charset=ISO-8859-1", "+923001234567", "café", ""},
		{"from=923001234567&text=caf%E9", "+923001234567", "café", ""}, // not UTF-8: Latin-1
		{"from=923001234567&text=x&ts=1756274400", "+923001234567", "x", ""},
		{"text=x", "", "", "from: missing"},
		{"from=12&text=x", "", "", "from: not a phone number"},
		{"from=abc&text=x", "", "", "from: not a phone number"},
		{"from=923001234567&text=%06", "", "", "UCS-2"}, // with coding=2 below
		{"from=923001234567&text=x&coding=7", "", "", "coding:"},
		{"from=923001234567&text=x&ts=yesterday", "", "", "ts:"},
		{"from=923001234567&text=" + strings.Repeat("x", kannel.MaxMOText+1), "", "", "text: longer"},
	} {
		q, _ := url.ParseQuery(tc.q)
		if tc.err == "UCS-2" {
			q.Set("coding", "2")
		}
		in, err := kannel.ParseMO(q, "PK", at)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(tc.err, "UCS-2")) {
				t.Errorf("%s: err %v, want one containing %q", tc.q, err, tc.err)
			}
			continue
		}
		if err != nil || in.From != tc.from || in.Text != tc.text || in.Gateway != "kannel" {
			t.Errorf("%s: %+v %v, want from %s text %q", tc.q, in, err, tc.from, tc.text)
		}
	}
	in, _ := kannel.ParseMO(url.Values{"from": {"923001234567"}, "text": {"x"}, "ts": {"1756274400"}}, "", at)
	if !in.Received.Equal(time.Unix(1756274400, 0)) {
		t.Errorf("ts: received %v", in.Received)
	}
}

// FuzzParseMO: ParseMO never panics; what it accepts has an E.164 sender and UTF-8 text.
func FuzzParseMO(f *testing.F) {
	for _, s := range []string{"from=923001234567&text=JOIN+Lahore", "from=03001234567&text=%06%33&coding=2", "from=%2B1&text=%FF", "from=923001234567&text=%D8&coding=2&ts=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		in, err := kannel.ParseMO(q, "PK", time.Unix(0, 0))
		if err != nil {
			return
		}
		if !strings.HasPrefix(in.From, "+") || !utf8.ValidString(in.Text) {
			t.Fatalf("accepted %+v", in)
		}
	})
}

// The MO route: a wrong or missing token is refused before anything else, a malformed
// message gets 400 naming the parameter, and fn's failure is a 503 (Kannel tries again).
func TestMOHandler(t *testing.T) {
	var got []channel.Inbound
	fail := false
	h := kannel.MOHandler("s3cret-token", func(_ context.Context, in channel.Inbound) error {
		if fail {
			return context.DeadlineExceeded
		}
		got = append(got, in)
		return nil
	}, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		q    string
		code int
	}{
		{"token=s3cret-token&from=923001234567&text=STOP", 200},
		{"token=wrong&from=923001234567&text=STOP", 403},
		{"from=923001234567&text=STOP", 403},
		{"token=s3cret-token&from=12&text=STOP", 400},
	} {
		resp, err := http.Get(srv.URL + "/?" + tc.q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.q, resp.StatusCode, tc.code)
		}
	}
	if len(got) != 1 || got[0].From != "+923001234567" || got[0].Text != "STOP" {
		t.Errorf("handled %+v", got)
	}
	fail = true
	resp, err := http.Get(srv.URL + "/?token=s3cret-token&from=923001234567&text=STOP")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("a failing handler: %d, want 503", resp.StatusCode)
	}
}
