package sensing

import "encoding/json"

// Stored returns o, as the ingest path has just stored it (ID, FeatureOfInterest and QC flag
// set), in the form a store's read gives an Observation (package sqlq, read.go): the
// properties phenomenonTime, resultTime, result (a float64 for a number, the JSON text
// otherwise), resultQuality (o.Quality, or {"flag":"…"} from the QC flag), validTime and
// parameters, nil where absent, and the Datastream's id under DatastreamIDProp (or the
// MultiDatastream's under MultiDatastreamIDProp). A 201 answer is built from it instead of
// reading the row back.
func (o *Observation) Stored() *Entity {
	e := &Entity{Set: Observations, ID: o.ID, Props: make(map[string]any, 8)}
	e.Props["phenomenonTime"] = o.PhenText
	e.Props["resultTime"] = textOrNil(o.ResultTimeText)
	switch {
	case o.ResultNum != nil:
		e.Props["result"] = *o.ResultNum
	case len(o.ResultJSON) > 0:
		e.Props["result"] = json.RawMessage(o.ResultJSON)
	default:
		e.Props["result"] = nil
	}
	if len(o.Quality) > 0 {
		e.Props["resultQuality"] = json.RawMessage(o.Quality)
	} else {
		e.Props["resultQuality"] = json.RawMessage(`{"flag":"` + o.Flag.String() + `"}`)
	}
	e.Props["validTime"] = textOrNil(o.ValidText)
	if len(o.Parameters) > 0 {
		e.Props["parameters"] = json.RawMessage(o.Parameters)
	} else {
		e.Props["parameters"] = nil
	}
	if o.MultiDatastreamID != 0 {
		e.Props[MultiDatastreamIDProp] = o.MultiDatastreamID
	} else {
		e.Props[DatastreamIDProp] = o.DatastreamID
	}
	return e
}

func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
