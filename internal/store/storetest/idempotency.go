package storetest

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// RunIdempotency runs the Idempotency-Key store's conformance test on a fresh store from open:
// a key is claimed once, answered, replayed with its fingerprint, kept apart per API key,
// released, taken over after its lease only by the same request, forgotten after its window
// and purged; of concurrent claims exactly one wins.
func RunIdempotency(t *testing.T, open func(t *testing.T) *sqlq.Idempotency) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	lease, window := time.Minute, time.Hour
	fp, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	claim := func(apiKey int64, key string, fp []byte, at time.Time) (bool, *ingest.Answer) {
		t.Helper()
		ok, prev, err := s.Claim(ctx, apiKey, key, fp, at, lease, window)
		if err != nil {
			t.Fatal(err)
		}
		if ok == (prev != nil) {
			t.Fatalf("claim %d/%s: claimed %v with prev %+v", apiKey, key, ok, prev)
		}
		return ok, prev
	}
	if ok, _ := claim(1, "k1", fp, t0); !ok {
		t.Fatal("a fresh key was not claimed")
	}
	if ok, prev := claim(1, "k1", fp, t0.Add(time.Second)); ok || prev.Status != 0 || !bytes.Equal(prev.Fingerprint, fp) {
		t.Errorf("a key being served: claimed %v, %+v; want its claim (status 0)", ok, prev)
	}
	if ok, prev := claim(1, "k1", other, t0.Add(time.Second)); ok || !bytes.Equal(prev.Fingerprint, fp) {
		t.Errorf("another request with the key: claimed %v, %+v; want the first one's fingerprint", ok, prev)
	}
	if ok, _ := claim(2, "k1", other, t0); !ok {
		t.Error("the same key of another API key was not claimed: keys are per API key")
	}
	want := &ingest.Answer{Status: 201, ContentType: "application/json", Location: "http://x/v1.1/Observations(7)", Body: []byte(`["http://x/v1.1/Observations(7)"]`)}
	if err := s.Save(ctx, 1, "k1", want); err != nil {
		t.Fatal(err)
	}
	// the answer, long after the lease, within the window
	ok, prev := claim(1, "k1", fp, t0.Add(30*time.Minute))
	if ok || prev.Status != 201 || prev.ContentType != want.ContentType || prev.Location != want.Location || !bytes.Equal(prev.Body, want.Body) || !bytes.Equal(prev.Fingerprint, fp) {
		t.Errorf("replay: claimed %v, %+v", ok, prev)
	}
	// a released claim is served anew
	if ok, _ := claim(1, "k2", fp, t0); !ok {
		t.Fatal("k2")
	}
	if err := s.Release(ctx, 1, "k2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := claim(1, "k2", fp, t0.Add(time.Second)); !ok {
		t.Error("a released key was not claimed again")
	}
	// a lapsed claim is taken over by the same request only
	if ok, _ := claim(1, "k2", other, t0.Add(2*lease)); ok {
		t.Error("a lapsed claim was taken over by another request")
	}
	if ok, _ := claim(1, "k2", fp, t0.Add(2*lease)); !ok {
		t.Error("a lapsed claim was not taken over by its request's retry")
	}
	// after the window the key is free again
	if ok, _ := claim(1, "k1", other, t0.Add(window)); !ok {
		t.Error("an expired key was not claimed again")
	}
	// at t0+window only 2/k1 has expired (1/k1 was claimed anew, 1/k2 a second after t0)
	if n, err := s.Purge(ctx, t0.Add(window)); err != nil || n != 1 {
		t.Errorf("purge at t0+window: %d %v, want 1", n, err)
	}
	if n, err := s.Purge(ctx, t0.Add(window+2*time.Second)); err != nil || n != 1 {
		t.Errorf("purge a second after 1/k2's window: %d %v, want 1", n, err)
	}
	// concurrent claims of one key: one wins
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, _, err := s.Claim(ctx, 3, "race", fp, t0, lease, window)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d of 8 concurrent claims won, want 1", won.Load())
	}
}
