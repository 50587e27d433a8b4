package alert_test

import (
	"context"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
)

// A warning thread received from a partner becomes a local draft that only a local approver
// issues, with <references> to the original; the provider's Update and Cancel become Update
// and Cancel drafts of the issued local alert; a draft never issued is replaced, or withdrawn
// by a Cancel; a Cancel of nothing does nothing.
func TestReceive(t *testing.T) {
	ctx := context.Background()
	prov, pst, c := newService(t)
	prov.Config.Node, prov.Config.Sender = "islamabad", "pdma.punjab.example"
	cons, cst, _ := newService(t)
	cons.Config.Node, cons.Config.Sender = "karachi", "ndma.example"
	cons.Now = c.now
	published := 0
	cons.Issued = func(*alert.Message) { published++ }

	// the provider's thread: Alert, then Update, then Cancel
	issue := func(step func() (*alert.Alert, error)) *cap.Alert {
		t.Helper()
		c.t = c.t.Add(10 * time.Minute)
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
		if _, err := prov.Approve(ctx, 1, "pdma/key-2", "checked"); err != nil {
			t.Fatal(err)
		}
		a, _ := pst.GetAlert(ctx, 1)
		m, err := cap.Unmarshal(a.Last().XML)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	receive := func(m *cap.Alert) *alert.Alert {
		t.Helper()
		c.t = c.t.Add(time.Minute)
		a, err := cons.Receive(ctx, alert.Received{Thread: "federation:islamabad:3:1", Organisation: "ndma", By: "node/islamabad",
			Why: "from node islamabad under agreement 3 (" + m.Identifier + ")", CAP: m})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := issue(func() (*alert.Alert, error) {
		return prov.Trigger(ctx, trig(rule.Fire, 1, "Exceptionally High", 700000, c.t))
	})
	a := receive(first)
	if a == nil || a.State != alert.Draft || a.Organisation != "ndma" || a.RuleID != "federation:islamabad:3:1" || a.DraftBy != "node/islamabad" ||
		len(a.Issued) != 0 || a.Draft.Infos[0].Headline != first.Infos[0].Headline || a.Status != first.Status {
		t.Fatalf("received: %+v", a)
	}
	if published != 0 {
		t.Fatalf("published %d before a local approval", published)
	}
	// received again before approval (the provider's next message, or the same redelivered):
	// the draft is replaced, still a draft
	if again := receive(first); again.ID != a.ID || again.State != alert.Draft || again.DraftType != cap.MsgAlert {
		t.Fatalf("received again: %+v", again)
	}
	if _, err := cons.Approve(ctx, a.ID, "node/islamabad", "x"); err == nil {
		t.Errorf("the provider node approved its own draft here")
	}
	if _, err := cons.Approve(ctx, a.ID, "ndma/key-4", "confirmed with PDMA"); err != nil {
		t.Fatal(err)
	}
	a, _ = cst.GetAlert(ctx, a.ID)
	local, err := cap.Unmarshal(a.Last().XML)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != alert.Issued || published != 1 || local.MsgType != cap.MsgAlert || local.Sender != "ndma.example" ||
		len(local.References) != 1 || local.References[0] != (cap.Reference{Sender: first.Sender, Identifier: first.Identifier, Sent: first.Sent}) ||
		local.Infos[0].Headline != first.Infos[0].Headline {
		t.Fatalf("issued here: %+v %+v", a, local)
	}

	update := issue(func() (*alert.Alert, error) { return prov.Trigger(ctx, trig(rule.DeEscalate, 0, "Low", 200000, c.t)) })
	if a = receive(update); a.State != alert.Issued || a.DraftType != cap.MsgUpdate || published != 1 {
		t.Fatalf("update received: %+v", a)
	}
	if _, err := cons.Approve(ctx, a.ID, "ndma/key-4", "ok"); err != nil {
		t.Fatal(err)
	}
	a, _ = cst.GetAlert(ctx, a.ID)
	local2, _ := cap.Unmarshal(a.Last().XML)
	refs := map[string]bool{}
	for _, r := range local2.References {
		refs[r.Identifier] = true
	}
	if local2.MsgType != cap.MsgUpdate || len(local2.References) != 3 || !refs[update.Identifier] || !refs[first.Identifier] || !refs[local.Identifier] {
		t.Errorf("update issued here: %s references %+v", local2.MsgType, local2.References)
	}

	cancel := issue(func() (*alert.Alert, error) { return prov.Trigger(ctx, trig(rule.Clear, -1, "", 50000, c.t)) })
	if a = receive(cancel); a.State != alert.Issued || a.DraftType != cap.MsgCancel {
		t.Fatalf("cancel received: %+v", a)
	}
	if _, err := cons.Approve(ctx, a.ID, "ndma/key-4", "ok"); err != nil {
		t.Fatal(err)
	}
	if a, _ = cst.GetAlert(ctx, a.ID); a.State != alert.Cancelled || a.Last().MsgType != cap.MsgCancel || published != 3 {
		t.Errorf("cancelled here: %+v, published %d", a, published)
	}
	// the thread is closed here: a Cancel again does nothing
	if again := receive(cancel); again != nil {
		t.Errorf("a Cancel with nothing open: %+v", again)
	}

	// a thread cancelled by its provider before it was approved here is withdrawn
	first.Identifier = "rabta-islamabad-9-1"
	w, err := cons.Receive(ctx, alert.Received{Thread: "federation:islamabad:3:9", Organisation: "ndma", By: "node/islamabad", Why: "t", CAP: first})
	if err != nil || w.State != alert.Draft {
		t.Fatalf("second thread: %+v %v", w, err)
	}
	cancel.References = []cap.Reference{{Sender: first.Sender, Identifier: first.Identifier, Sent: first.Sent}}
	if w, err = cons.Receive(ctx, alert.Received{Thread: "federation:islamabad:3:9", Organisation: "ndma", By: "node/islamabad", Why: "t", CAP: cancel}); err != nil ||
		w.State != alert.Withdrawn || len(w.Issued) != 0 || published != 3 {
		t.Errorf("cancelled before approval: %+v %v", w, err)
	}
}

func TestThread(t *testing.T) {
	o := alert.Origin{Node: "islamabad", Agreement: 3, Alert: 12}
	if got, ok := alert.ParseThread(alert.Thread(o)); !ok || got != o || alert.Thread(o) != "federation:islamabad:3:12" {
		t.Errorf("round trip: %+v %v (%s)", got, ok, alert.Thread(o))
	}
	for _, id := range []string{"khanki", "federation:", "federation:islamabad:3", "federation::3:12", "federation:islamabad:x:12", "federation:a:1:2:3"} {
		if o, ok := alert.ParseThread(id); ok {
			t.Errorf("ParseThread(%q) = %+v, want not a thread", id, o)
		}
	}
}
