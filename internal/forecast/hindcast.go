package forecast

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
)

// Hindcast.
//
// Hindcast replays a season of readings through the whole forecast-and-warn chain as if it
// were live: readings → Forecaster.Update → forecast observations → rule.Engine → triggers.
// At each report time (each distinct reading time, in order) it feeds the readings of that
// time to a Forecaster and, as observations, to a rule.Engine that holds per station an
// observed threshold rule with the station's flood classes and a forecast rule with the same
// classes reading the station's forecast points (rule.Rule.Forecast); then it issues the
// forecasts at that time (Update, which sees only readings at or before it) and feeds their
// points to the engine. Hysteresis 5 %, no hold, as demo.Rules.
//
// Scoring, per station and flood class c (level index):
//
//   - an observed crossing is the report time at which the observed rule's level rises to c
//     or above: when a threshold-only warning would go out;
//   - a forecast crossing is the report time at which the forecast rule's level rises to c or
//     above, while the observed level is below c (a forecast that escalates during an observed
//     event is not counted: the warning is already out);
//   - a hit is an observed crossing preceded by a forecast crossing in the same event: after
//     the previous observed crossing of c, strictly before this one and no more than the
//     station's horizon plus Tolerance before it. Its lead time gained is the observed
//     crossing time minus the earliest such forecast crossing;
//   - a miss is an observed crossing without one;
//   - a false alarm is a forecast crossing followed by no observed crossing of c within the
//     station's horizon plus Tolerance.
//
// The horizon of a station is the longest sum of reach lags upstream of it (Model).

// HindcastOptions tunes Hindcast.
type HindcastOptions struct {
	// Tolerance widens the windows of hits and false alarms beyond the horizon (default 24 h:
	// the 2025 reports are daily).
	Tolerance time.Duration
	// Hysteresis of both rules (default 5 %, as demo.Rules).
	Hysteresis rule.Margin
}

// HindcastRow is the score of one station and flood class.
type HindcastRow struct {
	Station     string
	Class       string  // level name
	Threshold   float64 // the class's lower bound, flow unit
	Observed    int     // observed crossings
	Hits        int
	Misses      int
	FalseAlarms int
	Leads       []time.Duration // lead time gained per hit, ascending
}

// MedianLead is the median lead time gained over the hits (0 when none).
func (r HindcastRow) MedianLead() time.Duration {
	n := len(r.Leads)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return r.Leads[n/2]
	}
	return (r.Leads[n/2-1] + r.Leads[n/2]) / 2
}

// MaxLead is the largest lead time gained (0 when none).
func (r HindcastRow) MaxLead() time.Duration {
	if len(r.Leads) == 0 {
		return 0
	}
	return r.Leads[len(r.Leads)-1]
}

// HindcastResult is the outcome of a hindcast.
type HindcastResult struct {
	Rows []HindcastRow // stations with an upstream reach, in network order, classes in level order; only those with a crossing or a false alarm
	// HeadwaterCrossings counts the observed crossings (all classes) at stations with nothing
	// upstream: no forecast can precede them, and they are not in Rows.
	HeadwaterCrossings int
	Reports            int // report times replayed
	Forecasts          int // station forecasts issued
	Horizon            map[string]time.Duration
	// Verify: forecast points compared with a later reading at the same time (within the
	// step), per lead time bucket of 24 h: count, mean error (forecast − observed) and RMSE.
	Verify []LeadScore
}

// LeadScore is the error of the forecasts of one lead-time bucket.
type LeadScore struct {
	Lead       time.Duration // bucket (lead in (Lead − 24 h, Lead])
	N          int
	Bias, RMSE float64 // flow unit
	// Inside is the share of observed values inside the 90 % band.
	Inside float64
	// PersistRMSE is the RMSE of persistence over the same points: the station's last reading
	// at or before the issue time taken as the forecast (the reference to beat).
	PersistRMSE float64
}

// Hindcast replays readings (station id → readings of the season, any order) through a
// Forecaster of m and a rule.Engine with, per station in classes, its flood classes (levels,
// ascending thresholds; their severities and so on are used as given), and scores the
// warnings (see above). Errors: unknown stations, readings the Forecaster refuses, classes
// the rule engine refuses.
func Hindcast(m Model, readings map[string][]Reading, classes map[string][]rule.Level, opts HindcastOptions) (*HindcastResult, error) {
	if opts.Tolerance <= 0 {
		opts.Tolerance = 24 * time.Hour
	}
	if opts.Hysteresis == (rule.Margin{}) {
		opts.Hysteresis = rule.Margin{Value: 5, Percent: true}
	}
	f, err := NewForecaster(m)
	if err != nil {
		return nil, err
	}
	type stationRules struct {
		obsDS, fcDS int64
	}
	var rules []rule.Rule
	ids := map[string]stationRules{}
	stationOf := map[string]string{} // rule id → station
	for _, id := range m.Network.Order() {
		lv, ok := classes[id]
		if !ok {
			continue
		}
		st, _ := m.Network.Station(id)
		sr := stationRules{obsDS: int64(2*len(ids) + 1), fcDS: int64(2*len(ids) + 2)}
		ids[id] = sr
		area := rule.Area{Desc: id, Circles: []rule.Circle{{Center: rule.LatLon{Lat: st.Lat, Lon: st.Lon}, RadiusKm: 25}}}
		for _, fc := range []bool{false, true} {
			r := rule.Rule{ID: "obs-" + id, Name: id, Kind: rule.Threshold, Datastreams: []int64{sr.obsDS},
				Levels: lv, Hysteresis: opts.Hysteresis, Status: rule.Exercise, Area: area}
			if fc {
				r.ID, r.Datastreams, r.Forecast = "fc-"+id, []int64{sr.fcDS}, true
				r.Levels = slices.Clone(lv)
				for i := range r.Levels {
					if r.Levels[i].Certainty == rule.Observed {
						r.Levels[i].Certainty = rule.Likely
					}
				}
			}
			stationOf[r.ID] = id
			rules = append(rules, r)
		}
	}
	for id := range classes {
		if _, ok := m.Network.Station(id); !ok {
			return nil, fmt.Errorf("hindcast: classes of %q: %w", id, ErrUnknownStation)
		}
	}
	eng, err := rule.New(rules)
	if err != nil {
		return nil, fmt.Errorf("hindcast: %w", err)
	}
	type ev struct {
		station string
		r       Reading
	}
	var evs []ev
	for id, rs := range readings {
		if _, ok := m.Network.Station(id); !ok {
			return nil, fmt.Errorf("hindcast: readings of %q: %w", id, ErrUnknownStation)
		}
		for _, r := range rs {
			evs = append(evs, ev{id, r})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.r.Time.Compare(b.r.Time) })

	horizon := stationHorizons(m)
	res := &HindcastResult{Horizon: horizon}
	// per rule: level changes (time, new level)
	changes := map[string][]levelChange{}
	record := func(ts []rule.Trigger) {
		for _, t := range ts {
			changes[t.RuleID] = append(changes[t.RuleID], levelChange{t.At, t.Level})
		}
	}
	// forecasts kept for verification: station → issued forecasts
	var issuedFc []StationForecast
	for lo := 0; lo < len(evs); {
		now := evs[lo].r.Time
		hi := lo
		for hi < len(evs) && evs[hi].r.Time.Equal(now) {
			hi++
		}
		for _, e := range evs[lo:hi] {
			if err := f.Observe(e.station, e.r.Time, e.r.Value, e.r.Flag); err != nil {
				return nil, fmt.Errorf("hindcast: %w", err)
			}
			if sr, ok := ids[e.station]; ok {
				record(eng.Observe(now, rule.Obs{Datastream: sr.obsDS, Time: e.r.Time, Value: e.r.Value, Flag: int(e.r.Flag)}))
			}
		}
		res.Reports++
		for _, fc := range f.Update(now) {
			res.Forecasts++
			issuedFc = append(issuedFc, fc)
			sr, ok := ids[fc.Station]
			if !ok {
				continue
			}
			for _, p := range fc.Points {
				record(eng.Observe(now, rule.Obs{Datastream: sr.fcDS, Time: p.Time, Value: p.Value, Flag: int(p.Flag), Forecast: true}))
			}
		}
		record(eng.Tick(now))
		lo = hi
	}
	// score
	for _, id := range m.Network.Order() {
		lv, ok := classes[id]
		if !ok {
			continue
		}
		obs, fc := changes["obs-"+id], changes["fc-"+id]
		if up, _ := m.Network.Upstream(id); len(up) == 0 {
			// a headwater has no forecast: count its crossings, warned by threshold only
			for c := range lv {
				prev := -1
				for _, ch := range obs {
					if prev < c && ch.level >= c {
						res.HeadwaterCrossings++
					}
					prev = ch.level
				}
			}
			continue
		}
		window := horizon[id] + opts.Tolerance
		levelAt := func(chs []levelChange, t time.Time) int { // level announced just before t
			l := -1
			for _, c := range chs {
				if !c.at.Before(t) {
					break
				}
				l = c.level
			}
			return l
		}
		for c, l := range lv {
			row := HindcastRow{Station: id, Class: l.Name, Threshold: l.Value}
			var oc, fcx []time.Time
			prev := -1
			for _, ch := range obs {
				if prev < c && ch.level >= c {
					oc = append(oc, ch.at)
				}
				prev = ch.level
			}
			prev = -1
			for _, ch := range fc {
				if prev < c && ch.level >= c && levelAt(obs, ch.at) < c && !hasAt(obs, ch.at, c) {
					fcx = append(fcx, ch.at)
				}
				prev = ch.level
			}
			row.Observed = len(oc)
			for i, t := range oc {
				var after time.Time
				if i > 0 {
					after = oc[i-1]
				}
				lead := time.Duration(-1)
				for _, ft := range fcx {
					if ft.After(after) && ft.Before(t) && t.Sub(ft) <= window {
						lead = t.Sub(ft)
						break
					}
				}
				if lead >= 0 {
					row.Hits++
					row.Leads = append(row.Leads, lead)
				} else {
					row.Misses++
				}
			}
			for _, ft := range fcx {
				hit := false
				for _, t := range oc {
					if !t.Before(ft) && t.Sub(ft) <= window {
						hit = true
						break
					}
				}
				if !hit {
					row.FalseAlarms++
				}
			}
			slices.Sort(row.Leads)
			if row.Observed > 0 || row.FalseAlarms > 0 {
				res.Rows = append(res.Rows, row)
			}
		}
	}
	res.Verify = verify(issuedFc, readings, m.Step)
	return res, nil
}

// levelChange is a rule's announced level changing at a time (-1: none).
type levelChange struct {
	at    time.Time
	level int
}

// hasAt says whether obs has a change at exactly t to a level ≥ c (an observed crossing in the
// same report as the forecast one: the forecast gained nothing).
func hasAt(obs []levelChange, t time.Time, c int) bool {
	for _, o := range obs {
		if o.at.Equal(t) && o.level >= c {
			return true
		}
	}
	return false
}

// stationHorizons is, per station, the longest sum of reach lags upstream of it.
func stationHorizons(m Model) map[string]time.Duration {
	h := map[string]time.Duration{}
	for _, id := range m.Network.Order() {
		for _, r := range m.Network.Reaches() {
			if r.To == id {
				h[id] = max(h[id], h[r.From]+m.reach(r).Lag)
			}
		}
	}
	return h
}

// verify compares forecast points with readings at the same time (a reading within half a
// step of the point), bucketed by lead time in days.
func verify(fcs []StationForecast, readings map[string][]Reading, step time.Duration) []LeadScore {
	byStation := map[string][]Reading{}
	for id, rs := range readings {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })
		byStation[id] = rs
	}
	type acc struct {
		n                     int
		sum, sq, insides, psq float64
	}
	buckets := map[int]*acc{}
	for _, fc := range fcs {
		rs := byStation[fc.Station]
		j := sortSearchAfterR(rs, fc.Issued) - 1 // persistence: the last reading ≤ issued
		if j < 0 {
			continue
		}
		for _, p := range fc.Points {
			i, _ := slices.BinarySearchFunc(rs, p.Time.Add(-step/2), func(r Reading, t time.Time) int { return r.Time.Compare(t) })
			if i >= len(rs) || rs[i].Time.Sub(p.Time) > step/2 || rs[i].Flag == sensing.FlagBad {
				continue
			}
			lead := p.Time.Sub(fc.Issued)
			b := int(math.Ceil(lead.Hours() / 24))
			a := buckets[b]
			if a == nil {
				a = &acc{}
				buckets[b] = a
			}
			e := p.Value - rs[i].Value
			a.n++
			a.sum += e
			a.sq += e * e
			if rs[i].Value >= p.Lower && rs[i].Value <= p.Upper {
				a.insides++
			}
			pe := rs[j].Value - rs[i].Value
			a.psq += pe * pe
		}
	}
	var out []LeadScore
	for b, a := range buckets {
		out = append(out, LeadScore{Lead: time.Duration(b) * 24 * time.Hour, N: a.n, Bias: a.sum / float64(a.n),
			RMSE: math.Sqrt(a.sq / float64(a.n)), Inside: a.insides / float64(a.n), PersistRMSE: math.Sqrt(a.psq / float64(a.n))})
	}
	slices.SortFunc(out, func(a, b LeadScore) int { return cmp.Compare(a.Lead, b.Lead) })
	return out
}

func sortSearchAfterR(rs []Reading, t time.Time) int {
	i, _ := slices.BinarySearchFunc(rs, t, func(r Reading, t time.Time) int {
		if r.Time.After(t) {
			return 1
		}
		return -1
	})
	return i
}

// Table writes the result as a Markdown table (flows in thousands of the flow unit, leads in
// hours), with a totals line.
func (r *HindcastResult) Table(unit string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| station | class (≥ %s) | observed crossings | hits | misses | false alarms | lead gained, median h | max h |\n", unit)
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	var tot HindcastRow
	for _, row := range r.Rows {
		med, mx := "–", "–"
		if len(row.Leads) > 0 {
			med, mx = fmt.Sprintf("%.0f", row.MedianLead().Hours()), fmt.Sprintf("%.0f", row.MaxLead().Hours())
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %d | %d | %d | %d | %s | %s |\n", row.Station, row.Class, thousands(row.Threshold),
			row.Observed, row.Hits, row.Misses, row.FalseAlarms, med, mx)
		tot.Observed += row.Observed
		tot.Hits += row.Hits
		tot.Misses += row.Misses
		tot.FalseAlarms += row.FalseAlarms
		tot.Leads = append(tot.Leads, row.Leads...)
	}
	slices.Sort(tot.Leads)
	med, mx := "–", "–"
	if len(tot.Leads) > 0 {
		med, mx = fmt.Sprintf("%.0f", tot.MedianLead().Hours()), fmt.Sprintf("%.0f", tot.MaxLead().Hours())
	}
	fmt.Fprintf(&b, "| **all** | | %d | %d | %d | %d | %s | %s |\n", tot.Observed, tot.Hits, tot.Misses, tot.FalseAlarms, med, mx)
	return b.String()
}

func thousands(v float64) string {
	if v >= 1000 && math.Mod(v, 1000) == 0 {
		return fmt.Sprintf("%.0fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

// EstimateBandGrowth fits Model.BandGrowth to a hindcast's verification: the b (flow unit per
// hour) that best explains the forecast errors as growing linearly with lead, in the least
// squares sense over all points, b² = Σ nᵢ RMSEᵢ² / Σ nᵢ Lᵢ² (Lᵢ the bucket's upper lead in
// hours). 0 when there are no scores.
func EstimateBandGrowth(scores []LeadScore) float64 {
	var num, den float64
	for _, s := range scores {
		l := s.Lead.Hours()
		num += float64(s.N) * s.RMSE * s.RMSE
		den += float64(s.N) * l * l
	}
	if den == 0 {
		return 0
	}
	return math.Sqrt(num / den)
}
