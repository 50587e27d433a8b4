package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// Leaving out the remote Datastreams a reader may not see (sensing.RemoteView) does not change
// the plan of the hot read, a time window of Observations: of one Datastream that is not
// hidden, the statement is the same; of all, it adds a NOT IN of constants.
func TestRemoteViewKeepsObservationIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	opts, err := odata.ParseOptions(map[string][]string{"$orderby": {"phenomenonTime desc"}, "$filter": {"phenomenonTime ge 2025-01-01T00:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	plan := func(query *sensing.Query) string {
		text, args, err := s.PageSQL(query)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		return strings.Join(plan, "; ")
	}
	for _, parent := range []*sensing.Parent{{Set: sensing.Datastreams, ID: 1, Nav: "Observations"}, nil} {
		query := &sensing.Query{Set: sensing.Observations, Parent: parent, Opts: opts, Top: 100}
		without := plan(query)
		query.View = &sensing.RemoteView{Hidden: &sensing.RemoteHidden{Datastreams: []int64{2, 3}, Things: []int64{2}, Sensors: []int64{2},
			ObservedProperties: []int64{2}, Locations: []int64{2}}}
		with := plan(query)
		text, _, err := s.PageSQL(query)
		if err != nil {
			t.Fatal(err)
		}
		if hides := strings.Contains(text, "NOT IN (2, 3)"); hides != (parent == nil) {
			t.Errorf("parent %v: %s: want the hidden Datastreams left out only when listing all", parent, text)
		}
		if with != without {
			t.Errorf("parent %v: plan with the view %s\nwithout %s", parent, with, without)
		}
		if parent != nil && (!strings.Contains(with, "INDEX observations_datastream_time (datastream_id=?") || strings.Contains(with, "TEMP B-TREE")) {
			t.Errorf("one Datastream's window: plan %s: want the datastream/time index, no sort", with)
		}
		t.Logf("%s", with)
	}
}
