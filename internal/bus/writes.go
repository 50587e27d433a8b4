package bus

import (
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rabta/rabta/internal/auth"
)

// WriteLimit is the per-key write limit the bus holds its clients to (*auth.Limiter, the one
// the HTTP API's writes count against): WriteN takes n writes a key has made and refuses
// (a TooMany error naming the limit) when it had fewer left; WriteWait says how long a key
// must wait before it may write again.
type WriteLimit interface {
	WriteN(id int64, n int) error
	WriteWait(id int64) time.Duration
}

// ClosedWriteLimit is why a session was closed, in logs (bus_session_closed) and to
// Options.OnClosed: its key published more than the write limit allows.
const ClosedWriteLimit = "write_limit"

// WriteMeterEvery is how often the bus counts its clients' publishes against the write limit.
const WriteMeterEvery = time.Second

// meterWrites counts the messages each live session has published since the last round
// (the server's inbound message count of its connection) against its key's write limit.
// MQTT 3.1.1 cannot refuse a PUBLISH and NATS has no per-user rate, so a key over the limit
// loses every session at once (bus_session_closed, reason write_limit, with the wait) and
// cannot log in again until it has waited off what it owes (Check asks WriteWait). Its
// writes over the HTTP API are refused meanwhile too: one bucket per key.
func (b *Bus) meterWrites() {
	if b.srv == nil || b.opts.Writes == nil {
		return
	}
	b.sess.mu.Lock()
	keys := make(map[uint64]int64, len(b.sess.m))
	for cid, ss := range b.sess.m {
		keys[cid] = ss.p.KeyID
	}
	b.sess.mu.Unlock()
	if len(keys) == 0 {
		b.wlast = nil
		return
	}
	cz, err := b.srv.Connz(&server.ConnzOptions{Account: b.acc.Name, Limit: len(keys) + 1024})
	if err != nil {
		return
	}
	seen := make(map[uint64]int64, len(keys))
	per := map[int64]int{}
	for _, c := range cz.Conns {
		key, ok := keys[c.Cid]
		if !ok {
			continue
		}
		seen[c.Cid] = c.InMsgs
		if d := c.InMsgs - b.wlast[c.Cid]; d > 0 {
			per[key] += int(d)
		}
	}
	b.wlast = seen
	for key, n := range per {
		err := b.opts.Writes.WriteN(key, n)
		if err == nil {
			continue
		}
		wait, _ := auth.RetryAfter(err)
		closed := b.closeFor(b.sess.take(func(_ uint64, ss *session) bool { return ss.p.KeyID == key }), ClosedWriteLimit)
		b.log.Warn("bus_write_limit", "key_id", key, "messages", n, "per", WriteMeterEvery, "sessions_closed", closed, "retry_after_s", wait, "err", err.Error())
	}
}
