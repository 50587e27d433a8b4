package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/rule"
)

// Limits of the subscriber endpoints.
const (
	MaxSubscriberBody = 64 << 10  // bytes, one subscriber as JSON
	MaxImportBody     = 256 << 20 // bytes, a CSV import
	maxRowErrorsShown = 1000
)

func (s *Server) registerDissemination(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/subscribers", s.addSubscriber)
	mux.HandleFunc("POST /api/v1/subscribers/import", s.importSubscribers)
	mux.HandleFunc("GET /api/v1/subscribers", s.listSubscribers)
	mux.HandleFunc("GET /api/v1/subscribers/{id}", s.getSubscriber)
	mux.HandleFunc("DELETE /api/v1/subscribers/{id}", s.eraseSubscriber)
	mux.HandleFunc("GET /api/v1/alerts/{id}/deliveries", s.deliveries)
	mux.HandleFunc("POST /api/v1/impact", s.impact)
	mux.HandleFunc("GET /api/v1/unsubscribe", s.unsubscribePage)
	mux.HandleFunc("POST /api/v1/unsubscribe", s.unsubscribe)
}

// subscriberView is a subscriber as the API shows it. Contacts are shown redacted: they are
// personal data and never leave the node in clear.
type subscriberView struct {
	ID        int64         `json:"id,omitempty"`
	Org       string        `json:"org,omitempty"`
	Kind      string        `json:"kind,omitempty"`
	Name      string        `json:"name"`
	Language  string        `json:"language"`
	Audiences []string      `json:"audiences,omitempty"`
	Place     string        `json:"place,omitempty"`
	Lat       *float64      `json:"lat,omitempty"`
	Lon       *float64      `json:"lon,omitempty"`
	RadiusKM  float64       `json:"radiusKm,omitempty"`
	Contacts  []contactView `json:"contacts"`
	Consent   *consentView  `json:"consent,omitempty"`
	Created   *time.Time    `json:"created,omitempty"`
}

// newSubscriber is a subscriber as the API takes it: what a client may set, and nothing
// else (id, org and created are the node's; a body naming them is refused, not half-obeyed).
type newSubscriber struct {
	Kind      string        `json:"kind,omitempty"`
	Name      string        `json:"name"`
	Language  string        `json:"language"`
	Audiences []string      `json:"audiences,omitempty"`
	Place     string        `json:"place,omitempty"`
	Lat       *float64      `json:"lat,omitempty"`
	Lon       *float64      `json:"lon,omitempty"`
	RadiusKM  float64       `json:"radiusKm,omitempty"`
	Contacts  []contactView `json:"contacts"`
	Consent   *consentView  `json:"consent,omitempty"`
}

type contactView struct {
	Channel channel.Kind `json:"channel"`
	Address string       `json:"address"`
	Secret  string       `json:"secret,omitempty"`
}

type consentView struct {
	At     *time.Time `json:"at,omitempty"`
	Source string     `json:"source"`
}

func viewSubscriber(sub *dissemination.Subscriber) subscriberView {
	v := subscriberView{ID: sub.ID, Org: sub.Org, Kind: sub.Kind, Name: sub.Name, Language: sub.Language, Audiences: sub.Audiences, Place: sub.Place,
		Lat: sub.Lat, Lon: sub.Lon, RadiusKM: sub.RadiusKM, Contacts: []contactView{}}
	for _, c := range sub.Contacts {
		v.Contacts = append(v.Contacts, contactView{Channel: c.Channel, Address: channel.Redact(c.Address)})
	}
	at, created := sub.Consent.At, sub.Created
	v.Consent, v.Created = &consentView{At: &at, Source: sub.Consent.Source}, &created
	return v
}

// orgOf is the organisation a request acts for: the key's, or, for the node-wide admin
// (auth.Principal.NodeAdmin), any ("" lists every organisation's). An admin of another
// organisation is an admin within it only.
func orgOf(p *auth.Principal) string {
	if p.NodeAdmin() {
		return ""
	}
	return p.Organisation
}

func (s *Server) addSubscriber(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Operator); err != nil {
		s.Error(w, r, err)
		return
	}
	var v newSubscriber
	if err := decodeBody(w, r, MaxSubscriberBody, false, &v, "a subscriber"); err != nil {
		s.Error(w, r, err)
		return
	}
	p := auth.FromContext(ctx)
	sub := dissemination.Subscriber{Org: p.Organisation, Kind: v.Kind, Name: v.Name, Language: v.Language, Audiences: v.Audiences, Place: v.Place,
		Lat: v.Lat, Lon: v.Lon, RadiusKM: v.RadiusKM}
	if v.Consent != nil {
		sub.Consent.Source = v.Consent.Source
		if v.Consent.At != nil {
			sub.Consent.At = *v.Consent.At
		}
	}
	for _, c := range v.Contacts {
		sub.Contacts = append(sub.Contacts, dissemination.Contact{Channel: c.Channel, Address: c.Address, Secret: c.Secret})
	}
	id, err := s.Dissemination.Subscribe(ctx, sub)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	got, err := s.Dissemination.Subscriber(ctx, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/api/v1/subscribers/%d", s.base(r), id))
	writeJSON(w, http.StatusCreated, viewSubscriber(got))
}

func (s *Server) importSubscribers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Operator); err != nil {
		s.Error(w, r, err)
		return
	}
	p := auth.FromContext(ctx)
	body := http.MaxBytesReader(w, r.Body, MaxImportBody)
	n, rowErrs, err := s.Dissemination.ImportCSV(ctx, body, p.Organisation, nil)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = apperr.E(apperr.TooLarge, "import over the limit of %d bytes (%d rows stored before it)", MaxImportBody, n)
		}
		s.Error(w, r, err)
		return
	}
	type rowError struct {
		Line   int    `json:"line"`
		Column string `json:"column,omitempty"`
		Reason string `json:"reason"`
	}
	out := struct {
		Stored  int        `json:"stored"`
		Refused int        `json:"refused"`
		Errors  []rowError `json:"errors,omitempty"`
	}{Stored: n, Refused: len(rowErrs)}
	for i, e := range rowErrs {
		if i == maxRowErrorsShown {
			break
		}
		out.Errors = append(out.Errors, rowError{e.Line, e.Column, e.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) subscriberID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.E(apperr.Invalid, "subscriber id %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

// ownSubscriber loads a subscriber the request's key may act on (its organisation's, or any
// for a node-wide admin); another organisation's is not found, so ids do not leak.
func (s *Server) ownSubscriber(r *http.Request) (*dissemination.Subscriber, error) {
	if err := auth.Require(r.Context(), auth.Operator); err != nil {
		return nil, err
	}
	id, err := s.subscriberID(r)
	if err != nil {
		return nil, err
	}
	sub, err := s.Dissemination.Subscriber(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if org := orgOf(auth.FromContext(r.Context())); org != "" && sub.Org != org {
		return nil, apperr.E(apperr.NotFound, "no subscriber %d", id)
	}
	return sub, nil
}

func (s *Server) getSubscriber(w http.ResponseWriter, r *http.Request) {
	sub, err := s.ownSubscriber(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSubscriber(sub))
}

func (s *Server) listSubscribers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Operator); err != nil {
		s.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	after, limit := int64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.Error(w, r, apperr.E(apperr.Invalid, "after %q: want a subscriber id", v))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.Error(w, r, apperr.E(apperr.Invalid, "limit %q: want 1 to 1000", v))
			return
		}
		limit = n
	}
	subs, err := s.Dissemination.Subscribers(ctx, orgOf(auth.FromContext(ctx)), after, limit)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := map[string]any{"value": []subscriberView{}}
	views := []subscriberView{}
	for _, sub := range subs {
		views = append(views, viewSubscriber(sub))
	}
	out["value"] = views
	if len(subs) == limit {
		out["nextLink"] = fmt.Sprintf("%s/api/v1/subscribers?after=%d&limit=%d", s.base(r), subs[len(subs)-1].ID, limit)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) eraseSubscriber(w http.ResponseWriter, r *http.Request) {
	sub, err := s.ownSubscriber(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(w, r, 64<<10, true, &body, `{"reason": "..."}`); err != nil {
		s.Error(w, r, err)
		return
	}
	p := auth.FromContext(r.Context())
	if err := s.Dissemination.Erase(r.Context(), sub.ID, fmt.Sprintf("%s/key-%d", p.Organisation, p.KeyID), body.Reason); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
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
	counts, err := s.Dissemination.Progress(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	impacts, err := s.Dissemination.Store.Impacts(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	imp := map[string]json.RawMessage{}
	for k, v := range impacts {
		if k == "" {
			if !rd.ReadsDrafts(a.Organisation) {
				continue // what the waiting draft would reach: its organisation's work
			}
			k = "draft"
		}
		imp[k] = v
	}
	if counts == nil {
		counts = []dissemination.Count{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": id, "counts": counts, "impact": imp})
}

// impact previews what an area would reach, before any rule or alert exists: the body is an
// area as rules write it ({"desc", "polygons": [[{"lat","lon"}…]], "circles": [{"center",
// "radiusKm"}], "geocodes": [{"name","value"}]}).
func (s *Server) impact(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	var ar rule.Area
	if err := decodeBody(w, r, 1<<20, false, &ar, `an area {"desc", "polygons", "circles", "geocodes"}`); err != nil {
		s.Error(w, r, err)
		return
	}
	area := cap.Area{AreaDesc: ar.Desc}
	for _, pg := range ar.Polygons {
		var p cap.Polygon
		for _, pt := range pg {
			p = append(p, cap.Point{Lat: pt.Lat, Lon: pt.Lon})
		}
		area.Polygons = append(area.Polygons, p)
	}
	for _, c := range ar.Circles {
		area.Circles = append(area.Circles, cap.Circle{Center: cap.Point{Lat: c.Center.Lat, Lon: c.Center.Lon}, RadiusKM: c.RadiusKm})
	}
	for _, g := range ar.Geocodes {
		area.Geocodes = append(area.Geocodes, cap.ValuePair{ValueName: g.Name, Value: g.Value})
	}
	if len(area.Polygons)+len(area.Circles)+len(area.Geocodes) == 0 {
		s.Error(w, r, apperr.E(apperr.Invalid, "body: the area needs a polygon, circle or geocode"))
		return
	}
	imp, err := s.Dissemination.Preview(r.Context(), &cap.Alert{Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: "Public", Infos: []cap.Info{{Areas: []cap.Area{area}}}})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, imp)
}

var unsubscribeForm = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe — Rabta</title>
<form method="post" action="/api/v1/unsubscribe?token={{.}}">
<p>Stop receiving warnings at this address? · <span lang="ur" dir="rtl">کیا آپ انتباہات وصول کرنا بند کرنا چاہتے ہیں؟</span></p>
<button type="submit">Unsubscribe · <span lang="ur">بند کریں</span></button>
</form></html>`))

// unsubscribePage shows a button: a GET must not unsubscribe (mail scanners follow links).
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	unsubscribeForm.Execute(w, r.URL.Query().Get("token"))
}

// unsubscribe is the one-click unsubscribe of RFC 8058 (and the page's button): no key, the
// token is the authority.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	n, err := s.Dissemination.UnsubscribeByToken(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": n})
}
