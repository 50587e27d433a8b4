package console_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rabta/rabta/internal/web/console"
)

var figures = flag.Bool("console.figures", false, "TestConsoleInBrowser also measures and prints the console's figures: first load, observation → colour change, frame time with 22,000 villages")

// markerPixel is the station marker's drawn colour: the pixel of the Leaflet canvas at the
// marker's centre, with the fill colour the map set, and whether the map has drawn it.
const markerPixel = `(() => {
  const rm = window.rabtaMap; if (!rm) return null;
  const m = rm.markers.get(%d); if (!m || !m._point || !rm.canvas._bounds) return null;
  const r = rm.canvas, dpr = window.devicePixelRatio || 1;
  const x = Math.round((m._point.x - r._bounds.min.x) * dpr), y = Math.round((m._point.y - r._bounds.min.y) * dpr);
  const d = r._ctx.getImageData(x, y, 1, 1).data;
  return {fill: m.options.fillColor, r: d[0], g: d[1], b: d[2]};
})()`

type pixel struct {
	Fill    string
	R, G, B int
}

// near tells whether the pixel is the hex colour c, give or take what the marker's 0.95
// opacity lets through of what lies beneath.
func (p pixel) near(c string) bool {
	v, err := strconv.ParseUint(strings.TrimPrefix(c, "#"), 16, 32)
	if err != nil {
		return false
	}
	r, g, b := int(v>>16), int(v>>8&0xff), int(v&0xff)
	return math.Abs(float64(p.R-r)) <= 16 && math.Abs(float64(p.G-g)) <= 16 && math.Abs(float64(p.B-b)) <= 16
}

// waitPixel waits until the station's marker is drawn in colour c.
func waitPixel(t *testing.T, ctx context.Context, ds int64, c string, within time.Duration) (pixel, time.Duration) {
	t.Helper()
	start := time.Now()
	var p *pixel
	for time.Since(start) < within {
		var err error
		if p, err = chromedp.Run(ctx, chromedp.Evaluate[*pixel](fmt.Sprintf(markerPixel, ds))); err != nil {
			t.Fatal(err)
		}
		if p != nil && p.Fill == c && p.near(c) {
			return *p, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	shot(t, ctx, artefacts(t), "console-failed.png")
	dbg, _ := chromedp.Run(ctx, chromedp.Evaluate[any](`(() => { const rm = window.rabtaMap, m = rm.markers.get(1), r = rm.canvas; return {p: m._point, b: r._bounds, cw: r._container.width, ch: r._container.height, dpr: devicePixelRatio, style: r._container.style.cssText}; })()`))
	t.Fatalf("marker of Datastream %d not drawn in %s within %s: %+v (%v)", ds, c, within, p, dbg)
	return pixel{}, 0
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", p, len(buf))
}

// The console in headless Chromium, as an approver uses it: sign in, see the gauge in flood on
// the map (the marker's pixels in the High colour), open its hydrograph (drawn by uPlot with
// the observations, the QC-flagged point and the forecast), approve the draft. Screenshots of
// each screen go to $RABTA_ARTEFACTS (or a temporary directory).
func TestConsoleInBrowser(t *testing.T) {
	t0 := time.Now()
	browser := launchAsync(t)
	e := startEnv(t, "sqlite", nil)
	t.Logf("node ready after %s", time.Since(t0).Round(time.Millisecond))
	ctx := browser()
	t.Logf("chromium ready after %s", time.Since(t0).Round(time.Millisecond))
	dir := artefacts(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// sign in: /console/ sends the browser to the form, which comes back to the map
	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`#key`)),
	); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, dir, "console-signin.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#key`), e.keys["approver"]),
		chromedp.Click(chromedp.CSS(`#signin`)),
		chromedp.WaitVisible(chromedp.CSS(`#map`)),
	); err != nil {
		t.Fatal(err)
	}
	// the gauge at 250 ≥ High (200): drawn in the highest class's colour
	high := console.Palette[len(console.Palette)-1]
	p, _ := waitPixel(t, ctx, 1, high, 15*time.Second)
	firstLoad := time.Since(start)
	if ready, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`!!window.rabtaMap && window.rabtaMap.state.ready === true && window.rabtaMap.state.districts === %d`, e.districts), chromedp.WithPollingTimeout(10*time.Second))); err != nil || !ready {
		t.Fatalf("districts not drawn: %v", err)
	}
	if row, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#stations tr[data-ds="1"]`), "data-colour")); err != nil || row.Value != high {
		t.Fatalf("table row colour %q: %v", row.Value, err)
	}
	t.Logf("marker pixel %+v (High %s), after %s", p, high, time.Since(t0).Round(time.Millisecond))
	shot(t, ctx, dir, "console-map.png")

	if *figures {
		loadFigures(t, ctx, firstLoad)
	}

	// the hydrograph: follow the station's link
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#stations a[href="/console/stations/1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chart[data-ready="true"]`)),
	); err != nil {
		t.Fatal(err)
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[window.rabtaChart.series.observations.length, window.rabtaChart.series.forecast.length, window.rabtaChart.plot.data[2].filter(v => v != null).length]`))
	if err != nil {
		t.Fatal(err)
	}
	obs, fc, flagged := counts[0], counts[1], counts[2]
	if obs != len(readings) || fc != 6 || flagged != 1 {
		t.Fatalf("hydrograph: %d observations, %d forecast values, %d flagged", obs, fc, flagged)
	}
	// uPlot drew on its canvas: some pixel of the plot is not blank
	if drawn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.querySelector('#chart canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })()`)); err != nil || !drawn {
		t.Fatalf("hydrograph canvas blank: %v", err)
	}
	shot(t, ctx, dir, "console-hydrograph.png")

	// the queue: approve the draft with a reason
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/console/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`#alert-1 button.approve`)),
	); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, dir, "console-queue.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#why-1`), "confirmed by the gauge reader"),
		chromedp.Click(chromedp.CSS(`#alert-1 button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
	); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.notice`)))
	if err != nil {
		t.Fatal(err)
	}
	if notice != "Alert 1 approved." || e.alertState() != "issued" {
		t.Fatalf("after approving: notice %q, state %s", notice, e.alertState())
	}
	shot(t, ctx, dir, "console-approved.png")

	// the approved warning on the public page (internal/web/public), in Urdu, right to left
	type pub struct {
		Lang, Dir string
		Alerts    int
		Links     []string
		AlertLang string // the warning's own lang and direction: its Urdu <info>
		AlertDir  string
	}
	var got pub
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/?lang=ur"), chromedp.WaitReady("body")); err != nil {
			t.Fatal(err)
		}
		got, err = chromedp.Run(ctx, chromedp.Evaluate[pub](`({lang: document.documentElement.lang, dir: getComputedStyle(document.documentElement).direction,
			alerts: document.querySelectorAll('article').length, alertLang: document.querySelector('article')?.lang ?? '', alertDir: document.querySelector('article') ? getComputedStyle(document.querySelector('article')).direction : '', links: [...document.querySelectorAll('a[href^="/alerts/"]')].map(a => a.getAttribute('href'))})`))
		if err != nil {
			t.Fatal(err)
		}
		if got.Alerts > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond) // the CAP message is signed and stored just after the approval
	}
	if got.Lang != "ur" || got.Dir != "rtl" || got.Alerts != 1 || !slices.Contains(got.Links, "/alerts/1?lang=ur") || got.AlertLang != "ur" || got.AlertDir != "rtl" {
		t.Fatalf("public page in Urdu after approving: %+v", got)
	}
	shot(t, ctx, dir, "public-ur-approved.png")

	if *figures {
		colourFigure(t, ctx, e)
	}
}

// loadFigures prints the first load of the map page: bytes the browser fetched (transfer and
// decoded), the same gzip-compressed as the node serves them to a browser that accepts gzip,
// and the time from navigation to the gauge drawn in its colour.
func loadFigures(t *testing.T, ctx context.Context, firstLoad time.Duration) {
	type resource struct {
		Name     string
		Transfer float64
		Encoded  float64
		Decoded  float64
	}
	js := `[performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')].map(r => ({name: r.name, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize}))`
	res, err := chromedp.Run(ctx, chromedp.Evaluate[[]resource](js))
	if err != nil {
		t.Fatal(err)
	}
	var transfer, encoded, decoded float64
	for _, r := range res {
		transfer, encoded, decoded = transfer+r.Transfer, encoded+r.Encoded, decoded+r.Decoded
		t.Logf("FIGURE first-load resource %s: %.0f bytes on the wire (body %.0f, %.0f decoded)", r.Name, r.Transfer, r.Encoded, r.Decoded)
	}
	t.Logf("FIGURE console first load (map page, signed in, empty cache): %d requests, %.0f bytes on the wire, %.0f bytes of bodies as sent, %.0f decoded; %s from opening /console/ to the gauge drawn (incl. the sign-in form)",
		len(res), transfer, encoded, decoded, firstLoad.Round(time.Millisecond))
}

// colourFigure prints the time from an observation POSTed to the map's marker changing colour,
// and the map's frame time with every station and the villages drawn.
func colourFigure(t *testing.T, ctx context.Context, e *env) {
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`#map`))); err != nil {
		t.Fatal(err)
	}
	waitPixel(t, ctx, 1, console.Palette[len(console.Palette)-1], 15*time.Second)
	last, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.rabtaMap.state.stations[0].time`))
	lt, _ := time.Parse(time.RFC3339, last)
	var took []time.Duration
	for i, v := range []float64{20, 250, 20, 250, 20} {
		want := console.Normal
		if v == 250 {
			want = console.Palette[len(console.Palette)-1]
		}
		posted := time.Now()
		e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"result":%g,"Datastream":{"@iot.id":1}}`, lt.Add(time.Duration(i+1)*time.Minute).Format(time.RFC3339), v))
		_, d := waitPixel(t, ctx, 1, want, 20*time.Second)
		took = append(took, time.Since(posted))
		_ = d
	}
	t.Logf("FIGURE observation POSTed → marker drawn in its new colour (map polling every 5 s): %v", took)

	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.rabtaMap.villages(true).then(() => window.rabtaMap.state.villages)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	frame, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.rabtaMap.frameTime(20)`))
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, artefacts(t), "console-map-villages.png")
	t.Logf("FIGURE map frame time with %d stations and %d villages (Leaflet canvas, whole redraw, headless Chromium, mean of 20): %.1f ms", 1, n, frame)
}

// TestConsoleDemoScreens takes the screenshots of a running demo node (rabta serve --demo) at
// $RABTA_CONSOLE_DEMO_URL, signed in with $RABTA_CONSOLE_DEMO_KEY, into $RABTA_ARTEFACTS: how
// docs/console.md's and the README's screenshots are made. Skipped without those variables.
func TestConsoleDemoScreens(t *testing.T) {
	base, key := os.Getenv("RABTA_CONSOLE_DEMO_URL"), os.Getenv("RABTA_CONSOLE_DEMO_KEY")
	if base == "" || key == "" {
		t.Skip("RABTA_CONSOLE_DEMO_URL and RABTA_CONSOLE_DEMO_KEY not set: no demo node to photograph")
	}
	ctx := launch(t)
	dir := artefacts(t)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/signin"),
		chromedp.SendKeys(chromedp.CSS(`#key`), key),
		chromedp.Click(chromedp.CSS(`#signin`)),
		chromedp.WaitVisible(chromedp.CSS(`#map`)),
	); err != nil {
		t.Fatal(err)
	}
	if ok, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!window.rabtaMap && window.rabtaMap.state.ready === true && window.rabtaMap.state.stations.length > 0`, chromedp.WithPollingTimeout(30*time.Second))); err != nil || !ok {
		t.Fatalf("map: %v", err)
	}
	loadFigures(t, ctx, time.Since(start))
	time.Sleep(time.Second)
	shot(t, ctx, dir, "demo-map.png")
	sts, _ := chromedp.Run(ctx, chromedp.Evaluate[[]console.Station](`window.rabtaMap.state.stations`))
	ds := sts[0].Datastream
	for _, s := range sts {
		t.Logf("station %d %s: %v %s class %q qc %q", s.Datastream, s.Name, s.Value, s.Unit, s.Class, s.QC)
		if s.Rank > 0 {
			ds = s.Datastream
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/console/stations/%d?hours=720", base, ds)), chromedp.WaitVisible(chromedp.CSS(`#chart[data-ready="true"]`))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, dir, "demo-hydrograph.png")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/alerts"), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, dir, "demo-queue.png")
	// approve the first draft, then watch its deliveries go out to the demo's gateway sinks
	if os.Getenv("RABTA_CONSOLE_DEMO_APPROVE") != "" {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`input[name=why]`), "checked the hydrograph"),
			chromedp.Click(chromedp.CSS(`button.approve`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
		); err != nil {
			t.Fatal(err)
		}
		notice, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.notice`)))
		t.Logf("approved: %s", notice)
		time.Sleep(8 * time.Second) // the page reloads itself with the delivery progress
		full, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
		if err == nil {
			os.WriteFile(filepath.Join(dir, "demo-deliveries-full.jpg"), full, 0o644)
		}
		var id int
		fmt.Sscanf(notice, "Alert %d approved.", &id)
		if err := chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.CSS(fmt.Sprintf("#alert-%d", id)))); err != nil {
			t.Fatal(err)
		}
		shot(t, ctx, dir, "demo-deliveries.png")
	}
}
