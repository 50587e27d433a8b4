package smpp_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/sms"
)

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Long messages from handsets arrive through the test SMSC as concatenated deliver_sm and
// reach Options.Inbound once, whole: a two-part Urdu JOIN (8-bit UDH reference, parts in
// reverse order, one duplicated), a two-part English one with the SAR TLVs, a three-part one
// with a 16-bit reference. A message claiming 17 parts is refused and logged without the
// number. Every part is answered with deliver_sm_resp ESME_ROK.
func TestLongMOReassembled(t *testing.T) {
	t.Parallel()
	srv := channeltest.SMSC(t)
	var mu sync.Mutex
	var got []channel.Inbound
	arrived := make(chan struct{}, 16)
	logs := &logBuf{}
	s := newSender(t, srv, func(o *smpp.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Inbound = func(_ context.Context, in channel.Inbound) error {
			mu.Lock()
			got = append(got, in)
			mu.Unlock()
			arrived <- struct{}{}
			return nil
		}
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	urdu := "JOIN مظفرگڑھ ڈویژن، تحصیل کوٹ ادو، یونین کونسل شیخ عمر، موضع بستی ملانہ دریائے سندھ کے کنارے"
	if n := len(utf16.Encode([]rune(urdu))); n <= sms.UCS2Single {
		t.Fatalf("the Urdu JOIN is %d UTF-16 units, not long enough to need two parts", n)
	}
	english := "JOIN Muzaffargarh district, tehsil Kot Addu, union council Sheikh Umar, mauza Basti Mallana on the Indus"
	three := "LEVEL Ravi at Shahdara and Jassar, Chenab at Marala and Khanki, Jhelum at Mangla, please, with the trend of each one of them today, thanks"
	srv.DeliverParts("923001234567", "8282", urdu, channeltest.MOParts{Parts: 2, Ref: 7, Order: []int{2, 2, 1}})
	srv.DeliverParts("923011234567", "8282", english, channeltest.MOParts{Parts: 2, Ref: 300, SAR: true})
	srv.DeliverParts("923021234567", "8282", three, channeltest.MOParts{Parts: 3, Ref: 0x1234, Ref16: true})
	srv.DeliverParts("923031234567", "8282", strings.Repeat("x", 40), channeltest.MOParts{Parts: 17, Ref: 1})
	for range 3 {
		<-arrived // the SMSC's control command blocks until sent; these come within wait
	}
	srv.Wait(wait, "a deliver_sm_resp for each of the 25 parts", func() bool { return len(srv.DeliverResps()) == 3+2+3+17 })
	for i, st := range srv.DeliverResps() {
		if st != 0 {
			t.Errorf("deliver_sm_resp %d: status %d, want 0", i, st)
		}
	}
	// nothing more arrives: the 17-part message was refused part by part
	srv.Deliver("923041234567", "8282", "STOP")
	<-arrived
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"+923001234567": urdu, "+923011234567": english, "+923021234567": three, "+923041234567": "STOP"}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %v", len(got), len(want), got)
	}
	for _, in := range got {
		if in.Text != want[in.From] || in.To != "8282" || in.Gateway != "smpp" {
			t.Errorf("from %s: %q to %q, want %q", channel.Redact(in.From), in.Text, in.To, want[in.From])
		}
	}
	st := s.MOStats()
	if st.Completed != 3 || st.Duplicates != 1 || st.Refused != 17 || st.Pending != 0 {
		t.Errorf("MOStats %+v", st)
	}
	lg := logs.String()
	if !strings.Contains(lg, "smpp_mo_part_refused") || !strings.Contains(lg, "17 parts, want 1 to 16") {
		t.Errorf("the 17-part refusal is not logged:\n%s", lg)
	}
	if strings.Contains(lg, "1234567") {
		t.Errorf("a phone number is in the log:\n%s", lg)
	}
}
