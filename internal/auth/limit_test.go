package auth_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// What a request says about its client, host and scheme, by who sent it: the trusted proxy's
// X-Forwarded-* are believed (the client being the last untrusted address of the chain);
// anyone else's are dropped, and Host becomes the address the connection reached.
func TestProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, c := range []struct {
		name, peer             string
		header                 map[string]string
		remote, host, proto    string
		forwardedFor, forwards string
	}{
		{"a client", "198.51.100.9:5000", map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "for=1.2.3.4"},
			"198.51.100.9:5000", "192.0.2.1:8080", "", "", ""},
		{"the proxy", "10.1.1.1:5000", map[string]string{"X-Forwarded-For": "1.2.3.4, 203.0.113.5, 10.2.2.2", "X-Forwarded-Host": "warn.example.pk", "X-Forwarded-Proto": "https"},
			"203.0.113.5:0", "warn.example.pk", "https", "", ""},
		{"the proxy, IPv6", "[2001:db8::1]:5000", map[string]string{"X-Forwarded-For": "2001:db9::7"},
			"[2001:db9::7]:0", "node.example:8080", "", "", ""},
		{"the proxy, a garbled chain", "10.1.1.1:5000", map[string]string{"X-Forwarded-For": "1.2.3.4, nonsense", "X-Forwarded-Host": "bad host/with/slashes", "X-Forwarded-Proto": "gopher"},
			"10.1.1.1:5000", "node.example:8080", "", "", ""},
		{"the proxy, no headers", "10.1.1.1:5000", nil, "10.1.1.1:5000", "node.example:8080", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got *http.Request
			h := auth.Proxies(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
			req := httptest.NewRequest("GET", "http://node.example:8080/v1.1/", nil)
			req.RemoteAddr = c.peer
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			wantHost := c.host
			if got.RemoteAddr != c.remote || got.Host != wantHost || got.Header.Get("X-Forwarded-Proto") != c.proto {
				t.Errorf("remote %q host %q proto %q; want %q %q %q", got.RemoteAddr, got.Host, got.Header.Get("X-Forwarded-Proto"), c.remote, wantHost, c.proto)
			}
			if !strings.HasPrefix(c.peer, "10.") && !strings.HasPrefix(c.peer, "[2001:db8:") {
				for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "Forwarded"} {
					if got.Header.Get(h) != "" {
						t.Errorf("%s from a client kept", h)
					}
				}
			}
		})
	}
}

func TestParseProxies(t *testing.T) {
	ps, err := auth.ParseProxies(" 10.0.0.0/8, 127.0.0.1,::1 ,192.168.1.7/24")
	if err != nil || fmt.Sprint(ps) != "[10.0.0.0/8 127.0.0.1/32 ::1/128 192.168.1.0/24]" {
		t.Errorf("%v %v", ps, err)
	}
	for _, bad := range []string{"example.com", "10.0.0.0/33", "1.2.3", "10.0.0.0/8,x"} {
		if _, err := auth.ParseProxies(bad); err == nil || !strings.Contains(err.Error(), "trusted proxy") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "127.0.0.1, ::1", "", ",", "2001:db8::/32", "1.2.3.4/99", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := auth.ParseProxies(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "trusted proxy ") {
				t.Errorf("error %q does not name the setting", err)
			}
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Errorf("%q: prefix %v", s, p)
			}
		}
	})
}

// A flood of wrong keys from one source: what the limit lets through to the store is its burst
// and its rate, the rest is refused with 429 without a store lookup. The test measures, over
// two seconds of 8 concurrent clients on one address, how many requests were refused per second
// and how many reached the store; and the same flood without the limit (every request a store
// lookup) for comparison. The figures are logged (go test -v -run TestWrongKeyFlood).
func TestWrongKeyFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 4 s flood")
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewAuth(db)
	if _, _, err := auth.Create(context.Background(), st, "pdma", auth.Operator, "t"); err != nil {
		t.Fatal(err)
	}
	flood := func(lim *auth.Limiter) (refused, failed int64, secs float64) {
		a := &auth.Authenticator{Store: st, Limit: lim}
		srv := httptest.NewServer(a.Middleware(func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(apperr.HTTPStatus(err))
		})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		defer srv.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 16}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var n401, n429, other atomic.Int64
		start := time.Now()
		deadline := start.Add(2 * time.Second)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := 0; time.Now().Before(deadline); i++ {
					req, _ := http.NewRequest("GET", srv.URL, nil)
					req.Header.Set("Authorization", fmt.Sprintf("Bearer rbt_%08x_%043d", g, i))
					resp, err := client.Do(req)
					if err != nil {
						other.Add(1)
						continue
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 401:
						n401.Add(1)
					case 429:
						n429.Add(1)
					default:
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if other.Load() != 0 {
			t.Errorf("%d answers neither 401 nor 429", other.Load())
		}
		return n429.Load(), n401.Load(), time.Since(start).Seconds()
	}
	l := auth.Limits{FailRate: 1, FailBurst: 20, Entries: 10000}
	refused, failed, secs := flood(auth.NewLimiter(l, nil))
	t.Logf("limit %g/s after %d: %.0f requests refused per second (429), %d reached the store (401) in %.2f s", l.FailRate, l.FailBurst, float64(refused)/secs, failed, secs)
	if max := int64(float64(l.FailBurst)+l.FailRate*secs) + 1; failed > max || failed < int64(l.FailBurst) {
		t.Errorf("%d wrong keys reached the store in %.2f s; the limit allows %d", failed, secs, max)
	}
	if refused == 0 {
		t.Error("nothing was refused")
	}
	_, unlimited, secs2 := flood(nil)
	t.Logf("without the limit: %.0f wrong keys a second reached the store", float64(unlimited)/secs2)
}
