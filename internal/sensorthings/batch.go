package sensorthings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Batch requests (SensorThings 1.1 §11 "Batch requests", which takes OData's): POST /$batch
// in either format the standard allows —
//
//   - multipart/mixed (OData 4.0 Protocol §11.7): batch_multipart.go;
//   - JSON (OData 4.01 JSON Format §19): {"requests": [...]} answered by {"responses": [...]}.
//
// Both come down to a list of batchItems run in order by runBatch. Requests of one change set
// (multipart) or atomicity group (JSON) are atomic: they run in one store transaction
// (Atomic) and all of them commit or none does. A request may refer to the entity an earlier
// request created with "$<id>" at the start of its URL ("$1/Datastreams") or as an
// "@iot.id" in its body ({"Thing": {"@iot.id": "$1"}}), where <id> is the earlier request's
// Content-ID (multipart) or id (JSON). A JSON request with dependsOn runs only if every
// request (or atomicity group) it names succeeded, and is otherwise answered 424 Failed
// Dependency. A $batch inside a batch is refused. After a request (or group) that failed the
// batch stops, unless its Prefer header asks for odata.continue-on-error.

// maxBatch bounds the number of requests in one batch, counted over all its parts and change
// sets.
const maxBatch = 1000

// maxBatchResponse bounds the bytes of a batch's response bodies (64 MiB). The responses of
// writes always come back (each is about the size of its request); a GET whose response
// crosses the bound is left out, and every request after it is not run, each answered 413
// naming the bound.
var maxBatchResponse = 64 << 20

// Atomic is a Store that can run several writes as one transaction: every Store and Ingester
// call made with the context fn is given joins it, and all of it commits when fn returns nil,
// none of it otherwise (sqlq.Entities.Atomic). Change sets and atomicity groups need it.
type Atomic interface {
	Atomic(ctx context.Context, fn func(ctx context.Context) error) error
}

// batchItem is one request of a batch, in either format.
type batchItem struct {
	ID        string // JSON id or multipart Content-ID; "" when none
	Method    string
	URL       string // as sent
	Header    http.Header
	Body      []byte
	Group     string   // change set or atomicity group; "" when none
	DependsOn []string // JSON dependsOn
	where     string   // where it is in the batch, for messages: "requests[3]", "part 2"
}

// batchResult is the response to one batchItem.
type batchResult struct {
	item   *batchItem
	status int
	header http.Header
	body   []byte
	// rolledBack: it was not run, or undone, because another request of its group failed
	rolledBack bool
}

// inBatchKey marks the context of a batch's sub-requests.
type inBatchKey struct{}

// batch serves POST /$batch.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(inBatchKey{}) != nil {
		s.Error(w, r, apperr.E(apperr.Invalid, "a $batch inside a batch is not allowed"))
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case ct == "" || (err == nil && mt == "application/json"):
		s.batchJSON(w, r)
	case err == nil && mt == "multipart/mixed":
		s.batchMultipart(w, r, params)
	default:
		s.Error(w, r, apperr.E(apperr.Invalid, "$batch takes multipart/mixed (with a boundary) or the JSON batch format (application/json), got Content-Type %q", ct))
	}
}

type jsonBatchRequest struct {
	ID             string            `json:"id"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers,omitempty"`
	Body           json.RawMessage   `json:"body,omitempty"`
	AtomicityGroup string            `json:"atomicityGroup,omitempty"`
	DependsOn      []string          `json:"dependsOn,omitempty"`
}

type jsonBatchResponse struct {
	ID             string            `json:"id,omitempty"`
	AtomicityGroup string            `json:"atomicityGroup,omitempty"`
	Status         int               `json:"status"`
	Headers        map[string]string `json:"headers,omitempty"`
	Body           json.RawMessage   `json:"body,omitempty"`
}

// batchJSON serves the JSON batch format (OData 4.01 JSON Format §19).
func (s *Server) batchJSON(w http.ResponseWriter, r *http.Request) {
	raw, err := readJSON(r.Body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var req struct {
		Requests []jsonBatchRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if why := sensing.JSONReason(err); why != "" {
			s.Error(w, r, apperr.Wrap(apperr.Invalid, err, "$batch: want {\"requests\": [...]}: %s", why))
			return
		}
		s.Error(w, r, apperr.Wrap(apperr.Invalid, err, "$batch: want {\"requests\": [...]}"))
		return
	}
	if len(req.Requests) > maxBatch {
		s.Error(w, r, apperr.E(apperr.Invalid, "$batch: %d requests, at most %d (maxBatch)", len(req.Requests), maxBatch))
		return
	}
	items := make([]*batchItem, len(req.Requests))
	for i, br := range req.Requests {
		h := http.Header{}
		for k, v := range br.Headers {
			h.Set(k, v)
		}
		items[i] = &batchItem{ID: br.ID, Method: strings.ToUpper(br.Method), URL: br.URL, Header: h, Body: br.Body,
			Group: br.AtomicityGroup, DependsOn: br.DependsOn, where: fmt.Sprintf("requests[%d]", i)}
	}
	if err := checkItems(items, "atomicity group"); err != nil {
		s.Error(w, r, err)
		return
	}
	results, applied := s.runBatch(r, items)
	if applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	out := make([]jsonBatchResponse, len(results))
	for i, res := range results {
		out[i] = jsonBatchResponse{ID: res.item.ID, AtomicityGroup: res.item.Group, Status: res.status}
		if loc := res.header.Get("Location"); loc != "" {
			out[i].Headers = map[string]string{"location": loc}
		}
		if b := bytes.TrimSpace(res.body); len(b) > 0 && json.Valid(b) {
			out[i].Body = b
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// checkItems checks what can be checked of a batch before any of it runs: methods, unique
// ids, groups whose requests are adjacent and hold no GET, dependsOn naming only earlier
// requests or groups. group names a group in messages ("change set", "atomicity group").
func checkItems(items []*batchItem, group string) error {
	article := "a"
	if strings.ContainsRune("aeiou", rune(group[0])) {
		article = "an"
	}
	ids := map[string]bool{}
	groups := map[string]bool{} // groups seen, closed or open
	for i, it := range items {
		switch it.Method {
		case "GET", "POST", "PATCH", "PUT", "DELETE":
		default:
			return apperr.E(apperr.Invalid, "$batch: %s: method %q; want GET, POST, PATCH, PUT or DELETE", it.where, it.Method)
		}
		if it.Group != "" {
			if groups[it.Group] && items[i-1].Group != it.Group {
				return apperr.E(apperr.Invalid, "$batch: %s: the requests of %s %q must be adjacent", it.where, group, it.Group)
			}
			if it.Method == "GET" {
				return apperr.E(apperr.Invalid, "$batch: %s: GET is not allowed in %s %s: it holds only changes (OData 4.0 §11.7.3.1)", it.where, article, group)
			}
			if ids[it.Group] && !groups[it.Group] {
				return apperr.E(apperr.Invalid, "$batch: %s: %s %q has the id of a request", it.where, group, it.Group)
			}
		}
		for _, d := range it.DependsOn {
			if !ids[d] && !groups[d] {
				return apperr.E(apperr.Invalid, "$batch: %s: dependsOn %q names no request or atomicity group before it", it.where, d)
			}
		}
		if it.ID != "" {
			if ids[it.ID] || groups[it.ID] {
				return apperr.E(apperr.Invalid, "$batch: %s: id %q is used twice", it.where, it.ID)
			}
			ids[it.ID] = true
		}
		if it.Group != "" {
			groups[it.Group] = true
		}
	}
	return nil
}

// created is what a request of the batch created, for "$<id>" references.
type created struct {
	location string // the new entity's self link
	id       string // its id, as in the link
}

// refLookup finds what the request with an id created.
type refLookup func(id string) (created, bool)

// lookup finds what a committed request of the batch created.
func (b *batchRun) lookup(id string) (created, bool) {
	c, ok := b.created[id]
	return c, ok
}

// batchRun is the state of one batch while it runs.
type batchRun struct {
	s       *Server
	r       *http.Request
	created map[string]created // by request id, of committed requests
	ok      map[string]bool    // by request id and group: whether it succeeded
	status  map[string]int     // by request id: the status it got
	size    int                // bytes of response bodies so far
	full    bool               // maxBatchResponse reached: nothing more runs
}

// runBatch runs items in order and returns one result per item run, in order (change sets
// and atomicity groups as atomic units; see batch). After a request or group that failed it
// stops, as OData asks (4.01 Protocol §8.2.8.3), unless the batch's Prefer header holds
// odata.continue-on-error (or continue-on-error): then every item runs, and applied is the
// preference to echo in Preference-Applied.
func (s *Server) runBatch(r *http.Request, items []*batchItem) (results []*batchResult, applied string) {
	b := &batchRun{s: s, r: r, created: map[string]created{}, ok: map[string]bool{}, status: map[string]int{}}
	ctx := s.withBatchLimits(context.WithValue(r.Context(), inBatchKey{}, true)) // one budget and deadline for all its reads
	applied = continueOnError(r.Header)
	results = make([]*batchResult, 0, len(items))
	for i := 0; i < len(items); {
		j := i + 1
		failed := false
		if g := items[i].Group; g != "" {
			for j < len(items) && items[j].Group == g {
				j++
			}
			results = append(results, b.group(ctx, items[i:j])...)
			failed = !b.ok[g]
		} else {
			res := b.one(ctx, items[i], b.lookup)
			if res.status < 300 {
				b.record(items[i], res, b.created)
			}
			results = append(results, res)
			failed = res.status >= 400
		}
		if failed && applied == "" {
			break
		}
		i = j
	}
	return results, applied
}

// continueOnError returns the continue-on-error preference of a Prefer header as it was
// given ("odata.continue-on-error", "continue-on-error" or with "=true"), or "" when absent
// or false.
func continueOnError(h http.Header) string {
	for _, v := range h.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			name, val, _ := strings.Cut(p, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "odata.continue-on-error" && name != "continue-on-error" {
				continue
			}
			if val = strings.Trim(strings.TrimSpace(val), `"`); val == "" || strings.EqualFold(val, "true") {
				return p
			}
		}
	}
	return ""
}

// record notes a successful request's new entity in into.
func (b *batchRun) record(it *batchItem, res *batchResult, into map[string]created) {
	loc := res.header.Get("Location")
	if it.ID == "" || loc == "" {
		return
	}
	c := created{location: loc}
	if m := lastID.FindStringSubmatch(loc); m != nil {
		c.id = m[1]
	}
	into[it.ID] = c
}

var lastID = regexp.MustCompile(`\(([^()]*)\)$`)

// failedDependency returns the 424 answer for it when a request or group it depends on (but
// those in skip) did not succeed, else nil.
func (b *batchRun) failedDependency(it *batchItem, skip map[string]bool) *batchResult {
	for _, d := range it.DependsOn {
		if skip[d] || b.ok[d] {
			continue
		}
		what := fmt.Sprintf("%q", d)
		if st, ok := b.status[d]; ok {
			what = fmt.Sprintf("request %q (status %d)", d, st)
		}
		return b.errResult(it, http.StatusFailedDependency, fmt.Sprintf("not run: it depends on %s, which did not succeed", what))
	}
	return nil
}

// one runs a request, looking up "$<id>" references with refs.
func (b *batchRun) one(ctx context.Context, it *batchItem, refs refLookup) *batchResult {
	var res *batchResult
	switch {
	case b.full:
		res = b.tooLarge(it)
	default:
		if res = b.failedDependency(it, nil); res == nil {
			res = b.serve(ctx, it, refs)
		}
	}
	if it.ID != "" {
		b.ok[it.ID] = res.status < 300
		b.status[it.ID] = res.status
	}
	return res
}

func (b *batchRun) tooLarge(it *batchItem) *batchResult {
	return b.errResult(it, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("left out: the batch's responses exceed %d bytes (maxBatchResponse); split the batch or ask for smaller pages", maxBatchResponse))
}

// errGroupFailed stops a group's transaction when one of its requests failed.
var errGroupFailed = errors.New("a request of the group failed")

// group runs the requests of one change set or atomicity group in one transaction.
func (b *batchRun) group(ctx context.Context, items []*batchItem) []*batchResult {
	g := items[0].Group
	results := make([]*batchResult, len(items))
	fail := func(failed int, why string) []*batchResult {
		for k, it := range items {
			if k != failed {
				results[k] = b.errResult(it, http.StatusFailedDependency, why)
				results[k].rolledBack = true
			}
			if it.ID != "" {
				b.ok[it.ID] = false
				b.status[it.ID] = results[k].status
			}
		}
		b.ok[g] = false
		return results
	}
	// a dependency outside the group is known before the group starts; one inside it is met
	// when it is reached, or the group fails anyway
	inGroup := map[string]bool{}
	for _, it := range items {
		if it.ID != "" {
			inGroup[it.ID] = true
		}
	}
	for k, it := range items {
		if res := b.failedDependency(it, inGroup); res != nil {
			results[k] = res
			return fail(k, fmt.Sprintf("not run: %s in %q depends on a request that did not succeed", it.where, g))
		}
	}
	atomic, ok := b.s.Store.(Atomic)
	if !ok {
		return fail(-1, "not run: this store cannot run a change set atomically")
	}
	local := map[string]created{}
	failed := -1
	err := atomic.Atomic(ctx, func(ctx context.Context) error {
		refs := func(id string) (created, bool) { // the group's own first, then the batch's
			if c, ok := local[id]; ok {
				return c, true
			}
			c, ok := b.created[id]
			return c, ok
		}
		for k, it := range items {
			res := b.one(ctx, it, refs)
			results[k] = res
			if res.status >= 300 {
				failed = k
				return errGroupFailed
			}
			b.record(it, res, local)
		}
		return nil
	})
	switch {
	case failed >= 0:
		return fail(failed, fmt.Sprintf("rolled back: %s in %q failed (status %d), so none of the group's requests took effect",
			items[failed].where, g, results[failed].status))
	case err != nil: // the transaction could not begin or commit
		res := b.s.errorResult(b.r, items[0], err)
		results[0] = res
		return fail(0, fmt.Sprintf("rolled back: the transaction of %q failed (status %d)", g, res.status))
	}
	for id, c := range local {
		b.created[id] = c
	}
	b.ok[g] = true
	return results
}

// serve runs one request as a sub-request of the batch and records its response.
func (b *batchRun) serve(ctx context.Context, it *batchItem, refs refLookup) *batchResult {
	u, err := b.s.subURL(b.r, it.URL, refs)
	if err != nil {
		return b.s.errorResult(b.r, it, err)
	}
	body := it.Body
	if bytes.Contains(body, []byte(`"$`)) {
		if body, err = resolveBodyRefs(body, refs); err != nil {
			return b.s.errorResult(b.r, it, apperr.Wrap(apperr.Invalid, err, "%s: body", it.where))
		}
	}
	h := it.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Del("Authorization") // the batch's principal is the sub-request's
	if p := b.r.Header.Get("X-Forwarded-Proto"); p != "" {
		h.Set("X-Forwarded-Proto", p)
	}
	sub := (&http.Request{Method: it.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Host: b.r.Host, TLS: b.r.TLS,
		RemoteAddr: b.r.RemoteAddr, RequestURI: u.RequestURI()}).WithContext(ctx)
	rec := &recorder{h: http.Header{}}
	switch {
	case it.Group != "" && len(h.Values(IdempotencyKeyHeader)) > 0:
		// its answer would be stored before the group commits: a retry after the group
		// rolled back would be answered as if it had been stored
		return b.s.errorResult(b.r, it, apperr.E(apperr.Invalid, "%s: %s is not honoured inside a change set or atomicity group (%q): the group commits or rolls back as a whole; give each part its own key outside groups",
			it.where, IdempotencyKeyHeader, it.Group))
	case it.Group == "":
		b.s.idempotent(http.HandlerFunc(b.s.serve)).ServeHTTP(rec, sub)
	default:
		b.s.serve(rec, sub)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	res := &batchResult{item: it, status: rec.status, header: rec.h, body: rec.body.Bytes()}
	b.size += len(res.body)
	if b.size > maxBatchResponse {
		b.full = true
		if it.Method == "GET" {
			return b.tooLarge(it)
		}
	}
	return res
}

// subURL turns a batch request's url into the URL the server serves: "$<id>" at its start
// replaced by what that request created, then relative to the service root ("Things(1)"),
// an absolute path ("/v1.1/Things(1)", or under the path the server is mounted at or its
// PublicURL's), or a full URL ("https://host/v1.1/Things(1)").
func (s *Server) subURL(r *http.Request, raw string, refs refLookup) (*url.URL, error) {
	u := raw
	if strings.HasPrefix(u, "$") {
		end := strings.IndexAny(u, "/?")
		if end < 0 {
			end = len(u)
		}
		ref := u[1:end]
		c, ok := refs(ref)
		switch {
		case ok:
			u = c.location + u[end:]
		case ref != "batch": // "$batch" is the resource, refused as a batch inside a batch
			return nil, apperr.E(apperr.Invalid, "url %q refers to $%s, which created nothing before it in this batch", raw, ref)
		}
	}
	if i := strings.Index(u, "://"); i > 0 && !strings.ContainsAny(u[:i], "/?") {
		full, err := url.Parse(u)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "url %q is not a valid URL", raw)
		}
		if !s.ownHost(r, full.Host) {
			return nil, apperr.E(apperr.Invalid, "url %q names host %q, not this service's (%s)", raw, full.Host, s.base(r))
		}
		u = full.EscapedPath()
		if full.RawQuery != "" {
			u += "?" + full.RawQuery
		}
	}
	path, query, _ := strings.Cut(u, "?")
	if strings.HasPrefix(path, "/") {
		rest, ok := s.underRoot(r, path)
		if !ok {
			return nil, apperr.E(apperr.Invalid, "url %q is outside the service root (%s)", raw, s.base(r))
		}
		path = rest
	} else {
		path = "/" + path
	}
	if path == "/" {
		path = ""
	}
	pu, err := url.Parse("/" + Version + path)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "url %q is not a valid URL", raw)
	}
	pu.RawQuery = query
	return pu, nil
}

// underRoot returns path relative to the service root ("/Things(1)", or "" for the root) if
// it is under one of the roots the server answers at: /v1.1, under the prefix it is mounted
// at (what http.StripPrefix took off the request), or under its PublicURL's path.
func (s *Server) underRoot(r *http.Request, path string) (string, bool) {
	roots := []string{"/" + Version}
	if s.PublicURL != "" {
		if pu, err := url.Parse(s.PublicURL); err == nil {
			roots = append(roots, strings.TrimSuffix(pu.EscapedPath(), "/")+"/"+Version)
		}
	}
	if ru, err := url.ParseRequestURI(r.RequestURI); err == nil {
		if p := ru.EscapedPath(); strings.HasSuffix(p, r.URL.EscapedPath()) {
			roots = append(roots, strings.TrimSuffix(p, r.URL.EscapedPath())+"/"+Version)
		}
	}
	for _, root := range roots {
		if path == root || path == root+"/" {
			return "", true
		}
		if strings.HasPrefix(path, root+"/") {
			return path[len(root):], true
		}
	}
	return "", false
}

// resolveBodyRefs replaces every "@iot.id": "$<id>" in a JSON body with the id of the entity request
// <id> created.
func resolveBodyRefs(body []byte, refs refLookup) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body, nil // not JSON: the request's own handler says so
	}
	var err error
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "@iot.id" && strings.HasPrefix(s, "$") {
					ref, ok := refs(s[1:])
					if !ok || ref.id == "" {
						if err == nil {
							err = fmt.Errorf("@iot.id %q refers to no entity created before it in this batch", s)
						}
						continue
					}
					x[k] = json.Number(ref.id)
					continue
				}
				x[k] = walk(c)
			}
		case []any:
			for i, c := range x {
				x[i] = walk(c)
			}
		}
		return v
	}
	v = walk(v)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "%s", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// errorResult answers one request of a batch with err, logged like any refused request.
func (s *Server) errorResult(r *http.Request, it *batchItem, err error) *batchResult {
	status := Status(err)
	rid := apperr.RequestID(r.Context())
	s.logError(r, rid, status, err)
	b, _ := json.Marshal(errBody(rid, status, apperr.Message(err)))
	return &batchResult{item: it, status: status, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: b}
}

// errResult answers it with status and msg.
func (b *batchRun) errResult(it *batchItem, status int, msg string) *batchResult {
	rid := apperr.RequestID(b.r.Context())
	body, _ := json.Marshal(errBody(rid, status, msg))
	return &batchResult{item: it, status: status, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: body}
}

// recorder captures a sub-request's response.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// ownHost reports whether host (of a full URL in a batch part) is this service's: the host the
// request reached, or its PublicURL's. Another host's URL is refused rather than served here as
// if it were this node's.
func (s *Server) ownHost(r *http.Request, host string) bool {
	if strings.EqualFold(host, r.Host) {
		return true
	}
	if s.PublicURL != "" {
		if pu, err := url.Parse(s.PublicURL); err == nil && strings.EqualFold(host, pu.Host) {
			return true
		}
	}
	return false
}
