package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/auth"
)

// The node wires the bus's checks: a key revoked and handed to DisconnectKey (as the keys API
// does) loses its NATS session at once; a key revoked in the store only (by another process)
// loses it within the re-check's round; a publish the key's role may not make is refused; each
// is counted in /metrics (rabta_bus_sessions_closed_total, rabta_bus_refused_total) and the
// live sessions are a gauge (rabta_bus_sessions).
func TestNodeBusRevocationAndRefusals(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := New(t.Context(), Options{ID: "bus", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		AdminKey: "node-test-admin-key-0123456789", Registry: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	connect := func(role auth.Role) (*nats.Conn, int64, chan time.Time) {
		key, id, err := auth.Create(ctx, n.stores.Keys, "pdma", role, "test")
		if err != nil {
			t.Fatal(err)
		}
		lost := make(chan time.Time, 1)
		nc, err := nats.Connect(n.NATSURL(), nats.Token(key), nats.NoReconnect(),
			nats.DisconnectErrHandler(func(*nats.Conn, error) { lost <- time.Now() }), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc, id, lost
	}
	viewer, _, _ := connect(auth.Viewer)
	_, hooked, hookedLost := connect(auth.Operator)
	_, other, otherLost := connect(auth.Operator)
	if v := value(t, reg, "rabta_bus_sessions", ""); v != 3 {
		t.Errorf("rabta_bus_sessions %v, want 3", v)
	}

	viewer.Publish("rabta.bus.ingest.1", []byte("1"))
	viewer.Flush()
	if v := value(t, reg, "rabta_bus_refused_total", "forbidden_publish"); v != 1 {
		t.Errorf(`rabta_bus_refused_total{reason="forbidden_publish"} %v, want 1`, v)
	}

	at := time.Now()
	if err := n.stores.Keys.RevokeKey(ctx, hooked); err != nil {
		t.Fatal(err)
	}
	n.DisconnectKey(hooked)
	if err := n.stores.Keys.RevokeKey(ctx, other); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		lost   chan time.Time
		within time.Duration
	}{"DisconnectKey": {hookedLost, 250 * time.Millisecond}, "re-check": {otherLost, time.Second}} {
		select {
		case when := <-c.lost:
			if d := when.Sub(at); d > c.within {
				t.Errorf("%s: session closed after %v, want within %v", name, d, c.within)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: session still open", name)
		}
	}
	// the server counts a closed session once it has closed it, which the client may see first
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if value(t, reg, "rabta_bus_sessions_closed_total", "key_revoked") == 2 && value(t, reg, "rabta_bus_sessions", "") == 1 {
			break
		}
	}
	if v := value(t, reg, "rabta_bus_sessions_closed_total", "key_revoked"); v != 2 {
		t.Errorf(`rabta_bus_sessions_closed_total{reason="key_revoked"} %v, want 2`, v)
	}
	if v := value(t, reg, "rabta_bus_sessions", ""); v != 1 {
		t.Errorf("rabta_bus_sessions %v, want 1", v)
	}
}

// value returns a metric's value (the series whose reason label is reason, when given), -1
// when there is none.
func value(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := reason == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == "reason" && l.GetValue() == reason)
			}
			if !match {
				continue
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return -1
}

// Revocation takes effect everywhere at once (issue 15): a key revoked through the keys API
// (DELETE /api/v1/keys/{id}) loses its live MQTT session — publishing and subscribed — and
// cannot log in again; a key whose expiry passes loses its session too. The re-check round is
// an hour here, so only the API's hook can close the first session in time, and the second is
// closed by a round the test triggers by waiting for the expiry with a short round.
func TestRevokeThroughAPIClosesMQTTSession(t *testing.T) {
	const admin = "node-test-admin-key-0123456789"
	for _, c := range []struct {
		name  string
		every time.Duration
	}{{"api", time.Hour}, {"expiry", 200 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			n, err := New(t.Context(), Options{ID: "rev", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
				AdminKey: admin, KeyCheckEvery: c.every, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if err := n.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var until time.Time
			if c.name == "expiry" {
				until = time.Now().Add(5 * time.Second) // long enough to connect, subscribe and publish on a loaded machine (2 s was not)
			}
			key, id, err := auth.CreateUntil(ctx, n.stores.Keys, "pdma", auth.Operator, "logger", until)
			if err != nil {
				t.Fatal(err)
			}
			lost := make(chan error, 1)
			connect := func() (paho.Client, error) {
				o := paho.NewClientOptions().AddBroker("tcp://" + n.MQTTAddr()).SetUsername("logger").SetPassword(key).
					SetClientID(fmt.Sprintf("rev-%d", time.Now().UnixNano())).SetAutoReconnect(false).SetConnectRetry(false).
					SetConnectTimeout(5 * time.Second).SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
				cl := paho.NewClient(o)
				tok := cl.Connect()
				if !tok.WaitTimeout(10 * time.Second) {
					return nil, fmt.Errorf("connect timed out")
				}
				return cl, tok.Error()
			}
			cl, err := connect()
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Disconnect(0)
			if tok := cl.Subscribe("v1.1/Datastreams", 1, func(paho.Client, paho.Message) {}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			if tok := cl.Publish("rabta/rev/ingest/1", 1, false, `{"result":1}`); !tok.WaitTimeout(5 * time.Second) {
				t.Fatal("publish before revocation not acknowledged")
			}
			if c.name == "api" {
				req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://%s/api/v1/keys/%d", n.Addr(), id), nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("DELETE /api/v1/keys/%d: %s", id, resp.Status)
				}
			}
			select {
			case <-lost:
			case <-time.After(15 * time.Second):
				t.Fatal("the MQTT session of the revoked key is still open")
			}
			if _, err := connect(); err == nil {
				t.Error("the revoked key logged in again over MQTT")
			}
			if _, err := nats.Connect(n.NATSURL(), nats.Token(key), nats.NoReconnect()); err == nil {
				t.Error("the revoked key logged in again over NATS")
			}
		})
	}
}
