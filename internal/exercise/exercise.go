package exercise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
)

// Options configure an exercise run.
type Options struct {
	// From and To bound the replay (exercise time, inclusive); To must be after From.
	From, To time.Time
	// Speed is exercise seconds per wall-clock second; 0 is maximum speed: the clock jumps to
	// each reading's (and each simulated approval's) time and the replay waits for the node
	// to settle (node.Settled) before going on, so a run at maximum speed is deterministic.
	Speed float64
	// History is what is replayed (Demo or Remote); required.
	History *History
	// Workspace is the exercise's directory: the node's data (node/), the delivery sink
	// (deliveries.jsonl), the admin key (admin.key) and, by default, the report; required,
	// created if missing, kept afterwards. It must not hold an earlier exercise's node.
	Workspace string
	// Recipients is a subscriber CSV (examples/subscribers.csv's columns): the only people the
	// exercise's alerts can reach. Empty: nobody (deliveries then only to webhooks listed
	// there, and SMS and e-mail to the sink file). Exercise alerts go only to subscribers in the
	// "exercise" audience (dissemination.Audiences); rows without it are stored but receive
	// nothing, and the run says so on Console.
	Recipients string
	// ApproveAfter, when positive, is a simulated approver: each draft is approved through the
	// API this long (exercise time) after it appeared. Zero: operators approve through the API.
	ApproveAfter time.Duration
	// ReportDir receives report.md, report.json and the hydrographs (empty: the workspace).
	ReportDir string
	// Progress receives the progress display (nil: none); ProgressTTY says it is a terminal
	// (a redrawn bar) rather than a log (a line every 10 %).
	Progress    io.Writer
	ProgressTTY bool
	// Console receives what operators need: the node's address and where the admin key is (nil: none).
	Console io.Writer
	// Log receives the node's and the run's logs (nil: none).
	Log *slog.Logger
	// Places, when not nil, are the places the exercise node knows (node.Options.Places; at
	// least one district) instead of the embedded set: fewer load faster (tests).
	Places []place.Place
}

// NodeID is the exercise node's id (in CAP identifiers and subjects).
const NodeID = "exercise"

// approverName is the simulated approver's API key name, as transitions record it.
const approverName = "exercise-simulated-approver"

// Run replays opts.History through a fresh node in opts.Workspace — ingest over the
// SensorThings API, QC, the bus, the warning rules (status forced to Exercise), drafts,
// approval, CAP and dissemination to the exercise's recipients — and writes the report. It
// returns the report; the error is about the run (bad options, the node failing), never about
// what the exercise found.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}
	if opts.ReportDir == "" {
		opts.ReportDir = opts.Workspace
	}
	if err := os.MkdirAll(opts.Workspace, 0o700); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	dataDir := filepath.Join(opts.Workspace, "node")
	if _, err := os.Stat(filepath.Join(dataDir, "rabta.db")); err == nil {
		return nil, fmt.Errorf("workspace %s already holds an exercise node (node/rabta.db): give a new --workspace", opts.Workspace)
	}
	key, _ := auth.NewKey()
	keyFile := filepath.Join(opts.Workspace, "admin.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	sink := filepath.Join(opts.Workspace, "deliveries.jsonl")
	clock := NewClock(opts.From, opts.Speed)
	ds, err := demo.Load()
	if err != nil {
		return nil, err
	}
	names, err := demo.Names(ds)
	if err != nil {
		return nil, err
	}
	tick := time.Second
	if opts.Speed == 0 {
		tick = 1000 * time.Hour // the replay ticks after each jump of the clock (node.Tick)
	}
	n, err := node.New(ctx, node.Options{ID: NodeID, DataDir: dataDir, HTTPAddr: "127.0.0.1:0", AdminKey: key,
		SenderName: demo.SenderName, Names: names, Now: clock.Now, Log: opts.Log, TickEvery: tick, Places: opts.Places,
		Dissemination: node.DisseminationOptions{Sink: sink}})
	if err != nil {
		return nil, fmt.Errorf("exercise node: %w", err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return nil, fmt.Errorf("exercise node: %w", err)
	}
	base := "http://" + n.Addr().String()
	fmt.Fprintf(opts.Console, "exercise node: %s (SensorThings %s/v1.1, alerts %s/api/v1/alerts)\nadmin API key: in %s\nworkspace: %s\n",
		base, base, base, keyFile, opts.Workspace)

	r := &run{opts: opts, node: n, clock: clock, api: newClient(base, key), log: opts.Log.With("component", "exercise"), pending: map[int64]time.Time{}}
	if err := r.seed(ctx); err != nil {
		return nil, err
	}
	approver := ""
	if opts.ApproveAfter > 0 {
		if approver, err = r.approverKey(ctx); err != nil {
			return nil, err
		}
	}
	r.approver = newClient(base, approver)
	started := time.Now()
	if err := r.replay(ctx); err != nil {
		return nil, err
	}
	wall := time.Since(started)
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	rep, err := r.collect(ctx, sink)
	if err != nil {
		return nil, err
	}
	rep.Node, rep.Workspace = base, opts.Workspace
	rep.Wall = wall.Round(time.Millisecond).String()
	if s := wall.Seconds(); s > 0 {
		rep.ObsPerSecond = float64(rep.Observations) / s
	}
	if err := n.Close(); err != nil {
		return nil, err
	}
	if err := rep.Write(opts.ReportDir, opts.History); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Console, "report: %s\n", filepath.Join(opts.ReportDir, "report.md"))
	return rep, nil
}

func (o *Options) check() error {
	switch {
	case o.History == nil:
		return errors.New("exercise: no history to replay")
	case o.From.IsZero() || o.To.IsZero():
		return errors.New("exercise: from and to are required")
	case !o.To.After(o.From):
		return fmt.Errorf("exercise: to (%s) must be after from (%s)", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	case o.Speed < 0:
		return fmt.Errorf("exercise: speed %v: want a positive number, or 0 for the maximum", o.Speed)
	case o.ApproveAfter < 0:
		return fmt.Errorf("exercise: approve-after %v: want a positive duration", o.ApproveAfter)
	case o.Workspace == "":
		return errors.New("exercise: a workspace directory is required")
	}
	return nil
}

// run is one exercise in progress.
type run struct {
	opts     Options
	node     *node.Node
	clock    *Clock
	api      *client // the exercise's admin
	approver *client // the simulated approver (no key: none)
	log      *slog.Logger
	ids      map[int64]int64 // source datastream id → exercise datastream id
	steps    []step
	obs      int
	// pending are drafts seen and not yet approved: alert id → exercise time first seen
	pending map[int64]time.Time
	done    float64 // progress shown, 0..1
	bar     progress
}

// step is every reading of one instant.
type step struct {
	at    time.Time
	byDS  map[int64][]Reading // exercise datastream id → readings
	count int
}

var idInLocation = regexp.MustCompile(`\((\d+)\)$`)

// created returns the id in a Location header: …/Things(12).
func created(h map[string][]string, what string) (int64, error) {
	loc := ""
	if v := h["Location"]; len(v) > 0 {
		loc = v[0]
	}
	m := idInLocation.FindStringSubmatch(loc)
	if m == nil {
		return 0, fmt.Errorf("create %s: no id in the answer's Location %q", what, loc)
	}
	return strconv.ParseInt(m[1], 10, 64)
}

// seed creates the history's Things, Locations, Sensors, ObservedProperties and Datastreams
// and applies its rules (status Exercise) through the API, and imports the recipients.
func (r *run) seed(ctx context.Context) error {
	h := r.opts.History
	r.ids = map[int64]int64{}
	things := map[int64]int64{} // exercise datastream → its Thing
	ops := map[string]int64{}
	for _, t := range h.Things {
		var dss []map[string]any
		for _, d := range t.Datastreams {
			op, ok := ops[d.ObservedProperty+"\x00"+d.Definition]
			if !ok {
				hdr, err := r.api.postJSON(ctx, "/v1.1/ObservedProperties", map[string]any{
					"name": d.ObservedProperty, "definition": d.Definition, "description": d.ObservedProperty}, nil)
				if err != nil {
					return err
				}
				if op, err = created(hdr, "ObservedProperty"); err != nil {
					return err
				}
				ops[d.ObservedProperty+"\x00"+d.Definition] = op
			}
			dss = append(dss, map[string]any{
				"name": d.Name, "description": d.Description, "observationType": d.ObservationType,
				"unitOfMeasurement": d.Unit, "properties": nonNil(d.Properties),
				"ObservedProperty": map[string]any{"@iot.id": op},
				"Sensor": map[string]any{"name": d.ObservedProperty + " sensor of " + d.Name, "description": "Replayed from " + h.Source,
					"encodingType": "text/html", "metadata": h.Source},
			})
		}
		hdr, err := r.api.postJSON(ctx, "/v1.1/Things", map[string]any{
			"name": t.Name, "description": t.Description, "properties": nonNil(t.Properties),
			"Locations": []map[string]any{{"name": t.Name, "description": "Position of " + t.Name, "encodingType": "application/geo+json",
				"location": map[string]any{"type": "Point", "coordinates": []float64{t.Lon, t.Lat}}}},
			"Datastreams": dss,
		}, nil)
		if err != nil {
			return fmt.Errorf("seed %s: %w", t.Name, err)
		}
		id, err := created(hdr, "Thing")
		if err != nil {
			return err
		}
		var got struct {
			Value []struct {
				ID   int64  `json:"@iot.id"`
				Name string `json:"name"`
			} `json:"value"`
		}
		if err := r.api.get(ctx, fmt.Sprintf("/v1.1/Things(%d)/Datastreams?$select=id,name&$top=1000", id), &got); err != nil {
			return err
		}
		byName := map[string]int64{}
		for _, v := range got.Value {
			byName[v.Name] = v.ID
		}
		for _, d := range t.Datastreams {
			nid, ok := byName[d.Name]
			if !ok {
				return fmt.Errorf("seed %s: datastream %q not created", t.Name, d.Name)
			}
			r.ids[d.SourceID] = nid
			things[nid] = id
		}
	}
	// the river network, on the exercise's Things and Datastreams: the node forecasts
	forecasts := map[string]int64{} // network station → the exercise node's forecast datastream
	if h.Network != nil {
		var err error
		if forecasts, err = r.network(ctx, things); err != nil {
			return err
		}
	}
	// the rules, on the exercise's datastreams, every one an Exercise
	var rules []rule.View
	for _, v := range h.Rules {
		var dss []int64
		for _, s := range v.Datastreams {
			if id, ok := r.ids[s]; ok {
				dss = append(dss, id)
			} else if id, ok := forecasts[h.ForecastStations[s]]; ok && id != 0 {
				dss = append(dss, id)
			}
		}
		if len(dss) != len(v.Datastreams) {
			r.log.Warn("rule_left_out", "rule", v.ID, "why", "it reads a datastream the history does not hold")
			continue
		}
		v.Datastreams, v.Status = dss, rule.Exercise
		rules = append(rules, v)
	}
	if len(rules) > 0 {
		b, err := rulesFile(rules)
		if err != nil {
			return err
		}
		if _, err := r.api.do(ctx, "PUT", "/api/v1/rules", "application/yaml", b, nil); err != nil {
			return fmt.Errorf("apply the exercise's rules: %w", err)
		}
	}
	fmt.Fprintf(r.opts.Console, "seeded: %d stations, %d datastreams, %d rules (status Exercise), %d forecast stations, %d readings to replay\n",
		len(h.Things), len(r.ids), len(rules), len(forecasts), h.Count())
	if r.opts.Recipients != "" {
		if err := r.recipients(ctx); err != nil {
			return err
		}
	}
	// the node loads its places (boundaries, populations) on first use: ask for an impact now,
	// so that the first alert of the replay does not wait for it
	if len(h.Things) > 0 {
		t := h.Things[0]
		area := map[string]any{"desc": "exercise warm-up", "circles": []any{map[string]any{"center": map[string]float64{"lat": t.Lat, "lon": t.Lon}, "radiusKm": 1}}}
		if _, err := r.api.postJSON(ctx, "/api/v1/impact", area, nil); err != nil {
			return fmt.Errorf("exercise node: load places: %w", err)
		}
	}
	// the replay's steps: every reading of one instant together
	at := map[int64]*step{}
	for _, t := range h.Things {
		for _, d := range t.Datastreams {
			for _, o := range d.Obs {
				if o.Time.Before(r.opts.From) || o.Time.After(r.opts.To) {
					continue
				}
				k := o.Time.UnixNano()
				s := at[k]
				if s == nil {
					s = &step{at: o.Time.UTC(), byDS: map[int64][]Reading{}}
					at[k] = s
				}
				s.byDS[r.ids[d.SourceID]] = append(s.byDS[r.ids[d.SourceID]], o)
				s.count++
			}
		}
	}
	for _, s := range at {
		r.steps = append(r.steps, *s)
	}
	sort.Slice(r.steps, func(i, j int) bool { return r.steps[i].at.Before(r.steps[j].at) })
	return nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// approverKey makes the simulated approver's key (role approver) through the API.
func (r *run) approverKey(ctx context.Context) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	if _, err := r.api.postJSON(ctx, "/api/v1/keys", map[string]any{"organisation": auth.NodeOrganisation, "role": "approver", "name": approverName}, &out); err != nil {
		return "", fmt.Errorf("simulated approver: %w", err)
	}
	if out.Key == "" {
		return "", errors.New("simulated approver: the keys API answered no key")
	}
	return out.Key, nil
}

// rulesFile writes rules as a rules file (JSON, which is YAML) for PUT /api/v1/rules: the
// views with their points as [lat, lon] lists, as rule.View's documentation says a file takes them.
func rulesFile(rules []rule.View) ([]byte, error) {
	var out []map[string]any
	for _, v := range rules {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if v.Area != nil {
			area := m["area"].(map[string]any)
			var circles []any
			for _, c := range v.Area.Circles {
				circles = append(circles, map[string]any{"center": []float64{c.Center.Lat, c.Center.Lon}, "radiusKm": c.RadiusKm})
			}
			if circles != nil {
				area["circles"] = circles
			}
			var polys []any
			for _, pg := range v.Area.Polygons {
				var ring [][]float64
				for _, p := range pg {
					ring = append(ring, []float64{p.Lat, p.Lon})
				}
				polys = append(polys, ring)
			}
			if polys != nil {
				area["polygons"] = polys
			}
		}
		out = append(out, m)
	}
	return json.Marshal(map[string]any{"rules": out})
}

// network stores the history's river network on the exercise node (PUT
// /api/v1/forecast/network) with the exercise's ids, and returns each station's forecast
// Datastream as the node made it (GET).
func (r *run) network(ctx context.Context, things map[int64]int64) (map[string]int64, error) {
	doc := *r.opts.History.Network
	doc.Organisation, doc.Updated, doc.By = "", nil, ""
	doc.Stations = slices.Clone(doc.Stations)
	for i := range doc.Stations {
		st := &doc.Stations[i]
		st.Forecast, st.Horizon = 0, nil
		if id, ok := r.ids[st.Discharge]; ok && st.Discharge != 0 {
			st.Discharge, st.Thing = id, things[id]
		} else {
			st.Discharge, st.Thing = 0, 0 // not in the history: routed through, not observed
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if _, err := r.api.do(ctx, "PUT", "/api/v1/forecast/network", "application/json", b, nil); err != nil {
		return nil, fmt.Errorf("store the river network: %w", err)
	}
	var got forecasting.Document
	if err := r.api.get(ctx, "/api/v1/forecast/network", &got); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, st := range got.Stations {
		if st.Forecast != 0 {
			out[st.ID] = st.Forecast
		}
	}
	return out, nil
}
