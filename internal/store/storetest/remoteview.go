package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// RunRemoteViewKept checks what the store keeps of what a RemoteView hides (sqlq's
// remoteview.go): a Datastream made remote in this process (SaveRemote, through a Federation
// store beside the Entities one) while a List runs — after it took a kept answer, before its
// reads — is hidden from that List (Entities.KeptHook), and from every read after it; one
// deleted is seen at once; one made remote by another process (a row written into fed_remote without this
// process knowing) is hidden within a second. The node-wide admin's reads (no view) see all.
func RunRemoteViewKept(t *testing.T, open Open) {
	eng, _ := open(t)
	s := Stores{Entities: sqlq.NewEntities(eng, nil), Auth: sqlq.NewAuth(eng)}
	for _, name := range []string{"Khanki", "Marala", "Qadirabad"} {
		if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, strings.Replace(gauge, "Khanki", name, -1))); err != nil {
			t.Fatal(err)
		}
	}
	viewer := sensing.WithRemoteView(ctx(), sensing.RemoteView{Org: "pmd"})
	list := func(what string, want ...int64) {
		t.Helper()
		p, err := s.Entities.List(viewer, &sensing.Query{Set: sensing.Datastreams, Opts: &odata.Options{}, Top: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range p.Entities {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the viewer lists Datastreams %v, want %v", what, got, want)
		}
		for _, id := range []int64{1, 2, 3} { // and gets each
			_, err := s.Entities.Get(viewer, &sensing.Query{Set: sensing.Datastreams, ID: id, Opts: &odata.Options{}})
			if (err == nil) != slices.Contains(want, id) {
				t.Errorf("%s: the viewer gets Datastreams(%d): %v, want it found: %v", what, id, err, slices.Contains(want, id))
			}
		}
	}
	list("no remote data", 1, 2, 3)
	list("no remote data, again (kept)", 1, 2, 3)
	// Datastream 2 made remote in this process just after a List took the kept answer and
	// before its reads: what those read shows it, so the List reads what is hidden again
	s.Entities.KeptHook = func() {
		s.Entities.KeptHook = nil
		if err := sqlq.NewFederation(eng).SaveRemote(ctx(), "islamabad", 1, 7, 2); err != nil {
			t.Error(err)
		}
	}
	list("Datastream 2 made remote between the kept answer and the reads", 1, 3)
	if s.Entities.KeptHook != nil {
		t.Error("the List took no kept answer")
	}
	list("again (kept)", 1, 3)
	// another process makes Datastream 3 remote: this one does not know
	if err := eng.Write(ctx(), func(tx sqlq.Tx) error {
		_, err := tx.Exec(ctx(), `INSERT INTO fed_remote (provider_node, agreement_id, provider_datastream, datastream_id) VALUES (?, ?, ?, ?)`, "islamabad", 1, 8, 3)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // sqlq's hiddenFor, and a little
	list("Datastream 3 made remote by another process, a second later", 1)
	// the node-wide admin's reads see every one
	p, err := s.Entities.List(ctx(), &sensing.Query{Set: sensing.Datastreams, Opts: &odata.Options{}, Top: 100})
	if err != nil || len(p.Entities) != 3 {
		t.Errorf("without a view: %v, want the 3 Datastreams", err)
	}
	// a deletion is seen at once too (the Thing goes with its Datastream)
	if err := s.Entities.Delete(ctx(), sensing.Datastreams, 2); err != nil {
		t.Fatal(err)
	}
	list("Datastream 2 deleted", 1)
}
