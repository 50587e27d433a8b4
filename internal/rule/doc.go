// Package rule turns observations into warning triggers. It is pure: no I/O, no clock, no
// goroutines. Every call says what time it is, so a replay of last year's monsoon and a live
// node run the same code, and tests use fixed timestamps.
//
// # Model
//
// A Rule watches one or more datastreams. Its Kind says what it computes from each one:
//
//   - Threshold: the latest value (or, for a forecast rule, the most extreme forecast value
//     within Horizon);
//   - RateOfRise: the change per hour over Window;
//   - Accumulation: the sum over Window (rain in 24 h);
//   - Silence: hours since the datastream last reported, compared with MaxGap.
//
// That value is compared with ordered Levels (e.g. the Flood Forecasting Division classes Low,
// Medium, High, Very High, Exceptionally High), each carrying its CAP severity, urgency,
// certainty and event. Direction Above means a level is reached when value ≥ level value;
// Below, when value ≤ level value. Each datastream gets a level with hysteresis: once at level
// i, it stays there until the value goes back past value_i − margin (value_i + margin for
// Below), where the margin is absolute or a percentage (Rule.Hysteresis). So a river hovering
// at a class boundary does not flap.
//
// Several datastreams combine by Aggregate: Any (the highest datastream level), All (the
// lowest: every one must reach it) or Count (the highest level at least Count datastreams
// reach). In general the rule's condition level is the k-th highest datastream level.
//
// A Forecast rule reads forecast observations (Obs.Forecast) — values for future times —
// instead of measurements, evaluates the same conditions ahead of now, and puts the lead time
// (forecast time − now) in its triggers.
//
// # State machine
//
// Like a Prometheus alerting rule, each rule is Inactive, Pending or Firing:
//
//	          condition ≥ level L            held for Hold
//	Inactive ───────────────────▶ Pending ──────────────────▶ Firing(L)  → Fire trigger
//	    ▲                            │ condition gone           │   ▲ higher level held for Hold → Escalate
//	    └────────────────────────────┘                          │   │ level unmet for ClearHold   → DeEscalate
//	    ◀───────────────────────────────────────────────────────┘
//	                 no level met for ClearHold → Clear trigger
//
// Precisely: for each level i the engine records UpSince[i], since when the condition level
// has been ≥ i without a break, and DownSince[i], since when it has been < i. At each
// evaluation the announced level becomes the higher of
//
//   - the highest level held for at least Hold (now − UpSince[i] ≥ Hold), and
//   - the highest level at or below the announced one that is still met, or unmet for less
//     than ClearHold.
//
// A change of the announced level is a Trigger: Fire (from none), Escalate, DeEscalate, Clear
// (to none), or Operational for every change of an operational rule (Silence rules and rules
// with Operational set, whose triggers go to operators, never to the public). Pending raises
// no trigger. With Hold = 0 a rule fires on the observation that meets the condition; a level
// that is passed through within the hold is never announced. An escalation must hold for
// Hold too; a de-escalation to a level that is still met is immediate unless ClearHold is set.
//
// # Time
//
// Observe(now, o) stores o and evaluates the rules that read o's datastream; Tick(now)
// evaluates every rule, for what changes with time alone (a hold expiring, a window sliding, a
// forecast coming closer, a datastream falling silent). Windows end at now: an observed
// Accumulation sums values with phenomenon time in (now − Window, now]. The engine's time
// never goes back: a now earlier than one already seen is taken as the latest one.
//
// # Quality flags
//
// Observations flagged bad by QC (Obs.Flag FlagBad, or any unknown flag, or a value that is
// NaN or infinite) never change a level. Suspect ones do, unless the rule says IgnoreSuspect.
// For Silence rules every observation counts as a report: silence watches the link, QC
// watches the sensor.
//
// # Out-of-order observations
//
// Values are kept in phenomenon-time order. A value for a time already held replaces it (a
// correction). An observed Threshold rule uses the newest value: a late, older value is
// ignored, so it cannot drag the level back. Window rules insert a late value if it still
// falls within the window (the sum then includes it). Forecast values for times already past
// are ignored. Triggers carry the evaluation time (At) and the phenomenon time of the deciding
// value (ObservedAt).
//
// # Persistence
//
// Engine.Snapshot returns the whole state as a JSON-able Snapshot; Engine.Restore loads it
// into an engine, matching rules by ID, so a restarted node neither forgets a hold nor fires
// again. Rules are written as YAML (ParseYAML) with errors positioned as file:line:col and the
// field path; see docs/rules.md.
package rule
