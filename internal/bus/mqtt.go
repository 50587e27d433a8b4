package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NATS's MQTT bridge stores every QoS 1 and 2 message a client publishes in the JetStream
// stream $MQTT_msgs (subject "$MQTT.msgs.<subject>") before it sends the PUBACK, and marks each
// message with the header Nmqtt-Pub holding the QoS. ConsumeMQTT reads that stream with a
// durable consumer and acknowledges a message only after the handler has stored it, so an
// observation a logger was told was received survives a crash of the node.
const (
	mqttStream       = "$MQTT_msgs"
	mqttStreamPrefix = "$MQTT.msgs."
	mqttQoSHeader    = "Nmqtt-Pub"
)

// ConsumeMQTT hands fn the QoS 1 and 2 messages published by MQTT clients to topics matching
// one of the filters, in batches (up to 500 messages, or whatever arrived within 5 ms), durably.
// fn answers per message: a nil error (or a nil slice) acknowledges it, an error makes that
// message alone come again after a back-off (1 s, doubling to 30 s), with Delivered counting
// the attempts; the other messages of the batch are acknowledged and do not wait for it. fn
// decides what is an error: a malformed or refused message should be counted and passed over,
// and one that keeps failing given up at some point, or it would come back forever. It runs
// until ctx ends.
func (b *Bus) ConsumeMQTT(ctx context.Context, name string, filters []string, fn func(context.Context, []Message) []error) error {
	// The bridge creates its stream when the first MQTT client connects; create it first, with
	// the bridge's own configuration, so that no message of the first client goes by unseen
	// (the stream keeps messages only while a consumer is interested).
	var st jetstream.Stream
	var err error
	// a cluster that has just started may still lack the peers the stream's replicas need
	// ("no suitable peers for placement"), as Open waits for its own streams
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, err = b.js.Stream(ctx, mqttStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			st, err = b.js.CreateStream(ctx, jetstream.StreamConfig{Name: mqttStream, Subjects: []string{mqttStreamPrefix + ">"},
				Storage: jetstream.FileStorage, Retention: jetstream.InterestPolicy, Replicas: b.opts.Replicas})
		}
		if err == nil || b.opts.URL == "" || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		b.log.Info("bus_waiting_for_jetstream", "stream", mqttStream, "err", err.Error())
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("bus: MQTT message stream: %w", err)
	}
	var subjects []string
	for _, f := range filters {
		s, err := MQTTSubject(f)
		if err != nil {
			return err
		}
		subjects = append(subjects, mqttStreamPrefix+s)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubjects: subjects, MaxAckPending: 5000,
	})
	if err != nil {
		return fmt.Errorf("bus: MQTT consumer %s: %w", name, err)
	}
	go func() {
		backoff := time.Second
		for ctx.Err() == nil {
			batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Millisecond))
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			var msgs []jetstream.Msg
			for m := range batch.Messages() {
				msgs = append(msgs, m)
			}
			if len(msgs) == 0 {
				continue
			}
			out := make([]Message, len(msgs))
			for i, m := range msgs {
				out[i] = Message{Topic: MQTTTopic(strings.TrimPrefix(m.Subject(), mqttStreamPrefix)), Data: m.Data(), Delivered: 1}
				if md, err := m.Metadata(); err == nil {
					out[i].Delivered = md.NumDelivered
				}
			}
			errs := fn(ctx, out)
			failed := 0
			for i, m := range msgs {
				if i < len(errs) && errs[i] != nil {
					if failed == 0 {
						b.log.Warn("mqtt_consumer_failed", "topic", out[i].Topic, "delivered", out[i].Delivered, "err", errs[i], "retry_in", backoff.String())
					}
					failed++
					m.NakWithDelay(backoff)
					continue
				}
				m.Ack()
			}
			if failed > 0 {
				backoff = min(backoff*2, 30*time.Second)
			} else {
				backoff = time.Second
			}
		}
	}()
	return nil
}
