package warning

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
)

// Store keeps the applied rules, who changed them, and the engine's state.
type Store interface {
	// SaveRules replaces organisation org's rules with rules (all at once, or none; other
	// organisations' rules stay) and records a Change by by for every rule created, changed
	// (its body differs) or removed. A rule id another organisation's rule has is a Conflict.
	SaveRules(ctx context.Context, org, by string, rules []rule.Rule) error
	// LoadRules returns every organisation's rules, each with its Organisation, and a version
	// that changes whenever they do.
	LoadRules(ctx context.Context) ([]rule.Rule, int64, error)
	// RulesVersion returns the version LoadRules would return, without reading the rules: a
	// cheap read, for a poll that notices rules saved by another process.
	RulesVersion(ctx context.Context) (int64, error)
	// RuleChanges returns the recorded changes of a rule, oldest first.
	RuleChanges(ctx context.Context, ruleID string) ([]Change, error)
	SaveEngineState(ctx context.Context, snapshot []byte) error
	LoadEngineState(ctx context.Context) ([]byte, error)
	// EngineStateVersion changes with every save, by any process sharing the store.
	EngineStateVersion(ctx context.Context) (int64, error)
	// WithLock runs fn holding a lock shared by every process of the node.
	WithLock(ctx context.Context, name string, fn func(context.Context) error) error
}

// Change is one recorded change of a rule: who (auth.Principal.Name, or "cli/<user>" for the
// command line) created, changed or removed it, for which organisation, and when.
type Change struct {
	RuleID       string    `json:"rule"`
	Organisation string    `json:"organisation"`
	By           string    `json:"by"`
	Change       string    `json:"change"` // created, changed or removed
	At           time.Time `json:"at"`
}

// MaxOrganisation is the longest organisation name rules may be applied for, in bytes.
const MaxOrganisation = 64

// CheckOrganisation refuses an organisation name rules cannot belong to: longer than
// MaxOrganisation bytes, not UTF-8, with control characters, or with spaces at either end.
func CheckOrganisation(org string) error {
	switch {
	case len(org) > MaxOrganisation:
		return apperr.E(apperr.Invalid, "organisation: %d bytes, over the limit of %d", len(org), MaxOrganisation)
	case !utf8.ValidString(org) || strings.IndexFunc(org, unicode.IsControl) >= 0:
		return apperr.E(apperr.Invalid, "organisation %q: not UTF-8 text without control characters", org)
	case strings.TrimSpace(org) != org || org == "":
		return apperr.E(apperr.Invalid, "organisation %q: empty, or spaces at either end", org)
	}
	return nil
}

// CLIName is how a change made on the node's command line (rabta rules apply) is recorded:
// "cli/<user>", the operating-system user who ran it (user "unknown" when it cannot be told).
// Whoever runs the command line holds the node's data directory, so it acts for the node.
func CLIName(user string) string {
	if user == "" {
		user = "unknown"
	}
	return "cli/" + user
}

// Runner evaluates rules on observations and drives alerts. It is safe for concurrent use.
type Runner struct {
	Store  Store
	Alerts *alert.Service
	Log    *slog.Logger
	Now    func() time.Time
	// ReloadEvery is how often Run looks for rules saved by another process (rabta rules
	// apply): a read of their version only (Store.RulesVersion), the rules themselves only
	// when it changed (0: every second).
	ReloadEvery time.Duration

	mu      sync.Mutex
	engine  *rule.Engine
	rules   map[string]rule.Rule
	version int64
	dirty   bool  // the engine's state changed since it was last saved
	saved   int64 // the version of the engine state this process last saved or loaded
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Rule returns a loaded rule (for the alert service).
func (r *Runner) Rule(id string) (rule.Rule, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, ok := r.rules[id]
	return x, ok
}

// Rules returns the loaded rules.
func (r *Runner) Rules() []rule.Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engine == nil {
		return nil
	}
	return r.engine.Rules()
}

// Load (re)loads the rules from the store when they changed, keeping the state of rules that
// stay, and restores the saved state on first load. A stored rule that no longer validates
// (Apply refuses such rules; one saved by an earlier version may remain) is left out and
// logged at level error as rule_not_loaded; the others load.
func (r *Runner) Load(ctx context.Context) error {
	rules, version, err := r.Store.LoadRules(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engine != nil && version == r.version {
		return nil
	}
	e, err := rule.New(rules)
	if err != nil {
		// a stored rule that this version refuses (say, an area that bounds nothing, saved
		// before such areas were refused) stops alone: the others keep running
		var ok []rule.Rule
		for _, x := range rules {
			if verr := x.Validate(); verr != nil {
				r.log().Error("rule_not_loaded", "rule", x.ID, "err", verr)
				continue
			}
			ok = append(ok, x)
		}
		if e, err = rule.New(ok); err != nil {
			return err
		}
		rules = ok
	}
	var snap *rule.Snapshot
	if r.engine != nil {
		s := r.engine.Snapshot()
		snap = &s
	} else if b, err := r.Store.LoadEngineState(ctx); err != nil {
		return err
	} else if b != nil {
		snap = &rule.Snapshot{}
		if err := json.Unmarshal(b, snap); err != nil {
			r.log().Warn("rule_state_unreadable", "err", err)
			snap = nil
		}
	}
	if snap != nil { // nothing saved yet on a fresh node: nothing to restore
		if err := e.Restore(*snap); err != nil {
			r.log().Warn("rule_state_not_restored", "err", err)
		}
	}
	r.engine, r.version = e, version
	r.rules = map[string]rule.Rule{}
	for _, x := range rules {
		r.rules[x.ID] = x
	}
	r.log().Info("rules_loaded", "rules", len(rules))
	return nil
}

// Apply validates rules and makes them organisation org's rules (all at once, or none),
// recording by as the author of every rule it creates or changes (Store.SaveRules). The
// other organisations' rules stay, and are checked with these: a rule id another
// organisation has is a Conflict, and a datastream must be read the same way (observed or
// forecast) by every rule of the node.
func Apply(ctx context.Context, s Store, org, by string, rules []rule.Rule) error {
	if org == "" {
		org = auth.NodeOrganisation
	}
	if err := CheckOrganisation(org); err != nil {
		return err
	}
	existing, _, err := s.LoadRules(ctx)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for _, x := range existing {
		owner[x.ID] = x.Organisation
	}
	seen := map[string]bool{}
	kind := map[int64]bool{} // datastream → read as a forecast
	for _, x := range rules {
		if o, ok := owner[x.ID]; ok && o != org {
			return apperr.E(apperr.Conflict, "rule id %q is a rule of organisation %q; its rules are not replaced here", x.ID, o)
		}
	}
	all := slices.Clone(rules)
	for _, x := range existing {
		if x.Organisation != org {
			all = append(all, x)
		}
	}
	for i, x := range all {
		if i >= len(rules) { // another organisation's rule: it only counts for the datastreams' kinds
			for _, d := range x.Datastreams {
				if f, ok := kind[d]; ok && f != x.Forecast {
					return apperr.E(apperr.Invalid, "datastream %d is read as a forecast by one rule and as observations by rule %s of organisation %q", d, x.ID, x.Organisation)
				}
				kind[d] = x.Forecast
			}
			continue
		}
		for _, d := range x.Datastreams {
			if f, ok := kind[d]; ok && f != x.Forecast {
				return apperr.E(apperr.Invalid, "rule %s: datastream %d is read as a forecast by one rule and as observations by another", x.ID, d)
			}
			kind[d] = x.Forecast
		}
		if err := x.Validate(); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "rule %s", x.ID)
		}
		if err := alert.CheckTemplates(x); err != nil {
			return err
		}
		if seen[x.ID] {
			return apperr.E(apperr.Invalid, "rule id %q is used twice", x.ID)
		}
		seen[x.ID] = true
	}
	if _, err := rule.New(rules); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "rules")
	}
	if err := checkDatastreams(ctx, s, org, rules); err != nil {
		return err
	}
	return s.SaveRules(ctx, org, by, rules)
}

// DatastreamOwners is what a Store that also holds the node's datastreams offers Apply: the
// organisation owning Datastream id ("" when none was recorded), NotFound when it does not
// exist.
type DatastreamOwners interface {
	DatastreamOwner(ctx context.Context, id int64) (string, error)
}

// RemoteDatastreams is what a Store that also holds received Datastreams offers Apply:
// whether Datastream id is remote data, received under a federation agreement for the
// organisation that owns it here (docs/federation.md).
type RemoteDatastreams interface {
	DatastreamRemote(ctx context.Context, id int64) (bool, error)
}

// checkDatastreams refuses rules of organisation org that read a Datastream that does not
// exist (Invalid), or one another organisation owns (Forbidden) unless org is the node-wide
// organisation: sharing data between organisations is by agreement, not by naming its id. A
// remote Datastream is read only by rules of the organisation that receives it, the node-wide
// organisation's too: their drafts name its values, and the node organisation's are read by
// all its viewers, whom the agreement does not name. A Store without DatastreamOwners is not
// checked.
func checkDatastreams(ctx context.Context, s Store, org string, rules []rule.Rule) error {
	owners, ok := s.(DatastreamOwners)
	if !ok {
		return nil
	}
	remotes, _ := s.(RemoteDatastreams)
	seen := map[int64]bool{}
	for _, x := range rules {
		for _, d := range x.Datastreams {
			if seen[d] {
				continue
			}
			seen[d] = true
			o, err := owners.DatastreamOwner(ctx, d)
			switch {
			case apperr.KindOf(err) == apperr.NotFound:
				return apperr.E(apperr.Invalid, "rule %s: datastream %d does not exist", x.ID, d)
			case err != nil:
				return err
			case o != "" && o != org && org != auth.NodeOrganisation:
				return apperr.E(apperr.Forbidden, "rule %s: datastream %d belongs to organisation %q; a rule of organisation %q reads only its own organisation's datastreams", x.ID, d, o, org)
			case o != "" && o != org && remotes != nil:
				remote, err := remotes.DatastreamRemote(ctx, d)
				if err != nil {
					return err
				}
				if remote {
					return apperr.E(apperr.Forbidden, "rule %s: datastream %d is remote data received for organisation %q under a federation agreement; only that organisation's rules read it (apply the rule with ?organisation=%s)", x.ID, d, o, o)
				}
			}
		}
	}
	return nil
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// Handle evaluates a batch of accepted observations. It is idempotent enough for a bus
// redelivery: the engine ignores an observation it has seen (same datastream and time).
func (r *Runner) Handle(ctx context.Context, b *sensing.ObsBatch) error {
	if !r.Watches(b.Datastream) {
		return nil
	}
	return r.Store.WithLock(ctx, "warning", func(ctx context.Context) error { return r.handle(ctx, b) })
}

// sync takes up the engine state another process of the node saved since this one last did
// (several processes share one store and hand the bus's messages out between them).
func (r *Runner) sync(ctx context.Context) error {
	v, err := r.Store.EngineStateVersion(ctx)
	if err != nil || v == 0 {
		return err
	}
	r.mu.Lock()
	same := v == r.saved || r.engine == nil
	r.mu.Unlock()
	if same {
		return nil
	}
	b, err := r.Store.LoadEngineState(ctx)
	if err != nil {
		return err
	}
	var snap rule.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := rule.New(r.engine.Rules())
	if err != nil {
		return err
	}
	if err := e.Restore(snap); err != nil {
		r.log().Warn("rule_state_not_restored", "err", err)
		return nil
	}
	r.engine, r.saved, r.dirty = e, v, false
	return nil
}

func (r *Runner) handle(ctx context.Context, b *sensing.ObsBatch) error {
	if err := r.sync(ctx); err != nil {
		return err
	}
	var triggers []rule.Trigger
	r.mu.Lock()
	e := r.engine
	if e == nil || !r.watched(b.Datastream) {
		r.mu.Unlock()
		return nil
	}
	now := r.now()
	forecast := r.forecast(b.Datastream)
	for _, it := range b.Obs {
		v, ok := it.Number()
		if !ok {
			continue
		}
		triggers = append(triggers, e.Observe(now, rule.Obs{Datastream: b.Datastream, Time: it.End, Value: v, Flag: int(it.Flag), Forecast: forecast, By: b.By})...)
	}
	r.dirty = true
	r.mu.Unlock()
	return r.act(ctx, triggers)
}

// Watches reports whether any loaded rule reads datastream ds, so that a consumer can pass
// over a message without decoding it.
func (r *Runner) Watches(ds int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watched(ds)
}

// forecast reports whether datastream ds holds forecasts: a forecast rule reads it (r.mu held).
// A datastream is either observed or forecast; Apply refuses rules that disagree about one.
func (r *Runner) forecast(ds int64) bool {
	for _, x := range r.rules {
		if !x.Forecast {
			continue
		}
		for _, d := range x.Datastreams {
			if d == ds {
				return true
			}
		}
	}
	return false
}

// watched reports whether a rule reads datastream ds (r.mu held).
func (r *Runner) watched(ds int64) bool {
	for _, x := range r.rules {
		for _, d := range x.Datastreams {
			if d == ds {
				return true
			}
		}
	}
	return false
}

// Save stores the engine's state if it changed (called after each batch and tick, and at
// shutdown), holding the node's warning lock.
func (r *Runner) Save(ctx context.Context) error {
	return r.Store.WithLock(ctx, "warning", r.save)
}

func (r *Runner) save(ctx context.Context) error {
	r.mu.Lock()
	if r.engine == nil || !r.dirty {
		r.mu.Unlock()
		return nil
	}
	snap, err := json.Marshal(r.engine.Snapshot())
	r.dirty = false
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := r.Store.SaveEngineState(ctx, snap); err != nil {
		return err
	}
	v, err := r.Store.EngineStateVersion(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.saved = v
	r.mu.Unlock()
	return nil
}

// Run, until ctx ends, reloads the rules when they changed (looked for every ReloadEvery, and
// at every tick) and ticks (Tick) every interval: hold times run out and issued alerts expire
// even when no observation arrives. Failures are logged and tried again at the next interval.
func (r *Runner) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	reloadEvery := r.ReloadEvery
	if reloadEvery <= 0 {
		reloadEvery = min(time.Second, every)
	}
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
			if err := r.reloadChanged(ctx); err != nil {
				r.log().Warn("rules_reload_failed", "err", err)
			}
		case <-t.C:
			if err := r.reloadChanged(ctx); err != nil {
				r.log().Warn("rules_reload_failed", "err", err)
			}
			if err := r.Tick(ctx); err != nil {
				r.log().Warn("tick_failed", "err", err)
			}
		}
	}
}

// reloadChanged loads the rules when their version is not the loaded one's: a cheap read
// every ReloadEvery, so that rules another process saved run within about that time.
func (r *Runner) reloadChanged(ctx context.Context) error {
	v, err := r.Store.RulesVersion(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	same := r.engine != nil && v == r.version
	r.mu.Unlock()
	if same {
		return nil
	}
	return r.Load(ctx)
}

// Tick evaluates time-based conditions (hold expiry, silence) and expires alerts.
func (r *Runner) Tick(ctx context.Context) error {
	return r.Store.WithLock(ctx, "warning", r.tick)
}

func (r *Runner) tick(ctx context.Context) error {
	if err := r.sync(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	e := r.engine
	if e == nil {
		r.mu.Unlock()
		return nil
	}
	triggers := e.Tick(r.now())
	r.dirty = true
	r.mu.Unlock()
	if err := r.act(ctx, triggers); err != nil {
		return err
	}
	return r.Alerts.ExpireDue(ctx)
}

// act hands triggers to the alert service, then saves the engine's state, so that a restart
// does not announce again what was already announced.
func (r *Runner) act(ctx context.Context, triggers []rule.Trigger) error {
	for _, tr := range triggers {
		a, err := r.Alerts.Trigger(ctx, tr)
		if err != nil {
			// a trigger that cannot become an alert (a broken template, a stale time) is
			// logged and not retried forever; store failures are retried by the bus
			if k := apperr.KindOf(err); k == apperr.Invalid || k == apperr.NotFound {
				r.log().Error("trigger_failed", "rule", tr.RuleID, "kind", string(tr.Kind), "err", err)
				continue
			}
			return err
		}
		if a != nil {
			r.log().Info("rule_triggered", "rule", tr.RuleID, "kind", string(tr.Kind), "level", tr.LevelName, "alert", a.ID, "state", string(a.State))
		}
	}
	return r.save(ctx) // the caller holds the warning lock
}
