package public

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/twoway"
)

// Alerts is what the page reads of the alert store (alert.Store has both).
type Alerts interface {
	// ActiveMessages returns the latest message of every issued, unexpired alert; the page
	// asks for public ones only (includeOperational false).
	ActiveMessages(ctx context.Context, now time.Time, includeOperational bool) ([]alert.Message, error)
	// GetAlert returns an alert with its issued messages (apperr.NotFound when there is none).
	GetAlert(ctx context.Context, id int64) (*alert.Alert, error)
}

var _ Alerts = (alert.Store)(nil)

// Server serves the public alert page (see the package documentation for routes and limits).
type Server struct {
	Alerts Alerts
	// Places returns the node's gazetteer (place search and the nearest place to a point); nil
	// leaves search by name out (the form says so by answering that no place is known).
	Places func(ctx context.Context) (*place.Gazetteer, error)
	// DefaultLang is the language when neither ?lang nor Accept-Language choose one ("" → "en").
	DefaultLang string
	// Zone is where times are written (nil: Asia/Karachi).
	Zone *time.Location
	Now  func() time.Time
	Log  *slog.Logger
	// Exercises shows messages of status Exercise too, each marked in its language as an
	// exercise and not a real warning (i18n's labels). Off by default, and off on a node that
	// warns the public: it is for a demonstration or training node only (the node does not set
	// it; see docs/public.md).
	Exercises bool

	mu      sync.Mutex
	cache   map[string]*entry // parsed issued messages by CAP identifier (they never change)
	matcher *twoway.Matcher
	byKey   map[string]place.Place
	gz      *place.Gazetteer // the gazetteer matcher and the cached reaches were built from
}

// entry is one issued message, parsed, with what its area reaches (computed once per
// gazetteer, on first need).
type entry struct {
	msg alert.Message
	cap *cap.Alert
	r   *reached // guarded by Server.mu; a reached is never changed once made
}

// reached is what a message's area reaches in one gazetteer.
type reached struct {
	gz    *place.Gazetteer
	shape []*place.Shape
	keys  map[string]bool // places reached (Impact.Keys) and districts touched ("district:<name>")
	provs map[string]bool // provinces of the districts touched
	divs  map[string]bool // divisions of the districts touched
}

// Register adds GET / and GET /alerts/{id} to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /alerts/{id}", s.alert)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) zone() *time.Location {
	if s.Zone != nil {
		return s.Zone
	}
	return i18n.Karachi()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

var (
	supported = []language.Tag{language.English, language.Urdu, language.MustParse("zh-Hans")}
	tagLang   = []string{"en", "ur", "zh"}
	matcher   = language.NewMatcher(supported)
)

// negotiate picks the page language: ?lang, else the best of Accept-Language (ur-PK → ur,
// zh-CN → zh), else DefaultLang.
func (s *Server) negotiate(r *http.Request, given string) string {
	if given != "" {
		return given
	}
	def := s.DefaultLang
	if _, ok := texts[def]; !ok {
		def = "en"
	}
	al := r.Header.Get("Accept-Language")
	if al == "" || len(al) > 1000 {
		return def
	}
	tags, _, err := language.ParseAcceptLanguage(al)
	if err != nil || len(tags) == 0 {
		return def
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return def
	}
	return tagLang[i]
}

// shown tells whether a message of status st may be shown at all: Actual, or Exercise when
// the server shows exercises.
func (s *Server) shown(st cap.Status) bool {
	return st == cap.StatusActual || st == cap.StatusExercise && s.Exercises
}

// public tells whether an issued message may be shown: of a status shown, scope Public, not a
// Cancel, sent and not expired at now.
func (s *Server) public(m *alert.Message, a *cap.Alert, now time.Time) bool {
	return !m.Operational && s.shown(a.Status) && a.Scope == cap.ScopePublic && a.MsgType != cap.MsgCancel &&
		!a.Sent.After(now) && (m.Expires.IsZero() || m.Expires.After(now))
}

// parsed returns the cached entry of m, parsing its XML on first sight.
func (s *Server) parsed(m alert.Message) (*entry, error) {
	s.mu.Lock()
	e := s.cache[m.Identifier]
	s.mu.Unlock()
	if e != nil {
		return e, nil
	}
	a, err := cap.Unmarshal(m.XML)
	if err != nil {
		return nil, fmt.Errorf("public page: stored message %s: %w", m.Identifier, err)
	}
	e = &entry{msg: m, cap: a}
	s.mu.Lock()
	if s.cache == nil || len(s.cache) > 1000 { // issued messages are few; a bound all the same
		s.cache = map[string]*entry{}
	}
	s.cache[m.Identifier] = e
	s.mu.Unlock()
	return e, nil
}

// active returns the messages in force, public, most severe first, then newest first.
func (s *Server) active(ctx context.Context, now time.Time) ([]*entry, error) {
	msgs, err := s.Alerts.ActiveMessages(ctx, now, false)
	if err != nil {
		return nil, err
	}
	var out []*entry
	for _, m := range msgs {
		e, err := s.parsed(m)
		if err != nil {
			return nil, err
		}
		if s.public(&e.msg, e.cap, now) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *entry) int {
		if d := severityRank(a.cap) - severityRank(b.cap); d != 0 {
			return d
		}
		if c := b.cap.Sent.Compare(a.cap.Sent); c != 0 {
			return c
		}
		return int(b.msg.AlertID - a.msg.AlertID)
	})
	return out, nil
}

func severityRank(a *cap.Alert) int {
	if len(a.Infos) == 0 {
		return 5
	}
	switch a.Infos[0].Severity {
	case cap.SeverityExtreme:
		return 0
	case cap.SeveritySevere:
		return 1
	case cap.SeverityModerate:
		return 2
	case cap.SeverityMinor:
		return 3
	}
	return 4
}

// areas returns the message's areas (those of its first <info> that has any: the infos of
// Rabta's messages differ in language, not in geometry).
func areas(a *cap.Alert) []cap.Area {
	for _, in := range a.Infos {
		if len(in.Areas) > 0 {
			return in.Areas
		}
	}
	return nil
}

// reach returns what e's area reaches in g, computing it on first need for g.
func (s *Server) reach(e *entry, g *place.Gazetteer) (*reached, error) {
	s.mu.Lock()
	r := e.r
	s.mu.Unlock()
	if r != nil && r.gz == g {
		return r, nil
	}
	r = &reached{gz: g, keys: map[string]bool{}, provs: map[string]bool{}, divs: map[string]bool{}}
	for _, ar := range areas(e.cap) {
		sh, _, err := g.Shape(ar)
		if err != nil {
			return nil, fmt.Errorf("public page: area of %s: %w", e.msg.Identifier, err)
		}
		r.shape = append(r.shape, sh)
		imp, err := g.Resolve(ar)
		if err != nil {
			return nil, fmt.Errorf("public page: area of %s: %w", e.msg.Identifier, err)
		}
		for _, k := range imp.Keys {
			r.keys[k] = true
		}
		for _, d := range imp.Districts {
			r.keys[d.Key] = true
			r.provs[d.Province] = true
			if p, ok := g.Place(d.Key); ok && p.Division != "" {
				r.divs[p.Division] = true
			}
		}
	}
	s.mu.Lock()
	e.r = r
	s.mu.Unlock()
	return r, nil
}

// contains tells whether the area contains the point.
func (r *reached) contains(lat, lon float64) bool {
	for _, sh := range r.shape {
		if sh.Contains(lat, lon) {
			return true
		}
	}
	return false
}

// warns tells whether the area concerns p (see the package documentation, "Places").
func (r *reached) warns(p place.Place) bool {
	if r.keys[p.Key] || r.contains(p.Lat, p.Lon) {
		return true
	}
	switch p.Kind {
	case place.Province:
		return r.provs[p.Name]
	case place.Division:
		return r.divs[p.Name]
	}
	return false
}

// findPlace matches q against the gazetteer's place names.
func (s *Server) findPlace(g *place.Gazetteer, q string) (place.Place, bool) {
	s.mu.Lock()
	if s.matcher == nil || s.gz != g {
		var cands []twoway.Candidate
		s.byKey = map[string]place.Place{}
		for _, p := range g.Places() {
			names := []string{p.Name}
			if p.NameUr != "" {
				names = append(names, p.NameUr)
			}
			cands = append(cands, twoway.Candidate{Key: p.Key, Names: names, Rank: p.Kind.Rank()})
			s.byKey[p.Key] = p
		}
		s.matcher, s.gz = twoway.NewMatcher(cands), g
	}
	m, keys := s.matcher, s.byKey
	s.mu.Unlock()
	c, _, ok := m.Match(q)
	if !ok {
		return place.Place{}, false
	}
	return keys[c.Key], true
}

// index serves GET /.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	q, bad := parseQuery(r.URL.Query())
	lang := s.negotiate(r, q.Lang)
	if bad != nil {
		s.refuse(w, r, lang, http.StatusBadRequest, bad)
		return
	}
	ctx, now := r.Context(), s.now()
	d := s.page(r, lang, "/")
	d.Form = formData{Q: q.Q}
	if q.HasPoint {
		d.Form.Lat, d.Form.Lon = strconv.FormatFloat(q.Lat, 'f', -1, 64), strconv.FormatFloat(q.Lon, 'f', -1, 64)
	}
	all, err := s.active(ctx, now)
	if err != nil {
		s.fail(w, r, lang, err)
		return
	}
	list := all
	d.Heading = d.W.All
	if q.Q != "" || q.HasPoint {
		var g *place.Gazetteer
		if s.Places != nil {
			if g, err = s.Places(ctx); err != nil {
				s.fail(w, r, lang, err)
				return
			}
		}
		list = nil
		switch {
		case q.HasPoint:
			where := d.lang.Number(q.Lat) + ", " + d.lang.Number(q.Lon)
			d.Heading = sprintf(d.W.For, where)
			if g != nil {
				if p, km, ok := g.Nearest(q.Lat, q.Lon); ok && km <= NearKM {
					d.Heading = sprintf(d.W.Near, where, placeName(p, lang))
				}
			}
			in := g
			if in == nil {
				in = emptyGazetteer()
			}
			for _, e := range all {
				re, err := s.reach(e, in)
				if err != nil {
					s.fail(w, r, lang, err)
					return
				}
				if re.contains(q.Lat, q.Lon) {
					list = append(list, e)
				}
			}
			if len(list) == 0 {
				d.Message = sprintf(d.W.NoneFor, where)
			}
		default:
			p, ok := place.Place{}, false
			if g != nil {
				p, ok = s.findPlace(g, q.Q)
			}
			if !ok {
				d.Heading = d.W.Title
				d.Message = sprintf(d.W.NoPlace, q.Q)
				break
			}
			d.Heading = sprintf(d.W.For, placeName(p, lang))
			for _, e := range all {
				re, err := s.reach(e, g)
				if err != nil {
					s.fail(w, r, lang, err)
					return
				}
				if re.warns(p) {
					list = append(list, e)
				}
			}
			if len(list) == 0 {
				d.Message = sprintf(d.W.NoneFor, placeName(p, lang))
			}
		}
	} else if len(all) == 0 {
		d.Message = d.W.None
	}
	if len(list) > MaxAlerts {
		d.More = sprintf(d.W.More, len(list)-MaxAlerts)
		list = list[:MaxAlerts]
	}
	for _, e := range list {
		d.Alerts = append(d.Alerts, s.view(e, lang, false))
	}
	d.AsOf = sprintf(d.W.AsOf, d.lang.DateTime(now, s.zone()))
	s.render(w, r, http.StatusOK, "public, max-age=60", d)
}

var (
	emptyOnce sync.Once
	empty     *place.Gazetteer
)

// emptyGazetteer lets a node without places still test points against polygons and circles.
func emptyGazetteer() *place.Gazetteer {
	emptyOnce.Do(func() { empty, _ = place.NewGazetteer(nil) })
	return empty
}

// placeName is p's name (in Urdu script on an Urdu page, where the place has one) with its
// district for a town or village, as a reader recognises it.
func placeName(p place.Place, lang string) string {
	name := p.Name
	if lang == "ur" && p.NameUr != "" {
		name = p.NameUr
	}
	if (p.Kind == place.Village || p.Kind == place.Town) && p.District != "" && p.District != p.Name {
		return name + " (" + p.District + ")"
	}
	return name
}

// alert serves GET /alerts/{id}.
func (s *Server) alert(w http.ResponseWriter, r *http.Request) {
	lang, bad := parseLang(r.URL.Query())
	lang = s.negotiate(r, lang)
	if bad != nil {
		s.refuse(w, r, lang, http.StatusBadRequest, bad)
		return
	}
	id, bad := parseID(r.PathValue("id"))
	if bad != nil {
		s.refuse(w, r, lang, http.StatusBadRequest, bad)
		return
	}
	ctx, now := r.Context(), s.now()
	a, err := s.Alerts.GetAlert(ctx, id)
	if apperr.KindOf(err) == apperr.NotFound {
		s.notFound(w, r, lang)
		return
	}
	if err != nil {
		s.fail(w, r, lang, err)
		return
	}
	last := a.Last()
	if last == nil || last.Operational || !s.shown(last.Status) { // drafts, exercises, tests: not public
		s.notFound(w, r, lang)
		return
	}
	e, err := s.parsed(*last)
	if err != nil {
		s.fail(w, r, lang, err)
		return
	}
	d := s.page(r, lang, fmt.Sprintf("/alerts/%d", id))
	if a.State != alert.Issued || !s.public(last, e.cap, now) {
		if e.cap.Scope != cap.ScopePublic {
			s.notFound(w, r, lang)
			return
		}
		d.Heading = d.W.Ended
		d.Message = d.W.Ended
		s.render(w, r, http.StatusGone, "public, max-age=60", d)
		return
	}
	v := s.view(e, lang, true)
	d.Alert = &v
	d.Heading, d.HeadingLang, d.HeadingDir = v.Headline, v.Lang, v.Dir
	d.AsOf = sprintf(d.W.AsOf, d.lang.DateTime(now, s.zone()))
	s.render(w, r, http.StatusOK, "public, max-age=60", d)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// refuse answers a 400 page naming the parameter and its limit (in the page's language).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, lang string, status int, bad *inputError) {
	d := s.page(r, lang, r.URL.Path)
	d.Heading = d.W.BadRequest
	d.Error = bad.Text(d.W)
	d.RequestID = apperr.RequestID(r.Context())
	// the value is not logged: a location or a place typed is the reader's own
	s.log().Info("request_refused", "path", r.URL.Path, "status", status, "param", bad.Param, "request_id", d.RequestID)
	s.render(w, r, status, "no-store", d)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, lang string) {
	d := s.page(r, lang, r.URL.Path)
	d.Heading = d.W.NotFound
	d.Message = d.W.NotFound
	s.render(w, r, http.StatusNotFound, "public, max-age=60", d)
}

// fail answers a 500 page with the request id; the cause is logged once, never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, lang string, err error) {
	d := s.page(r, lang, r.URL.Path)
	d.RequestID = apperr.RequestID(r.Context())
	if d.RequestID == "" {
		d.RequestID = apperr.NewRequestID()
		w.Header().Set(apperr.RequestIDHeader, d.RequestID)
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log().Error("request_failed", "path", r.URL.Path, "status", 500, "request_id", d.RequestID, "err", err)
	d.Heading = d.W.BadRequest
	d.Error = "Internal error (request " + d.RequestID + ")"
	s.render(w, r, http.StatusInternalServerError, "no-store", d)
}

// render executes the page and writes it: gzip-compressed when the client accepts it, with
// an ETag (304 on a match), Vary, Cache-Control and a Content-Security-Policy that allows
// nothing but the page's own inline style and script.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, cache string, d *pageData) {
	var body bytes.Buffer
	if err := pageTmpl.Execute(&body, d); err != nil {
		s.log().Error("render_failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Vary", "Accept-Encoding, Accept-Language")
	h.Set("Content-Language", htmlLang[d.Lang])
	h.Set("Cache-Control", cache)
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	sum := sha256.Sum256(body.Bytes())
	etag := `"` + hex.EncodeToString(sum[:12])
	if gz {
		etag += `-gz`
	}
	etag += `"`
	if status == http.StatusOK {
		h.Set("ETag", etag)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	out := body.Bytes()
	if gz {
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
		zw.Write(out)
		zw.Close()
		out = zb.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(out)
	}
}

// acceptsGzip reads Accept-Encoding (RFC 9110 §12.5.3): gzip, x-gzip or *, unless its q is 0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "*" {
			continue
		}
		p := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(p, "q=0") && !strings.ContainsAny(strings.TrimPrefix(p, "q=0"), "123456789") {
			return false
		}
		return true
	}
	return false
}

// page starts the data of a page in lang at path (the language switch keeps the query).
func (s *Server) page(r *http.Request, lang, path string) *pageData {
	l := i18n.For(lang)
	d := &pageData{Lang: lang, HTMLLang: htmlLang[lang], Dir: l.Dir(), W: texts[lang], lang: l}
	for _, t := range Langs {
		v := url.Values{}
		for k, vs := range r.URL.Query() {
			if k != "lang" && (k == "q" || k == "lat" || k == "lon") && len(vs) > 0 && len(vs[0]) <= 4*MaxQuery {
				v.Set(k, vs[0])
			}
		}
		v.Set("lang", t)
		d.Switch = append(d.Switch, langLink{Name: langNames[t], Lang: htmlLang[t], Dir: i18n.For(t).Dir(), Href: path + "?" + v.Encode(), Current: t == lang})
	}
	return d
}
