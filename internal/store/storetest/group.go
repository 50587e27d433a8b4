package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
)

// testGroupCommit: concurrent single-observation ingests held back by an open transaction
// queue up and are then committed together in one transaction (one AfterCommit); each call
// gets its own id or its own error (unknown datastream, QC refusal, a key of another
// organisation) and the outbox names the stored ones; what each call stored is what it sent.
func testGroupCommit(t *testing.T, s Stores) {
	var mu sync.Mutex
	var committed []int
	seed(t, s)
	s.Configure(&Checker{}, true, "node-g", func(n int) { mu.Lock(); committed = append(committed, n); mu.Unlock() })
	const calls = 30
	type result struct {
		ids  []int64
		errs []error
		err  error
	}
	results := make([]result, calls)
	sent := func(i int) sensing.Observation {
		ts := fmt.Sprintf("2025-10-01T00:%02d:00Z", i)
		switch {
		case i%10 == 3:
			return obs(99, ts, i) // no such datastream
		case i%10 == 7:
			return obs(1, ts, 666) // refused by QC
		}
		return obs(1+int64(i%2), ts, 1000+i)
	}
	var wg sync.WaitGroup
	release := make(chan struct{})
	held := make(chan struct{})
	go func() { // hold the store's writers until every call is queued
		s.Entities.Atomic(ctx(), func(context.Context) error { close(held); <-release; return nil })
	}()
	<-held
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			c := ctx()
			switch i % 10 {
			case 5: // a key of another organisation: refused, in the same group as the rest
				c = as("other-org", auth.Operator)
			case 9: // a key of the datastreams' organisation
				c = as(auth.NodeOrganisation, auth.Operator)
			}
			r.ids, r.errs, r.err = s.Entities.Ingest(c, []sensing.Observation{sent(i)})
		}()
	}
	// the first call leads and waits for the writers' lock with its own call; the rest queue
	deadline := time.Now().Add(20 * time.Second)
	for s.Entities.Queued() < calls-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q := s.Entities.Queued(); q != calls-1 {
		t.Fatalf("%d calls queued, want %d", q, calls-1)
	}
	close(release)
	wg.Wait()
	stored := 0
	seen := map[int64]bool{}
	for i, r := range results {
		if r.err != nil || len(r.ids) != 1 || len(r.errs) != 1 {
			t.Fatalf("call %d: %v %v %v", i, r.ids, r.errs, r.err)
		}
		switch i % 10 {
		case 3:
			if kind(r.errs[0]) != apperr.NotFound || r.ids[0] != 0 {
				t.Errorf("call %d (unknown datastream): id %d, err %v", i, r.ids[0], r.errs[0])
			}
			continue
		case 7:
			if kind(r.errs[0]) != apperr.Invalid || r.ids[0] != 0 {
				t.Errorf("call %d (QC refusal): id %d, err %v", i, r.ids[0], r.errs[0])
			}
			continue
		case 5:
			if kind(r.errs[0]) != apperr.Forbidden || r.ids[0] != 0 {
				t.Errorf("call %d (another organisation's key): id %d, err %v", i, r.ids[0], r.errs[0])
			}
			continue
		}
		if r.errs[0] != nil || r.ids[0] == 0 || seen[r.ids[0]] {
			t.Errorf("call %d: id %d, err %v", i, r.ids[0], r.errs[0])
			continue
		}
		seen[r.ids[0]] = true
		stored++
		o := get(t, s, sensing.Observations, r.ids[0], "")
		if got, want := o.Props["result"], float64(1000+i); got != want {
			t.Errorf("call %d: Observations(%d) result %v, want %v", i, r.ids[0], got, want)
		}
		if got := o.Props["phenomenonTime"]; got != sent(i).PhenText {
			t.Errorf("call %d: Observations(%d) phenomenonTime %v, want %s", i, r.ids[0], got, sent(i).PhenText)
		}
	}
	mu.Lock()
	got := fmt.Sprint(committed)
	mu.Unlock()
	// the leader's own call alone (1 observation stored, or 0 when the call that happened to
	// lead was one of the refused ones), then the 29 queued ones in one transaction
	if got != fmt.Sprint([]int{1, stored - 1}) && got != fmt.Sprint([]int{0, stored}) {
		t.Errorf("AfterCommit calls %s, want [1 %d] or [0 %d] (the leader's call, then one group commit)", got, stored-1, stored)
	}
	// the outbox holds every stored observation, none of the refused ones
	entries, err := s.OutboxPending(ctx(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		b, err := sensing.DecodeObsBatch(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range b.Obs {
			if !seen[it.ID] {
				t.Errorf("outbox entry %d names Observations(%d), not stored by a call", e.ID, it.ID)
			}
			n++
		}
	}
	if n != stored {
		t.Errorf("outbox carries %d observations, want %d", n, stored)
	}
}
