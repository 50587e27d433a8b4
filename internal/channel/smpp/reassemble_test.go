package smpp

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

func ucs2(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func TestParseUDH(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []byte
		want  Concat
		found bool
		body  string
		err   string
	}{
		{"8-bit", []byte{5, 0, 3, 7, 2, 1, 'h', 'i'}, Concat{Ref: 7, Total: 2, Seq: 1}, true, "hi", ""},
		{"16-bit", []byte{6, 8, 4, 0x12, 0x34, 3, 3, 'x'}, Concat{Ref: 0x1234, Ref16: true, Total: 3, Seq: 3}, true, "x", ""},
		{"other element first", []byte{8, 0x24, 1, 1, 0, 3, 9, 2, 2, 'z'}, Concat{Ref: 9, Total: 2, Seq: 2}, true, "z", ""},
		{"no concatenation", []byte{3, 0x24, 1, 1, 'a'}, Concat{}, false, "a", ""},
		{"empty", nil, Concat{}, false, "", "empty short_message"},
		{"header too long", []byte{9, 0, 3, 1}, Concat{}, false, "", "length 9 longer than the 3 octets"},
		{"element past header", []byte{3, 0, 3, 1, 2, 1}, Concat{}, false, "", "runs past the header"},
		{"element cut", []byte{1, 0}, Concat{}, false, "", "cut short"},
		{"wrong 0x00 length", []byte{4, 0, 2, 1, 2}, Concat{}, false, "", "(0x00) of 2 octets, want 3"},
		{"wrong 0x08 length", []byte{5, 8, 3, 1, 2, 1}, Concat{}, false, "", "(0x08) of 3 octets, want 4"},
	} {
		c, found, body, err := ParseUDH(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || c != tc.want || found != tc.found || string(body) != tc.body {
			t.Errorf("%s: %+v %v %q %v, want %+v %v %q", tc.name, c, found, body, err, tc.want, tc.found, tc.body)
		}
	}
}

func TestConcatCheck(t *testing.T) {
	for _, c := range []Concat{{Total: 0, Seq: 0}, {Total: 17, Seq: 1}, {Total: 2, Seq: 0}, {Total: 2, Seq: 3}} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for _, c := range []Concat{{Total: 1, Seq: 1}, {Total: 16, Seq: 16}} {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// Parts arriving out of order, duplicated, interleaved with another sender's message with
// the same reference, and a UCS-2 character cut between two parts come out as the texts sent.
func TestReassembler(t *testing.T) {
	r := NewReassembler(time.Minute, 10)
	now := time.Unix(1e9, 0)
	text := "شامل ہو جائیں 😀 مظفرگڑھ"
	raw := ucs2(text)
	cut := strings.Index(string(raw), string(ucs2("😀"))) + 2 // inside the surrogate pair
	a, b := raw[:cut], raw[cut:]
	add := func(from string, ref uint16, total, seq int, coding byte, d []byte) (string, bool) {
		t.Helper()
		got, done, err := r.Add(Part{From: from, Concat: Concat{Ref: ref, Total: total, Seq: seq}, Coding: coding, Data: d}, now)
		if err != nil {
			t.Fatalf("Add(%s part %d): %v", from, seq, err)
		}
		return got, done
	}
	if _, done := add("+923001234567", 5, 2, 2, 8, b); done {
		t.Fatal("done after one part of two")
	}
	if _, done := add("+923011234567", 5, 2, 1, 0, []byte("JOIN ")); done {
		t.Fatal("another sender's part completed the first's message")
	}
	if _, done := add("+923001234567", 5, 2, 2, 8, b); done {
		t.Fatal("a duplicate completed the message")
	}
	if got, done := add("+923001234567", 5, 2, 1, 8, a); !done || got != text {
		t.Fatalf("got %q %v, want %q", got, done, text)
	}
	if got, done := add("+923011234567", 5, 2, 2, 0, []byte("Lahore")); !done || got != "JOIN Lahore" {
		t.Fatalf("got %q %v", got, done)
	}
	// mixed codings: each run decoded on its own
	add("+923021234567", 9, 3, 1, 0, []byte("JOIN "))
	add("+923021234567", 9, 3, 3, 0, []byte("!"))
	if got, done := add("+923021234567", 9, 3, 2, 8, ucs2("لاہور")); !done || got != "JOIN لاہور!" {
		t.Fatalf("mixed codings: %q %v", got, done)
	}
	// a part whose total differs, and out-of-range headers, are refused
	add("+923031234567", 1, 2, 1, 0, []byte("a"))
	if _, _, err := r.Add(Part{From: "+923031234567", Concat: Concat{Ref: 1, Total: 3, Seq: 2}}, now); err == nil || !strings.Contains(err.Error(), "earlier parts said 2") {
		t.Errorf("differing total: %v", err)
	}
	if _, _, err := r.Add(Part{From: "+923031234567", Concat: Concat{Ref: 2, Total: 17, Seq: 1}}, now); err == nil || !strings.Contains(err.Error(), "17 parts") {
		t.Errorf("17 parts: %v", err)
	}
	st := r.Stats()
	if st.Completed != 3 || st.Duplicates != 1 || st.Refused != 2 || st.Pending != 1 || st.Expired != 0 || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Incomplete messages go after the timeout, and the oldest when too many wait; a part of a
// dropped message starts a new one.
func TestReassemblerLimits(t *testing.T) {
	r := NewReassembler(60*time.Second, 3)
	t0 := time.Unix(1e9, 0)
	part := func(ref uint16, seq int, at time.Time) bool {
		_, done, err := r.Add(Part{From: "+923001234567", Concat: Concat{Ref: ref, Total: 2, Seq: seq}, Data: []byte("x")}, at)
		if err != nil {
			t.Fatal(err)
		}
		return done
	}
	part(1, 1, t0)
	part(2, 1, t0.Add(time.Second))
	part(3, 1, t0.Add(2*time.Second))
	part(4, 1, t0.Add(3*time.Second)) // evicts ref 1
	if st := r.Stats(); st.Evicted != 1 || st.Pending != 3 {
		t.Fatalf("after a 4th of 3: %+v", st)
	}
	if part(1, 2, t0.Add(4*time.Second)) { // ref 1 was dropped: this starts a new set (evicting ref 2)
		t.Fatal("an evicted message completed")
	}
	if !part(3, 2, t0.Add(5*time.Second)) {
		t.Fatal("ref 3 did not complete")
	}
	// 60 s after their first parts, refs 4 and 1 are gone
	if part(4, 2, t0.Add(64*time.Second)) {
		t.Fatal("an expired message completed")
	}
	st := r.Stats()
	if st.Expired != 2 || st.Evicted != 2 || st.Completed != 1 || st.Pending != 1 {
		t.Errorf("stats %+v", st)
	}
}

// ConcatOf reads the header of a deliver_sm as gosmpp unmarshalled it, from the UDH or the
// SAR TLVs.
func TestConcatOf(t *testing.T) {
	udhPDU := func(raw []byte) *pdu.DeliverSM {
		p := pdu.NewDeliverSM().(*pdu.DeliverSM)
		p.EsmClass = data.SM_UDH_GSM
		sm, _ := pdu.NewShortMessageWithEncoding("x", data.UCS2)
		if err := sm.SetMessageDataWithEncoding(raw, data.UCS2); err != nil {
			t.Fatal(err)
		}
		p.Message = sm
		// round trip through the wire format, as the SMSC's PDU would arrive
		b := pdu.NewBuffer(nil)
		p.Marshal(b)
		q, err := pdu.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return q.(*pdu.DeliverSM)
	}
	p := udhPDU(append([]byte{6, 8, 4, 1, 2, 2, 1}, ucs2("JOIN")...))
	c, found, body, err := ConcatOf(p)
	if err != nil || !found || c != (Concat{Ref: 0x102, Ref16: true, Total: 2, Seq: 1}) || !bytes.Equal(body, ucs2("JOIN")) {
		t.Fatalf("UDH: %+v %v %x %v", c, found, body, err)
	}
	s := pdu.NewDeliverSM().(*pdu.DeliverSM)
	sm, _ := pdu.NewShortMessage("Lahore")
	s.Message = sm
	s.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarMsgRefNum, Data: []byte{0, 9}})
	s.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarTotalSegments, Data: []byte{2}})
	s.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarSegmentSeqnum, Data: []byte{2}})
	c, found, body, err = ConcatOf(s)
	if err != nil || !found || c != (Concat{Ref: 9, Ref16: true, Total: 2, Seq: 2}) || string(body) != "Lahore" {
		t.Fatalf("SAR: %+v %v %q %v", c, found, body, err)
	}
	delete(s.OptionalParameters, pdu.TagSarSegmentSeqnum)
	if _, _, _, err := ConcatOf(s); err == nil || !strings.Contains(err.Error(), "sar TLVs") {
		t.Fatalf("SAR without seqnum: %v", err)
	}
}

// FuzzParseUDH: ParseUDH never panics, and what it returns is consistent with its input.
func FuzzParseUDH(f *testing.F) {
	for _, s := range [][]byte{
		{5, 0, 3, 7, 2, 1, 'h', 'i'}, {6, 8, 4, 0x12, 0x34, 3, 3, 'x'}, {8, 0x24, 1, 1, 0, 3, 9, 2, 2, 'z'},
		{}, {0}, {9, 0, 3}, {1, 0}, {4, 0, 2, 1, 2}, {255}, {3, 0, 3, 0, 0, 0},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, found, body, err := ParseUDH(b)
		if err != nil {
			if found || body != nil {
				t.Fatalf("error %v with found %v body %x", err, found, body)
			}
			return
		}
		if len(body) != len(b)-1-int(b[0]) || !bytes.Equal(body, b[len(b)-len(body):]) {
			t.Fatalf("body %x is not what follows the %d-octet header of %x", body, b[0], b)
		}
		if !found && c != (Concat{}) {
			t.Fatalf("not found but %+v", c)
		}
		if found && !c.Ref16 && c.Ref > 255 {
			t.Fatalf("8-bit reference %d", c.Ref)
		}
		if c.Check() == nil && (c.Total > MOMaxParts || c.Seq > c.Total || c.Seq < 1) {
			t.Fatalf("Check passed %+v", c)
		}
	})
}

// BenchmarkReassemble: two-part messages with MOMaxPending incomplete ones always waiting
// (the worst case for the expiry scan); one op is one part added.
func BenchmarkReassemble(b *testing.B) {
	r := NewReassembler(time.Hour, MOMaxPending+1)
	now := time.Unix(1e9, 0)
	for i := range MOMaxPending {
		_, _, _ = r.Add(Part{From: "+92300" + strconv.Itoa(1000000+i), Concat: Concat{Ref: 1, Total: 2, Seq: 1}, Data: []byte("JOIN ")}, now)
	}
	body := ucs2("لاہور")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, done, err := r.Add(Part{From: "+923110000000", Concat: Concat{Ref: uint16(i / 2), Total: 2, Seq: 1 + i%2}, Coding: 8, Data: body}, now)
		if err != nil || done != (i%2 == 1) {
			b.Fatal(i, done, err)
		}
	}
}
