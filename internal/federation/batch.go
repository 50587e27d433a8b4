package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// BatchVersion is the version of the Batch messages this node sends (a Message is version 1).
// Version 3 leaves out a value's start and end when its phenomenonTime says them (Compact);
// version 2 always has them. A receiver reads 1, 2 and 3 (DecodeMessages); one that knows
// only 1 and 2 refuses version 3 whole, storing nothing wrong.
const BatchVersion = 3

// batchV2 is the version of the Batch messages sent before Compact.
const batchV2 = 2

// MaxBatchValues bounds the values of one Batch.
const MaxBatchValues = 500

// Batch is a raw agreement's values from one Datastream, in Observation id order: the payload
// of one message on the agreement's stream (version 2, JSON), at most MaxMessage bytes and
// MaxBatchValues values. What the values have in common — provider, agreement, the Datastream's
// description, resolution (always Raw), retention, consumer organisation — is sent once, not
// once per value as in a version-1 Message: the exporter publishes, JetStream stores, and the
// partner fetches, acknowledges and decodes one message per batch instead of one per value.
// A receiver reads both versions (DecodeMessages).
type Batch struct {
	V           int          `json:"v"`
	Provider    string       `json:"provider"`
	Agreement   int64        `json:"agreement"`
	Datastream  RemoteSource `json:"datastream"`
	Resolution  Resolution   `json:"resolution"`
	Retention   Duration     `json:"retention,omitempty"`
	ConsumerOrg string       `json:"consumerOrganisation"`
	Values      []BatchValue `json:"values"`
}

// BatchValue is one Observation of a Batch: the provider's Observation id (positive), its
// phenomenon time as text (ISO 8601 instant or interval) and as start and end, its numeric
// result and its QC flag.
type BatchValue struct {
	Observation    int64     `json:"observation"`
	PhenomenonTime string    `json:"phenomenonTime"`
	Start          time.Time `json:"start,omitzero"` // absent (version 3): phenomenonTime's
	End            time.Time `json:"end,omitzero"`
	Result         float64   `json:"result"`
	Flag           int       `json:"flag"`
}

// Compact returns v without its start and end when its phenomenonTime, parsed as SensorThings
// parses it (sensing.ParseTimeOrInterval), gives them to the microsecond — the usual case, an
// instant sent as it is stored — so that a value takes about 95 bytes instead of 165 on every
// agreement's stream; the receiver takes them from phenomenonTime again. A text that does not
// say them exactly (a nanosecond fraction, an offset kept, a text the parser refuses) keeps them.
func Compact(v BatchValue) BatchValue {
	if derivable(v.PhenomenonTime, v.Start, v.End) {
		v.Start, v.End = time.Time{}, time.Time{}
	}
	return v
}

func derivable(phen string, start, end time.Time) bool {
	ps, pe, err := sensing.ParseTimeOrInterval(phen)
	return err == nil && !start.IsZero() && ps.UnixMicro() == start.UnixMicro() && pe.UnixMicro() == end.UnixMicro() &&
		ps.Equal(ps.Truncate(time.Microsecond)) && pe.Equal(pe.Truncate(time.Microsecond))
}

// BatchMsgID is the JetStream message id of the Batch of agreement's values from Observation
// first to last on provider: published twice with the same values (a crash between publishing
// and saving the cursor), it is stored once. A batch published again with other bounds (more
// values had been committed by then) is a new message; the consumer's ingest leaves out the
// values it already holds (identical Observations).
func BatchMsgID(provider string, agreement, first, last int64) string {
	b := make([]byte, 0, len(provider)+48)
	b = append(append(b, provider...), ":a"...)
	b = strconv.AppendInt(b, agreement, 10)
	b = strconv.AppendInt(append(b, ":o"...), first, 10)
	b = strconv.AppendInt(append(b, '-'), last, 10)
	return string(b)
}

// ErrBatchFull is BatchEncoder.Add's answer when the value would take the batch past
// MaxBatchValues or MaxMessage bytes: take the batch (Take), then add the value again.
var ErrBatchFull = errors.New("federation: batch full")

// BatchEncoder builds the Batch messages of one agreement's raw values from one Datastream.
// Its output is byte for byte what json.Marshal makes of the same Batch (a test and a fuzz
// target check it); the common part is encoded once.
type BatchEncoder struct {
	prefix      []byte // {"v":2,…,"consumerOrganisation":…,"values":[
	buf         []byte // prefix and the values added so far (nil when none)
	scratch     []byte // Add's value
	n           int
	first, last int64
}

// NewBatchEncoder returns the encoder of batches like b (its Provider, Agreement, Datastream,
// Retention and ConsumerOrg; V is BatchVersion, Resolution Raw, the values are added).
func NewBatchEncoder(b Batch) (*BatchEncoder, error) {
	b.V, b.Resolution, b.Values = BatchVersion, Raw, []BatchValue{}
	all, err := json.Marshal(&b)
	if err != nil {
		return nil, err
	}
	// all ends with "values":[]}: the prefix is everything before the closing "]}"
	if !bytes.HasSuffix(all, []byte(`"values":[]}`)) {
		return nil, errors.New("federation: batch encoding: unexpected shape")
	}
	return &BatchEncoder{prefix: all[:len(all)-2]}, nil
}

// Len is the number of values added since the last Take.
func (e *BatchEncoder) Len() int { return e.n }

// Add adds one value. ErrBatchFull: the batch holds MaxBatchValues values, or this one would
// take it past MaxMessage bytes (nothing added; a first value is always added). Other errors
// are json.Marshal's (a result that is not a finite number, a time it cannot write).
func (e *BatchEncoder) Add(obs int64, phen string, start, end time.Time, result float64, flag int) error {
	if e.n >= MaxBatchValues {
		return ErrBatchFull
	}
	v, err := AppendValue(e.scratch[:0], obs, phen, start, end, result, flag)
	if err != nil {
		return err
	}
	e.scratch = v
	return e.AddEncoded(obs, v)
}

// AddEncoded is Add for a value already encoded by AppendValue (Observation obs): the
// exporter encodes a value once for every agreement that sends it.
func (e *BatchEncoder) AddEncoded(obs int64, v []byte) error {
	if e.n >= MaxBatchValues || (e.n > 0 && len(e.buf)+1+len(v)+2 > MaxMessage) {
		return ErrBatchFull
	}
	if e.n == 0 { // a buffer of the batch's own (the last one taken is the caller's), sized for a full batch of such values
		e.buf = append(make([]byte, 0, min(MaxMessage, len(e.prefix)+(len(v)+1)*MaxBatchValues+2)), e.prefix...)
	} else {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, v...)
	if e.n == 0 {
		e.first = obs
	}
	e.n++
	e.last = obs
	return nil
}

// AppendValue appends one value of a Batch to b, as json.Marshal writes a BatchValue. The
// errors are json.Marshal's (a result that is not a finite number, a time it cannot write).
func AppendValue(b []byte, obs int64, phen string, start, end time.Time, result float64, flag int) ([]byte, error) {
	if !plainTime(start) || !plainTime(end) || math.IsNaN(result) || math.IsInf(result, 0) {
		// what json.Marshal does with these (an error, or its own spelling)
		c := Compact(BatchValue{Observation: obs, PhenomenonTime: phen, Start: start, End: end, Result: result, Flag: flag})
		v, err := json.Marshal(&c)
		if err != nil {
			return b, err
		}
		return append(b, v...), nil
	}
	b = strconv.AppendInt(append(b, `{"observation":`...), obs, 10)
	b = appendString(append(b, `,"phenomenonTime":`...), phen)
	if !derivable(phen, start, end) { // (Compact; a zero time is left out, as json's omitzero does)
		if !start.IsZero() {
			b = append(start.AppendFormat(append(b, `,"start":"`...), time.RFC3339Nano), '"')
		}
		if !end.IsZero() {
			b = append(end.AppendFormat(append(b, `,"end":"`...), time.RFC3339Nano), '"')
		}
	}
	b = appendFloat(append(b, `,"result":`...), result)
	b = strconv.AppendInt(append(b, `,"flag":`...), int64(flag), 10)
	return append(b, '}'), nil
}

// Take returns the batch of the values added since the last Take (nil when none), with its
// first and last Observation ids and its number of values, and starts a new one.
func (e *BatchEncoder) Take() (msg []byte, first, last int64, n int) {
	if e.n == 0 {
		return nil, 0, 0, 0
	}
	msg = append(e.buf, ']', '}')
	first, last, n = e.first, e.last, e.n
	e.buf, e.n, e.first, e.last = nil, 0, 0, 0
	return msg, first, last, n
}

// wire is what a message of an agreement's stream may hold: a Message (version 1) or a Batch
// (version 2).
type wire struct {
	Message
	Values []BatchValue `json:"values"`
}

// DecodeMessages reads one message of an agreement's stream, a version-1 Message (one value)
// or a version-2 Batch (its values, each as the Message it stands for, in order); the error
// (apperr.Invalid) says what is wrong. A Batch is refused whole when any of its values is
// wrong: raw only, 1 to MaxBatchValues values, each with a positive Observation id, a
// phenomenon time (text, and start not after end) and a finite result.
func DecodeMessages(b []byte) ([]*Message, error) {
	if len(b) > MaxMessage {
		return nil, apperr.E(apperr.Invalid, "federation message: %d bytes, at most %d", len(b), MaxMessage)
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, apperr.E(apperr.Invalid, "federation message: %s", jsonErr(err))
	}
	if w.V != BatchVersion && w.V != batchV2 {
		if w.Values != nil {
			return nil, apperr.E(apperr.Invalid, "federation message: values: only in a batch (v %d or %d)", batchV2, BatchVersion)
		}
		if err := w.Message.check(); err != nil {
			return nil, err
		}
		return []*Message{&w.Message}, nil
	}
	m := w.Message
	switch {
	case m.Resolution != Raw:
		return nil, apperr.E(apperr.Invalid, "federation message: resolution %q: a batch is raw", m.Resolution)
	case len(w.Values) == 0 || len(w.Values) > MaxBatchValues:
		return nil, apperr.E(apperr.Invalid, "federation message: values: %d, want 1 to %d", len(w.Values), MaxBatchValues)
	case m.Observation != 0 || m.PhenomenonTime != "" || !m.Start.IsZero() || !m.End.IsZero() || m.Result != 0 || m.Flag != 0 || m.Count != 0:
		return nil, apperr.E(apperr.Invalid, "federation message: a batch has its values in values only")
	}
	out := make([]*Message, len(w.Values))
	ms := make([]Message, len(w.Values))
	for i, v := range w.Values {
		x := &ms[i]
		*x = m
		x.V = 1 // what the value stands for: one version-1 Message
		x.Observation, x.PhenomenonTime, x.Start, x.End, x.Result, x.Flag = v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag
		if w.V == BatchVersion && v.Start.IsZero() && v.End.IsZero() { // (Compact)
			s, e, err := sensing.ParseTimeOrInterval(v.PhenomenonTime)
			if err != nil {
				return nil, apperr.E(apperr.Invalid, "federation message: values[%d].phenomenonTime: %v (and no start and end)", i, err)
			}
			x.Start, x.End = s, e
		}
		if v.Observation <= 0 {
			return nil, apperr.E(apperr.Invalid, "federation message: values[%d].observation: a positive id required", i)
		}
		if p := x.problem(); p != "" {
			return nil, apperr.E(apperr.Invalid, "federation message: values[%d]: %s", i, p)
		}
		if len(x.Datastream.Unit) == 0 {
			x.Datastream.Unit = json.RawMessage(`{}`)
		}
		out[i] = x
	}
	return out, nil
}
