package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/node"
)

// BenchmarkInboundThroughGateway measures two-way SMS through each real gateway: b.N LEVEL
// commands from b.N numbers injected at the operator side as fast as it takes them, and
// the time until every reply reached the operator side (commands/s); then 50 LEVEL
// commands one at a time, each timed from its injection at the operator side to its reply
// there (level_p50_ms, level_p99_ms), and from when the gateway had it (bearerbox counted
// it; the SMSC sent the deliver_sm) to the reply (level_from_gateway_p99_ms).
func BenchmarkInboundThroughGateway(b *testing.B) {
	for _, gw := range []string{"kannel", "smpp"} {
		b.Run(gw, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			const moSecret = "mo-secret-0123456789abcdef"
			var opts node.DisseminationOptions
			var mo func(from, text string)
			var count func() int
			switch gw {
			case "kannel":
				k := channeltest.Kannel(b, channeltest.KannelOptions{MOURL: "http://" + addr + "/sms/kannel/mo?token=" + moSecret + "&"})
				opts.Kannel = &kannel.Options{URL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "8282", Rate: 1000}
				opts.KannelMOSecret = moSecret
				mo = func(from, text string) { k.SendMO(strings.TrimPrefix(from, "+"), "8282", text) }
				count = func() int { return len(k.Received()) }
			case "smpp":
				smsc := channeltest.SMSC(b)
				opts.SMPP = &smpp.Options{Addr: smsc.Addr, SystemID: smsc.SystemID, Password: smsc.Password, Source: "8282", Rate: 1000}
				mo = func(from, text string) { smsc.Deliver(strings.TrimPrefix(from, "+"), "8282", text) }
				count = func() int { return len(smsc.Received()) }
			}
			n, err := node.New(b.Context(), node.Options{ID: "lahore", DataDir: b.TempDir(), HTTPAddr: addr, AdminKey: adminKey,
				Registry: prometheus.NewRegistry(), Dissemination: opts, Log: benchLog(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { n.Close() })
			if err := n.Start(b.Context()); err != nil {
				b.Fatal(err)
			}
			for _, req := range [][3]string{{"POST", "/v1.1/Things", ravi}, {"PUT", "/api/v1/rules", lahoreRule},
				{"POST", "/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T03:00:00Z","result":600}`},
				{"POST", "/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T04:00:00Z","result":800}`}} {
				if st, body := doB(b, n, req[0], req[1], req[2]); st/100 != 2 {
					b.Fatalf("%s %s: %d %s", req[0], req[1], st, body)
				}
			}
			waitN := func(want int, timeout time.Duration) {
				deadline := time.Now().Add(timeout)
				for count() < want {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d replies after %v", count(), want, timeout)
					}
					time.Sleep(time.Millisecond)
				}
			}
			// warm up: the gazetteer loads on first use
			mo("+923009999999", "LEVEL Lahore")
			waitN(1, 60*time.Second)
			before := count()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				mo(fmt.Sprintf("+92301%07d", i), "LEVEL shahdara")
			}
			waitN(before+b.N, time.Duration(b.N)*time.Second+30*time.Second)
			took := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/took.Seconds(), "commands/s")
			var lat, gwLat []time.Duration
			for i := range 50 {
				before := count()
				t0 := time.Now()
				mo(fmt.Sprintf("+92302%07d", i), "LEVEL Lahore")
				t1 := time.Now() // the gateway has it: bearerbox counted it, or the SMSC sent the deliver_sm
				waitN(before+1, 30*time.Second)
				lat, gwLat = append(lat, time.Since(t0)), append(gwLat, time.Since(t1))
			}
			slices.Sort(lat)
			slices.Sort(gwLat)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(lat[len(lat)/2]), "level_p50_ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "level_p99_ms")
			b.ReportMetric(ms(gwLat[len(gwLat)*99/100]), "level_from_gateway_p99_ms")
		})
	}
}

func doB(b *testing.B, n *node.Node, method, path, body string) (int, string) {
	b.Helper()
	req, _ := http.NewRequest(method, "http://"+n.Addr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func benchLog(b *testing.B) *slog.Logger {
	if p := os.Getenv("RABTA_BENCH_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return slog.New(slog.NewTextHandler(f, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
