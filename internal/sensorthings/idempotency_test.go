package sensorthings_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// idemNode is a SensorThings server with the Idempotency-Key store, on a store that can be
// closed and opened again (a restart).
type idemNode struct {
	t        *testing.T
	srv      *httptest.Server
	close    func()
	operator string
	other    string // another operator key of the same organisation
	viewer   string
}

func openIdem(t *testing.T, engine, where string, n *idemNode) {
	t.Helper()
	ctx := context.Background()
	var eng sqlq.Engine
	var closeDB func() error
	if engine == "postgres" {
		db, err := postgres.Open(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		eng, closeDB = db, db.Close
	} else {
		db, err := sqlite.Open(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		eng, closeDB = db, db.Close
	}
	keys, ents := sqlq.NewAuth(eng), sqlq.NewEntities(eng, &ingest.QC{})
	if n.operator == "" {
		for _, k := range []struct {
			dst  *string
			role auth.Role
		}{{&n.operator, auth.Operator}, {&n.other, auth.Operator}, {&n.viewer, auth.Viewer}} {
			clear, _, err := auth.Create(ctx, keys, "pdma", k.role, "t")
			if err != nil {
				t.Fatal(err)
			}
			*k.dst = clear
		}
	}
	st := &sensorthings.Server{Store: ents, Ingest: &ingest.Service{Store: ents}, MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000,
		Idempotency: sqlq.NewIdempotency(eng), PublicRead: true}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	n.srv = httptest.NewServer((&auth.Authenticator{Store: keys}).Middleware(st.Error)(mux))
	n.close = func() { n.srv.Close(); closeDB() }
	t.Cleanup(n.close)
}

func (n *idemNode) post(path, key, idem, body string) (*http.Response, string) {
	n.t.Helper()
	req, _ := http.NewRequest("POST", n.srv.URL+"/v1.1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (n *idemNode) count() string {
	n.t.Helper()
	resp, err := http.Get(n.srv.URL + "/v1.1/Observations?$count=true&$top=0")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	i := strings.Index(string(b), `"@iot.count":`)
	if i < 0 {
		n.t.Fatalf("no count: %s", b)
	}
	return strings.SplitN(string(b)[i+len(`"@iot.count":`):], ",", 2)[0]
}

// A retried POST of observations with an Idempotency-Key — a dataArray and a single
// Observation — gets its first answer again, marked Idempotent-Replayed, and nothing is stored
// twice, also after a restart of the store; the key with another body is 422 naming it; the
// key of another API key is its own; a request that failed gives its key back; concurrent
// retries store once; and a bad header or a target that does not honour it is a 400 naming it.
// On both stores.
func TestIdempotencyKey(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			where := filepath.Join(t.TempDir(), "rabta.db")
			if engine == "postgres" {
				where = storetest.PostgresSchema(t)
			}
			n := &idemNode{t: t}
			openIdem(t, engine, where, n)
			if resp, b := n.post("/Things", n.operator, "", gauge); resp.StatusCode != 201 {
				t.Fatalf("seed: %d %s", resp.StatusCode, b)
			}
			arr := `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[["2025-08-25T12:00:00Z",1],["2025-08-25T13:00:00Z",2],["bad time",3]]}]`
			one := `{"Datastream":{"@iot.id":1},"phenomenonTime":"2025-08-26T12:00:00Z","result":7}`

			first, fb := n.post("/CreateObservations", n.operator, "batch-1", arr)
			if first.StatusCode != 201 || first.Header.Get("Idempotent-Replayed") != "" || strings.Count(fb, "Observations(") != 2 {
				t.Fatalf("first dataArray: %d %s", first.StatusCode, fb)
			}
			firstOne, ob := n.post("/Observations", n.operator, `"obs-1"`, one)
			if firstOne.StatusCode != 201 || firstOne.Header.Get("Location") == "" {
				t.Fatalf("first Observation: %d %s", firstOne.StatusCode, ob)
			}
			if c := n.count(); c != "3" {
				t.Fatalf("%s observations after the first requests, want 3", c)
			}
			retry := func(step string) {
				t.Helper()
				resp, b := n.post("/CreateObservations", n.operator, "batch-1", arr)
				if resp.StatusCode != 201 || b != fb || resp.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("%s: dataArray retry: %d %q %s; want the first answer again", step, resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), b)
				}
				resp, b = n.post("/Observations", n.operator, "obs-1", one) // bare and quoted are one key
				if resp.StatusCode != 201 || b != ob || resp.Header.Get("Location") != firstOne.Header.Get("Location") || resp.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("%s: Observation retry: %d %s %s", step, resp.StatusCode, resp.Header.Get("Location"), b)
				}
				if c := n.count(); c != "3" {
					t.Errorf("%s: %s observations after retries, want 3", step, c)
				}
			}
			retry("before a restart")
			n.close()
			openIdem(t, engine, where, n)
			retry("after a restart")

			// the same key, another request: 422 naming the key; nothing stored
			resp, b := n.post("/CreateObservations", n.operator, "batch-1", strings.Replace(arr, `,1]`, `,10]`, 1))
			if resp.StatusCode != 422 || !strings.Contains(b, `Idempotency-Key \"batch-1\" was used with another request`) {
				t.Errorf("another body: %d %s", resp.StatusCode, b)
			}
			resp, b = n.post("/Datastreams(1)/Observations", n.operator, "obs-1", one)
			if resp.StatusCode != 422 {
				t.Errorf("another path: %d %s", resp.StatusCode, b)
			}
			// another API key's keys are its own
			if resp, b := n.post("/Observations", n.other, "obs-1", strings.Replace(one, "26T12", "27T12", 1)); resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("another API key, same Idempotency-Key: %d %s", resp.StatusCode, b)
			}
			// a refused request gives its key back: fixed, the retry is served
			bad := `{"Datastream":{"@iot.id":99},"phenomenonTime":"2025-08-26T12:00:00Z","result":7}`
			if resp, b := n.post("/Observations", n.operator, "obs-2", bad); resp.StatusCode/100 != 4 {
				t.Errorf("an Observation of a missing Datastream: %d %s", resp.StatusCode, b)
			}
			if resp, b := n.post("/Observations", n.operator, "obs-2", bad); resp.StatusCode/100 != 4 || resp.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("its retry was not served anew: %d %s", resp.StatusCode, b)
			}
			if c := n.count(); c != "4" {
				t.Errorf("%s observations, want 4", c)
			}
			// concurrent retries: one stores, the others get its answer or 409 (still being served)
			var wg sync.WaitGroup
			codes := make([]int, 8)
			for i := range codes {
				wg.Go(func() {
					resp, _ := n.post("/Observations", n.operator, "race", strings.Replace(one, "26T12", "28T12", 1))
					codes[i] = resp.StatusCode
				})
			}
			wg.Wait()
			for _, c := range codes {
				if c != 201 && c != 409 {
					t.Errorf("concurrent retries: %v", codes)
					break
				}
			}
			if c := n.count(); c != "5" {
				t.Errorf("%s observations after 8 concurrent retries, want 5", c)
			}
			// what is refused at the header
			for _, c := range []struct{ path, key, idem, want string }{
				{"/Observations", n.operator, strings.Repeat("k", 256), "Idempotency-Key: want 1 to 255 printable ASCII characters"},
				{"/Observations", n.operator, `"unterminated`, "Idempotency-Key: want 1 to 255"},
				{"/Observations", n.operator, "two words", "Idempotency-Key: want 1 to 255"},
				{"/Things", n.operator, "t-1", "Idempotency-Key is honoured on POST /v1.1/CreateObservations and POSTs of Observations, not on /v1.1/Things"},
			} {
				resp, b := n.post(c.path, c.key, c.idem, one)
				if resp.StatusCode != 400 || !strings.Contains(b, c.want) {
					t.Errorf("POST %s with Idempotency-Key %.20q: %d %s, want 400 with %q", c.path, c.idem, resp.StatusCode, b, c.want)
				}
			}
			// a viewer is refused as without the header: 403, nothing claimed
			if resp, b := n.post("/Observations", n.viewer, "v-1", one); resp.StatusCode != 403 {
				t.Errorf("viewer: %d %s", resp.StatusCode, b)
			}
			if c := n.count(); c != "5" {
				t.Errorf("%s observations at the end, want 5", c)
			}
		})
	}
}

func FuzzParseIdempotencyKey(f *testing.F) {
	for _, s := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "abc", `"a\"b"`, `"a\\b"`, `"`, `""`, `"x"y`, "a b", "\x00", strings.Repeat("k", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, err := sensorthings.ParseIdempotencyKey(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Idempotency-Key: ") {
				t.Errorf("error %q does not name the header", err)
			}
			return
		}
		if k == "" || len(k) > sensorthings.MaxIdempotencyKey {
			t.Errorf("%q: key %q", v, k)
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x20 || k[i] > 0x7e {
				t.Errorf("%q: key %q has a byte outside printable ASCII", v, k)
			}
		}
	})
}

// An Idempotency-Key on a request inside a $batch is honoured as on its own: the batch sent
// again stores nothing twice, and a POST of the same request outside a batch gets the answer
// again. Inside an atomicity group it is refused (400 naming the group), since the group may
// still roll back after the answer was kept, and the group stores nothing. On both stores.
func TestIdempotencyKeyInBatch(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			where := filepath.Join(t.TempDir(), "rabta.db")
			if engine == "postgres" {
				where = storetest.PostgresSchema(t)
			}
			n := &idemNode{t: t}
			openIdem(t, engine, where, n)
			if resp, b := n.post("/Things", n.operator, "", gauge); resp.StatusCode != 201 {
				t.Fatalf("seed: %d %s", resp.StatusCode, b)
			}
			one := `{"Datastream":{"@iot.id":1},"phenomenonTime":"2025-08-26T12:00:00Z","result":7}`
			batch := `{"requests":[{"id":"r1","method":"post","url":"Observations","headers":{"Idempotency-Key":"in-batch-1"},"body":` + one + `}]}`
			for i := range 2 {
				resp, b := n.post("/$batch", n.operator, "", batch)
				if resp.StatusCode != 200 || !strings.Contains(b, `"status":201`) {
					t.Fatalf("batch %d: %d %s", i+1, resp.StatusCode, b)
				}
				if c := n.count(); c != "1" {
					t.Fatalf("%s observations after batch %d, want 1", c, i+1)
				}
			}
			resp, b := n.post("/Observations", n.operator, "in-batch-1", one)
			if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("the batch's request on its own: %d %q %s; want its answer again", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), b)
			}
			// the same key with another body inside a batch: 422 for that request
			other := strings.Replace(batch, `"result":7`, `"result":8`, 1)
			if resp, b := n.post("/$batch", n.operator, "", other); resp.StatusCode != 200 || !strings.Contains(b, `"status":422`) {
				t.Errorf("another body, same key, in a batch: %d %s", resp.StatusCode, b)
			}
			group := `{"requests":[{"id":"g1","atomicityGroup":"g","method":"post","url":"Observations","body":{"Datastream":{"@iot.id":1},"phenomenonTime":"2025-08-27T12:00:00Z","result":1}},` +
				`{"id":"g2","atomicityGroup":"g","method":"post","url":"Observations","headers":{"Idempotency-Key":"in-group"},"body":{"Datastream":{"@iot.id":1},"phenomenonTime":"2025-08-28T12:00:00Z","result":2}}]}`
			resp, b = n.post("/$batch", n.operator, "", group)
			if resp.StatusCode != 200 || !strings.Contains(b, `"status":400`) || !strings.Contains(b, `Idempotency-Key is not honoured inside a change set or atomicity group (\"g\")`) {
				t.Errorf("a key inside an atomicity group: %d %s", resp.StatusCode, b)
			}
			if c := n.count(); c != "1" {
				t.Errorf("%s observations after the refused group, want 1", c)
			}
		})
	}
}
