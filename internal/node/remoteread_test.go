package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/twoway"
)

// remoteReadNode is fedAlertNode with public reads on (the default of `rabta serve`) and an
// MQTT listener: what the boundary of remote data must hold against.
func remoteReadNode(t *testing.T, id, dir, dsn string) *Node {
	t.Helper()
	n, err := New(t.Context(), Options{ID: id, DataDir: dir, DB: dsn, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", PublicRead: true,
		Places: []place.Place{{Key: "geonames:1", Kind: place.Town, Name: "Khanki", Country: "PK", Province: "Punjab", District: "Gujranwala", Lat: 32.4, Lon: 73.97, Population: 1000}},
		Sender: id + ".example", AdminKey: benchKey, Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestRemoteDataReadBoundary: islamabad shares organisation pdma's gauge with karachi's
// organisation ndma. On karachi, which serves public reads, the remote Datastream and all that
// was made for it (Thing, Location, HistoricalLocation, Sensor, ObservedProperty,
// FeatureOfInterest, Observations) are read by ndma's viewer and the node-wide admin only: an
// anonymous reader and another organisation's viewer get 404 for each of them, do not find
// them in any collection, $count, $expand or $batch, nor through WIS2, the console's map and
// hydrograph, the LEVEL command's gauges, the silent Datastreams of the quality control, the
// rules listing or the forecast network; and no one gets their new Observations over MQTT.
// Karachi's own gauge stays public.
func TestRemoteDataReadBoundary(t *testing.T) { remoteDataReadBoundary(t, "") }

// TestRemoteDataReadBoundaryPostgres: the same, karachi's store on PostgreSQL.
func TestRemoteDataReadBoundaryPostgres(t *testing.T) {
	remoteDataReadBoundary(t, storetest.PostgresSchema(t))
}

// remoteDataReadBoundary runs TestRemoteDataReadBoundary with karachi's store in dsn ("":
// SQLite).
func remoteDataReadBoundary(t *testing.T, dsn string) {
	ctx := context.Background()
	idir, kdir := t.TempDir(), t.TempDir()
	p := remoteReadNode(t, "islamabad", idir, "")
	k := remoteReadNode(t, "karachi", kdir, dsn)
	partnerNodes(t, p, k, idir, kdir)
	key := func(n *Node, org string, role auth.Role) string {
		k, _, err := auth.Create(ctx, n.stores.Keys, org, role, org+" "+role.String())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pdma := key(p, "pdma", auth.Operator)
	ndma, other := key(k, "ndma", auth.Viewer), key(k, "pmd", auth.Operator)

	// karachi's own gauge (Datastream 1, organisation admin's), and pdma's on islamabad
	if st, b := request(t, k, "POST", "/v1.1/Things", benchKey, strings.Replace(benchGauge, "Khanki", "Kotri", -1)); st != 201 {
		t.Fatalf("karachi's gauge: %d %s", st, b)
	}
	if st, b := request(t, k, "POST", "/v1.1/Datastreams(1)/Observations", benchKey, `{"phenomenonTime":"2026-01-01T00:00:00Z","result":7}`); st != 201 {
		t.Fatalf("karachi's observation: %d %s", st, b)
	}
	if st, b := request(t, p, "POST", "/v1.1/Things", pdma, benchGauge); st != 201 {
		t.Fatalf("pdma's gauge: %d %s", st, b)
	}
	now := time.Now().UTC()
	for i := range 3 {
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d}`, now.Add(time.Duration(i-10)*time.Minute).Format(time.RFC3339), 100+i)
		if st, b := request(t, p, "POST", "/v1.1/Datastreams(1)/Observations", pdma, body); st != 201 {
			t.Fatalf("pdma's observation: %d %s", st, b)
		}
	}
	a := &federation.Agreement{ProviderOrg: "pdma", ConsumerOrg: "ndma", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "flood warning downstream", ValidFrom: now.Add(-time.Hour)}
	if err := p.fed.svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shared values on karachi", func() bool { return k.ingest.Accepted.Load() >= 4 })

	// the remote entities' ids, as the node-wide admin reads them
	var ds remoteDatastreams
	st, b := request(t, k, "GET", "/v1.1/Datastreams?$filter=properties/remote/node%20eq%20'islamabad'&$expand=Thing($expand=Locations,HistoricalLocations),Sensor,ObservedProperty,Observations($expand=FeatureOfInterest)", benchKey, "")
	if err := json.Unmarshal([]byte(b), &ds); st != 200 || err != nil || len(ds.Value) != 1 || len(ds.Value[0].Thing.Locations) != 1 || len(ds.Value[0].Observations) != 3 {
		t.Fatalf("the remote Datastream, as the node-wide admin: %d %s", st, b)
	}
	r := ds.Value[0]
	remote := map[string]int64{"Datastreams": r.ID, "Things": r.Thing.ID, "Locations": r.Thing.Locations[0].ID, "Sensors": r.Sensor.ID,
		"ObservedProperties": r.ObservedProperty.ID, "Observations": r.Observations[0].ID, "FeaturesOfInterest": r.Observations[0].FeatureOfInterest.ID}
	if len(r.Thing.HistoricalLocations) > 0 {
		remote["HistoricalLocations"] = r.Thing.HistoricalLocations[0].ID
	}
	// karachi's own: Datastream 1, Thing 1, its Observation and FeatureOfInterest
	var own struct {
		Value []struct {
			ID                int64 `json:"@iot.id"`
			FeatureOfInterest struct {
				ID int64 `json:"@iot.id"`
			}
		} `json:"value"`
	}
	_, b = request(t, k, "GET", "/v1.1/Datastreams(1)/Observations?$expand=FeatureOfInterest", "", "")
	if json.Unmarshal([]byte(b), &own); len(own.Value) != 1 {
		t.Fatalf("karachi's own observation, anonymously: %s", b)
	}
	// threshold rules over both gauges (what the console's map and the LEVEL command show):
	// karachi's own organisation's over its gauge, ndma's over the remote one
	for _, d := range []int64{1, r.ID} {
		rules := fmt.Sprintf(`rules:
  - id: r%d
    name: rule %d
    kind: threshold
    datastreams: [%d]
    hold: 0s
    levels:
      - {name: Low, value: 10, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: near the gauge, circles: [{center: [32.40, 73.97], radiusKm: 5}]}
    status: Exercise
`, d, d, d)
		path := "/api/v1/rules"
		if d == r.ID {
			path += "?organisation=ndma"
		}
		if st, b := request(t, k, "PUT", path, benchKey, rules); st != 200 {
			t.Fatalf("rules: %d %s", st, b)
		}
	}
	// ndma's rule fires on the shared value: a draft that names it, ndma's alone to read
	// (docs/alerts.md "Organisations")
	fired := time.Now().UTC()
	draft, err := k.alerts.Trigger(ctx, rule.Trigger{RuleID: fmt.Sprintf("r%d", r.ID), Kind: rule.Fire, Level: 0, LevelName: "Low", PrevLevel: -1,
		Datastream: r.ID, Value: 102, ObservedAt: fired, At: fired, Cause: "shared-gauge-cause: 102 ≥ 10"})
	if err != nil || draft == nil || draft.Organisation != "ndma" || draft.State != alert.Draft {
		t.Fatalf("ndma's draft: %+v %v", draft, err)
	}
	local := map[string]int64{"Datastreams": 1, "Things": 1, "Observations": own.Value[0].ID, "FeaturesOfInterest": own.Value[0].FeatureOfInterest.ID}
	// a river network with the remote gauge upstream of karachi's own
	network := fmt.Sprintf(`name: indus-test
step_h: 1
stations:
  - {id: remote-khanki, name: Khanki from islamabad, thing: %d, discharge: %d}
  - {id: kotri, name: Kotri Barrage, thing: 1, discharge: 1}
reaches:
  - {from: remote-khanki, to: kotri, travel_time_h: 6}
`, r.Thing.ID, r.ID)
	if st, b := request(t, k, "PUT", "/api/v1/forecast/network", benchKey, network); st != 200 {
		t.Fatalf("forecast network: %d %s", st, b)
	}
	// both gauges silent for the quality control (an expected interval of a minute; the remote
	// one's set as the receiver's own writes are: a remote Datastream is read-only to others)
	for _, d := range []int64{1, r.ID} {
		props := map[string]any{"qc": map[string]any{"expectedInterval": "PT1M"}}
		if d == r.ID {
			var cur struct {
				Properties map[string]any `json:"properties"`
			}
			_, b := request(t, k, "GET", fmt.Sprintf("/v1.1/Datastreams(%d)", d), benchKey, "")
			if err := json.Unmarshal([]byte(b), &cur); err != nil || cur.Properties["remote"] == nil {
				t.Fatalf("the remote Datastream's properties: %v %s", err, b)
			}
			cur.Properties["qc"] = props["qc"]
			props = cur.Properties
		}
		if err := k.stores.Entities.Update(withImport(ctx), &sensing.Entity{Set: sensing.Datastreams, ID: d, Props: map[string]any{"properties": props}}, false); err != nil {
			t.Fatal(err)
		}
	}

	ids := func(b string) []int64 {
		var v struct {
			Value []struct {
				ID int64 `json:"@iot.id"`
			} `json:"value"`
		}
		json.Unmarshal([]byte(b), &v)
		var out []int64
		for _, e := range v.Value {
			out = append(out, e.ID)
		}
		return out
	}
	count := func(b string) int64 {
		var v struct {
			N int64 `json:"@iot.count"`
		}
		json.Unmarshal([]byte(b), &v)
		return v.N
	}
	readers := []struct {
		name, key string
		sees      bool
	}{{"anonymous", "", false}, {"another organisation's key", other, false}, {"ndma's viewer", ndma, true}, {"the node-wide admin", benchKey, true}}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			get := func(path string) (int, string) { return request(t, k, "GET", path, rd.key, "") }
			want := 404
			if rd.sees {
				want = 200
			}
			for set, id := range remote {
				if st, b := get(fmt.Sprintf("/v1.1/%s(%d)", set, id)); st != want {
					t.Errorf("%s(%d): %d %.200s, want %d", set, id, st, b, want)
				}
				// the collection, with its count: the remote entity in it or not; karachi's own always
				st, b := get("/v1.1/" + set + "?$count=true&$top=1000")
				got := ids(b)
				if st != 200 || slices.Contains(got, id) != rd.sees || int64(len(got)) != count(b) {
					t.Errorf("%s: %d ids %v count %d, want %d in it: %v", set, st, got, count(b), id, rd.sees)
				}
				if l, ok := local[set]; ok && !slices.Contains(got, l) {
					t.Errorf("%s: karachi's own %d missing: %v", set, l, got)
				}
			}
			// navigation, a property, $value, $ref, and the Observations' count read from the counts
			for _, path := range []string{fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", r.ID), fmt.Sprintf("/v1.1/Observations(%d)/Datastream", remote["Observations"]),
				fmt.Sprintf("/v1.1/Things(%d)/Datastreams", r.Thing.ID), fmt.Sprintf("/v1.1/Datastreams(%d)/name", r.ID), fmt.Sprintf("/v1.1/Datastreams(%d)/name/$value", r.ID),
				fmt.Sprintf("/v1.1/Datastreams(%d)/$ref", r.ID), fmt.Sprintf("/v1.1/Locations(%d)/Things", remote["Locations"])} {
				if st, b := get(path); st != want {
					t.Errorf("%s: %d %.200s, want %d", path, st, b, want)
				}
			}
			st, b := get("/v1.1/Observations?$count=true&$top=0")
			if n := count(b); st != 200 || (n == 4) != rd.sees || (n == 1) == rd.sees {
				t.Errorf("Observations' $count: %d %d, want 4 with the shared, 1 without", st, n)
			}
			st, b = get("/v1.1/Things?$expand=Datastreams/Observations,Locations&$count=true")
			if st != 200 || strings.Contains(b, "islamabad") != rd.sees || strings.Contains(b, `"result":101`) != rd.sees {
				t.Errorf("Things with their Datastreams and Observations expanded: %d %.400s (shared data in it: want %v)", st, b, rd.sees)
			}
			st, b = get("/v1.1/Sensors?$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime%20desc))")
			if st != 200 || strings.Contains(b, "islamabad") != rd.sees {
				t.Errorf("Sensors expanded: %d %.400s (shared data in it: want %v)", st, b, rd.sees)
			}
			// the silent Datastreams of the quality control (public reads: anyone), the rules and
			// the forecast network (a viewer key: an anonymous reader gets 401)
			compact := func(b string) string { // the API's JSON is indented
				var c bytes.Buffer
				if json.Compact(&c, []byte(b)) != nil {
					return b
				}
				return c.String()
			}
			st, b = get("/api/v1/qc/silent")
			b = compact(b)
			if st != 200 || strings.Contains(b, fmt.Sprintf(`"datastream":%d,`, r.ID)) != rd.sees || !strings.Contains(b, `"datastream":1,`) {
				t.Errorf("silent Datastreams: %d %.300s (the remote Datastream %d in it: want %v; karachi's own always)", st, b, r.ID, rd.sees)
			}
			for _, x := range []struct{ path, remote, own string }{
				{"/api/v1/rules", fmt.Sprintf(`"datastreams":[%d]`, r.ID), `"datastreams":[1]`},
				{"/api/v1/forecast/network", "remote-khanki", "kotri"},
			} {
				st, b = get(x.path)
				b = compact(b)
				if rd.key == "" {
					if st != 401 {
						t.Errorf("%s, anonymously: %d %.200s, want 401", x.path, st, b)
					}
					continue
				}
				if st != 200 || strings.Contains(b, x.remote) != rd.sees || !strings.Contains(b, x.own) {
					t.Errorf("%s: %d %.400s (%s in it: want %v; %s always)", x.path, st, b, x.remote, rd.sees, x.own)
				}
			}
			if rd.key != "" {
				_, b = get("/api/v1/forecast/network")
				if b = compact(b); strings.Contains(b, fmt.Sprintf(`"thing":%d`, r.Thing.ID)) != rd.sees || strings.Contains(b, `"from":"remote-khanki"`) != rd.sees {
					t.Errorf("forecast network: %.400s (the remote Thing %d and its reach in it: want %v)", b, r.Thing.ID, rd.sees)
				}
			}
			// ndma's draft on the remote Datastream: listed and read by ndma's viewer and the
			// node-wide admin only; 401 anonymously (public reads or not); a 404 for another
			// organisation's key, as for an alert that does not exist; never on the feed, the
			// public page or /metrics
			draftPath := fmt.Sprintf("/api/v1/alerts/%d", draft.ID)
			for _, path := range []string{"/api/v1/alerts", "/api/v1/alerts?state=draft", draftPath, draftPath + "/deliveries"} {
				st, b := get(path)
				switch {
				case rd.key == "":
					if st != 401 {
						t.Errorf("%s, anonymously: %d %.200s, want 401", path, st, b)
					}
				case strings.HasPrefix(path, draftPath) && !rd.sees:
					if st != 404 || !strings.Contains(b, fmt.Sprintf("alert %d does not exist", draft.ID)) {
						t.Errorf("%s: %d %.200s, want the 404 of an alert that does not exist", path, st, b)
					}
				case st != 200 || (strings.Contains(b, "shared-gauge-cause") || strings.Contains(b, fmt.Sprintf(`"rule": "r%d"`, r.ID))) != (rd.sees && path != draftPath+"/deliveries"):
					t.Errorf("%s: %d %.400s (the draft in it: want %v)", path, st, b, rd.sees)
				}
			}
			for _, path := range []string{"/cap/alerts.atom", fmt.Sprintf("/alerts/%d", draft.ID), "/metrics"} {
				if st, b := get(path); strings.Contains(b, "shared-gauge-cause") || strings.Contains(b, fmt.Sprintf("rule %d", r.ID)) ||
					(path == "/alerts/"+fmt.Sprint(draft.ID) && st != 404) {
					t.Errorf("%s: %d %.400s: shows ndma's draft", path, st, b)
				}
			}
			// WIS2's data link
			st, b = get(fmt.Sprintf("/wis2/data/datastreams/%d/observations?from=1&to=100", r.ID))
			if st != want {
				t.Errorf("WIS2 data of the remote Datastream: %d %.200s, want %d", st, b, want)
			}
			// a $batch's part (a write key: a batch is a POST)
			if rd.key == other || rd.key == benchKey {
				st, b = request(t, k, "POST", "/v1.1/$batch", rd.key, fmt.Sprintf(`{"requests":[{"id":"1","method":"get","url":"Datastreams(%d)/Observations"}]}`, r.ID))
				if st != 200 || strings.Contains(b, `"status":200`) != rd.sees {
					t.Errorf("$batch GET of the remote Observations: %d %.300s, want a part of %d", st, b, want)
				}
			}
			// the gauges of the console's map and of the LEVEL command
			var pr *auth.Principal
			switch rd.key {
			case ndma:
				pr = &auth.Principal{KeyID: 1, Organisation: "ndma", Role: auth.Viewer}
			case other:
				pr = &auth.Principal{KeyID: 2, Organisation: "pmd", Role: auth.Operator}
			case benchKey:
				pr = &auth.Principal{KeyID: 3, Organisation: auth.NodeOrganisation, Role: auth.Admin}
			}
			gctx := ctx
			if pr != nil {
				gctx = auth.WithPrincipal(ctx, pr)
			}
			gs, err := k.visibleGauges(gctx)
			if err != nil {
				t.Fatal(err)
			}
			shown := slices.ContainsFunc(gs, func(g twoway.Gauge) bool { return g.Datastream == r.ID })
			if len(gs) == 0 || shown != rd.sees {
				t.Errorf("gauges: %+v, the remote Datastream %d in them: %v, want %v", gs, r.ID, shown, rd.sees)
			}
		})
	}

	// MQTT: no one, ndma's viewer included, gets the shared Observations; karachi's own still go out
	var mu sync.Mutex
	var topics []string
	o := paho.NewClientOptions().AddBroker("tcp://" + k.MQTTAddr()).SetUsername("ndma").SetPassword(ndma).
		SetClientID("remote-read").SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	for _, topic := range []string{"v1.1/Observations", fmt.Sprintf("v1.1/Datastreams(%d)/Observations", r.ID), "v1.1/Datastreams(1)/Observations"} {
		if tok := cl.Subscribe(topic, 0, func(_ paho.Client, m paho.Message) {
			mu.Lock()
			topics = append(topics, m.Topic())
			mu.Unlock()
		}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	time.Sleep(200 * time.Millisecond)
	before := k.ingest.Accepted.Load()
	if st, b := request(t, p, "POST", "/v1.1/Datastreams(1)/Observations", pdma, fmt.Sprintf(`{"phenomenonTime":%q,"result":200}`, now.Add(-time.Minute).Format(time.RFC3339))); st != 201 {
		t.Fatalf("pdma's new observation: %d %s", st, b)
	}
	waitFor(t, "the new shared value on karachi", func() bool { return k.ingest.Accepted.Load() > before })
	// karachi's own observation, a marker: notifications go out in the order values were
	// accepted, so once one is here the shared value's would be too (QoS 0 is at most once: a
	// marker is posted again every 2 s until one arrives)
	seen := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(topics, "v1.1/Datastreams(1)/Observations")
	}
	for i := 0; !seen(); i++ {
		if i == 15 {
			t.Fatal("karachi's own observations never arrived over MQTT in 30 s")
		}
		body := fmt.Sprintf(`{"phenomenonTime":"2026-01-01T01:%02d:00Z","result":8}`, i)
		if st, b := request(t, k, "POST", "/v1.1/Datastreams(1)/Observations", benchKey, body); st != 201 {
			t.Fatalf("karachi's observation: %d %s", st, b)
		}
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !seen(); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	mine, all := 0, 0
	for _, topic := range topics {
		switch topic {
		case "v1.1/Datastreams(1)/Observations":
			mine++
		case "v1.1/Observations":
			all++
		default:
			t.Errorf("MQTT notification on %s: a remote Datastream's", topic)
		}
	}
	if all > mine { // each of karachi's own goes out on both; a shared value would add one here
		t.Errorf("MQTT notifications: %v: more on v1.1/Observations than karachi's own", topics)
	}
}

// remoteDatastreams is a page of Datastreams with the ids of what a remote one brings along
// (its Thing, Locations, HistoricalLocations, Sensor, ObservedProperty, Observations and their
// FeaturesOfInterest), as the remote-data boundary tests read them.
type remoteDatastreams struct {
	Value []struct {
		ID    int64 `json:"@iot.id"`
		Thing struct {
			ID        int64 `json:"@iot.id"`
			Locations []struct {
				ID int64 `json:"@iot.id"`
			}
			HistoricalLocations []struct {
				ID int64 `json:"@iot.id"`
			}
		}
		Sensor struct {
			ID int64 `json:"@iot.id"`
		}
		ObservedProperty struct {
			ID int64 `json:"@iot.id"`
		}
		Observations []struct {
			ID                int64 `json:"@iot.id"`
			FeatureOfInterest struct {
				ID int64 `json:"@iot.id"`
			}
		}
	} `json:"value"`
}
