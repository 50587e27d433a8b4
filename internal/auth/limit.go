package auth

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/apperr"
)

// Limits are the rates at which abuse is slowed: failed authentications per source and writes
// per key, each a token bucket (golang.org/x/time/rate) of Rate tokens a second holding at most
// Burst. A Rate of 0 turns that limit off.
type Limits struct {
	// FailRate is how many failed authentications a second one source may make once it has
	// used FailBurst. A source over it is refused (HTTP 429, or a refused MQTT/NATS CONNECT)
	// before its key is even looked at, whether the key is right or not: guessing is slowed,
	// and a flood of wrong keys costs the node no store lookups.
	FailRate  float64
	FailBurst int
	// WriteRate is how many writes (HTTP requests other than GET, HEAD and OPTIONS) a second
	// one key may make once it has used WriteBurst.
	WriteRate  float64
	WriteBurst int
	// Entries bounds how many sources, and how many keys, are remembered (each; 0: 10,000). The
	// least recently seen is forgotten first, so an attacker with many addresses cannot grow
	// the node's memory: at worst it makes the node forget a source, which then starts again
	// from a full bucket.
	Entries int
}

// DefaultLimits are the limits of a node that configures none: 20 failed authentications, then
// one a second, per source; 2,000 writes, then 1,000 a second, per key (a benchmark client
// posting single observations from one key makes about 730 a second); 10,000 of each
// remembered.
func DefaultLimits() Limits {
	return Limits{FailRate: 1, FailBurst: 20, WriteRate: 1000, WriteBurst: 2000, Entries: 10000}
}

// Limiter keeps the token buckets of Limits: one per source that has failed to authenticate,
// one per key that has written. Sources are IP addresses, IPv6 ones by their /64 (one
// subscriber's network: an attacker usually has all of it). Its zero value is not usable; a
// nil *Limiter limits nothing.
type Limiter struct {
	l      Limits
	now    func() time.Time
	mu     sync.Mutex
	fails  *lru[string]
	writes *lru[int64]
	// OnRefused, when set, is called with "auth" or "write" for each request refused over a
	// limit (for metrics).
	OnRefused func(what string)
}

// NewLimiter returns a limiter of l with the clock now (nil: time.Now).
func NewLimiter(l Limits, now func() time.Time) *Limiter {
	if l.Entries <= 0 {
		l.Entries = 10000
	}
	if l.FailBurst < 1 {
		l.FailBurst = 1
	}
	if l.WriteBurst < 1 {
		l.WriteBurst = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{l: l, now: now, fails: newLRU[string](l.Entries), writes: newLRU[int64](l.Entries)}
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits { return l.l }

// Refusal is the error of a request over a limit: kind apperr.TooMany, with how long to wait
// before the next try (the HTTP Retry-After).
type Refusal struct {
	Wait time.Duration
	err  error
}

func (r *Refusal) Error() string { return r.err.Error() }
func (r *Refusal) Unwrap() error { return r.err }

// RetryAfter returns the whole seconds to wait before retrying after err, when err is a
// Refusal.
func RetryAfter(err error) (int, bool) {
	var r *Refusal
	if !errors.As(err, &r) {
		return 0, false
	}
	return int(math.Ceil(r.Wait.Seconds())), true
}

// Source is the bucket key of a remote address ("ip:port" or "ip"): the IP, or an IPv6
// address's /64. An address that does not parse is its own source.
func Source(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return remote
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// admit decides whether source may try a key now. A source that has failed before takes a
// token at once (so that concurrent tries cannot all pass on one token), which done gives back
// if the key was right; a source that never failed has no bucket and takes none. A positive
// wait refuses the try.
func (l *Limiter) admit(source string) (wait time.Duration, done func(failed bool) (limited bool)) {
	if l == nil || l.l.FailRate <= 0 {
		return 0, func(bool) bool { return false }
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fails.get(source, false, nil) // no bucket for a source that has never failed
	if b == nil {
		return 0, func(failed bool) bool {
			if failed {
				return l.failed(source)
			}
			return false
		}
	}
	now := l.now()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, nil
	}
	reserved := now
	return 0, func(failed bool) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !failed {
			// give the token back as of when it was taken: rate.Reservation.CancelAt restores
			// nothing at a later time than the reservation's (a right key was charged)
			r.CancelAt(reserved)
			return false
		}
		return b.TokensAt(l.now()) < 1
	}
}

// failed records a failed authentication from source, and reports whether the source has just
// used its last token (to log that once, not every refusal after it).
func (l *Limiter) failed(source string) (limited bool) {
	if l == nil || l.l.FailRate <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fails.get(source, true, func() *rate.Limiter { return rate.NewLimiter(rate.Limit(l.l.FailRate), l.l.FailBurst) })
	now := l.now()
	// charged even when the bucket is empty (a debt later tries wait out): a try admitted
	// before the source had a bucket reached the store, so it counts, however late it failed
	// (with AllowN, concurrent first tries finishing after the burst was spent went uncounted)
	b.ReserveN(now, 1)
	return b.TokensAt(now) < 1
}

// failWait returns how long source must wait before it may try a key again (0: at once).
func (l *Limiter) failWait(source string) time.Duration {
	if l == nil || l.l.FailRate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fails.get(source, false, nil)
	if b == nil {
		return 0
	}
	return wait(b, l.now(), l.l.FailRate)
}

// Write takes a token for a write by key id: nil, or a TooMany error (a *Refusal: RetryAfter
// gives its wait) naming the limit (write_rate, write_burst). For writes that do not come
// through Middleware (the console's forms). A nil *Limiter allows everything.
func (l *Limiter) Write(id int64) error {
	if d := l.write(id); d > 0 {
		return l.writeRefusal(d)
	}
	return nil
}

// WriteN takes n tokens for n writes key id has made already — a bus client's publishes,
// counted after the fact (MQTT 3.1.1 cannot refuse a PUBLISH): nil, or a TooMany *Refusal naming
// the limit when the bucket did not hold n. The key then owes what it lacked (at most a
// burst), so that WriteWait and Write refuse it until it has waited that off. A nil *Limiter
// allows everything.
func (l *Limiter) WriteN(id int64, n int) error {
	if l == nil || l.l.WriteRate <= 0 || n <= 0 {
		return nil
	}
	l.mu.Lock()
	b := l.writes.get(id, true, func() *rate.Limiter { return rate.NewLimiter(rate.Limit(l.l.WriteRate), l.l.WriteBurst) })
	now := l.now()
	if b.AllowN(now, n) {
		l.mu.Unlock()
		return nil
	}
	b.ReserveN(now, min(n, b.Burst())) // into debt
	d := wait(b, now, l.l.WriteRate)
	l.mu.Unlock()
	return l.writeRefusal(d)
}

// WriteWait is how long key id must wait before its next write (0: it may write now). It
// takes nothing.
func (l *Limiter) WriteWait(id int64) time.Duration {
	if l == nil || l.l.WriteRate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.writes.get(id, false, nil)
	if b == nil {
		return 0
	}
	return wait(b, l.now(), l.l.WriteRate)
}

// write takes a token for a write by key id, or returns how long it must wait.
func (l *Limiter) write(id int64) time.Duration {
	if l == nil || l.l.WriteRate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.writes.get(id, true, func() *rate.Limiter { return rate.NewLimiter(rate.Limit(l.l.WriteRate), l.l.WriteBurst) })
	now := l.now()
	if b.AllowN(now, 1) {
		return 0
	}
	return wait(b, now, l.l.WriteRate)
}

// wait is how long until b holds a whole token.
func wait(b *rate.Limiter, now time.Time, perSecond float64) time.Duration {
	t := b.TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) / perSecond * float64(time.Second))
}

// failRefusal is the error of a source over the failed-authentication limit.
func (l *Limiter) failRefusal(d time.Duration) error {
	l.refused("auth")
	return &Refusal{Wait: d, err: apperr.E(apperr.TooMany,
		"too many failed authentications from this address: over the limit of %s a second after %d (auth_fail_rate, auth_fail_burst); retry after %d s",
		num(l.l.FailRate), l.l.FailBurst, int(math.Ceil(d.Seconds())))}
}

// writeRefusal is the error of a key over the write limit.
func (l *Limiter) writeRefusal(d time.Duration) error {
	l.refused("write")
	return &Refusal{Wait: d, err: apperr.E(apperr.TooMany,
		"too many writes with this key: over the limit of %s a second after %d (write_rate, write_burst); retry after %d s",
		num(l.l.WriteRate), l.l.WriteBurst, int(math.Ceil(d.Seconds())))}
}

func (l *Limiter) refused(what string) {
	if l.OnRefused != nil {
		l.OnRefused(what)
	}
}

func num(f float64) string { return fmt.Sprintf("%g", f) }

// lru is a map of token buckets that forgets the least recently used beyond max entries.
type lru[K comparable] struct {
	max   int
	order *list.List // of *entry[K], most recent first
	m     map[K]*list.Element
}

type entry[K comparable] struct {
	k K
	b *rate.Limiter
}

func newLRU[K comparable](max int) *lru[K] {
	return &lru[K]{max: max, order: list.New(), m: map[K]*list.Element{}}
}

// get returns k's bucket, made by mk when create is set and there is none (else nil).
func (c *lru[K]) get(k K, create bool, mk func() *rate.Limiter) *rate.Limiter {
	if e, ok := c.m[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*entry[K]).b
	}
	if !create {
		return nil
	}
	b := mk()
	c.m[k] = c.order.PushFront(&entry[K]{k, b})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.m, last.Value.(*entry[K]).k)
	}
	return b
}

// len is the number of buckets remembered.
func (c *lru[K]) len() int { return c.order.Len() }

// remoteKey is the context key of the address a request or connection came from.
type remoteKey struct{}

// WithRemote returns ctx carrying the address ("ip:port") a request or a connection came from,
// for Authenticate to log and to count failures by (the bus sets it for MQTT and NATS
// clients, Middleware for HTTP).
func WithRemote(ctx context.Context, remote string) context.Context {
	return context.WithValue(ctx, remoteKey{}, remote)
}

func remoteFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// failed logs a failed authentication from remote; limited says the source has just reached
// its limit.
func (a *Authenticator) failed(ctx context.Context, key, remote string, limited bool) {
	if a.Log == nil {
		return
	}
	a.Log.LogAttrs(ctx, slog.LevelInfo, "auth_failed", slog.String("key_prefix", publicPrefix(key)), slog.String("remote", remote))
	if limited {
		a.Log.LogAttrs(ctx, slog.LevelWarn, "auth_limit_reached", slog.String("source", Source(remote)),
			slog.Float64("per_second", a.Limit.l.FailRate), slog.Int("burst", a.Limit.l.FailBurst))
	}
}

// publicPrefix is what of a presented key may be logged: the public prefix of a key in
// Rabta's format (rbt_<8 hex>_<secret>), or "" for anything else (which may be all secret).
func publicPrefix(key string) string {
	p := prefixOf(key)
	if len(p) != 8 {
		return ""
	}
	for _, c := range p {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return p
}

// safeMethod reports whether an HTTP method only reads (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
