package federation

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// RawEncoder writes the messages of one agreement's raw values from one Datastream: what
// they have in common (provider, agreement, the Datastream's description, resolution,
// retention, consumer organisation) is encoded once, and each value adds only its own
// members. Its output is byte for byte what json.Marshal makes of the same Message (the
// exporter encodes thousands a second; json.Marshal re-validated the Datastream's unit and
// location for every one).
type RawEncoder struct {
	prefix, suffix []byte
	base           Message
}

// NewRawEncoder returns the encoder of messages like m (its V, Provider, Agreement,
// Datastream, Resolution, Retention and ConsumerOrg; the rest is each value's).
func NewRawEncoder(m Message) (*RawEncoder, error) {
	e := &RawEncoder{base: m}
	e.prefix = append(e.prefix, `{"v":`...)
	e.prefix = strconv.AppendInt(e.prefix, int64(m.V), 10)
	e.prefix = append(e.prefix, `,"provider":`...)
	for _, part := range []struct {
		key string
		v   any
	}{{"", m.Provider}, {`,"agreement":`, m.Agreement}, {`,"datastream":`, m.Datastream}} {
		b, err := json.Marshal(part.v)
		if err != nil {
			return nil, err
		}
		e.prefix = append(append(e.prefix, part.key...), b...)
	}
	res, err := json.Marshal(m.Resolution)
	if err != nil {
		return nil, err
	}
	e.suffix = append(append(e.suffix, `,"resolution":`...), res...)
	if m.Retention != 0 {
		b, err := json.Marshal(m.Retention)
		if err != nil {
			return nil, err
		}
		e.suffix = append(append(e.suffix, `,"retention":`...), b...)
	}
	org, err := json.Marshal(m.ConsumerOrg)
	if err != nil {
		return nil, err
	}
	e.suffix = append(append(append(e.suffix, `,"consumerOrganisation":`...), org...), '}')
	return e, nil
}

// Encode returns the message of one value: the provider's Observation id, its phenomenon time
// (as text, and as start and end), result and QC flag.
func (e *RawEncoder) Encode(obs int64, phen string, start, end time.Time, result float64, flag int) ([]byte, error) {
	if !plainTime(start) || !plainTime(end) || math.IsNaN(result) || math.IsInf(result, 0) {
		m := e.base // what json.Marshal does with these (an error, or its own spelling)
		m.Observation, m.PhenomenonTime, m.Start, m.End, m.Result, m.Flag, m.Count = obs, phen, start, end, result, flag, 0
		return json.Marshal(&m)
	}
	b := make([]byte, 0, len(e.prefix)+len(e.suffix)+160)
	b = append(b, e.prefix...)
	if obs != 0 {
		b = strconv.AppendInt(append(b, `,"observation":`...), obs, 10)
	}
	b = appendString(append(b, `,"phenomenonTime":`...), phen)
	b = append(start.AppendFormat(append(b, `,"start":"`...), time.RFC3339Nano), '"')
	b = append(end.AppendFormat(append(b, `,"end":"`...), time.RFC3339Nano), '"')
	b = appendFloat(append(b, `,"result":`...), result)
	b = strconv.AppendInt(append(b, `,"flag":`...), int64(flag), 10)
	return append(b, e.suffix...), nil
}

// plainTime reports whether json.Marshal spells t as its RFC 3339 text with nothing to refuse:
// a year of four digits, a zone offset of whole minutes within ±24 h.
func plainTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off%60 == 0 && off > -24*3600 && off < 24*3600
}

// appendString appends s as a JSON string the way encoding/json writes it: printable ASCII
// other than `"`, `\`, `<`, `>` and `&` as it is; anything else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// appendFloat appends a finite f as encoding/json writes a float64.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
