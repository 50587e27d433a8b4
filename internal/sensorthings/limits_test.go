package sensorthings_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// TestFilterLimits: every $filter within the documented limits (64 KiB, 100 levels, and
// sqlq.MaxCollectionNesting collections nested) gets a right answer on both stores, at the
// limit; one past it, a 400 that names the limit. Before, 1,000 or-ed terms and a chain of
// 1,000 adds were a 500 from SQLite's expression depth (1,000).
func TestFilterLimits(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newBatchNode(t, store, "", "")
		for i := range 3 {
			body := strings.Replace(thingBody, `"name":"Qadirabad"`, fmt.Sprintf(`"name":"Qadirabad %d","properties":{"a":%d},"Datastreams":[%s]`, i+1, i+1, dsBody), 1)
			if st, _, b := n.do("POST", "/Things", "", body); st != 201 {
				t.Fatalf("create: %d %s", st, b)
			}
		}
		rep := strings.Repeat
		ors := func(k int) string { // id eq 1 or id eq 1000 or ... : k terms, Thing 1 and 3 among them
			terms := []string{"id eq 1"}
			for i := 1; i < k-1; i++ {
				terms = append(terms, fmt.Sprintf("id eq %d", 1000+i))
			}
			return strings.Join(append(terms, "id eq 3"), " or ")
		}
		long := ors(4000)
		for len(long) < 60<<10 {
			long += " or id eq 99999"
		}
		// a chain of k nested any() over Datastreams/Thing/Datastreams, the innermost body
		// being body (on variable d<k>)
		lambdas := func(k int, body string) string {
			s := "Datastreams/any(d1: "
			for i := 2; i <= k; i++ {
				s += fmt.Sprintf("d%d/Thing/Datastreams/any(d%d: ", i-1, i)
			}
			return s + strings.ReplaceAll(body, "$v", fmt.Sprintf("d%d", k)) + rep(")", k)
		}
		path := func(k int) string { // k collections in one path: Locations/Things/Locations/...
			var segs []string
			for i := range k {
				segs = append(segs, []string{"Locations", "Things"}[i%2])
			}
			return strings.Join(segs, "/")
		}
		maxNest := sqlq.MaxCollectionNesting
		cases := []struct {
			name, filter string
			want         string // the ids of the Things returned, or "limit: ..." for a 400 naming it
		}{
			{"1000 or-ed terms", ors(1000), "[1 3]"},
			{"60 KiB of or-ed terms", long, "[1 3]"},
			{"1000 and-ed terms", "id ge 1" + rep(" and id le 2", 999), "[1 2]"},
			{"99 adds: 100 levels", "id" + rep(" add 1", 99) + " eq 101", "[2]"},
			{"100 adds", "id" + rep(" add 1", 100) + " eq 101", "limit: over the limit of 100"},
			{"1000 adds", "id" + rep(" add 1", 1000) + " eq 101", "limit: over the limit of 100"},
			{"99 muls on JSON", "properties/a" + rep(" mul 1", 99) + " eq 2", "[2]"},
			{"99 nots", rep("not ", 99) + "id eq 2", "[1 3]"},
			{"99 functions", rep("round(", 99) + "id" + rep(")", 99) + " eq 3", "[3]"},
			{"99 substrings", rep("substring(", 99) + "name" + rep(", 0)", 99) + " eq 'Qadirabad 2'", "[2]"},
			{"collections at the limit", lambdas(maxNest, "$v/name eq 'Discharge at Qadirabad' and $v/Thing/properties/a ge 2"), "[2 3]"},
			{"collections past the limit", lambdas(maxNest+1, "$v/id eq 2"), "limit: over the limit of 4"},
			{"a path through collections at the limit", path(maxNest) + "/description eq 'Qadirabad Barrage gauge'", "[1 2 3]"},
			{"a path through collections past the limit", path(maxNest+1) + "/name eq 'Qadirabad'", "limit: over the limit of 4"},
			{"collections and functions at the limit", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
				rep("round(", 100-maxNest-2)+"$v/Thing/properties/a"+rep(")", 100-maxNest-2)+" eq 3"), "[3]"},
			{"collections and JSON arithmetic at the limit", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and $v/Thing/properties/a"+
				rep(" add $v/Thing/properties/a", 100-maxNest-2)+" ge 0"), "[1 2 3]"},
			{"collections and nots at the limit", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
				rep("not ", 100-maxNest-2)+"$v/Thing/properties/a eq $v/Thing/properties/a"), "[1 2 3]"},
			{"collections and nots at the limit, null", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
				rep("not ", 100-maxNest-3)+"$v/Thing/properties/a eq $v/Thing/properties/b"), "[1 2 3]"},
			{"collections and strings at the limit", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
				rep("concat(", 100-maxNest-2)+"$v/Thing/properties/a"+rep(", 'x')", 100-maxNest-2)+" ne 'y'"), "[1 2 3]"},
			{"collections and comparisons at the limit", lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
				"$v/Thing/properties/a eq $v/Thing/properties/a"+rep(" eq true", 100-maxNest-3)), "[1 2 3]"},
		}
		// the heaviest within the limits, under a navigation path and inside $expand (whose
		// level counts: 99 levels left)
		heavy := lambdas(maxNest-1, "$v/Thing/Locations/name eq 'Qadirabad' and "+
			rep("not ", 100-maxNest-4)+"$v/Thing/properties/a eq $v/Thing/properties/a")
		for _, p := range []string{"/Locations(1)/Things?$filter=" + url.QueryEscape(heavy),
			"/Locations?$expand=Things($filter=" + url.QueryEscape(heavy) + ")"} {
			if st, _, b := n.do("GET", p, "", ""); st != 200 || !strings.Contains(b, "Qadirabad 1") {
				t.Errorf("GET %.80s: %d %.300s", p, st, b)
			}
		}
		// $orderby at its limit of terms (each compared with the cursor on the pages after the
		// first), followed page by page to the end; one more term is a 400
		var terms []string
		for i := range odata.MaxOrderBy {
			terms = append(terms, []string{"properties/a desc", "round(properties/a add id)", "name"}[i%3])
		}
		orderby := strings.Join(terms, ",")
		next := "/Things?$top=1&$select=id&$orderby=" + url.QueryEscape(orderby)
		var order []string
		for next != "" && len(order) < 10 {
			st, _, b := n.do("GET", next, "", "")
			var page struct {
				Value []struct {
					ID int64 `json:"@iot.id"`
				}
				Next string `json:"@iot.nextLink"`
			}
			if err := json.Unmarshal([]byte(b), &page); st != 200 || err != nil {
				t.Fatalf("$orderby of %d terms: %d %.300s", len(terms), st, b)
			}
			for _, v := range page.Value {
				order = append(order, fmt.Sprint(v.ID))
			}
			next = ""
			if u, err := url.Parse(page.Next); page.Next != "" && err == nil {
				next = "/Things?" + u.RawQuery
			}
		}
		if got := strings.Join(order, " "); got != "3 2 1" {
			t.Errorf("$orderby of %d terms, page by page: %s, want 3 2 1", len(terms), got)
		}
		if st, _, b := n.do("GET", "/Things?$orderby="+url.QueryEscape(orderby+",id"), "", ""); st != 400 || !strings.Contains(b, "over the limit of 32") {
			t.Errorf("$orderby of %d terms: %d %.300s", len(terms)+1, st, b)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if len(c.filter) > 64<<10 {
					t.Fatalf("the test's filter is %d bytes, over 64 KiB", len(c.filter))
				}
				st, _, b := n.do("GET", "/Things?$select=id&$orderby=id&$filter="+url.QueryEscape(c.filter), "", "")
				if lim, ok := strings.CutPrefix(c.want, "limit: "); ok {
					if st != 400 || !strings.Contains(b, lim) {
						t.Fatalf("status %d %.300s; want 400 naming the limit (%q)", st, b, lim)
					}
					return
				}
				if st != 200 {
					t.Fatalf("status %d: %.400s", st, b)
				}
				var page struct {
					Value []struct {
						ID int64 `json:"@iot.id"`
					}
				}
				if err := json.Unmarshal([]byte(b), &page); err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, v := range page.Value {
					got = append(got, v.ID)
				}
				if fmt.Sprint(got) != c.want {
					t.Errorf("got %v, want %s", got, c.want)
				}
			})
		}
	})
}

// TestForgedSkipToken: a $skiptoken the server did not make (any JSON in it, for any
// $orderby) is a 400 or, where its keys happen to fit, a page; never a 500. Before, an
// object or array among the keys was a 500.
func TestForgedSkipToken(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newBatchNode(t, store, "", "")
		for i := range 3 {
			body := strings.Replace(thingBody, `"name":"Qadirabad"`, fmt.Sprintf(`"name":"Qadirabad %d","properties":{"a":%d},"Datastreams":[%s]`, i+1, i+1, dsBody), 1)
			if st, _, b := n.do("POST", "/Things", "", body); st != 201 {
				t.Fatalf("create: %d %s", st, b)
			}
		}
		if st, _, b := n.do("POST", "/Datastreams(1)/Observations", "", `{"phenomenonTime":"2025-08-27T12:00:00Z","result":5}`); st != 201 {
			t.Fatalf("create: %d %s", st, b)
		}
		orders := map[string][]string{
			"Things":       {"", "id", "name", "properties/a", "round(properties/a) desc", "id add 1", "name,id desc"},
			"Observations": {"phenomenonTime", "result desc", "resultTime", "geo.distance(FeatureOfInterest/feature, geography'POINT(1 2)')"},
			"Datastreams":  {"phenomenonTime desc", "unitOfMeasurement/name"},
		}
		keys := []string{`null`, `true`, `1`, `-1`, `1.5`, `1e308`, `1e999`, `-9223372036854775809`, `9223372036854775807`, `"x"`,
			`"2025-08-27T12:00:00Z"`, `"NaN"`, `{"a":1}`, `[1]`, `[]`, `"\u0000"`}
		var tokens []string
		for _, k := range keys {
			for _, nk := range []int{1, 2, 3} {
				ks := strings.TrimSuffix(strings.Repeat(k+",", nk), ",")
				tokens = append(tokens, `{"m":3,"k":[`+ks+`],"i":1}`)
			}
		}
		tokens = append(tokens, `{"m":-1,"i":-5}`, `{"m":1e30,"i":1}`, `{"m":"x"}`, `{"k":"x"}`, `[]`, `null`, `{}`, `{"m":3,"k":[1],"i":1,"x":2}`,
			`{"m":3,"m":4,"k":[1],"i":1}`, "not json")
		for set, os := range orders {
			for _, o := range os {
				for _, tok := range tokens {
					q := "?$top=1&$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(tok))
					if o != "" {
						q += "&$orderby=" + url.QueryEscape(o)
					}
					st, _, b := n.do("GET", "/"+set+q, "", "")
					if st != 200 && st != 400 {
						t.Errorf("%s $orderby=%s $skiptoken=%s: %d %.200s", set, o, tok, st, b)
					}
				}
			}
		}
		// tokens that are no position at all, or not the server's shape, are refused outright
		for _, tok := range []string{`{}`, `{"x":1}`, `{"id":-1}`, `{"m":-1,"i":-5}`, `{"m":3,"k":[1],"i":1,"x":2}`, `{"m":3,"m":4,"k":[1],"i":1}`} {
			q := "?$top=1&$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(tok))
			if st, _, b := n.do("GET", "/Things"+q, "", ""); st != 400 || !strings.Contains(b, "$skiptoken") {
				t.Errorf("$skiptoken=%s: %d %.200s, want a 400 naming $skiptoken", tok, st, b)
			}
		}
		// and the tokens the server made still work, with and without $orderby
		for _, first := range []string{"/Things?$top=1&$orderby=name", "/Things?$top=1", "/Datastreams(1)/Observations?$top=1&$orderby=result",
			"/Things?$top=1&$orderby=" + url.QueryEscape("properties/a,round(properties/a) desc")} {
			st, _, b := n.do("GET", first, "", "")
			var page struct {
				Next string `json:"@iot.nextLink"`
			}
			if err := json.Unmarshal([]byte(b), &page); st != 200 || err != nil {
				t.Fatalf("first page: %d %s", st, b)
			}
			if page.Next == "" {
				continue // one Observation: one page
			}
			u, _ := url.Parse(page.Next)
			if st, _, b := n.do("GET", strings.Split(first, "?")[0]+"?"+u.RawQuery, "", ""); st != 200 || !strings.Contains(b, "Qadirabad 2") {
				t.Errorf("%s, next page: %d %.200s", first, st, b)
			}
		}
	})
}

// TestConcurrentReads: at most MaxReads reads are served at once (issue 15's gap: eight of the
// widest requests at once took the server to 261 MiB, and nothing bounded how many ran). With
// every turn taken, a read waits; when a turn frees within the wait it is served, otherwise it
// is a 503 naming the limit and the setting, with Retry-After. Writes do not wait for reads.
func TestConcurrentReads(t *testing.T) {
	defer sensorthings.SetReadQueue(300 * time.Millisecond)()
	ents, keys, admin := openTestStore(t, "sqlite", "")
	st := &sensorthings.Server{Store: ents, Ingest: &ingest.Service{Store: ents}, PublicRead: true, MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000, MaxReads: 2}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	srv := httptest.NewServer((&auth.Authenticator{Store: keys}).Middleware(st.Error)(mux))
	defer srv.Close()
	do := func(method, path, body string) (int, http.Header, string) {
		req, _ := http.NewRequest(method, srv.URL+"/v1.1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	release := st.HoldReads(2)
	code, h, body := do("GET", "/Things", "")
	if code != 503 || h.Get("Retry-After") != "1" || !strings.Contains(body, "limit of 2 reads at once (max_concurrent_reads)") {
		t.Errorf("a read with every turn taken: %d %q %s", code, h.Get("Retry-After"), body)
	}
	if code, _, body := do("POST", "/Things", thingBody); code != 201 {
		t.Errorf("a write while reads are at their limit: %d %s", code, body)
	}
	done := make(chan int, 1)
	go func() {
		code, _, _ := do("GET", "/Things", "")
		done <- code
	}()
	time.Sleep(100 * time.Millisecond) // the read is waiting
	release()
	if code := <-done; code != 200 {
		t.Errorf("a read whose turn came within the wait: %d", code)
	}
	for range 5 { // turns are given back
		if code, _, body := do("GET", "/Things", ""); code != 200 {
			t.Fatalf("a read after the others ended: %d %s", code, body)
		}
	}
}
