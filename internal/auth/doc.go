// Package auth holds Rabta's principals, organisations, roles and API keys, and the HTTP
// middleware that identifies a request and authorises it by role.
//
// A key is 32 random bytes shown once as "rbt_<prefix>_<secret>" (Create), or a key an operator
// chose, of 24 characters or more (Import, for RABTA_ADMIN_KEY); the Store keeps only its
// SHA-256 hash, so a leaked database does not leak keys. A key belongs to one organisation and
// has one role; roles are ordered, each including the ones below it (viewer < operator <
// approver < admin). A key is revoked, never edited.
//
// On each request, RequestID (outermost) gives the request an id, in its context and in the
// X-Request-Id response header, that every error response and its log line carry (see
// apperr). Authenticator.Middleware then reads "Authorization: Bearer <key>" or "X-API-Key",
// looks the hash up and puts the Principal (key id, organisation, role) in the context; a
// request without a key goes on anonymous, one with a bad key is refused at once, so that a
// typo never silently downgrades to anonymous. Handlers then call Require with the role they
// need: anonymous requests get Unauthorized, too weak a role Forbidden. Decisions are recorded
// under "<organisation>/key-<id>", which is also how four eyes tells an alert's author from its
// approver. The same Authenticator checks MQTT clients' passwords on the bus.
//
// Abuse is slowed and seen (limit.go): every failed authentication is logged with the key's
// public prefix and the remote address (never the key), and with a Limiter each source (an IP
// address, an IPv6 /64) may fail a burst and then a rate a second; over it, the source's tries
// are refused (Refusal, apperr.TooMany, HTTP 429 with Retry-After) before any lookup, over HTTP
// and on the bus alike (the bus passes the client's address with WithRemote). Writes are
// limited per key the same way. The limiter remembers a bounded number of sources and keys
// (least recently seen forgotten first). Proxies (proxy.go), outermost of all, decides what a
// request's address, Host and scheme are: X-Forwarded-* only from trusted proxies, and never
// the client's Host for links.
package auth
