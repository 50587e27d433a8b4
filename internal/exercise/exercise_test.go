package exercise_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
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

// recipientsCSV writes a recipients file: an exercise participant by SMS near Khanki, a
// member of the public (audience public only) at the same place, and an exercise participant
// by e-mail near Kalabagh.
func recipientsCSV(t *testing.T, dir string) string {
	t.Helper()
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	kh, kb := ds.Station("pdma-khanki"), ds.Station("pdma-kalabagh")
	if kh == nil || kb == nil {
		t.Fatal("demo stations missing")
	}
	body := "name,language,audiences,place,lat,lon,radius_km,phone,email,webhook,webhook_secret,consent_source,consent_at\n" +
		fmt.Sprintf("Drill participant at Khanki,en,exercise,,%f,%f,5,+923001112233,,,,exercise roster,2026-06-01T09:00:00Z\n", kh.Lat, kh.Lon) +
		fmt.Sprintf("Member of the public at Khanki,en,public,,%f,%f,5,+923004445566,,,,district office form,2026-06-01T09:00:00Z\n", kh.Lat, kh.Lon) +
		fmt.Sprintf("Drill participant at Kalabagh,en,exercise;public,,%f,%f,5,,drill@example.org,,,exercise roster,2026-06-01T09:00:00Z\n", kb.Lat, kb.Lon)
	path := filepath.Join(dir, "recipients.csv")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testPlaces are the embedded places of the districts Khanki and Kalabagh lie in and their
// neighbours (real boundaries and populations, fewer than the whole set: the node loads them in
// a fraction of the time, which matters under the race detector).
func testPlaces(t *testing.T) []place.Place {
	t.Helper()
	all, err := place.Load()
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{"Gujranwala": true, "Hafizabad": true, "Gujrat": true, "Mandi Bahauddin": true, "Sialkot": true,
		"Mianwali": true, "Attock": true, "Chakwal": true, "Khushab": true}
	var out []place.Place
	for _, p := range all {
		if p.Country == "PK" && keep[p.District] || p.Kind == place.District && keep[p.Name] {
			out = append(out, p)
		}
	}
	if len(out) < len(keep) {
		t.Fatalf("test places: %d, want the %d districts at least", len(out), len(keep))
	}
	return out
}

// dataCrossings computes, straight from the demo data, every reading in [from, to] that
// reached a flood class its predecessor in the window was below: station name → "level@time".
func dataCrossings(t *testing.T, from, to time.Time) map[string][]string {
	t.Helper()
	h, err := exercise.Demo(from, to)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[int64][]float64{}
	names := map[int64][]string{}
	for _, r := range h.Rules {
		for _, l := range r.Levels {
			levels[r.Datastreams[0]] = append(levels[r.Datastreams[0]], l.Value)
			names[r.Datastreams[0]] = append(names[r.Datastreams[0]], l.Name)
		}
	}
	out := map[string][]string{}
	for _, th := range h.Things {
		for _, d := range th.Datastreams {
			for i, o := range d.Obs {
				for k, v := range levels[d.SourceID] {
					if o.Value >= v && (i == 0 || d.Obs[i-1].Value < v) {
						out[th.Name] = append(out[th.Name], names[d.SourceID][k]+"@"+o.Time.UTC().Format(time.RFC3339))
					}
				}
			}
		}
	}
	return out
}

// TestExerciseDemo replays a week of the August 2025 Chenab flood (reports of 21, 27 and 28
// Aug) at maximum speed with a simulated approver (30 min) and a recipients file, and checks
// the report against the data, the alerts' status, and who received what. The window ends 15
// minutes after the last report: the drafts of that report are never approved.
func TestExerciseDemo(t *testing.T) {
	from := time.Date(2025, 8, 21, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 8, 28, 9, 45, 0, 0, time.UTC)
	dir := t.TempDir()
	h, err := exercise.Demo(from, to)
	if err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "ws")
	reportDir := ws // the default
	rep, err := exercise.Run(context.Background(), exercise.Options{From: from, To: to, History: h, Workspace: ws,
		Recipients: recipientsCSV(t, dir), ApproveAfter: 30 * time.Minute, Places: testPlaces(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Observations != h.Count() || rep.Observations != 18*3 {
		t.Errorf("replayed %d readings, the history holds %d (want 54: 18 gauges, 3 reports)", rep.Observations, h.Count())
	}

	// the report's files
	var fromFile exercise.Report
	b, err := os.ReadFile(filepath.Join(reportDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fromFile); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(reportDir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Exercise report", "| Khanki Headworks |", "## Timeline", "## What was missed", "hydrograph-08-khanki-headworks.svg"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, s := range fromFile.Stations {
		b, err := os.ReadFile(filepath.Join(reportDir, s.Hydrograph))
		if err != nil {
			t.Fatalf("hydrograph of %s: %v", s.Station, err)
		}
		var svg struct {
			XMLName xml.Name
			Width   string `xml:"width,attr"`
		}
		if err := xml.Unmarshal(b, &svg); err != nil || svg.XMLName.Local != "svg" || !bytes.Contains(b, []byte(s.Station)) {
			t.Errorf("hydrograph of %s: not an SVG naming the station: %v", s.Station, err)
		}
	}

	// crossings: the report's are the data's, and known facts of the flood hold
	want := dataCrossings(t, from, to)
	got := map[string][]string{}
	for _, s := range fromFile.Stations {
		for _, c := range s.Crossings {
			got[s.Station] = append(got[s.Station], c.Level+"@"+c.Time.UTC().Format(time.RFC3339))
		}
	}
	for st, w := range want {
		if !slices.Equal(got[st], w) {
			t.Errorf("%s: report's crossings %v, the data's %v", st, got[st], w)
		}
	}
	for st, g := range got {
		if _, ok := want[st]; !ok {
			t.Errorf("%s: report has crossings %v the data has not", st, g)
		}
	}
	peak := time.Date(2025, 8, 27, 13, 0, 0, 0, demo.PKT)
	for _, s := range fromFile.Stations {
		switch s.Station {
		case "Khanki Headworks": // 63,325 cusecs on 21 Aug, then 1,001,480 on 27 Aug: all five classes at once
			if s.FirstSign == nil || !s.FirstSign.Time.Equal(peak) || s.FirstSign.Value != 1001480 || len(s.Crossings) != 5 {
				t.Errorf("Khanki: first sign %+v, %d crossings; want 1001480 at %s, 5 crossings", s.FirstSign, len(s.Crossings), peak)
			}
		case "Jinnah Barrage (Kalabagh)": // above Low on 21 Aug, below on 27, above again on 28
			if len(s.Crossings) != 2 || s.Crossings[1].Value != 256569 || s.Crossings[0].Alert == s.Crossings[1].Alert {
				t.Errorf("Kalabagh: crossings %+v, want Low on 21 and 28 Aug, each with its alert", s.Crossings)
			}
		}
	}
	if len(fromFile.Missed) != 0 {
		t.Errorf("missed crossings %+v: every rule should have reacted", fromFile.Missed)
	}

	// the alerts: Exercise; approved 30 minutes after their draft, or issued by their rule
	// (Chenab, Ravi), except the drafts of the last report, 15 minutes before the end
	if len(fromFile.Alerts) == 0 {
		t.Fatal("no alert in the report")
	}
	last := time.Date(2025, 8, 28, 14, 30, 0, 0, demo.PKT)
	unapproved := map[int64]bool{}
	for _, a := range fromFile.Unapproved {
		unapproved[a.ID] = true
	}
	sawUnapproved := false
	for _, a := range fromFile.Alerts {
		if a.Status != "Exercise" {
			t.Errorf("alert %d: status %q, want Exercise", a.ID, a.Status)
		}
		switch {
		case a.AutoIssued:
			if a.DraftToApproval != "0s" || unapproved[a.ID] {
				t.Errorf("alert %d (%s) issued by its rule: %+v", a.ID, a.Station, a)
			}
		case a.Drafted.Equal(last):
			sawUnapproved = true
			if a.Approved != nil || !unapproved[a.ID] || a.State != "draft" {
				t.Errorf("alert %d (%s) drafted 15 min before the end: %+v, want a draft never approved", a.ID, a.Station, a)
			}
		default:
			if a.DraftToApproval != "30m0s" || unapproved[a.ID] {
				t.Errorf("alert %d (%s): draft → approval %q, want 30m0s", a.ID, a.Station, a.DraftToApproval)
			}
		}
	}
	// forecasts: the node forecast the stations downstream, and forecast rules drafted alerts
	// with a lead time (CAP onset − sent) before the water came
	forecastAlerts := 0
	for _, a := range fromFile.Alerts {
		if a.Forecast {
			forecastAlerts++
			if lead, err := time.ParseDuration(a.LeadTime); err != nil || lead <= 0 || a.Station == "" {
				t.Errorf("forecast alert %d (%s): lead time %q, want a positive duration and its station", a.ID, a.Rule, a.LeadTime)
			}
		}
	}
	khanki := 0
	for _, s := range fromFile.Stations {
		if s.Station == "Khanki Headworks" {
			khanki = s.Forecasts
		}
	}
	if forecastAlerts == 0 || khanki == 0 || !strings.Contains(string(md), "forecast-trigger") {
		t.Errorf("%d forecast alerts, %d forecast values at Khanki (Marala upstream), forecast triggers in the timeline: %v", forecastAlerts, khanki, strings.Contains(string(md), "forecast-trigger"))
	}
	if !sawUnapproved || !strings.Contains(string(md), "Drafts never approved:") {
		t.Error("no draft of the last report among the unapproved, or report.md does not list them")
	}

	// deliveries: only to the exercise's participants, never to the public recipient
	f, err := os.Open(filepath.Join(ws, "deliveries.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	to2 := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct{ To, Text, Alert string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		to2[l.To]++
		if !strings.Contains(strings.ToUpper(l.Text), "EXERCISE") {
			t.Errorf("delivery to %s does not say EXERCISE: %q", l.To, l.Text)
		}
	}
	if to2["+923…33"] == 0 || to2["d…@example.org"] == 0 {
		t.Errorf("deliveries %v: both exercise participants should have been reached", to2)
	}
	if n := to2["+923…66"]; n != 0 {
		t.Errorf("the public recipient got %d exercise messages", n)
	}
	if len(to2) != 2 || fromFile.NonRecipients != 0 {
		t.Errorf("deliveries went to %v (report: %d outside the recipients), want only the two participants", to2, fromFile.NonRecipients)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	from := time.Date(2025, 8, 21, 0, 0, 0, 0, time.UTC)
	h, err := exercise.Demo(from, from.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    exercise.Options
		want string
	}{
		{exercise.Options{From: from, To: from, History: h, Workspace: t.TempDir()}, "must be after"},
		{exercise.Options{From: from, To: from.Add(time.Hour), Workspace: t.TempDir()}, "no history"},
		{exercise.Options{From: from, To: from.Add(time.Hour), History: h}, "workspace"},
		{exercise.Options{From: from, To: from.Add(time.Hour), History: h, Workspace: t.TempDir(), Speed: -1}, "speed"},
	} {
		if _, err := exercise.Run(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want one naming %q", c.o, err, c.want)
		}
	}
	if _, err := exercise.Demo(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("Demo with a window outside the data: no error")
	}
}
