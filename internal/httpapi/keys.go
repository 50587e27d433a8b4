package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// MaxKeyBody is the largest body of a key's creation, in bytes.
const MaxKeyBody = 4 << 10

// registerKeys adds the API key routes: admins create, list, show and revoke keys. An admin of
// an organisation acts on its own organisation's keys only; the node-wide admin
// (auth.NodeOrganisation) on every organisation's (auth.RequireOwner).
func (s *Server) registerKeys(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/keys", s.createKey)
	mux.HandleFunc("GET /api/v1/keys", s.listKeys)
	mux.HandleFunc("GET /api/v1/keys/{id}", s.getKey)
	mux.HandleFunc("DELETE /api/v1/keys/{id}", s.revokeKey(false))
	mux.HandleFunc("POST /api/v1/keys/{id}/revoke", s.revokeKey(true))
}

// keyView is a key as the API shows it: never its hash, and its clear key only in the answer
// to its creation.
type keyView struct {
	ID           int64      `json:"id"`
	Organisation string     `json:"organisation"`
	Role         string     `json:"role"`
	Name         string     `json:"name,omitempty"`
	Prefix       string     `json:"prefix"`
	State        string     `json:"state"`
	Created      time.Time  `json:"created"`
	Expires      *time.Time `json:"expires,omitempty"`
	Revoked      *time.Time `json:"revoked,omitempty"`
	HeldBy       int64      `json:"heldBy,omitempty"`
	Key          string     `json:"key,omitempty"`
}

// keyLog is where key creations and revocations are logged (ids, never a key).
func (s *Server) keyLog() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func viewKey(k *auth.Key, now time.Time) keyView {
	return keyView{ID: k.ID, Organisation: k.Organisation, Role: k.Role.String(), Name: k.Name, Prefix: k.Prefix,
		State: k.State(now), Created: k.CreatedAt, Expires: k.ExpiresAt, Revoked: k.RevokedAt, HeldBy: k.HeldBy}
}

// newKey is a key as the API takes it. Its expiry is a time (expiresAt, RFC 3339) or a
// duration from now (expiresIn: "720h", "90d"), or neither for a key that never expires.
type newKey struct {
	Organisation string `json:"organisation"`
	Role         string `json:"role"`
	Name         string `json:"name,omitempty"`
	ExpiresAt    string `json:"expiresAt,omitempty"`
	ExpiresIn    string `json:"expiresIn,omitempty"`
}

// expiry is when v expires (the zero time: never), after now; Invalid naming the field
// otherwise.
func (v newKey) expiry(now time.Time) (time.Time, error) {
	switch {
	case v.ExpiresAt != "" && v.ExpiresIn != "":
		return time.Time{}, apperr.E(apperr.Invalid, "give expiresAt or expiresIn, not both")
	case v.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v.ExpiresAt))
		if err != nil {
			return time.Time{}, apperr.E(apperr.Invalid, "expiresAt %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", v.ExpiresAt)
		}
		if !t.After(now) {
			return time.Time{}, apperr.E(apperr.Invalid, "expiresAt %q is not in the future (now is %s)", v.ExpiresAt, now.UTC().Format(time.RFC3339))
		}
		return t, nil
	case v.ExpiresIn != "":
		d, err := auth.ParseExpiresIn(v.ExpiresIn)
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(d), nil
	}
	return time.Time{}, nil
}

// createKey makes a key (admin): of the caller's organisation (or any, for the node-wide
// admin), of a role no higher than the caller's. The answer (201) shows the clear key, once.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Admin); err != nil {
		s.Error(w, r, err)
		return
	}
	var v newKey
	if err := decodeBody(w, r, MaxKeyBody, false, &v, `a key: {"organisation", "role", "name", "expiresAt" or "expiresIn"}`); err != nil {
		s.Error(w, r, err)
		return
	}
	role, err := auth.ParseRole(v.Role)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	now := s.now()
	expires, err := v.expiry(now)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	org := strings.TrimSpace(v.Organisation)
	if org == "" {
		s.Error(w, r, apperr.E(apperr.Invalid, "organisation is required"))
		return
	}
	p := auth.FromContext(ctx)
	if err := auth.RequireOwner(ctx, auth.Admin, org, "a new key"); err != nil {
		s.Error(w, r, err)
		return
	}
	if role > p.Role {
		s.Error(w, r, apperr.E(apperr.Forbidden, "a key of role %s may not create a key of role %s", p.Role, role))
		return
	}
	clear, id, err := auth.CreateUntil(ctx, s.Keys, org, role, v.Name, expires)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	k, err := s.Keys.KeyByID(ctx, id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.keyLog().Info("key_created", "key_id", id, "organisation", org, "role", role.String(), "by", p.Name())
	s.audit(ctx, "key.create", fmt.Sprintf("key/%d", id), map[string]any{"key": id, "organisation": org, "role": role.String(), "expires": k.ExpiresAt})
	out := viewKey(k, now)
	out.Key = clear
	w.Header().Set("Location", fmt.Sprintf("%s/api/v1/keys/%d", s.base(r), id))
	w.Header().Set("Cache-Control", "no-store") // the clear key, once
	writeJSON(w, http.StatusCreated, out)
}

// listKeys lists the keys the caller manages (admin): its organisation's, or every key for the
// node-wide admin, in id order, revoked and expired ones too.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Admin); err != nil {
		s.Error(w, r, err)
		return
	}
	ks, err := s.Keys.Keys(ctx)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	p, now := auth.FromContext(ctx), s.now()
	out := []keyView{}
	for i := range ks {
		if p.Owns(ks[i].Organisation) {
			out = append(out, viewKey(&ks[i], now))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// ownKey loads the key of the request's path that the caller may manage (admin of its
// organisation, or the node-wide admin).
func (s *Server) ownKey(r *http.Request) (*auth.Key, error) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Admin); err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, apperr.E(apperr.Invalid, "key id %q: want a positive integer", r.PathValue("id"))
	}
	k, err := s.Keys.KeyByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := auth.RequireOwner(ctx, auth.Admin, k.Organisation, fmt.Sprintf("key %d", id)); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.ownKey(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewKey(k, s.now()))
}

// revokeKey revokes the key of the path (admin): from then on it is refused everywhere, and
// OnKeyRevoked ends its live sessions. An already revoked key is a Conflict. DELETE answers 204,
// POST …/revoke 200 with the key as it now stands (show).
func (s *Server) revokeKey(show bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		k, err := s.ownKey(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		if k.RevokedAt != nil {
			s.Error(w, r, apperr.E(apperr.Conflict, "key %d was revoked already, at %s", k.ID, k.RevokedAt.Format(time.RFC3339)))
			return
		}
		if err := s.Keys.RevokeKey(ctx, k.ID); err != nil {
			if apperr.KindOf(err) == apperr.NotFound { // revoked meanwhile
				err = apperr.E(apperr.Conflict, "key %d was revoked already", k.ID)
			}
			s.Error(w, r, err)
			return
		}
		if s.OnKeyRevoked != nil {
			s.OnKeyRevoked(k.ID)
		}
		s.keyLog().Info("key_revoked", "key_id", k.ID, "organisation", k.Organisation, "by", auth.FromContext(ctx).Name())
		s.audit(ctx, "key.revoke", fmt.Sprintf("key/%d", k.ID), map[string]any{"key": k.ID, "organisation": k.Organisation})
		if !show {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if k, err = s.Keys.KeyByID(ctx, k.ID); err != nil {
			s.Error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, viewKey(k, s.now()))
	}
}
