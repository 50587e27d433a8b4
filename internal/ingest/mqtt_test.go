package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// number decodes a bare JSON number (what sensorthings.DecodeIngestMessage does with one).
func number(b []byte, now time.Time) (sensing.Observation, error) {
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return sensing.Observation{}, apperr.E(apperr.Invalid, "not a number")
	}
	return sensing.Observation{PhenStart: now, PhenEnd: now, ResultNum: &v}, nil
}

type memStore struct{ got []sensing.Observation }

func (m *memStore) Ingest(_ context.Context, obs []sensing.Observation) ([]int64, []error, error) {
	return m.IngestNew(context.Background(), obs)
}

func (m *memStore) IngestNew(_ context.Context, obs []sensing.Observation) ([]int64, []error, error) {
	ids, errs := make([]int64, len(obs)), make([]error, len(obs))
	for i, o := range obs {
		if o.DatastreamID == 9 {
			errs[i] = apperr.E(apperr.NotFound, "no datastream 9")
			continue
		}
		m.got = append(m.got, o)
		ids[i] = int64(len(m.got))
	}
	return ids, errs, nil
}

func TestDecodeMQTT(t *testing.T) {
	now := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		topic, data string
		ds          int64
		err         string
	}{
		{"rabta/local/ingest/12", "3.5", 12, ""},
		{"rabta/local/ingest/x", "3.5", 0, "datastream id"},
		{"rabta/local/ingest/0", "3.5", 0, "datastream id"},
		{"rabta/local/ingest/3", "{", 3, "not a number"},
	} {
		o, err := DecodeMQTT(Message{Topic: c.topic, Data: []byte(c.data)}, now, number)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %s: err %v, want %q", c.topic, c.data, err, c.err)
			}
			continue
		}
		if err != nil || o.DatastreamID != c.ds || !o.PhenEnd.Equal(now) {
			t.Errorf("%s %s: %+v %v", c.topic, c.data, o, err)
		}
	}
}

// A durable batch: logger observations and creates that link existing entities stored together,
// deep-insert creates handed on one by one, a malformed or refused message counted and passed
// over; a failure of ours asks for that message alone again — until MaxAttempts, unless the
// store is unavailable.
func TestTakeBatch(t *testing.T) {
	st := &memStore{}
	svc := &Service{Store: st}
	var created []string
	var createErr error
	q := &MQTT{Ingest: svc, Decode: number,
		Create: func(_ context.Context, topic string, _ []byte) error {
			created = append(created, topic)
			if strings.Contains(topic, "(7)") {
				return apperr.E(apperr.Invalid, "bad create")
			}
			return createErr
		},
		Observation: func(topic string, data []byte) (sensing.Observation, bool, error) {
			switch {
			case strings.Contains(string(data), "deep"):
				return sensing.Observation{}, false, nil
			case strings.Contains(string(data), "bad"):
				return sensing.Observation{}, false, apperr.E(apperr.Invalid, "bad message")
			}
			o, err := number(data, time.Now())
			o.DatastreamID = 1
			if strings.Contains(topic, "(9)") {
				o.DatastreamID = 9
			}
			return o, true, err
		}}
	msgs := []Message{
		{Topic: "rabta/local/ingest/1", Data: []byte("1")},
		{Topic: "v1.1/Datastreams(1)/Observations", Data: []byte(`5`)},
		{Topic: "rabta/local/ingest/1", Data: []byte("nope")},
		{Topic: "v1.1/Datastreams(7)/Observations", Data: []byte(`deep`)},
		{Topic: "v1.1/Datastreams(9)/Observations", Data: []byte(`6`)},
		{Topic: "v1.1/Datastreams(1)/Observations", Data: []byte(`bad`)},
		{Topic: "v1.1/Datastreams(2)/Observations", Data: []byte(`deep`)},
		{Topic: "rabta/local/ingest/9", Data: []byte("2")},
		{Topic: "rabta/local/ingest/2", Data: []byte("3")},
	}
	if errs := q.TakeBatch(context.Background(), msgs); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	if len(st.got) != 3 || len(created) != 2 {
		t.Errorf("stored %d, created %v", len(st.got), created)
	}
	if svc.Accepted.Load() != 3 || svc.Rejected.Load() != 4 {
		t.Errorf("accepted %d rejected %d, want 3 and 4", svc.Accepted.Load(), svc.Rejected.Load())
	}
	// a create failing for a reason of ours comes again alone; the others are done
	createErr = apperr.E(apperr.Internal, "a fault")
	batch := []Message{{Topic: "rabta/local/ingest/1", Data: []byte("1")}, {Topic: "v1.1/Datastreams(2)/Observations", Data: []byte("deep"), Delivered: 1}}
	errs := q.TakeBatch(context.Background(), batch)
	if len(errs) != 2 || errs[0] != nil || apperr.KindOf(errs[1]) != apperr.Internal {
		t.Errorf("a failing create: %v, want it alone to come again", errs)
	}
	// ... until its last attempt: then it is given up and counted
	rejected := svc.Rejected.Load()
	batch[1].Delivered = MaxAttempts
	if errs := q.TakeBatch(context.Background(), batch[1:]); errs[0] != nil || svc.Rejected.Load() != rejected+1 {
		t.Errorf("attempt %d: %v, rejected %d (was %d), want given up and counted", MaxAttempts, errs, svc.Rejected.Load(), rejected)
	}
	// a store that is down: messages wait for it, however often they came
	createErr = apperr.E(apperr.Unavailable, "store down")
	if errs := q.TakeBatch(context.Background(), batch[1:]); apperr.KindOf(errs[0]) != apperr.Unavailable {
		t.Errorf("a store failure on create is not retried: %v", errs)
	}
	q2 := &MQTT{Ingest: &Service{Store: downStore{}}, Decode: number}
	down := []Message{{Topic: "rabta/local/ingest/1", Data: []byte("1"), Delivered: 50}, {Topic: "rabta/local/ingest/1", Data: []byte("x")}}
	if errs := q2.TakeBatch(context.Background(), down); errs[0] == nil || errs[1] != nil {
		t.Errorf("store down: %v, want the observation again, the malformed one done", errs)
	}
}

type downStore struct{}

func (downStore) Ingest(context.Context, []sensing.Observation) ([]int64, []error, error) {
	return nil, nil, apperr.Wrap(apperr.Unavailable, errors.New("dial tcp 127.0.0.1:5432: connection refused"), "the store is unavailable")
}

func (d downStore) IngestNew(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error) {
	return d.Ingest(ctx, obs)
}

// Take logs a message's own mistake as what was wrong with it, at info, and a failure of ours
// as an error with its whole cause, once.
func TestTakeLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	q := &MQTT{Ingest: &Service{Store: downStore{}}, Decode: number, Log: log}
	q.Take(context.Background(), Message{Topic: "rabta/local/ingest/1", Data: []byte("nope")})
	q.Take(context.Background(), Message{Topic: "rabta/local/ingest/1", Data: []byte("1")})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], "not a number") ||
		!strings.Contains(lines[1], `"level":"ERROR"`) || !strings.Contains(lines[1], "connection refused") {
		t.Errorf("log:\n%s", buf.String())
	}
}
