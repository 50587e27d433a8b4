package sensorthings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
)

// maxBatch bounds the number of requests in one batch.
const maxBatch = 1000

type batchRequest struct {
	ID             string            `json:"id"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers,omitempty"`
	Body           json.RawMessage   `json:"body,omitempty"`
	AtomicityGroup string            `json:"atomicityGroup,omitempty"`
	DependsOn      []string          `json:"dependsOn,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id,omitempty"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch serves POST /$batch in the OData JSON batch format: {"requests": [...]} answered by
// {"responses": [...]}. Requests run in order, each on its own; a request's url may start
// with "$<id>" to refer to the entity an earlier request in the batch created. Atomicity
// groups (all-or-nothing change sets) are not supported and are refused, rather than run
// without the atomicity they promise.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		s.Error(w, r, apperr.E(apperr.Invalid, "$batch takes the JSON batch format (Content-Type: application/json), got %q", ct))
		return
	}
	raw, err := readJSON(r.Body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var req struct {
		Requests []batchRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.Error(w, r, apperr.Wrap(apperr.Invalid, err, "$batch: want {\"requests\": [...]}"))
		return
	}
	if len(req.Requests) > maxBatch {
		s.Error(w, r, apperr.E(apperr.Invalid, "$batch: %d requests, at most %d", len(req.Requests), maxBatch))
		return
	}
	for i, br := range req.Requests {
		if br.AtomicityGroup != "" {
			s.Error(w, r, apperr.E(apperr.Invalid, "$batch: requests[%d]: atomicityGroup is not supported; send the requests without it", i))
			return
		}
		switch strings.ToUpper(br.Method) {
		case "GET", "POST", "PATCH", "PUT", "DELETE":
		default:
			s.Error(w, r, apperr.E(apperr.Invalid, "$batch: requests[%d]: method %q", i, br.Method))
			return
		}
	}
	base := s.base(r)
	created := map[string]string{}
	var out []batchResponse
	for _, br := range req.Requests {
		u := br.URL
		if strings.HasPrefix(u, "$") {
			ref, rest, _ := strings.Cut(u[1:], "/")
			loc, ok := created[ref]
			if !ok {
				out = append(out, s.subError(r, br.ID, fmt.Sprintf("url %q refers to $%s, which created nothing before it", u, ref)))
				continue
			}
			u = loc
			if rest != "" {
				u += "/" + rest
			}
		}
		u = strings.TrimPrefix(u, base)
		u = strings.TrimPrefix(u, "/"+Version)
		u = strings.TrimPrefix(u, "/")
		pu, err := url.Parse("/" + Version + "/" + u)
		if err != nil {
			out = append(out, s.subError(r, br.ID, "bad url: "+err.Error()))
			continue
		}
		sub, _ := http.NewRequestWithContext(r.Context(), strings.ToUpper(br.Method), pu.String(), bytes.NewReader(br.Body))
		sub.Host = r.Host
		sub.TLS = r.TLS
		sub.Header.Set("Content-Type", "application/json")
		rec := &recorder{h: http.Header{}}
		s.serve(rec, sub)
		resp := batchResponse{ID: br.ID, Status: rec.status}
		if loc := rec.h.Get("Location"); loc != "" {
			resp.Headers = map[string]string{"location": loc}
			if br.ID != "" {
				created[br.ID] = loc
			}
		}
		if b := bytes.TrimSpace(rec.body.Bytes()); len(b) > 0 && json.Valid(b) {
			resp.Body = b
		}
		out = append(out, resp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// subError answers one request of a batch with 400 and msg, logged like any refused request.
func (s *Server) subError(r *http.Request, id, msg string) batchResponse {
	rid := apperr.RequestID(r.Context())
	s.logError(r, rid, http.StatusBadRequest, errors.New(msg))
	b, _ := json.Marshal(errBody(rid, http.StatusBadRequest, msg))
	return batchResponse{ID: id, Status: http.StatusBadRequest, Body: b}
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
