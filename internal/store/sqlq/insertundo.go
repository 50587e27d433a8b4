package sqlq

import "github.com/rabta/rabta/internal/sensing"

// insertChanges are the fields of a batch's Observations that insert sets — the id, the
// FeatureOfInterest, the QC flag and resultQuality — as they were before it: ingestAlone
// puts them back after a failed transaction instead of inserting a copy of the batch (a copy
// of 10,000 Observations is 2.4 MB, live for the whole transaction; docs/bench.md, footprint).
type insertChanges []obsFields

type obsFields struct {
	id, foi int64
	flag    sensing.Flag
	quality []byte
}

func saveInsertChanges(obs []sensing.Observation) insertChanges {
	out := make(insertChanges, len(obs))
	for i := range obs {
		o := &obs[i]
		out[i] = obsFields{o.ID, o.FoIID, o.Flag, o.Quality}
	}
	return out
}

func (c insertChanges) restore(obs []sensing.Observation) {
	for i := range obs {
		o := &obs[i]
		o.ID, o.FoIID, o.Flag, o.Quality = c[i].id, c[i].foi, c[i].flag, c[i].quality
	}
}
