package node

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestRemoteDataWriteBoundary: islamabad shares organisation pdma's gauge with karachi's
// organisation ndma. On karachi, to an operator key of another organisation (pdma's own there),
// every write that names the remote Datastream or what was made for it — a link by @iot.id in
// a create, a deep insert or a PATCH, a create under it, a $ref, a PATCH, PUT or DELETE of it,
// a $batch part, CreateObservations — answers exactly what an id that does not exist answers
// and changes nothing; ndma's operator and the node-wide admin still get the 403 naming why a
// remote Datastream is read-only.
func TestRemoteDataWriteBoundary(t *testing.T) { remoteDataWriteBoundary(t, "") }

// TestRemoteDataWriteBoundaryPostgres: the same, karachi's store on PostgreSQL.
func TestRemoteDataWriteBoundaryPostgres(t *testing.T) {
	remoteDataWriteBoundary(t, storetest.PostgresSchema(t))
}

func remoteDataWriteBoundary(t *testing.T, dsn string) {
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
	pdmaThere := key(p, "pdma", auth.Operator)
	pdma, ndmaOp, ndma := key(k, "pdma", auth.Operator), key(k, "ndma", auth.Operator), key(k, "ndma", auth.Viewer)

	if st, b := request(t, p, "POST", "/v1.1/Things", pdmaThere, benchGauge); st != 201 {
		t.Fatalf("pdma's gauge on islamabad: %d %s", st, b)
	}
	now := time.Now().UTC()
	if st, b := request(t, p, "POST", "/v1.1/Datastreams(1)/Observations", pdmaThere, fmt.Sprintf(`{"phenomenonTime":%q,"result":100}`, now.Add(-time.Minute).Format(time.RFC3339))); st != 201 {
		t.Fatalf("pdma's observation: %d %s", st, b)
	}
	a := &federation.Agreement{ProviderOrg: "pdma", ConsumerOrg: "ndma", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "flood warning downstream", ValidFrom: now.Add(-time.Hour)}
	if err := p.fed.svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shared value on karachi", func() bool { return k.ingest.Accepted.Load() >= 1 })
	// pdma's own gauge on karachi, made after the remote one
	if st, b := request(t, k, "POST", "/v1.1/Things", pdma, strings.Replace(benchGauge, "Khanki", "Kotri", -1)); st != 201 {
		t.Fatalf("pdma's gauge on karachi: %d %s", st, b)
	}

	get := func(path string) string {
		st, b := request(t, k, "GET", path, benchKey, "")
		if st != 200 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		return b
	}
	var ds remoteDatastreams
	for _, filter := range []string{"properties/remote/node%20eq%20'islamabad'", "name%20eq%20'Discharge%20at%20Kotri'"} {
		b := get("/v1.1/Datastreams?$filter=" + filter + "&$expand=Thing($expand=Locations,HistoricalLocations),Sensor,ObservedProperty,Observations($expand=FeatureOfInterest)")
		var one remoteDatastreams
		if err := json.Unmarshal([]byte(b), &one); err != nil || len(one.Value) != 1 {
			t.Fatalf("Datastreams?$filter=%s: %v %s", filter, err, b)
		}
		ds.Value = append(ds.Value, one.Value...)
	}
	r, own := ds.Value[0], ds.Value[1]
	if len(r.Thing.Locations) != 1 || len(r.Observations) != 1 || len(own.Thing.Locations) != 1 {
		t.Fatalf("the remote Datastream and pdma's own: %+v", ds.Value)
	}
	remote := map[string]int64{"Datastreams": r.ID, "Things": r.Thing.ID, "Locations": r.Thing.Locations[0].ID, "Sensors": r.Sensor.ID,
		"ObservedProperties": r.ObservedProperty.ID, "Observations": r.Observations[0].ID, "FeaturesOfInterest": r.Observations[0].FeatureOfInterest.ID}
	if len(r.Thing.HistoricalLocations) > 0 {
		remote["HistoricalLocations"] = r.Thing.HistoricalLocations[0].ID
	}
	const missing = 99999

	// everything there is, as the node-wide admin reads it: a refused write changes none of it
	state := func() string {
		var sb strings.Builder
		for _, set := range []string{"Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties", "Observations", "FeaturesOfInterest", "MultiDatastreams"} {
			sb.WriteString(get("/v1.1/" + set + "?$count=true&$top=1000&$orderby=id"))
		}
		return sb.String()
	}
	before := state()

	digits, reqID := regexp.MustCompile(`[0-9]+`), regexp.MustCompile(`"requestId":"[^"]*"`)
	message := func(b string) string {
		var e struct {
			Message string `json:"message"`
			Error   struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(b), &e) == nil && (e.Message != "" || e.Error.Message != "") {
			b = e.Message + e.Error.Message
		}
		return digits.ReplaceAllString(reqID.ReplaceAllString(b, ""), "N")
	}
	type write struct {
		name, method, path, body string // %[1]d: the id named
	}
	obs := fmt.Sprintf(`"phenomenonTime":%q,"result":5`, now.Format(time.RFC3339))
	var writes []write
	for set := range remote {
		writes = append(writes,
			write{"PATCH " + set, "PATCH", "/v1.1/" + set + "(%[1]d)", `{"description":"changed"}`},
			write{"PUT " + set, "PUT", "/v1.1/" + set + "(%[1]d)", `{"name":"x","description":"changed"}`},
			write{"DELETE " + set, "DELETE", "/v1.1/" + set + "(%[1]d)", ""},
		)
	}
	newDs := func(thing, sensor, prop string) string {
		return `{"name":"pdma's","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
			"unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},"Thing":{"@iot.id":` + thing + `},"Sensor":{"@iot.id":` + sensor + `},"ObservedProperty":{"@iot.id":` + prop + `}}`
	}
	o := func(id int64) string { return fmt.Sprint(id) }
	writes = append(writes,
		write{"a Datastream linking the remote Sensor", "POST", "/v1.1/Datastreams", newDs(o(own.Thing.ID), "%[1]d", o(own.ObservedProperty.ID))},
		write{"a Datastream linking the remote ObservedProperty", "POST", "/v1.1/Datastreams", newDs(o(own.Thing.ID), o(own.Sensor.ID), "%[1]d")},
		write{"a Datastream linking the remote Thing", "POST", "/v1.1/Datastreams", newDs("%[1]d", o(own.Sensor.ID), o(own.ObservedProperty.ID))},
		write{"a Datastream under the remote Thing", "POST", "/v1.1/Things(%[1]d)/Datastreams", newDs(o(own.Thing.ID), o(own.Sensor.ID), o(own.ObservedProperty.ID))},
		write{"a MultiDatastream linking the remote Sensor", "POST", "/v1.1/MultiDatastreams", `{"name":"m","description":"m","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
			"multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"],"unitOfMeasurements":[{"name":"m","symbol":"m","definition":"m"}],
			"Thing":{"@iot.id":` + o(own.Thing.ID) + `},"Sensor":{"@iot.id":%[1]d},"ObservedProperties":[{"@iot.id":` + o(own.ObservedProperty.ID) + `}]}`},
		write{"a MultiDatastream linking the remote ObservedProperty", "POST", "/v1.1/MultiDatastreams", `{"name":"m","description":"m","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
			"multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"],"unitOfMeasurements":[{"name":"m","symbol":"m","definition":"m"}],
			"Thing":{"@iot.id":` + o(own.Thing.ID) + `},"Sensor":{"@iot.id":` + o(own.Sensor.ID) + `},"ObservedProperties":[{"@iot.id":%[1]d}]}`},
		write{"a Location linking the remote Thing", "POST", "/v1.1/Locations", `{"name":"l","description":"l","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[1,2]},"Things":[{"@iot.id":%[1]d}]}`},
		write{"a Location under the remote Thing", "POST", "/v1.1/Things(%[1]d)/Locations", `{"name":"l","description":"l","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[1,2]}}`},
		write{"a Thing linking the remote Location", "POST", "/v1.1/Things", `{"name":"t","description":"t","Locations":[{"@iot.id":%[1]d}]}`},
		write{"a deep insert linking the remote Sensor", "POST", "/v1.1/Things", `{"name":"t","description":"t","Datastreams":[{"name":"d","description":"d","observationType":"x","unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},"Sensor":{"@iot.id":%[1]d},"ObservedProperty":{"@iot.id":` + o(own.ObservedProperty.ID) + `}}]}`},
		write{"an Observation linking the remote Datastream", "POST", "/v1.1/Observations", `{` + obs + `,"Datastream":{"@iot.id":%[1]d}}`},
		write{"an Observation under the remote Datastream", "POST", "/v1.1/Datastreams(%[1]d)/Observations", `{` + obs + `}`},
		write{"an Observation linking the remote FeatureOfInterest", "POST", "/v1.1/Datastreams(" + o(own.ID) + ")/Observations", `{` + obs + `,"FeatureOfInterest":{"@iot.id":%[1]d}}`},
		write{"PATCH of pdma's Datastream to the remote Sensor", "PATCH", "/v1.1/Datastreams(" + o(own.ID) + ")", `{"Sensor":{"@iot.id":%[1]d}}`},
		write{"PATCH of pdma's Datastream to the remote Thing", "PATCH", "/v1.1/Datastreams(" + o(own.ID) + ")", `{"Thing":{"@iot.id":%[1]d}}`},
		write{"a $ref to the remote Location", "POST", "/v1.1/Things(" + o(own.Thing.ID) + ")/Locations/$ref", `{"@iot.id":%[1]d}`},
		write{"a $ref from the remote Thing", "POST", "/v1.1/Things(%[1]d)/Locations/$ref", `{"@iot.id":` + o(own.Thing.Locations[0].ID) + `}`},
		write{"CreateObservations on the remote Datastream", "POST", "/v1.1/CreateObservations", `[{"Datastream":{"@iot.id":%[1]d},"components":["phenomenonTime","result"],"dataArray":[["` + now.Format(time.RFC3339) + `",5]]}]`},
		write{"a $batch part on the remote Datastream", "POST", "/v1.1/$batch", `{"requests":[{"id":"1","method":"post","url":"Datastreams(%[1]d)/Observations","body":{` + obs + `}}]}`},
	)
	// which remote id each write names
	idOf := func(w write) int64 {
		switch {
		case strings.Contains(w.name, "remote Sensor"):
			return remote["Sensors"]
		case strings.Contains(w.name, "remote ObservedProperty"):
			return remote["ObservedProperties"]
		case strings.Contains(w.name, "remote Thing"):
			return remote["Things"]
		case strings.Contains(w.name, "remote Location"):
			return remote["Locations"]
		case strings.Contains(w.name, "remote Datastream"):
			return remote["Datastreams"]
		case strings.Contains(w.name, "remote FeatureOfInterest"):
			return remote["FeaturesOfInterest"]
		}
		return remote[w.name[strings.Index(w.name, " ")+1:]]
	}
	for _, w := range writes {
		id := idOf(w)
		if id == 0 {
			t.Fatalf("%s: no id", w.name)
		}
		fill := func(s string, id int64) string { return strings.ReplaceAll(s, "%[1]d", fmt.Sprint(id)) }
		st, b := request(t, k, w.method, fill(w.path, id), pdma, fill(w.body, id))
		wst, wb := request(t, k, w.method, fill(w.path, missing), pdma, fill(w.body, missing))
		whole := strings.Contains(w.path, "$batch") || strings.Contains(w.path, "CreateObservations") // the error is a part's, an item's
		if st != wst || message(b) != message(wb) || !whole && st != 404 {
			t.Errorf("%s (%d) by pdma: %d %.300s\nan id that does not exist: %d %.300s", w.name, id, st, b, wst, wb)
		}
		if !strings.Contains(b, "does not exist") && !strings.Contains(b, "not found") {
			t.Errorf("%s by pdma: %.300s, want it not to exist", w.name, b)
		}
		if after := state(); after != before {
			t.Errorf("%s by pdma changed what there is", w.name)
			before = after
		}
	}
	// the same writes naming pdma's own entities are taken: what was refused was the remote id
	for _, w := range []write{
		{"a Datastream of pdma's own", "POST", "/v1.1/Datastreams", newDs(o(own.Thing.ID), o(own.Sensor.ID), o(own.ObservedProperty.ID))},
		{"a Thing linking pdma's own Location", "POST", "/v1.1/Things", fmt.Sprintf(`{"name":"t","description":"t","Locations":[{"@iot.id":%d}]}`, own.Thing.Locations[0].ID)},
		{"an Observation of pdma's own Datastream", "POST", "/v1.1/Observations", fmt.Sprintf(`{`+obs+`,"Datastream":{"@iot.id":%d}}`, own.ID)},
	} {
		if st, b := request(t, k, w.method, w.path, pdma, w.body); st != 201 {
			t.Errorf("%s by pdma: %d %.300s", w.name, st, b)
		}
	}
	// ndma's viewer finds no Datastream of pdma's on its Sensor
	var on struct {
		Value []struct {
			ID int64 `json:"@iot.id"`
		} `json:"value"`
	}
	if st, b := request(t, k, "GET", fmt.Sprintf("/v1.1/Sensors(%d)/Datastreams", remote["Sensors"]), ndma, ""); st != 200 || json.Unmarshal([]byte(b), &on) != nil || len(on.Value) != 1 || on.Value[0].ID != r.ID {
		t.Errorf("ndma's viewer, the remote Sensor's Datastreams: %d %s", st, b)
	}

	// a rule of pdma's naming the remote Datastream: as for one that does not exist (not a
	// 403 naming the organisation that receives it)
	pdmaAdmin := key(k, "pdma", auth.Admin)
	rule := func(ds int64) string {
		return fmt.Sprintf("rules:\n  - id: upstream\n    name: upstream\n    kind: threshold\n    datastreams: [%d]\n    hold: 0s\n"+
			"    levels:\n      - {name: Low, value: 10, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}\n"+
			"    area: {desc: near the gauge, circles: [{center: [32.40, 73.97], radiusKm: 5}]}\n    status: Exercise\n", ds)
	}
	st, b := request(t, k, "PUT", "/api/v1/rules", pdmaAdmin, rule(r.ID))
	wst, wb := request(t, k, "PUT", "/api/v1/rules", pdmaAdmin, rule(missing))
	if st != wst || message(b) != message(wb) || strings.Contains(b, "ndma") || !strings.Contains(b, "does not exist") {
		t.Errorf("pdma's rule on the remote Datastream: %d %.300s\non one that does not exist: %d %.300s", st, b, wst, wb)
	}
	// a forecast network with a station on the remote Thing or Datastream: as for ones that do
	// not exist
	network := func(thing, ds int64) string {
		return fmt.Sprintf("name: upstream\nstep_h: 1\nstations:\n  - {id: up, name: Up, thing: %d, discharge: %d}\n"+
			"  - {id: down, name: Down, thing: %d, discharge: %d}\nreaches:\n  - from: up\n    to: down\n    travel_time_h: 6\n"+
			"    model: {k_h: 2, x: 0.2, m: 1, scheme: rk4, lag_h: 6, gain: 1, rmse: 5000, n: 100}\n", thing, ds, thing, ds)
	}
	for _, c := range []struct {
		what          string
		thing, ds     int64
		missingThing  int64
		missingStream int64
	}{
		{"the remote Thing", r.Thing.ID, 0, missing, 0},
		{"the remote Datastream", 0, r.ID, 0, missing},
	} {
		// pdma's own gauge on karachi for the other half of the station
		thing, ds, mThing, mDs := c.thing, c.ds, c.missingThing, c.missingStream
		if thing == 0 {
			thing, mThing = own.Thing.ID, own.Thing.ID
		}
		if ds == 0 {
			ds, mDs = own.ID, own.ID
		}
		st, b := request(t, k, "PUT", "/api/v1/forecast/network", pdmaAdmin, network(thing, ds))
		wst, wb := request(t, k, "PUT", "/api/v1/forecast/network", pdmaAdmin, network(mThing, mDs))
		if st != wst || message(b) != message(wb) || strings.Contains(b, "ndma") || st != 404 || !strings.Contains(b, "does not exist") {
			t.Errorf("pdma's forecast network on %s: %d %.300s\non one that does not exist: %d %.300s", c.what, st, b, wst, wb)
		}
	}
	// nor a rule of the node-wide organisation (whose drafts all its viewers read), though the
	// node-wide admin may read the Datastream; a rule of ndma's, the receiver's, may
	if st, b := request(t, k, "PUT", "/api/v1/rules", benchKey, rule(r.ID)); st != 403 || !strings.Contains(message(b), `remote data received for organisation "ndma"`) {
		t.Errorf("the node-wide organisation's rule on the remote Datastream: %d %.300s, want 403", st, b)
	}
	if st, b := request(t, k, "PUT", "/api/v1/rules?organisation=ndma", benchKey, rule(r.ID)); st != 200 {
		t.Errorf("ndma's rule on the remote Datastream, applied by the node-wide admin: %d %.300s", st, b)
	}
	if st, b := request(t, k, "PUT", "/api/v1/rules", key(k, "ndma", auth.Admin), "rules: []\n"); st != 200 {
		t.Errorf("ndma's rules emptied again: %d %.300s", st, b)
	}

	// those who may read it are told why it is read-only, as before
	before = state()
	for _, who := range []struct{ name, key string }{{"ndma's operator", ndmaOp}, {"the node-wide admin", benchKey}} {
		for _, w := range []write{
			{"an Observation under the remote Datastream", "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", r.ID), `{` + obs + `}`},
			{"an Observation linking the remote Datastream", "POST", "/v1.1/Observations", fmt.Sprintf(`{`+obs+`,"Datastream":{"@iot.id":%d}}`, r.ID)},
			{"a Location under the remote Thing", "POST", fmt.Sprintf("/v1.1/Things(%d)/Locations", r.Thing.ID), `{"name":"l","description":"l","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[1,2]}}`},
			{"PATCH of the remote Sensor", "PATCH", fmt.Sprintf("/v1.1/Sensors(%d)", r.Sensor.ID), `{"description":"changed"}`},
			{"DELETE of the remote Datastream", "DELETE", fmt.Sprintf("/v1.1/Datastreams(%d)", r.ID), ""},
		} {
			st, b := request(t, k, w.method, w.path, who.key, w.body)
			if st != 403 || !strings.Contains(b, "remote Datastream") || !strings.Contains(b, "read-only") {
				t.Errorf("%s by %s: %d %.300s, want 403 naming the remote Datastream", w.name, who.name, st, b)
			}
		}
	}
	if after := state(); after != before {
		t.Fatal("the refused writes of ndma's operator and the node-wide admin changed what there is")
	}
}
