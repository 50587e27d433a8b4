// Package twoway answers the SMS people send to the node's number as commands (issue 14):
// JOIN <place> subscribes the number to warnings for a place, STOP withdraws consent, LANG
// <language> sets the language of warnings and replies, LEVEL <gauge or place> answers with
// the current level of a river gauge, its flood class and trend, and HELP (or anything else)
// lists the commands. Command words are English, Roman Urdu or Urdu (Words); place and gauge
// names are matched fuzzily (Matcher).
//
// Messages arrive as channel.Inbound from any gateway (Kannel's sms-service, SMPP
// deliver_sm); replies go out through the node's SMS channel.Sender. Every message and reply
// is recorded (Store) with the number as its lookup key and the text sealed, as subscribers'
// contacts are; numbers are never logged in clear. Each number is rate-limited: over its
// limit it gets one "too many messages" reply, then nothing until its bucket refills.
package twoway

import (
	"context"

	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sms"
)

// Subscribers is what the service needs of dissemination.
type Subscribers interface {
	Subscribe(ctx context.Context, sub dissemination.Subscriber) (int64, error)
	Unsubscribe(ctx context.Context, ch channel.Kind, address string) (int, error)
}

var _ Subscribers = (*dissemination.Service)(nil)

// Message is one SMS in or out, as recorded.
type Message struct {
	ID        int64
	At        time.Time
	Direction string // "in" or "out"
	Lookup    string // the number's lookup key (dissemination.Sealer.Lookup("sms", number))
	Gateway   string // "kannel", "smpp"; for replies, the sender's kind
	Verb      Verb
	Sealed    []byte // the text, sealed with the contacts key
	Outcome   string // in: "handled", "limited", "dropped"; out: "sent", "failed: …"
}

// Store records messages and keeps each number's language.
type Store interface {
	// Record stores m and sets its ID.
	Record(ctx context.Context, m *Message) error
	// SetLanguage remembers lang for the number with lookup key lookup and sets it on every
	// subscriber that has an SMS contact with that key; it returns how many it changed.
	SetLanguage(ctx context.Context, lookup, lang string, at time.Time) (int, error)
	// Language returns the language remembered for lookup, "" when none.
	Language(ctx context.Context, lookup string) (string, error)
}

// Gauge is a river gauge as LEVEL reports it.
type Gauge struct {
	Datastream int64
	Name       string // the station (Thing) name, e.g. "Ravi at Shahdara"
	Unit       string // e.g. "cusec", "m"
	Lat, Lon   float64
	// Recent are the latest readings, newest first.
	Recent []sensing.Point
	// Levels are the flood classes of the rules that read it, in ascending order of
	// threshold for Direction Above (descending for Below).
	Levels    []rule.Level
	Direction rule.Direction
}

// Service handles incoming SMS. Set the fields, then call Handle for each message.
type Service struct {
	Subscribers Subscribers
	Store       Store
	Sealer      *dissemination.Sealer
	// Sender sends replies (the node's SMS channel); nil records replies as failed.
	Sender channel.Sender
	// Places lists the gazetteer; Gauges the gauges LEVEL can report.
	Places func(ctx context.Context) ([]place.Place, error)
	Gauges func(ctx context.Context) ([]Gauge, error)
	// Org is the organisation SMS subscribers belong to (auth.NodeOrganisation when "").
	Org string
	// Languages are the languages LANG accepts besides ur and en (BCP 47 tags).
	Languages []string
	// Default is the language of a number that has said nothing else ("ur" when "").
	Default string
	// Every and Burst limit each number: Burst messages at once, then one per Every
	// (defaults: 5, then one a minute). Entries bounds the numbers remembered (10,000).
	Every   time.Duration
	Burst   int
	Entries int
	// Counted, when set, is told each message's verb and outcome (for metrics).
	Counted func(verb Verb, outcome string)
	Now     func() time.Time
	Log     *slog.Logger

	once  sync.Once
	lim   *limiter
	mu    sync.Mutex
	pm    *Matcher // places
	pkeys map[string]place.Place
	pn    int
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
	return slog.New(slog.DiscardHandler)
}

func (s *Service) init() {
	s.once.Do(func() {
		every, burst, n := s.Every, s.Burst, s.Entries
		if every <= 0 {
			every = time.Minute
		}
		if burst <= 0 {
			burst = 5
		}
		if n <= 0 {
			n = 10000
		}
		s.lim = newLimiter(every, burst, n)
	})
}

// Handle reads in as a command, acts on it, sends the reply and records both. It returns an
// error only when the message could not be handled for a reason of the node's (the store
// is down): the gateway may then offer it again.
func (s *Service) Handle(ctx context.Context, in channel.Inbound) error {
	s.init()
	if _, err := dissemination.PhoneNumber(in.From); err != nil {
		return apperr.E(apperr.Invalid, "from: %v", err)
	}
	lookup := s.Sealer.Lookup(channel.SMS, in.From)
	cmd := Parse(in.Text)
	rec := &Message{At: in.Received, Direction: "in", Lookup: lookup, Gateway: in.Gateway, Verb: cmd.Verb, Sealed: s.Sealer.Seal([]byte(in.Text))}
	if rec.At.IsZero() {
		rec.At = s.now()
	}
	ok, tell := s.lim.allow(lookup, s.now())
	if !ok {
		rec.Outcome = "dropped"
		if tell {
			rec.Outcome = "limited"
		}
		s.count(cmd.Verb, rec.Outcome)
		if err := s.Store.Record(ctx, rec); err != nil {
			return err
		}
		s.log().Info("sms_rate_limited", "message", in, "told", tell)
		if tell {
			lang := s.replyLanguage(ctx, lookup, cmd)
			s.reply(ctx, in, lookup, cmd.Verb, textsFor(lang).TooMany)
		}
		return nil
	}
	start := time.Now()
	text, err := s.answer(ctx, in, lookup, cmd)
	if err != nil {
		return err
	}
	rec.Outcome = "handled"
	if err := s.Store.Record(ctx, rec); err != nil {
		return err
	}
	s.count(cmd.Verb, rec.Outcome)
	answered := time.Since(start)
	s.reply(ctx, in, lookup, cmd.Verb, text)
	s.log().Info("sms_command", "message", in, "command", string(cmd.Verb), "fuzzy", cmd.Fuzzy,
		"answer", answered.Round(time.Microsecond), "took", time.Since(start).Round(time.Microsecond))
	return nil
}

func (s *Service) count(v Verb, outcome string) {
	if s.Counted != nil {
		s.Counted(v, outcome)
	}
}

// replyLanguage: the command word's language for a command in Urdu or Chinese, else the
// number's remembered language when replies are written in it (ReplyLanguages), else the
// command's, else the default.
func (s *Service) replyLanguage(ctx context.Context, lookup string, cmd Command) string {
	if cmd.Language == "ur" || cmd.Language == "zh" {
		return cmd.Language
	}
	if l, err := s.Store.Language(ctx, lookup); err == nil && hasReplies(l) {
		return l
	}
	if cmd.Language != "" {
		return cmd.Language
	}
	if hasReplies(s.Default) {
		return s.Default
	}
	return "ur"
}

func (s *Service) reply(ctx context.Context, in channel.Inbound, lookup string, v Verb, text string) {
	out := &Message{At: s.now(), Direction: "out", Lookup: lookup, Verb: v, Sealed: s.Sealer.Seal([]byte(text)), Outcome: "sent"}
	if s.Sender == nil {
		out.Outcome = "failed: no SMS gateway is configured"
	} else {
		out.Gateway = string(s.Sender.Kind())
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := s.Sender.Send(sctx, channel.Message{Kind: channel.SMS, To: in.From, Text: text, Language: langOf(text)})
		cancel()
		if err != nil {
			out.Outcome = "failed: " + err.Error()
			s.log().Warn("sms_reply_failed", "message", in, "err", err)
		}
	}
	if err := s.Store.Record(context.WithoutCancel(ctx), out); err != nil {
		s.log().Warn("sms_reply_unrecorded", "err", err)
	}
}

// langOf guesses a reply's script for channel.Message.Language: Arabic script "ur", Han
// "zh", else "en".
func langOf(text string) string {
	for _, r := range text {
		switch {
		case r >= 0x0600 && r <= 0x06FF:
			return "ur"
		case r >= 0x4E00 && r <= 0x9FFF:
			return "zh"
		}
	}
	return "en"
}

func (s *Service) answer(ctx context.Context, in channel.Inbound, lookup string, cmd Command) (string, error) {
	lang := s.replyLanguage(ctx, lookup, cmd)
	switch cmd.Verb {
	case Join:
		return s.join(ctx, in, lookup, cmd, lang)
	case Stop:
		if _, err := s.Subscribers.Unsubscribe(ctx, channel.SMS, in.From); err != nil {
			return "", err
		}
		return textsFor(lang).Stop, nil
	case Lang:
		return s.lang(ctx, lookup, cmd, lang)
	case Level:
		return s.level(ctx, cmd, lang)
	}
	return helpText(lang), nil
}

// fit returns text when it fits one SMS segment, else short.
func fit(text, short string) string {
	if Segments(text) <= 1 {
		return text
	}
	return short
}

func (s *Service) join(ctx context.Context, in channel.Inbound, lookup string, cmd Command, lang string) (string, error) {
	usage := textsFor(lang).JoinUsage
	if cmd.Arg == "" {
		return usage, nil
	}
	p, ok, err := s.findPlace(ctx, cmd.Arg)
	if err != nil {
		return "", err
	}
	if !ok {
		return fit(textsFor(lang).NotFound+usage, usage), nil
	}
	sl := lang
	if l, err := s.Store.Language(ctx, lookup); err == nil && l != "" {
		sl = l
	}
	org := s.Org
	if org == "" {
		org = "admin"
	}
	_, err = s.Subscribers.Subscribe(ctx, dissemination.Subscriber{Org: org, Kind: "person", Name: "SMS " + in.Gateway + " subscriber",
		Language: sl, Audiences: []string{"public"}, Place: p.Key,
		Contacts: []dissemination.Contact{{Channel: channel.SMS, Address: in.From}},
		Consent:  dissemination.Consent{At: in.Received, Source: "sms-join"}})
	if err != nil && apperr.KindOf(err) != apperr.Conflict {
		if apperr.KindOf(err) == apperr.Invalid {
			return usage, nil
		}
		return "", err
	}
	name := p.Name
	if lang == "ur" && p.NameUr != "" {
		name = p.NameUr
	}
	return joinText(lang, name), nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// LanguageOf reads a language a person names: a BCP 47 tag ("ur", "en", "sd"), its name in
// English ("urdu", "Sindhi"), in itself ("اردو", "سنڌي"), or a Roman Urdu name ("angrezi").
// Only ur, en and extra are accepted; the tag is returned.
func LanguageOf(name string, extra []string) (string, bool) {
	f := squash(name)
	if f == "" {
		return "", false
	}
	known := map[string]string{"ANGREZI": "en", "ANGREZEE": "en", "ANGRAIZI": "en", "انگریزی": "en", "URDOO": "ur"}
	if t, ok := known[f]; ok {
		return t, true
	}
	for _, t := range append([]string{"ur", "en"}, extra...) {
		tag, err := language.Parse(t)
		if err != nil {
			continue
		}
		for _, n := range []string{t, display.English.Tags().Name(tag), display.Self.Name(tag)} {
			if n != "" && squash(n) == f {
				return t, true
			}
		}
	}
	return "", false
}

func (s *Service) lang(ctx context.Context, lookup string, cmd Command, lang string) (string, error) {
	t, ok := LanguageOf(cmd.Arg, s.Languages)
	if !ok {
		names := []string{"urdu", "english"}
		for _, l := range s.Languages {
			if tag, err := language.Parse(l); err == nil && l != "ur" && l != "en" {
				names = append(names, strings.ToLower(display.English.Tags().Name(tag)))
			}
		}
		tx := textsFor(lang)
		return fit(fmt.Sprintf(tx.LangUsage, strings.Join(names, ", ")), tx.LangShort), nil
	}
	if _, err := s.Store.SetLanguage(ctx, lookup, t, s.now()); err != nil {
		return "", err
	}
	if hasReplies(t) { // the confirmation in the language chosen
		return textsFor(t).LangSet, nil
	}
	tag := language.Make(t)
	return fit(fmt.Sprintf("Language set: %s (%s).", display.English.Tags().Name(tag), display.Self.Name(tag)), "Language set: "+t), nil
}

// urduNames are the Urdu-script names of the larger districts and cities (the embedded
// gazetteer has none; places imported with name_ur add theirs).
var urduNames = map[string]string{
	"Lahore": "لاہور", "Karachi": "کراچی", "Islamabad": "اسلام آباد", "Rawalpindi": "راولپنڈی", "Peshawar": "پشاور",
	"Quetta": "کوئٹہ", "Multan": "ملتان", "Faisalabad": "فیصل آباد", "Hyderabad": "حیدرآباد", "Sukkur": "سکھر",
	"Gujranwala": "گوجرانوالہ", "Sialkot": "سیالکوٹ", "Sargodha": "سرگودھا", "Bahawalpur": "بہاولپور", "Jhang": "جھنگ",
	"Dera Ghazi Khan": "ڈیرہ غازی خان", "Dera Ismail Khan": "ڈیرہ اسماعیل خان", "Mianwali": "میانوالی", "Muzaffargarh": "مظفر گڑھ",
	"Rajanpur": "راجن پور", "Nowshera": "نوشہرہ", "Charsadda": "چارسدہ", "Swat": "سوات", "Larkana": "لاڑکانہ", "Thatta": "ٹھٹہ",
	"Jacobabad": "جیکب آباد", "Gilgit": "گلگت", "Muzaffarabad": "مظفر آباد", "Kasur": "قصور", "Sheikhupura": "شیخوپورہ",
}

func (s *Service) findPlace(ctx context.Context, q string) (place.Place, bool, error) {
	if s.Places == nil {
		return place.Place{}, false, nil
	}
	ps, err := s.Places(ctx)
	if err != nil {
		return place.Place{}, false, err
	}
	s.mu.Lock()
	if s.pm == nil || s.pn != len(ps) {
		var cands []Candidate
		s.pkeys = map[string]place.Place{}
		for _, p := range ps {
			if p.Country != "" && p.Country != "PK" {
				continue
			}
			names := []string{p.Name}
			if p.NameUr != "" {
				names = append(names, p.NameUr)
			}
			if u := urduNames[p.Name]; u != "" {
				names = append(names, u)
			}
			cands = append(cands, Candidate{Key: p.Key, Names: names, Rank: p.Kind.Rank()})
			s.pkeys[p.Key] = p
		}
		s.pm, s.pn = NewMatcher(cands), len(ps)
	}
	m, keys := s.pm, s.pkeys
	s.mu.Unlock()
	c, _, ok := m.Match(q)
	if !ok {
		return place.Place{}, false, nil
	}
	p := keys[c.Key]
	if p.NameUr == "" {
		p.NameUr = urduNames[p.Name]
	}
	return p, true, nil
}

func (s *Service) level(ctx context.Context, cmd Command, lang string) (string, error) {
	usage := textsFor(lang).LevelUsage
	if cmd.Arg == "" || s.Gauges == nil {
		return usage, nil
	}
	gs, err := s.Gauges(ctx)
	if err != nil {
		return "", err
	}
	var with []Gauge
	for _, g := range gs {
		if len(g.Recent) > 0 {
			with = append(with, g)
		}
	}
	if len(with) == 0 {
		return textsFor(lang).NoReadings, nil
	}
	var cands []Candidate
	for i, g := range with {
		names := []string{g.Name}
		names = append(names, strings.Fields(strings.NewReplacer(" at ", " ", "(", " ", ")", " ").Replace(g.Name))...)
		cands = append(cands, Candidate{Key: fmt.Sprint(i), Names: names, Rank: i})
	}
	var g *Gauge
	at := func(key string) *Gauge {
		var i int
		fmt.Sscan(key, &i)
		return &with[i]
	}
	c, d, gok := NewMatcher(cands).Match(cmd.Arg)
	if gok && d == 0 {
		g = at(c.Key)
	} else {
		p, pok, err := s.findPlace(ctx, cmd.Arg)
		if err != nil {
			return "", err
		}
		switch {
		case pok:
			best := math.Inf(1)
			for i := range with {
				if d := distanceKM(p.Lat, p.Lon, with[i].Lat, with[i].Lon); d < best {
					best, g = d, &with[i]
				}
			}
		case gok:
			g = at(c.Key)
		}
	}
	if g == nil {
		return fit(textsFor(lang).NoGauge+usage, usage), nil
	}
	return LevelText(*g, lang), nil
}

// Class returns the name of the highest flood class g's latest reading reaches, "" when it
// reaches none (or g has no levels or readings).
func Class(g Gauge) string {
	if len(g.Recent) == 0 {
		return ""
	}
	v, name := g.Recent[0].V, ""
	lv := slices.Clone(g.Levels)
	slices.SortFunc(lv, func(a, b rule.Level) int {
		if g.Direction == rule.Below {
			return -cmpf(a.Value, b.Value)
		}
		return cmpf(a.Value, b.Value)
	})
	for _, l := range lv {
		if g.Direction == rule.Below && v <= l.Value || g.Direction != rule.Below && v >= l.Value {
			name = l.Name
		}
	}
	return name
}

func cmpf(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Trend compares the latest reading with the oldest of up to the last four: "rising" or
// "falling" when it moved by more than 1% (of the larger magnitude, at least 0.01 units),
// else "steady"; "" with fewer than two readings.
func Trend(recent []sensing.Point) string {
	if len(recent) < 2 {
		return ""
	}
	old := recent[min(3, len(recent)-1)].V
	d := recent[0].V - old
	eps := math.Max(0.01*math.Max(math.Abs(recent[0].V), math.Abs(old)), 0.01)
	switch {
	case d > eps:
		return "rising"
	case d < -eps:
		return "falling"
	}
	return "steady"
}

// LevelText is the reply to LEVEL for g: "Ravi at Shahdara: 2500 cusec at 06:00Z 27 Aug,
// High flood, rising." in English; in the other reply languages the same parts in the
// language's words and punctuation ("Ravi at Shahdara: 2500 cusec (06:00Z 27 Aug)، High
// سیلاب، بڑھ رہا ہے"). Shortened to fit one segment: without the time, then with the name
// clipped, then value and class only.
func LevelText(g Gauge, lang string) string {
	r := g.Recent[0]
	val := fmt.Sprintf("%s %s", trimFloat(r.V), g.Unit)
	at := r.T.UTC().Format("15:04Z 2 Jan")
	class, trend := Class(g), Trend(g.Recent)
	tx := textsFor(lang)
	cls := tx.Normal
	if class != "" {
		cls = fmt.Sprintf(tx.Flood, class)
	}
	tr := tx.trendWord(trend)
	if lang == "en" || !hasReplies(lang) {
		t := fmt.Sprintf("%s: %s at %s, %s", g.Name, val, at, cls)
		if tr != "" {
			t += ", " + tr
		}
		return fit(t+".", fit(fmt.Sprintf("%s: %s.", clip(g.Name, 40), tx.list(val, cls, tr)), fmt.Sprintf("%s, %s.", val, cls)))
	}
	return fit(fmt.Sprintf("%s: %s (%s)%s%s", g.Name, val, at, tx.Comma, tx.list(cls, tr)),
		fit(fmt.Sprintf("%s: %s", clip(g.Name, 20), tx.list(val, cls, tr)), tx.list(val, cls)))
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func distanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// Segments is the number of SMS segments text takes (package sms).
func Segments(text string) int { return sms.Analyze(text).Parts }
