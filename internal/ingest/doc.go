// Package ingest is the one way observations enter a node, whatever path they arrive by
// (SensorThings JSON, dataArray, CSV import, MQTT, the demo replay): it runs quality control
// on each one (QC, a sensing.Checker the store calls inside its transaction, so the flag is
// stored with the observation), hands the batch to the store, and counts what was accepted
// and rejected and why.
//
// The life of an observation: a surface decodes it (malformed input is counted with Reject
// and answered at once), then Service.Ingest hands the batch to the Store, which runs the QC
// Checker on each item inside its transaction and commits the accepted ones together with an
// outbox entry, so the relay publishes them on the bus (and the warning engine sees them) only
// once they are durable. An item the store refuses (its datastream does not exist, or the Checker refuses it) gets its own
// error at its index and the rest are stored; only a failure of the store itself fails the
// batch. Sources that may deliver twice (MQTT QoS 1 after a crash, a re-imported file) use
// IngestAgain, which leaves out an observation identical to a stored one (Duplicate) without
// counting it as rejected.
//
// QC keeps per-datastream state (the recent values the spike, rate and flat-line checks need)
// in the store's datastream cache, rebuilt from the latest stored values after a restart;
// ConfigFor gives a datastream's effective QC configuration.
package ingest
