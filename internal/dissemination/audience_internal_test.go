package dissemination

import (
	"testing"

	"github.com/rabta/rabta/internal/cap"
)

// TestAudiencesBeyondEight: the audiences after the eighth (mosques, radio) fit the
// targeting index's bits — when they were a byte, a ninth audience was silently no bit at all
// and an advisory for it reached no one.
func TestAudiencesBeyondEight(t *testing.T) {
	if len(Audiences) <= 8 {
		t.Fatalf("only %d audiences: the test needs one past the eighth", len(Audiences))
	}
	msg := func(status cap.Status, aud string) *cap.Alert {
		return &cap.Alert{Status: status, Scope: "Public", Infos: []cap.Info{{Parameters: []cap.ValuePair{{ValueName: "rabta:audience", Value: aud}}}}}
	}
	for _, c := range []struct {
		sub  []string
		msg  *cap.Alert
		want bool
	}{
		{[]string{"radio"}, msg(cap.StatusActual, "radio"), true},
		{[]string{"mosques"}, msg(cap.StatusActual, "mosques radio"), true},
		{[]string{"public"}, msg(cap.StatusActual, "radio"), false},
		{[]string{"schools"}, msg(cap.StatusActual, "mosques"), false},
		{[]string{"radio"}, msg(cap.StatusActual, "schools"), false},
		{[]string{"radio"}, msg(cap.StatusActual, "public radio"), true},      // public: everyone
		{[]string{"radio"}, msg(cap.StatusActual, "partner-audience"), false}, // unknown: no one
		{[]string{"radio"}, msg(cap.StatusExercise, "radio"), false},          // drills: the exercise audience only
		{[]string{"radio", "exercise"}, msg(cap.StatusExercise, "radio"), true},
	} {
		if got := eligible(c.msg, audBits(c.sub), sectorAudiences(c.msg)); got != c.want {
			t.Errorf("subscriber %v, message to %q (%s): eligible %v, want %v", c.sub, c.msg.Infos[0].Parameters[0].Value, c.msg.Status, got, c.want)
		}
	}
	// every audience has its own bit, none the unknown one
	seen := audSet(0)
	for _, a := range Audiences {
		b := audBits([]string{a})
		if b == 0 || b&seen != 0 || b&unknownAudience != 0 {
			t.Errorf("audience %q: bits %b (seen %b)", a, b, seen)
		}
		seen |= b
	}
}
