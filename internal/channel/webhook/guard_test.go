package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/webhook"
)

// loopback lets the tests' senders reach their httptest servers on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func TestInternal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.3.4.5": true, "::1": true, "0.0.0.0": true, "::": true,
		"10.0.0.1": true, "172.16.0.1": true, "172.31.255.255": true, "192.168.1.1": true,
		"169.254.169.254": true, "100.64.0.1": true, "fe80::1": true, "fd00::1": true,
		"224.0.0.1": true, "255.255.255.255": true, "::ffff:10.0.0.1": true, "::ffff:127.0.0.1": true,
		"198.18.0.1": true,
		"8.8.8.8":    false, "172.32.0.1": false, "100.128.0.1": false, "2001:4860:4860::8888": false,
		"::ffff:8.8.8.8": false, "203.0.113.7": false,
	} {
		if got := webhook.Internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Internal(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestInternalAddressRefused: a subscriber's webhook URL pointing into the node's own network
// (loopback here, by address and by name) is refused on the connection, permanently, and
// nothing reaches the endpoint; listed in AllowNetworks, it is delivered.
func TestInternalAddressRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	strict := newSender(t, webhook.Options{})
	for _, url := range []string{srv.URL + "/hook", "http://localhost" + port + "/hook", "http://[::ffff:127.0.0.1]" + port + "/hook"} {
		_, err := strict.Send(context.Background(), message(1, url))
		if !errors.Is(err, webhook.ErrInternalAddress) || !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want a permanent ErrInternalAddress", url, err)
		}
		if err != nil && !strings.Contains(err.Error(), "webhook_allow_networks") {
			t.Errorf("%s: the error does not say how to allow it: %v", url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the endpoint got %d requests through the guard", n)
	}
	other := newSender(t, webhook.Options{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if _, err := other.Send(context.Background(), message(2, srv.URL+"/hook")); !errors.Is(err, webhook.ErrInternalAddress) {
		t.Errorf("allowing 10.0.0.0/8 let loopback through: %v", err)
	}
	lax := newSender(t, webhook.Options{AllowNetworks: loopback})
	if _, err := lax.Send(context.Background(), message(3, srv.URL+"/hook")); err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the endpoint got %d requests, want 1", n)
	}
}
