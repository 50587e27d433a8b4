package channeltest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/sms"
)

func TestParseFakeSMSC(t *testing.T) {
	for _, tc := range []struct {
		line, typ, data string
		udh             []byte
	}{
		{"Rabta +923001234567 text Hello world", "text", "Hello world", nil},
		{"Rabta +923001234567 ucs-2 %063%06%CC", "ucs-2", "\x063\x06\xcc", nil},
		{"Rabta +923001234567 udh %05%00%03%02%02%01 data Flood+%E2%82%AC", "udh", "Flood €", []byte{5, 0, 3, 2, 2, 1}},
	} {
		seg, err := ParseFakeSMSC(tc.line)
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if seg.From != "Rabta" || seg.To != "+923001234567" || seg.Type != tc.typ || string(seg.Data) != tc.data || string(seg.UDH) != string(tc.udh) {
			t.Errorf("%s: %+v", tc.line, seg)
		}
	}
	for _, bad := range []string{"", "a b", "a b morse ...", "a b udh %05 text x", "a b ucs-2 %zz"} {
		if _, err := ParseFakeSMSC(bad); err == nil || !strings.Contains(err.Error(), "fakesmsc line") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestKannelReassemble(t *testing.T) {
	k := &KannelServer{changed: make(chan struct{}), pending: map[string][]KannelSegment{}}
	// Parts out of order; UCS-2 "سی" split across two parts, then a GSM text in one.
	k.add(KannelSegment{From: "R", To: "+1", Type: "udh", UDH: []byte{5, 0, 3, 9, 2, 2}, Data: []byte{0x06, 0xcc}})
	k.add(KannelSegment{From: "R", To: "+1", Type: "udh", UDH: []byte{5, 0, 3, 9, 2, 1}, Data: []byte{0x06, 0x33}})
	k.add(KannelSegment{From: "R", To: "+1", Type: "udh", UDH: []byte{6, 8, 4, 1, 0, 1, 1}, Data: []byte("Hi {all}")})
	got := k.messages
	if len(got) != 2 || got[0].Text != "سی" || got[0].Coding != sms.UCS2 || got[0].Parts != 2 ||
		got[1].Text != "Hi {all}" || got[1].Coding != sms.GSM7 || got[1].Parts != 1 {
		t.Errorf("%+v", got)
	}
}

func FuzzParseFakeSMSC(f *testing.F) {
	for _, s := range []string{
		"Rabta +923001234567 text Hello world",
		"Rabta +923001234567 ucs-2 %063%06%CC%06D",
		"Rabta +923001234567 udh %05%00%03%02%02%01 data Flood+%E2%82%AC",
		"a b udh %06%08%04%01%00%02%01 data x", "a b data %ff%00", "a b udh", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		seg, err := ParseFakeSMSC(line)
		if err != nil {
			return
		}
		k := &KannelServer{changed: make(chan struct{}), pending: map[string][]KannelSegment{}}
		k.add(seg) // must not panic, whatever the header says
	})
}

// A message from a handset, injected at the fake SMSC, reaches the sms-service's get-url
// with its sender and text, GSM and UCS-2 alike.
func TestKannelMO(t *testing.T) {
	got := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
	}))
	t.Cleanup(srv.Close)
	k := Kannel(t, KannelOptions{MOURL: srv.URL + "/mo?token=x&"})
	for _, text := range []string{"JOIN Lahore", "سطح لاہور"} {
		k.SendMO("923001234567", "8282", text)
		select {
		case q := <-got:
			if q.Get("from") != "+923001234567" && q.Get("from") != "923001234567" || kannelText(t, q) != text || q.Get("token") != "x" || q.Get("to") != "8282" {
				t.Errorf("get-url query %v, want from 923001234567, to 8282, text %q", q, text)
			}
		case <-time.After(15 * time.Second):
			b, _ := os.ReadFile(filepath.Join(k.Dir, "smsbox.log"))
			t.Fatalf("no get-url call for %q; smsbox.log:\n%s", text, b)
		}
	}
}

func kannelText(t *testing.T, q url.Values) string {
	in, err := kannel.ParseMO(q, "PK", time.Now())
	if err != nil {
		t.Errorf("ParseMO(%v): %v", q, err)
	}
	return in.Text
}
