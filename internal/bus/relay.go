package bus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Entry is one outbox entry as the store gives it to the relay.
type Entry struct {
	ID      int64
	Kind    string // "obs", or "mobs" for a MultiDatastream's observations
	Key     int64  // datastream (or MultiDatastream) id
	Payload []byte
	Created time.Time
}

// Outbox is the store side of the transactional outbox.
type Outbox interface {
	// Pending returns up to limit entries not yet published, oldest first: those created
	// before before, or all when before is zero.
	Pending(ctx context.Context, limit int, before time.Time) ([]Entry, error)
	// Done removes published entries.
	Done(ctx context.Context, ids []int64) error
}

// Relay publishes outbox entries to the bus. Run one per store; running several (processes
// sharing a store) is safe — JetStream drops the duplicates by message id — only wasteful.
//
// Committed entries come to the relay in memory (Handoff, called by the store after each
// commit, payloads built), so nothing is read back in the usual case. The relay reads the
// outbox (Outbox.Pending) instead when it starts (what a crash left), when a hand-off did not
// fit in the queue (QueueBytes of payloads) or was missed, after a failed publish, and every Poll for
// entries older than two Polls that never came by hand-off (another process's). A hand-off
// never blocks ingest and is never dropped unread: a refused one is in the outbox, which the
// relay then reads to its end before taking hand-offs again.
type Relay struct {
	Bus    *Bus
	Outbox Outbox
	Log    *slog.Logger
	// Batch is how many entries one round publishes; Poll how often to look when not woken.
	Batch int
	Poll  time.Duration
	// QueueBytes is how many bytes of handed-off payloads may wait (about 42 bytes per numeric
	// observation, sensing.ObsBatch.AppendBinary).
	QueueBytes int
	// OnPublished, when set, is called with each published entry's commit time (for latency metrics).
	OnPublished func(created time.Time)

	wake      chan struct{}
	published atomic.Int64
	read      atomic.Int64 // entries published after reading them back (ReadBack)

	mu      sync.Mutex
	queue   []Entry
	queued  int                 // bytes of payload in queue
	missed  bool                // a hand-off was refused or missed: read the outbox to its end
	readPub map[int64]time.Time // ids published from a read, perhaps still coming by hand-off
}

// NewRelay returns a relay of outbox entries to b.
func NewRelay(b *Bus, o Outbox, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{Bus: b, Outbox: o, Log: log, Batch: 512, Poll: time.Second, QueueBytes: 16 << 20,
		wake: make(chan struct{}, 1), readPub: map[int64]time.Time{}}
}

// Wake tells the relay there is something to publish (called after each commit); it never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Handoff gives the relay the entries of one committed transaction, in commit order, with
// their payloads. It never blocks: when the queue is full the entries are left to be read
// back from the outbox (and so is every later hand-off until the relay has read it to its end,
// so that a datastream's batches stay in order).
func (r *Relay) Handoff(entries []Entry) {
	n := 0
	for _, e := range entries {
		n += len(e.Payload)
	}
	r.mu.Lock()
	if r.missed || r.queued+n > r.QueueBytes {
		r.missed = true
	} else {
		r.queue = append(r.queue, entries...)
		r.queued += n
	}
	r.mu.Unlock()
	r.Wake()
}

// Missed tells the relay that entries may have committed without a hand-off: it reads the
// outbox to its end before taking hand-offs again.
func (r *Relay) Missed() {
	r.mu.Lock()
	r.missed = true
	r.mu.Unlock()
	r.Wake()
}

// Published counts entries published since start.
func (r *Relay) Published() int64 { return r.published.Load() }

// ReadBack counts entries published after reading them back from the outbox (not handed off).
func (r *Relay) ReadBack() int64 { return r.read.Load() }

// MsgID is the JetStream message id of an outbox entry.
func MsgID(node string, entry int64) string { return node + ":outbox:" + strconv.FormatInt(entry, 10) }

// Run publishes until ctx ends. Failures are retried with back-off: nothing in the outbox is
// lost, it waits.
func (r *Relay) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	reading := true // at start: what the outbox holds (a crash's leftovers)
	fail := func(err error) error {
		r.Log.Warn("relay_failed", "err", err, "retry_in", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 10*time.Second)
		return nil
	}
	poll := time.NewTicker(r.Poll)
	defer poll.Stop()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if reading {
			// hand-offs queued so far are committed, so this read sees them: drop them, and
			// take hand-offs again from now on
			r.mu.Lock()
			clear(r.queue)
			r.queue, r.queued, r.missed = r.queue[:0], 0, false
			r.mu.Unlock()
			n, err := r.round(ctx, time.Time{})
			if err != nil {
				if e := fail(err); e != nil {
					return e
				}
				continue
			}
			backoff = 100 * time.Millisecond
			if n == r.Batch {
				continue // more waiting
			}
			r.mu.Lock()
			reading = r.missed // none refused since the read began: the queue holds the rest
			r.mu.Unlock()
			if reading {
				continue
			}
		}
		if batch := r.take(); len(batch) > 0 {
			if err := r.publish(ctx, batch); err != nil {
				reading = true // what was not acknowledged is in the outbox
				if e := fail(err); e != nil {
					return e
				}
				continue
			}
			backoff = 100 * time.Millisecond
			continue
		}
		r.mu.Lock()
		reading = r.missed
		r.mu.Unlock()
		if reading {
			continue
		}
		select {
		case <-r.wake:
		case <-poll.C:
			// entries that never came by hand-off (another process's), once they are old
			if _, err := r.round(ctx, time.Now().Add(-2*r.Poll)); err != nil {
				reading = true
				if e := fail(err); e != nil {
					return e
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take removes up to Batch entries from the queue, leaving out those a read published.
func (r *Relay) take() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	k := 0
	for k < len(r.queue) && len(out) < r.Batch {
		e := r.queue[k]
		k++
		r.queued -= len(e.Payload)
		if _, ok := r.readPub[e.ID]; ok {
			delete(r.readPub, e.ID)
			continue
		}
		out = append(out, e)
	}
	rest := copy(r.queue, r.queue[k:])
	clear(r.queue[rest:]) // let the payloads go
	r.queue = r.queue[:rest]
	return out
}

// round reads one batch of unpublished entries (created before before, unless zero) from the
// outbox and publishes them.
func (r *Relay) round(ctx context.Context, before time.Time) (int, error) {
	entries, err := r.Outbox.Pending(ctx, r.Batch, before)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	if err := r.publish(ctx, entries); err != nil {
		return 0, err
	}
	now := time.Now()
	r.mu.Lock()
	for id, at := range r.readPub {
		if now.Sub(at) > 2*time.Minute { // past JetStream's duplicate window: not coming any more
			delete(r.readPub, id)
		}
	}
	for _, e := range entries {
		r.readPub[e.ID] = now
	}
	r.mu.Unlock()
	r.read.Add(int64(len(entries)))
	return len(entries), nil
}

// publish publishes entries and marks them done in the outbox once JetStream has stored every
// one (asynchronous publishes, acknowledgements awaited together).
func (r *Relay) publish(ctx context.Context, entries []Entry) error {
	node := r.Bus.Node()
	acks := make([]jetstream.PubAckFuture, len(entries))
	for i, e := range entries {
		var f jetstream.PubAckFuture
		var err error
		switch e.Kind {
		case "obs":
			f, err = r.Bus.PublishObsAsync(e.Key, MsgID(node, e.ID), e.Payload)
		case "mobs":
			f, err = r.Bus.PublishMultiObsAsync(e.Key, MsgID(node, e.ID), e.Payload)
		default:
			return errors.New("relay: unknown outbox kind " + strconv.Quote(e.Kind))
		}
		if err != nil {
			return err
		}
		acks[i] = f
	}
	ids := make([]int64, 0, len(entries))
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i, f := range acks {
		var err error
		select {
		case <-f.Ok():
		case err = <-f.Err():
		case <-ctx.Done():
			err = ctx.Err()
		case <-timeout.C:
			err = errors.New("relay: no ack from JetStream within 30s")
		}
		if err != nil {
			// what was acked is published; the rest is retried (and de-duplicated)
			if len(ids) > 0 {
				r.Outbox.Done(ctx, ids)
			}
			return err
		}
		ids = append(ids, entries[i].ID)
		if r.OnPublished != nil {
			r.OnPublished(entries[i].Created)
		}
	}
	if err := r.Outbox.Done(ctx, ids); err != nil {
		return err
	}
	r.published.Add(int64(len(ids)))
	return nil
}
