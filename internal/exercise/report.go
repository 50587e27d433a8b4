package exercise

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
)

// Report is what an exercise found: report.json holds it, report.md says the same for people.
// Times are exercise times (the replayed data's own dates), UTC; durations are Go durations
// ("1h30m0s").
type Report struct {
	Source    string    `json:"source"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Speed     string    `json:"speed"` // "max" or exercise seconds per wall second
	Node      string    `json:"node"`  // the exercise node's URL (gone once the run ends)
	Workspace string    `json:"workspace"`
	// Observations is how many readings were replayed; Wall the replay's wall time;
	// ObsPerSecond their quotient.
	Observations int     `json:"observations"`
	Wall         string  `json:"wall"`
	ObsPerSecond float64 `json:"observationsPerSecond"`

	Stations []StationReport `json:"stations"`
	Alerts   []AlertReport   `json:"alerts"`
	Timeline []Event         `json:"timeline"`
	// Missed are observed crossings of a flood class the chain did not react to (see Crossing).
	Missed []Crossing `json:"missed"`
	// Unapproved are alerts whose draft was never approved (state draft at the end, or withdrawn
	// before anyone approved it).
	Unapproved []AlertReport `json:"unapproved"`
	// Deliveries counts every delivery of the exercise by channel and state; NonRecipients is
	// how many SMS and e-mails the sink saw go to an address not in the recipients file (an
	// exercise must have none).
	Deliveries    map[string]int64 `json:"deliveries"`
	NonRecipients int              `json:"nonRecipients"`
	// Medians of the per-alert durations (empty when none).
	MedianFirstSignToDraft   string `json:"medianFirstSignToDraft,omitempty"`
	MedianDraftToApproval    string `json:"medianDraftToApproval,omitempty"`
	MedianApprovalToDelivery string `json:"medianApprovalToDelivery,omitempty"`

	stationForecasts map[int64][]Reading // for the hydrographs
}

// StationReport is one gauge a rule with classes watches.
type StationReport struct {
	Station    string     `json:"station"`
	Datastream int64      `json:"datastream"` // the exercise node's id
	Unit       string     `json:"unit"`
	Rule       string     `json:"rule"`
	Levels     []Class    `json:"levels"`
	Readings   int        `json:"readings"`
	Peak       *Point     `json:"peak,omitempty"`
	FirstSign  *Point     `json:"firstSign,omitempty"` // first reading at or past the lowest class
	Crossings  []Crossing `json:"crossings"`
	Forecasts  int        `json:"forecasts"`            // forecast (derived) values the node made for the station
	Hydrograph string     `json:"hydrograph,omitempty"` // file name beside the report
}

// Class is a flood class: name and threshold in the datastream's unit.
type Class struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Point is a reading.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Crossing is a reading that reached a class its predecessor in the window was below (or the
// window's first reading, when it is at or past the class already). The chain reacted to it
// (Alert ≠ 0) when an alert of the station's gauge rule (not a forecast rule) was drafted,
// escalated or issued by the rule at or after the reading and before the station's next
// reading (or the end of the exercise).
type Crossing struct {
	Station string    `json:"station"`
	Level   string    `json:"level"`
	Time    time.Time `json:"time"`
	Value   float64   `json:"value"`
	Alert   int64     `json:"alert,omitempty"`
}

// AlertReport is one alert's path through the chain.
type AlertReport struct {
	ID      int64  `json:"id"`
	Rule    string `json:"rule"`
	Station string `json:"station,omitempty"`
	Level   string `json:"level,omitempty"` // the last level
	State   string `json:"state"`
	Status  string `json:"status"`
	// Forecast: the rule reads forecasts; LeadTime is the first message's onset − sent (a
	// draft never issued: its onset − drafted).
	Forecast bool   `json:"forecast,omitempty"`
	LeadTime string `json:"leadTime,omitempty"`
	// Category and Audiences are a sector advisory's (its rule's CAP category, e.g. Health,
	// Env, Met, and who it goes to, e.g. hospitals; docs/advisories.md); empty for a flood
	// warning. An advisory's Station is the station of the first datastream its rule reads.
	Category  string   `json:"category,omitempty"`
	Audiences []string `json:"audiences,omitempty"`

	FirstSign     *time.Time `json:"firstSign,omitempty"` // start of the station's episode past the lowest class
	Drafted       time.Time  `json:"drafted"`
	Approved      *time.Time `json:"approved,omitempty"` // first issue
	ApprovedBy    string     `json:"approvedBy,omitempty"`
	AutoIssued    bool       `json:"autoIssued,omitempty"`
	FirstDelivery *time.Time `json:"firstDelivery,omitempty"`
	LastDelivery  *time.Time `json:"lastDelivery,omitempty"`
	Messages      []string   `json:"messages,omitempty"` // CAP identifiers issued
	Delivered     int        `json:"delivered"`          // SMS and e-mails the sink took

	// FirstSignToDraft is only for the first gauge (not forecast) alert of an episode.
	FirstSignToDraft   string `json:"firstSignToDraft,omitempty"`
	DraftToApproval    string `json:"draftToApproval,omitempty"`
	ApprovalToDelivery string `json:"approvalToDelivery,omitempty"`
}

// Event is one line of the timeline.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // first-sign, crossing, forecast-trigger, draft, approval, issue, update, cancel, expiry, withdrawal, delivery
	Station string    `json:"station,omitempty"`
	Alert   int64     `json:"alert,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// alertDetail is GET /api/v1/alerts/{id} as the report reads it.
type alertDetail struct {
	ID       int64  `json:"id"`
	Rule     string `json:"rule"`
	State    string `json:"state"`
	Status   string `json:"status"`
	Level    string `json:"level"`
	Messages []struct {
		Identifier string    `json:"identifier"`
		MsgType    string    `json:"msgType"`
		Sent       time.Time `json:"sent"`
	} `json:"messages"`
	Draft *struct {
		Infos []struct {
			Onset *time.Time `json:"onset"`
		} `json:"infos"`
	} `json:"draft"`
	Transitions []struct {
		From       string    `json:"from"`
		To         string    `json:"to"`
		By         string    `json:"by"`
		Why        string    `json:"why"`
		At         time.Time `json:"at"`
		Identifier string    `json:"identifier"`
	} `json:"transitions"`
}

// sinkLine is one line of the delivery sink.
type sinkLine struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	To      string    `json:"to"`
	Alert   string    `json:"alert"`
}

// stationInfo is what the report knows of a watched datastream.
type stationInfo struct {
	name     string
	unit     string
	rule     rule.View
	obs      []Reading
	forecast []Reading // values of the Thing's other datastreams (forecasts the node made)
}

func (r *run) collect(ctx context.Context, sink string) (*Report, error) {
	speed := "max"
	if r.opts.Speed > 0 {
		speed = fmt.Sprint(r.opts.Speed)
	}
	rep := &Report{Source: r.opts.History.Source, From: r.opts.From.UTC(), To: r.opts.To.UTC(), Speed: speed, Observations: r.obs,
		Deliveries: map[string]int64{}}

	// the watched datastreams: each rule with classes over one datastream
	stations := map[int64]*stationInfo{}
	ruleDS := map[string]int64{}
	for _, t := range r.opts.History.Things {
		for _, d := range t.Datastreams {
			for _, v := range r.opts.History.Rules {
				// sector advisories are no flood gauges: their bands hold for hours and their
				// alerts are reported by audience, not matched to class crossings
				if len(v.Datastreams) != 1 || v.Datastreams[0] != d.SourceID || len(v.Levels) == 0 || v.Direction == rule.Below || len(v.Audiences) > 0 {
					continue
				}
				id := r.ids[d.SourceID]
				stations[id] = &stationInfo{name: t.Name, unit: d.Unit.Symbol, rule: v, obs: window(d.Obs, r.opts.From, r.opts.To)}
				ruleDS[v.ID] = id
			}
		}
	}
	// forecast rules belong to the station whose forecast they read
	if h := r.opts.History; h.Network != nil {
		discharge := map[string]int64{}
		for _, st := range h.Network.Stations {
			discharge[st.ID] = st.Discharge
		}
		for _, v := range h.Rules {
			if !v.Forecast || len(v.Datastreams) != 1 {
				continue
			}
			if id, ok := r.ids[discharge[h.ForecastStations[v.Datastreams[0]]]]; ok && stations[id] != nil {
				ruleDS[v.ID] = id
			}
		}
	}
	if err := r.forecasts(ctx, stations); err != nil {
		return nil, err
	}

	// the alerts, as the API shows them
	var list struct {
		Value []struct {
			ID int64 `json:"id"`
		} `json:"value"`
	}
	if err := r.api.get(ctx, "/api/v1/alerts?limit=1000", &list); err != nil {
		return nil, err
	}
	var details []alertDetail
	for _, a := range list.Value {
		var d alertDetail
		if err := r.api.get(ctx, fmt.Sprintf("/api/v1/alerts/%d", a.ID), &d); err != nil {
			return nil, err
		}
		details = append(details, d)
		var counts struct {
			Counts []struct {
				Channel string `json:"channel"`
				State   string `json:"state"`
				N       int64  `json:"n"`
			} `json:"counts"`
		}
		if err := r.api.get(ctx, fmt.Sprintf("/api/v1/alerts/%d/deliveries", a.ID), &counts); err != nil {
			return nil, err
		}
		for _, c := range counts.Counts {
			rep.Deliveries[c.Channel+" "+c.State] += c.N
		}
	}
	sort.Slice(details, func(i, j int) bool { return details[i].ID < details[j].ID })

	lines, err := readSink(sink)
	if err != nil {
		return nil, err
	}
	allowed, err := recipientAddresses(r.opts.Recipients)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if !allowed[l.To] {
			rep.NonRecipients++
		}
	}
	r.analyse(ctx, rep, stations, ruleDS, details, lines)
	rep.stationForecasts = map[int64][]Reading{}
	for id, st := range stations {
		rep.stationForecasts[id] = st.forecast
	}
	return rep, nil
}

// window returns the readings in [from, to].
func window(obs []Reading, from, to time.Time) []Reading {
	var out []Reading
	for _, o := range obs {
		if !o.Time.Before(from) && !o.Time.After(to) {
			out = append(out, Reading{Time: o.Time.UTC(), Value: o.Value})
		}
	}
	return out
}

// forecasts reads, for each watched station, the values of its Thing's datastreams the
// exercise did not create (forecasts or derived series the node computed) in the window.
func (r *run) forecasts(ctx context.Context, stations map[int64]*stationInfo) error {
	seeded := map[int64]bool{}
	for _, id := range r.ids {
		seeded[id] = true
	}
	for id, st := range stations {
		var ds struct {
			Value []struct {
				ID int64 `json:"@iot.id"`
			} `json:"value"`
		}
		if err := r.api.get(ctx, fmt.Sprintf("/v1.1/Datastreams(%d)/Thing/Datastreams?$select=id&$top=1000", id), &ds); err != nil {
			return err
		}
		for _, d := range ds.Value {
			if seeded[d.ID] {
				continue
			}
			q := url.Values{"$select": {"phenomenonTime,result"}, "$orderby": {"phenomenonTime asc"}, "$top": {"10000"},
				"$filter": {fmt.Sprintf("phenomenonTime ge %s and phenomenonTime le %s", r.opts.From.UTC().Format(time.RFC3339), r.opts.To.Add(72*time.Hour).UTC().Format(time.RFC3339))}}
			next := fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?%s", d.ID, q.Encode())
			for next != "" {
				var page struct {
					Value []struct {
						Time   string  `json:"phenomenonTime"`
						Result float64 `json:"result"`
					} `json:"value"`
					Next string `json:"@iot.nextLink"`
				}
				if err := r.api.get(ctx, next, &page); err != nil {
					return err
				}
				for _, o := range page.Value {
					t, err := time.Parse(time.RFC3339Nano, strings.SplitN(o.Time, "/", 2)[0])
					if err == nil {
						st.forecast = append(st.forecast, Reading{Time: t.UTC(), Value: o.Result})
					}
				}
				next = page.Next
			}
		}
	}
	return nil
}

// readSink reads the delivery sink's lines (none when no message went out).
func readSink(path string) ([]sinkLine, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []sinkLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l sinkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("delivery sink %s: %w", path, err)
		}
		l.At = l.At.UTC()
		out = append(out, l)
	}
	return out, sc.Err()
}

// analyse turns what the node did into the report: alerts with their durations, crossings
// matched to alerts, the timeline.
func (r *run) analyse(ctx context.Context, rep *Report, stations map[int64]*stationInfo, ruleDS map[string]int64, details []alertDetail, lines []sinkLine) {
	byIdent := map[string][]sinkLine{}
	for _, l := range lines {
		byIdent[l.Alert] = append(byIdent[l.Alert], l)
	}
	forecastRule := map[string]bool{}
	advisories := map[string]rule.View{} // sector advisories' rules by id
	for _, v := range r.opts.History.Rules {
		forecastRule[v.ID] = v.Forecast
		if len(v.Audiences) > 0 {
			advisories[v.ID] = v
		}
	}
	thingOf := map[int64]string{} // source datastream → its station's name
	for _, t := range r.opts.History.Things {
		for _, d := range t.Datastreams {
			thingOf[d.SourceID] = t.Name
		}
	}
	var ev []Event
	// reactions[datastream] = times the gauge rule drafted, escalated or issued, with the alert
	type reaction struct {
		at    time.Time
		alert int64
	}
	reactions := map[int64][]reaction{}
	var d2a, a2d, s2d []time.Duration
	episodes := map[string]bool{} // station and episode start with a gauge alert already
	for _, d := range details {
		ds := ruleDS[d.Rule]
		st := stations[ds]
		a := AlertReport{ID: d.ID, Rule: d.Rule, Level: d.Level, State: d.State, Status: d.Status, Forecast: forecastRule[d.Rule]}
		if st != nil {
			a.Station = st.name
		}
		if v, ok := advisories[d.Rule]; ok {
			a.Category, a.Audiences = v.Category, v.Audiences
			if len(v.Datastreams) > 0 {
				a.Station = thingOf[v.Datastreams[0]]
			}
		}
		for _, t := range d.Transitions {
			kind := ""
			switch {
			case t.To == "draft" && t.From == "":
				kind = "draft"
				a.Drafted = t.At.UTC()
			case t.To == "issued" && t.From == "draft":
				kind = "issue"
				if a.Approved == nil {
					at := t.At.UTC()
					a.Approved, a.ApprovedBy, a.AutoIssued = &at, t.By, strings.HasPrefix(t.By, "rule:")
				}
				if !a.AutoIssued {
					ev = append(ev, Event{Time: t.At.UTC(), Kind: "approval", Station: a.Station, Alert: d.ID, Detail: "approved by " + t.By})
				}
			case strings.HasPrefix(t.Why, "draft "):
				kind = "update"
			case strings.HasPrefix(t.Why, "issued "):
				kind = "issue"
			case t.To == "expired":
				kind = "expiry"
			case t.To == "withdrawn":
				kind = "withdrawal"
			case t.To == "cancelled":
				kind = "cancel"
			default:
				kind = t.To
			}
			if kind == "draft" && a.Forecast {
				ev = append(ev, Event{Time: t.At.UTC(), Kind: "forecast-trigger", Station: a.Station, Alert: d.ID, Detail: t.Why})
			}
			ev = append(ev, Event{Time: t.At.UTC(), Kind: kind, Station: a.Station, Alert: d.ID, Detail: strings.TrimSpace(t.By + ": " + t.Why)})
			if !a.Forecast && strings.HasPrefix(t.By, "rule:") && (kind == "draft" || kind == "update" || kind == "issue") {
				reactions[ds] = append(reactions[ds], reaction{t.At.UTC(), d.ID})
			}
		}
		for _, m := range d.Messages {
			a.Messages = append(a.Messages, m.Identifier)
			for _, l := range byIdent[m.Identifier] {
				at := l.At
				if a.FirstDelivery == nil || at.Before(*a.FirstDelivery) {
					a.FirstDelivery = &at
				}
				if a.LastDelivery == nil || at.After(*a.LastDelivery) {
					a.LastDelivery = &at
				}
				a.Delivered++
				ev = append(ev, Event{Time: at, Kind: "delivery", Station: a.Station, Alert: d.ID, Detail: l.Channel + " to " + l.To + " (" + m.Identifier + ")"})
			}
		}
		if a.Forecast && len(d.Messages) > 0 {
			if lead, ok := r.leadTime(ctx, d.Messages[0].Identifier); ok {
				a.LeadTime = lead.String()
			}
		} else if a.Forecast && d.Draft != nil && len(d.Draft.Infos) > 0 && d.Draft.Infos[0].Onset != nil && !a.Drafted.IsZero() {
			a.LeadTime = d.Draft.Infos[0].Onset.Sub(a.Drafted).String() // a draft never issued: its onset
		}
		if st != nil && !a.Drafted.IsZero() {
			if fs := episodeStart(st.obs, st.rule.Levels[0].Value, a.Drafted); fs != nil {
				a.FirstSign = fs
				// the time to react is the first gauge alert's of an episode: a later one (after
				// an expiry, a cancel) is not a reaction to the first sign
				k := fmt.Sprint(ds, fs.Unix())
				if !a.Forecast && !episodes[k] {
					episodes[k] = true
					s2d = append(s2d, a.Drafted.Sub(*fs))
					a.FirstSignToDraft = a.Drafted.Sub(*fs).String()
				}
			}
		}
		if a.Approved != nil {
			d2a = append(d2a, a.Approved.Sub(a.Drafted))
			a.DraftToApproval = a.Approved.Sub(a.Drafted).String()
			if a.FirstDelivery != nil {
				a2d = append(a2d, a.FirstDelivery.Sub(*a.Approved))
				a.ApprovalToDelivery = a.FirstDelivery.Sub(*a.Approved).String()
			}
		} else {
			rep.Unapproved = append(rep.Unapproved, a)
		}
		rep.Alerts = append(rep.Alerts, a)
	}
	rep.MedianFirstSignToDraft, rep.MedianDraftToApproval, rep.MedianApprovalToDelivery = median(s2d), median(d2a), median(a2d)

	// the stations: classes, first sign, crossings matched to the rule's reactions
	ids := make([]int64, 0, len(stations))
	for id := range stations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st := stations[id]
		sr := StationReport{Station: st.name, Datastream: id, Unit: st.unit, Rule: st.rule.ID, Readings: len(st.obs), Forecasts: len(st.forecast), Crossings: []Crossing{}}
		for _, l := range st.rule.Levels {
			sr.Levels = append(sr.Levels, Class{l.Name, l.Value})
		}
		for i, o := range st.obs {
			if sr.Peak == nil || o.Value > sr.Peak.Value {
				sr.Peak = &Point{o.Time, o.Value}
			}
			for _, l := range st.rule.Levels {
				if o.Value < l.Value || (i > 0 && st.obs[i-1].Value >= l.Value) {
					continue
				}
				c := Crossing{Station: st.name, Level: l.Name, Time: o.Time, Value: o.Value}
				until := rep.To // the reaction to a reading comes before the station's next one
				if i+1 < len(st.obs) {
					until = st.obs[i+1].Time
				}
				for _, re := range reactions[id] {
					if !re.at.Before(o.Time) && re.at.Before(until) || re.at.Equal(o.Time) {
						c.Alert = re.alert
						break
					}
				}
				sr.Crossings = append(sr.Crossings, c)
				ev = append(ev, Event{Time: o.Time, Kind: "crossing", Station: st.name, Alert: c.Alert, Detail: fmt.Sprintf("%s class (%s %s): %s", l.Name, num(l.Value), st.unit, num(o.Value))})
				if c.Alert == 0 {
					rep.Missed = append(rep.Missed, c)
				}
				if sr.FirstSign == nil && l.Value == st.rule.Levels[0].Value {
					sr.FirstSign = &Point{o.Time, o.Value}
					ev = append(ev, Event{Time: o.Time, Kind: "first-sign", Station: st.name, Detail: fmt.Sprintf("%s %s, past the lowest class %s (%s)", num(o.Value), st.unit, l.Name, num(l.Value))})
				}
			}
		}
		rep.Stations = append(rep.Stations, sr)
	}
	order := map[string]int{"first-sign": 0, "crossing": 1, "forecast-trigger": 2, "draft": 3, "update": 4, "approval": 5, "issue": 6, "delivery": 7}
	sort.SliceStable(ev, func(i, j int) bool {
		if !ev[i].Time.Equal(ev[j].Time) {
			return ev[i].Time.Before(ev[j].Time)
		}
		if ev[i].Alert != ev[j].Alert && ev[i].Kind != "first-sign" && ev[j].Kind != "first-sign" {
			return ev[i].Alert < ev[j].Alert
		}
		return order[ev[i].Kind] < order[ev[j].Kind]
	})
	rep.Timeline = ev
	if rep.Missed == nil {
		rep.Missed = []Crossing{}
	}
	if rep.Unapproved == nil {
		rep.Unapproved = []AlertReport{}
	}
}

// episodeStart returns the time of the reading that began the episode past threshold in
// which t falls: the last reading at or before t that reached threshold after one below it (or
// the window's first reading), nil when the readings up to t never reached it.
func episodeStart(obs []Reading, threshold float64, t time.Time) *time.Time {
	var start *time.Time
	for i, o := range obs {
		if o.Time.After(t) {
			break
		}
		if o.Value >= threshold && (i == 0 || obs[i-1].Value < threshold) {
			at := o.Time
			start = &at
		}
	}
	return start
}

// leadTime reads an issued message's CAP and returns its first info's onset − sent.
func (r *run) leadTime(ctx context.Context, identifier string) (time.Duration, bool) {
	b, err := r.api.raw(ctx, "/cap/alerts/"+identifier+".xml")
	if err != nil {
		return 0, false
	}
	a, err := cap.Unmarshal(b)
	if err != nil || len(a.Infos) == 0 || a.Infos[0].Onset.IsZero() {
		return 0, false
	}
	return a.Infos[0].Onset.Sub(a.Sent), true
}

func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].String()
}
