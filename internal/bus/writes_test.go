package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
)

// Publishes count against the key's write limit, as the API's writes do: an MQTT logger and a
// NATS client of one key over write_rate lose their sessions within a round of the meter and
// cannot log in again until the key has waited off what it owes; the refusal is logged with
// the key's id and the limit's wait, and the key's API writes are refused meanwhile (one
// bucket). Other keys, under the limit, keep their sessions.
func TestPublishesUnderWriteLimit(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	lim := auth.NewLimiter(auth.Limits{FailRate: 1, FailBurst: 20, WriteRate: 20, WriteBurst: 40}, nil)
	b, refused, logs := testBus(t, keys, Options{Writes: lim})
	key, p := newKey(t, keys, "pdma", auth.Operator)
	calm, _ := newKey(t, keys, "pdma", auth.Operator)

	lost := make(chan time.Time, 1)
	mc, err := mqttClient(t, b, key, lost)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Time, 1)
	nc, err := natsClient(t, b, key, closed)
	if err != nil {
		t.Fatal(err)
	}
	calmLost := make(chan time.Time, 1)
	cc, err := mqttClient(t, b, calm, calmLost)
	if err != nil {
		t.Fatal(err)
	}
	// under the limit: 10 messages
	for range 10 {
		mc.Publish("rabta/n1/ingest/7", 1, false, `1`).WaitTimeout(5 * time.Second)
	}
	time.Sleep(2 * WriteMeterEvery)
	if n := b.Sessions(p.KeyID); n != 2 {
		t.Fatalf("under the limit: %d sessions, want 2", n)
	}
	// over it: 200 at once over MQTT (the burst is 40)
	for range 200 {
		mc.Publish("rabta/n1/ingest/7", 0, false, `1`)
		time.Sleep(time.Millisecond / 4)
	}
	for name, ch := range map[string]chan time.Time{"mqtt": lost, "nats": closed} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s session of a key over the write limit is still open", name)
		}
	}
	if n := b.Sessions(p.KeyID); n != 0 {
		t.Errorf("over the limit: %d sessions left", n)
	}
	if refused.get(ClosedWriteLimit) != 2 {
		t.Errorf("closed for the write limit: %d, want 2", refused.get(ClosedWriteLimit))
	}
	if !strings.Contains(logs.String(), `"msg":"bus_write_limit"`) || !strings.Contains(logs.String(), "write_rate") {
		t.Errorf("not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), key) {
		t.Error("the key is in the log")
	}
	// it owes: no login, no API write
	if _, err := mqttClient(t, b, key, nil); err == nil {
		t.Error("a key over the write limit logged in again at once")
	}
	if err := lim.Write(p.KeyID); err == nil {
		t.Error("an API write of a key over the write limit was allowed")
	}
	// the other key, which did not publish, keeps its session; so does a third that publishes
	// at half the limit
	select {
	case <-calmLost:
		t.Error("the session of a key that did not publish was closed")
	default:
	}
	if !cc.IsConnectionOpen() {
		t.Error("the other key's session is closed")
	}
	nc.Close()
	steady, sp := newKey(t, keys, "pdma", auth.Operator)
	sc, err := mqttClient(t, b, steady, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 * 10 {
		sc.Publish("rabta/n1/ingest/7", 1, false, `1`).WaitTimeout(5 * time.Second)
		time.Sleep(100 * time.Millisecond) // 10 a second, half the limit
	}
	if n := b.Sessions(sp.KeyID); n != 1 {
		t.Errorf("a key within its limit: %d sessions, want 1", n)
	}
	// once it has waited, the key logs in again
	deadline := time.Now().Add(15 * time.Second)
	for lim.WriteWait(p.KeyID) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the key still owes after 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := mqttClient(t, b, key, nil); err != nil {
		t.Errorf("the key after its wait: %v", err)
	}
}
