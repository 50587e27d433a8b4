package federation

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Message is one exported value, the payload of a message on an agreement's stream (version 1,
// JSON). For Raw it is one Observation; for an aggregate, one period's value, with Count the
// number of Observations it summarises and PhenomenonTime the period as an ISO 8601 interval.
type Message struct {
	V          int          `json:"v"`
	Provider   string       `json:"provider"`
	Agreement  int64        `json:"agreement"`
	Datastream RemoteSource `json:"datastream"`
	// Observation is the provider's Observation id (Raw), 0 for an aggregate.
	Observation    int64      `json:"observation,omitempty"`
	PhenomenonTime string     `json:"phenomenonTime"`
	Start          time.Time  `json:"start"`
	End            time.Time  `json:"end"`
	Result         float64    `json:"result"`
	Flag           int        `json:"flag"`
	Count          int        `json:"count,omitempty"`
	Resolution     Resolution `json:"resolution"`
	// Retention is how long the consumer keeps the values (by phenomenon time; 0: no limit).
	Retention Duration `json:"retention,omitempty"`
	// ConsumerOrg is the organisation that owns what is received.
	ConsumerOrg string `json:"consumerOrganisation"`
}

// RemoteSource describes the provider's Datastream a value comes from, enough for the consumer
// to create its read-only copy on first receipt.
type RemoteSource struct {
	ID               int64           `json:"id"`
	Name             string          `json:"name"`
	Unit             json.RawMessage `json:"unitOfMeasurement"`
	Thing            string          `json:"thing"`
	ObservedProperty string          `json:"observedProperty"`
	Definition       string          `json:"definition"`
	// Location is the GeoJSON geometry of the provider Thing's first Location (absent: none).
	Location json.RawMessage `json:"location,omitempty"`
}

// MaxMessage bounds one message's size in bytes.
const MaxMessage = 64 << 10

// DecodeMessage reads one version-1 message of an agreement's stream; the error says what is
// wrong. A receiver reads with DecodeMessages, which takes batches too.
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessage {
		return nil, apperr.E(apperr.Invalid, "federation message: %d bytes, at most %d", len(b), MaxMessage)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, apperr.E(apperr.Invalid, "federation message: %s", jsonErr(err))
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// check validates a decoded version-1 Message (and fills in an absent unit as {}).
func (m *Message) check() error {
	if p := m.problem(); p != "" {
		return apperr.E(apperr.Invalid, "federation message: %s", p)
	}
	if len(m.Datastream.Unit) == 0 {
		m.Datastream.Unit = json.RawMessage(`{}`)
	}
	return nil
}

// problem says what is wrong with a version-1 Message ("" when nothing).
func (m *Message) problem() string {
	switch {
	case m.V != 1:
		return fmt.Sprintf("v: version %d, want 1 (or %d, %d or %d, a batch)", m.V, batchV2, batchV3, BatchVersion)
	case !ValidName(m.Provider):
		return fmt.Sprintf("provider: %q is not a node name", m.Provider)
	case m.Agreement <= 0 || m.Datastream.ID <= 0:
		return "agreement and datastream.id: positive ids required"
	case m.Start.IsZero() || m.End.Before(m.Start):
		return "start, end: a time span required (end not before start)"
	case math.IsNaN(m.Result) || math.IsInf(m.Result, 0):
		return "result: not a finite number"
	case m.Resolution != Raw && m.Resolution != HourlyMean && m.Resolution != DailyMax:
		return fmt.Sprintf("resolution %q", m.Resolution)
	case !ValidName(m.ConsumerOrg):
		return fmt.Sprintf("consumerOrganisation: %q is not an organisation name", m.ConsumerOrg)
	case m.PhenomenonTime == "":
		return "phenomenonTime required"
	}
	return ""
}

// MsgID is the JetStream message id of m: the same value exported twice (a crash between
// publishing and saving the cursor) is stored once.
func (m *Message) MsgID() string {
	if m.Resolution == Raw {
		return fmt.Sprintf("%s:a%d:o%d", m.Provider, m.Agreement, m.Observation)
	}
	return fmt.Sprintf("%s:a%d:d%d:p%d", m.Provider, m.Agreement, m.Datastream.ID, m.Start.Unix())
}

// Value is one numeric Observation as the exporter reads it from the store.
type Value struct {
	Datastream int64
	Time       time.Time // the phenomenon time's start
	Result     float64
	Flag       int
}

// BadFlag is the QC flag from which a value is left out of aggregates: sensing.FlagBad, as
// the store keeps it (the qc column). (It was 3, one above FlagBad, so that bad values went
// into hourly means and daily maxima.)
const BadFlag = int(sensing.FlagBad)

// Aggregated is one period's value of one Datastream.
type Aggregated struct {
	Datastream int64
	Start, End time.Time
	Result     float64
	Count      int
}

// Aggregate summarises values to resolution r over the periods (UTC hours or days) that
// start in [from, until): the mean (HourlyMean) or maximum (DailyMax) of each Datastream's
// values not flagged bad, per period, ordered by period then Datastream. Periods without a
// value give nothing. Raw is refused (nothing to aggregate).
func Aggregate(r Resolution, from, until time.Time, values []Value) ([]Aggregated, error) {
	p := r.Period()
	if p == 0 {
		return nil, fmt.Errorf("aggregate: resolution %q has no period", r)
	}
	type key struct {
		ds    int64
		start int64
	}
	type acc struct {
		sum, max float64
		n        int
	}
	accs := map[key]*acc{}
	for _, v := range values {
		if v.Flag >= BadFlag || v.Time.Before(from) || !v.Time.Before(until) {
			continue
		}
		start := v.Time.UTC().Truncate(p)
		k := key{v.Datastream, start.Unix()}
		a := accs[k]
		if a == nil {
			a = &acc{max: v.Result}
			accs[k] = a
		}
		a.sum += v.Result
		a.max = max(a.max, v.Result)
		a.n++
	}
	out := make([]Aggregated, 0, len(accs))
	for k, a := range accs {
		s := time.Unix(k.start, 0).UTC()
		g := Aggregated{Datastream: k.ds, Start: s, End: s.Add(p), Count: a.n}
		if r == HourlyMean {
			g.Result = a.sum / float64(a.n)
		} else {
			g.Result = a.max
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Datastream < out[j].Datastream
	})
	return out, nil
}
