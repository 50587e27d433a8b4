package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/auth"
)

// Cookie names. The session cookie holds the session's random id (its SHA-256 is what the
// server keeps); the pre-session cookie holds the CSRF token of the sign-in form.
const (
	SessionCookie = "rabta_console"
	SigninCookie  = "rabta_console_signin"
)

// session is one signed-in browser: the key it signed in with (by id: the key itself is not
// kept), the CSRF token its forms carry, and when it ends.
type session struct {
	principal auth.Principal
	csrf      string
	expires   time.Time
}

// sessions keeps sessions in memory, by the SHA-256 of their id: a restart signs everyone out
// (documented in docs/console.md), and a memory dump shows no usable cookie. At most max are
// kept; when full, expired ones are dropped, then the one ending soonest.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	max int
}

func newSessions(max int) *sessions {
	return &sessions{m: map[[32]byte]*session{}, max: max}
}

// token returns 32 random bytes, base64url: a session id or a CSRF token.
func token() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// create starts a session for p until expires and returns its id.
func (s *sessions) create(p auth.Principal, expires, now time.Time) (string, *session) {
	id := token()
	ss := &session{principal: p, csrf: token(), expires: expires}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		var soonest [32]byte
		var first time.Time
		for k, v := range s.m {
			if !now.Before(v.expires) {
				delete(s.m, k)
				continue
			}
			if first.IsZero() || v.expires.Before(first) {
				soonest, first = k, v.expires
			}
		}
		if len(s.m) >= s.max {
			delete(s.m, soonest)
		}
	}
	s.m[hashID(id)] = ss
	return id, ss
}

// get returns the live session of id, nil when none (unknown or expired: an expired one is
// dropped).
func (s *sessions) get(id string, now time.Time) *session {
	if id == "" {
		return nil
	}
	h := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[h]
	if ss != nil && !now.Before(ss.expires) {
		delete(s.m, h)
		return nil
	}
	return ss
}

// end drops the session of id.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, hashID(id))
}

// endKey drops every session of key id (the key was revoked or expired).
func (s *sessions) endKey(keyID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.m {
		if v.principal.KeyID == keyID {
			delete(s.m, k)
			n++
		}
	}
	return n
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// sameToken compares two tokens in constant time; an empty one never matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
