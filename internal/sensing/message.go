package sensing

import (
	"encoding/json"
	"fmt"
	"time"
)

// ObsBatchVersion is the version of the ObsBatch payload; consumers refuse versions they do not know.
const ObsBatchVersion = 1

// ObsBatch is the bus message for a batch of accepted observations of one datastream, as the
// outbox relay publishes it. Observations carry their store ids, so a consumer that sees a
// batch twice (after a crash) can tell.
type ObsBatch struct {
	V          int       `json:"v"`
	Node       string    `json:"node,omitempty"`
	Datastream int64     `json:"datastream"`
	Accepted   time.Time `json:"accepted"` // when the store committed the batch
	Obs        []ObsItem `json:"obs"`
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
	var f float64
	if err := json.Unmarshal(it.Result, &f); err != nil {
		return 0, false
	}
	return f, true
}

// DecodeObsBatch decodes and checks a bus payload.
func DecodeObsBatch(b []byte) (*ObsBatch, error) {
	var m ObsBatch
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("observation batch: %w", err)
	}
	if m.V != ObsBatchVersion {
		return nil, fmt.Errorf("observation batch: version %d, want %d", m.V, ObsBatchVersion)
	}
	if m.Datastream <= 0 {
		return nil, fmt.Errorf("observation batch: no datastream")
	}
	return &m, nil
}
