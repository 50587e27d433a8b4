package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/sqlite"
)

func TestMiddleware(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewAuth(db)
	op, _, err := auth.Create(context.Background(), st, "pdma", auth.Operator, "t")
	if err != nil {
		t.Fatal(err)
	}
	a := &auth.Authenticator{Store: st}
	h := a.Middleware(func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(apperr.HTTPStatus(err))
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Approver); err != nil {
			w.WriteHeader(apperr.HTTPStatus(err))
			return
		}
		w.WriteHeader(200)
	}))
	for _, c := range []struct {
		header, value string
		want          int
	}{
		{"", "", 401},                          // anonymous: Require says who is needed
		{"Authorization", "Bearer " + op, 403}, // operator < approver
		{"X-API-Key", op, 403},
		{"Authorization", "Bearer nope", 401},
		{"Authorization", "Basic abc", 401},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %.12s: %d, want %d", c.header, c.value, rec.Code, c.want)
		}
	}
	if _, err := auth.Import(context.Background(), st, "admin", auth.Admin, "b", "short"); err == nil {
		t.Error("a short bootstrap key was accepted")
	}
}
