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
		o, err := DecodeMQTT(Message{c.topic, []byte(c.data)}, now, number)
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

// A durable batch: logger observations stored together, creates handed on one by one, a
// malformed or refused message counted and passed over, a store failure returned.
func TestTakeBatch(t *testing.T) {
	st := &memStore{}
	svc := &Service{Store: st}
	var created []string
	q := &MQTT{Ingest: svc, Decode: number, Create: func(_ context.Context, topic string, _ []byte) error {
		created = append(created, topic)
		if strings.Contains(topic, "(7)") {
			return apperr.E(apperr.Invalid, "bad create")
		}
		return nil
	}}
	err := q.TakeBatch(context.Background(), []Message{
		{"rabta/local/ingest/1", []byte("1")},
		{"v1.1/Datastreams(1)/Observations", []byte(`{"result":1}`)},
		{"rabta/local/ingest/1", []byte("nope")},
		{"v1.1/Datastreams(7)/Observations", []byte(`{"result":1}`)},
		{"rabta/local/ingest/9", []byte("2")},
		{"rabta/local/ingest/2", []byte("3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.got) != 2 || len(created) != 2 {
		t.Errorf("stored %d, created %v", len(st.got), created)
	}
	if svc.Accepted.Load() != 2 || svc.Rejected.Load() != 2 {
		t.Errorf("accepted %d rejected %d", svc.Accepted.Load(), svc.Rejected.Load())
	}
	q.Create = func(context.Context, string, []byte) error { return apperr.E(apperr.Unavailable, "store down") }
	if err := q.TakeBatch(context.Background(), []Message{{"v1.1/Observations", nil}}); apperr.KindOf(err) != apperr.Unavailable {
		t.Errorf("a store failure on create is not retried: %v", err)
	}
}

type downStore struct{}

func (downStore) Ingest(context.Context, []sensing.Observation) ([]int64, []error, error) {
	return nil, nil, errors.New("dial tcp 127.0.0.1:5432: connection refused")
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
	q.Take(context.Background(), Message{"rabta/local/ingest/1", []byte("nope")})
	q.Take(context.Background(), Message{"rabta/local/ingest/1", []byte("1")})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], "not a number") ||
		!strings.Contains(lines[1], `"level":"ERROR"`) || !strings.Contains(lines[1], "connection refused") {
		t.Errorf("log:\n%s", buf.String())
	}
}
