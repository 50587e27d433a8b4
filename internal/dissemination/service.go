package dissemination

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
)

// Config tunes the pipeline; zero values take the defaults given.
type Config struct {
	// PublicURL is the node's public base URL ("https://warn.example.pk"): unsubscribe links
	// and the alert page are under it.
	PublicURL string
	// Lease is how long a claimed delivery is held by its worker (default 60 s); a claim that
	// outlives it (a crash) is taken again and marked ambiguous.
	Lease time.Duration
	// MaxAttempts bounds the sends of one delivery on transient errors (default 12), after
	// which it fails and falls back to the next channel.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the retry delay: full jitter over
	// min(BackoffMax, BackoffBase·2^(attempt−1)) (defaults 2 s and 5 min).
	BackoffBase, BackoffMax time.Duration
	// Poll is how often the planner and idle workers look for work without being woken
	// (default 1 s).
	Poll time.Duration
	// Workers is the number of concurrent sends per channel (default 4).
	Workers int
	// SendTimeout bounds one send (default 30 s).
	SendTimeout time.Duration
}

func (c Config) lease() time.Duration       { return dflt(c.Lease, 60*time.Second) }
func (c Config) backoffBase() time.Duration { return dflt(c.BackoffBase, 2*time.Second) }
func (c Config) backoffMax() time.Duration  { return dflt(c.BackoffMax, 5*time.Minute) }
func (c Config) poll() time.Duration        { return dflt(c.Poll, time.Second) }
func (c Config) sendTimeout() time.Duration { return dflt(c.SendTimeout, 30*time.Second) }
func (c Config) maxAttempts() int {
	if c.MaxAttempts > 0 {
		return c.MaxAttempts
	}
	return 12
}
func (c Config) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 4
}

func dflt(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Renderer turns an issued CAP message into the message one channel sends, in a language.
type Renderer interface {
	Render(kind channel.Kind, a *cap.Alert, xml []byte, lang string, links Links) (channel.Message, error)
}

// Links are the URLs a rendered message may carry.
type Links struct {
	Alert       string // the public page of the alert
	CAP         string // its CAP XML
	Unsubscribe string // one-click unsubscribe for this contact
	Audio       string // where the message's audio is served, up to "<lang>.wav" (package voice)
}

// Service is the dissemination pipeline of one node. Start runs its planner and workers.
type Service struct {
	Store   Store
	Sealer  *Sealer
	Places  Gazetteer
	Points  func() Points // a new, empty point index; nil: subscribers' points are not targeted
	Senders map[channel.Kind]channel.Sender
	Render  Renderer
	Now     func() time.Time
	Log     *slog.Logger
	Config  Config
	// Observe, when set, is told of every send attempt (for metrics): channel, outcome
	// state, and how long the send took.
	Observe func(kind channel.Kind, outcome State, took time.Duration)
	// MessageByIdentifier finds an issued message (the alert store's): workers send messages
	// that another process, or this one before a restart, planned.
	MessageByIdentifier func(ctx context.Context, identifier string) (*alert.Message, error)

	wake         chan struct{}
	early        sync.Mutex
	earlyReports map[string]channel.Report // gateway id → a report that came before the outcome
	mu           sync.Mutex
	idx          *index
	msgs         sync.Map // identifier → *issued
	started      sync.Once
}

type issued struct {
	msg *alert.Message
	cap *cap.Alert
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Wake tells the planner and the workers there may be work (an alert was issued).
func (s *Service) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) init() { s.started.Do(func() { s.wake = make(chan struct{}, 1) }) }

// knownPlace checks a subscriber's place key against the gazetteer, when it can tell.
func (s *Service) knownPlace(key string) error {
	k, ok := s.Places.(interface{ Known(key string) bool })
	if key == "" || !ok || k.Known(key) {
		return nil
	}
	return apperr.E(apperr.Invalid, "place: %q is not a known place (keys are like district:Lahore, geonames:1172451 or a village's key; names are case-sensitive)", key)
}

// Subscribe validates and stores a subscriber, and returns its id.
func (s *Service) Subscribe(ctx context.Context, sub Subscriber) (int64, error) {
	if err := Normalize(&sub); err != nil {
		return 0, err
	}
	if err := s.knownPlace(sub.Place); err != nil {
		return 0, err
	}
	st := s.seal(sub)
	if dup, err := s.Store.Duplicate(ctx, sub.Org, st); err != nil {
		return 0, err
	} else if dup != 0 {
		return 0, apperr.E(apperr.Conflict, "already subscribed: subscriber %d has this contact for this place", dup)
	}
	if err := s.Store.AddSubscribers(ctx, []*StoredSubscriber{st}); err != nil {
		return 0, err
	}
	s.log().Info("subscriber_added", "subscriber", Subscriber{ID: st.ID, Org: sub.Org, Language: sub.Language, Contacts: sub.Contacts})
	return st.ID, nil
}

func (s *Service) seal(sub Subscriber) *StoredSubscriber {
	if sub.Created.IsZero() {
		sub.Created = s.now()
	}
	if sub.Consent.At.IsZero() {
		sub.Consent.At = sub.Created
	}
	st := &StoredSubscriber{Subscriber: sub, SealedName: s.Sealer.Seal([]byte(sub.Name))}
	st.Name, st.Subscriber.Contacts = "", nil
	for i, c := range sub.Contacts {
		st.Contacts = append(st.Contacts, StoredContact{Channel: c.Channel, Position: i, Sealed: s.Sealer.SealContact(c), Lookup: s.Sealer.Lookup(c.Channel, c.Address)})
	}
	return st
}

// ImportCSV reads subscribers from CSV (see ReadCSV) and stores the valid ones in batches of
// 1,000; it returns how many it stored and the refused rows.
func (s *Service) ImportCSV(ctx context.Context, r io.Reader, org string, progress func(rows int)) (int, []RowError, error) {
	var batch []*StoredSubscriber
	pending := map[string]bool{} // place|lookup of the rows in the unflushed batch
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.Store.AddSubscribers(ctx, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		clear(pending)
		return nil
	}
	var unknown []RowError
	rowErrs, err := ReadCSV(r, org, s.now(), func(sub Subscriber) error {
		if err := s.knownPlace(sub.Place); err != nil {
			unknown = append(unknown, RowError{Line: sub.line, Column: "place", Reason: apperr.Message(err)})
			return nil
		}
		st := s.seal(sub)
		// importing a list again adds nobody twice (within a batch, the store cannot see
		// the rows not yet written: the lookups of the batch are checked here)
		dup, err := s.Store.Duplicate(ctx, org, st)
		if err != nil {
			return err
		}
		for _, c := range st.Contacts {
			if pending[sub.Place+"|"+c.Lookup] {
				dup = -1
			}
		}
		if dup != 0 {
			unknown = append(unknown, RowError{Line: sub.line, Reason: "already subscribed: a subscriber of this organisation has this contact for this place"})
			return nil
		}
		for _, c := range st.Contacts {
			pending[sub.Place+"|"+c.Lookup] = true
		}
		batch = append(batch, st)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	}, progress)
	if err == nil {
		err = flush()
	}
	rowErrs = append(rowErrs, unknown...)
	sort.Slice(rowErrs, func(i, j int) bool { return rowErrs[i].Line < rowErrs[j].Line })
	s.log().Info("subscribers_imported", "org", org, "stored", n, "refused", len(rowErrs))
	return n, rowErrs, err
}

// Subscriber returns a subscriber with its name and contacts opened.
func (s *Service) Subscriber(ctx context.Context, id int64) (*Subscriber, error) {
	st, err := s.Store.GetSubscriber(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.open(st)
}

// Subscribers lists an organisation's subscribers ("" for all) after an id, opened.
func (s *Service) Subscribers(ctx context.Context, org string, after int64, limit int) ([]*Subscriber, error) {
	sts, err := s.Store.ListSubscribers(ctx, org, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*Subscriber, 0, len(sts))
	for _, st := range sts {
		sub, err := s.open(st)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

func (s *Service) open(st *StoredSubscriber) (*Subscriber, error) {
	sub := st.Subscriber
	name, err := s.Sealer.Open(st.SealedName)
	if err != nil {
		return nil, fmt.Errorf("subscriber %d: name: %w", st.ID, err)
	}
	sub.Name = string(name)
	for _, sc := range st.Contacts {
		c := Contact{ID: sc.ID, Channel: sc.Channel}
		if err := s.Sealer.OpenContact(sc.Sealed, &c); err != nil {
			return nil, err
		}
		sub.Contacts = append(sub.Contacts, c)
	}
	return &sub, nil
}

// Erase deletes a subscriber on request, recording who asked and why.
func (s *Service) Erase(ctx context.Context, id int64, by, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return apperr.E(apperr.Invalid, "reason: say why the subscriber is erased (e.g. \"request by the subscriber\")")
	}
	if err := s.Store.EraseSubscriber(ctx, id, by, reason, s.now()); err != nil {
		return err
	}
	s.log().Info("subscriber_erased", "subscriber", id, "by", by)
	return nil
}

// Unsubscribe removes every contact with this channel and address (a STOP by SMS, a request
// by e-mail) and returns how many it removed.
func (s *Service) Unsubscribe(ctx context.Context, ch channel.Kind, address string) (int, error) {
	c := Contact{Channel: ch, Address: address}
	if ch == channel.Webhook {
		c.Secret = strings.Repeat("x", MinSecretLen)
	}
	if err := normalizeContact(&c); err != nil {
		return 0, apperr.E(apperr.Invalid, "%v", err)
	}
	n, err := s.Store.RemoveContacts(ctx, s.Sealer.Lookup(ch, c.Address), s.now())
	if err == nil {
		s.log().Info("contact_unsubscribed", "contact", c, "removed", n)
	}
	return n, err
}

// UnsubscribeToken is the token of a contact's one-click unsubscribe link: the contact's
// lookup key and a MAC over it, so the link works without an account and cannot be forged.
func (s *Service) UnsubscribeToken(ch channel.Kind, address string) string {
	look := s.Sealer.Lookup(ch, address)
	return look + "." + s.Sealer.Lookup("unsubscribe", look)[:32]
}

// UnsubscribeByToken removes the contact an unsubscribe link names.
func (s *Service) UnsubscribeByToken(ctx context.Context, token string) (int, error) {
	look, mac, ok := strings.Cut(token, ".")
	if !ok || len(look) != 64 || !hmac.Equal([]byte(mac), []byte(s.Sealer.Lookup("unsubscribe", look)[:32])) {
		return 0, apperr.E(apperr.Invalid, "token: not a valid unsubscribe token")
	}
	n, err := s.Store.RemoveContacts(ctx, look, s.now())
	if err == nil {
		s.log().Info("contact_unsubscribed", "via", "link", "removed", n)
	}
	return n, err
}

// Impact is what an alert reaches: the people and places in its area and the subscribers,
// by channel and language, who would be sent it; for a sector advisory (a message naming
// audiences in its rabta:audience parameter) also by audience.
type Impact struct {
	Reach
	Subscribers int                  `json:"subscribers"`
	ByChannel   map[channel.Kind]int `json:"byChannel,omitempty"`
	ByLanguage  map[string]int       `json:"byLanguage,omitempty"`
	// Audiences, for a sector advisory only, in the order the message names them: per
	// audience the subscribers the message reaches (as planning decides: in the area, in one
	// of its audiences, and for a drill in "exercise" too) who are in that audience. "public"
	// counts every subscriber reached (a public advisory reaches everyone in the area); a
	// subscriber in two of the audiences counts in both, so the sum may exceed Subscribers.
	// An audience the node does not know counts 0.
	Audiences []AudienceCount `json:"audiences,omitempty"`
	Computed  time.Time       `json:"computed"`
}

// AudienceCount is one audience of an advisory's impact: the subscribers it reaches in it.
type AudienceCount struct {
	Audience    string `json:"audience"`
	Subscribers int    `json:"subscribers"`
}

// Preview computes the impact of a CAP message (a draft or an issued one).
func (s *Service) Preview(ctx context.Context, a *cap.Alert) (*Impact, error) {
	_, imp, err := s.targets(ctx, a, 0, false)
	return imp, err
}

// SaveImpact computes and keeps the impact of an alert's draft (identifier "") or message:
// the alert service calls it (alert.Service.Impact).
func (s *Service) SaveImpact(ctx context.Context, alertID int64, identifier string, a *cap.Alert) error {
	imp, err := s.Preview(ctx, a)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(imp)
	return s.Store.SaveImpact(ctx, alertID, identifier, b, s.now())
}

// Progress is an alert's delivery counts by message, channel and state.
func (s *Service) Progress(ctx context.Context, alertID int64) ([]Count, error) {
	return s.Store.Progress(ctx, alertID)
}

// planned is one delivery to be planned.
type planned struct {
	sub      int64
	channel  channel.Kind
	position int
}

// areas returns the areas of a CAP message (the first info that has any: every info of one
// Rabta message carries the same area).
func areas(a *cap.Alert) []cap.Area {
	for _, in := range a.Infos {
		if len(in.Areas) > 0 {
			return in.Areas
		}
	}
	return nil
}

// eligible tells whether a subscriber with audience bits aud is sent a message of this
// status and scope. Actual public messages go to everyone in the area (whatever their
// audiences: a person in the warned area must be warned); operational
// (restricted) ones to responders; Exercise and Test messages only to subscribers in the
// "exercise" audience (drills never reach the public); System messages to nobody. A sector
// advisory (sector, from sectorAudiences, not 0) goes only to subscribers in one of its
// audiences, in drills too (and in the exercise audience).
func eligible(a *cap.Alert, aud, sector audSet) bool {
	if sector != 0 && aud&sector == 0 {
		return false
	}
	switch a.Status {
	case cap.StatusActual:
		if a.Scope == "Restricted" {
			return aud&audBits([]string{"responders"}) != 0
		}
		return true
	case cap.StatusExercise, cap.StatusTest:
		return aud&audBits([]string{"exercise"}) != 0
	}
	return false
}

// sectorAudiences reads the audiences a sector advisory names (the CAP parameter
// rabta:audience, space-separated, that alert.compose writes from rule.Rule.Audiences), as
// audience bits: 0 when the message names none, or names "public" (then it is for everyone,
// like a flood warning); a message that names only audiences this node does not know gets a
// bit no subscriber has, and reaches no one.
func sectorAudiences(a *cap.Alert) audSet {
	names := audienceNames(a)
	if len(names) == 0 || slices.Contains(names, "public") {
		return 0
	}
	if b := audBits(names); b != 0 {
		return b
	}
	return unknownAudience
}

// audienceNames is the audiences the first rabta:audience parameter of a message names (nil
// for a message without one: a flood warning).
func audienceNames(a *cap.Alert) []string {
	for _, in := range a.Infos {
		for _, p := range in.Parameters {
			if p.ValueName == "rabta:audience" {
				return strings.Fields(p.Value)
			}
		}
	}
	return nil
}

// Limits on the areas of one message, for the impact preview and planning (CAP itself sets
// none; these are far beyond any real warning's).
const (
	MaxAreaParts    = 100     // polygons, circles and geocodes, all areas together
	MaxAreaVertices = 20_000  // points of all polygons together
	MaxRadiusAreaKM = 2_000.0 // a circle's radius
)

// checkAreas refuses areas over the limits, naming the limit.
func checkAreas(as []cap.Area) error {
	parts, vertices := 0, 0
	for i, a := range as {
		parts += len(a.Polygons) + len(a.Circles) + len(a.Geocodes)
		for _, pg := range a.Polygons {
			vertices += len(pg)
		}
		for j, c := range a.Circles {
			if !(c.RadiusKM <= MaxRadiusAreaKM) {
				return apperr.E(apperr.Invalid, "area %d, circle %d: radius %g km is over the limit of %g km", i, j, c.RadiusKM, MaxRadiusAreaKM)
			}
		}
	}
	if parts > MaxAreaParts {
		return apperr.E(apperr.Invalid, "area: %d polygons, circles and geocodes, over the limit of %d", parts, MaxAreaParts)
	}
	if vertices > MaxAreaVertices {
		return apperr.E(apperr.Invalid, "area: %d polygon points, over the limit of %d", vertices, MaxAreaVertices)
	}
	return nil
}

// connectivity codes in targets' marks: 0 is "not chosen".
var connCodes = map[string]uint8{"": 1, "fibre": 2, "mobile-data": 3, "sms-only": 4, "none": 5}

// targets works out who a message goes to (recipients: an Update also goes to those the
// alert reached before, a Cancel only to them) and the impact; with plan false it only
// counts (a preview).
func (s *Service) targets(ctx context.Context, a *cap.Alert, alertID int64, plan bool) ([]planned, *Impact, error) {
	if err := checkAreas(areas(a)); err != nil {
		return nil, nil, err
	}
	imp := &Impact{ByChannel: map[channel.Kind]int{}, ByLanguage: map[string]int{}, Computed: s.now().UTC()}
	var reach Reach
	var err error
	if ar := areas(a); len(ar) > 0 && s.Places != nil { // outside the lock: planning never waits for a preview's geometry
		if reach, err = s.Places.Reach(ar); err != nil {
			return nil, nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "alert area")
		}
	}
	imp.Reach = reach
	s.mu.Lock() // the index is brought up to date in place: one user at a time
	defer s.mu.Unlock()
	ix, err := s.index(ctx)
	if err != nil {
		return nil, nil, err
	}
	// mark[t] is 0 for a subscriber not chosen, else the connectivity code of the place that
	// chose it (1: unknown); one byte per subscriber, walked in order: no map, no sort
	mark := make([]uint8, len(ix.targets))
	chose := func(t int32, code uint8) {
		if mark[t] == 0 || code > mark[t] { // the poorest connectivity of its places wins
			mark[t] = code
		}
	}
	if a.MsgType != cap.MsgCancel {
		for key, conn := range reach.Keys {
			code := connCodes[conn]
			if code == 0 {
				code = 1
			}
			for _, t := range ix.byPlace[key] {
				chose(t, code)
			}
		}
		if ix.points != nil {
			if ar := areas(a); len(ar) > 0 {
				ids, err := ix.points.Within(ar)
				if err != nil {
					return nil, nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "alert area")
				}
				for _, id := range ids {
					if t, ok := ix.byID[id]; ok && mark[t] == 0 {
						mark[t] = 1
					}
				}
			}
		}
	}
	// an Update or Cancel goes to those the alert reached, on the channels it reached them
	// by (an Update also to whoever is newly in its area)
	var prev []uint8 // channel bits a subscriber was reached on
	if alertID > 0 && a.MsgType != cap.MsgAlert {
		rec, err := s.Store.Recipients(ctx, alertID)
		if err != nil {
			return nil, nil, err
		}
		prev = make([]uint8, len(ix.targets))
		for _, r := range rec {
			if t, ok := ix.byID[r.SubscriberID]; ok {
				prev[t] |= kindBit(r.Channel)
				mark[t] = 1
			}
		}
	}
	var out []planned
	byChan := make([]int, len(kinds))
	byLang := make([]int, len(ix.langs))
	add := func(t *target, pos int, bit uint8) {
		byChan[bitIndex(bit)]++
		if plan {
			out = append(out, planned{sub: t.id, channel: kinds[bitIndex(bit)], position: int(t.pos[pos])})
		}
	}
	smsBit := kindBit(channel.SMS)
	sector := sectorAudiences(a)
	// an advisory's impact by audience: the bits of each audience it names ("public": every
	// subscriber reached, bits 0), counted over the subscribers reached below
	named := slices.Compact(audienceNames(a))
	byAud := make([]int, len(named))
	audOf := make([]audSet, len(named))
	for i, n := range named {
		if n != "public" {
			audOf[i] = audBits([]string{n})
			if audOf[i] == 0 {
				audOf[i] = unknownAudience // no subscriber has it: counts 0
			}
		}
	}
	phoneBits := smsBit | kindBit(channel.Voice) // a call reaches a feature phone too
	for ti, m := range mark {
		if m == 0 {
			continue
		}
		t := &ix.targets[ti]
		if t.nch == 0 || !eligible(a, t.aud, sector) { // a tombstone, or not for this message
			continue
		}
		var reached uint8
		if prev != nil {
			reached = prev[ti]
		}
		poor := m == connCodes["sms-only"] || m == connCodes["none"]
		var seen uint8
		n := 0
		for pos := 0; pos < int(t.nch); pos++ {
			bit := t.channels[pos]
			switch {
			case seen&bit != 0:
				continue
			case reached != 0 && (a.MsgType == cap.MsgCancel || m == 1):
				// reached before: on the channels that reached it
				if reached&bit == 0 {
					continue
				}
			case poor && bit&phoneBits == 0:
				// an sms-only (or unconnected) place gets SMS and voice calls; other places
				// every channel the subscriber chose. The rest stay as fallbacks.
				continue
			}
			seen |= bit
			add(t, pos, bit)
			n++
		}
		if n == 0 && reached != 0 {
			continue // reached before on contacts since removed
		}
		if n == 0 && t.nch > 0 { // only richer channels in an sms-only place: the first one
			add(t, 0, t.channels[0])
		}
		imp.Subscribers++
		byLang[t.lang]++
		for i, b := range audOf {
			if b == 0 || t.aud&b != 0 {
				byAud[i]++
			}
		}
	}
	for i, n := range named {
		imp.Audiences = append(imp.Audiences, AudienceCount{Audience: n, Subscribers: byAud[i]})
	}
	for i, n := range byChan {
		if n > 0 {
			imp.ByChannel[kinds[i]] = n
		}
	}
	for i, n := range byLang {
		if n > 0 {
			imp.ByLanguage[ix.langs[i]] = n
		}
	}
	return out, imp, nil
}

func bitIndex(b uint8) int {
	for i := range kinds {
		if b == 1<<i {
			return i
		}
	}
	return 0
}

// index returns the targeting index, brought up to date from the store's change log, or
// rebuilt when the changes are too many. The caller holds s.mu while it uses the index.
func (s *Service) index(ctx context.Context) (*index, error) {
	v, err := s.Store.TargetsVersion(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if s.idx != nil && s.idx.version == v && now.Sub(s.idx.checked) < time.Minute {
		return s.idx, nil
	}
	if s.idx != nil {
		ok, err := s.idx.update(ctx, s.Store, now)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.idx, nil
		}
	}
	start := time.Now()
	ix, err := buildIndex(ctx, s.Store, s.Points, v, now)
	if err != nil {
		return nil, err
	}
	s.idx = ix
	s.log().Info("subscriber_index_built", "subscribers", len(ix.byID), "places", len(ix.byPlace), "took", time.Since(start).Round(time.Millisecond))
	return ix, nil
}

// PlanMessage plans the deliveries of one issued message, once: a message planned already
// (by this process or another) is left alone.
func (s *Service) PlanMessage(ctx context.Context, m *alert.Message) error {
	a, err := cap.Unmarshal(m.XML)
	if err != nil {
		return fmt.Errorf("plan %s: %w", m.Identifier, err)
	}
	s.msgs.Store(m.Identifier, &issued{msg: m, cap: a})
	start := time.Now()
	ts, imp, err := s.targets(ctx, a, m.AlertID, true)
	targeted := time.Since(start)
	if err != nil {
		return fmt.Errorf("plan %s: %w", m.Identifier, err)
	}
	now := s.now()
	if b, err := json.Marshal(imp); err == nil {
		if err := s.Store.SaveImpact(ctx, m.AlertID, m.Identifier, b, now); err != nil {
			return err
		}
	}
	ds := make([]Delivery, len(ts))
	for i, t := range ts {
		ds[i] = Delivery{SubscriberID: t.sub, Channel: t.channel, Position: t.position}
	}
	ok, err := s.Store.SavePlan(ctx, Plan{Identifier: m.Identifier, AlertID: m.AlertID, MsgType: string(m.MsgType), Subscribers: imp.Subscribers, Planned: now}, ds)
	if err != nil && apperr.KindOf(err) != apperr.Conflict {
		return err
	}
	if ok {
		s.log().Info("deliveries_planned", "identifier", m.Identifier, "subscribers", imp.Subscribers, "deliveries", len(ds), "people", imp.People,
			"targeting", targeted.Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Start runs the planner and one worker pool per configured sender until ctx ends; it
// returns a function that waits for them to stop. The targeting index is built at once, in
// the background, so that the first alert does not wait for it.
func (s *Service) Start(ctx context.Context) (wait func()) {
	s.init()
	var wg sync.WaitGroup
	wg.Go(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, err := s.index(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("subscriber_index_failed", "err", err)
		}
	})
	wakes := []chan struct{}{}
	for kind, snd := range s.Senders {
		w := make(chan struct{}, 1)
		wakes = append(wakes, w)
		wg.Go(func() { s.work(ctx, kind, snd, w) })
	}
	wg.Go(func() { s.plan(ctx, wakes) })
	return wg.Wait
}

func (s *Service) plan(ctx context.Context, wakes []chan struct{}) {
	tick := time.NewTicker(s.Config.poll())
	defer tick.Stop()
	for {
		for {
			ms, err := s.Store.Unplanned(ctx, 20)
			if err != nil {
				if ctx.Err() == nil {
					s.log().Warn("plan_failed", "err", err)
				}
				break
			}
			for i := range ms {
				if err := s.PlanMessage(ctx, &ms[i]); err != nil && ctx.Err() == nil {
					s.log().Warn("plan_failed", "identifier", ms[i].Identifier, "err", err)
				}
			}
			for _, w := range wakes {
				select {
				case w <- struct{}{}:
				default:
				}
			}
			if len(ms) < 20 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

func (s *Service) work(ctx context.Context, kind channel.Kind, snd channel.Sender, wake chan struct{}) {
	n := s.Config.workers()
	jobs := make(chan Claimed, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for c := range jobs {
				s.send(ctx, snd, c)
			}
		})
	}
	defer func() { close(jobs); wg.Wait() }()
	tick := time.NewTicker(s.Config.poll())
	defer tick.Stop()
	for ctx.Err() == nil {
		now := s.now()
		cs, err := s.Store.Claim(ctx, kind, now, now.Add(s.Config.lease()), n)
		if err != nil && ctx.Err() == nil {
			s.log().Warn("claim_failed", "channel", string(kind), "err", err)
		}
		for _, c := range cs {
			if c.Ambiguous && c.Attempts > 1 {
				s.log().Warn("delivery_resent_after_lost_claim", "delivery", c.ID, "channel", string(kind))
			}
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
		}
		if len(cs) == n {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-tick.C:
		}
	}
}

// backoff is the delay before attempt+1: full jitter (AWS Architecture Blog, "Exponential
// Backoff And Jitter") over min(max, base·2^(attempt−1)).
func (c Config) backoff(attempt int) time.Duration {
	d := c.backoffBase() << min(attempt-1, 20)
	if d > c.backoffMax() || d <= 0 {
		d = c.backoffMax()
	}
	return time.Duration(rand.Int64N(int64(d))) + time.Millisecond
}

func (s *Service) message(ctx context.Context, identifier string, ms func(context.Context, string) (*alert.Message, error)) (*issued, error) {
	if v, ok := s.msgs.Load(identifier); ok {
		return v.(*issued), nil
	}
	m, err := ms(ctx, identifier)
	if err != nil {
		return nil, err
	}
	a, err := cap.Unmarshal(m.XML)
	if err != nil {
		return nil, err
	}
	is := &issued{msg: m, cap: a}
	s.msgs.Store(identifier, is)
	return is, nil
}

var errNoMessages = errors.New("dissemination: Service.Messages is not set")

func (s *Service) send(ctx context.Context, snd channel.Sender, c Claimed) {
	start := time.Now()
	record := func(o Outcome) {
		o.At = s.now()
		if err := s.Store.Record(context.WithoutCancel(ctx), c.ID, o); err != nil {
			// the claim's lease will run out and the delivery will be tried again
			s.log().Warn("record_failed", "delivery", c.ID, "err", err)
		} else if o.GatewayID != "" {
			s.lateReport(context.WithoutCancel(ctx), o.GatewayID)
		}
		if s.Observe != nil {
			s.Observe(c.Channel, o.State, time.Since(start))
		}
	}
	if c.Sealed == nil {
		record(Outcome{State: Cancelled, Error: "the contact was removed"})
		return
	}
	ct := Contact{ID: c.ContactID, Channel: c.Channel}
	if err := s.Sealer.OpenContact(c.Sealed, &ct); err != nil {
		record(Outcome{State: Failed, Error: "contact cannot be opened: " + err.Error()})
		return
	}
	is, err := s.message(ctx, c.Identifier, s.lookupMessage)
	if err != nil {
		record(Outcome{State: Planned, Next: s.now().Add(s.Config.backoff(c.Attempts)), Error: "message: " + err.Error()})
		return
	}
	if !is.msg.Expires.IsZero() && s.now().After(is.msg.Expires) {
		record(Outcome{State: Cancelled, Error: "the message expired before it could be sent"})
		return
	}
	links := Links{}
	if base := strings.TrimRight(s.Config.PublicURL, "/"); base != "" {
		// no public alert page yet (links.Alert stays empty, and an SMS carries no link: a
		// feature phone cannot read CAP XML, and a link would take the place of the
		// instruction); e-mails link the alert's CAP document, served by every node
		links.CAP = base + "/cap/alerts/" + c.Identifier + ".xml"
		links.Audio = base + "/cap/alerts/" + url.PathEscape(c.Identifier) + "/audio/"
		links.Unsubscribe = base + "/api/v1/unsubscribe?token=" + s.UnsubscribeToken(ct.Channel, ct.Address)
	}
	m, err := s.Render.Render(c.Channel, is.cap, is.msg.XML, c.Language, links)
	if err != nil {
		record(Outcome{State: Failed, Error: "render: " + err.Error()})
		return
	}
	m.DeliveryID, m.Kind, m.To, m.Secret, m.Alert = c.ID, c.Channel, ct.Address, ct.Secret, c.Identifier
	sctx, cancel := context.WithTimeout(ctx, s.Config.sendTimeout())
	rc, err := snd.Send(sctx, m)
	cancel()
	switch {
	case err == nil && rc.Queued:
		record(Outcome{State: Queued, GatewayID: rc.GatewayID, Parts: rc.Parts})
	case err == nil:
		record(Outcome{State: Sent, GatewayID: rc.GatewayID, Parts: rc.Parts})
	case ctx.Err() != nil:
		// shutting down: leave the claim; its lease ends and it is sent again (ambiguous)
	case channel.IsPermanent(err):
		s.log().Info("delivery_failed", "msg", m, "err", err)
		record(Outcome{State: Failed, Error: err.Error()})
	case c.Attempts >= s.Config.maxAttempts():
		s.log().Info("delivery_gave_up", "msg", m, "attempts", c.Attempts, "err", err)
		record(Outcome{State: Failed, Error: fmt.Sprintf("gave up after %d attempts: %v", c.Attempts, err)})
	default:
		wait := s.Config.backoff(c.Attempts)
		var ra interface{ RetryAfter() time.Duration } // a webhook's 429 or 503 with Retry-After
		if errors.As(err, &ra) && ra.RetryAfter() > wait {
			wait = ra.RetryAfter()
		}
		record(Outcome{State: Planned, Next: s.now().Add(wait), Error: err.Error()})
	}
}

func (s *Service) lookupMessage(ctx context.Context, identifier string) (*alert.Message, error) {
	if s.MessageByIdentifier == nil {
		return nil, errNoMessages
	}
	return s.MessageByIdentifier(ctx, identifier)
}

// Report applies a gateway's delivery report. A report that names only the gateway's id can
// arrive before the send's outcome (with that id) is recorded — an SMSC answers submit_sm and
// sends the receipt at once: it is kept for a while and applied when the outcome is.
func (s *Service) Report(ctx context.Context, r channel.Report) {
	if r.At.IsZero() {
		r.At = s.now()
	}
	ok, err := s.Store.Report(ctx, r)
	switch {
	case err != nil:
		s.log().Warn("delivery_report_failed", "delivery", r.DeliveryID, "gateway_id", r.GatewayID, "err", err)
	case !ok && r.DeliveryID == 0 && r.GatewayID != "":
		s.early.Lock()
		if s.earlyReports == nil {
			s.earlyReports = map[string]channel.Report{}
		}
		if len(s.earlyReports) >= maxEarlyReports {
			for id, old := range s.earlyReports { // drop the stale ones
				if s.now().Sub(old.At) > 10*time.Minute {
					delete(s.earlyReports, id)
				}
			}
		}
		kept := len(s.earlyReports) < maxEarlyReports
		if kept {
			s.earlyReports[r.GatewayID] = r
		}
		s.early.Unlock()
		// the outcome may have been recorded between the try above and keeping the report,
		// and its lateReport found nothing: try once more now that the report is kept
		// (applying a report twice changes nothing: a delivery never moves backwards)
		if kept {
			if ok, err := s.Store.Report(ctx, r); err == nil && ok {
				s.early.Lock()
				delete(s.earlyReports, r.GatewayID)
				s.early.Unlock()
			}
		}
	case !ok:
		s.log().Debug("delivery_report_unmatched", "delivery", r.DeliveryID, "gateway_id", r.GatewayID, "status", r.Status)
	}
}

// maxEarlyReports bounds the reports kept while their send's outcome is being recorded.
const maxEarlyReports = 100_000

// lateReport applies a report that arrived before the outcome naming gatewayID was recorded.
func (s *Service) lateReport(ctx context.Context, gatewayID string) {
	s.early.Lock()
	r, ok := s.earlyReports[gatewayID]
	delete(s.earlyReports, gatewayID)
	s.early.Unlock()
	if ok {
		if _, err := s.Store.Report(ctx, r); err != nil {
			s.log().Warn("delivery_report_failed", "gateway_id", gatewayID, "err", err)
		}
	}
}
