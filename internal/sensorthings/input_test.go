package sensorthings_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
)

// newInputNode is a node on store (as newBatchNode) that also gives its Server, for the MQTT
// paths, with a body limit of 8 MiB.
func newInputNode(t *testing.T, store string) (*bnode, *sensorthings.Server) {
	t.Helper()
	ents, keys, admin := openTestStore(t, store, "")
	svc := &ingest.Service{Store: ents}
	st := &sensorthings.Server{Store: ents, Ingest: svc, PublicRead: true, MaxBody: 8 << 20, DefaultTop: 100, MaxTop: 1000}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	srv := httptest.NewServer(auth.RequestID((&auth.Authenticator{Store: keys}).Middleware(st.Error)(mux)))
	t.Cleanup(srv.Close)
	return &bnode{t: t, srv: srv, admin: admin, ingest: svc}, st
}

// TestHostileInput: what encoding/json lets through but must not be stored (text that is not
// UTF-8, NUL, lone surrogates, a member twice, numbers beyond float64, coordinates off the
// globe, values over the documented size limits) is refused at the boundary with a 400 that
// says what and where, on every path an entity or observation comes in by (HTTP create and
// update, dataArray, $batch, MQTT create, MQTT ingest), on both stores; nothing is stored.
// At each limit, the value is accepted.
func TestHostileInput(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n, srv := newInputNode(t, store)
		for _, b := range []string{strings.Replace(thingBody, `"Locations"`, `"Datastreams":[`+dsBody+`],"Locations"`, 1)} {
			if st, _, body := n.do("POST", "/Things", "", b); st != 201 {
				t.Fatalf("seed: %d %s", st, body)
			}
		}
		loc := func(coords string) string {
			return `{"name":"l","description":"d","encodingType":"application/geo+json","location":` + coords + `}`
		}
		thing := func(name string) string { return `{"name":"` + name + `","description":"d"}` }
		obs := func(result string) string {
			return `{"phenomenonTime":"2025-08-27T12:00:00Z","result":` + result + `,"Datastream":{"@iot.id":1}}`
		}
		big := func(n int) string { return strings.Repeat("x", n) }
		cases := []struct {
			name, path, body string
			want             string // "" for 201
		}{
			{"name not UTF-8", "/Things", thing("a\xffb"), "name (byte 11): byte 0xff: the text is not UTF-8"},
			{"name overlong UTF-8", "/Things", thing("a\xc0\xafb"), "not UTF-8"},
			{"name with NUL", "/Things", thing(`a\u0000b`), `name (byte 11): the NUL character (\u0000) is not allowed`},
			{"name with a lone surrogate", "/Things", thing(`a\ud800b`), "surrogate pair without its other half"},
			{"a surrogate pair", "/Things", thing(`a\ud83d\ude00b`), ""},
			{"member twice", "/Things", `{"name":"a","description":"d","name":"b"}`, `name (byte 31): member "name" given twice`},
			{"member twice, escaped", "/Things", `{"name":"a","description":"d","n\u0061me":"b"}`, `member "name" given twice`},
			{"member twice inside properties", "/Things", `{"name":"a","description":"d","properties":{"x":{"y":1,"y":2}}}`, `properties.x.y (byte 56): member "y" given twice`},
			{"same member in two objects", "/Things", `{"name":"a","description":"d","properties":{"name":{"name":1}}}`, ""},
			{"number beyond float64", "/Things", `{"name":"a","description":"d","properties":{"x":[1,1e400]}}`, "properties.x[1] (byte 52): number 1e400 is out of range"},
			{"name at the limit", "/Things", thing(big(sensing.MaxNameBytes)), ""},
			{"name past the limit", "/Things", thing(big(sensing.MaxNameBytes + 1)), "Thing.name: 4097 bytes, over the limit of 4096 bytes for name"},
			{"31 MiB name", "/Things", thing(big(31 << 20)), "larger than the limit"}, // the body limit first
			{"description past the limit", "/Things", `{"name":"a","description":"` + big(sensing.MaxStringBytes+1) + `"}`, "over the limit of 65536 bytes for description"},
			{"properties past the limit", "/Things", `{"name":"a","description":"d","properties":{"x":"` + big(sensing.MaxJSONBytes) + `"}}`, "over the limit of 1048576 bytes for properties"},
			{"point at the corner of the globe", "/Locations", loc(`{"type":"Point","coordinates":[180,-90]}`), ""},
			{"point off the globe", "/Locations", loc(`{"type":"Point","coordinates":[999,999]}`), "Location.location: longitude 999 is outside -180..180"},
			{"latitude off the globe", "/Locations", loc(`{"type":"Point","coordinates":[74,90.5]}`), "latitude 90.5 is outside -90..90"},
			{"coordinate beyond float64", "/Locations", loc(`{"type":"Point","coordinates":[1e400,1]}`), "location.coordinates[0] (byte 111): number 1e400 is out of range"},
			{"coordinates not numbers", "/Locations", loc(`{"type":"Point","coordinates":["74","31"]}`), "Location.location: invalid Point"},
			{"point without coordinates", "/Locations", loc(`{"type":"Point"}`), "Location.location"},
			{"unknown geometry type", "/Locations", loc(`{"type":"Blob","coordinates":[1,1]}`), `type "Blob" is not a GeoJSON geometry`},
			{"polygon off the globe", "/Locations", loc(`{"type":"Polygon","coordinates":[[[0,0],[0,200],[1,1],[0,0]]]}`), "latitude 200"},
			{"bow-tie polygon", "/Locations", loc(`{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`), "invalid Polygon"},
			{"open ring", "/Locations", loc(`{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,2]]]}`), "invalid Polygon"},
			{"feature off the globe", "/Locations", loc(`{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[0,0],[0,-91]]}}`), "geometry: latitude -91"},
			{"feature without geometry", "/Locations", loc(`{"type":"Feature","properties":{},"geometry":null}`), "a Feature without a geometry"},
			{"collection off the globe", "/Locations", loc(`{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[0,0]},{"type":"MultiPoint","coordinates":[[181,0]]}]}`), "longitude 181"},
			{"feature of interest off the globe", "/FeaturesOfInterest", `{"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[0,100]}}`, "FeatureOfInterest.feature: latitude 100"},
			{"result not UTF-8", "/Observations", obs("\"\xe2\x82\""), "result (byte 52): byte 0xe2: the text is not UTF-8"},
			{"result with NUL", "/Observations", obs(`"a\u0000"`), "NUL"},
			{"result beyond float64", "/Observations", obs(`-1e999`), "result (byte 51): number -1e999 is out of range"},
			{"result at the limit", "/Observations", obs(`"` + big(sensing.MaxResultBytes-2) + `"`), ""},
			{"result past the limit", "/Observations", obs(`"` + big(sensing.MaxResultBytes-1) + `"`), "over the limit of 1048576 bytes"},
			{"resultQuality past the limit", "/Observations", `{"result":1,"resultQuality":{"x":"` + big(sensing.MaxJSONBytes) + `"},"Datastream":{"@iot.id":1}}`, "Observation.resultQuality: 1048584 bytes, over the limit of 1048576 bytes"},
			{"parameters past the limit", "/Observations", `{"result":1,"parameters":{"x":"` + big(sensing.MaxJSONBytes) + `"},"Datastream":{"@iot.id":1}}`, "Observation.parameters: 1048584 bytes, over the limit"},
			{"parameters twice", "/Observations", `{"result":1,"parameters":{"a":1},"parameters":{"a":2},"Datastream":{"@iot.id":1}}`, `member "parameters" given twice`},
			{"update: name not UTF-8", "/Things(1)", thing("\xff"), "not UTF-8"},
			{"update: member twice", "/Things(1)", `{"name":"a","name":"b"}`, "given twice"},
			{"update: location off the globe", "/Locations(1)", `{"location":{"type":"Point","coordinates":[0,-100]}}`, "latitude -100"},
			{"update: name past the limit", "/Things(1)", thing(big(sensing.MaxNameBytes + 1)), "over the limit of 4096"},
		}
		count := func(set string) int {
			st, _, b := n.do("GET", "/"+set+"?$count=true&$top=0", "", "")
			var m struct {
				N int `json:"@iot.count"`
			}
			if err := json.Unmarshal([]byte(b), &m); st != 200 || err != nil {
				t.Fatalf("count %s: %d %s", set, st, b)
			}
			return m.N
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				set := strings.Split(strings.TrimPrefix(c.path, "/"), "(")[0]
				before := count(set)
				method := "POST"
				if strings.Contains(c.path, "(") {
					method = "PATCH"
				}
				st, _, b := n.do(method, c.path, "", c.body)
				after := count(set)
				if c.want == "" {
					want := 201
					if method == "PATCH" {
						want = 200
					}
					if st != want {
						t.Fatalf("%s %s: %d %.300s", method, c.path, st, b)
					}
					return
				}
				var m struct{ Message string }
				json.Unmarshal([]byte(b), &m)
				if st/100 != 4 || !strings.Contains(m.Message, c.want) {
					t.Errorf("%s %s: %d %.300s\nwant a 4xx containing %q", method, c.path, st, b, c.want)
				}
				if after != before {
					t.Errorf("%s: %d before, %d after: a refused request stored something", set, before, after)
				}
				if method != "POST" {
					return
				}
				// the same body inside a $batch (JSON format) is refused in its part
				batch := `{"requests":[{"id":"1","method":"post","url":"` + set + `","body":` + c.body + `}]}`
				if st, _, b := n.do("POST", "/$batch", "application/json", batch); !(st/100 == 4 || st == 200 && strings.Contains(b, `"status":400`)) {
					t.Errorf("$batch: %d %.300s\nwant the refusal (%q)", st, b, c.want)
				}
				if after := count(set); after != before {
					t.Errorf("$batch stored something: %d before, %d after", before, after)
				}
				if set != "Observations" {
					return
				}
				// an Observation by MQTT (create and ingest) and in a dataArray row
				if _, err := srv.MQTTCreate(context.Background(), "v1.1/Datastreams(1)/Observations", []byte(c.body)); apperr.KindOf(err) != apperr.Invalid && apperr.KindOf(err) != apperr.TooLarge {
					t.Errorf("MQTT create: %v", err)
				}
				if _, _, err := srv.MQTTObservation("v1.1/Datastreams(1)/Observations", []byte(c.body)); apperr.KindOf(err) != apperr.Invalid && apperr.KindOf(err) != apperr.TooLarge {
					t.Errorf("MQTT create, batched: %v", err)
				}
				if _, err := sensorthings.DecodeIngestMessage([]byte(strings.Replace(c.body, `,"Datastream":{"@iot.id":1}`, "", 1)), time.Now()); apperr.KindOf(err) != apperr.Invalid {
					t.Errorf("MQTT ingest: %v", err)
				}
				var res string
				if i := strings.Index(c.body, `"result":`); i >= 0 && strings.HasPrefix(c.body, `{"phenomenonTime"`) {
					res = strings.TrimSuffix(c.body[i+len(`"result":`):], `,"Datastream":{"@iot.id":1}}`)
				}
				if res != "" {
					da := `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[["2025-08-28T12:00:00Z",` + res + `]]}]`
					if st, _, b := n.do("POST", "/CreateObservations", "", da); !(st == 400 || st == 201 && strings.Contains(b, "error: ")) {
						t.Errorf("dataArray: %d %.300s", st, b)
					}
				}
				if after := count(set); after != before {
					t.Errorf("MQTT or dataArray stored something: %d before, %d after", before, after)
				}
			})
		}
		// a dataArray row over a size limit is refused alone, naming the limit
		da := `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result","parameters"],"dataArray":[` +
			`["2025-08-29T12:00:00Z",1,{"x":"` + big(sensing.MaxJSONBytes) + `"}],["2025-08-29T13:00:00Z","` + big(sensing.MaxResultBytes) + `",null]]}]`
		if st, _, b := n.do("POST", "/CreateObservations", "", da); st != 201 || !strings.Contains(b, "error: CreateObservations[0].dataArray[0]: parameters: 1048584 bytes, over the limit of 1048576 bytes") ||
			!strings.Contains(b, "error: CreateObservations[0].dataArray[1]: result: 1048578 bytes, over the limit of 1048576 bytes") {
			t.Errorf("dataArray over the limits: %d %.400s", st, b)
		}
		// a body of the wrong shape says what is wrong with it
		for _, c := range []struct{ path, ct, body, want string }{
			{"/CreateObservations", "", `[{"Datastream":{"@iot.id":1},"component":["result"],"dataArray":[[1]]}]`, `unknown field "component"`},
			{"/CreateObservations", "", `[{"Datastream":{"@iot.id":1},"components":"result","dataArray":[[1]]}]`, `components: want an array, got a JSON string`},
			{"/$batch", "application/json", `{"requests":[],"atomic":true}`, `unknown field "atomic"`},
		} {
			st, _, b := n.do("POST", c.path, c.ct, c.body)
			var m struct{ Message string }
			json.Unmarshal([]byte(b), &m)
			if st != 400 || !strings.Contains(m.Message, c.want) {
				t.Errorf("POST %s %s: %d %s, want 400 with %q", c.path, c.body, st, b, c.want)
			}
		}
		// nothing stored is served as invalid JSON
		for _, set := range []string{"Things", "Locations", "Observations", "FeaturesOfInterest"} {
			st, _, b := n.do("GET", "/"+set+"?$top=1000", "", "")
			if st != 200 || !json.Valid([]byte(b)) || strings.Contains(b, "\ufffd") {
				t.Errorf("GET %s: %d, valid JSON %v", set, st, json.Valid([]byte(b)))
			}
		}
	})
}
