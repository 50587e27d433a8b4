// Package warning is the warning engine: it takes accepted observations (from the bus), runs
// them through the rules (package rule) and hands each trigger to the alert life cycle
// (package alert). It keeps the rule engine's state in the store, so that levels, hold timers
// and hysteresis survive a restart.
//
// Rules are applied as a whole (Apply: every rule valid, templates that render, distinct ids,
// a datastream read either as observations or as a forecast, never both) and stored; a Runner
// Loads them when their version changes, keeping the state of rules that did not change.
// Handle takes one bus batch of accepted observations under the store's "warning" lock, first
// taking up the engine state another process of the node saved (several processes may share a
// store and split the bus's messages), feeds each numeric value to the rule engine with its
// QC flag, and hands the triggers (fire, escalate, de-escalate, clear) to the alert service,
// which drafts or issues CAP. Tick does what time alone decides (hold timers, silence rules,
// alert expiry). Save persists the engine's snapshot when it changed, after each batch and
// tick and at shutdown, so that a restart neither forgets a pending level nor fires again.
package warning
