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
	"unicode"
	"unicode/utf8"

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

// Reads says whose confidential data p may read: everyone's (all, the node-wide admin), or
// its own organisation's (a viewer and up); org is "" for no one's (no key, or a role below
// viewer). The remote Datastreams received under an agreement are such data
// (sensing.RemoteView).
func (p *Principal) Reads() (all bool, org string) {
	switch {
	case p.NodeAdmin():
		return true, ""
	case p != nil && p.Role >= Viewer:
		return false, p.Organisation
	}
	return false, ""
}

// Name is how decisions by p are recorded: "<organisation>/key-<id>" (see alert four eyes).
func (p *Principal) Name() string {
	return fmt.Sprintf("%s/key-%d", p.Organisation, p.KeyID)
}

// KeyOfName is the key id of a Principal's Name ("<organisation>/key-<id>"); ok is false for
// any other name (the command line's "cli", a rule file's author).
func KeyOfName(name string) (id int64, ok bool) {
	i := strings.LastIndex(name, "/key-")
	if i < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(name[i+len("/key-"):], 10, 64)
	return id, err == nil && id > 0
}

// HolderName is what four eyes compares: for a key's Name, "holder/key-<id>" naming the key
// that stands for its holder (Key.Holder); any other name as it is. A key that is not found
// (deleted with its organisation) is its own holder.
func HolderName(ctx context.Context, keys Store, name string) (string, error) {
	id, ok := KeyOfName(name)
	if !ok {
		return name, nil
	}
	k, err := keys.KeyByID(ctx, id)
	switch {
	case apperr.KindOf(err) == apperr.NotFound:
		return fmt.Sprintf("holder/key-%d", id), nil
	case err != nil:
		return "", err
	}
	return fmt.Sprintf("holder/key-%d", k.Holder()), nil
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
	// ExpiresAt is when the key stops being valid (nil: never). A key is valid up to, not at,
	// that instant; the store keeps it to the second.
	ExpiresAt *time.Time
	// HeldBy is the id of the key whose holder this key shares (0: it is its own holder): a
	// key an organisation's admin creates is held by that admin's holder. Four eyes tells
	// holders apart (Holder), not keys.
	HeldBy int64
}

// Holder is the key id that stands for k's holder: HeldBy, or k's own id.
func (k *Key) Holder() int64 {
	if k.HeldBy != 0 {
		return k.HeldBy
	}
	return k.ID
}

// Key states, as State reports them.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
	KeyExpired = "expired"
)

// State is KeyRevoked, KeyExpired (at now) or KeyActive. A revoked key that has also expired
// is revoked.
func (k *Key) State(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return KeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyExpired
	}
	return KeyActive
}

// Store keeps organisations and hashed keys.
type Store interface {
	// CreateKey stores a key's hash for org (created if new), valid until expires (nil:
	// never), and returns its id. A hash stored already (even revoked) is a Conflict.
	CreateKey(ctx context.Context, org string, role Role, name, prefix string, hash []byte, expires *time.Time) (int64, error)
	// KeyByHash returns the key with this hash if it is neither revoked nor expired (by the
	// store's clock), or a NotFound error. Every request and every live bus session is checked
	// through it, so that revoking or expiring a key takes effect at once.
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	// KeyByID returns the key with this id whatever its state, or a NotFound error.
	KeyByID(ctx context.Context, id int64) (*Key, error)
	// Keys lists every key, revoked and expired ones too, in id order.
	Keys(ctx context.Context) ([]Key, error)
	// RevokeKey revokes a key: NotFound for an unknown or already revoked one.
	RevokeKey(ctx context.Context, id int64) error
	// CountKeys counts the valid keys (neither revoked nor expired).
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

// Limits of what a key is stored with.
const (
	MaxOrganisation = 64  // bytes of an organisation's name
	MaxKeyName      = 200 // bytes of a key's label
)

// Create makes a new key for org with role, which never expires, and stores it; the clear key
// is returned once.
func Create(ctx context.Context, s Store, org string, role Role, name string) (string, int64, error) {
	return CreateUntil(ctx, s, org, role, name, time.Time{})
}

// CreateUntil is Create for a key valid until expires (the zero time: never). The organisation
// is 1 to MaxOrganisation letters, digits, '-', '_' or '.', beginning with a letter or digit;
// the name at most MaxKeyName bytes of printable UTF-8. Each refusal is Invalid and names the
// field and the limit.
func CreateUntil(ctx context.Context, s Store, org string, role Role, name string, expires time.Time) (string, int64, error) {
	org = strings.TrimSpace(org)
	if err := checkOrganisation(org); err != nil {
		return "", 0, err
	}
	if role == RoleNone {
		return "", 0, apperr.E(apperr.Invalid, "role is required (viewer, operator, approver or admin)")
	}
	if err := checkKeyName(name); err != nil {
		return "", 0, err
	}
	var exp *time.Time
	if !expires.IsZero() {
		e := expires.UTC().Truncate(time.Second)
		exp = &e
	}
	key, prefix := NewKey()
	id, err := s.CreateKey(ctx, org, role, name, prefix, Hash(key), exp)
	return key, id, err
}

// CheckOrganisation refuses (Invalid) a name no organisation can have: the rule Create holds
// an organisation's name to (see there).
func CheckOrganisation(org string) error { return checkOrganisation(org) }

func checkOrganisation(org string) error {
	if org == "" {
		return apperr.E(apperr.Invalid, "organisation is required")
	}
	if len(org) > MaxOrganisation {
		return apperr.E(apperr.Invalid, "organisation is %d bytes, over the limit of %d", len(org), MaxOrganisation)
	}
	for i, c := range org {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return apperr.E(apperr.Invalid, "organisation %q: character %d is %q; allowed are letters, digits and, after the first, '-', '_' and '.'", org, i+1, c)
		}
	}
	return nil
}

// CheckKeyName refuses (Invalid) a name no key can have: the rule Create holds a key's name to.
func CheckKeyName(name string) error { return checkKeyName(name) }

func checkKeyName(name string) error {
	if len(name) > MaxKeyName {
		return apperr.E(apperr.Invalid, "name is %d bytes, over the limit of %d", len(name), MaxKeyName)
	}
	if !utf8.ValidString(name) {
		return apperr.E(apperr.Invalid, "name is not valid UTF-8")
	}
	for i, c := range name {
		if unicode.IsControl(c) {
			return apperr.E(apperr.Invalid, "name: a control character at byte %d", i)
		}
	}
	return nil
}

// maxDays is the longest expiry given in days (ParseExpiry), about 100 years.
const maxDays = 36500

// ParseExpiry reads when a key should expire: an RFC 3339 time ("2027-01-01T00:00:00Z"), or a
// time from now as a Go duration ("720h", "1h30m") or in whole days ("90d", at most 36500).
// The result is after now; anything else is Invalid, naming the value and what was wanted.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, apperr.E(apperr.Invalid, "expiry is empty: want an RFC 3339 time or a duration such as 720h or 90d")
	}
	var at time.Time
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else if len(s) >= 10 && s[4] == '-' { // a date, wrongly written
		return time.Time{}, apperr.E(apperr.Invalid, "expiry %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", s)
	} else {
		d, why := parseExpiresIn(s)
		if why != "" {
			return time.Time{}, apperr.E(apperr.Invalid, "expiry %q: %s, or an RFC 3339 time such as 2027-01-01T00:00:00Z", s, why)
		}
		at = now.Add(d)
	}
	if !at.After(now) {
		return time.Time{}, apperr.E(apperr.Invalid, "expiry %q is not in the future (now is %s)", s, now.UTC().Format(time.RFC3339))
	}
	return at, nil
}

// ParseExpiresIn reads a positive duration: a Go duration ("720h") or whole days ("90d", at
// most 36500); Invalid otherwise.
func ParseExpiresIn(s string) (time.Duration, error) {
	d, why := parseExpiresIn(strings.TrimSpace(s))
	if why != "" {
		return 0, apperr.E(apperr.Invalid, "expiresIn %q: %s", s, why)
	}
	return d, nil
}

// parseExpiresIn is ParseExpiresIn, with what was wanted when s is refused.
func parseExpiresIn(s string) (time.Duration, string) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > maxDays || days[0] == '+' {
			return 0, fmt.Sprintf("want a whole number of days from 1 to %d, such as 90d", maxDays)
		}
		return time.Duration(n) * 24 * time.Hour, ""
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, "want a duration such as 720h, 1h30m or 90d"
	}
	if d <= 0 {
		return 0, "want a duration above zero"
	}
	return d, ""
}

// Import stores a key chosen by the operator (RABTA_ADMIN_KEY); it must be at least 24
// characters. A key stored already and valid gives id 0; one that was revoked (or expired) is
// refused, Conflict: a revoked key is never valid again.
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
	id, err := s.CreateKey(ctx, org, role, name, p, Hash(key), nil)
	if apperr.KindOf(err) == apperr.Conflict {
		return 0, apperr.E(apperr.Conflict, "this key was revoked or has expired, and a revoked key is never valid again: choose another")
	}
	return id, err
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
			return nil, apperr.E(apperr.Unauthorized, "invalid or revoked API key, or one past its expiry")
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
