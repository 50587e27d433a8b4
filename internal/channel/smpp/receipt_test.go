package smpp

import (
	"strings"
	"testing"

	"github.com/linxGnu/gosmpp/data"
)

func TestParseReceipt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DeliveryReceipt
		err  string
	}{
		{
			in: "id:0123456789 sub:001 dlvrd:001 submit date:2611300512 done date:2611300513 stat:DELIVRD err:000 text:Flood warning: Ravi",
			want: DeliveryReceipt{ID: "0123456789", Submitted: "001", Delivered: "001", SubmitDate: "2611300512",
				DoneDate: "2611300513", Stat: "DELIVRD", Err: "000", Text: "Flood warning: Ravi"},
		},
		{ // lower-case stat, other order, no text, extra spaces
			in:   "ID:abc  stat:undeliv   err:001 sub:001 dlvrd:000",
			want: DeliveryReceipt{ID: "abc", Submitted: "001", Delivered: "000", Stat: "UNDELIV", Err: "001"},
		},
		{ // the text may contain key-like words: they stay text
			in:   "id:7 stat:DELIVRD text:stat:EXPIRED id:9",
			want: DeliveryReceipt{ID: "7", Stat: "DELIVRD", Text: "stat:EXPIRED id:9"},
		},
		{ // "submit date" is not "sub"
			in:   "id:x submit date:2611300512 stat:EXPIRED",
			want: DeliveryReceipt{ID: "x", SubmitDate: "2611300512", Stat: "EXPIRED"},
		},
		{in: "stat:DELIVRD", err: "no id"},
		{in: "id:1 err:0", err: "no stat"},
		{in: "hello", err: "no id and no stat"},
		{in: "", err: "no id and no stat"},
	} {
		got, err := ParseReceipt(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseReceipt(%q) error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReceipt(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestFinal(t *testing.T) {
	for stat, want := range map[string][2]bool{
		"DELIVRD": {true, false}, "UNDELIV": {false, true}, "EXPIRED": {false, true}, "DELETED": {false, true},
		"REJECTD": {false, true}, "ACCEPTD": {false, false}, "ENROUTE": {false, false}, "UNKNOWN": {false, false},
	} {
		d, f := DeliveryReceipt{Stat: stat}.Final()
		if [2]bool{d, f} != want {
			t.Errorf("%s: delivered %v failed %v, want %v", stat, d, f, want)
		}
	}
}

func TestStatusTransient(t *testing.T) {
	for status, want := range map[data.CommandStatusType]bool{
		data.ESME_RTHROTTLED: true, data.ESME_RMSGQFUL: true, data.ESME_RSYSERR: true, data.ESME_RINVBNDSTS: true,
		data.ESME_RX_T_APPN: true, 0x400: true, 0x4FF: true,
		data.ESME_RINVDSTADR: false, data.ESME_RINVSRCADR: false, data.ESME_RINVMSGLEN: false,
		data.ESME_RX_P_APPN: false, data.ESME_RINVDSTTON: false,
	} {
		e := &StatusError{Command: "submit_sm", Status: status}
		if e.Transient() != want {
			t.Errorf("%s: transient %v, want %v", e, e.Transient(), want)
		}
		if !strings.Contains(e.Error(), "submit_sm refused") {
			t.Errorf("error %q does not say what was refused", e)
		}
	}
}

func FuzzParseReceipt(f *testing.F) {
	for _, s := range []string{
		"id:0123456789 sub:001 dlvrd:001 submit date:2611300512 done date:2611300513 stat:DELIVRD err:000 text:Flood",
		"id:abc stat:UNDELIV err:001",
		"ID:1 STAT:delivrd TEXT:id:2 stat:x",
		"submit date:id: stat:",
		"id:\x00\xff stat:é",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReceipt(s)
		if err == nil && (r.ID == "" || r.Stat == "") {
			t.Fatalf("ParseReceipt(%q) = %+v without error, but id or stat is empty", s, r)
		}
		if len(r.ID)+len(r.Text)+len(r.Stat) > len(s) {
			t.Fatalf("ParseReceipt(%q) = %+v: fields longer than the input", s, r)
		}
	})
}
