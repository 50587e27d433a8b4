package dissemination_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
)

// The impact preview of a sector advisory names its audiences and counts, per audience, the
// subscribers the message reaches in it — the planner's own choice (area, audience, drill),
// not a second matching: subscribers of two audiences and one in both, one outside the area,
// one of another audience. A flood warning's preview has no audiences.
func TestImpactByAudience(t *testing.T) {
	f := newFixture(t)
	for i, s := range []dissemination.Subscriber{
		{Name: "Hospital", Place: "village:a", Audiences: []string{"hospitals"}},
		{Name: "Clinic", Place: "village:b", Audiences: []string{"clinics"}},
		{Name: "Hospital with a clinic", Place: "village:b", Audiences: []string{"hospitals", "clinics", "exercise"}},
		{Name: "School", Place: "village:a", Audiences: []string{"schools"}},
		{Name: "Hospital outside", Place: "village:c", Audiences: []string{"hospitals", "clinics"}},
		{Name: "Resident", Place: "village:b"},
	} {
		s.Org, s.Consent.Source, s.Language, s.Kind = "pdma-punjab", "test", "en", "organisation"
		s.Contacts = []dissemination.Contact{{Channel: channel.SMS, Address: fmt.Sprintf("+9230012300%02d", i)}}
		if _, err := f.svc.Subscribe(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	msg := func(st cap.Status, aud string) *cap.Alert {
		in := cap.Info{Language: "en", Categories: []cap.Category{"Health"}, Event: "Heat wave", Urgency: "Expected", Severity: "Severe", Certainty: "Observed", Areas: []cap.Area{area}}
		if aud != "" {
			in.Parameters = []cap.ValuePair{{ValueName: "rabta:audience", Value: aud}}
		}
		return &cap.Alert{Identifier: "x", Status: st, MsgType: cap.MsgAlert, Scope: "Public", Infos: []cap.Info{in}}
	}
	for _, c := range []struct {
		st   cap.Status
		aud  string
		subs int
		want string
	}{
		{cap.StatusActual, "hospitals clinics", 3, "[{hospitals 2} {clinics 2}]"},
		{cap.StatusActual, "hospitals", 2, "[{hospitals 2}]"},
		{cap.StatusActual, "schools", 1, "[{schools 1}]"},
		{cap.StatusExercise, "hospitals", 1, "[{hospitals 1}]"},                                 // drills: the exercise audience only
		{cap.StatusActual, "public schools", 5, "[{public 5} {schools 1}]"},                     // public: everyone in the area
		{cap.StatusActual, "farmers partner-audience", 0, "[{farmers 0} {partner-audience 0}]"}, // none / unknown
		{cap.StatusActual, "", 5, "[]"},                                                         // a flood warning
	} {
		imp, err := f.svc.Preview(context.Background(), msg(c.st, c.aud))
		if err != nil {
			t.Fatal(err)
		}
		got := "["
		for i, a := range imp.Audiences {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("{%s %d}", a.Audience, a.Subscribers)
		}
		got += "]"
		if imp.Subscribers != c.subs || got != c.want {
			t.Errorf("%s to %q: %d subscribers, audiences %s; want %d, %s", c.st, c.aud, imp.Subscribers, got, c.subs, c.want)
		}
	}
}
