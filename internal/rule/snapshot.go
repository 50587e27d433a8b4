package rule

import (
	"fmt"
	"slices"
	"time"
)

// SnapshotVersion is the version of the Snapshot format this package writes and reads.
const SnapshotVersion = 1

// Snapshot is the whole state of an engine, as JSON, so that a restarted process carries on
// where it stopped: holds keep counting, windows keep their values, a firing rule does not
// fire again.
type Snapshot struct {
	Version int         `json:"version"`
	At      time.Time   `json:"at"` // the engine's latest evaluation time
	Rules   []RuleState `json:"rules"`
}

// RuleState is the state of one rule.
type RuleState struct {
	RuleID string `json:"ruleId"`
	// Levels is the number of levels the state was built for; a state for a rule whose
	// levels have changed in number is not restored.
	Levels int   `json:"levels"`
	State  State `json:"state"`
	Level  int   `json:"level"` // announced level; -1: none
	Cond   int   `json:"cond"`  // condition level at the last evaluation; -1: none
	// UpSince[i] is when the condition reached level i (zero: it is below i); DownSince[i] is
	// when it went below level i (zero: it is at or above i). Holds are measured from these.
	UpSince    []time.Time   `json:"upSince"`
	DownSince  []time.Time   `json:"downSince"`
	WatchSince time.Time     `json:"watchSince"` // first evaluation; silence is counted from here at the earliest
	LastEval   time.Time     `json:"lastEval"`
	Streams    []StreamState `json:"streams"`
}

// StreamState is what a rule keeps of one datastream.
type StreamState struct {
	Datastream int64     `json:"datastream"`
	Level      int       `json:"level"`    // after hysteresis; -1: none
	LastSeen   time.Time `json:"lastSeen"` // evaluation time of the latest observation of any quality
	Points     []Point   `json:"points,omitempty"`
}

// Point is one stored value.
type Point struct {
	Time  time.Time `json:"t"`
	Value float64   `json:"v"`
	By    string    `json:"by,omitempty"` // who posted it (Obs.By)
}

// Snapshot returns a deep copy of the engine's state.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Snapshot{Version: SnapshotVersion, At: e.now, Rules: make([]RuleState, 0, len(e.rules))}
	for _, rt := range e.rules {
		rs := rt.st
		rs.UpSince = slices.Clone(rs.UpSince)
		rs.DownSince = slices.Clone(rs.DownSince)
		rs.Streams = make([]StreamState, 0, len(rt.r.Datastreams))
		for _, ds := range rt.r.Datastreams {
			ss := *rt.streams[ds]
			ss.Points = slices.Clone(ss.Points)
			rs.Streams = append(rs.Streams, ss)
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

// Restore replaces the engine's state with s, which may come from an engine with other
// rules: states of rules the engine does not have are ignored, rules without a state (or
// whose number of levels changed) start Inactive, datastreams added to a rule start empty.
// A snapshot that is inconsistent in itself is an error, and then nothing is restored.
func (e *Engine) Restore(s Snapshot) error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("restore rule state: snapshot version %d, want %d", s.Version, SnapshotVersion)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fresh := map[string]*ruleRT{}
	for i, rs := range s.Rules {
		rt0, ok := e.byID[rs.RuleID]
		if !ok || rs.Levels != len(rt0.levels) {
			continue
		}
		if err := rs.check(); err != nil {
			return fmt.Errorf("restore rule state: rules[%d] (%q): %w", i, rs.RuleID, err)
		}
		rt := newRuleRT(rt0.r)
		st := rs
		st.UpSince = slices.Clone(rs.UpSince)
		st.DownSince = slices.Clone(rs.DownSince)
		st.Streams = nil
		rt.st = st
		for _, ss := range rs.Streams {
			if _, ok := rt.streams[ss.Datastream]; !ok {
				continue
			}
			c := ss
			c.Points = slices.Clone(ss.Points)
			slices.SortStableFunc(c.Points, func(a, b Point) int { return a.Time.Compare(b.Time) })
			c.Points = slices.CompactFunc(c.Points, func(a, b Point) bool { return a.Time.Equal(b.Time) })
			if len(c.Points) > maxPoints {
				c.Points = c.Points[len(c.Points)-maxPoints:]
			}
			rt.streams[ss.Datastream] = &c
		}
		fresh[rs.RuleID] = rt
	}
	for i, rt := range e.rules {
		n, ok := fresh[rt.r.ID]
		if !ok {
			n = newRuleRT(rt.r)
		}
		e.rules[i] = n
		e.byID[rt.r.ID] = n
	}
	e.byStream = map[int64][]*ruleRT{}
	for _, rt := range e.rules {
		for _, ds := range rt.r.Datastreams {
			e.byStream[ds] = append(e.byStream[ds], rt)
		}
	}
	e.now = s.At
	return nil
}

func (rs RuleState) check() error {
	n := rs.Levels
	switch {
	case rs.Level < -1 || rs.Level >= n:
		return fmt.Errorf("level %d out of range -1..%d", rs.Level, n-1)
	case rs.Cond < -1 || rs.Cond >= n:
		return fmt.Errorf("cond %d out of range -1..%d", rs.Cond, n-1)
	case len(rs.UpSince) != n || len(rs.DownSince) != n:
		return fmt.Errorf("upSince and downSince need %d entries", n)
	case rs.State < Inactive || rs.State > Firing:
		return fmt.Errorf("invalid state %d", int(rs.State))
	case (rs.State == Firing) != (rs.Level >= 0):
		return fmt.Errorf("state %s does not match level %d", rs.State, rs.Level)
	}
	for _, ss := range rs.Streams {
		if ss.Level < -1 || ss.Level >= n {
			return fmt.Errorf("datastream %d: level %d out of range", ss.Datastream, ss.Level)
		}
	}
	return nil
}
