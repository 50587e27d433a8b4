package alert

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/rule"
)

// State is where an alert is in its life cycle.
type State string

// States.
const (
	Draft     State = "draft"     // waiting for an approver; nothing public yet (or an Update waiting, see Alert.Issued)
	Issued    State = "issued"    // the latest message is public
	Cancelled State = "cancelled" // a Cancel was issued
	Expired   State = "expired"   // the latest message expired
	Withdrawn State = "withdrawn" // a draft never issued: rejected, or the condition cleared first
)

// Alert is one warning thread.
type Alert struct {
	ID     int64
	RuleID string
	// Organisation owns the alert: its rule's (rule.Rule.Organisation) when it was made. Only
	// a key of it, or the node-wide admin, may decide on it (auth.RequireOwner).
	Organisation string
	State        State
	Status       cap.Status
	Operational  bool
	Level        int // index into the rule's levels; -1 for an all-clear
	LevelName    string
	// Draft is the message waiting for approval, nil when none. DraftType says what issuing it
	// does: Alert (first), Update or Cancel. DraftBy is its author.
	Draft     *cap.Alert
	DraftType cap.MsgType
	DraftBy   string
	// Authors are the people who shaped the draft (nil without a draft): everyone who changed
	// its rule, and whoever posted the values that decided it. With four eyes on, none of
	// them may approve it.
	Authors []Author
	// Issued lists the messages issued, oldest first (loaded by Store.Get).
	Issued  []Message
	Created time.Time
	Updated time.Time
	// Shown is what readers outside the organisation see of the alert (Reader.Redact).
	Shown Shown
}

// Shown is an alert as readers outside its organisation see it: the level (-1 for an
// all-clear or none) and the time of the last step they read (Visible) — a message issued,
// an issued alert's expiry. A draft waiting on an issued alert, or one drafted and rejected,
// changes neither.
type Shown struct {
	Level     int
	LevelName string
	Updated   time.Time
}

// Visible reports whether transition t is read by everyone who reads the alert: it issued a
// message, or an issued alert expired. The others — drafting, editing, rejecting a draft —
// are its organisation's work (Reader.Steps).
func Visible(t Transition) bool {
	return t.Identifier != "" || (t.From == Issued && t.To == Expired)
}

// Last returns the latest issued message, or nil.
func (a *Alert) Last() *Message {
	if len(a.Issued) == 0 {
		return nil
	}
	return &a.Issued[len(a.Issued)-1]
}

// Author is a person who shaped a draft, by name ("pdma/key-7", auth.Principal.Name; or
// "cli/<user>" for a change made on the node's command line), and how: As is AsRule (changed
// the draft's rule), AsValue (posted a value that decided it) or AsEdit (edited its text,
// Service.Edit).
type Author struct {
	Name string `json:"name"`
	As   string `json:"as"`
}

// How an Author shaped a draft.
const (
	AsRule  = "rule"
	AsValue = "value"
)

// authors returns who shaped a draft of rule ruleID from trigger tr: whoever changed the rule
// (Store.RuleAuthors), then whoever posted the deciding values (rule.Trigger.PostedBy).
func (s *Service) authors(ctx context.Context, ruleID string, tr rule.Trigger) ([]Author, error) {
	names, err := s.Store.RuleAuthors(ctx, ruleID)
	if err != nil {
		return nil, err
	}
	var out []Author
	for _, n := range names {
		out = append(out, Author{Name: n, As: AsRule})
	}
	for _, n := range tr.PostedBy {
		out = append(out, Author{Name: n, As: AsValue})
	}
	return out, nil
}

// mergeAuthors returns the authors of a draft that replaces a draft still waiting: the
// authors of both, each once, the earlier ones first. Whoever shaped the draft it replaces
// shaped this one too (the value that made the alert a draft at all, say).
func mergeAuthors(waiting, now []Author) []Author {
	out := slices.Clone(waiting)
	for _, a := range now {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Message is one issued CAP message.
type Message struct {
	AlertID     int64
	Identifier  string
	Sender      string
	Sent        time.Time
	Expires     time.Time
	MsgType     cap.MsgType
	Status      cap.Status
	Operational bool
	Headline    string
	XML         []byte // signed CAP XML, as published
}

// Transition is one step of an alert's life, for the record.
type Transition struct {
	AlertID    int64
	From, To   State
	By         string
	Why        string
	At         time.Time
	Identifier string // the CAP message issued by this step, if any
}

// Filter selects alerts to list.
type Filter struct {
	State  State // "" for any
	RuleID string
	Limit  int
	// Reader, when set, leaves out the alerts it may not read at all (Reader.Hides): those of
	// other organisations than its own that never issued a message. nil lists every alert.
	Reader *Reader
}

// Store keeps alerts, their messages and transitions.
type Store interface {
	// CreateAlert stores a new alert with its first transition and returns its id.
	CreateAlert(ctx context.Context, a *Alert, t Transition) (int64, error)
	// SaveAlert stores a's new state and draft, the transition, and msg (if not nil) as a newly
	// issued message, in one transaction.
	SaveAlert(ctx context.Context, a *Alert, t Transition, msg *Message) error
	// GetAlert returns an alert with its issued messages.
	GetAlert(ctx context.Context, id int64) (*Alert, error)
	// OpenAlert returns the rule's alert that is draft or issued, or a NotFound error.
	OpenAlert(ctx context.Context, ruleID string) (*Alert, error)
	ListAlerts(ctx context.Context, f Filter) ([]*Alert, error)
	Transitions(ctx context.Context, id int64) ([]Transition, error)
	// ActiveMessages returns the latest message of every issued, unexpired alert, public or all.
	ActiveMessages(ctx context.Context, now time.Time, includeOperational bool) ([]Message, error)
	// Feed returns the messages the public Atom feed shows at now, newest first, and the
	// feed's updated time. keep is how long a Cancel or Update, and what it replaces, stays
	// on the feed (0: DefaultFeedKeep).
	//
	// A public (not operational) message sent at or before now is on the feed while any of
	// these holds: (1) it is the latest message of an issued alert and has not expired; (2) it
	// is a Cancel or an Update sent less than keep ago; (3) the message that replaced it (the
	// next one of its alert, always an Update or a Cancel) was sent less than keep ago. So an
	// aggregator that only polls learns of a withdrawal: the Cancel stands beside the warning
	// it cancels for keep, and each Update beside what it updates.
	//
	// updated is the last instant at or before now when the feed's content could have
	// changed, derived from stored data alone (so it survives restarts and every process of
	// a node agrees): the latest of every public message's sent time, every expiry that has
	// passed, every "sent + keep" of a Cancel or Update that has passed, and the store's
	// creation (for a feed that never had an entry). None of these is ever removed, so
	// updated never decreases while keep is unchanged (a smaller keep can move it back to an
	// earlier, still true, instant).
	Feed(ctx context.Context, now time.Time, keep time.Duration) (msgs []Message, updated time.Time, err error)
	// MessageByIdentifier returns an issued message.
	MessageByIdentifier(ctx context.Context, identifier string) (*Message, error)
	// ExpiredAlerts returns issued alerts whose latest message expired before now.
	ExpiredAlerts(ctx context.Context, now time.Time) ([]*Alert, error)
	// RuleAuthors returns the names of everyone who ever created or changed the rule, each
	// once, in the order of their first change (none for a rule applied before changes were
	// recorded).
	RuleAuthors(ctx context.Context, ruleID string) ([]string, error)
}

// DefaultFeedKeep is how long a Cancel or an Update, and the message it replaces, stays on
// the public feed unless configured otherwise (config feed_keep, flag --feed-keep).
const DefaultFeedKeep = 24 * time.Hour

// Signer signs CAP XML (enveloped XML Signature).
type Signer interface {
	Sign(xml []byte) ([]byte, error)
}

// Publisher announces issued messages (on the bus).
type Publisher interface {
	PublishAlert(ctx context.Context, m *Message) error
}

// Labeler names a datastream for people: its station and unit.
type Labeler interface {
	DatastreamLabel(ctx context.Context, id int64) (station, unit string, err error)
}

// Config is what the node says about its alerts.
type Config struct {
	Node       string
	Sender     string        // CAP <sender>, e.g. "pdma.punjab.gov.pk"
	SenderName string        // CAP <senderName>
	Web        string        // CAP <web>: the public alert page
	FourEyes   bool          // the approver must not be the draft's author
	Expiry     time.Duration // how long an issued message stays valid (default 24 h)
	// Zone is where the messages' times are written as wall-clock times (default
	// Asia/Karachi, see i18n.Karachi).
	Zone *time.Location
	// Names translates the free texts of rules and of this node that are not templates —
	// station names, area descriptions, audiences, SenderName — for each <info>'s language
	// (nil: they stay as written). See i18n.Names for the fallbacks.
	Names *i18n.Names
}

// Service runs the life cycle. It is safe for concurrent use.
type Service struct {
	Store     Store
	Signer    Signer
	Publisher Publisher
	Labels    Labeler
	Rules     func(id string) (rule.Rule, bool)
	Now       func() time.Time
	Log       *slog.Logger
	Config    Config
	// Lock, when set, is held around every change (several processes sharing one store take
	// turns through it); an in-process mutex is always held as well.
	Lock func(ctx context.Context, fn func(context.Context) error) error
	// Impact, when set, computes and keeps what a draft (identifier "") would reach: the
	// impact preview an approver sees. A failure is logged; the draft stands.
	Impact func(ctx context.Context, alertID int64, identifier string, msg *cap.Alert) error
	// Issued, when set, is told of every message issued, after it is stored (dissemination
	// plans its deliveries; it also finds stored messages without a plan by itself).
	Issued func(m *Message)
	// Attach, when set, is given each message about to be issued (identifier, sent and infos
	// set) before it is built and signed, and may add <resource>s to its infos (the voice
	// service's audio messages). It cannot fail the issue: what it cannot add, it leaves out.
	Attach func(ctx context.Context, m *cap.Alert)
	// Holder, when set, names whoever holds the key named (auth.HolderName): four eyes
	// compares holders, so a second key an organisation's admin mints for itself is still its
	// author. Nil: names are compared as they are.
	Holder func(ctx context.Context, name string) (string, error)

	mu sync.Mutex
}

// locked runs fn holding the service's locks.
func (s *Service) locked(ctx context.Context, fn func(context.Context) error) error {
	run := func(ctx context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return fn(ctx)
	}
	if s.Lock != nil {
		return s.Lock(ctx, run)
	}
	return run(ctx)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Trigger turns a rule's trigger into a new or changed draft, or issues at once when the rule
// says autoIssue. It returns the alert it touched (nil when there was nothing to do).
func (s *Service) Trigger(ctx context.Context, tr rule.Trigger) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.trigger(ctx, tr)
		return err
	})
	return a, err
}

func (s *Service) trigger(ctx context.Context, tr rule.Trigger) (*Alert, error) {
	r, ok := s.Rules(tr.RuleID)
	if !ok {
		return nil, apperr.E(apperr.NotFound, "rule %q is not loaded", tr.RuleID)
	}
	by := "rule:" + r.ID
	open, err := s.Store.OpenAlert(ctx, r.ID)
	if err != nil && apperr.KindOf(err) != apperr.NotFound {
		return nil, err
	}
	clearing := tr.Level < 0 || tr.Kind == rule.Clear || (tr.Kind == rule.Operational && tr.To == rule.Inactive)
	now := s.now()
	authors, err := s.authors(ctx, r.ID, tr)
	if err != nil {
		return nil, err
	}
	if clearing {
		switch {
		case open == nil:
			return nil, nil
		case len(open.Issued) == 0: // never issued: nothing to tell the public
			from := open.State
			open.State, open.Draft, open.DraftType, open.Authors, open.Updated = Withdrawn, nil, "", nil, now
			return open, s.Store.SaveAlert(ctx, open, Transition{AlertID: open.ID, From: from, To: Withdrawn, By: by, Why: "condition cleared before the alert was issued: " + tr.Cause, At: now}, nil)
		default:
			msg, err := s.compose(ctx, r, tr, open, cap.MsgCancel)
			if err != nil {
				return nil, err
			}
			if open.Draft != nil {
				authors = mergeAuthors(open.Authors, authors)
			}
			open.Authors = authors
			return open, s.setDraft(ctx, open, msg, cap.MsgCancel, -1, "", by, "all clear: "+tr.Cause, r.AutoIssue || r.Operational)
		}
	}
	if open == nil {
		a := &Alert{RuleID: r.ID, Organisation: r.Organisation, State: Draft, Status: capStatus(r.Status), Operational: r.Operational || tr.Operational,
			Level: tr.Level, LevelName: tr.LevelName, Created: now, Updated: now, DraftBy: by, DraftType: cap.MsgAlert, Authors: authors}
		msg, err := s.compose(ctx, r, tr, a, cap.MsgAlert)
		if err != nil {
			return nil, err
		}
		a.Draft = msg
		id, err := s.Store.CreateAlert(ctx, a, Transition{From: "", To: Draft, By: by, Why: tr.Cause, At: now})
		if err != nil {
			return nil, err
		}
		a.ID = id
		if r.AutoIssue || a.Operational {
			return a, s.issue(ctx, a, by, "rule issues automatically")
		}
		s.impact(ctx, a.ID, msg)
		return a, nil
	}
	kind := cap.MsgUpdate
	if len(open.Issued) == 0 {
		kind = cap.MsgAlert // still the first message, at a new level
	}
	msg, err := s.compose(ctx, r, tr, open, kind)
	if err != nil {
		return nil, err
	}
	why := fmt.Sprintf("%s to %s: %s", tr.Kind, tr.LevelName, tr.Cause)
	if open.Draft != nil {
		authors = mergeAuthors(open.Authors, authors)
	}
	open.Authors = authors
	return open, s.setDraft(ctx, open, msg, kind, tr.Level, tr.LevelName, by, why, r.AutoIssue || open.Operational)
}

// setDraft replaces the alert's draft and issues it when auto.
func (s *Service) setDraft(ctx context.Context, a *Alert, msg *cap.Alert, kind cap.MsgType, level int, levelName, by, why string, auto bool) error {
	now := s.now()
	from := a.State
	a.Draft, a.DraftType, a.DraftBy, a.Updated = msg, kind, by, now
	if level >= 0 {
		a.Level, a.LevelName = level, levelName
	}
	if a.State != Issued {
		a.State = Draft
	}
	if err := s.Store.SaveAlert(ctx, a, Transition{AlertID: a.ID, From: from, To: a.State, By: by, Why: "draft " + string(kind) + ": " + why, At: now}, nil); err != nil {
		return err
	}
	if !auto {
		s.impact(ctx, a.ID, msg)
	}
	if auto {
		return s.issue(ctx, a, by, "rule issues automatically")
	}
	return nil
}

// impact computes and keeps what a draft would reach (Service.Impact), logging a failure:
// the draft stands without it.
func (s *Service) impact(ctx context.Context, id int64, msg *cap.Alert) {
	if s.Impact == nil {
		return
	}
	if err := s.Impact(ctx, id, "", msg); err != nil {
		s.log().Warn("impact_failed", "alert", id, "err", err)
	}
}

// Approve issues an alert's draft. by must hold the approver role and may act for the alert's
// organisation (the caller checks). With four eyes on, by must not be one of the draft's
// authors: its drafter, anyone who ever changed its rule (as now recorded, so a change after
// the draft was made counts too), or whoever posted the deciding value; else a Forbidden error
// says which of these by is.
func (s *Service) Approve(ctx context.Context, id int64, by, why string) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.approve(ctx, id, by, why)
		return err
	})
	return a, err
}

func (s *Service) approve(ctx context.Context, id int64, by, why string) (*Alert, error) {
	a, err := s.Store.GetAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Draft == nil {
		return nil, apperr.E(apperr.Conflict, "alert %d has no draft to approve (state %s)", id, a.State)
	}
	if s.Config.FourEyes {
		if err := s.fourEyes(ctx, a, by); err != nil {
			return nil, err
		}
	}
	return a, s.issue(ctx, a, by, why)
}

// fourEyes refuses by as the approver of a's draft when by is one of its authors.
func (s *Service) fourEyes(ctx context.Context, a *Alert, by string) error {
	holder := func(name string) (string, error) {
		if s.Holder == nil || name == "" {
			return name, nil
		}
		return s.Holder(ctx, name)
	}
	hb, err := holder(by)
	if err != nil {
		return err
	}
	same := func(name string) (bool, error) {
		if name == by {
			return true, nil
		}
		h, err := holder(name)
		return h == hb, err
	}
	held := "" // how by and an author are the same
	if a.DraftBy != by {
		held = fmt.Sprintf(" as %s, a key of the same holder", a.DraftBy)
	}
	if ok, err := same(a.DraftBy); err != nil {
		return err
	} else if ok {
		return apperr.E(apperr.Forbidden, "four eyes: %s drafted alert %d%s, so cannot approve it; another approver must", by, a.ID, held)
	}
	names, err := s.Store.RuleAuthors(ctx, a.RuleID)
	if err != nil {
		return err
	}
	authors := slices.Clone(a.Authors)
	for _, n := range names {
		authors = append(authors, Author{Name: n, As: AsRule})
	}
	for _, au := range authors {
		if ok, err := same(au.Name); err != nil {
			return err
		} else if !ok {
			continue
		}
		what := fmt.Sprintf("changed rule %s", a.RuleID)
		switch au.As {
		case AsValue:
			what = "posted the value that decided it"
		case AsEdit:
			what = "edited it"
		}
		if au.Name != by {
			what += fmt.Sprintf(" as %s, a key of the same holder", au.Name)
		}
		return apperr.E(apperr.Forbidden, "four eyes: %s %s, so is an author of alert %d's draft and cannot approve it; another approver must", by, what, a.ID)
	}
	return nil
}

// Reject withdraws an alert's draft (an Update or Cancel draft of an issued alert is dropped;
// the issued message stays).
func (s *Service) Reject(ctx context.Context, id int64, by, why string) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.reject(ctx, id, by, why)
		return err
	})
	return a, err
}

func (s *Service) reject(ctx context.Context, id int64, by, why string) (*Alert, error) {
	a, err := s.Store.GetAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Draft == nil {
		return nil, apperr.E(apperr.Conflict, "alert %d has no draft to reject (state %s)", id, a.State)
	}
	from := a.State
	a.Draft, a.DraftType, a.Authors, a.Updated = nil, "", nil, s.now()
	if a.State == Draft {
		a.State = Withdrawn
	}
	return a, s.Store.SaveAlert(ctx, a, Transition{AlertID: id, From: from, To: a.State, By: by, Why: "draft rejected: " + why, At: a.Updated}, nil)
}

// Cancel issues a Cancel for an issued alert at once (an approver's decision, not a rule's).
func (s *Service) Cancel(ctx context.Context, id int64, by, why string) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.cancel(ctx, id, by, why)
		return err
	})
	return a, err
}

func (s *Service) cancel(ctx context.Context, id int64, by, why string) (*Alert, error) {
	a, err := s.Store.GetAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.State != Issued {
		return nil, apperr.E(apperr.Conflict, "alert %d is %s; only an issued alert can be cancelled", id, a.State)
	}
	last := a.Last()
	prev, err := cap.Unmarshal(last.XML)
	if err != nil {
		return nil, fmt.Errorf("cancel alert %d: read its last message: %w", id, err)
	}
	msg := *prev
	msg.MsgType, msg.Sent, msg.Extensions = cap.MsgCancel, time.Time{}, nil
	msg.Infos = append([]cap.Info(nil), prev.Infos...)
	// the Cancel must read as one in every language: the rule's all-clear texts where the
	// rule is loaded, and each info says which warning it withdraws
	if r, ok := s.rules(a.RuleID); ok {
		tr := rule.Trigger{RuleID: r.ID, Level: -1, Cause: why, At: s.now(), ObservedAt: last.Sent}
		if c, err := s.compose(ctx, r, tr, a, cap.MsgCancel); err == nil && len(c.Infos) == len(prev.Infos) {
			for i := range msg.Infos {
				msg.Infos[i].Headline, msg.Infos[i].Instruction = c.Infos[i].Headline, c.Infos[i].Instruction
			}
		}
	}
	for i := range msg.Infos {
		in := &msg.Infos[i]
		label := i18n.For(in.Language).Text(i18n.LabelCancelled) + ": "
		in.Description = label + prev.Infos[i].Headline
		in.Headline = label + in.Headline
	}
	msg.Note = "Cancelled: " + why
	a.Draft, a.DraftType, a.DraftBy, a.Authors = &msg, cap.MsgCancel, by, nil
	return a, s.issue(ctx, a, by, why)
}

// rules looks a rule up, when the service has rules.
func (s *Service) rules(id string) (rule.Rule, bool) {
	if s.Rules == nil {
		return rule.Rule{}, false
	}
	return s.Rules(id)
}

// ExpireDue marks issued alerts whose latest message has expired.
func (s *Service) ExpireDue(ctx context.Context) error {
	return s.locked(ctx, s.expireDue)
}

func (s *Service) expireDue(ctx context.Context) error {
	now := s.now()
	due, err := s.Store.ExpiredAlerts(ctx, now)
	if err != nil {
		return err
	}
	for _, a := range due {
		a.State, a.Updated = Expired, now
		if err := s.Store.SaveAlert(ctx, a, Transition{AlertID: a.ID, From: Issued, To: Expired, By: "system", Why: "expired at " + cap.FormatTime(a.Last().Expires), At: now}, nil); err != nil {
			return err
		}
	}
	return nil
}

// issue turns the draft into the next issued message: identifier, sent, references to the
// previous messages (and, for a received alert, to the original's, Receive); builds (validates, refuses stale), signs, stores and publishes it.
func (s *Service) issue(ctx context.Context, a *Alert, by, why string) error {
	now := s.now().Truncate(time.Second)
	m := *a.Draft
	m.Identifier = fmt.Sprintf("rabta-%s-%d-%d", s.Config.Node, a.ID, len(a.Issued)+1)
	m.Sender = s.sender()
	m.Sent = now
	m.MsgType = a.DraftType
	m.References = kept(a) // a received alert's references to its original (received.go)
	for _, prev := range a.Issued {
		m.References = append(m.References, cap.Reference{Sender: prev.Sender, Identifier: prev.Identifier, Sent: prev.Sent})
	}
	if m.MsgType != cap.MsgAlert && len(m.References) == 0 {
		m.MsgType = cap.MsgAlert
	}
	expires := now.Add(s.expiry())
	m.Infos = append([]cap.Info(nil), m.Infos...)
	for i := range m.Infos {
		in := &m.Infos[i]
		in.Effective = now
		if in.Onset.Before(now) {
			in.Onset = now
		}
		in.Expires = now.Add(s.expiry())
		if in.Onset.After(now) { // a forecast: valid until well after what it announces
			in.Expires = in.Onset.Add(s.expiry())
		}
		if in.Expires.After(expires) { // the message lives as long as its longest info
			expires = in.Expires
		}
		if m.MsgType == cap.MsgCancel {
			in.Urgency, in.Severity, in.Certainty = "Past", "Minor", "Observed"
		}
	}
	if s.Attach != nil {
		s.Attach(ctx, &m)
	}
	xml, notes, err := cap.Builder{Now: func() time.Time { return now }}.Build(&m)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "alert %d: the draft cannot be issued", a.ID)
	}
	if s.Signer != nil {
		if xml, err = s.Signer.Sign(xml); err != nil {
			return fmt.Errorf("sign alert %d: %w", a.ID, err)
		}
	}
	msg := &Message{AlertID: a.ID, Identifier: m.Identifier, Sender: m.Sender, Sent: now, Expires: expires, MsgType: m.MsgType,
		Status: m.Status, Operational: a.Operational, XML: xml}
	if len(m.Infos) > 0 {
		msg.Headline = m.Infos[0].Headline
	}
	from := a.State
	a.State = Issued
	if m.MsgType == cap.MsgCancel {
		a.State = Cancelled
	}
	a.Draft, a.DraftType, a.DraftBy, a.Authors, a.Updated = nil, "", "", nil, now
	a.Issued = append(a.Issued, *msg)
	if len(notes) > 0 {
		why += " (" + strings.Join(notes, "; ") + ")"
	}
	if err := s.Store.SaveAlert(ctx, a, Transition{AlertID: a.ID, From: from, To: a.State, By: by, Why: "issued " + string(m.MsgType) + ": " + why, At: now, Identifier: m.Identifier}, msg); err != nil {
		return err
	}
	if s.Publisher != nil {
		if err := s.Publisher.PublishAlert(ctx, msg); err != nil {
			// stored and on the feed; the bus copy is best effort and logged
			s.log().Warn("alert_publish_failed", "identifier", msg.Identifier, "err", err)
		}
	}
	if s.Issued != nil {
		s.Issued(msg)
	}
	s.log().Info("alert_issued", "alert", a.ID, "identifier", msg.Identifier, "msg_type", string(m.MsgType), "status", string(m.Status), "by", by)
	return nil
}

func (s *Service) sender() string {
	if s.Config.Sender != "" {
		return s.Config.Sender
	}
	return "rabta@" + s.Config.Node
}

func (s *Service) expiry() time.Duration {
	if s.Config.Expiry > 0 {
		return s.Config.Expiry
	}
	return 24 * time.Hour
}

func capStatus(st rule.Status) cap.Status {
	if st == "" {
		return cap.StatusActual
	}
	return cap.Status(st)
}

// templateData is what rule templates see. Every field is written in the language of the
// <info> being rendered (i18n): Level and Event by name, Station through Config.Names, numbers
// in the language's digits, times in Config.Zone.
type templateData struct {
	Rule       string // the rule's name, as written
	Station    string // the station's name in the language (Config.Names; else as the store has it)
	Level      string // the level's class name in the language ("نچلے" for Low in Urdu); "All clear" in the language for a Cancel
	Value      string // the deciding value, a number in the language's digits
	Unit       string // the value's unit in the language ("cusecs", "کیوسک"); "" when unknown
	Quantity   string // Value and Unit as the language writes them together
	ObservedAt string // the deciding observation's time, in Config.Zone, e.g. "27 اگست 2025، 13:00 (پاکستان کا معیاری وقت)"
	LeadTime   string // forecast rules: the lead time, e.g. "6 hours", "6 گھنٹے"; "" otherwise
	In         string // forecast rules: "in 6 hours", "6 گھنٹے میں"; "" otherwise
	Cause      string // the engine's own note, in English, for operators
	Event      string // the level's CAP event in the language ("Flood", "سیلاب")
	Area       string // the rule's area description in the language (Config.Names)
	Cancel     bool   // the message is a Cancel (all clear)
}

// defaultTemplates are used for languages a rule gives no template for (English only: a rule
// that wants Urdu or Chinese must say it in those languages).
var defaultTemplates = map[string]rule.Template{
	"en": {
		Headline:    "{{if .Cancel}}All clear: {{.Event}} warning for {{.Station}} ended{{else}}{{.Level}} {{.Event}} warning: {{.Station}}{{end}}",
		Description: "{{.Station}} reported {{.Quantity}} at {{.ObservedAt}} ({{.Level}}).{{if .In}} Expected {{.In}}.{{end}}",
		Instruction: "Follow the instructions of your local disaster management authority.",
	},
}

// compose builds the CAP message for a trigger: one <info> per template language, each
// wholly in its language (see templateData).
func (s *Service) compose(ctx context.Context, r rule.Rule, tr rule.Trigger, a *Alert, kind cap.MsgType) (*cap.Alert, error) {
	station, unit := "", ""
	if s.Labels != nil && tr.Datastream > 0 {
		station, unit, _ = s.Labels.DatastreamLabel(ctx, tr.Datastream)
	}
	if station == "" {
		station = r.Name
	}
	level := rule.Level{Event: "Flood", Severity: rule.UnknownSeverity, Urgency: rule.UnknownUrgency, Certainty: rule.UnknownCertainty}
	li := tr.Level
	if li < 0 && a != nil {
		li = a.Level
	}
	if li >= 0 && li < len(r.Levels) {
		level = r.Levels[li]
	}
	if level.Event == "" {
		level.Event = "Warning"
	}
	levelName := tr.LevelName
	if kind == cap.MsgCancel {
		levelName = "All clear"
	}
	zone := s.Config.Zone
	if zone == nil {
		zone = i18n.Karachi()
	}
	tpls := r.Templates
	if len(tpls) == 0 {
		tpls = defaultTemplates
	}
	langs := make([]string, 0, len(tpls))
	for l := range tpls {
		langs = append(langs, l)
	}
	sort.Slice(langs, func(i, j int) bool { // English first, then by tag
		if (langs[i] == "en") != (langs[j] == "en") {
			return langs[i] == "en"
		}
		return langs[i] < langs[j]
	})
	status := capStatus(r.Status)
	msg := &cap.Alert{Status: status, MsgType: kind, Scope: "Public"}
	if a != nil && a.Operational || r.Operational {
		msg.Scope, msg.Restriction = "Restricted", "operational: for the node's operators, not for the public"
	}
	if status == cap.StatusExercise {
		msg.Note = "EXERCISE — this is not a real warning."
	}
	area := capArea(r.Area)
	onset := tr.ObservedAt
	if tr.LeadTime > 0 {
		onset = tr.At.Add(tr.LeadTime)
	}
	names := s.Config.Names
	name := func(lang, text string) string {
		n, _ := names.Name(lang, text)
		return n
	}
	for _, lang := range langs {
		t := tpls[lang]
		l := i18n.For(lang)
		d := templateData{Rule: r.Name, Station: name(lang, station), Value: l.Number(tr.Value), Quantity: l.Quantity(tr.Value, unit),
			ObservedAt: l.DateTime(tr.ObservedAt, zone), Cause: tr.Cause, Area: name(lang, r.Area.Desc), Cancel: kind == cap.MsgCancel}
		if unit != "" {
			d.Unit, _ = l.Unit(unit)
		}
		var ok bool
		if d.Level, ok = l.Class(levelName); !ok {
			d.Level = name(lang, levelName)
		}
		if d.Event, ok = l.Event(level.Event); !ok {
			d.Event = name(lang, level.Event)
		}
		if tr.LeadTime > 0 {
			d.LeadTime, d.In = l.Duration(tr.LeadTime), l.In(tr.LeadTime)
		}
		category := cap.Category("Met")
		if r.Category != "" {
			category = cap.Category(r.Category)
		}
		in := cap.Info{Language: lang, Categories: []cap.Category{category}, Event: d.Event,
			ResponseType: []cap.ResponseType{"Monitor"},
			Urgency:      cap.Urgency(level.Urgency), Severity: cap.Severity(level.Severity), Certainty: cap.Certainty(level.Certainty),
			Audience: name(lang, r.Audience), SenderName: name(lang, s.Config.SenderName), Web: s.Config.Web, Onset: onset,
			// rabta:level is for machines: the level's name as the rule writes it.
			Parameters: []cap.ValuePair{{ValueName: "rabta:rule", Value: r.ID}, {ValueName: "rabta:level", Value: levelName}}}
		if len(r.Audiences) > 0 {
			// rabta:audience is for dissemination: the audiences an Actual message goes to
			// (a sector advisory's), space-separated; without it, everyone in the area.
			in.Parameters = append(in.Parameters, cap.ValuePair{ValueName: "rabta:audience", Value: strings.Join(r.Audiences, " ")})
		}
		if kind == cap.MsgCancel {
			in.ResponseType = []cap.ResponseType{"AllClear"}
		} else if level.Severity == rule.Extreme || level.Severity == rule.Severe {
			in.ResponseType = []cap.ResponseType{"Prepare", "Monitor"}
		}
		var err error
		if in.Headline, err = render(t.Headline, d); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "rule %s: template %s headline", r.ID, lang)
		}
		if in.Description, err = render(t.Description, d); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "rule %s: template %s description", r.ID, lang)
		}
		if in.Instruction, err = render(t.Instruction, d); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "rule %s: template %s instruction", r.ID, lang)
		}
		if area.AreaDesc != "" {
			ar := area
			ar.AreaDesc = d.Area
			in.Areas = []cap.Area{ar}
		}
		msg.Infos = append(msg.Infos, in)
	}
	return msg, nil
}

func render(text string, d templateData) (string, error) {
	if text == "" {
		return "", nil
	}
	t, err := template.New("t").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// unknownField finds the field text/template could not evaluate.
var unknownField = regexp.MustCompile(`can't evaluate field (\w+) in type`)

// templateFields lists what templateData offers, for an error naming a field it does not.
const templateFields = ".Rule, .Station, .Level, .Value, .Unit, .Quantity, .ObservedAt, .LeadTime, .In, .Cause, .Event, .Area and .Cancel (docs/rules.md)"

// CheckTemplates parses a rule's templates, so that a broken one is refused when the rule is
// applied, not when it fires.
func CheckTemplates(r rule.Rule) error {
	for lang, t := range r.Templates {
		for name, text := range map[string]string{"headline": t.Headline, "description": t.Description, "instruction": t.Instruction} {
			if _, err := render(text, templateData{}); err != nil {
				if m := unknownField.FindStringSubmatch(err.Error()); m != nil { // not the Go type's name
					return apperr.E(apperr.Invalid, "rule %s: templates.%s.%s: no field .%s; a template sees %s", r.ID, lang, name, m[1], templateFields)
				}
				return apperr.E(apperr.Invalid, "rule %s: templates.%s.%s: %v", r.ID, lang, name, err)
			}
		}
	}
	return nil
}

func capArea(a rule.Area) cap.Area {
	out := cap.Area{AreaDesc: a.Desc}
	for _, pg := range a.Polygons {
		var p cap.Polygon
		for _, pt := range pg {
			p = append(p, cap.Point{Lat: pt.Lat, Lon: pt.Lon})
		}
		out.Polygons = append(out.Polygons, p)
	}
	for _, c := range a.Circles {
		out.Circles = append(out.Circles, cap.Circle{Center: cap.Point{Lat: c.Center.Lat, Lon: c.Center.Lon}, RadiusKM: c.RadiusKm})
	}
	for _, g := range a.Geocodes {
		out.Geocodes = append(out.Geocodes, cap.ValuePair{ValueName: g.Name, Value: g.Value})
	}
	return out
}
