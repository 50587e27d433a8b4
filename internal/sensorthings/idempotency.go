package sensorthings

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
)

// IdempotencyKeyHeader is the request header that makes a POST of observations safe to retry
// (draft-ietf-httpapi-idempotency-key-header); IdempotentReplayedHeader marks an answer given
// again from the store.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKey = 255

// idempotencyLease is how long the claim of a key by a request being served holds before a
// retry may take it over (the node's HTTP write timeout: the first request is over by then).
const idempotencyLease = 5 * time.Minute

// DefaultIdempotencyWindow is how long an Idempotency-Key is remembered when
// Server.IdempotencyWindow is 0.
const DefaultIdempotencyWindow = 24 * time.Hour

// ParseIdempotencyKey reads an Idempotency-Key header value: a Structured Field string
// (RFC 8941 §3.3.3, "…" with \" and \\ escapes), as the draft specifies, or the same
// characters unquoted, as many clients send it. The key is 1 to MaxIdempotencyKey printable
// ASCII characters (no spaces unquoted); anything else is an Invalid error naming the header.
func ParseIdempotencyKey(v string) (string, error) {
	bad := func() (string, error) {
		return "", apperr.E(apperr.Invalid, "%s: want 1 to %d printable ASCII characters, as a string (\"8e03978e-40d5-43e8-bc93-6894a57f9324\") or bare", IdempotencyKeyHeader, MaxIdempotencyKey)
	}
	v = strings.TrimSpace(v)
	var key []byte
	if strings.HasPrefix(v, `"`) {
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '\\':
				i++
				if i >= len(v) || (v[i] != '"' && v[i] != '\\') {
					return bad()
				}
				key = append(key, v[i])
			case c == '"':
				if i != len(v)-1 {
					return bad()
				}
				if len(key) == 0 || len(key) > MaxIdempotencyKey {
					return bad()
				}
				return string(key), nil
			case c < 0x20 || c > 0x7e:
				return bad()
			default:
				key = append(key, c)
			}
		}
		return bad() // no closing quote
	}
	if v == "" || len(v) > MaxIdempotencyKey {
		return bad()
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return bad()
		}
	}
	return v, nil
}

// idempotent makes POSTs of observations (CreateObservations, and Observations posted to any
// collection of them) with an Idempotency-Key answerable again: the first request by an API
// key with a key is served and its answer (2xx only) stored for IdempotencyWindow; a retry
// with the same key, path, query and body gets that answer again (with Idempotent-Replayed:
// true) and nothing is stored twice; the same key with another request is 422 Unprocessable
// Content, and while the first is still being served 409 Conflict. A request that fails
// (4xx or 5xx) gives the key back. Requests without the header, or that the API refuses
// anyway (anonymous, a viewer), pass through untouched.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values(IdempotencyKeyHeader)
		p := auth.FromContext(r.Context())
		if len(vals) == 0 || s.Idempotency == nil || r.Method != http.MethodPost || p == nil || p.Role < auth.Operator {
			next.ServeHTTP(w, r)
			return
		}
		if len(vals) > 1 {
			s.Error(w, r, apperr.E(apperr.Invalid, "%s: give one, not %d", IdempotencyKeyHeader, len(vals)))
			return
		}
		key, err := ParseIdempotencyKey(vals[0])
		if err != nil {
			s.Error(w, r, err)
			return
		}
		path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/"+Version), "/")
		if path != "CreateObservations" && path != "Observations" && !strings.HasSuffix(path, "/Observations") {
			s.Error(w, r, apperr.E(apperr.Invalid, "%s is honoured on POST /%s/CreateObservations and POSTs of Observations, not on /%s/%s",
				IdempotencyKeyHeader, Version, Version, path))
			return
		}
		body, err := readJSON(http.MaxBytesReader(w, r.Body, s.MaxBody))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		h := sha256.New()
		fmt.Fprintf(h, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
		h.Write(body)
		fp := h.Sum(nil)
		ctx := r.Context()
		window := s.IdempotencyWindow
		if window <= 0 {
			window = DefaultIdempotencyWindow
		}
		now := time.Now()
		s.purgeIdempotency(ctx, now)
		claimed, prev, err := s.Idempotency.Claim(ctx, p.KeyID, key, fp, now, idempotencyLease, window)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		if !claimed {
			switch {
			case !bytes.Equal(prev.Fingerprint, fp):
				msg := fmt.Sprintf("%s %q was used with another request (another path, query or body) within the last %s: a new request needs a new key",
					IdempotencyKeyHeader, key, window)
				s.writeError(w, r, http.StatusUnprocessableEntity, msg, errors.New(msg))
			case prev.Status == 0:
				w.Header().Set("Retry-After", "1")
				s.Error(w, r, apperr.E(apperr.Conflict, "the request with %s %q is still being served: retry when it is answered", IdempotencyKeyHeader, key))
			default:
				if prev.ContentType != "" {
					w.Header().Set("Content-Type", prev.ContentType)
				}
				if prev.Location != "" {
					w.Header().Set("Location", prev.Location)
				}
				w.Header().Set(IdempotentReplayedHeader, "true")
				w.WriteHeader(prev.Status)
				w.Write(prev.Body)
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &teeRecorder{ResponseWriter: w, status: http.StatusOK}
		done := false
		defer func() {
			// whatever happens to the request (a panic, a client gone), the key is saved or
			// given back, on a context of its own
			bg := context.WithoutCancel(ctx)
			if done && rec.status >= 200 && rec.status < 300 {
				err = s.Idempotency.Save(bg, p.KeyID, key, &ingest.Answer{Status: rec.status,
					ContentType: rec.Header().Get("Content-Type"), Location: rec.Header().Get("Location"), Body: rec.body.Bytes()})
			} else {
				err = s.Idempotency.Release(bg, p.KeyID, key)
			}
			if err != nil && s.Log != nil {
				s.Log.Error("idempotency_key_not_kept", "request_id", apperr.RequestID(ctx), "err", err)
			}
		}()
		next.ServeHTTP(rec, r)
		done = true
	})
}

// purgeIdempotency deletes expired keys, at most once a minute.
func (s *Server) purgeIdempotency(ctx context.Context, now time.Time) {
	last := s.idemPurged.Load()
	if now.Unix()-last < 60 || !s.idemPurged.CompareAndSwap(last, now.Unix()) {
		return
	}
	if _, err := s.Idempotency.Purge(ctx, now); err != nil && s.Log != nil {
		s.Log.Warn("idempotency_purge_failed", "err", err)
	}
}

// teeRecorder passes a response through and keeps its status and body.
type teeRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *teeRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *teeRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
