package storetest

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// WindowQueries are the one-hour window across datastreams from start
// (/Observations?$filter=phenomenonTime ge start and phenomenonTime lt start+1h, $top=100),
// in id order and newest first: the queries whose plans the engines' plan tests hold to the
// observations_time index.
func WindowQueries(t testing.TB, start time.Time) []*sensing.Query {
	t.Helper()
	var out []*sensing.Query
	for _, orderby := range []string{"", "phenomenonTime desc"} {
		v := map[string][]string{"$filter": {"phenomenonTime ge " + start.UTC().Format(time.RFC3339) + " and phenomenonTime lt " + start.Add(time.Hour).UTC().Format(time.RFC3339)}}
		if orderby != "" {
			v["$orderby"] = []string{orderby}
		}
		opts, err := odata.ParseOptions(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &sensing.Query{Set: sensing.Observations, Opts: opts, Top: 100})
	}
	return out
}
