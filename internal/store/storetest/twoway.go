package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/twoway"
)

// RunTwoWay runs the two-way SMS store's conformance test on a fresh engine: messages are
// recorded with ids in order and come back as written; a number's language is remembered
// and set on the subscribers with its SMS contact (and only those), as a change targeting
// sees.
func RunTwoWay(t *testing.T, open func(t *testing.T) (*sqlq.TwoWay, dissemination.Store)) {
	s, d := open(t)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	in := &twoway.Message{At: at, Direction: "in", Lookup: "look-a", Gateway: "kannel", Verb: twoway.Join, Sealed: []byte{1, 2, 3}, Outcome: "handled"}
	out := &twoway.Message{At: at.Add(time.Second), Direction: "out", Lookup: "look-a", Gateway: "sms", Verb: twoway.Join, Sealed: []byte{4}, Outcome: "sent"}
	for _, m := range []*twoway.Message{in, out, {At: at, Direction: "in", Lookup: "look-b", Gateway: "smpp", Verb: twoway.Unknown, Sealed: []byte{5}, Outcome: "dropped"}} {
		if err := s.Record(ctx(), m); err != nil {
			t.Fatal(err)
		}
	}
	if in.ID == 0 || out.ID <= in.ID {
		t.Fatalf("ids %d, %d: want increasing, not 0", in.ID, out.ID)
	}
	ms, err := s.Messages(ctx(), "look-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != in.ID || !ms[0].At.Equal(at) || ms[0].Verb != twoway.Join || ms[0].Gateway != "kannel" || !bytes.Equal(ms[0].Sealed, in.Sealed) ||
		ms[1].Direction != "out" || ms[1].Outcome != "sent" {
		t.Errorf("messages of look-a: %+v", ms)
	}
	if l, err := s.Language(ctx(), "look-a"); err != nil || l != "" {
		t.Errorf("language before LANG: %q %v", l, err)
	}
	// two subscribers with the number's SMS contact, one with another number
	a, b, c := sub("admin", channel.SMS), sub("admin", channel.SMS, channel.Email), sub("admin", channel.SMS)
	a.Contacts[0].Lookup, b.Contacts[0].Lookup = "look-a", "look-a"
	b.Place = "village:2"
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{a, b, c}); err != nil {
		t.Fatal(err)
	}
	v0, _ := d.TargetsVersion(ctx())
	for _, lang := range []string{"en", "sd"} { // twice: the second replaces the first
		n, err := s.SetLanguage(ctx(), "look-a", lang, at)
		if err != nil || n != 2 {
			t.Fatalf("SetLanguage %s: %d %v, want 2 subscribers", lang, n, err)
		}
	}
	if l, err := s.Language(ctx(), "look-a"); err != nil || l != "sd" {
		t.Errorf("language: %q %v, want sd", l, err)
	}
	for _, x := range []struct {
		id   int64
		want string
	}{{a.ID, "sd"}, {b.ID, "sd"}, {c.ID, "ur"}} {
		got, err := d.GetSubscriber(ctx(), x.id)
		if err != nil || got.Language != x.want {
			t.Errorf("subscriber %d: language %v %v, want %s", x.id, got, err, x.want)
		}
	}
	if v1, _ := d.TargetsVersion(ctx()); v1 <= v0 {
		t.Errorf("targets version %d after LANG, was %d: targeting would not see the change", v1, v0)
	}
	if n, err := s.SetLanguage(ctx(), "look-none", "en", at); err != nil || n != 0 {
		t.Errorf("a number with no subscription: %d %v", n, err)
	}
}
