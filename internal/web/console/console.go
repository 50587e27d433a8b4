// Package console serves the operator console at /console: sign-in with the node's API keys
// (a server-side session behind an HttpOnly, SameSite=Strict cookie, CSRF tokens on every
// form), a map of the stations coloured by flood class and QC state over the node's district
// boundaries, a station page with its hydrograph (observations, rule levels as bands,
// forecasts with their band, QC flags), the alert queue (drafts with their impact preview,
// approve and reject through the REST API's own decision path, issued alerts with their
// delivery progress, sector advisories labelled beside flood warnings), the rules, the
// federation agreements the key may see and, for the node-wide admin, the audit log with its
// verification.
//
// Pages are rendered on the server with html/template and work without JavaScript; the map
// (Leaflet, canvas renderer) and the hydrograph (uPlot) are drawn by small ES modules from
// JSON endpoints under /console/api/. Every asset is embedded (static/), nothing is fetched
// from elsewhere at run time unless a tile URL is configured (TileURL). See docs/console.md.
package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/twoway"
)

//go:embed static templates
var files embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console"

// Limits of the console's inputs and answers (named in the errors that enforce them).
const (
	MaxKeyLength = 512      // bytes of an API key typed into the sign-in form
	MaxFormBytes = 16 << 10 // bytes of a form body
	MaxWhyLength = 1000     // characters of a decision's reason
	// MaxEditFormBytes is the body limit of an edit form (one language of a draft: headline,
	// description and instruction at the alert service's limits, percent-encoded).
	MaxEditFormBytes = 128 << 10
	MaxSeriesHours   = 30 * 24 // hours of a hydrograph (?hours=)
	MaxSeriesRows    = 20000   // observations in one hydrograph answer (the newest kept)
	MaxForecastRow   = 5000    // forecast observations read for one hydrograph
	DefaultHours     = 72      // hours of a hydrograph when ?hours= is absent
	MaxSessions      = 10000   // sessions kept at once (the soonest to end dropped first)
	DefaultTTL       = 8 * time.Hour
)

// Entities reads SensorThings entities with query options (sqlq.Entities implements it).
type Entities interface {
	List(ctx context.Context, q *sensing.Query) (*sensing.Page, error)
}

// Readings reads a datastream's numeric observations with their QC flags, oldest first
// (forecasting.Store's Readings; sqlq.Entities implements it).
type Readings interface {
	Readings(ctx context.Context, ds int64, since, until time.Time) ([]forecasting.Reading, error)
}

// Server is the console. Set the fields, then mount Handler at Prefix.
type Server struct {
	// Keys checks, on every request, that a session's key is still valid (not revoked, not
	// expired); Authn checks a key typed into the sign-in form, slowed per source by its
	// Limiter (auth.Limiter: failed sign-ins count as failed authentications).
	Keys  auth.Store
	Authn *auth.Authenticator
	// Gauges are the datastreams the threshold rules read, with levels and latest readings:
	// the node's LEVEL command's source (twoway.Gauge; class and trend by twoway.Class and
	// twoway.Trend).
	Gauges   func(ctx context.Context) ([]twoway.Gauge, error)
	Entities Entities
	Readings Readings
	// Alerts lists and reads alerts; Decide approves or rejects one for the principal in ctx
	// through the REST API's own path (httpapi.Server.Decide: role, organisation, four eyes).
	Alerts alert.Store
	Decide func(ctx context.Context, action string, id int64, why string) (*alert.Alert, error)
	// Edit changes a draft's texts for the principal in ctx through the REST API's own path
	// (httpapi.Server.Edit: role, organisation, the alert service's limits); nil hides the
	// edit forms.
	Edit func(ctx context.Context, id int64, why string, edits []alert.InfoEdit) (*alert.Alert, error)
	// Rules lists the node's rules with their organisations.
	Rules func(ctx context.Context) ([]rule.Rule, error)
	// Impacts returns an alert's stored impact previews by message identifier ("" for the
	// draft); Progress its delivery counts. Either may be nil (no dissemination).
	Impacts  func(ctx context.Context, alertID int64) (map[string][]byte, error)
	Progress func(ctx context.Context, alertID int64) ([]dissemination.Count, error)
	// Agreements lists the federation agreements the signed-in key may see (federation.Service,
	// the API's list); Audit reads and verifies the audit log (*audit.Log). Either may be nil:
	// its page then says it is not set up on this node.
	Agreements AgreementLister
	Audit      AuditLog
	// Places lists the node's places (districts with boundaries, villages).
	Places func(ctx context.Context) ([]place.Place, error)
	// TileURL is an optional base-map tile URL template ("https://…/{z}/{x}/{y}.png"); empty:
	// no tiles, the districts alone (config console_tile_url).
	TileURL string
	// TTL is how long a session lasts from sign-in (0: DefaultTTL, 8 h).
	TTL time.Duration
	// Poll is how often the map asks for new data, seconds (0: 5).
	Poll int
	Node string // the node's id, shown in the header
	Log  *slog.Logger
	Now  func() time.Time

	once   sync.Once
	gz     sync.Map // static file name → its gzip-compressed bytes
	ss     *sessions
	tpl    map[string]*template.Template
	static http.Handler

	geoMu   sync.Mutex
	geo     []byte // districts GeoJSON, built once per places count
	geoN    int
	geoAt   time.Time
	villMu  sync.Mutex
	vill    []byte
	villN   int
	villAt  time.Time
	tileOrg string // the tile URL's origin, for the Content-Security-Policy
}

func (s *Server) init() {
	s.once.Do(func() {
		s.ss = newSessions(MaxSessions)
		s.tpl = parseTemplates()
		sub, _ := fs.Sub(files, "static")
		s.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub))
		if u, err := url.Parse(s.TileURL); err == nil && u.Scheme != "" && u.Host != "" {
			s.tileOrg = u.Scheme + "://" + u.Host
		}
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

// EndKey ends every console session of key id at once (call it when the key is revoked; a
// session of a key revoked elsewhere ends on its next request, which checks the key).
func (s *Server) EndKey(id int64) {
	s.init()
	s.ss.endKey(id)
}

// Handler serves the console under Prefix: the pages, the JSON endpoints and the embedded
// assets.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
	})
	mux.Handle("GET "+Prefix+"/static/", s.staticFiles())
	mux.HandleFunc("GET "+Prefix+"/signin", s.signinPage)
	mux.HandleFunc("POST "+Prefix+"/signin", s.signin)
	mux.HandleFunc("POST "+Prefix+"/signout", s.session(s.signout))
	mux.HandleFunc("GET "+Prefix+"/{$}", s.session(s.mapPage))
	mux.HandleFunc("GET "+Prefix+"/stations/{ds}", s.session(s.stationPage))
	mux.HandleFunc("GET "+Prefix+"/alerts", s.session(s.alertsPage))
	mux.HandleFunc("POST "+Prefix+"/alerts/{id}/{action}", s.session(s.decide))
	mux.HandleFunc("POST "+Prefix+"/alerts/{id}/edit", s.sessionLimit(MaxEditFormBytes, s.editDraft))
	mux.HandleFunc("GET "+Prefix+"/rules", s.session(s.rulesPage))
	mux.HandleFunc("GET "+Prefix+"/agreements", s.session(s.agreementsPage)) // agreements.go
	mux.HandleFunc("GET "+Prefix+"/audit", s.session(s.auditPage))           // audit.go
	mux.HandleFunc("GET "+Prefix+"/api/stations", s.session(s.stationsJSON))
	mux.HandleFunc("GET "+Prefix+"/api/stations/{ds}/series", s.session(s.seriesJSON))
	mux.HandleFunc("GET "+Prefix+"/api/districts", s.session(s.districtsJSON))
	mux.HandleFunc("GET "+Prefix+"/api/villages", s.session(s.villagesJSON))
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no console page at "+r.URL.Path)
	})
	return s.headers(mux)
}

// headers sets what every console answer carries: a Content-Security-Policy that lets the
// page load only the node's own assets (and the configured tiles), no framing, no sniffing,
// no referrer leaving the node.
func (s *Server) headers(next http.Handler) http.Handler {
	img := "'self' data:"
	if s.tileOrg != "" {
		img += " " + s.tileOrg
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img + "; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded assets, cached for a day (they change with the binary);
// scripts, styles and JSON gzip-compressed (once, on first use) to a client that accepts it.
func (s *Server) staticFiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		name := strings.TrimPrefix(r.URL.Path, Prefix+"/static/")
		ctype := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json"}[path.Ext(name)]
		if ctype != "" && acceptsGzip(r) {
			if b, ok := s.gzipped(name); ok {
				w.Header().Set("Content-Type", ctype)
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Vary", "Accept-Encoding")
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.Write(b)
				return
			}
		}
		w.Header().Set("Vary", "Accept-Encoding")
		s.static.ServeHTTP(w, r)
	})
}

// acceptsGzip tells whether r's Accept-Encoding lists gzip without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// gzipped returns the embedded static file name compressed (false when there is none).
func (s *Server) gzipped(name string) ([]byte, bool) {
	if v, ok := s.gz.Load(name); ok {
		return v.([]byte), true
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		return nil, false
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	s.gz.Store(name, buf.Bytes())
	return buf.Bytes(), true
}

// writeJSON writes v as JSON, not cached (it carries what a key may see).
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// wantsJSON tells an /api/ request (errors answered as JSON) from a page request.
func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, Prefix+"/api/")
}
