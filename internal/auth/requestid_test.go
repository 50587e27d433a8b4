package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

func TestRequestID(t *testing.T) {
	var inCtx string
	h := auth.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inCtx = apperr.RequestID(r.Context())
	}))
	for _, tt := range []struct {
		sent string
		keep bool
	}{
		{"", false},
		{"4bf92f3577b34da6a3ce929d0e0e4736", true},
		{"req-1.2_3:4", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"new\nline", false},
		{"<script>", false},
		{"ünï", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.sent != "" {
			r.Header[apperr.RequestIDHeader] = []string{tt.sent}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get(apperr.RequestIDHeader)
		if got == "" || got != inCtx {
			t.Errorf("sent %q: header %q, context %q", tt.sent, got, inCtx)
		}
		if (got == tt.sent) != tt.keep {
			t.Errorf("sent %q: got %q, keep=%v", tt.sent, got, tt.keep)
		}
	}
}
