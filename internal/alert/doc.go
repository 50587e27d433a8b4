// Package alert owns the CAP 1.2 life cycle of Rabta's warnings.
//
// An Alert is one warning thread: the CAP messages issued for one rule firing, from the first
// Alert through Updates to a Cancel, linked by CAP references. Its life cycle:
//
//	         trigger                approve (approver role;
//	(none) ───────────▶ draft ─────────────────────────────▶ issued ──▶ expired
//	                      │   rule autoIssue: at once          │  ▲
//	                      │                                    │  │ escalate / de-escalate:
//	          clear before│                                    │  │ an Update draft (or issued
//	          it was ever │                                    │  │ at once with autoIssue)
//	           issued, or ▼                                    ▼  │
//	           rejected: withdrawn                   all clear / cancel: Cancel ──▶ cancelled
//
// A rule's trigger creates or changes a draft, filled from the rule: event, severity, urgency
// and certainty from the level; the area from the rule; headline, description and instruction
// from the rule's templates, one CAP <info> per language. An approver (a person with the
// approver role, of the alert's organisation — its rule's — or the node-wide admin; with "four
// eyes" on, not one of the draft's authors: whoever changed its rule or posted the value that
// decided it, see Alert.Authors) issues it; a rule marked autoIssue issues without waiting.
// Issuing builds the CAP XML (polygons simplified if needed, stale alerts refused), signs it
// with the node's key, stores it and publishes it. Every transition is recorded with who, when
// and why.
//
// Status (Actual, Exercise, Test, System) is the rule's and is carried from draft to feed.
// Operational alerts (a station gone silent) are issued with scope Restricted and never appear
// on the public feed.
package alert
