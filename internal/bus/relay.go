package bus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
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
	// Pending returns up to limit entries not yet published, oldest first.
	Pending(ctx context.Context, limit int) ([]Entry, error)
	// Done removes published entries.
	Done(ctx context.Context, ids []int64) error
}

// Relay publishes outbox entries to the bus. Run one per store; running several (processes
// sharing a store) is safe — JetStream drops the duplicates by message id — only wasteful.
type Relay struct {
	Bus    *Bus
	Outbox Outbox
	Log    *slog.Logger
	// Batch is how many entries one round publishes; Poll how often to look when not woken.
	Batch int
	Poll  time.Duration
	// OnPublished, when set, is called with each published entry's commit time (for latency metrics).
	OnPublished func(created time.Time)

	wake      chan struct{}
	published atomic.Int64
}

// NewRelay returns a relay of outbox entries to b.
func NewRelay(b *Bus, o Outbox, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{Bus: b, Outbox: o, Log: log, Batch: 512, Poll: time.Second, wake: make(chan struct{}, 1)}
}

// Wake tells the relay there is something to publish (called after each commit); it never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Published counts entries published since start.
func (r *Relay) Published() int64 { return r.published.Load() }

// MsgID is the JetStream message id of an outbox entry.
func MsgID(node string, entry int64) string { return node + ":outbox:" + strconv.FormatInt(entry, 10) }

// Run publishes until ctx ends. Failures are retried with back-off: nothing in the outbox is
// lost, it waits.
func (r *Relay) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		n, err := r.round(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.Log.Warn("relay_failed", "err", err, "retry_in", backoff.String())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if n == r.Batch {
			continue // more waiting
		}
		select {
		case <-r.wake:
		case <-time.After(r.Poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// round publishes one batch of entries and removes them from the outbox once JetStream has
// stored every one.
func (r *Relay) round(ctx context.Context) (int, error) {
	entries, err := r.Outbox.Pending(ctx, r.Batch)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	node := r.Bus.Node()
	acks := make([]func() error, len(entries))
	for i, e := range entries {
		var f jetstream.PubAckFuture
		var err error
		switch e.Kind {
		case "obs":
			f, err = r.Bus.PublishObsAsync(e.Key, MsgID(node, e.ID), e.Payload)
		case "mobs":
			f, err = r.Bus.PublishMultiObsAsync(e.Key, MsgID(node, e.ID), e.Payload)
		default:
			return 0, errors.New("relay: unknown outbox kind " + strconv.Quote(e.Kind))
		}
		if err != nil {
			return 0, err
		}
		acks[i] = func() error {
			select {
			case <-f.Ok():
				return nil
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				return errors.New("relay: no ack from JetStream within 30s")
			}
		}
	}
	ids := make([]int64, 0, len(entries))
	for i, wait := range acks {
		if err := wait(); err != nil {
			// what was acked is published; the rest is retried (and de-duplicated)
			if len(ids) > 0 {
				r.Outbox.Done(ctx, ids)
			}
			return 0, err
		}
		ids = append(ids, entries[i].ID)
		if r.OnPublished != nil {
			r.OnPublished(entries[i].Created)
		}
	}
	if err := r.Outbox.Done(ctx, ids); err != nil {
		return 0, err
	}
	r.published.Add(int64(len(ids)))
	return len(entries), nil
}
