package sensorthings_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
)

// memStore answers every request as if it succeeded, so that whatever a fuzzed batch gets
// wrong is the batch's doing, not the store's.
type memStore struct{}

func (memStore) Get(_ context.Context, q *sensing.Query) (*sensing.Entity, error) {
	return &sensing.Entity{Set: q.Set, ID: q.ID, Props: map[string]any{}}, nil
}
func (memStore) List(context.Context, *sensing.Query) (*sensing.Page, error) {
	return &sensing.Page{}, nil
}
func (memStore) Navigate(_ context.Context, set string, _ int64, nav string) (string, int64, error) {
	n, ok := sensing.Sets[set].NavTo(nav)
	if !ok {
		return "", 0, apperr.E(apperr.NotFound, "%s has no %s", set, nav)
	}
	return n.Target, 1, nil
}
func (memStore) Create(context.Context, *sensing.Entity) (int64, error) { return 1, nil }
func (memStore) Update(context.Context, *sensing.Entity, bool) error    { return nil }
func (memStore) Delete(context.Context, string, int64) error            { return nil }
func (memStore) Reject(string, error)                                   {}
func (memStore) Atomic(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx) // nothing to roll back: every request succeeds
}
func (memStore) Ingest(_ context.Context, _ string, obs []sensing.Observation) ([]int64, []error, error) {
	ids := make([]int64, len(obs))
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids, make([]error, len(obs)), nil
}

// FuzzBatch: POST /$batch never panics and never answers 5xx; a refused batch is a JSON error
// with a message and the request id; an accepted one answers each request once, in order, with
// the id it was given and a status of its own, never 5xx either.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{
		`{"requests":[{"id":"t","method":"post","url":"Things","body":{"name":"Khanki","description":"gauge"}},
		  {"id":"l","method":"post","url":"$t/Locations","body":{"name":"site","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.9,32.4]}}},
		  {"method":"get","url":"$t?$expand=Locations"},{"method":"patch","url":"$t","body":{"name":"Khanki HW"}},{"method":"delete","url":"$l"}]}`,
		`{"requests":[{"id":"1","method":"get","url":"Things?$filter=name eq 'x'&$top=1"},{"id":"2","method":"get","url":"/v1.1/Datastreams(1)/Observations"}]}`,
		`{"requests":[{"method":"post","url":"Datastreams(1)/Observations","body":{"result":1001480,"phenomenonTime":"2025-08-27T12:00:00+05:00"}}]}`,
		`{"requests":[{"method":"get","url":"$nothing/Things"}]}`,
		`{"requests":[{"method":"get","url":"Things(1)/nope"},{"method":"get","url":"%zz"},{"method":"put","url":"Things"}]}`,
		`{"requests":[{"method":"post","url":"$batch","body":{"requests":[{"method":"get","url":"Things"}]}}]}`,
		`{"requests":[{"method":"get","url":"Things","atomicityGroup":"g1"}]}`,
		`{"requests":[{"method":"TRACE","url":"Things"}]}`,
		`{"requests":[]}`, `{"requests":null}`, `{"reqs":[]}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	st := &sensorthings.Server{Store: memStore{}, Ingest: memStore{}, MaxBody: 1 << 20, DefaultTop: 10, MaxTop: 100}
	h := auth.RequestID(st.Handler())
	admin := &auth.Principal{Organisation: "pdma", Role: auth.Admin}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1.1/$batch", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Prefer", "odata.continue-on-error") // every request answered
		r = r.WithContext(auth.WithPrincipal(r.Context(), admin))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		id := w.Header().Get("X-Request-Id")
		if w.Code != http.StatusOK {
			var e struct {
				Code      int    `json:"code"`
				Message   string `json:"message"`
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code >= 500 || e.Code != w.Code || e.Message == "" || e.RequestID != id {
				t.Fatalf("status %d, body %s (%v)", w.Code, w.Body, err)
			}
			return
		}
		var in struct {
			Requests []struct {
				ID string `json:"id"`
			} `json:"requests"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("accepted a body that is not a batch: %v", err)
		}
		var out struct {
			Responses []struct {
				ID     string `json:"id"`
				Status int    `json:"status"`
			} `json:"responses"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("response is not JSON: %v\n%s", err, w.Body)
		}
		if len(out.Responses) != len(in.Requests) {
			t.Fatalf("%d requests, %d responses", len(in.Requests), len(out.Responses))
		}
		for i, resp := range out.Responses {
			if resp.ID != in.Requests[i].ID || resp.Status < 200 || resp.Status >= 500 {
				t.Fatalf("response %d: id %q status %d, for request id %q\n%s", i, resp.ID, resp.Status, in.Requests[i].ID, w.Body)
			}
		}
	})
}

// FuzzBatchMultipart: a multipart/mixed POST /$batch never panics and never answers 5xx; a
// refused one is a JSON error with a message and the request id; an accepted one is a
// multipart/mixed response that the standard library reads, with one top-level part per
// top-level part of the request (a request, or a change set: committed or its one failure),
// each part application/http holding an HTTP response that is never 5xx.
func FuzzBatchMultipart(f *testing.F) {
	example, err := os.ReadFile("../../examples/batch.multipart")
	if err != nil {
		f.Fatal(err)
	}
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	f.Add("batch_1", example)
	f.Add("batch_1", crlf(string(example)))
	for _, s := range []string{
		"--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\nContent-ID: 1\n\nPOST Things HTTP/1.1\nContent-Type: application/json\n\n{\"name\":\"a\",\"description\":\"b\"}\n--b\nContent-Type: application/http\n\nGET $1/Locations HTTP/1.1\n\n--b--\n",
		"--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: application/http\nContent-ID: t\n\nPOST /v1.1/Things HTTP/1.1\nContent-Length: 2\n\n{}\n--c\nContent-Type: application/http\n\nPATCH $t HTTP/1.1\n\n{\"name\":\"x\"}\n--c--\n--b--\n",
		"--b\nContent-Type: application/http\n\nPOST $batch HTTP/1.1\n\n{\"requests\":[]}\n--b--\n",
		"--b\nContent-Type: application/http\n\nGET http://example.org/v1.1/Things(1) HTTP/1.1\nHost: example.org\n\n--b--\n",
		"--b\nContent-Type: application/http\n\nPOST Things HTTP/1.1\nTransfer-Encoding: chunked\n\n2\r\n{}\r\n0\r\n\r\n\n--b--\n",
		"--b\nContent-Type: application/http\n\nGET Things HTTP/1.1\n",
		"--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: application/http\n\nGET Things HTTP/1.1\n\n--c--\n--b--\n",
		"--b\nContent-Type: multipart/mixed; boundary=c\n\n--c--\n--b--\n",
		"--b\n\nGET Things HTTP/1.1\n\n--b--\n", "--b--\n", "", "--b\nContent-Type: text/plain\n\nx\n--b--\n",
	} {
		f.Add("b", crlf(s))
		f.Add("b", []byte(s))
	}
	st := &sensorthings.Server{Store: memStore{}, Ingest: memStore{}, MaxBody: 1 << 20, DefaultTop: 10, MaxTop: 100}
	h := auth.RequestID(st.Handler())
	admin := &auth.Principal{Organisation: "pdma", Role: auth.Admin}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		ct := mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary})
		if ct == "" {
			return // not a boundary a client could send
		}
		r := httptest.NewRequest("POST", "/v1.1/$batch", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Prefer", "odata.continue-on-error") // every part answered
		r = r.WithContext(auth.WithPrincipal(r.Context(), admin))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			var e struct {
				Code      int    `json:"code"`
				Message   string `json:"message"`
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code >= 500 || e.Code != w.Code || e.Message == "" || e.RequestID != w.Header().Get("X-Request-Id") {
				t.Fatalf("status %d, body %s (%v)", w.Code, w.Body, err)
			}
			return
		}
		in := 0
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			if _, err := mr.NextRawPart(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("accepted a body the standard library cannot read: %v", err)
			}
			in++
		}
		_, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
		if err != nil || params["boundary"] == "" {
			t.Fatalf("response Content-Type %q", w.Header().Get("Content-Type"))
		}
		out := 0
		var check func(r io.Reader, boundary string, depth int)
		check = func(r io.Reader, boundary string, depth int) {
			mr := multipart.NewReader(r, boundary)
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("response: %v\n%s", err, w.Body)
				}
				if depth == 0 {
					out++
				}
				mt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				if mt == "multipart/mixed" && depth == 0 {
					check(p, pp["boundary"], 1)
					continue
				}
				if mt != "application/http" {
					t.Fatalf("response part of type %q", mt)
				}
				resp, err := http.ReadResponse(bufio.NewReader(p), nil)
				if err != nil || resp.StatusCode >= 500 {
					t.Fatalf("response part: %v %v\n%s", resp, err, w.Body)
				}
			}
		}
		check(w.Body, params["boundary"], 0)
		if in != out {
			t.Fatalf("%d parts in the request, %d in the response\n%s", in, out, w.Body)
		}
	})
}
