// Package sensorthings serves the OGC SensorThings API 1.1 (Part 1: Sensing) over HTTP:
// resource paths, the OData query options, create/update/delete with deep insert, links
// through $ref writes, the dataArray extension and batch requests (multipart and JSON, with
// atomic change sets). It holds no SQL: it parses and checks requests, asks a Store, and
// writes the standard's JSON.
package sensorthings

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// Version is the path segment of the API root.
const Version = "v1.1"

// Store is what the API needs from storage.
type Store interface {
	Get(ctx context.Context, q *sensing.Query) (*sensing.Entity, error)
	List(ctx context.Context, q *sensing.Query) (*sensing.Page, error)
	Navigate(ctx context.Context, set string, id int64, nav string) (string, int64, error)
	Create(ctx context.Context, e *sensing.Entity) (int64, error)
	Update(ctx context.Context, e *sensing.Entity, replace bool) error
	Delete(ctx context.Context, set string, id int64) error
}

// Linker is what a Store needs for the $ref writes (link and unlink). A Store without it
// answers them with 405 Method Not Allowed.
type Linker interface {
	// Link adds target to set(id)'s navigation property nav (replacing it when nav is
	// to-one); Unlink removes it. See sqlq.Entities.Link and Unlink.
	Link(ctx context.Context, set string, id int64, nav string, target int64) error
	Unlink(ctx context.Context, set string, id int64, nav string, target int64) error
}

// Ingester accepts observations on the ingest path (QC, store, and what follows a commit).
type Ingester interface {
	Ingest(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error)
	// Reject counts an observation refused before it could be stored (malformed).
	Reject(source string, err error)
}

// Server is the SensorThings HTTP surface.
type Server struct {
	Store  Store
	Ingest Ingester
	Log    *slog.Logger
	// PublicURL is the base URL for links; empty means derived from the request.
	PublicURL string
	// PublicRead lets anonymous clients read.
	PublicRead bool
	// MaxBody bounds request bodies; DefaultTop and MaxTop bound pages, at every level of
	// $expand (a larger $top gets MaxTop entities and a nextLink).
	MaxBody    int64
	DefaultTop int
	MaxTop     int
	// MaxRows and MaxBytes bound one response (0: DefaultMaxRows, DefaultMaxBytes), and
	// Timeout one read (0: DefaultTimeout); see limits.go.
	MaxRows, MaxBytes int64
	Timeout           time.Duration
	// MaxReads is how many reads are served at once (0: DefaultMaxReads); the others wait
	// their turn, then are a 503 naming the limit (limits.go).
	MaxReads int
	gateOnce sync.Once
	reads    readGate
	// MQTTAddr is the host:port of the node's MQTT listener ("" when it has none). With one,
	// the service root lists the create-observations-via-mqtt class and its endpoint,
	// mqtt://<host the client reached us at, or PublicURL's>:<port>.
	MQTTAddr string
	// Idempotency, when set, keeps the answers of observation POSTs made with an
	// Idempotency-Key for IdempotencyWindow (0: DefaultIdempotencyWindow); see idempotency.go.
	Idempotency       ingest.Idempotency
	IdempotencyWindow time.Duration
	idemPurged        atomic.Int64 // Unix seconds of the last purge of expired keys
	// Owner, when set, returns the organisation owning set(id), a Datastream or MultiDatastream
	// (sqlq.Entities.Owner): an MQTT create published to its topic acts for that organisation
	// (MQTTCreate). Without it such a create acts for the node.
	Owner func(ctx context.Context, set string, id int64) (string, error)
	// ReadOnly, when set, may refuse a change to entity set(id) with its error: an update, a
	// delete, a link written from or to it ($ref), an entity created under it
	// (Things(1)/Locations). The node refuses what belongs to a remote Datastream, received
	// from a partner node under an agreement: 403 to the keys that may read it, and to the
	// others the 404 of an id that does not exist (sqlq.Entities.Unseen). New Observations of
	// a remote Datastream are refused by the ingest service's guard, in the same way.
	ReadOnly func(ctx context.Context, set string, id int64) error
}

// MQTTCreateClass is the conformance class of creating Observations by MQTT publish
// (SensorThings 1.1, 14.2.2), true of a server with an MQTT listener (MQTTTopics). The class
// receive-updates-via-mqtt (14.2.1) is not claimed: subscribers get new Observations only (on
// v1.1/Observations, Datastreams(<id>)/Observations and FeaturesOfInterest(<id>)/Observations),
// not every entity set, entity and property the class asks for.
const MQTTCreateClass = "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"

// Conformance lists the conformance classes this server implements, and only those (with an
// MQTT listener, MQTTCreateClass too).
var Conformance = []string{
	"http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
	"http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
	"http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
	"http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
	"http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
	"http://www.opengis.net/spec/iot_sensing/1.1/req/batch-request/batch-request", // batch.go: both formats, atomic change sets
	"http://www.opengis.net/spec/iot_sensing/1.1/req/multi-datastream",
}

// Handler returns the API's handler, to be mounted at "/v1.1/".
func (s *Server) Handler() http.Handler {
	return s.idempotent(http.HandlerFunc(s.serve))
}

func (s *Server) base(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/") + "/" + Version
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host + "/" + Version
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// every read of this request, at every level ($expand, $count, a $batch's parts), shows
	// the remote entities (a partner's data, received under an agreement) only to viewers of
	// the consumer organisation and the node-wide admin, whatever PublicRead says
	r = r.WithContext(ReadView(r.Context()))
	p := strings.TrimPrefix(r.URL.Path, "/"+Version)
	p = strings.TrimPrefix(p, "/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := auth.Require(r.Context(), auth.Operator); err != nil {
			s.Error(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
	} else if !s.PublicRead {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		var cancel context.CancelFunc
		r, cancel = s.readDeadline(r)
		defer cancel()
		leave, err := s.enterRead(w, r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		defer leave()
	}
	if p == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, r, "GET, HEAD") // the service root is read-only
			return
		}
		s.root(w, r)
		return
	}
	res, err := parsePath(p)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	switch res.Special {
	case "CreateObservations":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, "POST")
			return
		}
		s.createObservations(w, r)
		return
	case "$batch":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, "POST")
			return
		}
		s.batch(w, r)
		return
	}
	if res.Ref && r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.refWrite(w, r, res)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, r, res)
	case http.MethodPost:
		s.post(w, r, res)
	case http.MethodPatch, http.MethodPut:
		s.update(w, r, res, r.Method == http.MethodPut)
	case http.MethodDelete:
		s.delete(w, r, res)
	default:
		s.methodNotAllowed(w, r, "GET, POST, PATCH, PUT, DELETE")
	}
}

// ReadView returns ctx whose reads show the remote entities (sensing.RemoteView) the principal
// of ctx may read: every one to the node-wide admin, its organisation's to a viewer and up,
// none to anyone else. A remote entity the reader may not see is left out of collections and
// counts, and its own URL is a 404, as if it did not exist.
func ReadView(ctx context.Context) context.Context {
	all, org := auth.FromContext(ctx).Reads()
	return sensing.WithRemoteView(ctx, sensing.RemoteView{All: all, Org: org})
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	msg := r.Method + " is not allowed here; use " + allow
	s.writeError(w, r, http.StatusMethodNotAllowed, msg, errors.New(msg))
}

// root serves GET / (18-088 §8.2.1): the entity sets with their URLs and serverSettings with
// the conformance classes; its Link header (RFC 8631) points to the OpenAPI document,
// <base/api>; rel="service-desc", base being the service root as a client reaches it.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	type link struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	var v []link
	for _, name := range []string{sensing.Datastreams, sensing.FeaturesOfInterest, sensing.HistoricalLocations, sensing.Locations, sensing.MultiDatastreams, sensing.Observations, sensing.ObservedProperties, sensing.Sensors, sensing.Things} {
		v = append(v, link{name, base + "/" + name})
	}
	conf := append([]string(nil), Conformance...)
	settings := map[string]any{}
	if ep := s.mqttEndpoint(r); ep != "" {
		conf = append(conf, MQTTCreateClass)
		settings[MQTTCreateClass] = map[string]any{"endpoints": []string{ep}}
	}
	settings["conformance"] = conf
	// RFC 8631: the OpenAPI document describing this service (internal/openapi serves it at
	// /v1.1/api, the path FROST-Server uses)
	w.Header().Set("Link", "<"+base+"/api>; rel=\"service-desc\"")
	writeJSON(w, http.StatusOK, map[string]any{"value": v, "serverSettings": settings})
}

// mqttEndpoint returns the URL of the MQTT listener as a client reaches it: the host of
// PublicURL, or else of the request, with the listener's port ("" without a listener).
func (s *Server) mqttEndpoint(r *http.Request) string {
	if s.MQTTAddr == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(s.MQTTAddr)
	if err != nil {
		return ""
	}
	host := r.Host
	if s.PublicURL != "" {
		if u, err := url.Parse(s.PublicURL); err == nil && u.Host != "" {
			host = u.Host
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "mqtt://" + net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// target is what a resource path addresses: one entity, or a collection (maybe via a parent).
type target struct {
	Set    string
	ID     int64
	Parent *sensing.Parent
}

// resolve walks the path's segments, checking that each addressed entity exists and is
// related to the one before.
func (s *Server) resolve(ctx context.Context, res *resource) (*target, error) {
	var cur *target
	for i, seg := range res.Segs {
		if i == 0 {
			cur = &target{Set: seg.Set, ID: seg.ID}
			if seg.HasID {
				if _, err := s.Store.Get(ctx, &sensing.Query{Set: seg.Set, ID: seg.ID, Opts: &odata.Options{}}); err != nil {
					return nil, err
				}
			}
			continue
		}
		prevSet := sensing.Sets[cur.Set]
		nav, _ := prevSet.NavTo(seg.Name)
		if !nav.Many {
			set, id, err := s.Store.Navigate(ctx, cur.Set, cur.ID, seg.Name)
			if err != nil {
				return nil, err
			}
			cur = &target{Set: set, ID: id}
			continue
		}
		parent := &sensing.Parent{Set: cur.Set, ID: cur.ID, Nav: seg.Name}
		if seg.HasID {
			if _, err := s.Store.Get(ctx, &sensing.Query{Set: seg.Set, ID: seg.ID, Parent: parent, Opts: &odata.Options{}}); err != nil {
				return nil, err
			}
			cur = &target{Set: seg.Set, ID: seg.ID}
			continue
		}
		cur = &target{Set: seg.Set, Parent: parent}
	}
	return cur, nil
}

// options parses the query options, taking out the server's own $skiptoken.
func (s *Server) options(r *http.Request) (*odata.Options, *sensing.Cursor, error) {
	q, err := query(r.URL.RawQuery)
	if err != nil {
		return nil, nil, err
	}
	var cur *sensing.Cursor
	if tok := q.Get("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err == nil {
			err = sensing.CheckJSON(b) // a member given twice, text that is not UTF-8 …
		}
		if err == nil {
			cur = &sensing.Cursor{}
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			dec.DisallowUnknownFields()
			err = dec.Decode(cur)
		}
		// the server's cursors name the page's last id (and, but for an expanded collection's,
		// the largest id when the listing began): an empty or made-up one ({}, {"x":1}) is not
		// one of them
		if err == nil && (cur.ID < 1 || cur.MaxID < 0) {
			err = errors.New("no position")
		}
		if err != nil {
			return nil, nil, apperr.E(apperr.Invalid, "$skiptoken is not one this server made; follow @iot.nextLink as given")
		}
		for i, k := range cur.Keys {
			if n, ok := k.(json.Number); ok {
				if iv, err := n.Int64(); err == nil {
					cur.Keys[i] = iv
				} else {
					f, _ := n.Float64()
					cur.Keys[i] = f
				}
			}
		}
		q.Del("$skiptoken")
	}
	opts, err := odata.ParseOptions(q)
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.Invalid, err, "")
	}
	return opts, cur, nil
}

func (s *Server) top(o *odata.Options) (int, error) {
	if o.Top == nil {
		return s.DefaultTop, nil
	}
	if *o.Top > int64(s.MaxTop) {
		return s.MaxTop, nil // server-driven paging takes over past the limit
	}
	return int(*o.Top), nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, res *resource) {
	ctx := r.Context()
	opts, cur, err := s.options(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	t, err := s.resolve(ctx, res)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := checkSelect(t.Set, opts); err != nil {
		s.Error(w, r, err)
		return
	}
	base := s.base(r)
	if t.ID == 0 { // a collection
		if res.Property != "" {
			s.Error(w, r, apperr.E(apperr.Invalid, "a property is read from one entity, not a collection"))
			return
		}
		top, err := s.top(opts)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		q := &sensing.Query{Set: t.Set, Parent: t.Parent, Opts: opts, Top: top, Cursor: cur, MaxTop: s.MaxTop, ExpandTop: s.DefaultTop,
			Budget: s.budget(ctx)}
		page, err := s.Store.List(ctx, q)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		out := &writer{base: base, rw: w}
		switch {
		case res.Ref:
			out.refs(page)
		case opts.ResultFormat == "dataArray":
			if t.Set != sensing.Observations {
				s.Error(w, r, apperr.E(apperr.Invalid, "$resultFormat=dataArray applies to Observations"))
				return
			}
			for _, it := range opts.Select {
				if len(it.Path) > 0 {
					s.Error(w, r, &odata.Error{Option: "$select", Pos: it.P, Msg: fmt.Sprintf("%s: the components of $resultFormat=dataArray are whole properties", it)})
					return
				}
			}
			out.dataArray(page, opts)
		default:
			out.page(t.Set, page, opts)
		}
		if page.Next != nil {
			out.nextLink(r, page.Next)
		}
		out.b.WriteByte('}')
		out.done(w, http.StatusOK)
		return
	}
	e, err := s.Store.Get(ctx, &sensing.Query{Set: t.Set, ID: t.ID, Opts: opts, MaxTop: s.MaxTop, Top: s.DefaultTop, ExpandTop: s.DefaultTop,
		Budget: s.budget(ctx)})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := &writer{base: base, rw: w}
	switch {
	case res.Ref:
		out.b.WriteString(`{"@iot.selfLink":`)
		out.str(selfLink(base, e))
		out.b.WriteByte('}')
	case res.Property != "":
		var v any
		if res.Property == "id" {
			v = e.ID
		} else {
			v = e.Props[res.Property]
		}
		if res.Value {
			if v == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			switch x := v.(type) {
			case string:
				fmt.Fprint(w, x)
			case json.RawMessage:
				w.Write(x)
			case float64:
				fmt.Fprint(w, strconv.FormatFloat(x, 'g', -1, 64))
			default:
				fmt.Fprint(w, x)
			}
			return
		}
		out.b.WriteByte('{')
		out.str(res.Property)
		out.b.WriteByte(':')
		out.value(v)
		out.b.WriteByte('}')
	default:
		out.entity(e, opts)
	}
	out.done(w, http.StatusOK)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, res *resource) {
	ctx := r.Context()
	if res.Property != "" || res.Ref {
		s.Error(w, r, apperr.E(apperr.Invalid, "POST goes to a collection, e.g. /%s/Things", Version))
		return
	}
	var t *target
	var err error
	// POST /Datastreams(id)/Observations (or a MultiDatastream's): the ingest path checks in
	// its transaction that the stream exists (NotFound, "Datastreams(id) does not exist", as
	// resolve's read says) and that the principal owns it, from what it keeps in memory; the
	// read resolve makes first is made below only for a body that does not go that way
	lazy := ingestParent(res)
	if lazy {
		t = &target{Set: res.Segs[1].Set, Parent: &sensing.Parent{Set: res.Segs[0].Set, ID: res.Segs[0].ID, Nav: res.Segs[1].Name}}
	} else if t, err = s.resolve(ctx, res); err != nil {
		s.Error(w, r, err)
		return
	}
	if t.ID != 0 {
		s.Error(w, r, apperr.E(apperr.Invalid, "POST goes to a collection, not to one entity; use PATCH to change %s(%d)", t.Set, t.ID))
		return
	}
	raw, err := readJSON(r.Body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	e, err := decodeEntity(t.Set, raw, true)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if t.Parent != nil {
		if err := s.readOnly(ctx, t.Parent.Set, t.Parent.ID); err != nil {
			s.Error(w, r, err)
			return
		}
		// Things(1)/Datastreams: the new entity links to its parent
		back := backNav(t.Parent.Set, t.Parent.Nav)
		if back == "" {
			s.Error(w, r, apperr.E(apperr.Invalid, "cannot create through %s/%s", t.Parent.Set, t.Parent.Nav))
			return
		}
		e.Links[back] = append(e.Links[back], &sensing.Entity{Set: t.Parent.Set, ID: t.Parent.ID, Ref: true})
	}
	if lazy && !s.ingests(e) { // the read resolve would have made
		if _, err := s.Store.Get(ctx, &sensing.Query{Set: t.Parent.Set, ID: t.Parent.ID, Opts: &odata.Options{}}); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	id, created, err := s.createStored(ctx, "http", e)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if created == nil { // anything but a single Observation: read back what was written
		created, err = s.Store.Get(ctx, &sensing.Query{Set: t.Set, ID: id, Opts: &odata.Options{}})
		if err != nil {
			s.Error(w, r, err)
			return
		}
	}
	out := &writer{base: s.base(r)}
	w.Header().Set("Location", selfLink(out.base, created))
	out.entity(created, &odata.Options{})
	out.done(w, http.StatusCreated)
}

// create stores e: an Observation on its own goes through the ingest path; anything else
// (deep inserts included) through the store in one transaction.
func (s *Server) create(ctx context.Context, source string, e *sensing.Entity) (int64, error) {
	id, _, err := s.createStored(ctx, source, e)
	return id, err
}

// createStored is create that also returns, for an Observation that went through the ingest
// path, the entity as stored (sensing.Observation.Stored: what a read of it gives), so that
// the 201 answer needs no read back; nil for anything else.
func (s *Server) createStored(ctx context.Context, source string, e *sensing.Entity) (int64, *sensing.Entity, error) {
	if e.Set == sensing.Observations && s.Ingest != nil {
		ds := e.Links["Datastream"]
		md := e.Links["MultiDatastream"]
		foi := e.Links["FeatureOfInterest"]
		stream := ingestStream(e)
		if stream != nil {
			o := *e.Obs
			if stream.Set == sensing.MultiDatastreams {
				o.MultiDatastreamID = stream.ID
			} else {
				o.DatastreamID = stream.ID
			}
			if len(foi) == 1 {
				o.FoIID = foi[0].ID
			}
			one := []sensing.Observation{o} // the store sets its id, FeatureOfInterest and QC flag
			ids, errs, err := s.Ingest.Ingest(ctx, source, one)
			if err != nil {
				return 0, nil, err
			}
			if errs[0] != nil {
				return 0, nil, errs[0]
			}
			if one[0].ID != ids[0] || one[0].FoIID == 0 { // not as stored: read it back
				return ids[0], nil, nil
			}
			return ids[0], one[0].Stored(), nil
		}
		if len(ds) == 0 && len(md) == 0 {
			err := apperr.E(apperr.Invalid, "Observation needs a Datastream or a MultiDatastream (by @iot.id or inline)")
			s.Ingest.Reject(source, err)
			return 0, nil, err
		}
		// a deep insert: refused, it counts as a refused observation like any other
		id, err := s.Store.Create(ctx, e)
		if k := apperr.KindOf(err); err != nil && k != apperr.Internal && k != apperr.Unavailable {
			s.Ingest.Reject(source, err)
		}
		return id, nil, err
	}
	id, err := s.Store.Create(ctx, e)
	return id, nil, err
}

// ingestStream returns the (Multi)Datastream reference of an Observation that createStored
// sends through the ingest path: one stream by reference (its Datastream, or its
// MultiDatastream, 18-088 §9) and no FeatureOfInterest or one by reference; nil for any other
// entity (a deep insert, both streams, none), which goes to Store.Create.
func ingestStream(e *sensing.Entity) *sensing.Entity {
	if e.Set != sensing.Observations {
		return nil
	}
	ds, md, foi := e.Links["Datastream"], e.Links["MultiDatastream"], e.Links["FeatureOfInterest"]
	stream := ds
	switch {
	case len(ds) > 0 && len(md) > 0:
		return nil // both: the store says which does not exist, or that both is wrong
	case len(md) > 0:
		stream = md
	}
	if len(stream) == 1 && stream[0].Ref && (len(foi) == 0 || (len(foi) == 1 && foi[0].Ref)) {
		return stream[0]
	}
	return nil
}

// ingests reports whether createStored sends e through the ingest path.
func (s *Server) ingests(e *sensing.Entity) bool { return s.Ingest != nil && ingestStream(e) != nil }

// ingestParent reports whether res is POST's /Datastreams(id)/Observations or
// /MultiDatastreams(id)/Observations, whose stream post leaves the ingest path to check.
func ingestParent(res *resource) bool {
	return len(res.Segs) == 2 && res.Segs[0].HasID && (res.Segs[0].Set == sensing.Datastreams || res.Segs[0].Set == sensing.MultiDatastreams) &&
		!res.Segs[1].HasID && res.Segs[1].Set == sensing.Observations && res.Segs[1].Name == "Observations"
}

// backNav returns the navigation property of the target of parentSet/nav leading back to parentSet.
func backNav(parentSet, nav string) string {
	n, _ := sensing.Sets[parentSet].NavTo(nav)
	for _, b := range sensing.Sets[n.Target].Navs {
		if b.Target == parentSet {
			return b.Name
		}
	}
	return ""
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, res *resource, replace bool) {
	ctx := r.Context()
	if res.Property != "" || res.Ref {
		s.Error(w, r, apperr.E(apperr.Invalid, "%s goes to one entity, e.g. /%s/Things(1)", r.Method, Version))
		return
	}
	t, err := s.resolve(ctx, res)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if t.ID == 0 {
		s.Error(w, r, apperr.E(apperr.Invalid, "%s goes to one entity, not a collection", r.Method))
		return
	}
	raw, err := readJSON(r.Body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	e, err := decodeUpdate(t.Set, raw, r.Method, replace)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if e.ID != 0 && e.ID != t.ID {
		s.Error(w, r, apperr.E(apperr.Invalid, "@iot.id %d in the body differs from the id %d in the URL", e.ID, t.ID))
		return
	}
	e.ID = t.ID
	if err := s.readOnly(ctx, t.Set, t.ID); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.Store.Update(ctx, e, replace); err != nil {
		s.Error(w, r, err)
		return
	}
	updated, err := s.Store.Get(ctx, &sensing.Query{Set: t.Set, ID: t.ID, Opts: &odata.Options{}})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	out := &writer{base: s.base(r)}
	out.entity(updated, &odata.Options{})
	out.done(w, http.StatusOK)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, res *resource) {
	ctx := r.Context()
	if res.Property != "" || res.Ref {
		s.Error(w, r, apperr.E(apperr.Invalid, "DELETE goes to one entity, e.g. /%s/Things(1)", Version))
		return
	}
	t, err := s.resolve(ctx, res)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if t.ID == 0 {
		s.Error(w, r, apperr.E(apperr.Invalid, "DELETE goes to one entity, not a collection"))
		return
	}
	if err := s.readOnly(ctx, t.Set, t.ID); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.Store.Delete(ctx, t.Set, t.ID); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readOnly is ReadOnly's answer for set(id) (nil without ReadOnly).
func (s *Server) readOnly(ctx context.Context, set string, id int64) error {
	if s.ReadOnly == nil || id == 0 {
		return nil
	}
	return s.ReadOnly(ctx, set, id)
}

// Error writes err as the standard's JSON error with the status its kind maps to and the
// message given where the kind was given (apperr.Message), never a wrapped cause. The body and
// the X-Request-Id header carry the request id; the one log line of the error carries it too,
// with the whole cause: at level error for a 5xx, info for a refused request.
//
// The error of a read whose deadline passed is a 503 naming the limit; that of a request whose
// client went away is only logged (at info, status 499 as nginx logs it): no one reads it.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	if err = contextErr(r, err); errors.Is(err, errGone) {
		s.logError(r, requestID(w, r), 499, err)
		return
	}
	status := Status(err)
	msg := apperr.Message(err)
	var oe *odata.Error
	if apperr.KindOf(err) == apperr.Internal && errors.As(err, &oe) {
		msg = oe.UserMessage() // a query option error that no one gave a kind: still the client's
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rabta"`)
	}
	s.writeError(w, r, status, msg, err)
}

// writeError logs err once and writes the JSON error body with msg and the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	id := requestID(w, r)
	s.logError(r, id, status, err)
	w.Header().Set("Content-Type", apperr.JSONType)
	w.WriteHeader(status)
	w.Write(apperr.JSON(status, msg, id)) // the one error body of every surface
}

func (s *Server) logError(r *http.Request, id string, status int, err error) {
	if s.Log == nil {
		return
	}
	level, event := slog.LevelInfo, "request_refused"
	switch {
	case status == 499:
		event = "request_abandoned"
	case status >= 500:
		level, event = slog.LevelError, "request_failed"
	}
	s.Log.Log(r.Context(), level, event, "method", r.Method, "path", r.URL.Path, "status", status, "request_id", id, "err", err)
}

// requestID returns the request's id (see auth.RequestID); a handler served without that
// middleware gets one made here, in the response header too, so that every error has one.
func requestID(w http.ResponseWriter, r *http.Request) string {
	id := apperr.RequestID(r.Context())
	if id == "" {
		id = apperr.NewRequestID()
		w.Header().Set(apperr.RequestIDHeader, id)
	}
	return id
}

// Status maps an error's kind to an HTTP status.
func Status(err error) int {
	var oe *odata.Error
	if errors.As(err, &oe) {
		return http.StatusBadRequest
	}
	return apperr.HTTPStatus(err)
}

func errBody(requestID string, status int, msg string) apperr.Body {
	return apperr.NewBody(status, msg, requestID)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// query parses a raw query string. Unlike url.ParseQuery it keeps ';' inside values, which
// SensorThings uses to separate the options nested in $expand(...).
func query(raw string) (url.Values, error) {
	v := url.Values{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "query parameter %q: bad percent-encoding", k)
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "query parameter %s: bad percent-encoding", key)
		}
		v[key] = append(v[key], value)
	}
	return v, nil
}

// nextLinkURL rebuilds the request URL with the cursor in $skiptoken (replacing $skip, which
// the cursor already accounts for).
func nextLinkURL(base string, r *http.Request, c *sensing.Cursor) string {
	q, _ := query(r.URL.RawQuery)
	p := strings.TrimPrefix(r.URL.Path, "/"+Version)
	return pageURL(base+p, q, c)
}

// pageURL is u with the query options q, without $skip and with the cursor c in $skiptoken;
// a zero cursor (an expanded collection of which nothing fit in the response budget) gives
// the collection from its start, $skip and all.
func pageURL(u string, q url.Values, c *sensing.Cursor) string {
	if c.MaxID == 0 && c.ID == 0 && len(c.Keys) == 0 {
		return u + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	q.Del("$skip")
	b, _ := json.Marshal(c)
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString(b))
	return u + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}

// expandedNextLink is the @iot.nextLink of an expanded collection nav of the entity at self,
// cut at top entities: the collection's own URL with the options of its $expand item (o, nil
// for none), the same page size, and the cursor, so that it lists the rest of exactly the
// collection that was expanded.
func expandedNextLink(self, nav string, o *odata.Options, top int, c *sensing.Cursor) string {
	q := url.Values{}
	if o != nil {
		q = o.Encode()
	}
	q.Set("$top", strconv.Itoa(top))
	return pageURL(self+"/"+nav, q, c)
}
