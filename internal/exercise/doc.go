// Package exercise replays stored history through a whole, isolated Rabta node so that
// operators can train on real past floods (rabta exercise run; docs/exercise.md).
//
// A History (Demo: the embedded PDMA gauges with the demo's rules and river network; Remote: a
// running node's Things, Datastreams, Observations in the window, rules and network) is fed to
// a fresh node (node.New) in a workspace directory, through the node's own HTTP API as a
// logger and an operator would: entities by SensorThings deep insert, readings by
// CreateObservations, the network by PUT /api/v1/forecast/network, the rules by PUT
// /api/v1/rules with status forced to Exercise, the recipients by the subscribers import.
// The node's clock is the exercise Clock: N times the wall clock, or, at maximum speed, moved
// to each reading's time, the warning engine ticked there and the node left to settle
// (node.Settled) before the next step, so that such a run is deterministic. A simulated
// approver (Options.ApproveAfter) approves drafts through the alerts API. Nothing reaches
// anyone but the recipients file's subscribers in the "exercise" audience: the node is new,
// its alerts are Exercise, and SMS and e-mail go to a sink file in the workspace.
//
// Afterwards Run collects what the node did (alerts and their transitions, deliveries from
// the sink, forecasts) into a Report — stations with their flood-class crossings, alerts with
// first sign → draft → approval → delivery, missed crossings and drafts never approved, a
// timeline — and writes report.json, report.md and a hydrograph (SVG) per station.
package exercise
