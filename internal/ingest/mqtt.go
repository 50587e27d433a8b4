package ingest

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Message is one message an MQTT client published: its topic and payload.
type Message struct {
	Topic string
	Data  []byte
}

// MQTT takes what MQTT clients publish: a logger's observation on rabta/<node>/ingest/<datastream>
// goes through the Service; a message on any other topic (a SensorThings create on
// v1.1/Datastreams(<id>)/Observations) goes to Create. Nothing here knows the transport: the
// bus hands messages in, at most once (Take) or durably in batches (TakeBatch).
type MQTT struct {
	Ingest *Service
	// Decode decodes a logger's payload: a SensorThings observation, or a bare number meaning
	// "this value, now" (sensorthings.DecodeIngestMessage).
	Decode func(payload []byte, now time.Time) (sensing.Observation, error)
	// Create handles a message on a topic other than the ingest topic.
	Create func(ctx context.Context, topic string, payload []byte) error
	Now    func() time.Time
	Log    *slog.Logger
}

// IngestTopic reports whether topic is a logger's ingest topic (rabta/<node>/ingest/<datastream>).
func IngestTopic(topic string) bool { return strings.Contains(topic, "/ingest/") }

// DecodeMQTT decodes a logger's message on rabta/<node>/ingest/<datastream>: the datastream from
// the topic's last level, the observation from the payload with decode.
func DecodeMQTT(m Message, now time.Time, decode func([]byte, time.Time) (sensing.Observation, error)) (sensing.Observation, error) {
	i := strings.LastIndexByte(m.Topic, '/')
	ds, err := strconv.ParseInt(m.Topic[i+1:], 10, 64)
	if err != nil || ds <= 0 {
		return sensing.Observation{}, apperr.E(apperr.Invalid, "topic %q: the last level must be a datastream id", m.Topic)
	}
	o, err := decode(m.Data, now)
	o.DatastreamID = ds
	return o, err
}

func (q *MQTT) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

func (q *MQTT) log() *slog.Logger {
	if q.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return q.Log
}

// Take handles one message delivered at most once (MQTT QoS 0, core NATS). A refused message is
// counted and logged; nothing is returned, as there is no one to tell.
func (q *MQTT) Take(ctx context.Context, m Message) {
	if !IngestTopic(m.Topic) {
		q.refused(q.Create(ctx, m.Topic, m.Data), "mqtt_create_rejected", m.Topic)
		return
	}
	q.refused(q.take(ctx, m), "mqtt_observation_rejected", m.Topic)
}

// refused logs err, if any, once: a message's own mistake as what was wrong with it; a failure
// of ours (the store, a bug) as an error with its whole cause.
func (q *MQTT) refused(err error, msg, topic string) {
	switch k := apperr.KindOf(err); {
	case err == nil:
	case k == apperr.Internal || k == apperr.Unavailable:
		q.log().Error(msg, "topic", topic, "err", err)
	default:
		q.log().Info(msg, "topic", topic, "reason", apperr.Message(err))
	}
}

func (q *MQTT) take(ctx context.Context, m Message) error {
	o, err := DecodeMQTT(m, q.now(), q.Decode)
	if err != nil {
		q.Ingest.Reject("mqtt", err)
		return err
	}
	_, errs, err := q.Ingest.Ingest(ctx, "mqtt", []sensing.Observation{o})
	if err != nil {
		return err
	}
	return errs[0]
}

// TakeBatch stores a batch of durable messages (MQTT QoS 1 and 2): logger observations together
// in one transaction (a message delivered again after a crash is recognised and left out),
// creates one by one. Refused messages are counted and logged; only a store failure is an
// error, and makes the batch come again.
func (q *MQTT) TakeBatch(ctx context.Context, msgs []Message) error {
	var obs []sensing.Observation
	var topics []string
	now := q.now()
	for _, m := range msgs {
		if !IngestTopic(m.Topic) {
			if err := q.Create(ctx, m.Topic, m.Data); err != nil {
				if k := apperr.KindOf(err); k == apperr.Internal || k == apperr.Unavailable {
					return err
				}
				q.log().Info("mqtt_create_rejected", "topic", m.Topic, "reason", apperr.Message(err))
			}
			continue
		}
		o, err := DecodeMQTT(m, now, q.Decode)
		if err != nil {
			q.Ingest.Reject("mqtt", err)
			q.refused(err, "mqtt_observation_rejected", m.Topic)
			continue
		}
		obs = append(obs, o)
		topics = append(topics, m.Topic)
	}
	if len(obs) == 0 {
		return nil
	}
	_, errs, err := q.Ingest.IngestAgain(ctx, "mqtt", obs)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil && !Duplicate(e) {
			q.refused(e, "mqtt_observation_rejected", topics[i])
		}
	}
	return nil
}
