package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

func feedRows(ds int64, ids ...int64) []sqlq.RawObservation {
	out := make([]sqlq.RawObservation, len(ids))
	for i, id := range ids {
		out[i] = sqlq.RawObservation{ID: id, Datastream: ds}
	}
	return out
}

func rowIDs(rows []sqlq.RawObservation) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// TestFedFeed checks what the exporter's feed vouches for: only id ranges it saw every id of.
func TestFedFeed(t *testing.T) {
	f := &fedFeed{to: -1}
	if _, _, ok := f.read([]int64{1}, 0, 10, 100); ok {
		t.Fatal("an empty feed vouches for something")
	}
	f.Committed(sqlq.IDSpan{Lo: 5, Hi: 7, N: 3}, feedRows(1, 5, 6, 7))
	f.Committed(sqlq.IDSpan{Lo: 8, Hi: 9, N: 2}, append(feedRows(2, 8), feedRows(1, 9)...)) // 8: another Datastream
	if rows, upto, ok := f.read([]int64{1}, 4, 9, 100); !ok || upto != 9 || fmt.Sprint(rowIDs(rows)) != "[5 6 7 9]" {
		t.Errorf("read after 4: %v %d %v", rowIDs(rows), upto, ok)
	}
	if _, _, ok := f.read([]int64{1}, 3, 9, 100); ok {
		t.Error("the feed vouches for id 4, which it never saw")
	}
	if rows, upto, ok := f.read([]int64{1}, 5, 20, 2); !ok || upto != 7 || fmt.Sprint(rowIDs(rows)) != "[6 7]" {
		t.Errorf("read of at most 2: %v %d %v (want upto at the last one)", rowIDs(rows), upto, ok)
	}
	if rows, upto, ok := f.read([]int64{1}, 6, 8, 100); !ok || upto != 8 || fmt.Sprint(rowIDs(rows)) != "[7]" {
		t.Errorf("read up to 8: %v %d %v", rowIDs(rows), upto, ok)
	}
	if _, _, ok := f.read([]int64{1}, 9, 20, 100); ok {
		t.Error("the feed vouches for ids past the last it saw")
	}
	// a gap (id 10 stored elsewhere): only what follows it
	f.Committed(sqlq.IDSpan{Lo: 11, Hi: 12, N: 2}, feedRows(1, 11, 12))
	if _, _, ok := f.read([]int64{1}, 9, 12, 100); ok {
		t.Error("the feed vouches for id 10 across a gap")
	}
	if rows, _, ok := f.read([]int64{1}, 10, 12, 100); !ok || fmt.Sprint(rowIDs(rows)) != "[11 12]" {
		t.Errorf("after the gap: %v %v", rowIDs(rows), ok)
	}
	// ids not contiguous within one transaction: nothing up to its last
	f.Committed(sqlq.IDSpan{Lo: 13, Hi: 20, N: 3}, feedRows(1, 13, 17, 20))
	if _, _, ok := f.read([]int64{1}, 12, 20, 100); ok {
		t.Error("the feed vouches for a transaction with holes in its ids")
	}
	f.Committed(sqlq.IDSpan{Lo: 21, Hi: 21, N: 1}, feedRows(1, 21))
	if rows, _, ok := f.read([]int64{1}, 20, 21, 100); !ok || fmt.Sprint(rowIDs(rows)) != "[21]" {
		t.Errorf("after the holes: %v %v", rowIDs(rows), ok)
	}
	// trim: what every cursor passed goes; what is left still vouched for
	f.Committed(sqlq.IDSpan{Lo: 22, Hi: 24, N: 3}, feedRows(1, 22, 23, 24))
	f.trim(22)
	if _, _, ok := f.read([]int64{1}, 21, 24, 100); ok {
		t.Error("trimmed ids still vouched for")
	}
	if rows, _, ok := f.read([]int64{1}, 22, 24, 100); !ok || fmt.Sprint(rowIDs(rows)) != "[23 24]" {
		t.Errorf("after trim: %v %v", rowIDs(rows), ok)
	}
	// full: the oldest half goes
	next := int64(25)
	for range fedFeedMax / 100 * 2 {
		ids := make([]int64, 100)
		for i := range ids {
			ids[i] = next + int64(i)
		}
		f.Committed(sqlq.IDSpan{Lo: next, Hi: next + 99, N: 100}, feedRows(1, ids...))
		next += 100
	}
	if len(f.rows) > fedFeedMax {
		t.Errorf("the feed holds %d rows, more than %d", len(f.rows), fedFeedMax)
	}
	if _, _, ok := f.read([]int64{1}, 22, next, 100); ok {
		t.Error("the feed vouches for rows it let go when full")
	}
	if rows, _, ok := f.read([]int64{1}, f.from-1, next, 1); !ok || len(rows) != 1 || rows[0].ID != f.from {
		t.Errorf("the feed's oldest row: %v %v, want %d", rowIDs(rows), ok, f.from)
	}
	f.stop()
	if f.Wants() || f.last() != -1 {
		t.Error("a stopped feed still wants, or holds, rows")
	}
}

// TestExporterFeed checks the raw exporter on the feed of committed Observations: values
// ingested by the node go out from the feed, with no read of the store; a value another
// process stores (another store on the same database, as `rabta import` is) goes out too, read
// from the store, in order, and every value once.
func TestExporterFeed(t *testing.T) {
	dir, pdir := t.TempDir(), t.TempDir()
	ecdsaSigningPair(t, dir)
	p, err := New(t.Context(), Options{ID: "islamabad", DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		AdminKey: benchKey, Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, b := request(t, p, "POST", "/v1.1/Things", benchKey, benchGauge); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Minute)
	obs := func(n int) []sensing.Observation {
		out := make([]sensing.Observation, n)
		for i := range out {
			at = at.Add(time.Millisecond)
			v := float64(at.UnixMilli() % 1000)
			out[i] = sensing.Observation{DatastreamID: 1, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339Nano), ResultNum: &v}
		}
		return out
	}
	var want []int64
	ingest := func(in func(context.Context, []sensing.Observation) ([]int64, []error, error), n int) {
		t.Helper()
		ids, errs, err := in(ctx, obs(n))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if e != nil {
				t.Fatal(e)
			}
			want = append(want, ids[i])
		}
	}
	local := func(ctx context.Context, o []sensing.Observation) ([]int64, []error, error) {
		return p.ingest.Ingest(ctx, "test", o)
	}
	ingest(local, 3) // before the agreement: its history, read from the store

	pkey, err := FedPublicKey(pdir)
	if err != nil {
		t.Fatal(err)
	}
	svc := p.fed.svc
	if err := svc.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: pkey}); err != nil {
		t.Fatal(err)
	}
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "feed", ValidFrom: at.Add(-time.Hour)}
	if err := svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	seed, err := FedSeed(pdir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := bus.Dial(p.NATSURL(), "islamabad", "karachi", seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []int64
	receive := func() {
		t.Helper()
		got = fetchValues(t, l, a.ID, got, len(want), time.Now().Add(15*time.Second))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("received Observations %v, want %v", got, want)
		}
	}
	receive()
	reads := func() (feed, store float64) {
		count := func(source string) float64 {
			var m dto.Metric
			if err := p.metrics.fedReads.WithLabelValues(source).Write(&m); err != nil {
				t.Fatal(err)
			}
			return m.GetCounter().GetValue()
		}
		return count("feed"), count("store")
	}
	// the agreement active, the feed fills: what the node ingests goes out without a read back
	for deadline := time.Now().Add(5 * time.Second); !p.fed.feed.Wants() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	f0, s0 := reads()
	for range 5 {
		ingest(local, 4)
		time.Sleep(20 * time.Millisecond)
	}
	receive()
	f1, s1 := reads()
	if f1-f0 < 1 || s1-s0 > 1 { // (one store read is allowed: a wake already due when a commit showed before its hand-off)
		t.Errorf("reads while the node ingests: %v from the feed, %v from the store", f1-f0, s1-s0)
	}
	// another process's writes: not in the feed, read from the store, in order, once
	other, err := OpenStores(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	oents := other.Outbox.(storeOutbox).s
	ingest(func(ctx context.Context, o []sensing.Observation) ([]int64, []error, error) {
		return oents.Ingest(ctx, o)
	}, 2)
	receive() // alone: found when the store stays ahead of the feed
	ingest(func(ctx context.Context, o []sensing.Observation) ([]int64, []error, error) {
		return oents.Ingest(ctx, o)
	}, 2)
	ingest(local, 3) // the gap is found by the next local commit
	receive()
	if _, s2 := reads(); s2 <= s1 {
		t.Errorf("values stored by another process went out with no read of the store (%v store reads before, %v after)", s1, s2)
	}
	if msgs, _ := l.Fetch(ctx, a.ID, 100, 300*time.Millisecond); len(msgs) != 0 {
		t.Errorf("%d more messages after the %d values expected", len(msgs), len(want))
	}
}
