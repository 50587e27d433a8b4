package sensing

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ObsBatchBinary is the version byte of the compact bus payload (AppendBinary). Version 1 is
// the JSON form (AppendJSON), which DecodeObsBatch still reads: messages published before an
// upgrade stay readable.
const ObsBatchBinary = 2

// Limits of the compact payload's decoder: what it refuses, whatever the message says.
const (
	// MaxObsBatchItems is the most observations one decoded batch may hold (the relay puts at
	// most 1,000 in one message).
	MaxObsBatchItems = 1 << 16
	// MaxObsBatchText is the longest string or JSON value of one field (bytes).
	MaxObsBatchText = 1 << 20
)

// AppendBinary appends b in the compact bus form (version ObsBatchBinary) to dst. Layout, all
// integers as Go varints (encoding/binary; "u" unsigned), times in µs since 1970 UTC:
//
//	byte 2 | u len, node | datastream | multiDatastream | accepted | u len, by | u n
//	ids (first, then differences) | starts (first, then differences) | end − start per item
//	flags (n bytes) | numeric-result bitmap (⌈n/8⌉ bytes) | float64 bits (8 bytes LE) per numeric result
//	u length of the text section | text section: per item u len, phenomenonTime | u len, resultTime |
//	  u len, result JSON (0 when numeric) | u len, resultQuality | foi | u len, parameters
//
// The numeric columns come before the text section, so a consumer that needs only ids, times,
// flags and numbers (DecodeObsValues) skips the text in one step. An item's result is numeric
// when Num is set, or when Result is a JSON number. Times are kept to the µs, as the store
// keeps them.
func (b *ObsBatch) AppendBinary(dst []byte) []byte {
	var e ObsEncoder
	for i := range b.Obs {
		e.Add(&b.Obs[i])
	}
	return e.Append(dst, b)
}

// ObsEncoder writes the compact form (AppendBinary) one item at a time, in one pass, for a
// producer that holds its observations in another shape (the store's outbox builds a scratch
// ObsItem per stored Observation): no []ObsItem is made. Its column buffers are kept for the
// next batch (Reset); an ObsEncoder is not safe for concurrent use.
type ObsEncoder struct {
	n                        int
	prevID, prevStart        int64
	ids, starts, ends, flags []byte
	bitmap, nums, text       []byte
}

// Reset forgets the items added, keeping the buffers.
func (e *ObsEncoder) Reset() {
	e.n, e.prevID, e.prevStart = 0, 0, 0
	e.ids, e.starts, e.ends, e.flags = e.ids[:0], e.starts[:0], e.ends[:0], e.flags[:0]
	e.bitmap, e.nums, e.text = e.bitmap[:0], e.nums[:0], e.text[:0]
}

// Add appends one item; nothing of it is kept (its strings and JSON are copied).
func (e *ObsEncoder) Add(it *ObsItem) {
	e.ids = binary.AppendVarint(e.ids, it.ID-e.prevID)
	e.prevID = it.ID
	s := it.Start.UnixMicro()
	e.starts = binary.AppendVarint(e.starts, s-e.prevStart)
	e.prevStart = s
	e.ends = binary.AppendVarint(e.ends, it.End.UnixMicro()-s)
	e.flags = append(e.flags, byte(it.Flag))
	if e.n%8 == 0 {
		e.bitmap = append(e.bitmap, 0)
	}
	v, num := it.numeric()
	if num {
		e.bitmap[e.n/8] |= 1 << (e.n % 8)
		e.nums = binary.LittleEndian.AppendUint64(e.nums, math.Float64bits(v))
	}
	e.n++
	e.text = appendStr(e.text, it.PhenomenonTime)
	e.text = appendStr(e.text, it.ResultTime)
	if num {
		e.text = append(e.text, 0)
	} else {
		e.text = appendStr(e.text, compactRaw(it.Result, "null"))
	}
	e.text = appendStr(e.text, compactRaw(it.Quality, ""))
	e.text = binary.AppendVarint(e.text, it.FoI)
	e.text = appendStr(e.text, compactRaw(it.Parameters, ""))
}

// Append appends the batch — b's header (b.Obs is not read) and the items added — to dst in
// the compact form; with dst nil it allocates exactly the bytes needed.
func (e *ObsEncoder) Append(dst []byte, b *ObsBatch) []byte {
	if dst == nil {
		dst = make([]byte, 0, 1+4*binary.MaxVarintLen64+len(b.Node)+len(b.By)+2*binary.MaxVarintLen64+
			len(e.ids)+len(e.starts)+len(e.ends)+len(e.flags)+len(e.bitmap)+len(e.nums)+binary.MaxVarintLen64+len(e.text))
	}
	dst = append(dst, ObsBatchBinary)
	dst = appendStr(dst, b.Node)
	dst = binary.AppendVarint(dst, b.Datastream)
	dst = binary.AppendVarint(dst, b.MultiDatastream)
	dst = binary.AppendVarint(dst, b.Accepted.UnixMicro())
	dst = appendStr(dst, b.By)
	dst = binary.AppendUvarint(dst, uint64(e.n))
	dst = append(dst, e.ids...)
	dst = append(dst, e.starts...)
	dst = append(dst, e.ends...)
	dst = append(dst, e.flags...)
	dst = append(dst, e.bitmap...)
	dst = append(dst, e.nums...)
	dst = binary.AppendUvarint(dst, uint64(len(e.text)))
	return append(dst, e.text...)
}

// numeric returns the item's result as a number when it is one: Num, or a JSON number in Result.
func (it *ObsItem) numeric() (float64, bool) {
	if it.IsNum {
		return it.Num, true
	}
	if len(it.Result) == 0 || !(it.Result[0] == '-' || it.Result[0] >= '0' && it.Result[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(it.Result), 64)
	if err != nil || string(formatNum(f)) != string(it.Result) {
		return 0, false // kept as written: 1e3, 1.50 are not what the number gives back
	}
	return f, true
}

// compactRaw is raw without insignificant space, as AppendJSON writes it; none (or invalid
// JSON) gives none.
func compactRaw(raw json.RawMessage, none string) string {
	if len(raw) == 0 {
		return none
	}
	if !bytes.ContainsAny(raw, " \t\r\n") {
		if json.Valid(raw) {
			return string(raw)
		}
		return none
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return none
	}
	return buf.String()
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// binReader reads the compact form; the first error sticks.
type binReader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *binReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *binReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *binReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *binReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *binReader) str(what string) []byte {
	n := r.uvarint()
	if n > MaxObsBatchText {
		r.fail(fmt.Errorf("%s: %d bytes, at most %d", what, n, MaxObsBatchText))
		return nil
	}
	return r.bytes(n)
}

// maxMicro bounds times (µs) to what time.Time and RFC 3339 carry: years 0001–9999.
const (
	minMicro = -62135596800000000
	maxMicro = 253402300799999999
)

func (r *binReader) micro(v int64, what string) time.Time {
	if v < minMicro || v > maxMicro {
		r.fail(fmt.Errorf("%s: %d µs is outside years 1–9999", what, v))
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// decodeBinary decodes the compact form; with text false it leaves out the text section
// (phenomenonTime and resultTime as sent, non-numeric results, resultQuality, foi,
// parameters). Numeric results are set in Num and, as JSON, in Result.
func decodeBinary(b []byte, text bool) (*ObsBatch, error) {
	r := &binReader{b: b[1:]}
	m := &ObsBatch{V: ObsBatchBinary}
	m.Node = string(r.str("node"))
	m.Datastream = r.varint()
	m.MultiDatastream = r.varint()
	m.Accepted = r.micro(r.varint(), "accepted")
	m.By = string(r.str("by"))
	n := r.uvarint()
	if r.err == nil && n > MaxObsBatchItems {
		return nil, fmt.Errorf("observation batch: %d observations, at most %d", n, MaxObsBatchItems)
	}
	if r.err == nil && n > uint64(len(r.b)) { // each takes at least 4 bytes: no allocation on a lie
		return nil, fmt.Errorf("observation batch: %w", errShort)
	}
	if r.err != nil {
		return nil, fmt.Errorf("observation batch: %w", r.err)
	}
	m.Obs = make([]ObsItem, n)
	var prev int64
	for i := range m.Obs {
		prev += r.varint()
		m.Obs[i].ID = prev
	}
	prev = 0
	for i := range m.Obs {
		d := r.varint()
		if (d > 0 && prev > math.MaxInt64-d) || (d < 0 && prev < math.MinInt64-d) {
			r.fail(errors.New("start: out of range"))
		}
		prev += d
		m.Obs[i].Start = r.micro(prev, "start")
	}
	for i := range m.Obs {
		d := r.varint()
		start := m.Obs[i].Start.UnixMicro() // as read: micro refused what time.Time cannot hold
		if (d > 0 && start > math.MaxInt64-d) || (d < 0 && start < math.MinInt64-d) {
			r.fail(errors.New("end: out of range"))
		}
		m.Obs[i].End = r.micro(start+d, "end")
	}
	flags := r.bytes(n)
	bitmap := r.bytes((n + 7) / 8)
	if r.err != nil {
		return nil, fmt.Errorf("observation batch: %w", r.err)
	}
	var numText []byte // the numbers' JSON, one allocation for the batch
	for i := range m.Obs {
		f := Flag(flags[i])
		if f > FlagBad {
			return nil, fmt.Errorf("observation batch: observation %d: flag %d is not one Rabta knows", i, flags[i])
		}
		m.Obs[i].Flag = f
		if bitmap[i/8]&(1<<(i%8)) != 0 {
			bits := r.bytes(8)
			if r.err != nil {
				return nil, fmt.Errorf("observation batch: %w", r.err)
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(bits))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("observation batch: observation %d: result %v is not a JSON number", i, v)
			}
			m.Obs[i].Num, m.Obs[i].IsNum = v, true
			if text { // DecodeObsValues: Num only, no JSON text made per number
				at := len(numText)
				numText = appendNum(numText, v)
				m.Obs[i].Result = json.RawMessage(numText[at:len(numText):len(numText)])
			}
		}
	}
	// Result slices point into numText: fix them up now that it stops growing
	if len(numText) > 0 {
		at := 0
		for i := range m.Obs {
			if m.Obs[i].IsNum {
				l := len(m.Obs[i].Result)
				m.Obs[i].Result = json.RawMessage(numText[at : at+l : at+l])
				at += l
			}
		}
	}
	sec := r.str("text section")
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Errorf("%d bytes after the text section", len(r.b)))
	}
	if r.err != nil {
		return nil, fmt.Errorf("observation batch: %w", r.err)
	}
	if !text {
		return m, nil
	}
	t := &binReader{b: sec}
	for i := range m.Obs {
		it := &m.Obs[i]
		it.PhenomenonTime = string(t.str("phenomenonTime"))
		it.ResultTime = string(t.str("resultTime"))
		res := t.str("result")
		if !it.IsNum {
			if len(res) == 0 || !json.Valid(res) {
				t.fail(fmt.Errorf("observation %d: result is not JSON", i))
			}
			it.Result = json.RawMessage(res)
		} else if len(res) != 0 {
			t.fail(fmt.Errorf("observation %d: a numeric result has text too", i))
		}
		if q := t.str("resultQuality"); len(q) > 0 {
			if !json.Valid(q) {
				t.fail(fmt.Errorf("observation %d: resultQuality is not JSON", i))
			}
			it.Quality = json.RawMessage(q)
		}
		it.FoI = t.varint()
		if p := t.str("parameters"); len(p) > 0 {
			if !json.Valid(p) {
				t.fail(fmt.Errorf("observation %d: parameters is not JSON", i))
			}
			it.Parameters = json.RawMessage(p)
		}
		if t.err != nil {
			return nil, fmt.Errorf("observation batch: %w", t.err)
		}
	}
	if len(t.b) != 0 {
		return nil, fmt.Errorf("observation batch: %d bytes left in the text section", len(t.b))
	}
	return m, nil
}

// appendNum appends f as encoding/json writes a float64 (no exponent below 1e21).
func appendNum(dst []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func formatNum(f float64) []byte { return appendNum(nil, f) }
