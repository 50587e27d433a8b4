package warning_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/warning"
)

const heldRule = `rules:
  - id: ravi-held
    name: Ravi held high
    kind: threshold
    datastreams: [1]
    hold: 10m
    levels:
      - {name: High, value: 5, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Ravi at Lahore, circles: [{center: [31.6, 74.3], radiusKm: 10}]}
    autoIssue: true
    templates:
      en: {headline: "{{.Level}} water at {{.Station}}"}
`

// The runner's loop, on the bubble's fake clock: a value over the level holds for ten minutes
// with no further observation, and only the loop's tick makes the rule fire; the issued alert
// expires an hour later, again by the tick alone; rules applied while it runs are picked up.
func TestRunTicksHoldAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st := sqlite.NewAlerts(db)
		storetest.SeedDatastreams(t, db, "admin", 1, 2, 3)
		r := &warning.Runner{Store: st} // Now: the bubble's time.Now
		r.Alerts = &alert.Service{Store: st, Rules: r.Rule, Config: alert.Config{Node: "t", Expiry: time.Hour}}
		parsed, err := rule.ParseYAML("rules.yaml", []byte(heldRule))
		if err != nil {
			t.Fatal(err)
		}
		if err := warning.Apply(ctx, st, "", "admin/key-1", parsed); err != nil {
			t.Fatal(err)
		}
		if err := r.Load(ctx); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		res, _ := json.Marshal(7.5)
		b := &sensing.ObsBatch{V: 1, Datastream: 1, Accepted: now, Obs: []sensing.ObsItem{{ID: 1, PhenomenonTime: now.Format(time.RFC3339), Start: now, End: now, Result: res}}}
		if err := r.Handle(ctx, b); err != nil {
			t.Fatal(err)
		}
		state := func() alert.State {
			t.Helper()
			as, err := st.ListAlerts(ctx, alert.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(as) == 0 {
				return ""
			}
			return as[0].State
		}
		if s := state(); s != "" {
			t.Fatalf("an alert before the hold ran out: %s", s)
		}

		done := make(chan struct{})
		go func() { r.Run(ctx, 5*time.Second); close(done) }()

		time.Sleep(9 * time.Minute)
		synctest.Wait()
		if s := state(); s != "" {
			t.Fatalf("after 9 of 10 minutes: %s", s)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s := state(); s != alert.Issued {
			t.Fatalf("after the hold, by ticks alone: %q, want issued", s)
		}
		time.Sleep(58 * time.Minute) // issued at 10:00–10:05, expires an hour later
		synctest.Wait()
		if s := state(); s != alert.Issued {
			t.Fatalf("before expiry: %q", s)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if s := state(); s != alert.Expired {
			t.Fatalf("after expiry: %q, want expired", s)
		}

		// rules applied behind the runner's back (rabta rules apply) are loaded at the next tick
		if err := warning.Apply(ctx, st, "", "admin/key-1", nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := len(r.Rules()); n != 0 {
			t.Errorf("rules after reload: %d, want 0", n)
		}
		cancel()
		<-done
	})
}
