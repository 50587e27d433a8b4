package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
)

// Role is what a principal may do within its organisation.
type Role int

// Roles, each including the ones before it.
const (
	RoleNone Role = iota
	Viewer
	Operator
	Approver
	Admin
)

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return Viewer, nil
	case "operator":
		return Operator, nil
	case "approver":
		return Approver, nil
	case "admin":
		return Admin, nil
	}
	return RoleNone, apperr.E(apperr.Invalid, "unknown role %q (want viewer, operator, approver or admin)", s)
}

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Approver:
		return "approver"
	case Admin:
		return "admin"
	}
	return "none"
}

// NodeOrganisation is the organisation of the node's bootstrap admin key (RABTA_ADMIN_KEY or
// the key printed on first start). An Admin of it is the node-wide admin: it acts on what every
// organisation owns. An Admin of any other organisation is an admin within that organisation.
const NodeOrganisation = "admin"

// Principal is who is making a request.
type Principal struct {
	KeyID        int64
	Organisation string
	Role         Role
}

// NodeAdmin reports whether p is the node-wide admin (role Admin in NodeOrganisation).
func (p *Principal) NodeAdmin() bool {
	return p != nil && p.Role == Admin && p.Organisation == NodeOrganisation
}

// Owns reports whether p may act on what organisation owner owns: its own organisation's, or
// anything for the node-wide admin. Nothing is owned by "" except for the node-wide admin.
func (p *Principal) Owns(owner string) bool {
	return p != nil && (p.NodeAdmin() || (owner != "" && p.Organisation == owner))
}

// Name is how decisions by p are recorded: "<organisation>/key-<id>" (see alert four eyes).
func (p *Principal) Name() string {
	return fmt.Sprintf("%s/key-%d", p.Organisation, p.KeyID)
}

// Key is a stored API key (without its secret).
type Key struct {
	ID           int64
	Organisation string
	Role         Role
	Name         string
	Prefix       string
	CreatedAt    time.Time
	RevokedAt    *time.Time
}

// Store keeps organisations and hashed keys.
type Store interface {
	// CreateKey stores a key's hash for org (created if new) and returns its id.
	CreateKey(ctx context.Context, org string, role Role, name, prefix string, hash []byte) (int64, error)
	// KeyByHash returns the unrevoked key with this hash, or a NotFound error.
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	// Keys lists keys.
	Keys(ctx context.Context) ([]Key, error)
	// RevokeKey revokes a key.
	RevokeKey(ctx context.Context, id int64) error
	// CountKeys counts unrevoked keys.
	CountKeys(ctx context.Context) (int, error)
}

// Hash returns the stored form of a clear key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// NewKey makes a fresh random key and returns it in clear with its public prefix.
func NewKey() (key, prefix string) {
	b := make([]byte, 32)
	rand.Read(b)
	p := make([]byte, 4)
	rand.Read(p)
	prefix = fmt.Sprintf("%x", p)
	return "rbt_" + prefix + "_" + base64.RawURLEncoding.EncodeToString(b), prefix
}

// prefixOf returns the public prefix of a key in Rabta's format, or "" for another format.
func prefixOf(key string) string {
	parts := strings.SplitN(key, "_", 3)
	if len(parts) == 3 && parts[0] == "rbt" {
		return parts[1]
	}
	return ""
}

// Create makes a new key for org with role and stores it; the clear key is returned once.
func Create(ctx context.Context, s Store, org string, role Role, name string) (string, int64, error) {
	org = strings.TrimSpace(org)
	if org == "" {
		return "", 0, apperr.E(apperr.Invalid, "organisation is required")
	}
	if role == RoleNone {
		return "", 0, apperr.E(apperr.Invalid, "role is required")
	}
	key, prefix := NewKey()
	id, err := s.CreateKey(ctx, org, role, name, prefix, Hash(key))
	return key, id, err
}

// Import stores a key chosen by the operator (RABTA_ADMIN_KEY); it must be at least 24 characters.
func Import(ctx context.Context, s Store, org string, role Role, name, key string) (int64, error) {
	if len(key) < 24 {
		return 0, apperr.E(apperr.Invalid, "key is too short: at least 24 characters")
	}
	if _, err := s.KeyByHash(ctx, Hash(key)); err == nil {
		return 0, nil // already there
	}
	p := prefixOf(key)
	if p == "" {
		p = "custom"
	}
	return s.CreateKey(ctx, org, role, name, p, Hash(key))
}

type ctxKey struct{}

// FromContext returns the request's principal, or nil when the request is anonymous.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Authenticator turns a bearer token into a principal. Failed authentications are logged
// (the key's public prefix and the remote address, never the key) and, with Limit, slowed per
// source (limit.go).
type Authenticator struct {
	Store Store
	Log   *slog.Logger
	// Limit, when set, limits failed authentications per source and writes per key.
	Limit *Limiter
}

// Authenticate returns the principal for a clear key. A source (WithRemote) over the limit of
// failed authentications gets a Refusal (apperr.TooMany) before its key is looked up.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (*Principal, error) {
	if key == "" {
		return nil, apperr.E(apperr.Unauthorized, "missing API key")
	}
	remote := remoteFrom(ctx)
	done := func(bool) bool { return false }
	if remote != "" {
		var d time.Duration
		if d, done = a.Limit.admit(Source(remote)); d > 0 {
			return nil, a.Limit.failRefusal(d)
		}
	}
	k, err := a.Store.KeyByHash(ctx, Hash(key))
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			a.failed(ctx, key, remote, done(true))
			return nil, apperr.E(apperr.Unauthorized, "invalid or revoked API key")
		}
		done(false)
		return nil, err
	}
	done(false)
	return &Principal{KeyID: k.ID, Organisation: k.Organisation, Role: k.Role}, nil
}

// Middleware reads "Authorization: Bearer <key>" (or "X-API-Key: <key>"), and puts the
// principal in the request context. A request without a key goes on anonymous; a request
// with a bad key is refused at once, so a typo never silently downgrades to anonymous. Over a
// limit of Limit (failed authentications from r.RemoteAddr, writes by the key) the answer is
// 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) and a message naming the limit.
func (a *Authenticator) Middleware(onErr func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get("X-API-Key")
			if h := r.Header.Get("Authorization"); h != "" {
				scheme, tok, ok := strings.Cut(h, " ")
				if !ok || !strings.EqualFold(scheme, "Bearer") {
					onErr(w, r, apperr.E(apperr.Unauthorized, "Authorization header must be 'Bearer <key>'"))
					return
				}
				key = strings.TrimSpace(tok)
			}
			if key == "" {
				next.ServeHTTP(w, r)
				return
			}
			p, err := a.Authenticate(WithRemote(r.Context(), r.RemoteAddr), key)
			if err == nil && !safeMethod(r.Method) {
				if d := a.Limit.write(p.KeyID); d > 0 {
					err = a.Limit.writeRefusal(d)
				}
			}
			if err != nil {
				if s, ok := RetryAfter(err); ok {
					w.Header().Set("Retry-After", strconv.Itoa(s))
				}
				onErr(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// Require checks that ctx's principal has at least role; anonymous requests get Unauthorized,
// too-weak roles Forbidden.
func Require(ctx context.Context, role Role) error {
	p := FromContext(ctx)
	if p == nil {
		return apperr.E(apperr.Unauthorized, "this needs an API key with role %s or higher (Authorization: Bearer <key>)", role)
	}
	if p.Role < role {
		return apperr.E(apperr.Forbidden, "this needs role %s or higher; the key has role %s", role, p.Role)
	}
	return nil
}

// RequireOwner checks, as Require, that ctx's principal has at least role, and then that it may
// act on what organisation owner owns (Principal.Owns). Another organisation's entity is
// Forbidden, with a message naming both organisations; what is being acted on is named by what
// (e.g. "Thing 12").
func RequireOwner(ctx context.Context, role Role, owner, what string) error {
	if err := Require(ctx, role); err != nil {
		return err
	}
	p := FromContext(ctx)
	if !p.Owns(owner) {
		if owner == "" {
			return apperr.E(apperr.Forbidden, "%s belongs to no organisation: only the node-wide admin (role admin in organisation %q) may change it", what, NodeOrganisation)
		}
		return apperr.E(apperr.Forbidden, "%s belongs to organisation %q; the key is of organisation %q", what, owner, p.Organisation)
	}
	return nil
}
