package exercise

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Write writes report.json, report.md and one hydrograph per station (hydrograph-<n>-<station>.svg) into
// dir, creating it. h gives the readings to draw.
func (rep *Report) Write(dir string, h *History) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for i := range rep.Stations {
		name := fmt.Sprintf("hydrograph-%02d-%s.svg", i+1, fileSafe(rep.Stations[i].Station))
		if err := rep.hydrograph(&rep.Stations[i], h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("report: hydrograph of %s: %w", rep.Stations[i].Station, err)
		}
		rep.Stations[i].Hydrograph = name
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(rep.Markdown()), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

const stamp = "2006-01-02 15:04Z"

func ts(t time.Time) string { return t.UTC().Format(stamp) }

func tsp(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return ts(*t)
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// Markdown is the report for people.
func (rep *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Exercise report\n\n")
	w("EXERCISE — replayed history, not a real event. Every alert below has status Exercise and went only to the exercise's recipients.\n\n")
	w("| | |\n|---|---|\n")
	w("| Source | %s |\n| Window | %s → %s |\n| Speed | %s |\n| Readings replayed | %d |\n| Wall time | %s (%.0f readings/s) |\n| Workspace | %s |\n\n",
		rep.Source, ts(rep.From), ts(rep.To), rep.Speed, rep.Observations, rep.Wall, rep.ObsPerSecond, rep.Workspace)

	w("## Summary\n\n")
	approved := len(rep.Alerts) - len(rep.Unapproved)
	w("- %d alerts, %d approved or issued, %d drafts never approved.\n", len(rep.Alerts), approved, len(rep.Unapproved))
	advs := map[string]int{}
	nadv := 0
	for _, a := range rep.Alerts {
		if a.Category != "" || len(a.Audiences) > 0 {
			advs[advisoryKind(a)]++
			nadv++
		}
	}
	if nadv > 0 {
		var parts []string
		for k, n := range advs {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
		w("- %d of them sector advisories (%s), %d flood warnings.\n", nadv, strings.Join(sorted(parts), ", "), len(rep.Alerts)-nadv)
	}
	crossings := 0
	for _, s := range rep.Stations {
		crossings += len(s.Crossings)
	}
	w("- %d observed class crossings, %d with no reaction of the chain (missed).\n", crossings, len(rep.Missed))
	w("- Median first warning sign → draft: %s; draft → approval: %s; approval → first delivery: %s.\n",
		or(rep.MedianFirstSignToDraft, "—"), or(rep.MedianDraftToApproval, "—"), or(rep.MedianApprovalToDelivery, "—"))
	var dl []string
	for k, v := range rep.Deliveries {
		dl = append(dl, fmt.Sprintf("%s %d", k, v))
	}
	w("- Deliveries: %s; to anyone outside the recipients: %d.\n\n", or(strings.Join(sorted(dl), ", "), "none"), rep.NonRecipients)

	w("## Stations\n\n| Station | Unit | Classes | Readings | Peak | First warning sign | Crossings (missed) | Forecast values |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range rep.Stations {
		var cls []string
		for _, c := range s.Levels {
			cls = append(cls, c.Name+" "+num(c.Value))
		}
		peak, first := "—", "—"
		if s.Peak != nil {
			peak = fmt.Sprintf("%s at %s", num(s.Peak.Value), ts(s.Peak.Time))
		}
		if s.FirstSign != nil {
			first = fmt.Sprintf("%s (%s)", ts(s.FirstSign.Time), num(s.FirstSign.Value))
		}
		missed := 0
		for _, c := range s.Crossings {
			if c.Alert == 0 {
				missed++
			}
		}
		w("| %s | %s | %s | %d | %s | %s | %d (%d) | %d |\n", s.Station, s.Unit, strings.Join(cls, ", "), s.Readings, peak, first, len(s.Crossings), missed, s.Forecasts)
	}
	w("\n## Alerts\n\n| Alert | Station | Level | State | First sign | Draft | Approval | First delivery | Sign → draft | Draft → approval | Approval → delivery | Delivered |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, a := range rep.Alerts {
		appr := tsp(a.Approved)
		if a.AutoIssued {
			appr += " (auto)"
		}
		kind := ""
		if a.Forecast {
			kind = " (forecast, lead " + or(a.LeadTime, "?") + ")"
		}
		if a.Category != "" || len(a.Audiences) > 0 {
			kind = " (" + advisoryKind(a) + ")"
		}
		w("| %d%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", a.ID, kind, or(a.Station, a.Rule), a.Level, a.State,
			tsp(a.FirstSign), ts(a.Drafted), appr, tsp(a.FirstDelivery), or(a.FirstSignToDraft, "—"), or(a.DraftToApproval, "—"), or(a.ApprovalToDelivery, "—"), a.Delivered)
	}
	w("\n## What was missed\n\n")
	if len(rep.Missed) == 0 {
		w("Every observed class crossing had an alert of its gauge's rule drafted, escalated or issued before the gauge's next reading.\n")
	} else {
		w("Observed crossings the gauge's rule did not react to before the gauge's next reading:\n\n")
		for _, c := range rep.Missed {
			w("- %s: %s class, %s at %s\n", c.Station, c.Level, num(c.Value), ts(c.Time))
		}
	}
	if len(rep.Unapproved) == 0 {
		w("\nEvery draft was approved (or issued by its rule).\n")
	} else {
		w("\nDrafts never approved:\n\n")
		for _, a := range rep.Unapproved {
			w("- alert %d, %s, %s level, drafted %s, now %s\n", a.ID, or(a.Station, a.Rule), a.Level, ts(a.Drafted), a.State)
		}
	}
	w("\n## Timeline\n\n| Time (UTC) | Event | Station | Alert | Detail |\n|---|---|---|---|---|\n")
	for _, e := range rep.Timeline {
		al := ""
		if e.Alert != 0 {
			al = fmt.Sprint(e.Alert)
		}
		w("| %s | %s | %s | %s | %s |\n", ts(e.Time), e.Kind, e.Station, al, strings.ReplaceAll(e.Detail, "|", "\\|"))
	}
	w("\n## Hydrographs\n\n")
	for _, s := range rep.Stations {
		if s.Hydrograph != "" {
			w("### %s\n\n![%s](%s)\n\n", s.Station, s.Station, s.Hydrograph)
		}
	}
	return b.String()
}

// advisoryKind names a sector advisory in the report: "Health advisory to hospitals".
func advisoryKind(a AlertReport) string {
	return strings.TrimSpace(a.Category+" advisory") + " to " + or(strings.Join(a.Audiences, ", "), "its audience")
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// hydrograph draws a station's readings, its classes as horizontal lines, the forecasts the
// node made (if any) and the alert times (draft, approval) as vertical lines.
func (rep *Report) hydrograph(s *StationReport, h *History, path string) error {
	var obs []Reading
	for _, t := range h.Things {
		if t.Name != s.Station {
			continue
		}
		for _, d := range t.Datastreams {
			if d.Unit.Symbol == s.Unit {
				obs = window(d.Obs, rep.From, rep.To)
			}
		}
	}
	p := plot.New()
	p.Title.Text = s.Station + " — exercise " + rep.From.Format("2 Jan 2006") + " to " + rep.To.Format("2 Jan 2006")
	p.X.Label.Text = "time (UTC)"
	p.Y.Label.Text = "discharge (" + s.Unit + ")"
	p.X.Tick.Marker = dayTicks{}
	p.Legend.Top = true
	x0, x1 := float64(rep.From.Unix()), float64(rep.To.Unix())
	ymax := 0.0
	pts := make(plotter.XYs, len(obs))
	for i, o := range obs {
		pts[i] = plotter.XY{X: float64(o.Time.Unix()), Y: o.Value}
		ymax = max(ymax, o.Value)
	}
	if len(pts) > 0 {
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = color.RGBA{B: 200, A: 255}, color.RGBA{B: 200, A: 255}
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add("observed", line, points)
	}
	classColours := []color.RGBA{{R: 230, G: 200, A: 255}, {R: 240, G: 150, A: 255}, {R: 230, G: 90, A: 255}, {R: 200, G: 30, A: 255}, {R: 130, A: 255}}
	for i, c := range s.Levels {
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: c.Value}, {X: x1, Y: c.Value}})
		if err != nil {
			return err
		}
		l.Color = classColours[min(i, len(classColours)-1)]
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%s)", c.Name, num(c.Value)), l)
		if c.Value <= 1.5*max(ymax, 1) {
			ymax = max(ymax, c.Value)
		}
	}
	var fc plotter.XYs
	for _, a := range rep.stationForecasts[s.Datastream] {
		fc = append(fc, plotter.XY{X: float64(a.Time.Unix()), Y: a.Value})
		ymax = max(ymax, a.Value)
	}
	if len(fc) > 0 {
		sc, err := plotter.NewScatter(fc)
		if err != nil {
			return err
		}
		sc.Color = color.RGBA{G: 140, A: 255}
		sc.Shape = draw.PlusGlyph{}
		p.Add(sc)
		p.Legend.Add("forecast", sc)
	}
	first := true
	for _, a := range rep.Alerts {
		if a.Station != s.Station {
			continue
		}
		for _, t := range []*time.Time{&a.Drafted, a.Approved} {
			if t == nil || t.IsZero() {
				continue
			}
			l, err := plotter.NewLine(plotter.XYs{{X: float64(t.Unix()), Y: 0}, {X: float64(t.Unix()), Y: ymax * 1.05}})
			if err != nil {
				return err
			}
			l.Color = color.RGBA{R: 120, G: 120, B: 120, A: 255}
			l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			p.Add(l)
			if first {
				p.Legend.Add("alert drafted / approved", l)
				first = false
			}
		}
	}
	p.X.Min, p.X.Max = x0, x1
	p.Y.Min, p.Y.Max = 0, max(ymax*1.08, 1)
	return p.Save(22*vg.Centimeter, 12*vg.Centimeter, path)
}

// num writes a value without an exponent: 1001480, 2.5.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// dayTicks marks the time axis (Unix seconds) at midnight UTC, every day or every few days.
type dayTicks struct{}

func (dayTicks) Ticks(lo, hi float64) []plot.Tick {
	const day = 86400.0
	every := math.Max(1, math.Ceil((hi-lo)/day/10))
	var out []plot.Tick
	for t := math.Ceil(lo/day) * day; t <= hi; t += day {
		tk := plot.Tick{Value: t}
		if int(math.Round(t/day))%int(every) == 0 {
			tk.Label = time.Unix(int64(t), 0).UTC().Format("2 Jan")
		}
		out = append(out, tk)
	}
	return out
}
