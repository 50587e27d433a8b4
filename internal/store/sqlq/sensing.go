package sqlq

import "github.com/rabta/rabta/internal/sensing"

func str(col string) Column    { return Column{Col: col, Kind: sensing.KindString} }
func js(col string) Column     { return Column{Col: col, Kind: sensing.KindJSON} }
func geoCol(col string) Column { return Column{Col: col, Kind: sensing.KindGeometry} }

var idCol = Column{Col: "id", Kind: sensing.KindID}

// Sensing maps the SensorThings data model onto the tables both stores create (the same
// names in internal/store/sqlite/migrations and internal/store/postgres/migrations).
var Sensing = Schema{
	sensing.Things: {Name: "things",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"), "properties": js("properties")},
		Links: map[string]Link{
			"Locations":           {Target: sensing.Locations, Many: true, Via: &Via{Table: "thing_locations", LocalCol: "thing_id", RemoteCol: "location_id"}},
			"HistoricalLocations": {Target: sensing.HistoricalLocations, Many: true, RemoteFK: "thing_id"},
			"Datastreams":         {Target: sensing.Datastreams, Many: true, RemoteFK: "thing_id"},
			"MultiDatastreams":    {Target: sensing.MultiDatastreams, Many: true, RemoteFK: "thing_id"},
		}},
	sensing.Locations: {Name: "locations",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"), "encodingType": str("encoding_type"), "location": geoCol("location"), "properties": js("properties")},
		Links: map[string]Link{
			"Things":              {Target: sensing.Things, Many: true, Via: &Via{Table: "thing_locations", LocalCol: "location_id", RemoteCol: "thing_id"}},
			"HistoricalLocations": {Target: sensing.HistoricalLocations, Many: true, Via: &Via{Table: "historical_location_locations", LocalCol: "location_id", RemoteCol: "historical_location_id"}},
		}},
	sensing.HistoricalLocations: {Name: "historical_locations",
		Columns: map[string]Column{"id": idCol, "time": {Col: "time_us", Kind: sensing.KindTime}},
		Links: map[string]Link{
			"Thing":     {Target: sensing.Things, LocalFK: "thing_id"},
			"Locations": {Target: sensing.Locations, Many: true, Via: &Via{Table: "historical_location_locations", LocalCol: "historical_location_id", RemoteCol: "location_id"}},
		}},
	sensing.Datastreams: {Name: "datastreams",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"), "unitOfMeasurement": js("unit_of_measurement"),
			"observationType": str("observation_type"), "observedArea": geoCol("observed_area"),
			"phenomenonTime": {Col: "phenomenon_time_start", End: "phenomenon_time_end", Kind: sensing.KindInterval},
			"resultTime":     {Col: "result_time_start", End: "result_time_end", Kind: sensing.KindInterval},
			"properties":     js("properties")},
		Links: map[string]Link{
			"Thing":            {Target: sensing.Things, LocalFK: "thing_id"},
			"Sensor":           {Target: sensing.Sensors, LocalFK: "sensor_id"},
			"ObservedProperty": {Target: sensing.ObservedProperties, LocalFK: "observed_property_id"},
			"Observations":     {Target: sensing.Observations, Many: true, RemoteFK: "datastream_id"},
		}},
	sensing.Sensors: {Name: "sensors",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"), "encodingType": str("encoding_type"), "metadata": js("metadata"), "properties": js("properties")},
		Links: map[string]Link{
			"Datastreams":      {Target: sensing.Datastreams, Many: true, RemoteFK: "sensor_id"},
			"MultiDatastreams": {Target: sensing.MultiDatastreams, Many: true, RemoteFK: "sensor_id"},
		}},
	sensing.ObservedProperties: {Name: "observed_properties",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "definition": str("definition"), "description": str("description"), "properties": js("properties")},
		Links: map[string]Link{
			"Datastreams":      {Target: sensing.Datastreams, Many: true, RemoteFK: "observed_property_id"},
			"MultiDatastreams": {Target: sensing.MultiDatastreams, Many: true, Via: multiObservedProperties.reverse()},
		}},
	sensing.Observations: {Name: "observations",
		Columns: map[string]Column{"id": idCol,
			"phenomenonTime": {Col: "phen_start", End: "phen_end", Kind: sensing.KindInterval, NotNull: true},
			"resultTime":     {Col: "result_time_us", Kind: sensing.KindTime},
			"result":         {Col: "result_num", Text: "result_json", Kind: sensing.KindResult},
			"resultQuality":  js("result_quality"),
			"validTime":      {Col: "valid_start", End: "valid_end", Kind: sensing.KindInterval},
			"parameters":     js("parameters")},
		Links: map[string]Link{
			"Datastream":        {Target: sensing.Datastreams, LocalFK: "datastream_id"},
			"MultiDatastream":   {Target: sensing.MultiDatastreams, LocalFK: "multi_datastream_id"},
			"FeatureOfInterest": {Target: sensing.FeaturesOfInterest, LocalFK: "foi_id"},
		}},
	sensing.FeaturesOfInterest: {Name: "features_of_interest",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"), "encodingType": str("encoding_type"), "feature": geoCol("feature"), "properties": js("properties")},
		Links: map[string]Link{
			"Observations": {Target: sensing.Observations, Many: true, RemoteFK: "foi_id"},
		}},
	sensing.MultiDatastreams: {Name: "multi_datastreams",
		Columns: map[string]Column{"id": idCol, "name": str("name"), "description": str("description"),
			"unitOfMeasurements": js("unit_of_measurements"), "observationType": str("observation_type"),
			"multiObservationDataTypes": js("multi_observation_data_types"), "observedArea": geoCol("observed_area"),
			"phenomenonTime": {Col: "phenomenon_time_start", End: "phenomenon_time_end", Kind: sensing.KindInterval},
			"resultTime":     {Col: "result_time_start", End: "result_time_end", Kind: sensing.KindInterval},
			"properties":     js("properties")},
		Links: map[string]Link{
			"Thing":              {Target: sensing.Things, LocalFK: "thing_id"},
			"Sensor":             {Target: sensing.Sensors, LocalFK: "sensor_id"},
			"ObservedProperties": {Target: sensing.ObservedProperties, Many: true, Via: &multiObservedProperties},
			"Observations":       {Target: sensing.Observations, Many: true, RemoteFK: "multi_datastream_id"},
		}},
}

// multiObservedProperties links a MultiDatastream to its ObservedProperties in rank order.
var multiObservedProperties = Via{Table: "multi_datastream_observed_properties", LocalCol: "multi_datastream_id", RemoteCol: "observed_property_id", Rank: "rank"}

// reverse returns the link table seen from the other side: the same table, the columns
// swapped, and no order (an ObservedProperty's MultiDatastreams are not ranked).
func (v Via) reverse() *Via {
	return &Via{Table: v.Table, LocalCol: v.RemoteCol, RemoteCol: v.LocalCol}
}
