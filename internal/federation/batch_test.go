package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func batchBase() Batch {
	m := encoderBase()
	return Batch{V: batchV3, Provider: m.Provider, Agreement: m.Agreement, Datastream: m.Datastream, Resolution: Raw,
		Retention: m.Retention, ConsumerOrg: m.ConsumerOrg}
}

// addAll adds vs to e, taking a batch whenever it is full; it returns the batches taken (the
// last one included) and what json.Marshal makes of each.
func addAll(t *testing.T, base Batch, vs []BatchValue) (got, want [][]byte, ns []int) {
	t.Helper()
	e, err := NewBatchEncoder(base)
	if err != nil {
		t.Fatal(err)
	}
	var cur []BatchValue
	take := func() {
		msg, first, last, n := e.Take()
		if n != len(cur) || n == 0 || first != cur[0].Observation || last != cur[n-1].Observation {
			t.Fatalf("take: %d values %d..%d, want %d", n, first, last, len(cur))
		}
		h := batchHeader{V: BatchVersion, Provider: base.Provider, Agreement: base.Agreement, Datastream: base.Datastream,
			Resolution: Raw, Retention: base.Retention, ConsumerOrg: base.ConsumerOrg, ValueCount: n}
		hw, err := json.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		var vals []BatchValue
		for _, v := range cur {
			vals = append(vals, Compact(v))
		}
		vw, err := json.Marshal(vals)
		if err != nil {
			t.Fatal(err)
		}
		w := append(append(hw, '\n'), vw...)
		msg = plainV4(t, msg)
		got, want, ns = append(got, msg), append(want, w), append(ns, n)
		cur = nil
	}
	for _, v := range vs {
		err := e.Add(v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag)
		if errors.Is(err, ErrBatchFull) {
			take()
			err = e.Add(v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag)
		}
		_, werr := json.Marshal(&v)
		if (err != nil) != (werr != nil) {
			t.Fatalf("add %+v: %v, json.Marshal: %v", v, err, werr)
		}
		if err == nil {
			cur = append(cur, v)
		}
	}
	if e.Len() > 0 {
		take()
	}
	if msg, _, _, n := e.Take(); msg != nil || n != 0 {
		t.Fatalf("an empty encoder gave %d values", n)
	}
	return got, want, ns
}

// TestBatchEncoder: the encoder's batches are json.Marshal's, for ordinary and awkward values
// (exponent floats, strings json escapes, zones, a year json.Marshal refuses, NaN refused as it
// refuses it); a batch ends at MaxBatchValues values or before MaxMessage bytes; every batch
// decodes back into its values.
func TestBatchEncoder(t *testing.T) {
	at := time.Date(2025, 8, 26, 12, 0, 0, 123456789, time.UTC)
	pk := time.FixedZone("PKT", 5*3600)
	odd := time.FixedZone("odd", 5*3600+30)
	vs := []BatchValue{
		{42, "2025-08-26T12:00:00Z", at, at, 1001480, 0},
		{43, "2025-08-26T17:00:00+05:00", at.In(pk), at.In(pk).Add(time.Minute), -0.000000123, 3},
		{44, "x<y>&\"\\\u00e9\n", at, at, 1e21, 1},
		{45, "t", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), at, 1, 0},
		{46, "t", at, at, math.NaN(), 0},
		{47, "t", at.In(odd), at.In(odd), 123456789.125, 2},
	}
	bare := batchBase()
	bare.Retention, bare.Datastream.Location = 0, nil
	for _, base := range []Batch{batchBase(), bare} {
		got, want, _ := addAll(t, base, vs)
		if len(got) != 1 || !bytes.Equal(got[0], want[0]) {
			t.Fatalf("batch:\n got %s\nwant %s", got, want)
		}
	}

	// by count, then by size
	many := make([]BatchValue, 2*MaxBatchValues+7)
	for i := range many {
		s := at.Truncate(time.Second)
		many[i] = BatchValue{int64(i + 1), "t", s, s, float64(i), 0} // short: the count ends the batch
	}
	got, want, ns := addAll(t, batchBase(), many)
	if len(got) != 3 || ns[0] != MaxBatchValues || ns[1] != MaxBatchValues || ns[2] != 7 {
		t.Fatalf("%d values: batches of %v, want %d, %d, 7", len(many), ns, MaxBatchValues, MaxBatchValues)
	}
	long := strings.Repeat("p", 1000)
	for i := range many {
		many[i].PhenomenonTime = long
	}
	got2, want2, ns := addAll(t, batchBase(), many)
	for i, b := range got2 {
		if len(b) > MaxMessage || ns[i] >= MaxBatchValues || (i < len(got2)-1 && len(b) < MaxMessage-1600) {
			t.Fatalf("batch %d of long values, uncompressed: %d bytes, %d values (at most %d bytes, and full)", i, len(b), ns[i], MaxMessage)
		}
	}
	// values that compress little: the message, compressed, still within MaxMessage
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range many {
		p := make([]byte, 700)
		for j := range p {
			p[j] = 'a' + byte(rnd.IntN(26))
		}
		many[i].PhenomenonTime = string(p)
	}
	e, _ := NewBatchEncoder(batchBase())
	full := 0
	for _, v := range many {
		err := e.Add(v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag)
		if errors.Is(err, ErrBatchFull) {
			msg, _, _, n := e.Take()
			if full++; len(msg) > MaxMessage || len(plainV4(t, msg)) < MaxMessage-1600 {
				t.Fatalf("a full batch of values that compress little: %d bytes (%d values), want at most %d, and full uncompressed", len(msg), n, MaxMessage)
			}
			if ms, err := DecodeMessages(msg); err != nil || len(ms) != n {
				t.Fatalf("a full batch of values that compress little: %v", err)
			}
			err = e.Add(v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 {
		t.Fatal("no batch of values that compress little was full")
	}
	for i := range append(got, got2...) {
		g, w := append(got, got2...)[i], append(want, want2...)[i]
		if !bytes.Equal(g, w) {
			t.Fatalf("batch %d differs from json.Marshal's", i)
		}
	}
}

// plainV4 returns a version-4 message with its values decompressed (the header line, a
// newline, the values as JSON), after checking that DecodeMessages reads it.
func plainV4(t testing.TB, msg []byte) []byte {
	t.Helper()
	i := bytes.IndexByte(msg, '\n')
	if i < 0 || !bytes.HasPrefix(msg, v4Start) {
		t.Fatalf("not a version-4 batch: %q", msg)
	}
	raw, err := zstdDecoder().DecodeAll(msg[i+1:], make([]byte, 0, MaxMessage))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	if _, err := DecodeMessages(msg); err != nil && !strings.Contains(err.Error(), "values[") {
		t.Fatalf("decode: %v", err) // (a value the decoder refuses, such as an empty phenomenonTime, is the fuzz target's)
	}
	return append(append(msg[:i:i], '\n'), raw...)
}

// TestTakeShared: batches of the same values for different agreements compress them once and
// differ in their header only; a batch of other values with the same first and last ids and
// count never takes another's.
func TestTakeShared(t *testing.T) {
	at := time.Date(2025, 8, 26, 12, 0, 0, 0, time.UTC)
	var p Packs
	enc := func(agreement int64, ids ...int64) []byte {
		b := batchBase()
		b.Agreement = agreement
		e, err := NewBatchEncoder(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			v, _ := AppendValue(nil, id, "2025-08-26T12:00:00Z", at, at, float64(id), 0)
			if err := e.AddEncoded(id, v); err != nil {
				t.Fatal(err)
			}
		}
		msg, first, last, n := e.TakeShared(&p)
		if n != len(ids) || first != ids[0] || last != ids[len(ids)-1] {
			t.Fatalf("took %d values %d..%d", n, first, last)
		}
		return msg
	}
	a, b := enc(1, 10, 11, 12), enc(2, 10, 11, 12)
	c := enc(3, 10, 15, 12) // (not the order the exporter adds in: a test of the key only)
	za, zb := a[bytes.IndexByte(a, '\n'):], b[bytes.IndexByte(b, '\n'):]
	if !bytes.Equal(za, zb) || bytes.Equal(a, b) {
		t.Fatalf("two agreements' batches of the same values: values differ or headers do not")
	}
	if n := len(p.m[packKey{10, 12, 3}]); n != 2 {
		t.Fatalf("%d compressions of two sets of values, want 2", n)
	}
	for msg, want := range map[*[]byte][]int64{&a: {10, 11, 12}, &b: {10, 11, 12}, &c: {10, 15, 12}} {
		ms, err := DecodeMessages(*msg)
		if err != nil || len(ms) != 3 {
			t.Fatalf("%v", err)
		}
		for i, m := range ms {
			if m.Observation != want[i] || m.Result != float64(want[i]) {
				t.Fatalf("agreement %d: value %d is %d, want %d", m.Agreement, i, m.Observation, want[i])
			}
		}
	}
}

// FuzzBatchEncoder: for any two values, the encoder's batch is json.Marshal's.
func FuzzBatchEncoder(f *testing.F) {
	f.Add(int64(42), "2025-08-26T12:00:00Z", int64(1756209600123456), 1001480.0, 0)
	f.Add(int64(0), "<&>", int64(-62135596800000000), 1e-7, -1)
	f.Add(int64(-5), "\xff", int64(253402300800000000), -1e300, 7)
	f.Fuzz(func(t *testing.T, obs int64, phen string, startUS int64, result float64, flag int) {
		start := time.UnixMicro(startUS).UTC()
		vs := []BatchValue{{obs, phen, start, start, result, flag}, {obs + 1, phen + "x", start, start.Add(time.Second), -result, 0}}
		got, want, _ := addAll(t, batchBase(), vs)
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("got %s\nwant %s", got[i], want[i])
			}
		}
	})
}

// TestDecodeMessages: a batch gives each value as its Message, in order; a version-1 Message
// gives itself; a batch with any wrong value, or the wrong shape, is refused naming what.
func TestDecodeMessages(t *testing.T) {
	at := time.Date(2025, 8, 26, 12, 0, 0, 0, time.UTC)
	b := batchBase()
	b.Values = []BatchValue{{7, "2025-08-26T12:00:00Z", at, at, 1.5, 0}, {9, "2025-08-26T12:01:00Z", at.Add(time.Minute), at.Add(time.Minute), 2.5, 3}}
	data, _ := json.Marshal(&b)
	ms, err := DecodeMessages(data)
	if err != nil || len(ms) != 2 {
		t.Fatalf("%v %v", ms, err)
	}
	// version 4: the same values, compressed
	e, err := NewBatchEncoder(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range b.Values {
		if err := e.Add(v.Observation, v.PhenomenonTime, v.Start, v.End, v.Result, v.Flag); err != nil {
			t.Fatal(err)
		}
	}
	v4, _, _, _ := e.Take()
	m4, err := DecodeMessages(v4)
	if err != nil || len(m4) != 2 {
		t.Fatalf("version 4: %v %v", m4, err)
	}
	for i := range ms {
		x, y := *ms[i], *m4[i]
		if !x.Start.Equal(y.Start) || !x.End.Equal(y.End) || x.Observation != y.Observation || x.PhenomenonTime != y.PhenomenonTime ||
			x.Result != y.Result || x.Flag != y.Flag || x.Agreement != y.Agreement || x.ConsumerOrg != y.ConsumerOrg || x.Retention != y.Retention ||
			x.Datastream.Name != y.Datastream.Name || !bytes.Equal(x.Datastream.Location, y.Datastream.Location) {
			t.Errorf("value %d: version 3 %+v, version 4 %+v", i, ms[i], m4[i])
		}
	}
	for i, m := range ms {
		v := b.Values[i]
		if m.V != 1 || m.Provider != b.Provider || m.Agreement != b.Agreement || m.Datastream.ID != b.Datastream.ID || m.ConsumerOrg != b.ConsumerOrg ||
			m.Retention != b.Retention || m.Resolution != Raw || m.Observation != v.Observation || m.PhenomenonTime != v.PhenomenonTime ||
			!m.Start.Equal(v.Start) || !m.End.Equal(v.End) || m.Result != v.Result || m.Flag != v.Flag {
			t.Errorf("value %d: %+v", i, m)
		}
	}
	// version 3, compact: start and end left out are phenomenonTime's (an instant, an interval)
	cb := b
	cb.Values = []BatchValue{Compact(b.Values[0]), Compact(BatchValue{8, "2025-08-26T12:00:00Z/2025-08-26T13:00:00Z", at, at.Add(time.Hour), 4, 0})}
	compact, _ := json.Marshal(&cb)
	if bytes.Contains(compact, []byte(`"start"`)) || bytes.Contains(compact, []byte(`"end"`)) {
		t.Fatalf("compact batch keeps start or end: %s", compact)
	}
	if ms, err := DecodeMessages(compact); err != nil || len(ms) != 2 || !ms[0].Start.Equal(at) || !ms[0].End.Equal(at) ||
		!ms[1].Start.Equal(at) || !ms[1].End.Equal(at.Add(time.Hour)) {
		t.Fatalf("compact batch: %+v %v", ms, err)
	}
	// a text finer than the microsecond says them to the microsecond, as the store keeps them:
	// left out, and taken back truncated (before and after 1970, where truncation is a floor)
	for _, c := range []struct {
		text string
		us   time.Time
	}{
		{"2025-08-26T12:00:00.123456789Z", at.Add(123456 * time.Microsecond)},
		{"1969-12-31T23:59:59.999999999Z", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"2025-08-26T17:45:00.0000009+05:45", at},
	} {
		cv := Compact(BatchValue{9, c.text, c.us, c.us, 1, 0})
		if !cv.Start.IsZero() || !cv.End.IsZero() {
			t.Errorf("%s: start and end kept", c.text)
		}
		nb := b
		nb.Values = []BatchValue{cv}
		d, _ := json.Marshal(&nb)
		if ms, err := DecodeMessages(d); err != nil || !ms[0].Start.Equal(c.us) || !ms[0].End.Equal(c.us) {
			t.Errorf("%s: decoded %+v %v, want start and end %v", c.text, ms, err, c.us)
		}
	}
	// a text that says other instants keeps them
	if c := Compact(BatchValue{1, "2025-08-26T12:00:00.123456789Z", at.Add(123457 * time.Microsecond), at.Add(123457 * time.Microsecond), 1, 0}); c.Start.IsZero() {
		t.Errorf("a phenomenonTime of another microsecond lost its start")
	}
	if c := Compact(BatchValue{1, "2025-08-26T12:00:00Z", at, at.Add(time.Second), 1, 0}); c.Start.IsZero() {
		t.Errorf("an instant phenomenonTime with another end lost its start and end")
	}
	v2 := b
	v2.V = 2
	if d2, _ := json.Marshal(&v2); true {
		if ms, err := DecodeMessages(d2); err != nil || len(ms) != 2 {
			t.Errorf("version 2: %v %v", ms, err)
		}
	}
	one := encoderBase()
	one.Observation, one.PhenomenonTime, one.Start, one.End, one.Result = 5, "t", at, at, 3
	d1, _ := json.Marshal(&one)
	if ms, err := DecodeMessages(d1); err != nil || len(ms) != 1 || ms[0].Observation != 5 {
		t.Fatalf("version 1: %v %v", ms, err)
	}
	for name, change := range map[string]func(*Batch){
		"values: 0":                 func(b *Batch) { b.Values = nil },
		"resolution":                func(b *Batch) { b.Resolution = HourlyMean },
		"values[1].observation":     func(b *Batch) { b.Values[1].Observation = 0 },
		"values[0]: start, end":     func(b *Batch) { b.Values[0].End = b.Values[0].Start.Add(-time.Second) },
		"values[1]: phenomenonTime": func(b *Batch) { b.Values[1].PhenomenonTime = "" },
		"values[0]: provider":       func(b *Batch) { b.Provider = "a b" },
		"values: 501":               func(b *Batch) { b.Values = make([]BatchValue, MaxBatchValues+1) },
	} {
		x := b
		x.Values = append([]BatchValue(nil), b.Values...)
		change(&x)
		d, _ := json.Marshal(&x)
		if _, err := DecodeMessages(d); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, d := range map[string]string{
		"values: only in a batch":             `{"v":1,"values":[]}`,
		"values in values only":               strings.Replace(string(data), `"v":3,`, `"v":3,"result":4,`, 1),
		"not JSON":                            `{"v":2`,
		"at most":                             `"` + strings.Repeat("x", MaxMessage) + `"`,
		"v: version 5, want 1 (or 2, 3 or 4,": `{"v":5}`,
		"valueCount: only in a version-4":     `{"v":3,"valueCount":1,"values":[]}`,
		// version 3 without start and end: from phenomenonTime, which must then parse
		"values[0].phenomenonTime": strings.Replace(string(compact), `"phenomenonTime":"2025-08-26T12:00:00Z"`, `"phenomenonTime":"noon"`, 1),
		// version 2 must have them
		"values[0]: start, end": strings.Replace(string(compact), `"v":3,`, `"v":2,`, 1),
	} {
		if _, err := DecodeMessages([]byte(d)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// version 4 refused, naming what
	hl := v4[:bytes.IndexByte(v4, '\n')]
	z := v4[len(hl)+1:]
	zvals := func(s string) []byte { return zstdEncoder().EncodeAll([]byte(s), nil) }
	bomb := zstdEncoder().EncodeAll(bytes.Repeat([]byte(" "), 10*MaxMessage), nil)
	for name, d := range map[string][]byte{
		"a header line":                 hl,
		"header:":                       append([]byte(`{"v":4,"provider":`), append([]byte("\n"), z...)...),
		"values: after the header line": append(bytes.Replace(hl, []byte(`"valueCount"`), []byte(`"values":[],"valueCount"`), 1), append([]byte("\n"), z...)...),
		"valueCount: want 1 to 500":     append(bytes.Replace(hl, []byte(`"valueCount":2`), []byte(`"valueCount":501`), 1), append([]byte("\n"), z...)...),
		"valueCount: 3, but 2 values":   append(bytes.Replace(hl, []byte(`"valueCount":2`), []byte(`"valueCount":3`), 1), append([]byte("\n"), z...)...),
		"not one zstd frame":            append(append(hl, '\n'), []byte("[{}]")...),
		"more than 65536 bytes":         append(append(hl, '\n'), bomb...),
		"values: ":                      append(append(hl, '\n'), zvals(`[{"observation":"x"}]`)...),
		"values[0]: start, end":         append(append(hl, '\n'), zvals(`[{"observation":1,"phenomenonTime":"t","start":"2025-08-26T12:00:00Z","end":"2025-08-26T11:00:00Z","result":1,"flag":0},{"observation":2,"phenomenonTime":"2025-08-26T12:00:00Z","result":1,"flag":0}]`)...),
	} {
		if len(d) > MaxMessage {
			t.Fatalf("%s: the test's message is %d bytes", name, len(d))
		}
		if _, err := DecodeMessages(d); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("version 4, %s: %v", name, err)
		}
	}
}

// FuzzDecodeMessages: whatever it decodes is valid, value by value.
func FuzzDecodeMessages(f *testing.F) {
	at := time.Date(2025, 8, 26, 12, 0, 0, 0, time.UTC)
	b := batchBase()
	b.Values = []BatchValue{{7, "t", at, at, 1.5, 0}}
	data, _ := json.Marshal(&b)
	f.Add(data)
	one := encoderBase()
	one.Observation, one.PhenomenonTime, one.Start, one.End = 5, "t", at, at
	d1, _ := json.Marshal(&one)
	f.Add(d1)
	f.Add([]byte(`{"v":2,"values":[{}]}`))
	e, _ := NewBatchEncoder(b)
	_ = e.Add(7, "2025-08-26T12:00:00Z", at, at, 1.5, 0)
	_ = e.Add(8, "t", at, at, 2.5, 1)
	v4, _, _, _ := e.Take()
	f.Add(v4)
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := DecodeMessages(b)
		if err != nil {
			return
		}
		if len(ms) == 0 || len(ms) > MaxBatchValues {
			t.Fatalf("%d values", len(ms))
		}
		for _, m := range ms {
			if m.End.Before(m.Start) || m.Agreement <= 0 || m.Datastream.ID <= 0 || math.IsNaN(m.Result) || math.IsInf(m.Result, 0) || m.PhenomenonTime == "" || m.Start.IsZero() {
				t.Fatalf("decoded an invalid value: %+v", m)
			}
		}
	})
}

func encoderBase() Message {
	return Message{V: 1, Provider: "islamabad", Agreement: 7, ConsumerOrg: "ndma", Resolution: Raw, Retention: Duration(30 * 24 * time.Hour),
		Datastream: RemoteSource{ID: 3, Name: "Discharge at <Khanki> & \"Marala\"", Unit: json.RawMessage(`{ "name": "cusec", "symbol": "[cft_i]/s" }`),
			Thing: "Khanki", ObservedProperty: "Discharge", Definition: "d", Location: json.RawMessage(`{"type":"Point","coordinates":[73.97, 32.40]}`)}}
}
