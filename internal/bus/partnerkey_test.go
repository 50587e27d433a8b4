package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/federation"
)

// A partner's key replaced in the store only (as the command line does, from another process)
// closes the old key's live session within about a second: karachi, linked with its old key,
// fetches nothing published after the replacement, and the old key's login is refused, while
// the new key logs in and fetches what karachi missed.
func TestPartnerKeyReplaced(t *testing.T) {
	ctx := t.Context()
	b, f, id, kSeed, _ := fedSetup(t, Options{})
	if err := b.PublishFed(ctx, id, "before", []byte("before")); err != nil {
		t.Fatal(err)
	}
	kar, err := Dial(b.ClientURL(), "prov", "karachi", kSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kar.Close()
	msgs, err := kar.Fetch(ctx, id, 10, 2*time.Second)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("karachi fetched %d values, err %v (want 1)", len(msgs), err)
	}
	if err := kar.Ack(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	newSeed, _ := kp.Seed()
	if err := f.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: pub, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(partnerKeysEvery + 500*time.Millisecond)
	if err := b.PublishFed(ctx, id, "after", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if msgs, err := kar.Fetch(ctx, id, 10, time.Second); len(msgs) > 0 {
		t.Errorf("karachi's session with its old key fetched %d values published after the key was replaced (err %v)", len(msgs), err)
	}
	old, _ := nkeys.FromSeed(kSeed)
	oldPub, _ := old.PublicKey()
	if nc, err := nats.Connect(b.ClientURL(), nats.Nkey(oldPub, old.Sign), nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Errorf("the old key still logs in")
	}
	kar2, err := Dial(b.ClientURL(), "prov", "karachi", newSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kar2.Close()
	if msgs, err := kar2.Fetch(ctx, id, 10, 3*time.Second); err != nil || len(msgs) != 1 || string(msgs[0].Data) != "after" {
		t.Errorf("karachi with its new key fetched %d values, err %v (want the one published after the replacement)", len(msgs), err)
	}
}
