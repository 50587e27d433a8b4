package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rabta/rabta/internal/sensing"
)

// Delivery is one message of the OBS stream handed to a consumer.
type Delivery struct {
	// Datastream is the datastream of the observations, from the subject: a consumer may pass
	// over a message without decoding it. For a MultiDatastream's observations it is 0 and
	// MultiDatastream is set.
	Datastream      int64
	MultiDatastream int64
	Subject         string
	Data            []byte
	// MsgID is the outbox message id (node:outbox:<n>): the same for a re-published entry.
	MsgID string
	// Seq is the stream sequence; NumDelivered counts deliveries of this message (>1 after a
	// crash or a failed handler).
	Seq          uint64
	NumDelivered uint64
	Published    time.Time
	// sized: delivered headers only (consume's headersOnly), its payload left on the server
	sized bool
}

// Handler handles one delivery; it must be idempotent (the same message may come again after
// a crash). An error makes the message come again after a delay.
type Handler func(ctx context.Context, d Delivery) error

// Consumer is a running durable consumer.
type Consumer struct {
	cons jetstream.Consumer
	cc   jetstream.ConsumeContext

	// mu is held for reading while a message is handled; Stop takes it for writing, so that
	// it returns only when no handler runs (the node then saves what the handlers changed)
	mu      sync.RWMutex
	stopped bool
}

// Consume starts the durable consumer name on the node's OBS stream and calls fn for each
// message, in order, one at a time. A new consumer starts from the first message still in the
// stream, or, with fromNew, from the next message published. It returns once consuming has
// started; Stop ends it.
func (b *Bus) Consume(ctx context.Context, name string, fromNew bool, fn Handler) (*Consumer, error) {
	return b.consume(ctx, name, fromNew, false, fn)
}

// consume is Consume; with headersOnly the server delivers each message without its payload
// (JetStream's HeadersOnly: the subject, the headers and Nats-Msg-Size), and Delivery.Data is
// empty unless the message came with its payload (one delivered before the consumer was
// switched): the handler fetches the payloads it needs (consumeObs). A consumer of an older
// node switches either way on its next start (HeadersOnly is a field JetStream updates).
func (b *Bus) consume(ctx context.Context, name string, fromNew, headersOnly bool, fn Handler) (*Consumer, error) {
	policy := jetstream.DeliverAllPolicy
	if fromNew {
		policy = jetstream.DeliverNewPolicy
	}
	cons, err := b.obs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 1, // in order, one at a time: rules see a datastream's batches in sequence
		DeliverPolicy: policy,
		FilterSubject: obsSubjects(b.opts.Node),
		HeadersOnly:   headersOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", name, err)
	}
	c := &Consumer{cons: cons}
	c.cc, err = cons.Consume(func(m jetstream.Msg) {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.stopped {
			return // not acknowledged: delivered again after a restart
		}
		md, err := m.Metadata()
		if err != nil {
			m.Term()
			return
		}
		var ds, multi int64
		if last := m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]; strings.HasPrefix(last, "m") {
			multi, _ = strconv.ParseInt(last[1:], 10, 64)
		} else {
			ds, _ = strconv.ParseInt(last, 10, 64)
		}
		h := m.Headers()
		d := Delivery{Datastream: ds, MultiDatastream: multi, Subject: m.Subject(), Data: m.Data(), MsgID: h.Get(jetstream.MsgIDHeader),
			Seq: md.Sequence.Stream, NumDelivered: md.NumDelivered, Published: md.Timestamp, sized: h.Get(nats.MsgSize) != ""}
		if err := fn(ctx, d); err != nil {
			b.log.Warn("consumer_failed", "consumer", name, "seq", d.Seq, "err", err)
			m.NakWithDelay(min(time.Duration(md.NumDelivered)*time.Second, 30*time.Second))
			return
		}
		m.Ack()
	}, jetstream.PullMaxMessages(256))
	if err != nil {
		return nil, fmt.Errorf("bus: consume %s: %w", name, err)
	}
	return c, nil
}

// ObsHandler handles one decoded batch of accepted observations; like Handler, it must be
// idempotent, and an error makes the batch come again.
type ObsHandler func(ctx context.Context, b *sensing.ObsBatch) error

// ConsumeObs is Consume for consumers of accepted observations: it passes over, without
// decoding, messages of datastreams for which want (when not nil) is false (want is asked
// with 0 for a MultiDatastream's batch: Delivery.Datastream), decodes the rest
// and hands them to fn. A message that cannot be decoded is logged and acknowledged: no one can
// read it, so it is not retried forever.
func (b *Bus) ConsumeObs(ctx context.Context, name string, fromNew bool, want func(datastream int64) bool, fn ObsHandler) (*Consumer, error) {
	return b.consumeObs(ctx, name, fromNew, want, fn, sensing.DecodeObsBatch)
}

// ConsumeObsValues is ConsumeObs for consumers that read only each batch's header and each
// observation's id, start, end, flag and numeric result (sensing.DecodeObsValues): the text
// fields of the compact payload are left undecoded.
func (b *Bus) ConsumeObsValues(ctx context.Context, name string, fromNew bool, want func(datastream int64) bool, fn ObsHandler) (*Consumer, error) {
	return b.consumeObs(ctx, name, fromNew, want, fn, sensing.DecodeObsValues)
}

// consumeObs runs ConsumeObs and ConsumeObsValues. With want set, the consumer takes
// messages without their payloads (headers only): most messages are passed over (no rule,
// forecast network, open data or subscriber reads their datastream), and then the server
// does not copy their ~42 kB to this consumer, nor does the client allocate them; a wanted
// message's payload is fetched from the stream by its sequence. (Before, each message went in
// full to each of the node's consumers: for four that wanted none of it, about 170 bytes per
// observation copied and allocated.)
func (b *Bus) consumeObs(ctx context.Context, name string, fromNew bool, want func(datastream int64) bool, fn ObsHandler,
	decode func([]byte) (*sensing.ObsBatch, error)) (*Consumer, error) {
	return b.consume(ctx, name, fromNew, want != nil, func(ctx context.Context, d Delivery) error {
		if want != nil && !want(d.Datastream) {
			return nil
		}
		data := d.Data
		if len(data) == 0 && d.sized {
			m, err := b.obs.GetMsg(ctx, d.Seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) { // gone since (MaxAge): nothing left to handle
				b.log.Warn("bus_message_gone", "consumer", name, "seq", d.Seq)
				return nil
			}
			if err != nil {
				return fmt.Errorf("bus: message %d of the OBS stream: %w", d.Seq, err) // comes again
			}
			data = m.Data
		}
		batch, err := decode(data)
		if err != nil {
			b.log.Warn("bad_bus_message", "consumer", name, "subject", d.Subject, "err", err)
			return nil
		}
		return fn(ctx, batch)
	})
}

// Stop stops consuming and waits until no handler runs any more (messages not acknowledged
// are delivered again later).
func (c *Consumer) Stop() {
	c.cc.Stop()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
}

// Lag returns how many messages wait for the consumer: not yet delivered plus delivered and
// not yet acknowledged.
func (c *Consumer) Lag(ctx context.Context) (uint64, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// StreamStats are the OBS stream's size.
type StreamStats struct {
	Messages, Bytes uint64
}

// Stats returns the OBS stream's size.
func (b *Bus) Stats(ctx context.Context) (StreamStats, error) {
	info, err := b.obs.Info(ctx)
	if err != nil {
		return StreamStats{}, err
	}
	return StreamStats{Messages: info.State.Msgs, Bytes: info.State.Bytes}, nil
}
