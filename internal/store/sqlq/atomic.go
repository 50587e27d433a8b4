package sqlq

import (
	"context"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// One write transaction across several calls of the entity store: what a SensorThings batch's
// change set (OData 4.0 Protocol §11.7.4, SensorThings 1.1 §11) and a JSON batch's atomicity
// group (OData 4.01 JSON Format §19) need. Entities.Atomic opens the transaction and puts it in
// the context it gives its function; every Entities call made with that context — Create,
// Update, Delete, Ingest (and so the ingest service, which stores through it), and the reads
// Get, List, Navigate — joins it instead of opening its own, so that a request of the group
// sees what the requests before it wrote. Effects that belong after a commit (AfterCommit, the
// relay's wake-up, the ingest service's counters through OnCommit) wait for the outer commit and
// are dropped on rollback; the datastream cache is forgotten on rollback.

// atomicKey is the context key of the open transaction.
type atomicKey struct{}

// atomicTx is the write transaction Entities.Atomic opened.
type atomicTx struct {
	owner *Entities // the store whose transaction it is (two nodes may run in one process)
	tx    Tx
	after []func() // run after the commit, in order
}

// outer returns the transaction ctx carries for s, or nil.
func (s *Entities) outer(ctx context.Context) *atomicTx {
	a, _ := ctx.Value(atomicKey{}).(*atomicTx)
	if a == nil || a.owner != s {
		return nil
	}
	return a
}

// Atomic runs fn in one write transaction: every Entities call fn makes with the context it
// is given joins that transaction, and all of it commits when fn returns nil, or none of it
// does when fn returns an error (fn's error is returned as it is). Called inside another
// Atomic of the same store, it joins that one. Writers of this process wait while it runs
// (Entities serialises them) — so fn must make its writes with the context it is given: one
// made with another context would wait for fn to end. Reads outside it see nothing of it
// until it commits. A transaction that cannot begin or commit is returned with its kind
// (Engine.WriteErr; Unavailable when it cannot begin).
func (s *Entities) Atomic(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.outer(ctx) != nil {
		return fn(ctx)
	}
	defer viewWrite()() // remoteview.go: what it writes may change what a RemoteView hides (CreateRemote)
	s.mu.Lock()
	a := &atomicTx{owner: s}
	var fnErr error
	err := s.eng.Write(ctx, func(tx Tx) error {
		a.tx = tx
		s.handoff = s.handoff[:0] // handoff.go
		s.feed.reset()            // obsfeed.go
		fnErr = fn(context.WithValue(ctx, atomicKey{}, a))
		return fnErr
	})
	if err != nil {
		s.dropHandoff()
	}
	s.handOff() // committed: its outbox entries to the relay, before the next writer (handoff.go)
	if err != nil {
		s.forgetStreams() // facts read or changed inside the rolled-back transaction
	}
	s.mu.Unlock()
	if err != nil {
		if fnErr != nil {
			return fnErr
		}
		return s.eng.WriteErr(err)
	}
	for _, f := range a.after {
		f()
	}
	return nil
}

// OnCommit runs f now, or — when ctx carries an Atomic transaction of s — after that
// transaction commits (never, if it rolls back). The ingest service counts accepted
// observations through it.
func (s *Entities) OnCommit(ctx context.Context, f func()) {
	if a := s.outer(ctx); a != nil {
		a.after = append(a.after, f)
		return
	}
	f()
}

// TxPreparer is an Engine whose Prepare can also run inside a write transaction already open
// (an Atomic one): PostgreSQL creates a missing partition in that transaction, since creating
// it in a transaction of its own would wait for the open one's locks on the table for ever.
type TxPreparer interface {
	PrepareIn(ctx context.Context, tx Tx, times func() []time.Time) error
}

// joined is the Engine Entities runs on: every transaction it is asked for with a context
// that carries an Atomic transaction of its owner is that transaction.
type joined struct {
	Engine
	owner *Entities
}

func (j joined) Read(ctx context.Context, fn func(Tx) error) error {
	if a := j.owner.outer(ctx); a != nil {
		return fn(a.tx)
	}
	return j.Engine.Read(ctx, fn)
}

func (j joined) Do(ctx context.Context, fn func(Tx) error) error {
	if a := j.owner.outer(ctx); a != nil {
		return fn(a.tx)
	}
	return j.Engine.Do(ctx, fn)
}

func (j joined) Write(ctx context.Context, fn func(Tx) error) error {
	if a := j.owner.outer(ctx); a != nil {
		return fn(a.tx)
	}
	return j.Engine.Write(ctx, fn)
}

// QueueObservations is the engine's (ObservationQueuer), when it has it; false otherwise.
func (j joined) QueueObservations(ctx context.Context, tx Tx, q Queue, obs []*sensing.Observation) (bool, error) {
	if e, ok := j.Engine.(ObservationQueuer); ok {
		return e.QueueObservations(ctx, tx, q, obs)
	}
	return false, nil
}

func (j joined) Prepare(ctx context.Context, times func() []time.Time) error {
	if a := j.owner.outer(ctx); a != nil {
		if p, ok := j.Engine.(TxPreparer); ok {
			return p.PrepareIn(ctx, a.tx, times)
		}
	}
	return j.Engine.Prepare(ctx, times)
}
