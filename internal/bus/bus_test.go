package bus

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

func TestMQTTSubject(t *testing.T) {
	for _, c := range []struct{ topic, subject, err string }{
		{"v1.1/Datastreams(1)/Observations", "v1//1.Datastreams(1).Observations", ""},
		{"v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime", "v1//1.Datastreams(1).Observations?$select=result,phenomenonTime", ""},
		{"rabta/islamabad/ingest/+", "rabta.islamabad.ingest.*", ""},
		{"v1.1/#", "v1//1.>", ""},
		{"/leading", "", "empty level"},
		{"a//b", "", "empty level"},
		{"a b", "", "no spaces"},
		{"", "", "empty"},
	} {
		got, err := MQTTSubject(c.topic)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.topic, err, c.err)
			}
			continue
		}
		if err != nil || got != c.subject {
			t.Errorf("%q: %q %v, want %q", c.topic, got, err, c.subject)
		}
		if !strings.ContainsAny(c.topic, "+#") {
			if back := MQTTTopic(got); back != c.topic {
				t.Errorf("%q: back to %q", c.topic, back)
			}
		}
	}
}

type keyAuth map[string]auth.Role

func (k keyAuth) Authenticate(_ context.Context, key string) (*auth.Principal, error) {
	if r, ok := k[key]; ok {
		return &auth.Principal{KeyID: 1, Role: r}, nil
	}
	return nil, context.Canceled
}

// The outbox path end to end on real parts: a SQLite store writes outbox entries with each
// batch, the relay publishes them to an embedded JetStream, a durable consumer receives each
// batch; the outbox is empty afterwards; publishing the same entries again (a relay that crashed
// before deleting them) delivers nothing new.
func TestRelayToDurableConsumer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	b, err := Open(ctx, Options{Node: "test", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ents := sqlite.NewEntities(db, &ingest.QC{})
	ents.Outbox, ents.Node = true, "test"
	if _, err := ents.Create(ctx, &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"},
		Links: map[string][]*sensing.Entity{
			"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}},
			"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "d", "description": "d", "observationType": "x", "unitOfMeasurement": []byte(`{}`)},
				Links: map[string][]*sensing.Entity{
					"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
					"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "o", "definition": "d", "description": "d"}}},
				}}},
		}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[int64]int{}
	cons, err := b.Consume(ctx, "test", false, func(_ context.Context, d Delivery) error {
		batch, err := sensing.DecodeObsBatch(d.Data)
		if err != nil {
			return err
		}
		mu.Lock()
		for _, o := range batch.Obs {
			got[o.ID]++
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	// store three batches, then publish the outbox twice over, as a relay that crashed would
	for i := range 3 {
		var obs []sensing.Observation
		for j := range 10 {
			v := float64(j)
			ts := time.Date(2025, 8, 27, i, j, 0, 0, time.UTC)
			obs = append(obs, sensing.Observation{DatastreamID: 1, PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultNum: &v})
		}
		if _, errs, err := ents.Ingest(ctx, obs); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	pending, err := ents.OutboxPending(ctx, 100)
	if err != nil || len(pending) != 3 {
		t.Fatalf("outbox: %d entries, %v", len(pending), err)
	}
	for _, e := range pending { // the first, "crashed" publication
		if err := b.PublishObs(ctx, e.Key, MsgID("test", e.ID), e.Payload); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRelay(b, adapter{ents}, nil)
	n, err := r.round(ctx, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("relay round: %d %v", n, err)
	}
	if left, _, _ := ents.OutboxBacklog(ctx); left != 0 {
		t.Errorf("outbox has %d entries left", left)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 30 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 30 {
		t.Fatalf("consumer got %d observations, want 30", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("observation %d delivered %d times: JetStream should have dropped the re-published message", id, n)
		}
	}
	st, _ := b.Stats(ctx)
	if st.Messages != 3 {
		t.Errorf("stream holds %d messages, want 3", st.Messages)
	}
}

type adapter struct{ s *sqlq.Entities }

func (a adapter) Pending(ctx context.Context, limit int, before time.Time) ([]Entry, error) {
	rows, err := a.s.OutboxPendingBefore(ctx, limit, before)
	var out []Entry
	for _, r := range rows {
		out = append(out, Entry{ID: r.ID, Kind: r.Kind, Key: r.Key, Payload: r.Payload, Created: r.Created})
	}
	return out, err
}
func (a adapter) Done(ctx context.Context, ids []int64) error { return a.s.OutboxDone(ctx, ids) }

// MQTT clients authenticate with an API key as the password; the role decides what they may
// publish. Checked with Debian's mosquitto clients against the embedded server.
func TestMQTTAuthByKey(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not found: install mosquitto-clients (scripts/test.sh does)")
	}
	ctx := context.Background()
	keys := keyAuth{"viewer-key-000000000000000": auth.Viewer, "operator-key-0000000000000": auth.Operator}
	b, err := Open(ctx, Options{Node: "n1", DataDir: t.TempDir(), MQTTAddr: "127.0.0.1:0", Auth: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var got, durable []string
	if err := b.SubscribeTopics("rabta/n1/ingest/+", func(m Message) {
		mu.Lock()
		got = append(got, m.Topic+" "+string(m.Data))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.ConsumeMQTT(cctx, "test", []string{"rabta/n1/ingest/+"}, func(_ context.Context, ms []Message) []error {
		mu.Lock()
		for _, m := range ms {
			durable = append(durable, m.Topic+" "+string(m.Data))
		}
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(b.MQTTAddr())
	pubQ := func(q, key, topic, msg string) error {
		return exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", "x", "-P", key, "-q", q, "-t", topic, "-m", msg).Run()
	}
	pub := func(key, topic, msg string) error { return pubQ("1", key, topic, msg) }
	if err := pub("operator-key-0000000000000", "rabta/n1/ingest/7", "42"); err != nil {
		t.Errorf("operator publish: %v", err)
	}
	pub("viewer-key-000000000000000", "rabta/n1/ingest/7", "43")
	if err := pub("wrong", "rabta/n1/ingest/7", "44"); err == nil {
		t.Error("a wrong key connected")
	}
	pub("operator-key-0000000000000", "rabta/n1/obs/7", "45") // the internal stream is not for clients
	pubQ("0", "operator-key-0000000000000", "rabta/n1/ingest/8", "46")
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	// QoS 1 goes the durable way only, QoS 0 the core way only
	if len(durable) != 1 || durable[0] != "rabta/n1/ingest/7 42" {
		t.Errorf("durable: %q, want only the operator's QoS 1 message", durable)
	}
	if len(got) != 1 || got[0] != "rabta/n1/ingest/8 46" {
		t.Errorf("core: %q, want only the QoS 0 message", got)
	}
	if st, _ := b.Stats(ctx); st.Messages != 0 {
		t.Errorf("a client wrote to the OBS stream")
	}
}

// ConsumeObs passes over datastreams not wanted, acknowledges (and logs) a message no one can
// decode instead of retrying it forever, and hands the rest decoded, in order.
func TestConsumeObsDecodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := Open(ctx, Options{Node: "test", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan *sensing.ObsBatch, 10)
	cons, err := b.ConsumeObs(ctx, "decoding", false, func(ds int64) bool { return ds != 2 }, func(_ context.Context, batch *sensing.ObsBatch) error {
		got <- batch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	good := func(ds int64) []byte {
		return (&sensing.ObsBatch{V: sensing.ObsBatchVersion, Datastream: ds, Accepted: time.Now(), Obs: []sensing.ObsItem{{ID: ds}}}).AppendJSON(nil)
	}
	for i, m := range []struct {
		ds   int64
		data []byte
	}{{1, []byte("not json")}, {2, good(2)}, {3, good(3)}} {
		if err := b.PublishObs(ctx, m.ds, MsgID("test", int64(i+1)), m.data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case batch := <-got:
		if batch.Datastream != 3 {
			t.Errorf("first batch handed on is of datastream %d, want 3", batch.Datastream)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handed on")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lag, err := cons.Lag(ctx)
		if err == nil && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages left unacknowledged: %d %v", lag, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 0 {
		t.Errorf("%d more batches handed on", len(got))
	}
}
