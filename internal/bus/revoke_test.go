package bus

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/rabta/rabta/internal/auth"
)

// Revoking a key closes its live sessions, MQTT and NATS, at once: a real MQTT client that is
// publishing (QoS 1, every 20 ms) and subscribed, and a raw NATS connection, both of one
// operator key, are dropped within a second (and the MQTT client's will is not published) of the revocation and cannot log in again; the
// sessions of another key stay. Revoked in this process (the store, then DisconnectKey, as
// the keys API does) or by another process on the same database (rabta keys revoke: the
// re-check finds it), on SQLite and PostgreSQL.
func TestRevokeClosesSessions(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, how := range []string{"hook", "another process"} {
			t.Run(engine+"/"+how, func(t *testing.T) {
				keys, other := keyStore(t, engine)
				b, closed, logs := testBus(t, keys, Options{})
				key, p := newKey(t, keys, "pdma", auth.Operator)
				keep, _ := newKey(t, keys, "pdma", auth.Viewer)

				mqttLost := make(chan time.Time, 1)
				mc, err := mqttClient(t, b, key, mqttLost, "v1.1/Datastreams(1)/Observations")
				if err != nil {
					t.Fatal(err)
				}
				var received atomic.Int64
				mc.Subscribe("v1.1/Datastreams(1)/Observations", 1, func(paho.Client, paho.Message) { received.Add(1) }).WaitTimeout(5 * time.Second)
				var published atomic.Int64
				stop := make(chan struct{})
				defer close(stop)
				go func() { // a logger publishing
					for {
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
						if !mc.IsConnectionOpen() {
							return
						}
						if tok := mc.Publish("rabta/n1/ingest/1", 1, false, "1"); tok.WaitTimeout(time.Second) && tok.Error() == nil {
							published.Add(1)
						}
					}
				}()
				natsLost := make(chan time.Time, 1)
				nc, err := natsClient(t, b, key, natsLost)
				if err != nil {
					t.Fatal(err)
				}
				ns, err := nc.SubscribeSync("v1//1.Datastreams(1).Observations")
				if err != nil {
					t.Fatal(err)
				}
				nc.Flush()
				viewer, err := natsClient(t, b, keep, nil)
				if err != nil {
					t.Fatal(err)
				}

				// both sessions live: receiving and publishing
				b.PublishTopic("v1.1/Datastreams(1)/Observations", []byte(`{"result":1}`))
				if _, err := ns.NextMsg(5 * time.Second); err != nil {
					t.Fatalf("NATS session received nothing: %v", err)
				}
				if !waitFor(5*time.Second, func() bool { return received.Load() > 0 && published.Load() > 2 }) {
					t.Fatalf("MQTT session: received %d, published %d", received.Load(), published.Load())
				}
				if n := b.Sessions(p.KeyID); n != 2 {
					t.Errorf("sessions of the key: %d, want 2", n)
				}

				wills, err := viewer.SubscribeSync("v1//1.Datastreams(1).Observations")
				if err != nil {
					t.Fatal(err)
				}
				viewer.Flush()

				at := time.Now()
				if how == "hook" {
					if err := keys.RevokeKey(context.Background(), p.KeyID); err != nil {
						t.Fatal(err)
					}
					if n := b.DisconnectKey(p.KeyID); n != 2 {
						t.Errorf("DisconnectKey closed %d sessions, want 2", n)
					}
				} else if err := other.RevokeKey(context.Background(), p.KeyID); err != nil {
					t.Fatal(err)
				}
				limit := time.Second
				if how == "another process" {
					limit += 500 * time.Millisecond // a round of the re-check (every 500 ms) and its look-ups, on a loaded machine
				}
				for name, ch := range map[string]chan time.Time{"MQTT": mqttLost, "NATS": natsLost} {
					select {
					case when := <-ch:
						t.Logf("%s session dropped %v after the revocation", name, when.Sub(at).Round(time.Millisecond))
						if when.Sub(at) > limit {
							t.Errorf("%s session dropped after %v, want within %v", name, when.Sub(at), limit)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("%s session still open 5 s after the revocation", name)
					}
				}
				// the clients may see their sessions dropped before the server has counted both
				// closes (the re-check closes one, then the other)
				deadline := time.Now().Add(5 * time.Second)
				for closed.get(ClosedRevoked) < 2 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if n := closed.get(ClosedRevoked); n != 2 {
					t.Errorf("sessions closed counted: %d, want 2", n)
				}
				if _, err := mqttClient(t, b, key, nil); err == nil {
					t.Error("MQTT: the revoked key logged in again")
				}
				if _, err := natsClient(t, b, key, nil); err == nil {
					t.Error("NATS: the revoked key logged in again")
				}
				if m, err := wills.NextMsg(300 * time.Millisecond); err == nil {
					t.Errorf("after the revocation the key's MQTT will was published: %s", m.Data)
				}
				if !viewer.IsConnected() || b.Sessions(0) != 1 {
					t.Errorf("another key's session: connected %v, sessions %d", viewer.IsConnected(), b.Sessions(0))
				}
				if nc.Status() == nats.CONNECTED {
					t.Error("the NATS connection says it is still connected")
				}
				if !containsAll(logs.String(), `"msg":"bus_session_closed"`, `"protocol":"mqtt"`, `"protocol":"nats"`, `"reason":"key_revoked"`) {
					t.Errorf("no bus_session_closed logs:\n%s", logs)
				}
				if containsAll(logs.String(), key) {
					t.Error("the key is in the log")
				}
			})
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
