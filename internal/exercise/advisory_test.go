package exercise_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/exercise"
	"github.com/rabta/rabta/internal/place"
)

// TestExerciseAdvisories: a window in Beijing's summer of 2016 (1 Jul, 01:00–01:30 UTC,
// morning in Beijing) replays the demo's Beijing stations and their sector advisories, not the
// gauges: at Aotizhongxin 27.6 °C and 37 % at 01:00 UTC make a heat index of 27.2 °C
// (Caution). The report lists the heat advisory for hospitals with its category and audience,
// approved by the simulated approver, delivered to the drill hospital near the station (in the
// hospitals and exercise audiences) and to no one else.
func TestExerciseAdvisories(t *testing.T) {
	from := time.Date(2016, 7, 1, 1, 0, 0, 0, time.UTC)
	to := time.Date(2016, 7, 1, 1, 30, 0, 0, time.UTC) // one hour's readings, and the approval 30 min later
	h, err := exercise.Demo(from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range h.Things {
		if !strings.HasPrefix(fmt.Sprint(th.Properties["demoKey"]), "prsa-") {
			t.Fatalf("the window holds no gauge reading, yet %s is replayed", th.Name)
		}
	}
	if h.Network != nil || len(h.Things) != 3 || h.Count() == 0 {
		t.Fatalf("history: %d stations, %d readings, network %v; want the 3 municipal stations of 2016", len(h.Things), h.Count(), h.Network != nil)
	}
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	ao := ds.Station("prsa-aotizhongxin")
	dir := t.TempDir()
	csv := filepath.Join(dir, "recipients.csv")
	body := "name,language,audiences,place,lat,lon,radius_km,phone,email,webhook,webhook_secret,consent_source,consent_at\n" +
		fmt.Sprintf("Drill hospital at Aotizhongxin,zh,hospitals;exercise,,%f,%f,2,+8613800000001,,,,exercise roster,2016-06-01T09:00:00Z\n", ao.Lat, ao.Lon) +
		fmt.Sprintf("Drill school at Aotizhongxin,zh,schools;exercise,,%f,%f,2,+8613800000002,,,,exercise roster,2016-06-01T09:00:00Z\n", ao.Lat, ao.Lon)
	if err := os.WriteFile(csv, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "ws")
	start := time.Now()
	defer func() { t.Logf("exercise run: %s", time.Since(start)) }()
	rep, err := exercise.Run(context.Background(), exercise.Options{From: from, To: to, History: h, Workspace: ws,
		Recipients: csv, ApproveAfter: 30 * time.Minute, Places: oneDistrict(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stations) != 0 || len(rep.Missed) != 0 {
		t.Errorf("advisories are no gauges: stations %+v, missed %+v", rep.Stations, rep.Missed)
	}
	var hosp *exercise.AlertReport
	for i, a := range rep.Alerts {
		if a.Category == "" || len(a.Audiences) != 1 || a.Status != "Exercise" {
			t.Errorf("alert %d (%s): category %q, audiences %v, status %s: want an Exercise advisory", a.ID, a.Rule, a.Category, a.Audiences, a.Status)
		}
		if a.Rule == "heat-prsa-aotizhongxin-hospitals" {
			hosp = &rep.Alerts[i]
		}
	}
	if hosp == nil {
		t.Fatalf("no heat advisory for hospitals at Aotizhongxin in the report: %+v", rep.Alerts)
	}
	if hosp.Category != "Health" || !slices.Equal(hosp.Audiences, []string{"hospitals"}) || hosp.Station != ao.Name || hosp.Level != "Caution" ||
		hosp.Approved == nil || hosp.Delivered != 1 {
		t.Errorf("hospitals' heat advisory: %+v", *hosp)
	}
	if !hosp.Drafted.Equal(time.Date(2016, 7, 1, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("drafted %s, want 01:00 UTC (the first reading with a heat index of 27 °C or more)", hosp.Drafted)
	}
	md, err := os.ReadFile(filepath.Join(ws, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "(Health advisory to hospitals)") || !strings.Contains(string(md), "sector advisories (") {
		t.Errorf("report.md does not list the advisory:\n%s", md)
	}
	if rep.NonRecipients != 0 {
		t.Errorf("%d deliveries outside the recipients", rep.NonRecipients)
	}
}

// oneDistrict is one embedded district (the node needs one; Beijing has none): it loads at once.
func oneDistrict(t *testing.T) []place.Place {
	t.Helper()
	all, err := place.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Kind == place.District {
			return []place.Place{p}
		}
	}
	t.Fatal("no district in the embedded places")
	return nil
}
