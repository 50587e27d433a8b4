package federation

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func encoderBase() Message {
	return Message{V: 1, Provider: "islamabad", Agreement: 7, ConsumerOrg: "ndma", Resolution: Raw, Retention: Duration(30 * 24 * time.Hour),
		Datastream: RemoteSource{ID: 3, Name: "Discharge at <Khanki> & \"Marala\"", Unit: json.RawMessage(`{ "name": "cusec", "symbol": "[cft_i]/s" }`),
			Thing: "Khanki", ObservedProperty: "Discharge", Definition: "d", Location: json.RawMessage(`{"type":"Point","coordinates":[73.97, 32.40]}`)}}
}

// checkEncode compares the encoder's message with json.Marshal's for one value.
func checkEncode(t *testing.T, base Message, obs int64, phen string, start, end time.Time, result float64, flag int) {
	t.Helper()
	e, err := NewRawEncoder(base)
	if err != nil {
		t.Fatal(err)
	}
	got, gerr := e.Encode(obs, phen, start, end, result, flag)
	m := base
	m.Observation, m.PhenomenonTime, m.Start, m.End, m.Result, m.Flag = obs, phen, start, end, result, flag
	want, werr := json.Marshal(&m)
	if (gerr != nil) != (werr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("encode %d %q %v %v %v %d:\n got %s (%v)\nwant %s (%v)", obs, phen, start, end, result, flag, got, gerr, want, werr)
	}
}

// TestRawEncoder: the encoder's bytes are json.Marshal's, for ordinary and awkward values
// (floats in exponent form, strings json escapes, zones, no retention, no location, id 0,
// NaN refused as json.Marshal refuses it).
func TestRawEncoder(t *testing.T) {
	at := time.Date(2025, 8, 26, 12, 0, 0, 123456789, time.UTC)
	pk := time.FixedZone("PKT", 5*3600)
	bare := encoderBase()
	bare.Retention, bare.Datastream.Location = 0, nil
	for _, c := range []struct {
		base   Message
		obs    int64
		phen   string
		start  time.Time
		result float64
	}{
		{encoderBase(), 42, "2025-08-26T12:00:00Z", at, 1001480},
		{encoderBase(), 1, "2025-08-26T17:00:00+05:00", at.In(pk), -0.000000123},
		{bare, 0, "2025-08-26T12:00:00Z/2025-08-26T13:00:00Z", at, 1e21},
		{encoderBase(), 9, "x<y>&\"\\\u00e9\n", at, 1.5e-7},
		{encoderBase(), 9, "t", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{encoderBase(), 9, "t", at, math.NaN()},
		{encoderBase(), 9, "t", at, 123456789.125},
	} {
		checkEncode(t, c.base, c.obs, c.phen, c.start, c.start.Add(time.Minute), c.result, 3)
	}
}

// FuzzRawEncoder: for any value, the encoder's bytes are json.Marshal's.
func FuzzRawEncoder(f *testing.F) {
	f.Add(int64(42), "2025-08-26T12:00:00Z", int64(1756209600123456), 1001480.0, 0)
	f.Add(int64(0), "<&>", int64(-62135596800000000), 1e-7, -1)
	f.Add(int64(-5), "\xff", int64(253402300800000000), -1e300, 7)
	f.Fuzz(func(t *testing.T, obs int64, phen string, startUS int64, result float64, flag int) {
		start := time.UnixMicro(startUS).UTC()
		checkEncode(t, encoderBase(), obs, phen, start, start, result, flag)
	})
}
