package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// recSink records hand-offs (sqlq.OutboxSink), as the relay would receive them.
type recSink struct {
	calls  [][]sqlq.OutboxEntry
	missed int
}

func (r *recSink) Handoff(es []sqlq.OutboxEntry) { r.calls = append(r.calls, es) }
func (r *recSink) Missed()                       { r.missed++ }

// testOutboxHandoff: each committed write transaction hands its outbox entries to the sink,
// once, in commit order, with payloads that decode to what reading the same entries back
// gives (OutboxPending, after a restart) — so a consumer cannot tell the two paths apart; a
// rolled-back transaction hands off nothing (and says it missed some); an Atomic transaction
// hands off once, after its commit.
func testOutboxHandoff(t *testing.T, s Stores) {
	s.Configure(&Checker{}, true, "node-a", nil)
	now := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	s.SetNow(func() time.Time { return now })
	seed(t, s)
	sink := &recSink{}
	s.Entities.Handoff = sink
	_, kid, err := auth.Create(ctx(), s.Auth, auth.NodeOrganisation, auth.Operator, "gauge")
	if err != nil {
		t.Fatal(err)
	}
	posted := auth.WithPrincipal(ctx(), &auth.Principal{KeyID: kid, Organisation: auth.NodeOrganisation, Role: auth.Operator})
	text := obs(2, "2025-09-01T01:00:00+05:00/2025-09-01T02:00:00+05:00", map[string]any{"level": "high", "note": "<&>"})
	rt := time.Date(2025, 9, 1, 0, 0, 5, 0, time.UTC)
	text.ResultTime, text.ResultTimeText = &rt, "2025-09-01T00:00:05Z"
	text.Parameters = json.RawMessage(`{"by": "reader"}`)
	bad := obs(1, "2025-09-01T00:00:00.123456Z", -2.5) // flagged bad by the suite's QC
	if _, errs, err := s.Entities.Ingest(posted, []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1001480), text,
		obs(99, "2025-09-01T00:00:00Z", 1), bad, obs(2, "2025-09-01T03:00:00Z", 0.1)}); err != nil || errs[2] == nil {
		t.Fatalf("ingest: %v %v", errs, err)
	}
	if len(sink.calls) != 1 || len(sink.calls[0]) != 2 || sink.missed != 0 {
		t.Fatalf("hand-offs %v, missed %d: want one of two entries (two datastreams)", sink.calls, sink.missed)
	}
	handed := sink.calls[0]
	for id, hb := range matchReadBack(t, s, handed) {
		if hb.By != fmt.Sprintf("%s/key-%d", auth.NodeOrganisation, kid) || hb.Node != "node-a" || !hb.Accepted.Equal(now.Truncate(time.Microsecond)) {
			t.Errorf("entry %d: by %q node %q accepted %v", id, hb.By, hb.Node, hb.Accepted)
		}
	}
	if hb, _ := sensing.DecodeObsBatch(handed[0].Payload); len(hb.Obs) != 2 || hb.Obs[1].Flag != sensing.FlagBad {
		t.Errorf("datastream 1's entry: %+v", hb)
	}

	// a rolled-back transaction: nothing handed off
	s.Configure(failing{}, true, "node-a", nil)
	if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-04T00:00:00Z", 1)}); err == nil {
		t.Fatal("a failing checker did not fail the batch")
	}
	s.Configure(&Checker{}, true, "node-a", nil)
	if len(sink.calls) != 1 {
		t.Errorf("a rolled-back batch was handed off: %v", sink.calls[1:])
	}
	// Atomic: one hand-off after the commit, none for a rollback
	err = s.Entities.Atomic(ctx(), func(c context.Context) error {
		for _, ts := range []string{"2025-09-05T00:00:00Z", "2025-09-06T00:00:00Z"} {
			if _, _, err := s.Entities.Ingest(c, []sensing.Observation{obs(1, ts, 1)}); err != nil {
				return err
			}
		}
		if len(sink.calls) != 1 {
			t.Errorf("handed off before the commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.calls) != 2 || len(sink.calls[1]) != 2 || sink.calls[1][0].ID >= sink.calls[1][1].ID || sink.calls[1][0].ID <= handed[1].ID {
		t.Errorf("Atomic: hand-offs %v, want a second one of two entries, ids increasing", sink.calls)
	}
	boom := errors.New("boom")
	err = s.Entities.Atomic(ctx(), func(c context.Context) error {
		if _, _, err := s.Entities.Ingest(c, []sensing.Observation{obs(1, "2025-09-07T00:00:00Z", 1)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(sink.calls) != 2 {
		t.Errorf("rolled-back Atomic: %v, %d hand-offs", err, len(sink.calls))
	}
}

// matchReadBack checks each handed-off entry against the outbox entry of the same id as read
// back (OutboxPending): kind, key, time and decoded payload alike. It returns the read-back
// batches by entry id.
func matchReadBack(t *testing.T, s Stores, handed []sqlq.OutboxEntry) map[int64]*sensing.ObsBatch {
	t.Helper()
	pending, err := s.OutboxPending(ctx(), 100)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]sqlq.OutboxEntry{}
	for _, e := range pending {
		byID[e.ID] = e
	}
	out := map[int64]*sensing.ObsBatch{}
	for _, h := range handed {
		p, ok := byID[h.ID]
		if !ok {
			t.Fatalf("handed-off entry %d is not in the outbox", h.ID)
		}
		if h.Kind != p.Kind || h.Key != p.Key || !h.Created.Equal(p.Created) {
			t.Errorf("entry %d: handed off %s/%d at %v, outbox %s/%d at %v", h.ID, h.Kind, h.Key, h.Created, p.Kind, p.Key, p.Created)
		}
		hb, err1 := sensing.DecodeObsBatch(h.Payload)
		pb, err2 := sensing.DecodeObsBatch(p.Payload)
		if err1 != nil || err2 != nil {
			t.Fatalf("entry %d: %v %v", h.ID, err1, err2)
		}
		if err := sameBatch(hb, pb); err != nil {
			t.Errorf("entry %d: handed off and read back differ: %v", h.ID, err)
		}
		out[h.ID] = hb
	}
	return out
}

// sameBatch compares two decoded batches field by field, JSON values by value.
func sameBatch(a, b *sensing.ObsBatch) error {
	if a.Node != b.Node || a.Datastream != b.Datastream || a.MultiDatastream != b.MultiDatastream || !a.Accepted.Equal(b.Accepted) || a.By != b.By || len(a.Obs) != len(b.Obs) {
		return fmt.Errorf("header %+v vs %+v", a, b)
	}
	for i := range a.Obs {
		x, y := a.Obs[i], b.Obs[i]
		xn, xok := x.Number()
		yn, yok := y.Number()
		if x.ID != y.ID || x.PhenomenonTime != y.PhenomenonTime || !x.Start.Equal(y.Start) || !x.End.Equal(y.End) || x.ResultTime != y.ResultTime ||
			x.Flag != y.Flag || x.FoI != y.FoI || xn != yn || xok != yok ||
			!sameValue(x.Result, y.Result) || !sameValue(x.Quality, y.Quality) || !sameValue(x.Parameters, y.Parameters) {
			return fmt.Errorf("obs[%d]:\n%+v\n%+v", i, x, y)
		}
	}
	return nil
}

func sameValue(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// testIngestPaths: a few observations (one queued INSERT on PostgreSQL, sent with the rest of
// the transaction's writes) and many (COPY) are stored alike: every field read back from the
// outbox (OutboxPending, what a restart reads) is what was handed off from memory, the ids
// ascend in one unbroken run per call, and the hand-off's entry ids are the outbox's.
func testIngestPaths(t *testing.T, s Stores) {
	s.Configure(&Checker{}, true, "node-a", nil)
	seed(t, s)
	sink := &recSink{}
	s.Entities.Handoff = sink
	rich := func(day int) []sensing.Observation {
		ts := fmt.Sprintf("2025-09-%02dT", day)
		a := obs(2, ts+"01:00:00+05:00/"+ts+"02:00:00+05:00", map[string]any{"level": "high", "note": "<&>"})
		rt := time.Date(2025, 9, day, 0, 0, 5, 0, time.UTC)
		a.ResultTime, a.ResultTimeText = &rt, ts+"00:00:05Z"
		vs, ve := rt, rt.Add(time.Hour)
		a.ValidStart, a.ValidEnd, a.ValidText = &vs, &ve, ts+"00:00:05Z/"+ts+"01:00:05Z"
		a.Parameters = json.RawMessage(`{"by": "reader"}`)
		return []sensing.Observation{a, obs(1, ts+"00:00:00.123456Z", -2.5), obs(1, ts+"00:00:01Z", 1001480)}
	}
	few := rich(1)
	many := rich(2)
	for i := range 300 {
		many = append(many, obs(int64(1+i%2), fmt.Sprintf("2025-09-03T%02d:%02d:00Z", i/60, i%60), float64(i)))
	}
	for _, batch := range [][]sensing.Observation{few, many} {
		ids, errs, err := s.Entities.Ingest(ctx(), batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			if errs[i] != nil {
				t.Fatalf("%d observations, item %d: %v", len(batch), i, errs[i])
			}
			if i > 0 && ids[i] != ids[i-1]+1 {
				t.Fatalf("%d observations: ids %d then %d, want one unbroken run", len(batch), ids[i-1], ids[i])
			}
		}
	}
	if len(sink.calls) != 2 {
		t.Fatalf("%d hand-offs, want 2", len(sink.calls))
	}
	values := 0
	for _, call := range sink.calls {
		for _, hb := range matchReadBack(t, s, call) {
			values += len(hb.Obs)
		}
	}
	if values != len(few)+len(many) {
		t.Errorf("outbox entries hold %d observations, want %d", values, len(few)+len(many))
	}
}
