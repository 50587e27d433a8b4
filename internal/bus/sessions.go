package bus

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// Keys looks API keys up by hash: the unrevoked, unexpired key with this hash, or a NotFound
// error (auth.Store does).
type Keys interface {
	KeyByHash(ctx context.Context, hash []byte) (*auth.Key, error)
}

// Reasons the bus refuses a client something, in logs (bus_refused) and to Options.OnRefused.
const (
	RefusedPublish   = "forbidden_publish"   // a publish the key's role may not make (Table)
	RefusedSubscribe = "forbidden_subscribe" // a subscription the key's role may not make
	RefusedRetain    = "retained"            // a retained message the key's role may not leave (removed)
	RefusedPayload   = "payload_too_large"   // a message over Options.MaxPayload (the connection is closed)
	RefusedUnserved  = "unserved_topic"      // a publish to a topic in Rabta's space that no one takes
)

// ClosedRevoked is why a session was closed, in logs (bus_session_closed) and to
// Options.OnClosed: its key was revoked or has expired.
const ClosedRevoked = "key_revoked"

// session is a live connection of a client that logged in with an API key. Only the key's
// hash is kept, never the key.
type session struct {
	p     auth.Principal
	hash  []byte
	perms string // fingerprint of the permissions applied
}

// sessions is the registry of the embedded server's live client connections by connection id,
// and of the principal of each key that has logged in (by key id; a message published by a
// session that has ended since, such as a retained one, is judged by its key's principal).
type sessions struct {
	mu    sync.Mutex
	m     map[uint64]*session
	known map[int64]auth.Principal
}

func (s *sessions) add(cid uint64, p auth.Principal, hash []byte, perms string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m, s.known = map[uint64]*session{}, map[int64]auth.Principal{}
	}
	s.m[cid] = &session{p: p, hash: hash, perms: perms}
	s.known[p.KeyID] = p
}

// principal returns the principal of key id, or nil when no session of it was seen.
func (s *sessions) principal(id int64) *auth.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.known[id]; ok {
		return &p
	}
	return nil
}

func (s *sessions) get(cid uint64) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[cid]
}

// dropped is a session taken out of the registry.
type dropped struct {
	cid uint64
	key int64
}

// take removes the sessions for which drop is true and returns them.
func (s *sessions) take(drop func(cid uint64, ss *session) bool) []dropped {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dropped
	for cid, ss := range s.m {
		if drop(cid, ss) {
			out = append(out, dropped{cid, ss.p.KeyID})
			delete(s.m, cid)
		}
	}
	return out
}

// hashes returns the distinct key hashes of the live sessions.
func (s *sessions) hashes() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out [][]byte
	for _, ss := range s.m {
		if !seen[string(ss.hash)] {
			seen[string(ss.hash)] = true
			out = append(out, ss.hash)
		}
	}
	return out
}

// Sessions counts the embedded server's live client sessions (MQTT and NATS) of key id,
// or of every key with id 0.
func (b *Bus) Sessions(id int64) int {
	b.sess.mu.Lock()
	defer b.sess.mu.Unlock()
	n := 0
	for _, ss := range b.sess.m {
		if id == 0 || ss.p.KeyID == id {
			n++
		}
	}
	return n
}

// DisconnectKey closes at once every open MQTT and NATS session of the embedded server that
// logged in with key id, and returns how many it closed. Call it when the key is revoked;
// a client cannot log in again with a revoked key. Sessions of keys revoked by another process
// (rabta keys revoke) or expired are closed by the re-check that Enforce runs.
func (b *Bus) DisconnectKey(id int64) int {
	if b.srv == nil {
		return 0
	}
	return b.close(b.sess.take(func(_ uint64, ss *session) bool { return ss.p.KeyID == id }))
}

// close closes the connections of sessions of revoked keys and returns how many were still
// open.
func (b *Bus) close(sessions []dropped) int { return b.closeFor(sessions, ClosedRevoked) }

// closeFor closes the connections of sessions for reason (Closed*) and returns how many were
// still open.
func (b *Bus) closeFor(sessions []dropped, reason string) int {
	n := 0
	for _, d := range sessions {
		proto := b.protocol(d.cid)
		// nothing more from it: not even the MQTT will the server publishes for a client that
		// did not say goodbye
		if c := b.srv.GetClient(d.cid); c != nil {
			c.RegisterUser(&server.User{Username: fmt.Sprintf("key-%d", d.key), Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: []string{">"}}, Subscribe: &server.SubjectPermission{Deny: []string{">"}}}})
		}
		if err := b.srv.DisconnectClientByID(d.cid); err != nil {
			continue // gone already
		}
		n++
		b.log.Info("bus_session_closed", "key_id", d.key, "protocol", proto, "reason", reason)
		if b.opts.OnClosed != nil {
			b.opts.OnClosed(reason)
		}
	}
	return n
}

// protocol says whether connection cid is an MQTT or a NATS client, for the log.
func (b *Bus) protocol(cid uint64) string {
	cz, err := b.srv.Connz(&server.ConnzOptions{CID: cid})
	if err != nil || len(cz.Conns) != 1 {
		return ""
	}
	if cz.Conns[0].MQTTClient != "" {
		return "mqtt"
	}
	return "nats"
}

// recheck looks up the distinct keys of the live sessions again and closes the sessions of
// those that are no longer valid (revoked by any process, or expired); it forgets sessions
// whose connection has ended. A key that cannot be looked up now (the store is unavailable)
// keeps its sessions until the next round.
func (b *Bus) recheck(ctx context.Context) {
	if b.opts.Keys == nil || b.srv == nil {
		return
	}
	// (the server is asked outside the registry's lock: it logs, and its log reaches the registry)
	gone := map[uint64]bool{}
	b.sess.mu.Lock()
	for cid := range b.sess.m {
		gone[cid] = true
	}
	b.sess.mu.Unlock()
	for cid := range gone {
		gone[cid] = b.srv.GetClient(cid) == nil
	}
	b.sess.take(func(cid uint64, _ *session) bool { return gone[cid] })
	invalid := map[string]bool{}
	for _, h := range b.sess.hashes() {
		_, err := b.opts.Keys.KeyByHash(ctx, h)
		switch {
		case err == nil:
		case apperr.KindOf(err) == apperr.NotFound:
			invalid[string(h)] = true
		default:
			if ctx.Err() == nil {
				b.log.Warn("bus_key_recheck_failed", "err", err)
			}
			return
		}
	}
	if len(invalid) > 0 {
		b.close(b.sess.take(func(_ uint64, ss *session) bool { return invalid[string(ss.hash)] }))
	}
	if b.opts.Narrow != nil {
		b.renarrow(ctx)
	}
}

// renarrow applies each live session's key's permissions again where Narrow now says otherwise.
func (b *Bus) renarrow(ctx context.Context) {
	type live struct {
		cid uint64
		p   auth.Principal
		fp  string
	}
	var all []live
	b.sess.mu.Lock()
	for cid, ss := range b.sess.m {
		all = append(all, live{cid, ss.p, ss.perms})
	}
	b.sess.mu.Unlock()
	perms := map[int64]*server.Permissions{}
	for _, l := range all {
		pm, ok := perms[l.p.KeyID]
		if !ok {
			var err error
			if pm, err = permissions(ctx, b.table, &l.p, b.opts.Narrow); err != nil {
				b.log.Warn("bus_permissions_not_renewed", "key_id", l.p.KeyID, "err", err)
				continue
			}
			perms[l.p.KeyID] = pm
		}
		fp := fingerprint(pm)
		if fp == l.fp {
			continue
		}
		if c := b.srv.GetClient(l.cid); c != nil {
			c.RegisterUser(&server.User{Username: fmt.Sprintf("key-%d", l.p.KeyID), Permissions: pm})
			b.sess.mu.Lock()
			if ss := b.sess.m[l.cid]; ss != nil {
				ss.perms = fp
			}
			b.sess.mu.Unlock()
		}
	}
}

// DefaultKeyCheck is how often Enforce looks the keys of live sessions up again by default.
const DefaultKeyCheck = 500 * time.Millisecond

// Enforce sets the bus's run-time checks going, until ctx ends: what NATS permissions cannot
// say. Every 500 ms (every; 0: DefaultKeyCheck) the keys of the live sessions are looked up again and the
// sessions of revoked or expired keys closed; a retained message that the table does not allow
// its publisher is removed as soon as it is stored (RefusedRetain); a publish to a SensorThings
// or ingest topic that no handler of Rabta's takes is counted (RefusedUnserved). Each
// refusal is logged as bus_refused (at most 20 a second per reason; all are counted).
//
// A round of the re-check costs one Keys.KeyByHash per distinct key of the live sessions;
// with the default every (DefaultKeyCheck) a key revoked elsewhere loses its sessions within
// about half a second plus the round's look-ups.
func (b *Bus) Enforce(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = DefaultKeyCheck
	}
	var subs []*nats.Subscription
	for _, f := range []string{"v1.1/#", "rabta/" + b.opts.Node + "/ingest/#"} {
		subj, _ := MQTTSubject(f)
		s, err := b.nc.QueueSubscribe(subj, "rabta-"+b.opts.Node+"-unserved", b.onPublish)
		if err != nil {
			return fmt.Errorf("bus: watch %s: %w", f, err)
		}
		subs = append(subs, s)
	}
	if b.srv != nil && b.opts.MQTTAddr != "" {
		s, err := b.nc.Subscribe(mqttRetainedPrefix+">", b.onRetained)
		if err != nil {
			return fmt.Errorf("bus: watch retained messages: %w", err)
		}
		subs = append(subs, s)
	}
	if err := b.nc.Flush(); err != nil {
		return err
	}
	b.mu.Lock()
	b.subs = append(b.subs, subs...)
	b.mu.Unlock()
	if b.srv != nil {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			w := time.NewTicker(WriteMeterEvery)
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					b.recheck(ctx)
				case <-w.C:
					b.meterWrites()
				}
			}
		}()
	}
	return nil
}

// onPublish counts a publish to a topic of Rabta's that no served row matches.
func (b *Bus) onPublish(m *nats.Msg) {
	if m.Header.Get(notificationHeader) != "" {
		return
	}
	topic := MQTTTopic(m.Subject)
	if Served(b.table, topic) {
		return
	}
	b.refuse(RefusedUnserved, 0, "", topic, "bytes", len(m.Data))
}

// The MQTT bridge keeps retained messages in the stream $MQTT_rmsgs, one per subject
// "$MQTT.rmsgs.<subject>", with headers naming the topic, the flags, the server that stored it
// and the user that published it ("key-<id>", set by clientAuth). A message with an empty
// body and a flags header starting with "-" removes the retained message of its subject from
// every server's cache (nats-server's mqttEncodeRetainedMessage and processRetainedMsg).
const (
	mqttRetainedPrefix = "$MQTT.rmsgs."
	hdrRetTopic        = "Nmqtt-RTopic"
	hdrRetFlags        = "Nmqtt-RFlags"
	hdrRetOrigin       = "Nmqtt-ROrigin"
	hdrRetSource       = "Nmqtt-RSource"
)

// onRetained removes a retained message that the table does not allow its publisher.
func (b *Bus) onRetained(m *nats.Msg) {
	flags := m.Header.Get(hdrRetFlags)
	if len(m.Data) == 0 || flags == "" || strings.HasPrefix(flags, "-") {
		return // a removal
	}
	topic := m.Header.Get(hdrRetTopic)
	if topic == "" {
		topic = MQTTTopic(strings.TrimPrefix(m.Subject, mqttRetainedPrefix))
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(m.Header.Get(hdrRetSource), "key-"), 10, 64)
	if Allowed(b.table, b.sess.principal(id), Retain, topic) {
		return
	}
	del := nats.NewMsg(m.Subject)
	del.Header.Set(hdrRetTopic, topic)
	del.Header.Set(hdrRetFlags, "-"+flags)
	if o := m.Header.Get(hdrRetOrigin); o != "" {
		del.Header.Set(hdrRetOrigin, o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, del); err != nil {
		b.log.Error("bus_retained_not_removed", "topic", topic, "key_id", id, "err", err)
	}
	b.refuse(RefusedRetain, 0, "mqtt", topic, "key_id", id)
}

// refuse logs (sampled) and counts a refusal. cid, when known, names the client's key.
func (b *Bus) refuse(reason string, cid uint64, proto, topic string, attrs ...any) {
	if b.opts.OnRefused != nil {
		b.opts.OnRefused(reason)
	}
	b.smu.Lock()
	s := b.sampled[reason]
	if s == nil {
		s = &rate.Sometimes{First: 20, Interval: 50 * time.Millisecond}
		b.sampled[reason] = s
	}
	b.smu.Unlock()
	s.Do(func() {
		args := []any{"reason", reason, "topic", topic}
		if proto != "" {
			args = append(args, "protocol", proto)
		}
		if cid != 0 {
			if ss := b.sess.get(cid); ss != nil {
				args = append(args, "key_id", ss.p.KeyID, "organisation", ss.p.Organisation, "role", ss.p.Role.String())
			}
		}
		b.log.Info("bus_refused", append(args, attrs...)...)
	})
}

// The embedded server reports what it refuses a client only in its log: a publish or a
// subscription its permissions do not allow ("Publish Violation - Subject %q", "Subscription
// Violation - Subject "…""), a message over the payload limit ("%s: %d vs %d" with
// server.ErrMaxPayload, after which it closes the connection: MQTT 3.1.1 has no other way to
// refuse a PUBLISH). Each line starts with the client: "<address> - cid:<id>" for NATS,
// "- mid:<id>" for MQTT. violation turns such a line into a refusal (logged once, as
// bus_refused with the client's key, and counted) and reports whether it was one.
// TestAccessTable and TestPayloadLimit fail if a server upgrade changes these lines.
var (
	clientRef  = regexp.MustCompile(` - (cid|mid|mid_ws|wid):(\d+)`)
	subViolRef = regexp.MustCompile(`Subscription Violation[^"]* - Subject "([^"]*)"`)
)

func (b *Bus) violation(f string, v []any) bool {
	var reason, subject string
	var attrs []any
	switch {
	case strings.Contains(f, "Publish Violation - ") && len(v) > 0:
		reason, subject = RefusedPublish, fmt.Sprintf("%s", v[len(v)-1])
	case strings.Contains(f, "Subscription Violation"):
		m := subViolRef.FindStringSubmatch(f)
		if m == nil {
			return false
		}
		reason, subject = RefusedSubscribe, m[1]
	case len(v) == 3 && fmt.Sprint(v[0]) == server.ErrMaxPayload.Error():
		reason = RefusedPayload
		attrs = []any{"bytes", v[1], "limit", v[2]}
	default:
		return false
	}
	var cid uint64
	proto := ""
	if m := clientRef.FindStringSubmatch(f); m != nil {
		cid, _ = strconv.ParseUint(m[2], 10, 64)
		proto = map[string]string{"cid": "nats", "mid": "mqtt", "mid_ws": "mqtt", "wid": "websocket"}[m[1]]
	}
	topic := subject
	if proto == "mqtt" && subject != "" {
		topic = MQTTTopic(subject)
	}
	b.refuse(reason, cid, proto, topic, attrs...)
	return true
}
