package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForecastCalibrate runs README's `go run ./cmd/rabta forecast calibrate --csv
// examples/wilson1974.csv` (as the built binary) and checks the fit against the best
// published figures for the Wilson (1974) flood: SSE 36.77 at K = 0.5175 h, x = 0.2869,
// m = 1.8680 (Barati 2011; Geem 2006).
func TestForecastCalibrate(t *testing.T) {
	t.Parallel()
	out, errOut, err := rabta(t, "forecast", "calibrate", "--csv", "../../examples/wilson1974.csv")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	var c calibrationJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if math.Abs(c.SSE-36.77) > 0.01*36.77 || math.Abs(c.K-0.5175) > 0.01 || math.Abs(c.X-0.2869) > 0.002 || math.Abs(c.M-1.868) > 0.005 {
		t.Errorf("fit %+v, want SSE 36.77 ± 1%% at K 0.5175, x 0.2869, m 1.868", c)
	}
	if c.LagSteps != 0 || c.LagHours != 0 || c.StepHours != 6 || c.N != 22 || c.Scheme != "classic" {
		t.Errorf("fit %+v: want lag 0, step 6 h, 22 samples, classic scheme", c)
	}
	// the same flood with RFC 3339 times gives the same fit
	b, _ := os.ReadFile("../../examples/wilson1974.csv")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var sb strings.Builder
	sb.WriteString(lines[0] + "\n")
	for i, l := range lines[1:] {
		_, rest, _ := strings.Cut(l, ",")
		at := time.Date(2025, 8, 27, 0, 0, 0, 0, time.FixedZone("PKT", 5*3600)).Add(time.Duration(6*i) * time.Hour)
		sb.WriteString(at.Format(time.RFC3339) + "," + rest + "\n")
	}
	p := filepath.Join(t.TempDir(), "wilson-times.csv")
	os.WriteFile(p, []byte(sb.String()), 0o600)
	out2, errOut, err := rabta(t, "forecast", "calibrate", "--csv", p, "--max-lag", "2")
	var c2 calibrationJSON
	if err != nil || json.Unmarshal([]byte(out2), &c2) != nil || math.Abs(c2.SSE-c.SSE) > 1e-6*c.SSE || c2.StepHours != 6 {
		t.Errorf("RFC 3339 times: %v %s%s, want the same fit as %+v", err, out2, errOut, c)
	}

	// bad input: an error naming the line and column, exit status 1
	for name, tc := range map[string]struct{ csv, want string }{
		"step":   {"time,inflow,outflow\n0,1,1\n6,2,1\n12,3,2\n19,2,2\n", "line 5, column 1 (time): 19 is 7 h after the previous row, but the step is 6 h"},
		"number": {"time,inflow,outflow\n0,1,1\n6,x,1\n12,3,2\n", `line 3, column 2 (inflow): "x" is not a flow`},
		"header": {"t,inflow,outflow\n0,1,1\n", `line 1, column 1: header "t", want "time"`},
	} {
		p := filepath.Join(t.TempDir(), name+".csv")
		os.WriteFile(p, []byte(tc.csv), 0o600)
		_, errOut, err := rabta(t, "forecast", "calibrate", "--csv", p)
		if err == nil || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, p) {
			t.Errorf("%s: %v %q, want an error naming the file and %q", name, err, errOut, tc.want)
		}
	}
}

func TestParseHydrographs(t *testing.T) {
	h, err := parseHydrographs(strings.NewReader(" Time , Inflow ,OUTFLOW\n0.5,10,9\n1.5, 12 ,9.5\n2.5,11,10\n"))
	if err != nil || h.step != 1 || len(h.inflow) != 3 || h.inflow[1] != 12 || h.outflow[2] != 10 {
		t.Fatalf("%+v %v", h, err)
	}
	for name, tc := range map[string]struct{ csv, want string }{
		"empty":      {"", "empty"},
		"few":        {"time,inflow,outflow\n0,1,1\n1,1,1\n", "2 rows: at least 3"},
		"fields":     {"time,inflow,outflow\n0,1,1\n1,1\n", "line 3"},
		"negative":   {"time,inflow,outflow\n0,1,1\n1,1,-1\n2,1,1\n", "line 3, column 3 (outflow)"},
		"NaN":        {"time,inflow,outflow\n0,NaN,1\n1,1,1\n2,1,1\n", "line 2, column 2 (inflow)"},
		"backwards":  {"time,inflow,outflow\n5,1,1\n4,1,1\n3,1,1\n", "line 3, column 1 (time): 4 is not after"},
		"mixed time": {"time,inflow,outflow\n2025-08-27T00:00:00Z,1,1\n1,1,1\n2,1,1\n", "line 3, column 1 (time): \"1\" is not an RFC 3339 time"},
		"bad time":   {"time,inflow,outflow\nnoon,1,1\n", "line 2, column 1 (time)"},
		"step":       {"time,inflow,outflow\n2025-08-27T00:00:00Z,1,1\n2025-08-27T01:00:00Z,1,1\n2025-08-27T03:00:00Z,1,1\n", "line 4, column 1 (time)"},
	} {
		_, err := parseHydrographs(strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// FuzzParseHydrographs: any input gives either an error or series that Calibrate can take:
// equal lengths of at least 3, a positive step, finite flows that are not negative.
func FuzzParseHydrographs(f *testing.F) {
	b, _ := os.ReadFile("../../examples/wilson1974.csv")
	f.Add(string(b))
	f.Add("time,inflow,outflow\n2025-08-27T00:00:00+05:00,1,1\n2025-08-27T01:00:00+05:00,2,1\n2025-08-27T02:00:00+05:00,3,2\n")
	f.Add("time,inflow,outflow\n0,1,1\n6,2,1\n12,3,2\n19,2,2\n")
	f.Add("time,inflow,outflow\n0,1e308,1\n1e-300,1,1\n2e-300,1,1\n")
	f.Add("time,inflow,outflow\n\"0\",\"1\n\",1\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHydrographs(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(h.inflow) < 3 || len(h.inflow) != len(h.outflow) || !(h.step > 0) || math.IsInf(h.step, 0) {
			t.Fatalf("accepted %q as %+v", s, h)
		}
		for i := range h.inflow {
			for _, v := range []float64{h.inflow[i], h.outflow[i]} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("accepted flow %v from %q", v, s)
				}
			}
		}
	})
}

// TestForecastNetworkCLI: rabta forecast network load stores a network from a file while the
// node runs (its forecast Datastream made), the running node takes it up within a tick, show
// prints it; a bad file is refused naming the file, line and field, and stores nothing.
func TestForecastNetworkCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, dir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	for _, name := range []string{"Marala", "Khanki"} {
		st, b := p.req("POST", "/v1.1/Things", adminKey, `{"name":"`+name+`","description":"gauge",
		 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
		 "Datastreams":[{"name":"Discharge at `+name+`","description":"q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
		  "ObservedProperty":{"name":"Discharge","definition":"d","description":"d"}}]}`)
		if st != 201 {
			t.Fatalf("create %s: %d %s", name, st, b)
		}
	}
	file := filepath.Join(t.TempDir(), "network.yaml")
	network := "name: chenab\nstations:\n  - {id: marala, thing: 1, discharge: 1}\n  - {id: khanki, thing: 2, discharge: 2}\nreaches:\n  - {from: marala, to: khanki, travel_time_h: 15}\n"
	os.WriteFile(file, []byte(strings.Replace(network, "to: khanki", "to: khanky", 1)), 0o600)
	if _, errOut, err := rabta(t, "forecast", "network", "load", "--data-dir", dir, file); err == nil || !strings.Contains(errOut, file) ||
		!strings.Contains(errOut, `line 6: reaches[0].to: unknown station "khanky"`) {
		t.Errorf("a bad network: %v %q, want an error naming the file, line 6 and reaches[0].to", err, errOut)
	}
	if _, errOut, err := rabta(t, "forecast", "network", "show", "--data-dir", dir); err == nil || !strings.Contains(errOut, "no forecast network") {
		t.Errorf("show after a refusal: %v %q, want no network", err, errOut)
	}
	os.WriteFile(file, []byte(network), 0o600)
	out, errOut, err := rabta(t, "forecast", "network", "load", "--data-dir", dir, file)
	if err != nil {
		t.Fatalf("load: %v %s", err, errOut)
	}
	var doc struct {
		Organisation, By string
		Stations         []struct {
			ID       string
			Forecast int64
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Stations) != 2 || doc.Stations[1].Forecast == 0 || doc.Organisation != "admin" || !strings.HasPrefix(doc.By, "cli/") {
		t.Fatalf("load printed %v %s", err, out)
	}
	if shown, _, err := rabta(t, "forecast", "network", "show", "--data-dir", dir); err != nil || shown != out {
		t.Errorf("show: %v\n%s\nwant what load printed\n%s", err, shown, out)
	}
	// the running node takes it up (forecasting.Service.Refresh, every tick of 5 s)
	if st, b := p.req("GET", "/api/v1/forecast/network", adminKey, ""); st != 200 || !strings.Contains(b, `"chenab"`) {
		t.Errorf("GET the node's network: %d %s", st, b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.stderr.String(), `"msg":"forecast_network_loaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the running node did not take the network up: %s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
