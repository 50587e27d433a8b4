// Package federation is Rabta's data sharing between nodes (issue 11, docs/federation.md):
// partners (other nodes, known by their NATS nkey), and agreements under which one
// organisation of this node shares a selection of its Datastreams with an organisation of a
// partner node, at a resolution (raw, hourly mean, daily maximum), after an embargo, for a
// purpose, between valid_from and valid_until, kept by the consumer for a retention period.
//
// An agreement's life: proposed (created by an operator or admin of the providing
// organisation) → approved (by an admin of the providing organisation) → revoked (by one) or
// expired (valid_until passed). Only an approved, unexpired agreement exports anything.
//
// The package is pure domain: it validates and parses agreements (ParseAgreement), decides who
// may do what (Service), aggregates observations to an agreement's resolution (Aggregate) and
// says what one exported message holds (Message). The store (sqlq.Federation), the bus (the
// per-agreement JetStream streams and the partner's permissions) and the node (exporter,
// importer) do the rest.
package federation
