package exercise

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
)

// replay feeds the steps to the node on the exercise clock, with the simulated approver (if
// any) acting between them, until the clock reaches To.
func (r *run) replay(ctx context.Context) error {
	r.bar = newProgress(r.opts.Progress, r.opts.ProgressTTY)
	defer r.bar.finish()
	r.clock.Start()
	max := r.opts.Speed == 0
	for _, s := range r.steps {
		if max {
			if err := r.approveUntil(ctx, s.at); err != nil {
				return err
			}
			if err := r.jump(ctx, s.at); err != nil {
				return err
			}
		} else if err := r.waitUntil(ctx, s.at); err != nil {
			return err
		}
		if err := r.ingest(ctx, s); err != nil {
			return err
		}
		if max {
			if err := r.settle(ctx); err != nil {
				return err
			}
		}
		if err := r.scan(ctx); err != nil {
			return err
		}
		r.obs += s.count
		r.progress(s.at)
	}
	if max {
		if err := r.approveUntil(ctx, r.opts.To); err != nil {
			return err
		}
		if err := r.jump(ctx, r.opts.To); err != nil {
			return err
		}
	} else if err := r.waitUntil(ctx, r.opts.To); err != nil {
		return err
	}
	r.progress(r.opts.To)
	return nil
}

// jump (maximum speed) moves the clock to t and lets the warning engine tick there (expiry,
// hold times), then waits for the node to settle.
func (r *run) jump(ctx context.Context, t time.Time) error {
	r.clock.Set(t)
	if err := r.node.Tick(ctx); err != nil {
		return fmt.Errorf("exercise node: %w", err)
	}
	return r.settle(ctx)
}

// waitUntil waits (speed N) until the exercise clock reaches t, looking for drafts to approve
// every 100 ms of wall time and approving those due.
func (r *run) waitUntil(ctx context.Context, t time.Time) error {
	for {
		if err := r.scan(ctx); err != nil {
			return err
		}
		if err := r.approveDue(ctx, r.clock.Now()); err != nil {
			return err
		}
		r.progress(r.clock.Now())
		d := r.clock.Until(t)
		if d == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(d, 100*time.Millisecond)):
		}
	}
}

// approveUntil (maximum speed) moves the clock to each simulated approval due at or before t,
// approves, and lets the node settle.
func (r *run) approveUntil(ctx context.Context, t time.Time) error {
	if r.approver.key == "" {
		return nil
	}
	for {
		var next time.Time
		for _, seen := range r.pending {
			if due := seen.Add(r.opts.ApproveAfter); next.IsZero() || due.Before(next) {
				next = due
			}
		}
		if next.IsZero() || next.After(t) {
			return nil
		}
		if err := r.jump(ctx, next); err != nil {
			return err
		}
		if err := r.approveDue(ctx, next); err != nil {
			return err
		}
		if err := r.settle(ctx); err != nil {
			return err
		}
		if err := r.scan(ctx); err != nil {
			return err
		}
	}
}

// ingest posts one step's readings through the SensorThings API (CreateObservations), the
// way a logger would: ingest, QC and the bus take it from there.
func (r *run) ingest(ctx context.Context, s step) error {
	var groups []map[string]any
	ids := make([]int64, 0, len(s.byDS))
	for id := range s.byDS {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same order on every run: alerts numbered alike
	for _, id := range ids {
		rs := s.byDS[id]
		var rows [][]any
		for _, o := range rs {
			rows = append(rows, []any{o.Time.UTC().Format(time.RFC3339Nano), o.Value})
		}
		groups = append(groups, map[string]any{"Datastream": map[string]any{"@iot.id": id}, "components": []string{"phenomenonTime", "result"}, "dataArray": rows})
	}
	var out []string
	if _, err := r.api.postJSON(ctx, "/v1.1/CreateObservations", groups, &out); err != nil {
		return fmt.Errorf("replay %s: %w", s.at.Format(time.RFC3339), err)
	}
	for _, o := range out {
		if strings.Contains(strings.ToLower(o), "error") {
			r.log.Warn("reading_refused", "at", s.at, "answer", o)
		}
	}
	return nil
}

// settle waits until the node has handled everything given to it so far (node.Settled).
func (r *run) settle(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for wait := 200 * time.Microsecond; ; wait = min(wait*2, 20*time.Millisecond) {
		ok, err := r.node.Settled(ctx)
		if err != nil {
			return fmt.Errorf("exercise node: %w", err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			r.log.Warn("not_settled", "why", "the node did not settle in 30 s (a delivery waiting for a retry?): going on")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// alertSummary is what the simulated approver reads of GET /api/v1/alerts.
type alertSummary struct {
	ID    int64                `json:"id"`
	State string               `json:"state"`
	Draft *struct{ By string } `json:"draft"`
}

// scan looks, through the API as an operator would, for drafts not seen before and notes the
// exercise time each appeared at (only with a simulated approver).
func (r *run) scan(ctx context.Context) error {
	if r.approver.key == "" {
		return nil
	}
	var list struct {
		Value []alertSummary `json:"value"`
	}
	if err := r.approver.get(ctx, "/api/v1/alerts?limit=1000", &list); err != nil {
		return err
	}
	now := r.clock.Now()
	drafts := map[int64]bool{}
	for _, a := range list.Value {
		if a.Draft == nil {
			continue
		}
		drafts[a.ID] = true
		if _, ok := r.pending[a.ID]; !ok {
			r.pending[a.ID] = now
		}
	}
	for id := range r.pending {
		if !drafts[id] { // withdrawn, or approved by someone else
			delete(r.pending, id)
		}
	}
	return nil
}

// approveDue approves, through the API, every draft seen ApproveAfter or longer before now.
func (r *run) approveDue(ctx context.Context, now time.Time) error {
	if r.approver.key == "" {
		return nil
	}
	var due []int64
	for id, seen := range r.pending {
		if !seen.Add(r.opts.ApproveAfter).After(now) {
			due = append(due, id)
		}
	}
	slices.Sort(due)
	for _, id := range due {
		delete(r.pending, id)
		_, err := r.approver.postJSON(ctx, fmt.Sprintf("/api/v1/alerts/%d/approve", id), map[string]string{"why": "exercise: simulated approver"}, nil)
		if err != nil {
			// the draft may have gone meanwhile (withdrawn when the river fell): not the run's failure
			r.log.Warn("simulated_approval_failed", "alert", id, "err", err)
		}
	}
	return nil
}

// recipients imports the recipients file through the subscribers API and says on Console who
// cannot receive the exercise's alerts (no "exercise" audience).
func (r *run) recipients(ctx context.Context) error {
	b, err := os.ReadFile(r.opts.Recipients)
	if err != nil {
		return fmt.Errorf("recipients: %w", err)
	}
	rows, without, err := auditRecipients(b)
	if err != nil {
		return fmt.Errorf("recipients %s: %w", r.opts.Recipients, err)
	}
	var out struct {
		Stored  int `json:"stored"`
		Refused int `json:"refused"`
		Errors  []struct {
			Line   int    `json:"line"`
			Column string `json:"column"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if _, err := r.api.do(ctx, "POST", "/api/v1/subscribers/import", "text/csv", b, &out); err != nil {
		return fmt.Errorf("recipients %s: %w", r.opts.Recipients, err)
	}
	fmt.Fprintf(r.opts.Console, "recipients: %d of %d stored from %s\n", out.Stored, rows, r.opts.Recipients)
	for _, e := range out.Errors {
		fmt.Fprintf(r.opts.Console, "  %s line %d %s: %s\n", r.opts.Recipients, e.Line, e.Column, e.Reason)
	}
	if len(without) > 0 {
		fmt.Fprintf(r.opts.Console, "  lines %v are not in the \"exercise\" audience: exercise alerts never reach them\n", without)
	}
	return nil
}

// auditRecipients reads a subscriber CSV's header and audiences: it returns the number of data
// rows and the lines (1-based, header = 1) whose audiences lack "exercise". A file without an
// "audiences" column, or that is not CSV, is an error naming what is wrong.
func auditRecipients(b []byte) (rows int, without []int, err error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return 0, nil, errors.New("empty file: want a header line (name,language,audiences,…) as in examples/subscribers.csv")
	}
	if err != nil {
		return 0, nil, err
	}
	col := -1
	for i, h := range head {
		if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == "audiences" {
			col = i
		}
	}
	if col < 0 {
		return 0, nil, errors.New("line 1: no \"audiences\" column (see examples/subscribers.csv)")
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, without, nil
		}
		if err != nil {
			return rows, without, err
		}
		rows++
		aud := ""
		if col < len(rec) {
			aud = rec[col]
		}
		if !slices.Contains(strings.Split(strings.ReplaceAll(aud, " ", ""), ";"), "exercise") {
			line, _ := cr.FieldPos(0)
			without = append(without, line)
		}
	}
}

// recipientAddresses returns the recipients file's phone numbers and e-mail addresses as the
// delivery sink writes them (channel.Redact), to check that nothing went to anyone else.
func recipientAddresses(path string) (map[string]bool, error) {
	out := map[string]bool{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil || len(recs) == 0 {
		return out, nil // auditRecipients already said what is wrong
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, rec := range recs[1:] {
		if i, ok := col["phone"]; ok && i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			if p, err := dissemination.PhoneNumber(rec[i]); err == nil {
				out[channel.Redact(p)] = true
			}
		}
		if i, ok := col["email"]; ok && i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			out[channel.Redact(strings.TrimSpace(rec[i]))] = true
		}
	}
	return out, nil
}
