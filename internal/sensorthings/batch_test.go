package sensorthings_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// bnode is a SensorThings server for the batch tests, on either store, maybe mounted under a
// path prefix (http.StripPrefix) or with a PublicURL.
type bnode struct {
	t      testing.TB
	srv    *httptest.Server
	prefix string
	admin  string
	ingest *ingest.Service // counts the observations committed
}

// onBothStores runs fn on SQLite and on PostgreSQL (RABTA_TEST_POSTGRES; skipped without it
// outside CI).
func onBothStores(t *testing.T, fn func(t *testing.T, store string)) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) { fn(t, store) })
	}
}

// openTestStore opens a fresh store of kind store ("sqlite", or "postgres" on a schema of its
// own, with pgParams appended to the DSN), closed when t ends, and creates an admin key of
// organisation pdma on it, returned in clear.
func openTestStore(t testing.TB, store, pgParams string) (*sqlq.Entities, *sqlq.Auth, string) {
	t.Helper()
	ctx := context.Background()
	var eng sqlq.Engine
	switch store {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		eng = db
	case "postgres":
		db, err := postgres.Open(ctx, storetest.PostgresSchema(t)+pgParams)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		eng = db
	default:
		t.Fatalf("unknown store %q", store)
	}
	keys, ents := sqlq.NewAuth(eng), sqlq.NewEntities(eng, &ingest.QC{})
	admin, _, err := auth.Create(ctx, keys, "pdma", auth.Admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	return ents, keys, admin
}

func newBatchNode(t testing.TB, store, prefix, publicURL string) *bnode {
	t.Helper()
	ents, keys, admin := openTestStore(t, store, "")
	svc := &ingest.Service{Store: ents}
	st := &sensorthings.Server{Store: ents, Ingest: svc, PublicRead: true, PublicURL: publicURL,
		MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	var h http.Handler = mux
	if prefix != "" {
		outer := http.NewServeMux()
		outer.Handle(prefix+"/", http.StripPrefix(prefix, mux))
		h = outer
	}
	srv := httptest.NewServer(auth.RequestID((&auth.Authenticator{Store: keys}).Middleware(st.Error)(h)))
	t.Cleanup(srv.Close)
	return &bnode{t: t, srv: srv, prefix: prefix, admin: admin, ingest: svc}
}

// do sends method path (under the prefix and /v1.1) with the admin key and the header
// fields given as name, value pairs.
func (n *bnode) do(method, path, contentType, body string, hdr ...string) (int, http.Header, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+n.prefix+"/v1.1"+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.admin)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// batch posts a batch and wants 200.
func (n *bnode) batch(contentType, body string, hdr ...string) (http.Header, string) {
	n.t.Helper()
	status, h, b := n.do("POST", "/$batch", contentType, body, hdr...)
	if status != http.StatusOK {
		n.t.Fatalf("$batch: status %d: %s", status, b)
	}
	return h, b
}

// names returns the names of the Things stored, by id.
func (n *bnode) names() string {
	n.t.Helper()
	status, _, b := n.do("GET", "/Things?$select=id,name&$orderby=id", "", "")
	if status != 200 {
		n.t.Fatalf("GET Things: %d %s", status, b)
	}
	var v struct {
		Value []struct {
			ID   any    `json:"@iot.id"`
			Name string `json:"name"`
		} `json:"value"`
	}
	json.Unmarshal([]byte(b), &v)
	var out []string
	for _, e := range v.Value {
		out = append(out, fmt.Sprintf("%v:%s", e.ID, e.Name))
	}
	return strings.Join(out, " ")
}

// count returns the @iot.count of a collection.
func (n *bnode) count(set string) int {
	n.t.Helper()
	_, _, b := n.do("GET", "/"+set+"?$count=true&$top=0", "", "")
	var v struct {
		Count int `json:"@iot.count"`
	}
	if err := json.Unmarshal([]byte(b), &v); err != nil {
		n.t.Fatalf("GET %s: %v %s", set, err, b)
	}
	return v.Count
}

var (
	hostRE     = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	ridRE      = regexp.MustCompile(`"requestId": ?"[^"]*"`)
	boundaryRE = regexp.MustCompile(`boundary=([0-9A-Za-z'()+_,./:=?-]+)`)
)

// normalise makes a batch response comparable across runs and stores: hosts, request ids
// and multipart boundaries (random) replaced by fixed names, CRLF by LF.
func normalise(contentType, body string) string {
	s := "Content-Type: " + contentType + "\n\n" + body
	n := 0
	for _, m := range boundaryRE.FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(m[1], "BOUNDARY") {
			continue
		}
		n++
		s = strings.ReplaceAll(s, m[1], fmt.Sprintf("BOUNDARY%d", n))
	}
	s = hostRE.ReplaceAllString(s, "http://HOST")
	s = ridRE.ReplaceAllString(s, `"requestId":"RID"`)
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("response differs from %s:\n%s", file, got)
	}
}

const (
	thingBody = `{"name":"Qadirabad","description":"Qadirabad Barrage gauge","Locations":[{"name":"Qadirabad","description":"barrage",
	  "encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.68,32.32]}}]}`
	dsBody = `{"name":"Discharge at Qadirabad","description":"discharge","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
	  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
	  "Sensor":{"name":"staff gauge","description":"PDMA report","encodingType":"text/html","metadata":"https://pdma.punjab.gov.pk"},
	  "ObservedProperty":{"name":"Discharge","definition":"http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/","description":"river discharge"}}`
	obsBody = `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":1001480,"Datastream":{"@iot.id":"$ds"}}`
)

// TestBatchJSONGolden: the JSON batch format (OData 4.01 JSON §19) on both stores — a
// request, an atomicity group that commits ($gauge in a URL, $ds as an @iot.id), one that
// fails and leaves nothing, dependsOn on the failed group (424) and on the good one, a full
// URL, a nested $batch (refused) and a reference to an entity that was rolled back.
func TestBatchJSONGolden(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newBatchNode(t, store, "", "")
		body := `{"requests":[
		  {"id":"gauge","method":"post","url":"Things","body":` + thingBody + `},
		  {"id":"ds","atomicityGroup":"g1","method":"post","url":"$gauge/Datastreams","body":` + dsBody + `},
		  {"id":"o1","atomicityGroup":"g1","method":"post","url":"/v1.1/Observations","body":` + obsBody + `},
		  {"id":"ok","atomicityGroup":"g2","method":"post","url":"Things","body":` + strings.ReplaceAll(thingBody, "Qadirabad", "Marala") + `},
		  {"id":"okds","atomicityGroup":"g2","method":"post","url":"$ok/Datastreams","body":` + strings.ReplaceAll(dsBody, "Qadirabad", "Marala") + `},
		  {"id":"okobs","atomicityGroup":"g2","method":"post","url":"$okds/Observations","body":{"phenomenonTime":"2025-08-27T12:00:00Z","result":2}},
		  {"id":"bad","atomicityGroup":"g2","method":"post","url":"Datastreams(999)/Observations","body":{"phenomenonTime":"2025-08-27T12:00:00Z","result":1}},
		  {"id":"never","atomicityGroup":"g2","method":"patch","url":"$gauge","body":{"name":"never"}},
		  {"id":"dep","method":"delete","url":"$gauge","dependsOn":["g2"]},
		  {"id":"full","method":"get","url":"` + n.srv.URL + `/v1.1/Things?$count=true&$select=id,name","dependsOn":["g1","o1"]},
		  {"id":"nested","method":"post","url":"$batch","body":{"requests":[]}},
		  {"id":"gone","method":"get","url":"$ok"}
		]}`
		h, b := n.batch("application/json", body, "Prefer", "odata.continue-on-error")
		if got := h.Get("Preference-Applied"); got != "odata.continue-on-error" {
			t.Errorf("Preference-Applied %q", got)
		}
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Fatal(err)
		}
		pretty, _ := json.MarshalIndent(v, "", "  ")
		golden(t, "batch_json.golden", normalise(h.Get("Content-Type"), string(pretty)+"\n"))

		var out struct {
			Responses []struct {
				ID     string          `json:"id"`
				Status int             `json:"status"`
				Body   json.RawMessage `json:"body"`
			} `json:"responses"`
		}
		json.Unmarshal([]byte(b), &out)
		got := map[string]int{}
		for _, r := range out.Responses {
			got[r.ID] = r.Status
		}
		want := map[string]int{"gauge": 201, "ds": 201, "o1": 201, "ok": 424, "okds": 424, "okobs": 424, "bad": 404, "never": 424,
			"dep": 424, "full": 200, "nested": 400, "gone": 400}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("statuses %v\nwant     %v", got, want)
		}
		// the failed group left nothing: no Marala, no second Datastream, the name unchanged
		if got := n.names(); got != "1:Qadirabad" {
			t.Errorf("Things after the batch: %q, want only 1:Qadirabad", got)
		}
		if c := n.count("Datastreams"); c != 1 {
			t.Errorf("%d Datastreams, want 1", c)
		}
		if c := n.count("Observations"); c != 1 {
			t.Errorf("%d Observations, want 1", c)
		}
		// the ingest path counted the committed observation, not the rolled-back one
		if a := n.ingest.Accepted.Load(); a != 1 {
			t.Errorf("ingest counted %d accepted observations, want 1", a)
		}
		// the Observation went to the Datastream $ds named, at the Thing $gauge named
		_, _, ds := n.do("GET", "/Observations(1)/Datastream/Thing?$select=name", "", "")
		if !strings.Contains(ds, `"Qadirabad"`) {
			t.Errorf("Observation's Thing: %s", ds)
		}
	})
}

// crlf turns a readable multipart text (LF) into the wire form (CRLF).
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// httpPart is one application/http part with a Content-ID (none when id is "").
func httpPart(boundary, id, method, url, body string) string {
	s := "--" + boundary + "\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n"
	if id != "" {
		s += "Content-ID: " + id + "\n"
	}
	s += "\n" + method + " " + url + " HTTP/1.1\n"
	if body != "" {
		s += "Content-Type: application/json\n\n" + body + "\n"
	} else {
		s += "\n"
	}
	return s
}

// TestBatchMultipartGolden: the multipart/mixed format (OData 4.0 §11.7) on both stores — a
// request with a Content-ID, a change set that commits ($gauge in a URL, $ds as an @iot.id,
// one body with Content-Length, one without), a change set that fails (one response, nothing
// stored), a relative GET, a full URL, a nested $batch (refused).
func TestBatchMultipartGolden(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newBatchNode(t, store, "", "")
		withLength := fmt.Sprintf("--cs1\nContent-Type: application/http\nContent-Transfer-Encoding: binary\nContent-ID: o1\n\n"+
			"POST Observations HTTP/1.1\nContent-Type: application/json\nContent-Length: %d\n\n%s\n", len(obsBody), obsBody)
		body := httpPart("b", "gauge", "POST", "/v1.1/Things", thingBody) +
			"--b\nContent-Type: multipart/mixed; boundary=cs1\n\n" +
			httpPart("cs1", "ds", "POST", "$gauge/Datastreams", dsBody) +
			withLength +
			"--cs1--\n" +
			"--b\nContent-Type: multipart/mixed; boundary=cs2\n\n" +
			httpPart("cs2", "ok", "POST", "Things", `{"name":"Marala","description":"rolled back"}`) +
			httpPart("cs2", "bad", "POST", "Datastreams(999)/Observations", `{"phenomenonTime":"2025-08-27T12:00:00Z","result":1}`) +
			httpPart("cs2", "never", "PATCH", "$gauge", `{"name":"never"}`) +
			"--cs2--\n" +
			httpPart("b", "", "GET", "Things?$count=true&$select=id,name&$filter=description%20ne%20'http://x'", "") +
			httpPart("b", "full", "GET", n.srv.URL+"/v1.1/Datastreams(1)/Observations?$select=result", "") +
			httpPart("b", "nested", "POST", "$batch", `{"requests":[]}`) +
			"--b--\n"
		h, b := n.batch("multipart/mixed; boundary=b", crlf(body), "Prefer", "odata.continue-on-error")
		golden(t, "batch_multipart.golden", normalise(h.Get("Content-Type"), b))

		// the response parses as multipart/mixed with the standard library, in the same shape
		statuses := readMultipartStatuses(t, h.Get("Content-Type"), b)
		if want := "gauge:201 [ds:201 o1:201] bad:404 :200 full:200 nested:400"; statuses != want {
			t.Errorf("statuses %q, want %q", statuses, want)
		}
		if got := n.names(); got != "1:Qadirabad" {
			t.Errorf("Things after the batch: %q, want only 1:Qadirabad", got)
		}
		if c := n.count("Observations"); c != 1 {
			t.Errorf("%d Observations, want 1", c)
		}
	})
}

// readMultipartStatuses reads a multipart batch response: "<Content-ID>:<status>" per part,
// a change set's in brackets.
func readMultipartStatuses(t *testing.T, contentType, body string) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("response Content-Type %q", contentType)
	}
	var parts []string
	var read func(r io.Reader, boundary string) string
	read = func(r io.Reader, boundary string) string {
		var out []string
		mr := multipart.NewReader(r, boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			pmt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pmt == "multipart/mixed" {
				out = append(out, "["+read(p, pp["boundary"])+"]")
				continue
			}
			if pmt != "application/http" || p.Header.Get("Content-Transfer-Encoding") != "binary" {
				t.Fatalf("response part headers %v", p.Header)
			}
			resp, err := http.ReadResponse(bufio.NewReader(p), nil)
			if err != nil {
				t.Fatalf("response part: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.ContentLength != int64(len(b)) {
				t.Errorf("part Content-Length %d, body %d bytes", resp.ContentLength, len(b))
			}
			out = append(out, fmt.Sprintf("%s:%d", p.Header.Get("Content-Id"), resp.StatusCode))
		}
		return strings.Join(out, " ")
	}
	parts = append(parts, read(strings.NewReader(body), params["boundary"]))
	return strings.Join(parts, " ")
}

// TestBatchMount: absolute request paths under the path the server is mounted at (behind
// http.StripPrefix) and under its PublicURL's path; a path outside the service root is refused.
func TestBatchMount(t *testing.T) {
	n := newBatchNode(t, "sqlite", "/sta", "")
	_, b := n.batch("application/json", `{"requests":[
	  {"id":"t","method":"post","url":"/sta/v1.1/Things","body":{"name":"a","description":"mounted"}},
	  {"id":"l","method":"post","url":"$t/Locations","body":{"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73,32]}}},
	  {"id":"g","method":"get","url":"/sta/v1.1/Things(1)/Locations?$select=name"},
	  {"id":"root","method":"get","url":"/sta/v1.1/"},
	  {"id":"out","method":"get","url":"/other/v1.1/Things"}]}`, "Prefer", "continue-on-error")
	for _, want := range []string{`"id":"t","status":201`, `"id":"l","status":201`, `"id":"g","status":200`, `"id":"root","status":200`,
		`"id":"out","status":400`, `is outside the service root`} {
		if !strings.Contains(b, want) {
			t.Errorf("mounted at /sta: response lacks %s:\n%s", want, b)
		}
	}
	mp := crlf(httpPart("b", "x", "POST", "/sta/v1.1/Things", `{"name":"b","description":"multipart"}`) +
		httpPart("b", "", "GET", "$x/Locations", "") + "--b--\n")
	h, b := n.batch("multipart/mixed; boundary=b", mp)
	if s := readMultipartStatuses(t, h.Get("Content-Type"), b); s != "x:201 :200" {
		t.Errorf("multipart under /sta: %s\n%s", s, b)
	}

	p := newBatchNode(t, "sqlite", "", "https://example.org/rabta/")
	_, b = p.batch("application/json", `{"requests":[
	  {"id":"t","method":"post","url":"/rabta/v1.1/Things","body":{"name":"a","description":"public"}},
	  {"id":"u","method":"patch","url":"$t","body":{"name":"renamed"}},
	  {"id":"full","method":"get","url":"https://example.org/rabta/v1.1/Things(1)?$select=name"},
	  {"id":"evil","method":"post","url":"http://evil.example/rabta/v1.1/Things","body":{"name":"elsewhere","description":"another host"}}]}`, "Prefer", "continue-on-error")
	for _, want := range []string{`"location":"https://example.org/rabta/v1.1/Things(1)"`, `"id":"u","status":200`, `"id":"full","status":200`, `"name":"renamed"`,
		`"id":"evil","status":400`, `names host \"evil.example\", not this service's`} {
		if !strings.Contains(b, want) {
			t.Errorf("PublicURL under /rabta: response lacks %s:\n%s", want, b)
		}
	}
}

// TestBatchStopsOnError: without Prefer: odata.continue-on-error a batch stops after the
// first request or change set that fails (OData 4.01 Protocol §8.2.8.3); nothing after it runs.
func TestBatchStopsOnError(t *testing.T) {
	n := newBatchNode(t, "sqlite", "", "")
	h, b := n.batch("application/json", `{"requests":[
	  {"id":"a","method":"post","url":"Things","body":{"name":"a","description":"runs"}},
	  {"id":"x","method":"get","url":"Things(99)"},
	  {"id":"b","method":"post","url":"Things","body":{"name":"b","description":"does not run"}}]}`)
	if !strings.Contains(b, `"id":"x","status":404`) || strings.Contains(b, `"id":"b"`) || h.Get("Preference-Applied") != "" {
		t.Errorf("JSON: %s %v", b, h)
	}
	mp := httpPart("b", "c", "POST", "Things", `{"name":"c","description":"runs"}`) +
		"--b\nContent-Type: multipart/mixed; boundary=cs\n\n" +
		httpPart("cs", "d", "POST", "Things", `{"name":"d","description":"rolled back"}`) +
		httpPart("cs", "e", "DELETE", "Things(99)", "") + "--cs--\n" +
		httpPart("b", "f", "POST", "Things", `{"name":"f","description":"does not run"}`) + "--b--\n"
	h, b = n.batch("multipart/mixed; boundary=b", crlf(mp), "Prefer", "odata.continue-on-error=false")
	if s := readMultipartStatuses(t, h.Get("Content-Type"), b); s != "c:201 e:404" {
		t.Errorf("multipart: %s\n%s", s, b)
	}
	if got := n.names(); got != "1:a 2:c" {
		t.Errorf("Things %q, want a and c only", got)
	}
}

// TestBatchRefused: a batch that cannot be read is a 400 that says what and where, and
// nothing of it runs.
func TestBatchRefused(t *testing.T) {
	n := newBatchNode(t, "sqlite", "", "")
	post := httpPart("b", "", "POST", "Things", `{"name":"x","description":"y"}`)
	many := strings.Repeat(post, 600) + "--b\nContent-Type: multipart/mixed; boundary=c\n\n" +
		strings.Repeat(httpPart("c", "", "POST", "Things", `{"name":"x","description":"y"}`), 401) + "--c--\n--b--\n"
	for _, tc := range []struct {
		name, ct, body, want string
	}{
		{"no boundary", "multipart/mixed", crlf(post + "--b--\n"), "no boundary parameter"},
		{"other type", "text/plain", "x", `got Content-Type "text/plain"`},
		{"no closing boundary", "multipart/mixed; boundary=b", crlf(post), "ends before the closing boundary"},
		{"no part", "multipart/mixed; boundary=b", "just text\r\n", "part 1"},
		{"missing Content-Type", "multipart/mixed; boundary=b", crlf("--b\nContent-Transfer-Encoding: binary\n\nGET Things HTTP/1.1\n\n--b--\n"), "part 1 has no Content-Type"},
		{"wrong part type", "multipart/mixed; boundary=b", crlf(post + "--b\nContent-Type: text/plain\n\nhello\n--b--\n"), "part 2: Content-Type text/plain; want application/http"},
		{"base64", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: application/http\nContent-Transfer-Encoding: base64\n\nR0VU\n--b--\n"), `Content-Transfer-Encoding "base64"; want binary`},
		{"bad request line", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: application/http\n\nPLEASE CREATE A THING\n--b--\n"), "part 1: request line"},
		{"change set without boundary", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: multipart/mixed\n\n--b--\n"), "part 1: a change set's Content-Type multipart/mixed has no boundary"},
		{"empty change set", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: multipart/mixed; boundary=c\n\n--c--\n--b--\n"), "part 1: the change set holds no request"},
		{"GET in change set", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: multipart/mixed; boundary=c\n\n" + httpPart("c", "", "GET", "Things", "") + "--c--\n--b--\n"), "GET is not allowed in a change set"},
		{"change set in change set", "multipart/mixed; boundary=b", crlf("--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: multipart/mixed; boundary=d\n\n--d--\n--c--\n--b--\n"), "part 1 (change set), part 1: Content-Type multipart/mixed; a change set holds only application/http"},
		{"duplicate Content-ID", "multipart/mixed; boundary=b", crlf(httpPart("b", "1", "POST", "Things", "{}") + httpPart("b", "1", "POST", "Things", "{}") + "--b--\n"), `id "1" is used twice`},
		{"too many", "multipart/mixed; boundary=b", crlf(many), "more than 1000 requests (maxBatch), change sets included"},
		{"JSON too many", "application/json", `{"requests":[` + strings.TrimSuffix(strings.Repeat(`{"method":"get","url":"Things"},`, 1001), ",") + `]}`, "1001 requests, at most 1000 (maxBatch)"},
		{"JSON dependsOn forward", "application/json", `{"requests":[{"id":"a","method":"get","url":"Things","dependsOn":["b"]},{"id":"b","method":"get","url":"Things"}]}`, `requests[0]: dependsOn "b" names no request`},
		{"JSON group apart", "application/json", `{"requests":[{"method":"post","url":"Things","atomicityGroup":"g","body":{}},{"method":"get","url":"Things"},{"method":"post","url":"Things","atomicityGroup":"g","body":{}}]}`, `requests[2]: the requests of atomicity group "g" must be adjacent`},
		{"JSON GET in group", "application/json", `{"requests":[{"method":"get","url":"Things","atomicityGroup":"g"}]}`, `requests[0]: GET is not allowed in an atomicity group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, b := n.do("POST", "/$batch", tc.ct, tc.body)
			var e struct {
				Message string `json:"message"`
			}
			json.Unmarshal([]byte(b), &e)
			if status != 400 || !strings.Contains(e.Message, tc.want) {
				t.Errorf("status %d, body %s; want 400 with %q", status, b, tc.want)
			}
		})
	}
	if c := n.count("Things"); c != 0 {
		t.Errorf("refused batches stored %d Things", c)
	}
}

// TestBatchResponseBound: past maxBatchResponse a GET is not answered (413 naming the bound),
// and nothing after it runs; the write before it stands.
func TestBatchResponseBound(t *testing.T) {
	defer sensorthings.SetMaxBatchResponse(1300)()
	n := newBatchNode(t, "sqlite", "", "")
	_, b := n.batch("application/json", `{"requests":[
	  {"id":"w","method":"post","url":"Things","body":{"name":"a","description":"`+strings.Repeat("x", 100)+`"}},
	  {"id":"g1","method":"get","url":"Things"},
	  {"id":"g2","method":"get","url":"Things"},
	  {"id":"w2","method":"post","url":"Things","body":{"name":"b","description":"y"}}]}`, "Prefer", "odata.continue-on-error=true")
	for _, want := range []string{`"id":"w","status":201`, `"id":"g1","status":200`, `"id":"g2","status":413`, `"id":"w2","status":413`, `exceed 1300 bytes (maxBatchResponse)`} {
		if !strings.Contains(b, want) {
			t.Errorf("response lacks %s:\n%s", want, b)
		}
	}
	if got := n.names(); got != "1:a" {
		t.Errorf("Things: %q, want 1:a (the write after the bound did not run)", got)
	}
}

// TestBatchDocExamples runs the $batch curl commands of docs/sensorthings.md, with the
// example files they send, on both stores: every request of each answers 2xx.
func TestBatchDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sensorthings.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`curl -s -H "\$K" -H '([^']*)' --data-binary @(\S+) 'localhost:8080/v1\.1/\$batch'`)
	cmds := re.FindAllStringSubmatch(string(doc), -1)
	if len(cmds) != 2 {
		t.Fatalf("docs/sensorthings.md has %d $batch curl examples, want 2 (multipart and JSON)", len(cmds))
	}
	onBothStores(t, func(t *testing.T, store string) {
		for _, c := range cmds {
			n := newBatchNode(t, store, "", "")
			body, err := os.ReadFile(filepath.Join("../..", c[2]))
			if err != nil {
				t.Fatal(err)
			}
			name, ct, _ := strings.Cut(c[1], ": ")
			if name != "Content-Type" {
				t.Fatalf("the example's header is %q, want its Content-Type", c[1])
			}
			h, b := n.batch(ct, string(body))
			var statuses string
			if strings.HasPrefix(ct, "multipart/") {
				statuses = readMultipartStatuses(t, h.Get("Content-Type"), b)
			} else {
				var out struct {
					Responses []struct {
						ID     string `json:"id"`
						Status int    `json:"status"`
					} `json:"responses"`
				}
				json.Unmarshal([]byte(b), &out)
				for _, r := range out.Responses {
					statuses += fmt.Sprintf(" %s:%d", r.ID, r.Status)
				}
			}
			for _, f := range strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(statuses)) {
				if !strings.HasSuffix(f, ":200") && !strings.HasSuffix(f, ":201") {
					t.Errorf("%s: %s\n%s", c[2], statuses, b)
					break
				}
			}
			if !strings.Contains(b, `"result":1001480`) {
				t.Errorf("%s: the last request does not show the observation:\n%s", c[2], b)
			}
			if got := n.names(); got != "1:Qadirabad" {
				t.Errorf("%s: Things %q", c[2], got)
			}
		}
	})
}

// BenchmarkBatch1000: one $batch of 1,000 Observation creates, over HTTP on loopback, per
// store and format: JSON with every request on its own (a transaction each), JSON with all of
// them in one atomicity group, multipart with all of them in one change set (one transaction).
//
//	go test -run '^$' -bench Batch1000 -benchtime 5x -count 5 ./internal/sensorthings
func BenchmarkBatch1000(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		for _, format := range []string{"json", "json-atomic", "multipart-changeset"} {
			b.Run(store+"/"+format, func(b *testing.B) {
				n := newBatchNode(b, store, "", "")
				n.batch("application/json", `{"requests":[{"id":"t","method":"post","url":"Things","body":`+thingBody+`},
				  {"method":"post","url":"$t/Datastreams","body":`+dsBody+`}]}`)
				ct, body := batchOf1000(format)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					_, out := n.batch(ct, body)
					if i == 0 && (strings.Count(out, "201 Created")+strings.Count(out, `"status":201`)) != 1000 {
						b.Fatalf("not 1000 creates: %.300s", out)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
			})
		}
	}
}

// batchOf1000 is a batch of 1,000 Observation creates on Datastream 1 in format.
func batchOf1000(format string) (contentType, body string) {
	var sb strings.Builder
	obs := func(i int) string {
		return fmt.Sprintf(`{"phenomenonTime":"2025-08-%02dT%02d:%02d:00Z","result":%d}`, 1+i/1440%28, i/60%24, i%60, 1000+i)
	}
	switch format {
	case "multipart-changeset":
		sb.WriteString("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n")
		for i := 0; i < 1000; i++ {
			o := obs(i)
			fmt.Fprintf(&sb, "--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: %d\r\n\r\n"+
				"POST Datastreams(1)/Observations HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s\r\n", i, len(o), o)
		}
		sb.WriteString("--c--\r\n--b--\r\n")
		return "multipart/mixed; boundary=b", sb.String()
	default:
		group := ""
		if format == "json-atomic" {
			group = `"atomicityGroup":"all",`
		}
		sb.WriteString(`{"requests":[`)
		for i := 0; i < 1000; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"id":"%d",%s"method":"post","url":"Datastreams(1)/Observations","body":%s}`, i, group, obs(i))
		}
		sb.WriteString(`]}`)
		return "application/json", sb.String()
	}
}

// TestBatchChangeSetForeignKey: an Observation in a change set that names a FeatureOfInterest
// that does not exist fails with a 4xx whose message names the missing entity, in that part
// of the response, and the whole change set is rolled back (the Thing and Datastream made
// before it in the set are gone), on both stores and in both formats.
func TestBatchChangeSetForeignKey(t *testing.T) {
	const badObs = `{"phenomenonTime":"2025-08-27T12:00:00Z","result":1,"Datastream":{"@iot.id":"$ds"},"FeatureOfInterest":{"@iot.id":999}}`
	wantMissing := func(t *testing.T, status int, body string) {
		t.Helper()
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("the failed request's body is no error: %v %s", err, body)
		}
		if status < 400 || status > 499 || !strings.Contains(e.Message, "FeaturesOfInterest(999)") {
			t.Errorf("the failed request: %d %q; want a 4xx naming FeaturesOfInterest(999)", status, e.Message)
		}
	}
	nothingStored := func(t *testing.T, n *bnode) {
		t.Helper()
		for _, set := range []string{"Things", "Locations", "Datastreams", "Sensors", "Observations", "FeaturesOfInterest"} {
			if c := n.count(set); c != 0 {
				t.Errorf("%d %s stored, want none: the change set was not rolled back", c, set)
			}
		}
	}
	onBothStores(t, func(t *testing.T, store string) {
		t.Run("multipart", func(t *testing.T) {
			n := newBatchNode(t, store, "", "")
			mp := "--b\nContent-Type: multipart/mixed; boundary=cs\n\n" +
				httpPart("cs", "t", "POST", "Things", thingBody) +
				httpPart("cs", "ds", "POST", "$t/Datastreams", dsBody) +
				httpPart("cs", "o", "POST", "Observations", badObs) +
				"--cs--\n--b--\n"
			h, b := n.batch("multipart/mixed; boundary=b", crlf(mp))
			if s := readMultipartStatuses(t, h.Get("Content-Type"), b); !regexp.MustCompile(`^o:4\d\d$`).MatchString(s) {
				t.Fatalf("statuses %q; want only the failed request's (o:4xx), as OData 4.0 §11.7.4 asks\n%s", s, b)
			}
			// the single part: its HTTP response's body
			_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
			p, err := multipart.NewReader(strings.NewReader(b), params["boundary"]).NextPart()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(p), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			wantMissing(t, resp.StatusCode, string(body))
			nothingStored(t, n)
		})
		t.Run("json", func(t *testing.T) {
			n := newBatchNode(t, store, "", "")
			_, b := n.batch("application/json", `{"requests":[
			  {"id":"t","atomicityGroup":"g","method":"post","url":"Things","body":`+thingBody+`},
			  {"id":"ds","atomicityGroup":"g","method":"post","url":"$t/Datastreams","body":`+dsBody+`},
			  {"id":"o","atomicityGroup":"g","method":"post","url":"Observations","body":`+badObs+`}]}`)
			var out struct {
				Responses []struct {
					ID     string          `json:"id"`
					Status int             `json:"status"`
					Body   json.RawMessage `json:"body"`
				} `json:"responses"`
			}
			if err := json.Unmarshal([]byte(b), &out); err != nil || len(out.Responses) != 3 {
				t.Fatalf("%v %s", err, b)
			}
			for _, r := range out.Responses[:2] {
				if r.Status != http.StatusFailedDependency {
					t.Errorf("%s: %d, want 424 (rolled back with the group)", r.ID, r.Status)
				}
			}
			wantMissing(t, out.Responses[2].Status, string(out.Responses[2].Body))
			nothingStored(t, n)
		})
	})
}
