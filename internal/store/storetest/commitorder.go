package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// IdsInCommitOrder checks, with a and b two processes' stores on one database (PostgreSQL,
// where several `rabta serve` processes may write to one node's database), that Observation
// ids are given in commit order: while a transaction of a holds ids it has reserved, an
// ingest of b waits for it to end, so no id below one already committed can commit later. A
// reader that has seen id n (a federation exporter's cursor, the outbox relay) then never
// misses a value with a smaller id.
func IdsInCommitOrder(t *testing.T, a, b Stores) {
	a.Configure(&Checker{}, true, "node-a", nil)
	b.Configure(&Checker{}, true, "node-a", nil)
	seed(t, a)
	// each store stores a value of the month first: the partition exists, and both know it
	// (a store creating a partition takes a lock until its transaction ends, which would
	// hold b up for another reason)
	for i, s := range []Stores{a, b} {
		if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(int64(1+i), "2025-09-01T00:00:00Z", 0)}); err != nil {
			t.Fatal(err)
		}
	}
	reserved, release := make(chan int64), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test lets a's transaction end too
	done := make(chan error, 1)
	go func() {
		done <- a.Entities.Atomic(ctx(), func(c context.Context) error {
			ids, _, err := a.Entities.Ingest(c, []sensing.Observation{obs(1, "2025-09-01T00:00:10Z", 1)})
			if err != nil {
				return err
			}
			reserved <- ids[0]
			<-release
			return nil
		})
	}()
	var first int64
	select {
	case first = <-reserved:
	case err := <-done:
		t.Fatalf("a's transaction: %v", err)
	}
	type result struct {
		id  int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		ids, _, err := b.Entities.Ingest(ctx(), []sensing.Observation{obs(2, "2025-09-01T00:01:00Z", 2)}) // another Datastream: no row both write
		if err != nil {
			got <- result{0, err}
			return
		}
		got <- result{ids[0], nil}
	}()
	select {
	case r := <-got:
		t.Fatalf("b stored id %d (err %v) while a's transaction holding id %d was open: a reader could pass %d and miss %d",
			r.id, r.err, first, r.id, first)
	case <-time.After(500 * time.Millisecond):
	}
	free()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.id <= first {
		t.Fatalf("b: id %d, err %v; want an id above a's %d", r.id, r.err, first)
	}
}
