package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
)

// AsRemote marks the Author of a draft received from a partner node (Service.Receive): the
// provider node, "node/<id>". No local key has that name, so any local approver may decide.
const AsRemote = "remote"

// Received is a CAP message another node issued and shared with this one under a
// data-sharing agreement (docs/federation.md "Alerts"), its signature already verified.
type Received struct {
	// Thread names the local alert that holds the provider's warning thread, as its RuleID
	// (no rule has it): "federation:<provider>:<agreement>:<provider's alert id>".
	Thread string
	// Organisation owns the local alert: the agreement's consumer organisation.
	Organisation string
	// By is the provider node ("node/islamabad"), the draft's author; Why says where it came
	// from, for the record.
	By, Why string
	// CAP is the message as the provider issued it.
	CAP *cap.Alert
}

// Receive turns a received message into a local draft that waits for a local approver
// (Approve, with four eyes as for any draft; nothing is issued here): a first message of a
// thread becomes a new alert owned by r.Organisation; one for a thread whose alert is still
// a draft replaces that draft (a Cancel withdraws it); one for a thread whose alert is issued
// becomes an Update or Cancel draft of it. The draft carries the provider's texts, areas and
// status (not its rabta:* parameters: its rule, its audiences), and <references> (CAP 1.2 §3.2.1) to the provider's message and those it
// references, which issuing keeps (issue) besides this node's own earlier messages. A Cancel
// for a thread with no open alert does nothing. It returns the alert it touched (nil: none).
func (s *Service) Receive(ctx context.Context, r Received) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.receive(ctx, r)
		return err
	})
	return a, err
}

func (s *Service) receive(ctx context.Context, r Received) (*Alert, error) {
	orig := r.CAP
	open, err := s.Store.OpenAlert(ctx, r.Thread)
	if err != nil && apperr.KindOf(err) != apperr.NotFound {
		return nil, err
	}
	draft := *orig
	draft.Identifier, draft.Sender, draft.Sent, draft.Extensions = "", "", time.Time{}, nil
	draft.References = []cap.Reference{{Sender: orig.Sender, Identifier: orig.Identifier, Sent: orig.Sent}}
	for _, ref := range orig.References {
		if !slices.ContainsFunc(draft.References, func(x cap.Reference) bool { return x.Identifier == ref.Identifier && x.Sender == ref.Sender }) {
			draft.References = append(draft.References, ref)
		}
	}
	draft.Infos = slices.Clone(orig.Infos)
	for i := range draft.Infos { // the provider's own parameters (its rule, its audiences) mean nothing here
		in := &draft.Infos[i]
		in.Parameters = slices.DeleteFunc(slices.Clone(in.Parameters), func(p cap.ValuePair) bool { return strings.HasPrefix(p.ValueName, "rabta:") })
	}
	draft.Note = fmt.Sprintf("%s; re-issued here after local approval", r.Why)
	cancel := orig.MsgType == cap.MsgCancel
	now := s.now()
	authors := []Author{{Name: r.By, As: AsRemote}}
	level := ""
	if len(orig.Infos) > 0 {
		level = string(orig.Infos[0].Severity)
	}
	switch {
	case open == nil && cancel:
		return nil, nil
	case open == nil:
		a := &Alert{RuleID: r.Thread, Organisation: r.Organisation, State: Draft, Status: orig.Status, LevelName: level,
			Created: now, Updated: now, DraftBy: r.By, DraftType: cap.MsgAlert, Authors: authors, Draft: &draft}
		id, err := s.Store.CreateAlert(ctx, a, Transition{From: "", To: Draft, By: r.By, Why: "received: " + r.Why, At: now})
		if err != nil {
			return nil, err
		}
		a.ID = id
		s.impact(ctx, a.ID, &draft)
		return a, nil
	case len(open.Issued) == 0 && cancel: // never issued here: nothing to tell the public
		from := open.State
		open.State, open.Draft, open.DraftType, open.Authors, open.Updated = Withdrawn, nil, "", nil, now
		return open, s.Store.SaveAlert(ctx, open, Transition{AlertID: open.ID, From: from, To: Withdrawn, By: r.By, Why: "cancelled by its provider before it was issued here: " + r.Why, At: now}, nil)
	}
	kind := cap.MsgAlert
	switch {
	case len(open.Issued) > 0 && cancel:
		kind = cap.MsgCancel
	case len(open.Issued) > 0:
		kind = cap.MsgUpdate
	}
	open.Authors = authors
	return open, s.setDraft(ctx, open, &draft, kind, 0, level, r.By, "received: "+r.Why, false)
}

// kept returns the references a draft carries to messages that are not this alert's own
// (a received alert's original, Receive), which issuing keeps ahead of its own.
func kept(a *Alert) []cap.Reference {
	var out []cap.Reference
	for _, ref := range a.Draft.References {
		if !slices.ContainsFunc(a.Issued, func(m Message) bool { return m.Identifier == ref.Identifier && m.Sender == ref.Sender }) {
			out = append(out, ref)
		}
	}
	return out
}

// Origin is where a received alert comes from: the provider node, the agreement it was shared
// under, and the provider's alert (thread) id.
type Origin struct {
	Node      string `json:"node"`
	Agreement int64  `json:"agreement"`
	Alert     int64  `json:"alert"`
}

// threadPrefix starts the RuleID of every received alert (Thread).
const threadPrefix = "federation:"

// Thread is the RuleID of the local alert holding o's warning thread:
// "federation:<node>:<agreement>:<alert>".
func Thread(o Origin) string {
	return fmt.Sprintf("%s%s:%d:%d", threadPrefix, o.Node, o.Agreement, o.Alert)
}

// ParseThread returns the origin of a received alert from its RuleID (ok false for a rule's).
func ParseThread(ruleID string) (o Origin, ok bool) {
	rest, ok := strings.CutPrefix(ruleID, threadPrefix)
	if !ok {
		return o, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return o, false
	}
	if _, err := fmt.Sscanf(parts[1]+" "+parts[2], "%d %d", &o.Agreement, &o.Alert); err != nil || parts[0] == "" {
		return Origin{}, false
	}
	o.Node = parts[0]
	return o, true
}
