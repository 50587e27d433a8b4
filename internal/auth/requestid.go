package auth

import (
	"net/http"

	"github.com/rabta/rabta/internal/apperr"
)

// maxRequestID is the longest incoming X-Request-Id honoured.
const maxRequestID = 64

// RequestID gives every request an id, put in its context (apperr.RequestID) and in the
// X-Request-Id header of its response, so that an error's response and its log line can be
// matched. An incoming X-Request-Id (from a proxy or a client that logs its own) is kept when
// it is short and safe — at most 64 letters, digits and "-_.:" — and replaced otherwise, so
// that nothing a client sends reaches a log line or a header unchecked. It sits outermost, in
// front of Middleware, so that a refused key has an id too.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(apperr.RequestIDHeader)
		if !safeRequestID(id) {
			id = apperr.NewRequestID()
		}
		w.Header().Set(apperr.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(apperr.WithRequestID(r.Context(), id)))
	})
}

func safeRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
