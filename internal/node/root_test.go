package node_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
)

// conformanceTests names, for each conformance class the service root may list, the test that
// shows it true: package directory (from this one) and test function. A class listed without
// one here fails TestServiceRoot.
var conformanceTests = map[string][2]string{
	"http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel":                               {"../sensorthings", "TestDeepInsertAndNavigation"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities": {"../sensorthings", "TestDeepInsertAndNavigation"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/request-data":                            {"../sensorthings", "TestQueryOptions"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete":                    {"../sensorthings", "TestUpdateDeleteCascade"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array":                   {"../sensorthings", "TestDataArrayReportsPerItem"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/batch-request/batch-request":             {"../sensorthings", "TestBatchMultipartGolden"},
	"http://www.opengis.net/spec/iot_sensing/1.1/req/multi-datastream":                        {"../sensorthings", "TestMultiDatastreams"},
	sensorthings.MQTTCreateClass:                                                              {"../../cmd/rabta", "TestMQTT"},
}

// testFuncs returns the names of the Test functions in the _test.go files of dir.
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("test files of %s: %v %v", dir, files, err)
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Test") {
				out[fn.Name.Name] = true
			}
		}
	}
	return out
}

// The service root answers at /v1.1 and /v1.1/ alike — 200, the same document, no redirect —
// for GET and HEAD, also when the node is published under a base path (PublicURL); every
// entity set's url in it answers 200 with a collection; every conformance class it lists has a
// test that shows it, and the MQTT class comes with the endpoint of the node's real listener.
func TestServiceRoot(t *testing.T) {
	for _, public := range []string{"", "http://example.org/rabta"} {
		t.Run("public="+public, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			n, err := node.New(t.Context(), node.Options{ID: "root", DataDir: t.TempDir(), PublicURL: public,
				HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", AdminKey: adminKey, Registry: reg, PublicRead: true,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			if err := n.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			base := "http://" + n.Addr().String()
			// a reverse proxy publishing the node under PublicURL strips the base path
			local := func(u string) string {
				if public != "" {
					if !strings.HasPrefix(u, public+"/") {
						t.Fatalf("link %s is not under PublicURL %s", u, public)
					}
					return base + strings.TrimPrefix(u, public)
				}
				return u
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(method, u string) (*http.Response, string) {
				t.Helper()
				resp, err := client.Do(must(http.NewRequest(method, u, nil)))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			var docs []string
			for _, path := range []string{"/v1.1", "/v1.1/"} {
				resp, body := get("GET", base+path)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
					t.Fatalf("GET %s: %d (Location %q), want 200 with the document", path, resp.StatusCode, resp.Header.Get("Location"))
				}
				docs = append(docs, body)
				resp, body = get("HEAD", base+path)
				if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Location") != "" {
					t.Errorf("HEAD %s: %d %q", path, resp.StatusCode, body)
				}
			}
			for _, path := range []string{"/v1.1", "/v1.1/"} { // read-only: a write is refused where it was sent, not redirected
				req := must(http.NewRequest("POST", base+path, strings.NewReader(`{}`)))
				req.Header.Set("Authorization", "Bearer "+adminKey)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("POST %s: %d, Allow %q, want 405 allowing GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"))
				}
			}
			if docs[0] != docs[1] {
				t.Errorf("/v1.1 and /v1.1/ differ:\n%s\n%s", docs[0], docs[1])
			}
			var root struct {
				Value []struct {
					Name string `json:"name"`
					URL  string `json:"url"`
				} `json:"value"`
				ServerSettings map[string]json.RawMessage `json:"serverSettings"`
			}
			if err := json.Unmarshal([]byte(docs[0]), &root); err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, v := range root.Value {
				names[v.Name] = true
				resp, body := get("GET", local(v.URL))
				var page struct {
					Value []any `json:"value"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || page.Value == nil {
					t.Errorf("%s at %s: %d %s", v.Name, v.URL, resp.StatusCode, body)
				}
				if !strings.HasSuffix(v.URL, "/v1.1/"+v.Name) {
					t.Errorf("%s: url %s", v.Name, v.URL)
				}
			}
			for set := range sensing.Sets {
				if !names[set] {
					t.Errorf("the root lacks %s", set)
				}
			}
			if len(root.Value) != len(sensing.Sets) {
				t.Errorf("the root lists %d sets, want %d", len(root.Value), len(sensing.Sets))
			}
			var conf []string
			if err := json.Unmarshal(root.ServerSettings["conformance"], &conf); err != nil {
				t.Fatal(err)
			}
			funcs := map[string]map[string]bool{}
			for _, c := range conf {
				ref, ok := conformanceTests[c]
				if !ok {
					t.Errorf("conformance class %s is listed but no test shows it (add one to conformanceTests)", c)
					continue
				}
				if funcs[ref[0]] == nil {
					funcs[ref[0]] = testFuncs(t, ref[0])
				}
				if !funcs[ref[0]][ref[1]] {
					t.Errorf("conformance class %s: test %s not found in %s", c, ref[1], ref[0])
				}
			}
			var mqtt struct {
				Endpoints []string `json:"endpoints"`
			}
			if err := json.Unmarshal(root.ServerSettings[sensorthings.MQTTCreateClass], &mqtt); err != nil || !strings.Contains(strings.Join(conf, " "), sensorthings.MQTTCreateClass) {
				t.Fatalf("no MQTT create class or endpoints: %s", docs[0])
			}
			_, port, _ := net.SplitHostPort(n.MQTTAddr())
			host := "127.0.0.1"
			if public != "" {
				host = "example.org"
			}
			if len(mqtt.Endpoints) != 1 || mqtt.Endpoints[0] != "mqtt://"+host+":"+port {
				t.Errorf("MQTT endpoints %v, want [mqtt://%s:%s] (the listener at %s)", mqtt.Endpoints, host, port, n.MQTTAddr())
			}
			if _, ok := root.ServerSettings["http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"]; ok {
				t.Error("receive-updates-via-mqtt is claimed: only new Observations are published, not every entity and property")
			}
		})
	}
}

func must(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}
