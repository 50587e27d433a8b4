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

// Message is one message an MQTT client published: its topic and payload, and for a durable
// message how many times it has been delivered (1 the first time; 0 when not durable).
type Message struct {
	Topic     string
	Data      []byte
	Delivered uint64
}

// MaxAttempts is how many deliveries of a durable message TakeBatch tries when storing it fails
// for a reason of ours other than the store being unavailable (a fault, not the message's and
// not a passing one); then the message is given up: counted as rejected and logged as an error
// with its cause, so that it cannot hold a place in the queue forever. While the store is
// unavailable messages wait for it, however long.
const MaxAttempts = 10

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
	// Observation, when set, decodes a message on a topic other than the ingest topic that
	// creates one Observation linking existing entities only (ok; err says what is wrong with
	// the message). TakeBatch stores those with the loggers' observations, in one transaction
	// and exactly once; the rest (ok false, err nil: a deep insert) go to Create.
	Observation func(topic string, payload []byte) (o sensing.Observation, ok bool, err error)
	Now         func() time.Time
	Log         *slog.Logger
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

// TakeBatch stores a batch of durable messages (MQTT QoS 1 and 2) and answers per message:
// nil when it is done with it (stored, or refused: counted and logged), an error when it should
// come again. Observations — a logger's on the ingest topic, and SensorThings creates that link
// existing entities only — are stored together in one transaction, each checked on its own (a
// Datastream or FeatureOfInterest that does not exist refuses that message alone), and a
// message delivered again (after a crash, or a failed attempt) is recognised and left out, so
// each is stored exactly once. Other creates (deep inserts) go one by one. Only a failure of
// ours asks for a message again; one that is not the store being unavailable is given up after
// MaxAttempts deliveries.
func (q *MQTT) TakeBatch(ctx context.Context, msgs []Message) []error {
	out := make([]error, len(msgs))
	var obs []sensing.Observation
	var at []int // the message of each of obs
	now := q.now()
	for i, m := range msgs {
		if !IngestTopic(m.Topic) {
			if q.Observation != nil {
				o, ok, err := q.Observation(m.Topic, m.Data)
				if err != nil {
					q.Ingest.Reject("mqtt", err)
					q.refused(err, "mqtt_create_rejected", m.Topic)
					continue
				}
				if ok {
					obs, at = append(obs, o), append(at, i)
					continue
				}
			}
			if err := q.Create(ctx, m.Topic, m.Data); err != nil {
				if k := apperr.KindOf(err); k == apperr.Internal || k == apperr.Unavailable {
					out[i] = q.again(m, err)
					continue
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
		obs, at = append(obs, o), append(at, i)
	}
	if len(obs) == 0 {
		return out
	}
	_, errs, err := q.Ingest.IngestAgain(ctx, "mqtt", obs)
	if err != nil {
		for _, i := range at {
			out[i] = q.again(msgs[i], err)
		}
		return out
	}
	for j, e := range errs {
		if e != nil && !Duplicate(e) {
			q.refused(e, "mqtt_observation_rejected", msgs[at[j]].Topic)
		}
	}
	return out
}

// again returns err, asking for m once more, unless m has been tried MaxAttempts times for a
// reason other than the store being unavailable: then it is given up, counted and logged.
func (q *MQTT) again(m Message, err error) error {
	if apperr.KindOf(err) == apperr.Unavailable || m.Delivered < MaxAttempts {
		return err
	}
	q.Ingest.Reject("mqtt", err)
	q.log().Error("mqtt_message_given_up", "topic", m.Topic, "attempts", m.Delivered, "err", err)
	return nil
}
