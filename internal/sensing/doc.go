// Package sensing is the SensorThings data model and what Rabta does with observations before
// any store or surface sees them. It is pure: no SQL, no HTTP, no bus.
//
// The model is the eight entity sets of OGC SensorThings 1.1 (Sets: Things, Locations,
// HistoricalLocations, Datastreams, Sensors, ObservedProperties, Observations,
// FeaturesOfInterest) and the MultiDatastream extension's MultiDatastreams (whose Observations
// have an array result, one value per ObservedProperty: MultiShape and MultiResult hold them to
// it), each an EntitySet of typed properties and navigation links. An Entity is
// one of them as a surface decoded it or a store read it, with links to create inline or to
// reference by id (deep insert); an Observation is the typed form of the one entity that
// arrives in bulk. A Query asks a store for an entity or a page of a collection with the OData
// options (package odata); a Page carries a keyset Cursor, so pages neither shift nor change
// their count while data arrives.
//
// Times are kept as the client wrote them next to the instants they mean: ParseTimeOrInterval
// accepts RFC 3339 instants and intervals and refuses anything without an offset, and
// ParseDuration reads ISO 8601 durations.
//
// Quality control is a pure function of a datastream's configuration and its recent values:
// DefaultQC gives limits for an observed property and unit, a datastream's properties.qc
// overrides them (ParseQCOverride, Merge), and QCState.Check flags each value good, suspect or
// bad with the checks that fired (range, rate of change, spike against the recent median, flat
// line, gap, order). Nothing is dropped: the flag is stored with the observation. A Checker
// (package ingest provides it) runs inside the store's transaction; Silent lists datastreams
// that stopped reporting.
//
// Observations also enter as CSV (CSVReader: the generic layout or the PDMA report layout, a
// RowError per bad row, bounded memory) and leave on the bus as an ObsBatch, the versioned
// payload the outbox relay publishes in its compact binary form (AppendBinary, version 2;
// the JSON form of version 1, AppendJSON, is still read) and every consumer reads
// (DecodeObsBatch, or DecodeObsValues for ids, times, flags and numbers only).
package sensing
