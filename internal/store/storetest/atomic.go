package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// RunAtomic tests Entities.Atomic, the one transaction of a batch's change set: creates,
// updates, deletes and ingests made with its context see each other and commit together, or
// leave nothing when the function fails; after-commit effects (AfterCommit, OnCommit, the
// outbox) happen only after the outer commit; a new month's partition can be made inside it.
func RunAtomic(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CommitAll", func(t *testing.T) {
		s := open(t)
		var committed []int
		s.Configure(&Checker{}, true, "node-a", func(n int) { committed = append(committed, n) })
		var counted bool
		err := s.Entities.Atomic(ctx(), func(ctx context.Context) error {
			th, err := s.Entities.Create(ctx, entity(t, sensing.Things, gauge))
			if err != nil {
				return err
			}
			// what the transaction wrote is visible to reads made with its context, not to others
			q := query(t, sensing.Things, nil, "")
			q.ID = th
			if _, err := s.Entities.Get(ctx, q); err != nil {
				t.Errorf("inside: Get Thing(%d): %v", th, err)
			}
			if _, err := s.Entities.Get(context.Background(), q); apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("outside, before the commit: Get Thing(%d): %v, want NotFound", th, err)
			}
			// a month with no partition yet (PostgreSQL makes it inside the transaction)
			ids, errs, err := s.Entities.Ingest(ctx, []sensing.Observation{obs(1, "2031-07-01T00:00:00Z", 5), obs(1, "2031-07-01T01:00:00Z", 6)})
			if err != nil || errs[0] != nil || errs[1] != nil {
				return errors.Join(err, errs[0], errs[1])
			}
			s.Entities.OnCommit(ctx, func() { counted = true })
			if len(committed) != 0 || counted {
				t.Errorf("after-commit effects ran before the commit: %v %v", committed, counted)
			}
			if err := s.Entities.Update(ctx, withID(entity(t, sensing.Things, `{"name":"Khanki HW"}`), th), false); err != nil {
				return err
			}
			return s.Entities.Delete(ctx, sensing.Observations, ids[0])
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(committed) != 1 || committed[0] != 2 || !counted {
			t.Errorf("after commit: AfterCommit %v, OnCommit ran %v; want [2], true", committed, counted)
		}
		if got := get(t, s, sensing.Things, 1, ""); got.Props["name"] != "Khanki HW" {
			t.Errorf("Thing 1 after commit: %v", got.Props)
		}
		if got := idsOf(list(t, s, sensing.Observations, nil, "").Entities); got != "[2]" {
			t.Errorf("observations after commit: %s, want [2]", got)
		}
		if n, _, err := s.Entities.OutboxBacklog(ctx()); err != nil || n != 1 {
			t.Errorf("outbox after commit: %d %v, want 1 entry", n, err)
		}
	})
	t.Run("RollBackAll", func(t *testing.T) {
		s := open(t)
		var committed []int
		s.Configure(&Checker{}, true, "node-a", func(n int) { committed = append(committed, n) })
		seed(t, s)
		committed = nil
		stop := apperr.E(apperr.NotFound, "Datastreams(99) does not exist")
		counted := false
		err := s.Entities.Atomic(ctx(), func(ctx context.Context) error {
			if _, err := s.Entities.Create(ctx, entity(t, sensing.Things, marala())); err != nil {
				return err
			}
			if _, _, err := s.Entities.Ingest(ctx, []sensing.Observation{obs(1, "2032-01-01T00:00:00Z", 7)}); err != nil {
				return err
			}
			s.Entities.OnCommit(ctx, func() { counted = true })
			if err := s.Entities.Update(ctx, withID(entity(t, sensing.Things, `{"name":"renamed"}`), 1), false); err != nil {
				return err
			}
			if err := s.Entities.Delete(ctx, sensing.Datastreams, 2); err != nil {
				return err
			}
			return stop
		})
		if err != stop {
			t.Fatalf("Atomic returned %v, want fn's error as it is", err)
		}
		if len(committed) != 0 || counted {
			t.Errorf("a rolled-back transaction ran after-commit effects: %v %v", committed, counted)
		}
		if got := idsOf(list(t, s, sensing.Things, nil, "").Entities); got != "[1 2]" {
			t.Errorf("Things after rollback: %s, want the seeded [1 2]", got)
		}
		if got := get(t, s, sensing.Things, 1, ""); got.Props["name"] != "Khanki" {
			t.Errorf("Thing 1 after rollback: %v", got.Props["name"])
		}
		if got := idsOf(list(t, s, sensing.Observations, nil, "$top=100").Entities); got != "[1 2 3 4 5 6]" {
			t.Errorf("observations after rollback: %s", got)
		}
		if n, _, err := s.Entities.OutboxBacklog(ctx()); err != nil || n != 2 {
			t.Errorf("outbox after rollback: %d %v, want the seed's 2 entries", n, err)
		}
		// the store goes on: the datastream cache forgot what the rolled-back ingest taught it
		ids, errs, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-08-29T12:00:00+05:00", 800000)})
		if err != nil || errs[0] != nil || ids[0] == 0 {
			t.Fatalf("ingest after rollback: %v %v %v", ids, errs, err)
		}
		if len(committed) != 1 {
			t.Errorf("AfterCommit after a plain ingest: %v", committed)
		}
	})
	t.Run("OtherWritersWait", func(t *testing.T) {
		s := open(t)
		done := make(chan error, 1)
		err := s.Entities.Atomic(ctx(), func(ctx context.Context) error {
			if _, err := s.Entities.Create(ctx, entity(t, sensing.Things, `{"name":"inside","description":"a"}`)); err != nil {
				return err
			}
			outside := entity(t, sensing.Things, `{"name":"outside","description":"b"}`)
			go func() { // another request's write, with a context of its own
				_, err := s.Entities.Create(context.Background(), outside)
				done <- err
			}()
			select {
			case err := <-done:
				t.Errorf("a write outside the open transaction finished before it: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the write outside never finished after the commit")
		}
		things := list(t, s, sensing.Things, nil, "$orderby=id")
		if len(things.Entities) != 2 || things.Entities[0].Props["name"] != "inside" || things.Entities[1].Props["name"] != "outside" {
			t.Errorf("Things %s, want inside then outside", idsOf(things.Entities))
		}
	})
	t.Run("Nested", func(t *testing.T) {
		s := open(t)
		done := make(chan error, 1)
		go func() {
			done <- s.Entities.Atomic(ctx(), func(ctx context.Context) error {
				return s.Entities.Atomic(ctx, func(ctx context.Context) error {
					_, err := s.Entities.Create(ctx, entity(t, sensing.Things, `{"name":"a","description":"b"}`))
					return err
				})
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Atomic inside Atomic deadlocked")
		}
		if got := idsOf(list(t, s, sensing.Things, nil, "").Entities); got != "[1]" {
			t.Errorf("Things: %s", got)
		}
	})
}

func withID(e *sensing.Entity, id int64) *sensing.Entity {
	e.ID = id
	return e
}
