package sensing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ObsBatchVersion is the version of the ObsBatch payload; consumers refuse versions they do not know.
const ObsBatchVersion = 1

// ObsBatch is the bus message for a batch of accepted observations of one datastream — or of
// one MultiDatastream (OGC 18-088 §9): then Datastream is 0, MultiDatastream its id, and each
// result an array — as the outbox relay publishes it. Observations carry their store ids, so a
// consumer that sees a batch twice (after a crash) can tell.
type ObsBatch struct {
	V               int       `json:"v"`
	Node            string    `json:"node,omitempty"`
	Datastream      int64     `json:"datastream"`
	MultiDatastream int64     `json:"multiDatastream,omitempty"`
	Accepted        time.Time `json:"accepted"` // when the store committed the batch
	// By names the API key that posted the batch, "<organisation>/key-<id>"
	// (auth.Principal.Name); empty when no key did (a CLI import, MQTT). The warning engine
	// counts it among the authors of the drafts the values decide (four eyes).
	By  string    `json:"by,omitempty"`
	Obs []ObsItem `json:"obs"`
}

// ObsItem is one observation in an ObsBatch.
type ObsItem struct {
	ID             int64           `json:"id"`
	PhenomenonTime string          `json:"phenomenonTime"` // as the client sent it
	Start          time.Time       `json:"start"`
	End            time.Time       `json:"end"`
	ResultTime     string          `json:"resultTime,omitempty"`
	Result         json.RawMessage `json:"result"`
	Flag           Flag            `json:"flag"`
	Quality        json.RawMessage `json:"resultQuality,omitempty"`
	FoI            int64           `json:"foi,omitempty"`
	Parameters     json.RawMessage `json:"parameters,omitempty"`
	// Num is the result when IsNum: set by the store for a numeric result and by the compact
	// payload's decoder (Result holds the same number as JSON). Not part of the JSON form.
	Num   float64 `json:"-"`
	IsNum bool    `json:"-"`
}

// Item returns the bus form of a stored observation.
func (o *Observation) Item() ObsItem {
	it := ObsItem{ID: o.ID, PhenomenonTime: o.PhenText, Start: o.PhenStart.UTC(), End: o.PhenEnd.UTC(), ResultTime: o.ResultTimeText,
		Flag: o.Flag, Quality: o.Quality, FoI: o.FoIID, Parameters: o.Parameters}
	if o.ResultNum != nil {
		it.Result, _ = json.Marshal(*o.ResultNum)
	} else {
		it.Result = o.ResultJSON
	}
	return it
}

// Number returns the result as a number, if it is one.
func (it *ObsItem) Number() (float64, bool) {
	if it.IsNum {
		return it.Num, true
	}
	var f float64
	if err := json.Unmarshal(it.Result, &f); err != nil {
		return 0, false
	}
	return f, true
}

// DecodeObsBatch decodes and checks a bus payload: the compact form (AppendBinary, first byte
// ObsBatchBinary) or the JSON form of version 1 (AppendJSON, first byte '{'). Errors name what
// is wrong; a batch names one datastream or one MultiDatastream.
func DecodeObsBatch(b []byte) (*ObsBatch, error) {
	return decodeObsBatch(b, true)
}

// DecodeObsValues is DecodeObsBatch for consumers that read only the header and each item's
// id, start, end, flag and numeric result (Num and IsNum, or Number): on the compact form it
// leaves out, unread, the text fields (phenomenonTime and resultTime as sent, non-numeric
// results, resultQuality, foi, parameters), and Result stays nil for numbers too (no JSON
// text is made per number). On the JSON form it decodes all.
func DecodeObsValues(b []byte) (*ObsBatch, error) {
	return decodeObsBatch(b, false)
}

func decodeObsBatch(b []byte, text bool) (*ObsBatch, error) {
	if len(b) > 0 && b[0] == ObsBatchBinary {
		m, err := decodeBinary(b, text)
		if err != nil {
			return nil, err
		}
		if m.Datastream < 0 || m.MultiDatastream < 0 || (m.Datastream > 0) == (m.MultiDatastream > 0) {
			return nil, fmt.Errorf("observation batch: want one datastream or one MultiDatastream")
		}
		return m, nil
	}
	var m ObsBatch
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("observation batch: %w", err)
	}
	if m.V != ObsBatchVersion {
		return nil, fmt.Errorf("observation batch: version %d, want %d", m.V, ObsBatchVersion)
	}
	if m.Datastream < 0 || m.MultiDatastream < 0 || (m.Datastream > 0) == (m.MultiDatastream > 0) {
		return nil, fmt.Errorf("observation batch: want one datastream or one MultiDatastream")
	}
	return &m, nil
}

// AppendJSON appends b's JSON to dst without reflection: the relay encodes every accepted
// observation once more for the bus, on the ingest machine's CPU. The output is what
// json.Marshal gives for ObsBatch, up to the escaping of <, > and & inside raw JSON values (a
// test checks the values are equal).
func (b *ObsBatch) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(b.V), 10)
	if b.Node != "" {
		dst = append(dst, `,"node":`...)
		dst = appendString(dst, b.Node) // JSON escapes, not Go's strconv.Quote (\x7f is not JSON)
	}
	dst = append(dst, `,"datastream":`...)
	dst = strconv.AppendInt(dst, b.Datastream, 10)
	if b.MultiDatastream != 0 {
		dst = append(dst, `,"multiDatastream":`...)
		dst = strconv.AppendInt(dst, b.MultiDatastream, 10)
	}
	dst = append(dst, `,"accepted":"`...)
	dst = b.Accepted.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if b.By != "" {
		dst = append(dst, `,"by":`...)
		dst = appendString(dst, b.By)
	}
	dst = append(dst, `,"obs":`...)
	if b.Obs == nil {
		return append(dst, "null}"...)
	}
	dst = append(dst, '[')
	for i := range b.Obs {
		if i > 0 {
			dst = append(dst, ',')
		}
		it := &b.Obs[i]
		dst = append(dst, `{"id":`...)
		dst = strconv.AppendInt(dst, it.ID, 10)
		dst = append(dst, `,"phenomenonTime":`...)
		dst = appendString(dst, it.PhenomenonTime)
		dst = append(dst, `,"start":"`...)
		dst = it.Start.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","end":"`...)
		dst = it.End.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
		if it.ResultTime != "" {
			dst = append(dst, `,"resultTime":`...)
			dst = appendString(dst, it.ResultTime)
		}
		dst = append(dst, `,"result":`...)
		dst = appendRaw(dst, it.Result)
		dst = append(dst, `,"flag":"`...)
		dst = append(dst, it.Flag.String()...)
		dst = append(dst, '"')
		if len(it.Quality) > 0 {
			dst = append(dst, `,"resultQuality":`...)
			dst = appendRaw(dst, it.Quality)
		}
		if it.FoI != 0 {
			dst = append(dst, `,"foi":`...)
			dst = strconv.AppendInt(dst, it.FoI, 10)
		}
		if len(it.Parameters) > 0 {
			dst = append(dst, `,"parameters":`...)
			dst = appendRaw(dst, it.Parameters)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendRaw appends stored JSON, compacted as json.Marshal would.
func appendRaw(dst []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(dst, "null"...)
	}
	return append(dst, buf.Bytes()...)
}

// appendString appends s as a JSON string, escaped as json.Marshal does.
func appendString(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}
