package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

type sessionKey struct{}

// current returns the request's session (set by Server.session).
func current(ctx context.Context) *session {
	ss, _ := ctx.Value(sessionKey{}).(*session)
	return ss
}

// cookie builds a console cookie: HttpOnly, SameSite=Strict, path /console, Secure when the
// request came over TLS (directly, or through a trusted proxy: auth.Proxies has set r.TLS's
// stand-in, the X-Forwarded-Proto it believed).
func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: overTLS(r)}
}

func overTLS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// signinPage shows the sign-in form with a fresh pre-session CSRF token (double submit: the
// token is in a SameSite=Strict cookie and in the form, and the POST must carry both).
func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && s.ss.get(c.Value, s.now()) != nil {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	s.signinForm(w, r, http.StatusOK, "")
}

func (s *Server) signinForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := token()
	http.SetCookie(w, cookie(r, SigninCookie, tok, 3600))
	s.render(w, r, status, "signin", map[string]any{"CSRF": tok, "Error": msg, "Next": safeNext(r.FormValue("next"))})
}

// safeNext keeps a redirect target after sign-in inside the console.
func safeNext(n string) string {
	if strings.HasPrefix(n, Prefix+"/") && !strings.HasPrefix(n, Prefix+"//") && !strings.ContainsAny(n, "\\\r\n") {
		return n
	}
	return Prefix + "/"
}

// signin checks the form's CSRF token and the key (auth.Authenticator: a wrong key counts as a
// failed authentication of the client's address; over the limit the answer is 429 with
// Retry-After, before the key is looked at), then starts a session and sets its cookie.
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "sign-in form: unreadable or over "+strconv.Itoa(MaxFormBytes)+" bytes")
		return
	}
	c, err := r.Cookie(SigninCookie)
	if err != nil || !sameToken(c.Value, r.PostForm.Get("csrf")) {
		s.fail(w, r, http.StatusForbidden, "sign-in form: missing or stale CSRF token (field csrf must match the sign-in cookie): reload the sign-in page")
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	switch {
	case key == "":
		s.signinForm(w, r, http.StatusBadRequest, "Field key: enter an API key.")
		return
	case len(key) > MaxKeyLength:
		s.signinForm(w, r, http.StatusBadRequest, "Field key: longer than "+strconv.Itoa(MaxKeyLength)+" bytes; an API key is shorter.")
		return
	}
	p, err := s.Authn.Authenticate(auth.WithRemote(r.Context(), r.RemoteAddr), key)
	if err != nil {
		if sec, ok := auth.RetryAfter(err); ok {
			w.Header().Set("Retry-After", strconv.Itoa(sec))
			s.signinForm(w, r, http.StatusTooManyRequests, apperr.Message(err))
			return
		}
		if apperr.KindOf(err) == apperr.Unauthorized {
			s.signinForm(w, r, http.StatusUnauthorized, "That key is not valid (unknown, revoked or past its expiry).")
			return
		}
		s.internal(w, r, err)
		return
	}
	now := s.now()
	expires := now.Add(s.ttl())
	if k, err := s.Keys.KeyByID(r.Context(), p.KeyID); err == nil && k.ExpiresAt != nil && k.ExpiresAt.Before(expires) {
		expires = *k.ExpiresAt // the session ends with its key
	}
	id, _ := s.ss.create(*p, expires, now)
	http.SetCookie(w, cookie(r, SessionCookie, id, int(expires.Sub(now).Seconds())))
	http.SetCookie(w, cookie(r, SigninCookie, "", -1))
	s.log().Info("console_signin", "key_id", p.KeyID, "organisation", p.Organisation, "role", p.Role.String())
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// session runs h for a request with a live session whose key is still valid, with the key's
// principal in the context (so every check downstream is the API's: auth.Require,
// auth.RequireOwner). A POST must carry the session's CSRF token in field csrf (or header
// X-CSRF-Token), or it is refused with 403 and nothing changes. Without a session a page
// redirects to sign-in and an /api/ request gets 401; a revoked or expired key ends the
// session.
func (s *Server) session(h http.HandlerFunc) http.HandlerFunc {
	return s.sessionLimit(MaxFormBytes, h)
}

// sessionLimit is session with a form body limit of limit bytes (MaxFormBytes for most forms).
func (s *Server) sessionLimit(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		var ss *session
		var id string
		if c, err := r.Cookie(SessionCookie); err == nil {
			id = c.Value
			ss = s.ss.get(id, now)
		}
		if ss != nil {
			k, err := s.Keys.KeyByID(r.Context(), ss.principal.KeyID)
			switch {
			case err != nil && apperr.KindOf(err) != apperr.NotFound:
				s.internal(w, r, err)
				return
			case err != nil || k.State(now) != auth.KeyActive:
				s.ss.end(id)
				s.log().Info("console_session_ended", "key_id", ss.principal.KeyID, "why", "key revoked or expired")
				ss = nil
			}
		}
		if ss == nil {
			http.SetCookie(w, cookie(r, SessionCookie, "", -1))
			if r.Method == http.MethodGet && !wantsJSON(r) {
				http.Redirect(w, r, Prefix+"/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, http.StatusUnauthorized, "not signed in to the console (or the session ended: its key was revoked or expired): sign in at "+Prefix+"/signin")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, http.StatusBadRequest, "form: unreadable or over "+strconv.FormatInt(limit, 10)+" bytes")
				return
			}
			tok := r.PostForm.Get("csrf")
			if tok == "" {
				tok = r.Header.Get("X-CSRF-Token")
			}
			if !sameToken(tok, ss.csrf) {
				s.fail(w, r, http.StatusForbidden, "form: missing or wrong CSRF token (field csrf): reload the page and try again; nothing was changed")
				return
			}
			// a form's change counts against the key's write limit, as the API's do
			if s.Authn != nil {
				if err := s.Authn.Limit.Write(ss.principal.KeyID); err != nil {
					if sec, ok := auth.RetryAfter(err); ok {
						w.Header().Set("Retry-After", strconv.Itoa(sec))
					}
					s.failErr(w, r, err)
					return
				}
			}
		}
		p := ss.principal
		ctx := auth.WithPrincipal(context.WithValue(r.Context(), sessionKey{}, ss), &p)
		h(w, r.WithContext(ctx))
	}
}

// signout ends the session.
func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.ss.end(c.Value)
	}
	http.SetCookie(w, cookie(r, SessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
}

// fail answers a refused request: for /api/ the error body every API answers
// (apperr.JSON: {"code", "message", "requestId", "type"}), else the error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	id := apperr.RequestID(r.Context())
	if wantsJSON(r) {
		if id == "" { // served without auth.RequestID: make one, so that every error has one
			id = apperr.NewRequestID()
			w.Header().Set(apperr.RequestIDHeader, id)
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", apperr.JSONType)
		w.WriteHeader(status)
		w.Write(apperr.JSON(status, msg, id)) // the one error body of every surface
		return
	}
	if id != "" {
		msg += " (request " + id + ")"
	}
	s.render(w, r, status, "error", map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg})
}

// failErr answers err with the status of its kind and the message given at its boundary.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := apperr.HTTPStatus(err)
	if status >= 500 {
		s.internal(w, r, err)
		return
	}
	s.fail(w, r, status, apperr.Message(err))
}

// internal logs err once and answers 500 without its cause.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log().Error("console_failed", "path", r.URL.Path, "request_id", apperr.RequestID(r.Context()), "err", err)
	s.fail(w, r, http.StatusInternalServerError, "internal error")
}
