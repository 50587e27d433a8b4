package sensing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quality control.
//
// Every observation, whatever path it arrives by, goes through the same checks before it is
// stored, and the outcome is stored with it as its flag and SensorThings resultQuality. QC
// never drops an observation: a value out of physical range is stored flagged bad. Only
// malformed input (not a number where one is needed, NaN or infinity, a broken time) is
// rejected, and that is the parsers' job, not QC's. docs/qc.md documents the checks, flags
// and defaults; keep it in step with this file.

// Flag is the overall quality of one observation. Flags are ordered: a worse flag is greater.
type Flag uint8

// Flags.
const (
	FlagGood    Flag = iota // passed every check (informational notes may still be attached)
	FlagSuspect             // plausible but unusual: spike, rate of change, flat line
	FlagBad                 // physically impossible or unusable: out of range, not finite, not numeric when required
)

var flagNames = [...]string{FlagGood: "good", FlagSuspect: "suspect", FlagBad: "bad"}

// String returns "good", "suspect" or "bad".
func (f Flag) String() string {
	if int(f) < len(flagNames) {
		return flagNames[f]
	}
	return "flag(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText encodes the flag as its name, for JSON and for the store.
func (f Flag) MarshalText() ([]byte, error) {
	if int(f) >= len(flagNames) {
		return nil, fmt.Errorf("invalid QC flag %d", f)
	}
	return []byte(flagNames[f]), nil
}

// UnmarshalText decodes a flag name.
func (f *Flag) UnmarshalText(b []byte) error {
	v, err := ParseFlag(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// ParseFlag parses "good", "suspect" or "bad".
func ParseFlag(s string) (Flag, error) {
	for i, n := range flagNames {
		if s == n {
			return Flag(i), nil
		}
	}
	return 0, fmt.Errorf("invalid QC flag %q: want good, suspect or bad", s)
}

// Check names one QC check, as recorded in an observation's resultQuality.
type Check string

// Checks, and the flag each gives when it fails.
const (
	CheckFinite   Check = "finite"    // bad: the value is NaN or ±Inf (parsers reject these first)
	CheckNumeric  Check = "numeric"   // bad: a non-numeric result where QCConfig.Numeric requires a number
	CheckRange    Check = "range"     // bad: below Min or above Max
	CheckRate     Check = "rate"      // suspect: |Δvalue|/Δt above MaxRatePerHour
	CheckSpike    Check = "spike"     // suspect: differs from the median of the recent values by more than Spike
	CheckFlatLine Check = "flat_line" // suspect: the same value FlatLineCount times, or for FlatLineDuration
	CheckGap      Check = "gap"       // informational: arrived after a silence longer than ExpectedInterval
	CheckOrder    Check = "order"     // informational: not after the last observation; sequence checks skipped
)

// QCIssue is one failed check.
type QCIssue struct {
	Check  Check  `json:"check"`
	Flag   Flag   `json:"flag"`   // FlagGood for informational checks (gap, order)
	Reason string `json:"reason"` // short, for people: "12.5 above maximum 10 °C"
}

// QCResult is the outcome of QC for one observation. Its JSON form is what is stored as the
// observation's SensorThings resultQuality: {"flag":"suspect","issues":[{"check":"spike",...}]}.
type QCResult struct {
	Flag   Flag      `json:"flag"`
	Issues []QCIssue `json:"issues,omitempty"`
}

func (r *QCResult) add(c Check, f Flag, format string, args ...any) {
	r.Issues = append(r.Issues, QCIssue{Check: c, Flag: f, Reason: fmt.Sprintf(format, args...)})
	if f > r.Flag {
		r.Flag = f
	}
}

// Failed reports whether check c is among the issues.
func (r QCResult) Failed(c Check) bool {
	return slices.ContainsFunc(r.Issues, func(i QCIssue) bool { return i.Check == c })
}

// QCConfig says which checks apply to a datastream and with which limits. Every field is
// optional: nil means "not set" (the check is off, or, in Merge, "keep the base value").
// Limits are in the datastream's unit.
type QCConfig struct {
	Min *float64 // inclusive lower physical bound; below is bad
	Max *float64 // inclusive upper physical bound; above is bad

	// MaxRatePerHour is the largest plausible |Δvalue| per hour between consecutive
	// observations; above is suspect. Δt is floored at RateMinInterval, and the check is
	// skipped when Δt is zero.
	MaxRatePerHour *float64

	// Spike is the largest plausible difference between a value and the median of up to
	// SpikeWindow preceding values (at least 3 needed); above is suspect.
	Spike *float64

	// FlatLineCount flags (suspect) a value repeated this many times in a row, the current
	// one included; 0 turns the check off, 1 is invalid.
	FlatLineCount *int
	// FlatLineDuration flags (suspect) a value that has stayed exactly the same for at least
	// this long (over at least two observations); 0 turns the check off.
	FlatLineDuration *time.Duration

	// ExpectedInterval is how often the datastream reports. An observation arriving more than
	// this after the previous one is noted as a gap (informational), and Silent lists
	// datastreams quiet for longer than this. 0 turns the check off.
	ExpectedInterval *time.Duration

	// Numeric, when true, flags non-numeric results bad. By default (nil or false) a
	// non-numeric result passes every value check trivially.
	Numeric *bool

	// Unit is the unit symbol the limits are in, for messages only ("above maximum 60 °C").
	Unit string
}

// QC tuning that is not per datastream.
const (
	// SpikeWindow is how many recent values the spike check compares against.
	SpikeWindow = 5
	// spikeMinNeighbours is how many recent values the spike check needs before it runs.
	spikeMinNeighbours = 3
	// RateMinInterval floors Δt in the rate check, so that two readings a second apart do not
	// turn a sensor's resolution step into an absurd hourly rate.
	RateMinInterval = time.Minute
)

// Merge returns c with every field that is set in o replaced by o's value. Use it to apply a
// datastream's override (ParseQCOverride) on top of DefaultQC.
func (c QCConfig) Merge(o QCConfig) QCConfig {
	if o.Min != nil {
		c.Min = o.Min
	}
	if o.Max != nil {
		c.Max = o.Max
	}
	if o.MaxRatePerHour != nil {
		c.MaxRatePerHour = o.MaxRatePerHour
	}
	if o.Spike != nil {
		c.Spike = o.Spike
	}
	if o.FlatLineCount != nil {
		c.FlatLineCount = o.FlatLineCount
	}
	if o.FlatLineDuration != nil {
		c.FlatLineDuration = o.FlatLineDuration
	}
	if o.ExpectedInterval != nil {
		c.ExpectedInterval = o.ExpectedInterval
	}
	if o.Numeric != nil {
		c.Numeric = o.Numeric
	}
	if o.Unit != "" {
		c.Unit = o.Unit
	}
	return c
}

// Validate reports a configuration that cannot be meant: NaN limits, min above max, negative
// rates, spikes, counts or durations, a flat-line count of 1.
func (c QCConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    *float64
	}{{"min", c.Min}, {"max", c.Max}, {"maxRatePerHour", c.MaxRatePerHour}, {"spike", c.Spike}} {
		if f.v != nil && math.IsNaN(*f.v) {
			return fmt.Errorf("qc.%s: NaN", f.name)
		}
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		return fmt.Errorf("qc: min %g is above max %g", *c.Min, *c.Max)
	}
	if c.MaxRatePerHour != nil && *c.MaxRatePerHour < 0 {
		return fmt.Errorf("qc.maxRatePerHour: %g is negative", *c.MaxRatePerHour)
	}
	if c.Spike != nil && *c.Spike < 0 {
		return fmt.Errorf("qc.spike: %g is negative", *c.Spike)
	}
	if c.FlatLineCount != nil && (*c.FlatLineCount < 0 || *c.FlatLineCount == 1) {
		return fmt.Errorf("qc.flatLineCount: %d: want 0 (off) or at least 2", *c.FlatLineCount)
	}
	if c.FlatLineDuration != nil && *c.FlatLineDuration < 0 {
		return fmt.Errorf("qc.flatLineDuration: %v is negative", *c.FlatLineDuration)
	}
	if c.ExpectedInterval != nil && *c.ExpectedInterval < 0 {
		return fmt.Errorf("qc.expectedInterval: %v is negative", *c.ExpectedInterval)
	}
	return nil
}

// qcOverrideKeys are the keys accepted in a datastream's "qc" properties object.
var qcOverrideKeys = []string{"min", "max", "maxRatePerHour", "spike", "flatLineCount", "flatLineDuration", "expectedInterval", "numeric"}

// ParseQCOverride reads the QC override from a datastream's properties JSON object: the
// object under its "qc" key, for example
//
//	{"qc": {"min": 0, "max": 500, "maxRatePerHour": 50, "flatLineCount": 12, "expectedInterval": "PT1H"}}
//
// Keys: min, max, maxRatePerHour, spike (numbers, in the datastream's unit); flatLineCount (an
// integer, 0 = off); flatLineDuration, expectedInterval (ISO 8601 durations such as "PT6H",
// "PT0S" = off); numeric (boolean). A key set to null turns that check off even when the
// default has it: null min/max/maxRatePerHour/spike become unbounded, null counts and
// durations become 0. A missing key keeps the default. Empty or null properties, or properties
// without "qc", give an empty QCConfig and no error. Unknown keys and wrong types are errors
// that name the key, so that a typo does not silently disable a check.
func ParseQCOverride(raw json.RawMessage) (QCConfig, error) {
	var c QCConfig
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return c, fmt.Errorf("datastream properties: want a JSON object: %w", err)
	}
	qc, ok := props["qc"]
	if !ok || string(bytes.TrimSpace(qc)) == "null" {
		return c, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(qc, &m); err != nil {
		return c, fmt.Errorf("properties.qc: want a JSON object: %w", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic: the first error is always the same one
	for _, k := range keys {
		v := bytes.TrimSpace(m[k])
		null := string(v) == "null"
		var err error
		switch k {
		case "min":
			c.Min, err = overrideNumber(v, null, math.Inf(-1))
		case "max":
			c.Max, err = overrideNumber(v, null, math.Inf(1))
		case "maxRatePerHour":
			c.MaxRatePerHour, err = overrideNumber(v, null, math.Inf(1))
		case "spike":
			c.Spike, err = overrideNumber(v, null, math.Inf(1))
		case "flatLineCount":
			n := 0
			if !null {
				var f float64
				if err = json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
					err = fmt.Errorf("want a whole number or null, got %s", short(v))
				}
				n = int(f)
			}
			c.FlatLineCount = &n
		case "flatLineDuration", "expectedInterval":
			var d time.Duration
			if !null {
				var s string
				if err = json.Unmarshal(v, &s); err != nil {
					err = fmt.Errorf("want an ISO 8601 duration string such as \"PT1H\", or null, got %s", short(v))
				} else {
					d, err = ParseDuration(s)
				}
			}
			if k == "flatLineDuration" {
				c.FlatLineDuration = &d
			} else {
				c.ExpectedInterval = &d
			}
		case "numeric":
			b := false
			if !null {
				if err = json.Unmarshal(v, &b); err != nil {
					err = fmt.Errorf("want true, false or null, got %s", short(v))
				}
			}
			c.Numeric = &b
		default:
			return QCConfig{}, fmt.Errorf("properties.qc: unknown key %q (accepted: %s)", k, strings.Join(qcOverrideKeys, ", "))
		}
		if err != nil {
			return QCConfig{}, fmt.Errorf("properties.qc.%s: %w", k, err)
		}
	}
	if err := c.Validate(); err != nil {
		return QCConfig{}, fmt.Errorf("properties.%w", err)
	}
	return c, nil
}

func overrideNumber(v json.RawMessage, null bool, off float64) (*float64, error) {
	if null {
		return &off, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return nil, fmt.Errorf("want a number or null, got %s", short(v))
	}
	return &f, nil
}

func short(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// QCState is what QC remembers about one datastream between observations. The zero value is
// ready to use (nothing seen yet). It is not safe for concurrent use: keep one per datastream
// and check that datastream's observations one at a time, in arrival order.
//
// The fields are exported so that a store may persist the state; alternatively, after a
// restart, rebuild it by calling Check on the datastream's last observations in time order and
// discarding the results.
type QCState struct {
	LastSeen  time.Time `json:"lastSeen"`  // phenomenon time of the newest observation, any flag, any result type
	LastValue float64   `json:"lastValue"` // newest numeric value not flagged bad
	LastTime  time.Time `json:"lastTime"`  // its phenomenon time; zero if none yet
	RunCount  int       `json:"runCount"`  // how many consecutive values equal LastValue
	RunStart  time.Time `json:"runStart"`  // phenomenon time of the first of them
	Recent    []float64 `json:"recent"`    // up to SpikeWindow newest values not flagged bad, oldest first
}

// Check runs QC on a numeric observation with phenomenon time t (for an interval, pass its
// end) and value v, and updates the state. Order of events:
//
//   - v NaN or ±Inf: bad (finite); no other check; state unchanged. Parsers reject such
//     values before they get here, but QC does not trust that.
//   - range (stateless): v < Min or v > Max is bad; a value equal to a limit passes.
//   - t not after the newest observation seen (out of order, or a duplicate time): an
//     informational "order" note; rate, spike, flat line and gap are skipped, and the state
//     is left exactly as it was, so later in-order observations are still compared with the
//     newest one.
//   - gap (informational): t − LastSeen > ExpectedInterval (strictly).
//   - rate, spike, flat line (suspect), against the previous values not flagged bad.
//
// Then LastSeen becomes t; a value not flagged bad also becomes the last value and joins the
// recent values and the flat-line run. Bad values are kept out so that, say, a −9999 sentinel
// does not make the next good value look like a spike.
func (s *QCState) Check(cfg QCConfig, t time.Time, v float64) QCResult {
	var r QCResult
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.add(CheckFinite, FlagBad, "value %v is not a finite number", v)
		return r
	}
	u := unitSuffix(cfg.Unit)
	if cfg.Min != nil && v < *cfg.Min {
		r.add(CheckRange, FlagBad, "%s below minimum %s%s", num(v), num(*cfg.Min), u)
	}
	if cfg.Max != nil && v > *cfg.Max {
		r.add(CheckRange, FlagBad, "%s above maximum %s%s", num(v), num(*cfg.Max), u)
	}
	if !s.inOrder(t, &r) {
		return r
	}
	s.checkGap(cfg, t, &r)
	if r.Flag == FlagBad {
		s.LastSeen = t
		return r
	}
	if !s.LastTime.IsZero() {
		dt := t.Sub(s.LastTime)
		if cfg.MaxRatePerHour != nil && dt > 0 {
			hours := max(dt, RateMinInterval).Hours()
			rate := math.Abs(v-s.LastValue) / hours
			if rate > *cfg.MaxRatePerHour {
				r.add(CheckRate, FlagSuspect, "changed by %s%s in %v (%s%s per hour, limit %s)",
					num(v-s.LastValue), u, dt, num(rate), u, num(*cfg.MaxRatePerHour))
			}
		}
	}
	if cfg.Spike != nil && len(s.Recent) >= spikeMinNeighbours {
		med := median(s.Recent)
		if d := math.Abs(v - med); d > *cfg.Spike {
			r.add(CheckSpike, FlagSuspect, "%s differs by %s%s from the median %s of the last %d values (limit %s)",
				num(v), num(d), u, num(med), len(s.Recent), num(*cfg.Spike))
		}
	}
	run, runStart := 1, t
	if !s.LastTime.IsZero() && v == s.LastValue {
		run, runStart = s.RunCount+1, s.RunStart
	}
	switch {
	case cfg.FlatLineCount != nil && *cfg.FlatLineCount >= 2 && run >= *cfg.FlatLineCount:
		r.add(CheckFlatLine, FlagSuspect, "same value %s%s %d times in a row since %s (limit %d)",
			num(v), u, run, runStart.Format(time.RFC3339), *cfg.FlatLineCount)
	case cfg.FlatLineDuration != nil && *cfg.FlatLineDuration > 0 && run >= 2 && t.Sub(runStart) >= *cfg.FlatLineDuration:
		r.add(CheckFlatLine, FlagSuspect, "same value %s%s for %v since %s (limit %v)",
			num(v), u, t.Sub(runStart), runStart.Format(time.RFC3339), *cfg.FlatLineDuration)
	}
	s.LastSeen = t
	s.LastValue, s.LastTime = v, t
	s.RunCount, s.RunStart = run, runStart
	if len(s.Recent) >= SpikeWindow {
		s.Recent = slices.Delete(s.Recent, 0, len(s.Recent)-SpikeWindow+1)
	}
	s.Recent = append(s.Recent, v)
	return r
}

// CheckResult runs QC on an observation result of any type: float64, the other Go numeric
// types, json.Number, or a json.RawMessage holding a JSON number are checked with Check. Any
// other result (a string, boolean, object, a RawMessage that is not a number) passes the value
// checks trivially — unless cfg.Numeric is true, in which case it is bad — and is still
// subject to the order and gap checks, updating LastSeen but not the numeric state.
func (s *QCState) CheckResult(cfg QCConfig, t time.Time, result any) QCResult {
	if v, ok := numericResult(result); ok {
		return s.Check(cfg, t, v)
	}
	var r QCResult
	if cfg.Numeric != nil && *cfg.Numeric {
		r.add(CheckNumeric, FlagBad, "result is not a number")
	}
	if !s.inOrder(t, &r) {
		return r
	}
	s.checkGap(cfg, t, &r)
	s.LastSeen = t
	return r
}

func (s *QCState) inOrder(t time.Time, r *QCResult) bool {
	if !s.LastSeen.IsZero() && !t.After(s.LastSeen) {
		r.add(CheckOrder, FlagGood, "phenomenon time %s is not after the newest seen %s; sequence checks skipped",
			t.Format(time.RFC3339Nano), s.LastSeen.Format(time.RFC3339Nano))
		return false
	}
	return true
}

func (s *QCState) checkGap(cfg QCConfig, t time.Time, r *QCResult) {
	if cfg.ExpectedInterval == nil || *cfg.ExpectedInterval <= 0 || s.LastSeen.IsZero() {
		return
	}
	if d := t.Sub(s.LastSeen); d > *cfg.ExpectedInterval {
		r.add(CheckGap, FlagGood, "arrived after %v of silence (expected every %v)", d, *cfg.ExpectedInterval)
	}
}

func numericResult(result any) (float64, bool) {
	switch v := result.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case json.RawMessage:
		b := bytes.TrimSpace(v)
		if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
			return 0, false
		}
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1]/2 + s[n/2]/2 // halves first: no overflow near ±MaxFloat64
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// Silence is a datastream that has stopped reporting.
type Silence[ID comparable] struct {
	Datastream ID
	LastSeen   time.Time
	Expected   time.Duration
	For        time.Duration // now − LastSeen
}

// LastSeen is what the periodic sweep knows about one datastream: when it last reported and
// how often it should.
type LastSeen[ID comparable] struct {
	Datastream ID
	At         time.Time     // phenomenon (or arrival) time of its newest observation
	Expected   time.Duration // QCConfig.ExpectedInterval; ≤ 0 means not monitored
}

// Silent lists, in input order, the datastreams that have been silent for longer than their
// expected interval as of now (strictly longer, as for the gap check). Datastreams that have
// never reported (zero At) or have no expected interval are not listed: they have not stopped.
func Silent[ID comparable](now time.Time, seen []LastSeen[ID]) []Silence[ID] {
	var out []Silence[ID]
	for _, l := range seen {
		if l.Expected <= 0 || l.At.IsZero() {
			continue
		}
		if d := now.Sub(l.At); d > l.Expected {
			out = append(out, Silence[ID]{Datastream: l.Datastream, LastSeen: l.At, Expected: l.Expected, For: d})
		}
	}
	return out
}
