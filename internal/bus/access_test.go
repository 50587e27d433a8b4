package bus

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

// logBuf is a slog destination tests read back.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// counts counts the bus's refusals and closed sessions by reason.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) inc(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[reason]++
}

func (c *counts) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[reason]
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// keyStore is an auth.Store on SQLite (or PostgreSQL, engine "postgres"), opened twice: the
// second handle stands for another process on the same database (rabta keys revoke).
func keyStore(t *testing.T, engine string) (auth.Store, auth.Store) {
	t.Helper()
	ctx := context.Background()
	if engine == "postgres" {
		dsn := storetest.PostgresSchema(t)
		a, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		b, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return postgres.NewAuth(a), postgres.NewAuth(b)
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return sqlite.NewAuth(a), sqlite.NewAuth(b)
}

// testBus opens a bus with both listeners, authenticating by keys, with its run-time checks on.
func testBus(t *testing.T, keys auth.Store, o Options) (*Bus, *counts, *logBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	refused, logs := &counts{}, &logBuf{}
	o.Node, o.DataDir, o.ClientAddr, o.MQTTAddr = "n1", t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	o.Auth, o.Keys = &auth.Authenticator{Store: keys}, keys
	o.OnRefused, o.OnClosed = refused.inc, refused.inc
	o.Log = slog.New(slog.NewJSONHandler(logs, nil))
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Enforce(ctx, 0); err != nil {
		t.Fatal(err)
	}
	return b, refused, logs
}

func newKey(t *testing.T, s auth.Store, org string, role auth.Role) (string, *auth.Principal) {
	t.Helper()
	key, id, err := auth.Create(context.Background(), s, org, role, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key, &auth.Principal{KeyID: id, Organisation: org, Role: role}
}

// mqttClient connects a real MQTT client (Eclipse Paho) with key as the password; lost
// receives the time the connection was lost; the client leaves a will on will[0], if given.
func mqttClient(t *testing.T, b *Bus, key string, lost chan<- time.Time, will ...string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + b.MQTTAddr()).SetUsername("test").SetPassword(key).
		SetClientID(fmt.Sprintf("c%d", time.Now().UnixNano())).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetOrderMatters(false)
	if len(will) > 0 {
		o.SetWill(will[0], `{"result":"gone"}`, 0, false)
	}
	if lost != nil {
		o.SetConnectionLostHandler(func(paho.Client, error) { lost <- time.Now() })
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func natsClient(t *testing.T, b *Bus, key string, closed chan<- time.Time) (*nats.Conn, error) {
	t.Helper()
	opts := []nats.Option{nats.Token(key), nats.NoReconnect(), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	if closed != nil {
		opts = append(opts, nats.DisconnectErrHandler(func(*nats.Conn, error) { closed <- time.Now() }))
	}
	nc, err := nats.Connect(b.ClientURL(), opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	return nc, nil
}

// The access table decides, for NATS and MQTT alike: for each role (and the node-wide admin
// and another organisation's admin), each topic and each of subscribe and publish, a real NATS
// client and a real MQTT client may do exactly what Allowed says — a subscription receives
// what is published, a publish reaches a subscriber — and each refusal is counted (and the
// MQTT SUBACK says failure). A NATS client may subscribe to the MQTT bridge's own subjects
// ($MQTT.sub.>, where every MQTT session's deliveries and the retained messages pass) only as
// the node-wide admin.
func TestAccessTable(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, refused, _ := testBus(t, keys, Options{})
	type who struct {
		name string
		key  string
		p    *auth.Principal
	}
	var people []who
	for _, c := range []struct {
		org  string
		role auth.Role
	}{{"pdma", auth.Viewer}, {"pdma", auth.Operator}, {"pdma", auth.Approver}, {"pdma", auth.Admin}, {auth.NodeOrganisation, auth.Admin}} {
		k, p := newKey(t, keys, c.org, c.role)
		people = append(people, who{c.org + "/" + c.role.String(), k, p})
	}
	topics := []string{
		"v1.1/Datastreams(1)/Observations", "v1.1/Observations", "v1.1/MultiDatastreams(2)/Observations",
		"v1.1/Datastreams(1)/Observations?$select=result", "v1.1/Things", "v1.1/Things(1)/Datastreams", "v1.1",
		"rabta/n1/ingest/7", "rabta/n1/ingest/7/x", "rabta/n1/obs/7", "rabta/n1/alerts", "rabta/n2/ingest/7", "other/topic",
	}
	// observe receives what clients publish, on Rabta's own (unrestricted) connection
	observe := func(t *testing.T, subject string) *nats.Subscription {
		s, err := b.nc.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		b.nc.Flush()
		return s
	}
	cases, agree := 0, 0
	check := func(t *testing.T, proto string, p who, a Action, topic string, got bool, refusedNow bool) {
		cases++
		want := Allowed(Table("n1"), p.p, a, topic)
		if got != want {
			t.Errorf("%s %s %s %q: allowed %v, table says %v", proto, p.name, a, topic, got, want)
			return
		}
		if !got && !refusedNow {
			t.Errorf("%s %s %s %q: refused but not counted", proto, p.name, a, topic)
			return
		}
		agree++
	}
	for _, p := range people {
		nc, err := natsClient(t, b, p.key, nil)
		if err != nil {
			t.Fatalf("%s: nats: %v", p.name, err)
		}
		mc, err := mqttClient(t, b, p.key, nil)
		if err != nil {
			t.Fatalf("%s: mqtt: %v", p.name, err)
		}
		// how long to wait for a message: a case the table allows waits until it arrives (up
		// to 5 s, on a loaded machine), one it refuses 100 ms — a refused one that arrives late
		// anyway is still caught, as the refusal must be counted by the time the server
		// answered (flush, SUBACK, PUBACK)
		wait := func(a Action, topic string) time.Duration {
			if Allowed(Table("n1"), p.p, a, topic) {
				return 5 * time.Second
			}
			return 100 * time.Millisecond
		}
		for i, topic := range topics {
			subject, _ := MQTTSubject(topic)
			// NATS subscribe: a message published on the topic arrives
			before := refused.get(RefusedSubscribe)
			s, _ := nc.SubscribeSync(subject)
			nc.Flush()
			b.nc.Publish(subject, []byte("to-nats"))
			b.nc.Flush()
			_, err := s.NextMsg(wait(Subscribe, topic))
			check(t, "nats", p, Subscribe, topic, err == nil, refused.get(RefusedSubscribe) > before)
			s.Unsubscribe()

			// MQTT subscribe: the SUBACK, and a message published on the topic arrives
			before = refused.get(RefusedSubscribe)
			got := make(chan string, 4)
			tok := mc.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })
			tok.WaitTimeout(5 * time.Second)
			granted := tok.(*paho.SubscribeToken).Result()[topic] != 0x80
			b.nc.Publish(subject, []byte("to-mqtt"))
			b.nc.Flush()
			received := false
			select {
			case <-got:
				received = true
			case <-time.After(wait(Subscribe, topic)):
			}
			if granted != received {
				t.Errorf("mqtt %s subscribe %q: SUBACK granted %v, message received %v", p.name, topic, granted, received)
			}
			check(t, "mqtt", p, Subscribe, topic, received, refused.get(RefusedSubscribe) > before)
			mc.Unsubscribe(topic).WaitTimeout(5 * time.Second)

			// NATS publish: the message reaches a subscriber, or the refusal is counted
			obs := observe(t, subject)
			before = refused.get(RefusedPublish)
			payload := fmt.Sprintf("nats-%s-%d", p.name, i)
			nc.Publish(subject, []byte(payload))
			nc.Flush()
			m, err := obs.NextMsg(wait(Publish, topic))
			check(t, "nats", p, Publish, topic, err == nil && string(m.Data) == payload, refused.get(RefusedPublish) > before)

			// MQTT publish (QoS 1: the PUBACK comes after the server has decided)
			before = refused.get(RefusedPublish)
			payload = fmt.Sprintf("mqtt-%s-%d", p.name, i)
			mc.Publish(topic, 1, false, payload).WaitTimeout(5 * time.Second)
			m, err = obs.NextMsg(wait(Publish, topic))
			check(t, "mqtt", p, Publish, topic, err == nil && string(m.Data) == payload, refused.get(RefusedPublish) > before)
			obs.Unsubscribe()
		}
		// the MQTT bridge's own subjects: only the node-wide admin may read them over NATS
		before := refused.get(RefusedSubscribe)
		s, _ := nc.SubscribeSync("$MQTT.sub.>")
		nc.Flush()
		if bridge := refused.get(RefusedSubscribe) == before; bridge != p.p.NodeAdmin() {
			t.Errorf("nats %s: may subscribe to $MQTT.sub.>: %v, want %v", p.name, bridge, p.p.NodeAdmin())
		}
		s.Unsubscribe()
	}
	t.Logf("access matrix: %d cases (5 keys × %d topics × subscribe/publish × NATS/MQTT), %d agree with the table", cases, len(topics), agree)
	if cases != 5*len(topics)*4 {
		t.Errorf("%d cases, want %d", cases, 5*len(topics)*4)
	}
}

// A viewer on the NATS port cannot read what MQTT sessions receive: the node-wide admin's MQTT
// QoS 1 subscription to the ingest topics (which the viewer may not subscribe to) is delivered
// through the bridge's subject $MQTT.sub.<id>, which the viewer may not subscribe to either —
// the side door.
func TestNATSViewerCannotReadMQTTDeliveries(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, refused, _ := testBus(t, keys, Options{})
	vkey, _ := newKey(t, keys, "pdma", auth.Viewer)
	okey, _ := newKey(t, keys, "pdma", auth.Operator)
	nkey, _ := newKey(t, keys, auth.NodeOrganisation, auth.Admin)
	nc, err := natsClient(t, b, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	spy, _ := nc.SubscribeSync("$MQTT.sub.>")
	nc.Flush()
	if refused.get(RefusedSubscribe) != 1 {
		t.Errorf("viewer's subscription to $MQTT.sub.> not refused")
	}
	admin, err := mqttClient(t, b, nkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	admin.Subscribe("rabta/n1/ingest/+", 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }).WaitTimeout(5 * time.Second)
	logger, err := mqttClient(t, b, okey, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger.Publish("rabta/n1/ingest/7", 1, false, "1001480").WaitTimeout(5 * time.Second)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the admin's MQTT subscription received nothing")
	}
	if m, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Errorf("the viewer read %q on %s", m.Data, m.Subject)
	}
}

// A retained message on a SensorThings topic from anyone but the node-wide admin is removed
// as soon as it is stored (logged with the key, counted): a later subscriber does not get it.
// The node-wide admin's stays. The live publish itself is delivered as any publish is.
func TestRetainedRefused(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, refused, logs := testBus(t, keys, Options{})
	okey, op := newKey(t, keys, "pdma", auth.Operator)
	akey, _ := newKey(t, keys, "pdma", auth.Admin)
	nkey, _ := newKey(t, keys, auth.NodeOrganisation, auth.Admin)
	vkey, _ := newKey(t, keys, "pdma", auth.Viewer)
	for _, c := range []struct {
		key, topic string
		kept       bool
	}{
		{okey, "v1.1/Datastreams(1)/Observations", false},
		{akey, "v1.1/Datastreams(2)/Observations", false},
		{nkey, "v1.1/Datastreams(3)/Observations", true},
	} {
		pub, err := mqttClient(t, b, c.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := refused.get(RefusedRetain)
		pub.Publish(c.topic, 1, true, `{"result":99}`).WaitTimeout(5 * time.Second)
		if !c.kept && !waitFor(5*time.Second, func() bool { return refused.get(RefusedRetain) > before }) {
			t.Fatalf("%s: retained message not refused", c.topic)
		}
		// the removal is stored before the refusal is counted; the server's cache of retained
		// messages follows its stream a moment later, so a refused one may reach a subscriber
		// in that moment, never after
		for try := 1; ; try++ {
			later, err := mqttClient(t, b, vkey, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan bool, 1)
			later.Subscribe(c.topic, 1, func(_ paho.Client, m paho.Message) { got <- m.Retained() }).WaitTimeout(5 * time.Second)
			retained := false
			wait := time.Second // (a refused message: how long it may take to show, if it does)
			if c.kept {
				wait = 10 * time.Second // a kept one arrives: on a loaded machine not always within a second
			}
			select {
			case <-got:
				retained = true
			case <-time.After(wait):
			}
			later.Disconnect(0)
			if c.kept && !retained {
				t.Errorf("%s: the node-wide admin's retained message was not kept", c.topic)
			}
			if c.kept || !retained {
				break
			}
			if try == 5 {
				t.Errorf("%s: later subscribers still got the refused retained message after %d tries", c.topic, try)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"bus_refused","reason":"retained","topic":"v1.1/Datastreams(1)/Observations","protocol":"mqtt","key_id":`+fmt.Sprint(op.KeyID)) {
		t.Errorf("no bus_refused log for the retained message:\n%s", logs)
	}
}

// A publish to a topic in Rabta's space that no handler takes is logged and counted; one to
// a served topic is not.
func TestUnservedCounted(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, refused, logs := testBus(t, keys, Options{})
	nkey, _ := newKey(t, keys, auth.NodeOrganisation, auth.Admin)
	okey, _ := newKey(t, keys, "pdma", auth.Operator)
	admin, err := mqttClient(t, b, nkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	op, err := mqttClient(t, b, okey, nil)
	if err != nil {
		t.Fatal(err)
	}
	op.Publish("v1.1/Datastreams(1)/Observations", 1, false, `{"result":1}`).WaitTimeout(5 * time.Second)
	op.Publish("rabta/n1/ingest/1", 0, false, `1`).WaitTimeout(5 * time.Second)
	admin.Publish("v1.1/Things", 1, false, `{"name":"x"}`).WaitTimeout(5 * time.Second)
	nc, err := natsClient(t, b, nkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.Publish("rabta.n1.ingest.7.extra", []byte("1"))
	nc.Flush()
	if !waitFor(5*time.Second, func() bool { return refused.get(RefusedUnserved) == 2 }) {
		t.Fatalf("unserved publishes counted: %d, want 2", refused.get(RefusedUnserved))
	}
	time.Sleep(200 * time.Millisecond)
	if n := refused.get(RefusedUnserved); n != 2 {
		t.Errorf("unserved publishes counted: %d, want 2 (a served topic counted?)", n)
	}
	for _, topic := range []string{"v1.1/Things", "rabta/n1/ingest/7/extra"} {
		if !strings.Contains(logs.String(), `"reason":"unserved_topic","topic":"`+topic+`"`) {
			t.Errorf("no bus_refused log for %s:\n%s", topic, logs)
		}
	}
}

// A message over the payload limit is refused with a log line that names the key, the size
// and the limit, and counted; MQTT 3.1.1 has no answer to a PUBLISH but closing the
// connection, so the client is disconnected. A raw NATS client (nats.go itself refuses to
// send it) likewise.
func TestPayloadLimit(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, refused, logs := testBus(t, keys, Options{MaxPayload: 1024})
	okey, op := newKey(t, keys, "pdma", auth.Operator)
	lost := make(chan time.Time, 1)
	mc, err := mqttClient(t, b, okey, lost)
	if err != nil {
		t.Fatal(err)
	}
	mc.Publish("rabta/n1/ingest/1", 1, false, `1`).WaitTimeout(5 * time.Second)
	if refused.get(RefusedPayload) != 0 {
		t.Fatal("a small message was refused")
	}
	mc.Publish("rabta/n1/ingest/1", 1, false, strings.Repeat("9", 2000))
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Error("the connection stayed open")
	}
	if !waitFor(5*time.Second, func() bool { return refused.get(RefusedPayload) == 1 }) {
		t.Fatalf("payload refusals counted: %d, want 1", refused.get(RefusedPayload))
	}
	want := fmt.Sprintf(`"msg":"bus_refused","reason":"payload_too_large","topic":"","protocol":"mqtt","key_id":%d,"organisation":"pdma","role":"operator","bytes":`, op.KeyID)
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"limit":1024`) {
		t.Errorf("no bus_refused log naming key, size and limit:\n%s", logs)
	}

	// raw NATS
	u := strings.TrimPrefix(b.ClientURL(), "nats://")
	conn, err := net.Dial("tcp", u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	r.ReadString('\n') // INFO
	fmt.Fprintf(conn, "CONNECT {\"auth_token\":%q,\"verbose\":false}\r\nPUB rabta.n1.ingest.1 2000\r\n%s\r\nPING\r\n", okey, strings.Repeat("9", 2000))
	line, _ := r.ReadString('\n')
	if !strings.Contains(line, "Maximum Payload") {
		t.Errorf("raw NATS client got %q", line)
	}
	if !waitFor(5*time.Second, func() bool { return refused.get(RefusedPayload) == 2 }) {
		t.Errorf("payload refusals counted: %d, want 2", refused.get(RefusedPayload))
	}
	if !strings.Contains(logs.String(), `"reason":"payload_too_large","topic":"","protocol":"nats","key_id":`) {
		t.Errorf("no bus_refused log for the NATS client:\n%s", logs)
	}
}

// covers, by which Allowed and Served read the table, decides as the NATS server does for the
// subjects of the same filter and topic (the server enforces the permissions generated from the
// table): the two cannot disagree on any topic.
func FuzzCovers(f *testing.F) {
	for _, s := range [][2]string{
		{"v1.1/#", "v1.1/Datastreams(1)/Observations"}, {"v1.1/#", "v1.1"}, {"v1.1/#", "v1.1/#"}, {"v1.1/#", "#"},
		{"v1.1/+/Observations", "v1.1/Datastreams(1)/Observations"}, {"v1.1/+/Observations", "v1.1/+/Observations"},
		{"v1.1/+/Observations", "v1.1/#"}, {"rabta/n1/ingest/+", "rabta/n1/ingest/7/x"}, {"rabta/n1/ingest/+", "rabta/n1/ingest"},
		{"a/b", "a/b"}, {"a/b", "a/+"}, {"+/+", "a/b"}, {"#", "$MQTT/sub/x"}, {"v1.1/Observations", "v1.1/Observations?$select=result"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if strings.ContainsAny(filter+topic, "*>") {
			t.Skip() // NATS's own wildcards: no Rabta topic has them
		}
		fs, err1 := MQTTSubject(filter)
		ts, err2 := MQTTSubject(topic)
		if err1 != nil || err2 != nil {
			return
		}
		if got, want := covers(filter, topic), server.SubjectMatchesFilter(ts, fs); got != want {
			t.Errorf("covers(%q, %q) = %v; the NATS server says %v for %q in %q", filter, topic, got, want, ts, fs)
		}
	})
}

// Any line of the embedded server's log is either a refusal or logged as it is; no line makes
// the parser panic, and the refusal lines the server writes are read as refusals.
func FuzzViolation(f *testing.F) {
	for _, s := range []struct {
		f string
		v string
	}{
		{`127.0.0.1:5555 - cid:7 - "v1.55.0:go" - Publish Violation - Subject %q`, "rabta.n1.obs.7"},
		{`127.0.0.1:5555 - mid:9 - "c1" - Publish Violation - Subject %q`, "v1//1.Things"},
		{`127.0.0.1:5555 - cid:7 - Subscription Violation - Subject "$MQTT.sub.>", SID 1`, ""},
		{`127.0.0.1:5555 - mid:9 - "c1" - Subscription Violation - Subject "rabta.n1.ingest.*", SID rabta.n1.ingest.*`, ""},
		{`127.0.0.1:5555 - mid:9 - "c1" - %s: %d vs %d`, "maximum payload exceeded"},
		{`Server is ready`, ""},
	} {
		f.Add(s.f, s.v)
	}
	b := &Bus{log: slog.New(slog.DiscardHandler), table: Table("n1"), sampled: map[string]*rate.Sometimes{}}
	f.Fuzz(func(t *testing.T, format, arg string) {
		args := []any{arg}
		if strings.Contains(format, "%d vs %d") {
			args = []any{arg, 2000, 1024}
		}
		is := b.violation(format, args)
		if is != (strings.Contains(format, "Publish Violation - ") || subViolRef.MatchString(format) || arg == server.ErrMaxPayload.Error() && len(args) == 3) {
			t.Errorf("violation(%q, %q) = %v", format, arg, is)
		}
	})
}

// Narrow is where a per-organisation check hooks into the bus: a key's topics narrowed to its
// organisation's datastreams at login (a topic outside what the table grants is dropped), and
// again within a re-check round when they change (a datastream created since), for live NATS
// and MQTT sessions alike.
func TestNarrow(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	var mu sync.Mutex
	owned := map[string][]string{"pdma": {"7"}}
	narrow := func(_ context.Context, p *auth.Principal, a Action, topics []string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, topic := range topics {
			if a == Publish && topic == "rabta/n1/ingest/+" {
				for _, id := range owned[p.Organisation] {
					out = append(out, "rabta/n1/ingest/"+id)
				}
				continue
			}
			out = append(out, topic)
		}
		return append(out, "other/topic"), nil // not granted by the table: dropped
	}
	b, refused, _ := testBus(t, keys, Options{Narrow: narrow})
	key, _ := newKey(t, keys, "pdma", auth.Operator)
	nc, err := natsClient(t, b, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mqttClient(t, b, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	obs, _ := b.nc.SubscribeSync(">")
	b.nc.Flush()
	try := func(subject string) bool {
		t.Helper()
		nc.Publish(subject, []byte(subject))
		nc.Flush()
		for {
			m, err := obs.NextMsg(200 * time.Millisecond)
			if err != nil {
				return false
			}
			if m.Subject == subject {
				return true
			}
		}
	}
	for subject, want := range map[string]bool{"rabta.n1.ingest.7": true, "rabta.n1.ingest.8": false, "other.topic": false,
		"v1//1.Datastreams(1).Observations": true} {
		if got := try(subject); got != want {
			t.Errorf("publish to %s: %v, want %v", subject, got, want)
		}
	}
	if n := refused.get(RefusedPublish); n != 2 {
		t.Errorf("refused publishes: %d, want 2", n)
	}
	mu.Lock()
	owned["pdma"] = append(owned["pdma"], "8")
	mu.Unlock()
	if !waitFor(3*time.Second, func() bool { return try("rabta.n1.ingest.8") }) {
		t.Fatal("NATS: a datastream added to the organisation is still refused")
	}
	eight, _ := b.nc.SubscribeSync("rabta.n1.ingest.8")
	b.nc.Flush()
	mc.Publish("rabta/n1/ingest/8", 1, false, "mqtt-8").WaitTimeout(5 * time.Second)
	if m, err := eight.NextMsg(2 * time.Second); err != nil || string(m.Data) != "mqtt-8" {
		t.Errorf("MQTT publish to the added datastream: %v %v", m, err)
	}
}

// A wildcard subscription the table grants works over MQTT: "v1.1/#" by a viewer (the server
// subscribes it to "v1//1.>" and to the parent "v1//1", MQTT's '#' matching its parent too; the
// parent was not permitted, so the whole SUBSCRIBE was refused), and "v1.1/+/Observations";
// "rabta/n1/ingest/#" stays refused to a viewer.
func TestWildcardSubscriptions(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	b, _, _ := testBus(t, keys, Options{})
	key, _ := newKey(t, keys, "pdma", auth.Viewer)
	mc, err := mqttClient(t, b, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		filter, publish string
		granted         bool
	}{
		{"v1.1/#", "v1.1/Things", true},
		{"v1.1/+/Observations", "v1.1/Datastreams(3)/Observations", true},
		{"rabta/n1/ingest/#", "rabta/n1/ingest/3", false},
	} {
		got := make(chan string, 4)
		tok := mc.Subscribe(c.filter, 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() })
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("%s: no SUBACK", c.filter)
		}
		if granted := tok.(*paho.SubscribeToken).Result()[c.filter] != 0x80; granted != c.granted {
			t.Errorf("%s: granted %v, want %v", c.filter, granted, c.granted)
			continue
		}
		subject, _ := MQTTSubject(c.publish)
		b.nc.Publish(subject, []byte(`{}`))
		b.nc.Flush()
		select {
		case topic := <-got:
			if !c.granted || topic != c.publish {
				t.Errorf("%s: received %q", c.filter, topic)
			}
		case <-time.After(2 * time.Second):
			if c.granted {
				t.Errorf("%s: nothing received from %s", c.filter, c.publish)
			}
		}
		mc.Unsubscribe(c.filter).WaitTimeout(5 * time.Second)
	}
}
