package demo

import (
	"time"
)

// Station is a place that carries sensors: a river gauge, a weather station,
// an air-quality monitor (a SensorThings Thing with its Location).
type Station struct {
	// Key is stable and unique in a Dataset, e.g. "pdma-khanki".
	Key string
	// Name is the human name, e.g. "Khanki Headworks".
	Name        string
	Description string
	// Lat and Lon are WGS84 decimal degrees.
	Lat, Lon float64
	// Approx is true when the position is not the instrument's own but a
	// nearby reference (a town centre, a district seat, a village).
	Approx bool
	// Source says where Lat/Lon come from (a URL or dataset and row).
	Source string
	// Properties holds extra facts: "river", "structure", "city",
	// "country" (ISO 3166 alpha-2), "operator", "network", ...
	Properties map[string]any
}

// Unit is a unit of measurement as SensorThings expects it.
type Unit struct {
	// Name is a human name, e.g. "cubic foot per second (cusec)".
	Name string
	// Symbol is the UCUM code, e.g. "[cft_i]/s".
	Symbol string
	// Definition is a URI for the unit.
	Definition string
}

// Series is one observed property at one station in one unit (a
// SensorThings Datastream with its ObservedProperty), with its observations.
type Series struct {
	// StationKey is the Key of the Station that carries the series.
	StationKey string
	// Key is stable and unique in a Dataset, e.g. "pdma-khanki/discharge".
	Key               string
	Name, Description string
	// ObservedProperty is the property's name, e.g. "Discharge";
	// Definition is its URI.
	ObservedProperty string
	Definition       string
	Unit             Unit
	// ObservationType is the O&M observation type URI (OMMeasurement).
	ObservationType string
	// Properties holds extra facts, e.g. "floodClasses" (map[string]float64
	// in the series' unit) or "normals" (map "YYYY-MM" → value).
	Properties map[string]any
	// Split is the original instant a Replay maps to its start; see the
	// package documentation.
	Split time.Time
	// Obs are the observations, sorted by time, strictly increasing.
	Obs []Obs
}

// Obs is one observation: a phenomenon time and a numeric result.
type Obs struct {
	Time  time.Time
	Value float64
}

// Dataset is everything the demo seeds: stations and their series.
type Dataset struct {
	Stations []Station
	Series   []Series
}

// Station returns the station with the given key, or nil.
func (ds *Dataset) Station(key string) *Station {
	for i := range ds.Stations {
		if ds.Stations[i].Key == key {
			return &ds.Stations[i]
		}
	}
	return nil
}

// SeriesByKey returns the series with the given key, or nil.
func (ds *Dataset) SeriesByKey(key string) *Series {
	for i := range ds.Series {
		if ds.Series[i].Key == key {
			return &ds.Series[i]
		}
	}
	return nil
}

// OMMeasurement is the O&M observation type of every demo series: a numeric
// result with a unit.
const OMMeasurement = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"

// Time zones of the sources. Fixed offsets: Pakistan and China keep no
// daylight saving time in the periods covered.
var (
	// PKT is Pakistan Standard Time, UTC+05:00.
	PKT = time.FixedZone("PKT", 5*60*60)
	// CST is China Standard Time (Beijing), UTC+08:00.
	CST = time.FixedZone("CST", 8*60*60)
)

// Split instants of the series families (see the package documentation).
var (
	// GaugeSplit is 2025-08-10 12:00 PKT, two days before the Chenab starts
	// to rise in mid-August 2025; the Khanki peak (27 Aug 13:00 PKT) comes
	// 409 hours of data later, 102 s after start at DefaultSpeed.
	GaugeSplit = time.Date(2025, 8, 10, 12, 0, 0, 0, PKT)
	// ClimateSplit is 2021-01-01 00:00 PKT: Aug–Dec 2020 is history and a
	// new month arrives every 186 s (31 days) at DefaultSpeed.
	ClimateSplit = time.Date(2021, 1, 1, 0, 0, 0, 0, PKT)
	// AirSplit is 2016-12-14 00:00 CST, three days before the December
	// 2016 smog episode (PM2.5 above 300 µg/m³ on 17–21 Dec).
	AirSplit = time.Date(2016, 12, 14, 0, 0, 0, 0, CST)
	// EmbassySplit is 2014-10-06 00:00 CST, two days before the October
	// 2014 episode at the US Embassy (PM2.5 above 300 µg/m³ on 8–10 Oct).
	EmbassySplit = time.Date(2014, 10, 6, 0, 0, 0, 0, CST)
)

// DefaultSpeed is 14,400: four hours of data per wall-clock second. It is
// the slowest round speed at which each family shows its story within a
// couple of minutes: the Khanki flood peak after 102 s, a new PMD month
// every ~3 min, the Beijing smog episodes after 12–18 s, while hourly air
// data still arrives at a readable four values per second per series. The
// 2025 monsoon record then plays in about 4 minutes and Beijing's winter in
// about 7; the 2026 gauge reports start after about 31 minutes.
const DefaultSpeed = 4 * 3600.0

// DefaultHistory is the backfill window in original time: 62 days, which
// covers every 2025 gauge report before GaugeSplit (from 5 Jul), the two PMD
// months before ClimateSplit (Nov and Dec 2020) and about two months of
// hourly Beijing data.
const DefaultHistory = 62 * 24 * time.Hour
