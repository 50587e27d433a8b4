package rule

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// A trigger names who posted the values its deciding reading was computed from (Obs.By), each
// once: the latest value of a threshold rule, every value in an accumulation's window, both
// ends of a rate of rise; a value of a hold is remembered across a snapshot, so a level that
// fires on a later tick still names its poster.
func TestTriggerPostedBy(t *testing.T) {
	by := func(s step, who string) step { s.Obs.By = who; return s }
	for _, c := range []struct {
		name  string
		rule  Rule
		steps []step
		want  string // PostedBy of the last trigger
	}{
		{"threshold: the latest value's poster",
			Rule{ID: "t", Kind: Threshold, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{by(obs(0, 1, 5), "a/key-1"), by(obs(time.Hour, 1, 12), "b/key-2")}, "[b/key-2]"},
		{"threshold: no poster",
			Rule{ID: "t", Kind: Threshold, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{obs(0, 1, 12)}, "[]"},
		{"accumulation: every poster in the window, once",
			Rule{ID: "a", Kind: Accumulation, Window: 3 * time.Hour, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{by(obs(0, 1, 4), "a/key-1"), by(obs(time.Hour, 1, 4), "b/key-2"), by(obs(2*time.Hour, 1, 4), "a/key-1")}, "[a/key-1 b/key-2]"},
		{"accumulation: a value out of the window is not a poster",
			Rule{ID: "a", Kind: Accumulation, Window: 2 * time.Hour, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{by(obs(0, 1, 1), "old/key-9"), by(obs(3*time.Hour, 1, 6), "a/key-1"), by(obs(4*time.Hour, 1, 6), "b/key-2")}, "[a/key-1 b/key-2]"},
		{"rate of rise: both ends",
			Rule{ID: "r", Kind: RateOfRise, Window: 2 * time.Hour, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{by(obs(0, 1, 100), "a/key-1"), by(obs(time.Hour, 1, 120), "b/key-2")}, "[a/key-1 b/key-2]"},
		{"hold: fires on a tick, names the value's poster",
			Rule{ID: "h", Kind: Threshold, Hold: time.Hour, Datastreams: []int64{1}, Levels: levels(10)},
			[]step{by(obs(0, 1, 12), "a/key-1"), tick(2 * time.Hour)}, "[a/key-1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.rule.Area = Area{Desc: "test area"}
			e, err := New([]Rule{c.rule})
			if err != nil {
				t.Fatal(err)
			}
			var last *Trigger
			for i, s := range c.steps {
				if i == len(c.steps)-1 && s.Obs == nil { // across a restart: the snapshot keeps the posters
					b, _ := json.Marshal(e.Snapshot())
					var snap Snapshot
					if err := json.Unmarshal(b, &snap); err != nil {
						t.Fatal(err)
					}
					if e, err = New([]Rule{c.rule}); err != nil {
						t.Fatal(err)
					}
					if err := e.Restore(snap); err != nil {
						t.Fatal(err)
					}
				}
				var trs []Trigger
				if s.Obs == nil {
					trs = e.Tick(at(s.At))
				} else {
					trs = e.Observe(at(s.At), *s.Obs)
				}
				if len(trs) > 0 {
					last = &trs[len(trs)-1]
				}
			}
			if last == nil {
				t.Fatal("no trigger")
			}
			if got := fmt.Sprint(last.PostedBy); got != c.want {
				t.Errorf("PostedBy %s, want %s (%+v)", got, c.want, last)
			}
		})
	}
}
