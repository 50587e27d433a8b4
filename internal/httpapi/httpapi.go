// Package httpapi serves Rabta's own REST API (warning rules and alerts, under /api/v1) and the
// public CAP endpoints (/cap/alerts.atom and /cap/alerts/{identifier}.xml).
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/warning"
)

// Server is the REST API and CAP feed surface.
type Server struct {
	Alerts *alert.Service
	Store  alert.Store
	Rules  warning.Store
	Runner *warning.Runner
	// Known, when set, refuses an organisation this node does not know (NotFound, naming it):
	// the rules routes check the organisation ?organisation= names with it, so that a typo
	// neither lists nothing nor makes rules of an organisation no key can act for.
	Known func(ctx context.Context, org string) error
	// Hidden, when set, returns the Datastreams and Things the principal of ctx may not read:
	// the remote ones (a partner's data, received under an agreement, sensing.RemoteView) of
	// other organisations than the reader's (nil: none). The rules listing leaves out the rules
	// on such a Datastream, and the forecast network the stations on one.
	Hidden func(ctx context.Context) (*sensing.RemoteHidden, error)
	// Dissemination serves subscribers, delivery progress and unsubscribing; nil leaves
	// those routes out.
	Dissemination *dissemination.Service
	// Keys serves the API key routes (/api/v1/keys, keys.go); nil leaves them out.
	// OnKeyRevoked, when set, is called with the id of each key revoked through them, after the
	// revocation is stored, to end the key's live sessions (MQTT, NATS).
	Keys         auth.Store
	OnKeyRevoked func(id int64)
	// Audit, when set, records key creations and revocations and alert approvals, rejections
	// and cancellations in the node's audit log (package audit; audit.go).
	Audit Auditor
	// Forecast serves the river network routes (/api/v1/forecast/network, forecast.go); nil
	// leaves them out.
	Forecast *forecasting.Service
	Trusted  func() []*x509.Certificate // certificates CAP signatures are verified against
	// PublicURL is the base URL for links in the feed; empty means derived from the request
	// (whose Host the node has made trustworthy: auth.Proxies).
	PublicURL string
	FeedTitle string
	Author    string
	// FeedKeep is how long a Cancel or an Update, and the message it replaces, stays on the
	// feed (0: alert.DefaultFeedKeep, 24 h).
	FeedKeep time.Duration
	MaxBody  int64
	Log      *slog.Logger
	Now      func() time.Time

	// PrivateAlerts closes the CAP feed and issued CAP messages to anonymous clients (a viewer
	// key is needed). By default they are public whatever the node's public read: they are
	// warnings, and the messages sent to people link to them (docs/alerts.md).
	PrivateAlerts bool
}

// Register adds the routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /cap/alerts.atom", s.feed)
	mux.HandleFunc("GET /cap/alerts/{file}", s.capXML)
	mux.HandleFunc("GET /api/v1/alerts", s.listAlerts)
	mux.HandleFunc("GET /api/v1/alerts/{id}", s.getAlert)
	mux.HandleFunc("POST /api/v1/alerts/{id}/approve", s.decide("approve"))
	mux.HandleFunc("POST /api/v1/alerts/{id}/reject", s.decide("reject"))
	mux.HandleFunc("POST /api/v1/alerts/{id}/cancel", s.decide("cancel"))
	mux.HandleFunc("POST /api/v1/alerts/{id}/edit", s.edit)
	mux.HandleFunc("GET /api/v1/rules", s.listRules)
	mux.HandleFunc("PUT /api/v1/rules", s.putRules)
	mux.HandleFunc("GET /api/v1/rules/{id}/changes", s.ruleChanges)
	mux.HandleFunc("POST /api/v1/cap/verify", s.verify)
	if s.Dissemination != nil {
		s.registerDissemination(mux)
	}
	if s.Keys != nil {
		s.registerKeys(mux)
	}
	if s.Forecast != nil {
		s.registerForecast(mux)
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) base(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// cacheControl lets shared caches keep what anyone may read for maxAge seconds; what needs a
// key only the client's own cache (RFC 9111 §5.2.2.7).
func (s *Server) cacheControl(maxAge int) string {
	if !s.PrivateAlerts {
		return fmt.Sprintf("public, max-age=%d", maxAge)
	}
	return fmt.Sprintf("private, max-age=%d", maxAge)
}

// Error writes err as JSON with the status of its kind and the message given where the kind
// was given (apperr.Message), never a wrapped cause. The body and the X-Request-Id header carry
// the request id; the one log line of the error carries it too, with the whole cause: at level
// error for a 5xx, info for a refused request.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	status := apperr.HTTPStatus(err)
	id := apperr.RequestID(r.Context())
	if id == "" { // served without auth.RequestID: make one, so that every error has one
		id = apperr.NewRequestID()
		w.Header().Set(apperr.RequestIDHeader, id)
	}
	if s.Log != nil {
		level, event := slog.LevelInfo, "request_refused"
		if status >= 500 {
			level, event = slog.LevelError, "request_failed"
		}
		s.Log.Log(r.Context(), level, event, "method", r.Method, "path", r.URL.Path, "status", status, "request_id", id, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rabta"`)
	}
	w.Header().Set("Content-Type", apperr.JSONType)
	w.WriteHeader(status)
	w.Write(apperr.JSON(status, apperr.Message(err), id)) // the one error body of every surface
}

// decodeBody reads a JSON body of at most limit bytes into v, refusing unknown fields: a 413
// naming the limit, or a 400 saying what the body should be (want). An empty body is
// accepted when optional.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, optional bool, v any, want string) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return apperr.E(apperr.TooLarge, "body over the limit of %d bytes", limit)
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if json.Valid(raw) { // what encoding/json lets through but must not be stored: not UTF-8, a member twice ...
		if err := sensing.CheckJSON(raw); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "body")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if why := sensing.JSONReason(err); why != "" { // say what is wrong, in the client's terms
			return apperr.Wrap(apperr.Invalid, err, "body: want %s: %s", want, why)
		}
		return apperr.Wrap(apperr.Invalid, err, "body: want %s", want)
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return apperr.E(apperr.Invalid, "body: want %s: malformed JSON at byte %d: more after the value", want, len(raw)-len(rest)+1)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// feed serves the Atom feed of public alerts (alert.Store.Feed: the active ones, and each
// Cancel and Update beside what it replaces for FeedKeep). <updated> and Last-Modified are
// the feed's high-water mark, which never goes back; the ETag covers the entries and that
// time, so If-None-Match and If-Modified-Since both answer 304 exactly when the body would
// be the same.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	if s.PrivateAlerts {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	msgs, updated, err := s.Store.Feed(r.Context(), s.now(), s.FeedKeep)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	updated = updated.Truncate(time.Second) // what Atom and HTTP dates carry
	base := s.base(r)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n", base, updated.Unix())
	for _, m := range msgs {
		fmt.Fprintf(h, "%s\n", m.Identifier)
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil))[:32] + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", s.cacheControl(30))
	w.Header().Set("Last-Modified", updated.UTC().Format(http.TimeFormat))
	if match := r.Header.Get("If-None-Match"); match != "" {
		if strings.Contains(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else if since, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !updated.After(since) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var entries []cap.Entry
	for _, m := range msgs {
		a, err := cap.Unmarshal(m.XML)
		if err != nil {
			s.Error(w, r, fmt.Errorf("feed: stored message %s: %w", m.Identifier, err))
			return
		}
		entries = append(entries, cap.NewEntry(a, base+"/cap/alerts/"+m.Identifier+".xml", "en"))
	}
	var b bytes.Buffer
	info := cap.FeedInfo{ID: base + "/cap/alerts.atom", Title: s.FeedTitle, SelfURL: base + "/cap/alerts.atom", Author: s.Author, Updated: updated}
	if err := cap.WriteAtom(&b, info, entries); err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Write(b.Bytes())
}

// capXML serves one issued CAP message, exactly as signed.
func (s *Server) capXML(w http.ResponseWriter, r *http.Request) {
	if s.PrivateAlerts {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	id, ok := strings.CutSuffix(r.PathValue("file"), ".xml")
	if !ok {
		s.Error(w, r, apperr.E(apperr.NotFound, "CAP messages are at /cap/alerts/<identifier>.xml"))
		return
	}
	m, err := s.Store.MessageByIdentifier(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if m.Operational {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			s.Error(w, r, apperr.E(apperr.NotFound, "no alert message %q", id))
			return
		}
	}
	sum := sha256.Sum256(m.XML)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if m.Operational { // for keys only: no shared cache may keep it
		w.Header().Set("Cache-Control", "private, max-age=300")
	} else {
		w.Header().Set("Cache-Control", s.cacheControl(300))
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/cap+xml; charset=utf-8")
	w.Header().Set("Last-Modified", m.Sent.UTC().Format(http.TimeFormat))
	w.Write(m.XML)
}

// alertView is an alert as the API shows it.
type alertView struct {
	ID           int64             `json:"id"`
	Rule         string            `json:"rule"`
	Organisation string            `json:"organisation"`
	State        alert.State       `json:"state"`
	Status       cap.Status        `json:"status"`
	Operational  bool              `json:"operational,omitempty"`
	Level        string            `json:"level,omitempty"`
	Draft        *draftView        `json:"draft,omitempty"`
	Messages     []messageView     `json:"messages,omitempty"`
	Transitions  []transitionView  `json:"transitions,omitempty"`
	Created      time.Time         `json:"created"`
	Updated      time.Time         `json:"updated"`
	Links        map[string]string `json:"links,omitempty"`
	// Impact is what the draft ("draft") and each issued message (by identifier) reach.
	Impact map[string]json.RawMessage `json:"impact,omitempty"`
	// Origin is where an alert shared by a partner node comes from (docs/federation.md "Alerts").
	Origin *alert.Origin `json:"origin,omitempty"`
}

type draftView struct {
	Type cap.MsgType `json:"msgType"`
	By   string      `json:"by"`
	// Authors shaped the draft: who changed its rule, who posted the deciding value. With
	// four eyes on, none of them may approve it.
	Authors  []alert.Author `json:"authors,omitempty"`
	Headline string         `json:"headline,omitempty"`
	Infos    []capInfoView  `json:"infos,omitempty"`
}

type messageView struct {
	Identifier string      `json:"identifier"`
	MsgType    cap.MsgType `json:"msgType"`
	Sent       time.Time   `json:"sent"`
	Expires    *time.Time  `json:"expires,omitempty"`
	Headline   string      `json:"headline,omitempty"`
	URL        string      `json:"url"`
}

type transitionView struct {
	From       alert.State `json:"from,omitempty"` // none for the first step
	To         alert.State `json:"to"`
	By         string      `json:"by"`
	Why        string      `json:"why,omitempty"`
	At         time.Time   `json:"at"`
	Identifier string      `json:"identifier,omitempty"`
}

func (s *Server) view(r *http.Request, a *alert.Alert, ts []alert.Transition) alertView {
	base := s.base(r)
	v := alertView{ID: a.ID, Rule: a.RuleID, Organisation: a.Organisation, State: a.State, Status: a.Status, Operational: a.Operational, Level: a.LevelName,
		Created: a.Created, Updated: a.Updated}
	if o, ok := alert.ParseThread(a.RuleID); ok {
		v.Origin = &o
	}
	if a.Draft != nil {
		d := &draftView{Type: a.DraftType, By: a.DraftBy, Authors: a.Authors}
		for i := range a.Draft.Infos {
			d.Infos = append(d.Infos, viewInfo(&a.Draft.Infos[i]))
		}
		if len(a.Draft.Infos) > 0 {
			d.Headline = a.Draft.Infos[0].Headline
		}
		v.Draft = d
		v.Links = map[string]string{"approve": fmt.Sprintf("%s/api/v1/alerts/%d/approve", base, a.ID), "reject": fmt.Sprintf("%s/api/v1/alerts/%d/reject", base, a.ID)}
	}
	for _, m := range a.Issued {
		v.Messages = append(v.Messages, messageView{m.Identifier, m.MsgType, m.Sent, rfc3339(m.Expires), m.Headline, base + "/cap/alerts/" + m.Identifier + ".xml"})
	}
	for _, t := range ts {
		v.Transitions = append(v.Transitions, transitionView{t.From, t.To, t.By, t.Why, t.At, t.Identifier})
	}
	return v
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	f := alert.Filter{State: alert.State(r.URL.Query().Get("state")), RuleID: r.URL.Query().Get("rule")}
	switch f.State {
	case "", alert.Draft, alert.Issued, alert.Cancelled, alert.Expired, alert.Withdrawn:
	default:
		s.Error(w, r, apperr.E(apperr.Invalid, "state %q: want draft, issued, cancelled, expired or withdrawn", f.State))
		return
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			s.Error(w, r, apperr.E(apperr.Invalid, "limit %q: want 1 to 1000", l))
			return
		}
		f.Limit = n
	}
	rd := reader(r.Context())
	f.Reader = &rd // others' alerts never issued are not listed (no 403: a list shows what its reader reads)
	as, err := s.Store.ListAlerts(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := []alertView{}
	for _, a := range as {
		out = append(out, s.view(r, rd.Redact(a), nil))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// reader is who reads alerts in ctx (alert.Reader: auth.Principal.Reads).
func reader(ctx context.Context) alert.Reader {
	all, org := auth.FromContext(ctx).Reads()
	return alert.Reader{All: all, Org: org}
}

// readable returns alert id with its messages, or NotFound — with the words used for an alert
// that does not exist, so that an answer never confirms one — when rd may not read it at all:
// another organisation's alert that never issued a message (alert.Reader.Hides).
func (s *Server) readable(ctx context.Context, rd alert.Reader, id int64) (*alert.Alert, error) {
	a, err := s.Store.GetAlert(ctx, id)
	if err == nil && rd.Hides(a) {
		return nil, apperr.E(apperr.NotFound, "alert %d does not exist", id)
	}
	return a, err
}

func (s *Server) alertID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.E(apperr.Invalid, "alert id %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	id, err := s.alertID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	rd := reader(r.Context())
	a, err := s.readable(r.Context(), rd, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ts, err := s.Store.Transitions(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	a = rd.Redact(a)
	v := s.view(r, a, rd.Steps(a.Organisation, ts))
	if s.Dissemination != nil {
		imps, err := s.Dissemination.Store.Impacts(r.Context(), id)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		for k, b := range imps {
			if k == "" {
				if a.Draft == nil {
					continue // the draft was issued or withdrawn, or is not the reader's to see
				}
				k = "draft"
			}
			if v.Impact == nil {
				v.Impact = map[string]json.RawMessage{}
			}
			v.Impact[k] = b
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// decide serves approve, reject and cancel (Decide); the body may say why.
func (s *Server) decide(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := auth.Require(ctx, auth.Approver); err != nil {
			s.Error(w, r, err)
			return
		}
		id, err := s.alertID(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		// a body that cannot be read is a 400 whatever it is about
		var body struct {
			Why string `json:"why"`
		}
		if err := decodeBody(w, r, 64<<10, true, &body, `{"why": "..."} and nothing else`); err != nil {
			s.Error(w, r, err)
			return
		}
		a, err := s.Decide(ctx, action, id, body.Why)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		ts, _ := s.Store.Transitions(ctx, id)
		writeJSON(w, http.StatusOK, s.view(r, a, ts))
	}
}

// Decide approves, rejects or cancels (action "approve", "reject", "cancel") alert id for the
// principal in ctx, and returns the alert as stored after it: approver role, of the alert's
// organisation (or the node-wide admin: auth.RequireOwner); cancelling needs a why. With four
// eyes on, approving is refused to the draft's authors (alert.Service.Approve). The REST API
// and the operator console (internal/web/console) both decide through it, so the same rules
// hold on both, and each decision is recorded in the audit log (when there is one). Errors carry their kind: Unauthorized, Forbidden, NotFound, Conflict, Invalid.
func (s *Server) Decide(ctx context.Context, action string, id int64, why string) (*alert.Alert, error) {
	if err := auth.Require(ctx, auth.Approver); err != nil {
		return nil, err
	}
	// the owner never changes, so a check before the service acts holds when it does; an
	// alert the key may not even read is not found, as in GET
	cur, err := s.readable(ctx, reader(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := auth.RequireOwner(ctx, auth.Approver, cur.Organisation, fmt.Sprintf("alert %d", id)); err != nil {
		return nil, err
	}
	by := auth.FromContext(ctx).Name()
	var a *alert.Alert
	switch action {
	case "approve":
		a, err = s.Alerts.Approve(ctx, id, by, why)
	case "reject":
		a, err = s.Alerts.Reject(ctx, id, by, why)
	case "cancel":
		if why == "" {
			return nil, apperr.E(apperr.Invalid, "cancelling needs a reason: {\"why\": \"...\"}")
		}
		a, err = s.Alerts.Cancel(ctx, id, by, why)
	default:
		return nil, apperr.E(apperr.Invalid, "action %q: want approve, reject or cancel", action)
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "alert."+action, fmt.Sprintf("alert/%d", id), map[string]any{"alert": id, "organisation": cur.Organisation, "state": a.State, "why": why})
	return s.Store.GetAlert(ctx, a.ID)
}

// ruleView is a rule as GET /api/v1/rules shows it: its rules-file form and its owner.
type ruleView struct {
	rule.View
	Organisation string `json:"organisation"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	rules, _, err := s.Rules.LoadRules(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	org := r.URL.Query().Get("organisation")
	if err := s.known(r.Context(), org); err != nil {
		s.Error(w, r, err)
		return
	}
	hidden, err := s.hidden(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := []ruleView{}
	for _, x := range rules {
		if hidden != nil && slices.ContainsFunc(x.Datastreams, func(ds int64) bool { return slices.Contains(hidden.Datastreams, ds) }) {
			continue // a rule on a remote Datastream this reader may not read
		}
		if org == "" || x.Organisation == org {
			out = append(out, ruleView{x.View(), x.Organisation})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// hidden is Hidden's answer for ctx (nil: nothing hidden, or no Hidden).
func (s *Server) hidden(ctx context.Context) (*sensing.RemoteHidden, error) {
	if s.Hidden == nil {
		return nil, nil
	}
	h, err := s.Hidden(ctx)
	if err != nil || h.None() {
		return nil, err
	}
	return h, nil
}

// known refuses org, when it is given, if the node does not know it (Server.Known).
func (s *Server) known(ctx context.Context, org string) error {
	if org == "" || s.Known == nil {
		return nil
	}
	return s.Known(ctx, org)
}

// ruleChanges lists who created, changed and removed a rule, oldest first (viewer).
func (s *Server) ruleChanges(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	cs, err := s.Rules.RuleChanges(r.Context(), r.PathValue("id"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if len(cs) == 0 {
		s.Error(w, r, apperr.E(apperr.NotFound, "rule %q has no recorded changes", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": cs})
}

// putRules replaces one organisation's rules with a YAML document: by default the key's
// organisation; the node-wide admin may name another with ?organisation=. Admin role of that
// organisation (auth.RequireOwner). A rule id that another organisation's rule has is refused
// (403 for a key that may not act on that organisation, 409 for the node-wide admin), and
// nothing is applied; errors in the document are positioned. Every rule created or changed
// records the key (auth.Principal.Name) as its author.
func (s *Server) putRules(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Admin); err != nil {
		s.Error(w, r, err)
		return
	}
	p := auth.FromContext(ctx)
	org := p.Organisation
	if q := r.URL.Query(); q.Has("organisation") {
		org = q.Get("organisation")
		if err := warning.CheckOrganisation(org); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	if err := auth.RequireOwner(ctx, auth.Admin, org, fmt.Sprintf("the rule set of organisation %q", org)); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.known(ctx, org); err != nil { // after RequireOwner: only the node-wide admin learns which exist
		s.Error(w, r, err)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		s.Error(w, r, apperr.E(apperr.TooLarge, "rules document over the limit of 1 MiB"))
		return
	}
	rules, err := rule.ParseYAML("request body", b)
	if err != nil {
		s.Error(w, r, apperr.Wrap(apperr.Invalid, err, "rules"))
		return
	}
	existing, _, err := s.Rules.LoadRules(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	owner := map[string]string{}
	for _, x := range existing {
		owner[x.ID] = x.Organisation
	}
	for _, x := range rules {
		if o, ok := owner[x.ID]; ok && o != org {
			if err := auth.RequireOwner(ctx, auth.Admin, o, fmt.Sprintf("rule %s", x.ID)); err != nil {
				s.Error(w, r, err)
				return
			}
		}
	}
	if err := warning.Apply(ctx, s.Rules, org, p.Name(), rules); err != nil {
		s.Error(w, r, err)
		return
	}
	ids := make([]string, len(rules))
	for i, x := range rules {
		ids[i] = x.ID
	}
	sum := sha256.Sum256(b)
	s.audit(ctx, "rules.apply", "rules/"+org, map[string]any{"organisation": org, "rules": ids, "sha256": hex.EncodeToString(sum[:])})
	if s.Runner != nil {
		if err := s.Runner.Load(ctx); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": len(rules), "organisation": org})
}

// verify checks the XML Signature of a CAP message against the trusted certificates. A
// verified message is a 200 with "problems" listing what cap.Validate and cap.Degenerate
// report (e.g. "cap: alert/info[0]/area[0]/polygon[0]: crosses itself at 31.5,74.5 …").
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 5<<20))
	if err != nil {
		s.Error(w, r, apperr.E(apperr.TooLarge, "CAP message over 5 MiB"))
		return
	}
	var trusted []*x509.Certificate
	if s.Trusted != nil {
		trusted = s.Trusted()
	}
	a, err := cap.Verify(b, trusted)
	if err != nil {
		s.Error(w, r, apperr.Wrap(apperr.Invalid, err, "not verified"))
		return
	}
	out := map[string]any{"verified": true, "identifier": a.Identifier, "sender": a.Sender, "sent": a.Sent}
	// a verified message may still break a CAP 1.2 rule beyond the schema or carry an area
	// that bounds nothing (cap.Degenerate): reported, since the signature stands regardless
	var problems []string
	if errs, ok := cap.Validate(a).(cap.Errors); ok {
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	}
	for _, e := range cap.Degenerate(a) {
		problems = append(problems, e.Error())
	}
	if len(problems) > 0 {
		out["problems"] = problems
	}
	writeJSON(w, http.StatusOK, out)
}
