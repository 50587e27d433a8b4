package bus

import (
	"fmt"
	"testing"
	"time"
)

// A batch fetched but not acknowledged (it could not be stored), followed by later fetches:
// the consumer acknowledges "all up to" a message, so passing on the later values and
// acknowledging them would lose the batch. The link passes on nothing past the gap; the batch
// comes again after the ack wait and everything arrives once, in order. (Seen in the
// 10-minute-cut benchmark as 999 values lost: a batch delivered to a fetch the link had
// stopped waiting on.)
func TestLinkKeepsStreamOrder(t *testing.T) {
	old := fedAckWait
	fedAckWait = time.Second
	t.Cleanup(func() { fedAckWait = old })
	ctx := t.Context()
	b, _, id, kSeed, _ := fedSetup(t, Options{})
	for i := range 9 {
		if err := b.PublishFed(ctx, id, fmt.Sprint("m", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	kar, err := Dial(b.ClientURL(), "prov", "karachi", kSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kar.Close()
	lost, err := kar.Fetch(ctx, id, 3, time.Second) // 0 1 2: not stored, not acknowledged
	if err != nil || len(lost) != 3 {
		t.Fatalf("first fetch: %d values, %v", len(lost), err)
	}
	if got, err := kar.Fetch(ctx, id, 3, time.Second); err != nil || len(got) != 0 {
		t.Fatalf("after the unacknowledged batch the link passed on %d values (%v): acknowledging them would lose 0–2", len(got), err)
	}
	if kar.Gaps() != 1 {
		t.Errorf("gaps %d, want 1", kar.Gaps())
	}
	var seen []string
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 9 && time.Now().Before(deadline) {
		msgs, err := kar.Fetch(ctx, id, 4, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			seen = append(seen, string(m.Data))
		}
		if err := kar.Ack(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(seen) != "[0 1 2 3 4 5 6 7 8]" {
		t.Fatalf("received %v, want each of 0–8 once, in order", seen)
	}
}
