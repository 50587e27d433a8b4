package kannel_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/kannel"
)

func TestDLRHandler(t *testing.T) {
	const secret = "dlr-secret"
	var got []channel.Report
	srv := httptest.NewServer(kannel.DLRHandler(secret, func(r channel.Report) { got = append(got, r) }, nil))
	defer srv.Close()
	tok := kannel.Token(secret, 42)
	for _, tc := range []struct {
		name, query string
		code        int
		body        string
	}{
		{"delivered", "id=42&token=" + tok + "&type=1&reply=&smsc_id=abc&ts=1796015676", 200, "ok"},
		{"smsc submit", "id=42&token=" + tok + "&type=8&reply=ACK%2F&ts=1796015676", 200, "ok"},
		{"rejected", "id=42&token=" + strings.ToUpper(tok) + "&type=16&reply=NACK%2F0x0000000b", 200, "ok"},
		{"no id", "token=" + tok + "&type=1", 400, "id: missing"},
		{"bad id", "id=x&token=" + tok + "&type=1", 400, "id:"},
		{"no type", "id=42&token=" + tok, 400, "type: missing"},
		{"unfilled type", "id=42&token=" + tok + "&type=%25d", 400, "type:"},
		{"bad type", "id=42&token=" + tok + "&type=32", 400, "type:"},
		{"negative type", "id=42&token=" + tok + "&type=-1", 400, "type:"},
		{"bad ts", "id=42&token=" + tok + "&type=1&ts=yesterday", 400, "ts:"},
		{"no token", "id=42&type=1", 400, "token: missing"},
		{"wrong token", "id=43&token=" + tok + "&type=1", 403, "forbidden"},
	} {
		resp, err := http.Get(srv.URL + "/dlr?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, b, tc.code, tc.body)
		}
	}
	want := []channel.Report{
		{DeliveryID: 42, GatewayID: "abc", Submitted: true, Delivered: true, Status: "delivered", At: time.Unix(1796015676, 0).UTC()},
		{DeliveryID: 42, Submitted: true, Status: "smsc_submit: ACK/", At: time.Unix(1796015676, 0).UTC()},
		{DeliveryID: 42, Failed: true, Status: "smsc_reject: NACK/0x0000000b"},
	}
	if len(got) != len(want) {
		t.Fatalf("reports %+v, want %+v", got, want)
	}
	for i := range want {
		if i == 2 {
			if got[i].At.IsZero() {
				t.Errorf("report without ts has no time")
			}
			got[i].At = time.Time{}
		}
		if got[i] != want[i] {
			t.Errorf("report %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded",
		strings.NewReader("id=42&type=2&token="+tok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !got[len(got)-1].Failed {
		t.Errorf("POST form: %d, report %+v", resp.StatusCode, got[len(got)-1])
	}
}

func TestDLRURL(t *testing.T) {
	u := kannel.DLRURL("https://rabta.example/sms/kannel/dlr", "k", 7)
	// Kannel fills in %d, %A, %F and %T; what it produces must parse.
	filled := strings.NewReplacer("%d", "8", "%A", "ACK%2F", "%F", "", "%T", "1796015676").Replace(u)
	p, err := url.Parse(filled)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kannel.ParseDLR(p.Query())
	if err != nil {
		t.Fatal(err)
	}
	if d.DeliveryID != 7 || d.Type != kannel.DLRSMSCSubmit || d.Reply != "ACK/" || p.Query().Get("token") != kannel.Token("k", 7) {
		t.Errorf("%s parsed as %+v", filled, d)
	}
	if strings.Contains(u, "%p") {
		t.Errorf("the DLR URL asks for the receiver's number: %s", u)
	}
}

func FuzzParseDLR(f *testing.F) {
	for _, s := range []string{
		"id=42&token=ab&type=1&reply=&smsc_id=abc&ts=1796015676",
		"id=42&type=8&reply=ACK%2F",
		"id=1&type=16&reply=NACK%2F0x0000000b&ts=%25T",
		"id=-1&type=1", "id=9223372036854775808&type=1", "id=1&type=%25d", "id=1&type=2&ts=99999999999999",
		"id=1&type=4&reply=" + strings.Repeat("x", 600), "id=3&type=34&reply=EXPIRED", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		d, err := kannel.ParseDLR(q)
		if err != nil {
			if d := err.Error(); !strings.Contains(d, ":") {
				t.Errorf("error %q names no parameter", d)
			}
			return
		}
		if n, _ := strconv.ParseInt(q.Get("id"), 10, 64); d.DeliveryID <= 0 || n != d.DeliveryID || strings.Trim(q.Get("id"), "0123456789") != "" {
			t.Errorf("id %q parsed as %d", q.Get("id"), d.DeliveryID)
		}
		r := d.Report()
		if r.Delivered && r.Failed || r.Submitted && r.Failed || r.Delivered && !r.Submitted {
			t.Errorf("report %+v contradicts itself", r)
		}
		if r.Status == "" || (d.Type&1 != 0) != r.Delivered {
			t.Errorf("type %d has status %q, delivered %v", d.Type, r.Status, r.Delivered)
		}
	})
}
