package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// BatchVersion is the version of the Batch messages this node sends (a Message is version 1).
// Version 4 sends the values compressed (zstd) after a JSON header line; version 3 is JSON
// and leaves out a value's start and end when its phenomenonTime says them (Compact); version
// 2 always has them. A receiver reads 1, 2, 3 and 4 (DecodeMessages); one that knows only
// 1 to 3 refuses version 4 whole, storing nothing wrong.
const BatchVersion = 4

// batchV2 and batchV3 are the versions of the Batch messages sent before Compact and before
// compression.
const (
	batchV2 = 2
	batchV3 = 3
)

// MaxBatchValues bounds the values of one Batch.
const MaxBatchValues = 500

// Batch is a raw agreement's values from one Datastream, in Observation id order: the payload
// of one message on the agreement's stream, at most MaxMessage bytes and MaxBatchValues
// values. What the values have in common — provider, agreement, the Datastream's description,
// resolution (always Raw), retention, consumer organisation — is sent once, not once per value
// as in a version-1 Message: the exporter publishes, JetStream stores, and the partner
// fetches, acknowledges and decodes one message per batch instead of one per value.
//
// On the wire (version 4, what BatchEncoder writes): the Batch without its values as one line
// of JSON, with "valueCount", the number of values; a newline; then the values — the JSON
// array version 3 has under "values", at most MaxMessage bytes — as one zstd frame (RFC 8878).
// A value takes about 95 bytes as JSON and 6 to 15 compressed, on every agreement's stream
// that carries it. Versions 2 and 3 are the whole Batch as one JSON object (DecodeMessages
// reads them all).
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

// batchHeader is a version-4 Batch's first line: the Batch without its values, and how many.
type batchHeader struct {
	V           int          `json:"v"`
	Provider    string       `json:"provider"`
	Agreement   int64        `json:"agreement"`
	Datastream  RemoteSource `json:"datastream"`
	Resolution  Resolution   `json:"resolution"`
	Retention   Duration     `json:"retention,omitempty"`
	ConsumerOrg string       `json:"consumerOrganisation"`
	ValueCount  int          `json:"valueCount"`
}

// v4Start is how every version-4 message begins (json.Marshal writes V first).
var v4Start = []byte(`{"v":4,`)

// BatchValue is one Observation of a Batch: the provider's Observation id (positive), its
// phenomenon time as text (ISO 8601 instant or interval) and as start and end, its numeric
// result and its QC flag.
type BatchValue struct {
	Observation    int64     `json:"observation"`
	PhenomenonTime string    `json:"phenomenonTime"`
	Start          time.Time `json:"start,omitzero"` // absent (versions 3, 4): phenomenonTime's
	End            time.Time `json:"end,omitzero"`
	Result         float64   `json:"result"`
	Flag           int       `json:"flag"`
}

// Compact returns v without its start and end when its phenomenonTime, parsed as SensorThings
// parses it (sensing.ParseTimeOrInterval) and taken to the microsecond (as the store keeps
// times), gives them — the usual case, an instant sent as it is stored — so that a value takes
// about 95 bytes instead of 165 before compression; the receiver takes them from
// phenomenonTime again (DecodeMessages: parsed, truncated to the microsecond). A text the
// parser refuses, or one that says other instants, keeps them. (Version 3 left them in for a
// text with a fraction finer than the microsecond; its receivers never truncated, and never
// needed to.)
func Compact(v BatchValue) BatchValue {
	if derivable(v.PhenomenonTime, v.Start, v.End) {
		v.Start, v.End = time.Time{}, time.Time{}
	}
	return v
}

func derivable(phen string, start, end time.Time) bool {
	ps, pe, err := sensing.ParseTimeOrInterval(phen)
	return err == nil && !start.IsZero() && ps.UnixMicro() == start.UnixMicro() && pe.UnixMicro() == end.UnixMicro()
}

// fromText is start and end as a receiver takes them from phenomenonTime when a batch leaves
// them out (Compact): parsed, truncated to the microsecond.
func fromText(phen string) (start, end time.Time, err error) {
	s, e, err := sensing.ParseTimeOrInterval(phen)
	return s.Truncate(time.Microsecond), e.Truncate(time.Microsecond), err
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
// MaxBatchValues or maxValuesBytes: take the batch (Take), then add the value again.
var ErrBatchFull = errors.New("federation: batch full")

// zstdSlack is what a message may need beyond its header and its values uncompressed: a
// zstd frame of values that do not compress (stored blocks) is a few bytes longer than they
// are (RFC 8878 §3.1.1: a frame header of at most 18 bytes, 3 a block of at most 128 KiB).
const zstdSlack = 64

// BatchEncoder builds the Batch messages (version 4) of one agreement's raw values from one
// Datastream. Its header line is json.Marshal's of the Batch's header, and its values,
// uncompressed, are json.Marshal's of them (a test and a fuzz target check both); the common
// part is encoded once. It keeps references to the values added, not copies: a value encoded
// once (AppendValue) is added to every agreement's batch that sends it, and compressed once
// for all of them (TakeShared).
type BatchEncoder struct {
	prefix      []byte   // {"v":4,…,"consumerOrganisation":…,"valueCount":
	vals        [][]byte // the values added since the last Take, encoded
	ids         []int64  // their Observation ids
	size        int      // of the values as a JSON array: [v,v,…]
	own         []byte   // Add's values
	first, last int64
}

// NewBatchEncoder returns the encoder of batches like b (its Provider, Agreement, Datastream,
// Retention and ConsumerOrg; V is BatchVersion, Resolution Raw, the values are added).
func NewBatchEncoder(b Batch) (*BatchEncoder, error) {
	h := batchHeader{V: BatchVersion, Provider: b.Provider, Agreement: b.Agreement, Datastream: b.Datastream, Resolution: Raw,
		Retention: b.Retention, ConsumerOrg: b.ConsumerOrg}
	all, err := json.Marshal(&h)
	if err != nil {
		return nil, err
	}
	// all ends with "valueCount":0}: the prefix is everything before the 0
	if !bytes.HasSuffix(all, []byte(`"valueCount":0}`)) || !bytes.HasPrefix(all, v4Start) {
		return nil, errors.New("federation: batch encoding: unexpected shape")
	}
	return &BatchEncoder{prefix: all[:len(all)-2]}, nil
}

// Len is the number of values added since the last Take.
func (e *BatchEncoder) Len() int { return len(e.ids) }

// maxValuesBytes is how long a batch's values may be as JSON, uncompressed: the message, its
// header and the values however well they compress, stays within MaxMessage.
func (e *BatchEncoder) maxValuesBytes() int { return MaxMessage - len(e.prefix) - 24 - zstdSlack }

// Add adds one value. ErrBatchFull: the batch holds MaxBatchValues values, or this one would
// take it past MaxMessage bytes (nothing added; a first value is always added). Other errors
// are json.Marshal's (a result that is not a finite number, a time it cannot write).
func (e *BatchEncoder) Add(obs int64, phen string, start, end time.Time, result float64, flag int) error {
	if len(e.ids) >= MaxBatchValues {
		return ErrBatchFull
	}
	at := len(e.own)
	v, err := AppendValue(e.own, obs, phen, start, end, result, flag)
	if err != nil {
		return err
	}
	if err := e.AddEncoded(obs, v[at:len(v):len(v)]); err != nil {
		return err
	}
	e.own = v // (a later append may move it; the values taken stay where they are)
	return nil
}

// AddEncoded is Add for a value already encoded by AppendValue (Observation obs): the
// exporter encodes a value once for every agreement that sends it. The encoder keeps v (not
// a copy) until the batch is taken: v must not change before.
func (e *BatchEncoder) AddEncoded(obs int64, v []byte) error {
	n := len(e.ids)
	if n >= MaxBatchValues || (n > 0 && e.size+1+len(v) > e.maxValuesBytes()) {
		return ErrBatchFull
	}
	if n == 0 {
		e.size, e.first = 2, obs // [ and ]
	} else {
		e.size++ // ,
	}
	e.size += len(v)
	e.vals, e.ids = append(e.vals, v), append(e.ids, obs)
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
func (e *BatchEncoder) Take() (msg []byte, first, last int64, n int) { return e.TakeShared(nil) }

// TakeShared is Take, with the values compressed once for every batch of the same values
// taken with p (nil: compressed for this one alone): the exporter sends one read's values
// from a Datastream to every agreement that selects it, and those batches differ only in
// their header.
func (e *BatchEncoder) TakeShared(p *Packs) (msg []byte, first, last int64, n int) {
	n = len(e.ids)
	if n == 0 {
		return nil, 0, 0, 0
	}
	z := p.get(e.ids)
	if z == nil {
		raw := make([]byte, 0, e.size)
		raw = append(raw, '[')
		for i, v := range e.vals {
			if i > 0 {
				raw = append(raw, ',')
			}
			raw = append(raw, v...)
		}
		raw = append(raw, ']')
		z = zstdEncoder().EncodeAll(raw, make([]byte, 0, len(raw)/4+zstdSlack))
		p.put(e.ids, z)
	}
	msg = make([]byte, 0, len(e.prefix)+24+len(z))
	msg = strconv.AppendInt(append(msg, e.prefix...), int64(n), 10)
	msg = append(append(msg, '}', '\n'), z...)
	first, last = e.first, e.last
	clear(e.vals) // (the values are the caller's again)
	e.vals, e.ids, e.size, e.first, e.last, e.own = e.vals[:0], e.ids[:0], 0, 0, 0, nil
	return msg, first, last, n
}

// Packs keeps the compressed values of the batches taken with it (BatchEncoder.TakeShared),
// by their Observation ids: batches of the same values, for different agreements, compress
// them once. Make one for each read of the exporter (its values are not kept beyond). The
// zero value is ready; a nil *Packs keeps nothing.
type Packs struct {
	m map[packKey][]pack
}

type packKey struct {
	first, last int64
	n           int
}

type pack struct {
	ids []int64
	z   []byte
}

func (p *Packs) get(ids []int64) []byte {
	if p == nil {
		return nil
	}
	for _, c := range p.m[packKey{ids[0], ids[len(ids)-1], len(ids)}] {
		if slices.Equal(c.ids, ids) { // the same values, exactly: never another agreement's
			return c.z
		}
	}
	return nil
}

func (p *Packs) put(ids []int64, z []byte) {
	if p == nil {
		return
	}
	if p.m == nil {
		p.m = map[packKey][]pack{}
	}
	k := packKey{ids[0], ids[len(ids)-1], len(ids)}
	p.m[k] = append(p.m[k], pack{slices.Clone(ids), z})
}

// zstdEncoder is the encoder of version-4 values: the fastest level (about 500 MB/s here, 6 to
// 14 times smaller on values like a gauge's), safe for concurrent EncodeAll.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // only for options it refuses: these are fixed
	}
	return e
})

// zstdDecoder is the decoder of version-4 values: it refuses a frame that would need more
// than MaxMessage bytes of window or of output (a small message cannot make the receiver
// allocate much).
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(MaxMessage), zstd.WithDecoderMaxWindow(MaxMessage), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(err)
	}
	return d
})

// wire is what a message of an agreement's stream may hold: a Message (version 1) or a Batch
// (versions 2 and 3; a version-4 Batch's header, with its valueCount).
type wire struct {
	Message
	Values     []BatchValue `json:"values"`
	ValueCount *int         `json:"valueCount"`
}

// DecodeMessages reads one message of an agreement's stream, a version-1 Message (one value)
// or a Batch (versions 2 to 4: its values, each as the Message it stands for, in order); the
// error (apperr.Invalid) says what is wrong. A Batch is refused whole when any of its values
// is wrong: raw only, 1 to MaxBatchValues values, each with a positive Observation id, a
// phenomenon time (text, and start not after end) and a finite result. A version-4 Batch's
// values must be one zstd frame of at most MaxMessage bytes uncompressed, exactly valueCount
// of them.
func DecodeMessages(b []byte) ([]*Message, error) {
	if len(b) > MaxMessage {
		return nil, apperr.E(apperr.Invalid, "federation message: %d bytes, at most %d", len(b), MaxMessage)
	}
	var w wire
	if bytes.HasPrefix(b, v4Start) {
		if err := decodeV4(b, &w); err != nil {
			return nil, err
		}
	} else {
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, apperr.E(apperr.Invalid, "federation message: %s", jsonErr(err))
		}
		if w.ValueCount != nil {
			return nil, apperr.E(apperr.Invalid, "federation message: valueCount: only in a version-%d batch", BatchVersion)
		}
	}
	if w.V != BatchVersion && w.V != batchV3 && w.V != batchV2 {
		if w.Values != nil {
			return nil, apperr.E(apperr.Invalid, "federation message: values: only in a batch (v %d, %d or %d)", batchV2, batchV3, BatchVersion)
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
		if w.V != batchV2 && v.Start.IsZero() && v.End.IsZero() { // (Compact)
			s, e, err := fromText(v.PhenomenonTime)
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

// decodeV4 reads a version-4 Batch (b begins with v4Start) into w: its header line, then its
// values from the zstd frame after it.
func decodeV4(b []byte, w *wire) error {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return apperr.E(apperr.Invalid, "federation message: version %d: a header line, then the values compressed, expected", BatchVersion)
	}
	if err := json.Unmarshal(b[:i], w); err != nil {
		return apperr.E(apperr.Invalid, "federation message: header: %s", jsonErr(err))
	}
	switch {
	case w.Values != nil:
		return apperr.E(apperr.Invalid, "federation message: values: after the header line, compressed, in version %d", BatchVersion)
	case w.ValueCount == nil || *w.ValueCount < 1 || *w.ValueCount > MaxBatchValues:
		return apperr.E(apperr.Invalid, "federation message: valueCount: want 1 to %d", MaxBatchValues)
	}
	raw, err := zstdDecoder().DecodeAll(b[i+1:], make([]byte, 0, MaxMessage))
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrFrameSizeExceeded) {
		return apperr.E(apperr.Invalid, "federation message: values: more than %d bytes uncompressed", MaxMessage)
	}
	if err != nil {
		return apperr.E(apperr.Invalid, "federation message: values: not one zstd frame: %v", err)
	}
	if err := json.Unmarshal(raw, &w.Values); err != nil {
		return apperr.E(apperr.Invalid, "federation message: values: %s", jsonErr(err))
	}
	if len(w.Values) != *w.ValueCount {
		return apperr.E(apperr.Invalid, "federation message: valueCount: %d, but %d values", *w.ValueCount, len(w.Values))
	}
	return nil
}
