package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// keyStore stores observations once per (datastream, time, result), like the stores' IngestNew.
type keyStore struct{ seen map[string]bool }

func (k *keyStore) Ingest(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error) {
	return k.IngestNew(ctx, obs)
}

func (k *keyStore) IngestNew(_ context.Context, obs []sensing.Observation) ([]int64, []error, error) {
	ids, errs := make([]int64, len(obs)), make([]error, len(obs))
	for i, o := range obs {
		key := fmt.Sprint(o.DatastreamID, o.PhenStart.UnixMicro(), *o.ResultNum)
		if k.seen[key] {
			errs[i] = apperr.E(apperr.Conflict, "already stored")
			continue
		}
		k.seen[key] = true
		ids[i] = int64(len(k.seen))
	}
	return ids, errs, nil
}

type names map[string]int64

func (n names) DatastreamByName(_ context.Context, ref string) (int64, error) {
	if ref == "down" {
		return 0, errors.New("connection refused")
	}
	if id, ok := n[ref]; ok {
		return id, nil
	}
	return 0, apperr.E(apperr.NotFound, "no datastream %q", ref)
}

func (n names) DatastreamByPDMA(ctx context.Context, station string) (int64, error) {
	return n.DatastreamByName(ctx, "pdma:"+station)
}

func TestCSVImport(t *testing.T) {
	const file = "datastream,phenomenonTime,result\n" +
		"1,2025-09-01T00:00:00Z,100\n" + // line 2
		"1,not-a-time,5\n" + // 3: the file's mistake
		"Discharge at Khanki,2025-09-01T01:00:00+05:00,200\n" + // 4: by name
		"7,2025-09-01T00:00:00Z,1\n" + // 5: no such datastream
		"1,2025-09-01T02:00:00Z,\n" + // 6: no result
		"1,2025-09-01T03:00:00Z,300\n" // 7
	st := &keyStore{seen: map[string]bool{}}
	svc := &Service{Store: st}
	var rejected []string
	var progress []ImportCount
	im := &CSVImport{Service: svc, Resolve: names{"1": 1, "Discharge at Khanki": 1}, Batch: 2,
		Reject:   func(line int, reason string) { rejected = append(rejected, fmt.Sprintf("%d: %s", line, reason)) },
		Progress: func(n ImportCount) { progress = append(progress, n) }}
	run := func() ImportCount {
		t.Helper()
		rd, err := sensing.NewCSVReader(strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		n, err := im.Run(context.Background(), rd)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := run(); n != (ImportCount{Stored: 3, Rejected: 3}) {
		t.Errorf("first import: %+v", n)
	}
	want := []string{"3: phenomenonTime", "5: datastream: no datastream \"7\"", "6: result"}
	if len(rejected) != 3 {
		t.Fatalf("rejected %q", rejected)
	}
	for i, w := range want {
		if !strings.HasPrefix(rejected[i], w) {
			t.Errorf("rejected[%d] = %q, want %q…", i, rejected[i], w)
		}
	}
	if len(progress) != 2 || progress[len(progress)-1].Stored != 3 || svc.Accepted.Load() != 3 {
		t.Errorf("progress %+v, accepted %d", progress, svc.Accepted.Load())
	}
	// the same file again changes nothing
	if n := run(); n != (ImportCount{Duplicates: 3, Rejected: 3}) {
		t.Errorf("second import: %+v", n)
	}
	// a store or resolver that fails stops the import with its error
	im.Resolve = names{}
	rd, _ := sensing.NewCSVReader(strings.NewReader("datastream,phenomenonTime,result\ndown,2025-09-01T00:00:00Z,1\n"))
	if _, err := im.Run(context.Background(), rd); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a failing resolver: %v", err)
	}
}
