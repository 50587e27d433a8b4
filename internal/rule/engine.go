package rule

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/advisory"
)

// Quality flags of an observation, with the same values as sensing.Flag.
const (
	FlagGood    = 0
	FlagSuspect = 1
	FlagBad     = 2
)

// Obs is one observation as a rule sees it.
type Obs struct {
	Datastream int64
	Time       time.Time // phenomenon time; for a forecast, the time the forecast is for
	Value      float64
	Flag       int  // FlagGood, FlagSuspect or FlagBad; any other value is treated as bad
	Forecast   bool // a value of a forecast datastream, not a measurement
	// By names who posted the value ("<organisation>/key-<id>", auth.Principal.Name), "" when
	// no person did (a CLI import, a partner node). It is kept with the value and carried to
	// the triggers the value decides (Trigger.PostedBy), for the alert's four eyes.
	By string
}

// State is where a rule is in its life cycle, as in Prometheus alerting.
type State int

// States.
const (
	Inactive State = iota // the condition is not met
	Pending               // the condition is met but has not held for Rule.Hold yet
	Firing                // the condition has held for Rule.Hold; a level is announced
)

var stateNames = [...]string{Inactive: "inactive", Pending: "pending", Firing: "firing"}

// String returns "inactive", "pending" or "firing".
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("invalid rule state %d", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown rule state %q", b)
}

// TriggerKind says what changed.
type TriggerKind string

// Trigger kinds. Operational is used for every change of an operational rule (Rule.Operational,
// and every Silence rule): To is Firing when the condition starts or changes level, Inactive
// when it ends. Such triggers go to operators, never into a public alert.
const (
	Fire        TriggerKind = "fire"        // a level is announced for the first time
	Escalate    TriggerKind = "escalate"    // a higher level is announced
	DeEscalate  TriggerKind = "deescalate"  // a lower level is announced, still firing
	Clear       TriggerKind = "clear"       // no level any more
	Operational TriggerKind = "operational" // any change of an operational rule
)

// Trigger is a change in what a rule announces; the alert package turns it into a draft (or
// an issued alert when the rule says AutoIssue). Pending states raise no trigger.
type Trigger struct {
	RuleID      string        `json:"ruleId"`
	Kind        TriggerKind   `json:"kind"`
	From        State         `json:"from"`
	To          State         `json:"to"`
	Level       int           `json:"level"`     // index into the rule's levels; -1: cleared
	LevelName   string        `json:"levelName"` // "" when cleared
	PrevLevel   int           `json:"prevLevel"` // the level announced before; -1: none
	Datastream  int64         `json:"datastream"`
	Value       float64       `json:"value"`      // what the rule compared: value, rate per hour, sum, or hours of silence
	ObservedAt  time.Time     `json:"observedAt"` // phenomenon time of the deciding observation
	At          time.Time     `json:"at"`         // evaluation time (the now of Observe or Tick)
	LeadTime    time.Duration `json:"leadTime"`   // forecast rules: from At until the forecast reaches the level
	Forecast    bool          `json:"forecast,omitempty"`
	Operational bool          `json:"operational,omitempty"`
	Cause       string        `json:"cause"` // for people, e.g. "Khanki: 1001480 ≥ 600000 (Exceptionally High)"
	// PostedBy names who posted the values the deciding reading was computed from (Obs.By:
	// the latest value of a threshold rule; every value in the window of an accumulation;
	// both ends of a rate of rise; the forecast values read), each once, in the order first
	// met; empty when no person did.
	PostedBy []string `json:"postedBy,omitempty"`
}

// maxPoints bounds the values kept per rule and datastream.
const maxPoints = 10_000

// Engine evaluates a fixed set of rules. It is pure: it does no I/O and reads no clock; every
// call says what time it is. It is safe for concurrent use (calls are serialised by a mutex),
// but results depend on call order, so one consumer should feed it.
type Engine struct {
	mu       sync.Mutex
	rules    []*ruleRT
	byID     map[string]*ruleRT
	byStream map[int64][]*ruleRT
	now      time.Time // latest evaluation time; time never goes back
}

// ruleRT is a rule and its state.
type ruleRT struct {
	r       Rule // with defaults
	levels  []Level
	st      RuleState
	streams map[int64]*StreamState
}

// New returns an engine for rules, which must be valid and have distinct IDs.
func New(rules []Rule) (*Engine, error) {
	e := &Engine{byID: map[string]*ruleRT{}, byStream: map[int64][]*ruleRT{}}
	var errs ErrorList
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			for _, fe := range err.(ErrorList) {
				fe.Path = joinPath(fmt.Sprintf("rules[%d]", i), fe.Path)
				errs = append(errs, fe)
			}
			continue
		}
		if _, dup := e.byID[r.ID]; dup {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("rules[%d].id", i), Msg: fmt.Sprintf("repeats rule id %q", r.ID)})
			continue
		}
		rt := newRuleRT(r.withDefaults())
		e.rules = append(e.rules, rt)
		e.byID[r.ID] = rt
		for _, ds := range r.Datastreams {
			e.byStream[ds] = append(e.byStream[ds], rt)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

func newRuleRT(r Rule) *ruleRT {
	rt := &ruleRT{r: r, levels: r.levels(), streams: map[int64]*StreamState{}}
	n := len(rt.levels)
	rt.st = RuleState{RuleID: r.ID, Levels: n, Level: -1, Cond: -1, UpSince: make([]time.Time, n), DownSince: make([]time.Time, n)}
	for _, ds := range r.Datastreams {
		rt.streams[ds] = &StreamState{Datastream: ds, Level: -1}
	}
	return rt
}

// Rules returns the engine's rules, with defaults filled in.
func (e *Engine) Rules() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Rule, len(e.rules))
	for i, rt := range e.rules {
		out[i] = rt.r
	}
	return out
}

// clock returns now, or the latest time already seen if now is earlier: state timers only
// move forward, so a caller whose clock steps back cannot shorten or undo a hold.
func (e *Engine) clock(now time.Time) time.Time {
	if now.Before(e.now) {
		return e.now
	}
	e.now = now
	return now
}

// Observe feeds one observation to the rules that read its datastream (observed or forecast
// rules according to o.Forecast) and evaluates those rules at now. It returns the triggers,
// in rule order. Observations flagged bad never change a level; suspect ones do unless the
// rule says IgnoreSuspect. Any observation, even a bad one, counts as a report for Silence
// rules: silence watches the link, QC watches the sensor.
func (e *Engine) Observe(now time.Time, o Obs) []Trigger {
	e.mu.Lock()
	defer e.mu.Unlock()
	now = e.clock(now)
	var out []Trigger
	for _, rt := range e.byStream[o.Datastream] {
		if rt.r.Forecast != o.Forecast {
			continue
		}
		rt.observe(now, o)
		out = append(out, rt.eval(now)...)
	}
	return out
}

// Tick evaluates every rule at now, for what changes with time alone: a hold that expires,
// a window that slides, a forecast that comes closer, a datastream that falls silent. Call
// it periodically (every minute, say); between ticks nothing time-based happens.
func (e *Engine) Tick(now time.Time) []Trigger {
	e.mu.Lock()
	defer e.mu.Unlock()
	now = e.clock(now)
	var out []Trigger
	for _, rt := range e.rules {
		out = append(out, rt.eval(now)...)
	}
	return out
}

// usable says whether an observation may change a level.
func (rt *ruleRT) usable(o Obs) bool {
	if math.IsNaN(o.Value) || math.IsInf(o.Value, 0) {
		return false
	}
	switch o.Flag {
	case FlagGood:
		return true
	case FlagSuspect:
		return !rt.r.IgnoreSuspect
	}
	return false
}

// observe stores o. The out-of-order policy: values are kept in phenomenon-time order; a value
// for a time already held replaces it (a correction); an observed Threshold rule uses the
// newest value, so an older one that arrives late is ignored; window rules take a late value
// if it still falls in the window; forecast rules ignore values for times already past.
func (rt *ruleRT) observe(now time.Time, o Obs) {
	s := rt.streams[o.Datastream]
	if s.LastSeen.Before(now) {
		s.LastSeen = now
	}
	if rt.r.Kind == Silence || !rt.usable(o) {
		return
	}
	p := Point{Time: o.Time, Value: o.Value, By: o.By}
	switch {
	case rt.r.Forecast:
		if o.Time.Before(now) {
			return
		}
	case rt.r.Kind == Threshold:
		if n := len(s.Points); n > 0 && o.Time.Before(s.Points[n-1].Time) {
			return
		}
		s.Points = []Point{p}
		return
	default:
		if !o.Time.After(now.Add(-rt.r.Window)) && rt.r.Kind == Accumulation {
			return
		}
	}
	i, found := slices.BinarySearchFunc(s.Points, o.Time, func(p Point, t time.Time) int { return p.Time.Compare(t) })
	if found {
		s.Points[i] = p
		return
	}
	s.Points = slices.Insert(s.Points, i, p)
	if len(s.Points) > maxPoints {
		s.Points = slices.Delete(s.Points, 0, len(s.Points)-maxPoints)
	}
}

// reading is what one datastream contributes to an evaluation.
type reading struct {
	ds    int64
	ok    bool
	value float64
	at    time.Time     // phenomenon time of the deciding value
	lead  time.Duration // forecast: from now until the level is reached
	level int
	by    []string // who posted the values read (Trigger.PostedBy)
}

// reaches says whether v is at or beyond threshold on the rule's dangerous side.
func (rt *ruleRT) reaches(v, threshold float64) bool {
	if rt.r.Direction == Below {
		return v <= threshold
	}
	return v >= threshold
}

// exit is the threshold a value must go back past to leave level i.
func (rt *ruleRT) exit(i int) float64 {
	v := rt.levels[i].Value
	m := rt.r.Hysteresis.Of(v)
	if rt.r.Direction == Below {
		return v + m
	}
	return v - m
}

// levelFor is the level of value v for a datastream whose level was prev: the highest level
// whose value v reaches, or the highest level up to prev that v has not gone back past by
// more than the hysteresis margin, whichever is higher.
func (rt *ruleRT) levelFor(v float64, prev int) int {
	level := -1
	for i, l := range rt.levels {
		if rt.reaches(v, l.Value) {
			level = i
		}
	}
	for i := min(prev, len(rt.levels)-1); i > level; i-- {
		if rt.reaches(v, rt.exit(i)) {
			return i
		}
	}
	return level
}

// read computes the value of one datastream at now and prunes what no longer matters.
func (rt *ruleRT) read(s *StreamState, now time.Time) reading {
	rd := reading{ds: s.Datastream, level: -1}
	r := rt.r
	if r.Kind == Silence {
		since := s.LastSeen
		if since.IsZero() || since.Before(rt.st.WatchSince) {
			since = rt.st.WatchSince
		}
		gap := now.Sub(since)
		rd.ok, rd.value, rd.at = true, gap.Hours(), since
		if gap > r.MaxGap {
			rd.level = 0
		}
		return rd
	}
	if r.Forecast {
		rt.readForecast(s, now, &rd)
	} else {
		rt.readObserved(s, now, &rd)
	}
	if rd.ok {
		rd.level = rt.levelFor(rd.value, s.Level)
		if r.Forecast && rd.level >= 0 {
			rt.forecastLead(s, now, &rd)
		}
	}
	return rd
}

func (rt *ruleRT) readObserved(s *StreamState, now time.Time, rd *reading) {
	r := rt.r
	pts := s.Points
	switch r.Kind {
	case Threshold:
		if len(pts) > 0 {
			p := pts[len(pts)-1]
			rd.ok, rd.value, rd.at = true, p.Value, p.Time
			rd.by = posters(nil, p)
		}
	case Accumulation:
		start := now.Add(-r.Window)
		i, _ := slices.BinarySearchFunc(pts, start, func(p Point, t time.Time) int {
			if p.Time.After(t) {
				return 1
			}
			return -1
		})
		s.Points = pts[i:]
		for _, p := range s.Points {
			rd.value += p.Value
			rd.at = p.Time
			rd.ok = true
		}
		rd.by = posters(nil, s.Points...)
	case RateOfRise:
		// Baseline: the newest value at or before now-Window (if not older than 2×Window),
		// else the oldest value in the window. Values before the baseline are dropped.
		start := now.Add(-r.Window)
		base := -1
		for i, p := range pts {
			if p.Time.After(start) {
				break
			}
			base = i
		}
		if base >= 0 && pts[base].Time.Before(now.Add(-2*r.Window)) {
			base++ // too old to stand for the start of the window
		}
		if base < 0 {
			base = 0
		}
		s.Points = pts[base:]
		pts = s.Points
		if len(pts) >= 2 {
			first, last := pts[0], pts[len(pts)-1]
			if span := last.Time.Sub(first.Time); span > 0 {
				rd.ok, rd.value, rd.at = true, (last.Value-first.Value)/span.Hours(), last.Time
				rd.by = posters(nil, first, last)
			}
		}
	}
}

// inSeason takes a reading's level away when the rule has Months and the deciding value's
// phenomenon time (UTC) is in none of them.
func (rt *ruleRT) inSeason(rd *reading) {
	if len(rt.r.Months) == 0 || !rd.ok {
		return
	}
	if !slices.Contains(rt.r.Months, int(rd.at.UTC().Month())) {
		rd.level = -1
	}
}

// heatKeep is how much history a HeatIndex rule keeps per datastream, behind its newest value,
// for pairing values that arrive at different times.
const heatKeep = 6 * time.Hour

// readHeat computes a HeatIndex rule's value: the heat index (°C) of the newest temperature
// value that has a humidity value within PairWithin of it (the nearest one), at the later of
// the two times. Values older than heatKeep behind each datastream's newest are dropped.
func (rt *ruleRT) readHeat() reading {
	ts, hs := rt.streams[rt.r.Datastreams[0]], rt.streams[rt.r.Datastreams[1]]
	rd := reading{ds: ts.Datastream, level: -1}
	for _, s := range []*StreamState{ts, hs} {
		if n := len(s.Points); n > 0 {
			cut := s.Points[n-1].Time.Add(-heatKeep)
			i := 0
			for i < n && s.Points[i].Time.Before(cut) {
				i++
			}
			s.Points = s.Points[i:]
		}
	}
	for i := len(ts.Points) - 1; i >= 0 && !rd.ok; i-- {
		t := ts.Points[i]
		best := -1
		for j, h := range hs.Points {
			d := h.Time.Sub(t.Time).Abs()
			if d <= PairWithin && (best < 0 || d < hs.Points[best].Time.Sub(t.Time).Abs()) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		h := hs.Points[best]
		rd.ok, rd.value, rd.at = true, advisory.HeatIndexC(t.Value, h.Value), t.Time
		if h.Time.After(t.Time) {
			rd.at = h.Time
		}
		rd.by = posters(nil, t, h)
	}
	if rd.ok {
		rd.level = rt.levelFor(rd.value, ts.Level)
	}
	return rd
}

// posters appends to dst the posters (Point.By) of pts not in it yet, in order.
func posters(dst []string, pts ...Point) []string {
	for _, p := range pts {
		if p.By != "" && !slices.Contains(dst, p.By) {
			dst = append(dst, p.By)
		}
	}
	return dst
}

// inHorizon returns the forecast values from now to end (inclusive; zero end: no limit),
// dropping those already past.
func (rt *ruleRT) inHorizon(s *StreamState, now, end time.Time) []Point {
	i, _ := slices.BinarySearchFunc(s.Points, now, func(p Point, t time.Time) int { return p.Time.Compare(t) })
	s.Points = s.Points[i:]
	pts := s.Points
	if !end.IsZero() {
		j := len(pts)
		for j > 0 && pts[j-1].Time.After(end) {
			j--
		}
		pts = pts[:j]
	}
	return pts
}

func (rt *ruleRT) readForecast(s *StreamState, now time.Time, rd *reading) {
	r := rt.r
	var end time.Time
	if r.Horizon > 0 {
		end = now.Add(r.Horizon)
	}
	if r.Kind != Threshold {
		end = now.Add(r.Window)
	}
	pts := rt.inHorizon(s, now, end)
	if len(pts) == 0 {
		return
	}
	switch r.Kind {
	case Threshold:
		best := pts[0]
		for _, p := range pts[1:] {
			if rt.reaches(p.Value, best.Value) && p.Value != best.Value {
				best = p
			}
		}
		rd.ok, rd.value, rd.at = true, best.Value, best.Time
		rd.by = posters(nil, pts...) // the lead time may come from any value in the horizon
	case Accumulation:
		for _, p := range pts {
			rd.value += p.Value
		}
		rd.ok, rd.at = true, pts[len(pts)-1].Time
		rd.by = posters(nil, pts...)
	case RateOfRise:
		first, last := pts[0], pts[len(pts)-1]
		if span := last.Time.Sub(first.Time); span > 0 {
			rd.ok, rd.value, rd.at = true, (last.Value-first.Value)/span.Hours(), last.Time
			rd.by = posters(nil, first, last)
		}
	}
	rd.lead = rd.at.Sub(now)
}

// forecastLead sets the lead time to when the forecast first reaches the datastream's level
// (its exit threshold, since a held level counts as reached).
func (rt *ruleRT) forecastLead(s *StreamState, now time.Time, rd *reading) {
	thr := rt.exit(rd.level)
	switch rt.r.Kind {
	case Threshold:
		for _, p := range rt.inHorizon(s, now, time.Time{}) {
			if rt.r.Horizon > 0 && p.Time.After(now.Add(rt.r.Horizon)) {
				break
			}
			if rt.reaches(p.Value, thr) {
				rd.at, rd.lead = p.Time, p.Time.Sub(now)
				return
			}
		}
	case Accumulation:
		sum := 0.0
		for _, p := range rt.inHorizon(s, now, now.Add(rt.r.Window)) {
			sum += p.Value
			if rt.reaches(sum, thr) {
				rd.at, rd.lead = p.Time, p.Time.Sub(now)
				return
			}
		}
	}
}

// eval evaluates the rule at now and returns the trigger of the change, if any.
func (rt *ruleRT) eval(now time.Time) []Trigger {
	st := &rt.st
	if st.WatchSince.IsZero() {
		st.WatchSince = now
	}
	if now.Before(st.LastEval) {
		now = st.LastEval
	}
	st.LastEval = now

	rds := make([]reading, 0, len(rt.r.Datastreams))
	if rt.r.Kind == HeatIndex {
		rd := rt.readHeat()
		rt.inSeason(&rd)
		for _, ds := range rt.r.Datastreams {
			rt.streams[ds].Level = rd.level
		}
		rds = append(rds, rd)
	}
	for _, ds := range rt.r.Datastreams {
		if rt.r.Kind == HeatIndex {
			break
		}
		s := rt.streams[ds]
		rd := rt.read(s, now)
		rt.inSeason(&rd)
		s.Level = rd.level
		rds = append(rds, rd)
	}
	// The rule's condition level is the k-th highest datastream level; the k-th datastream
	// (ties: the more extreme value) decides the trigger's value.
	slices.SortStableFunc(rds, func(a, b reading) int {
		if a.level != b.level {
			return b.level - a.level
		}
		if a.ok != b.ok {
			if a.ok {
				return -1
			}
			return 1
		}
		switch {
		case a.value == b.value:
			return 0
		case rt.reaches(a.value, b.value):
			return -1
		}
		return 1
	})
	k := rt.r.k()
	dec := rds[k-1]
	cond := dec.level

	n := len(rt.levels)
	for i := range n {
		if cond >= i {
			if st.UpSince[i].IsZero() {
				st.UpSince[i] = now
			}
			st.DownSince[i] = time.Time{}
		} else {
			st.UpSince[i] = time.Time{}
			if st.DownSince[i].IsZero() {
				st.DownSince[i] = now
			}
		}
	}
	st.Cond = cond

	// up: the highest level that has held for Hold. down: the highest announced-or-lower level
	// still met, or unmet for less than ClearHold.
	up := -1
	for i := range n {
		if !st.UpSince[i].IsZero() && now.Sub(st.UpSince[i]) >= rt.r.Hold {
			up = i
		}
	}
	down := -1
	for i := st.Level; i >= 0; i-- {
		if cond >= i || now.Sub(st.DownSince[i]) < rt.r.ClearHold {
			down = i
			break
		}
	}
	prev, prevState := st.Level, st.State
	st.Level = max(up, down)
	switch {
	case st.Level >= 0:
		st.State = Firing
	case cond >= 0:
		st.State = Pending
	default:
		st.State = Inactive
	}
	if st.Level == prev {
		return nil
	}
	return []Trigger{rt.trigger(now, prev, prevState, dec, rds)}
}

func (rt *ruleRT) trigger(now time.Time, prev int, prevState State, dec reading, rds []reading) Trigger {
	st := &rt.st
	t := Trigger{
		RuleID:      rt.r.ID,
		From:        prevState,
		To:          st.State,
		Level:       st.Level,
		PrevLevel:   prev,
		Datastream:  dec.ds,
		Value:       dec.value,
		ObservedAt:  dec.at,
		At:          now,
		Forecast:    rt.r.Forecast,
		Operational: rt.r.Operational,
	}
	if !dec.ok {
		t.Value, t.ObservedAt = 0, time.Time{}
	} else {
		t.PostedBy = dec.by
	}
	if st.Level >= 0 {
		t.LevelName = rt.levels[st.Level].Name
		t.LeadTime = dec.lead
	}
	switch {
	case rt.r.Operational:
		t.Kind = Operational
	case prev < 0:
		t.Kind = Fire
	case st.Level < 0:
		t.Kind = Clear
	case st.Level > prev:
		t.Kind = Escalate
	default:
		t.Kind = DeEscalate
	}
	t.Cause = rt.cause(now, prev, dec, rds)
	return t
}

// cause explains a change in words an operator can check against the data.
func (rt *ruleRT) cause(now time.Time, prev int, dec reading, rds []reading) string {
	r := rt.r
	st := &rt.st
	var s string
	if len(rds) > 1 {
		lvl := max(st.Level, 0)
		if st.Level < 0 {
			lvl = prev
		}
		at := 0
		for _, rd := range rds {
			if rd.level >= lvl {
				at++
			}
		}
		s = fmt.Sprintf("%d of %d datastreams at %s or above (%s needs %d); ", at, len(rds), rt.levels[lvl].Name, r.Aggregate, r.k())
	}
	what := fmt.Sprintf("datastream %d", dec.ds)
	switch {
	case !dec.ok:
		return s + what + ": no usable value"
	case r.Kind == Silence:
		if st.Level >= 0 {
			return s + fmt.Sprintf("%s: no report for %v (max gap %v)", what, now.Sub(dec.at), r.MaxGap)
		}
		return s + fmt.Sprintf("%s: reporting again", what)
	}
	val := num(round(dec.value))
	switch r.Kind {
	case RateOfRise:
		val = fmt.Sprintf("change of %s per hour over %v", num(round(dec.value)), r.Window)
	case Accumulation:
		val = fmt.Sprintf("total %s over %v", val, r.Window)
	case HeatIndex:
		what = fmt.Sprintf("datastreams %d, %d", r.Datastreams[0], r.Datastreams[1])
		val = fmt.Sprintf("heat index %s °C", val)
	}
	if r.Forecast {
		what += fmt.Sprintf(" forecast for %s (lead %v)", dec.at.Format(time.RFC3339), dec.lead)
	}
	ge, lt := "≥", "<"
	if r.Direction == Below {
		ge, lt = "≤", ">"
	}
	if st.Level > prev {
		l := rt.levels[st.Level]
		c := fmt.Sprintf("%s%s: %s %s %s (%s)", s, what, val, ge, num(l.Value), l.Name)
		if r.Hold > 0 {
			c += fmt.Sprintf(", held %v", r.Hold)
		}
		return c
	}
	// Down: name the level that was left and its exit threshold.
	left := st.Level + 1
	c := fmt.Sprintf("%s%s: %s %s %s, the exit threshold of %s", s, what, val, lt, num(round(rt.exit(left))), rt.levels[left].Name)
	if r.Hysteresis.Value > 0 {
		sign := "−"
		if r.Direction == Below {
			sign = "+"
		}
		c += fmt.Sprintf(" (%s %s %s)", num(rt.levels[left].Value), sign, r.Hysteresis)
	}
	if r.ClearHold > 0 {
		c += fmt.Sprintf(", for %v", r.ClearHold)
	}
	if st.Level >= 0 && dec.level > st.Level {
		// Cannot happen for a single datastream; with several, the deciding one may differ.
		c += fmt.Sprintf("; now %s", rt.levels[st.Level].Name)
	}
	return c
}

// round keeps causes readable: 6 significant digits.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}
