package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
)

// MaxEditBody is the largest body POST /api/v1/alerts/{id}/edit reads, in bytes: room for
// alert.MaxEdits infos with every text at its limit, each character JSON-escaped (512 KiB).
const MaxEditBody = 512 << 10

// editBody is what POST /api/v1/alerts/{id}/edit reads.
type editBody struct {
	Why   string           `json:"why"`
	Infos []alert.InfoEdit `json:"infos"`
}

// edit serves POST /api/v1/alerts/{id}/edit (Edit): body {"why": "...", "infos":
// [{"language": "ur", "headline": "...", "description": "...", "instruction": "..."}]};
// answers 200 with the alert view, or 400, 401, 403, 404, 409, 413 (docs/alerts.md).
func (s *Server) edit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Approver); err != nil {
		s.Error(w, r, err)
		return
	}
	id, err := s.alertID(r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var body editBody
	if err := decodeBody(w, r, MaxEditBody, false, &body, `{"why": "...", "infos": [{"language": "...", "headline": "...", "description": "...", "instruction": "..."}]}`); err != nil {
		s.Error(w, r, err)
		return
	}
	a, err := s.Edit(ctx, id, body.Why, body.Infos)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ts, _ := s.Store.Transitions(ctx, id)
	writeJSON(w, http.StatusOK, s.view(r, a, ts))
}

// Edit changes the texts of alert id's waiting draft (alert.Service.Edit: limits, errors and
// four eyes) for the principal in ctx, and returns the alert as stored after it: approver
// role, of the alert's organisation (or the node-wide admin: auth.RequireOwner), as Decide.
// The REST API and the operator console both edit through it; each edit is recorded in the
// audit log as "alert.edit" with the languages and fields changed. Errors carry their kind:
// Unauthorized, Forbidden, NotFound, Conflict, Invalid.
func (s *Server) Edit(ctx context.Context, id int64, why string, edits []alert.InfoEdit) (*alert.Alert, error) {
	if err := auth.Require(ctx, auth.Approver); err != nil {
		return nil, err
	}
	cur, err := s.readable(ctx, reader(ctx), id) // as Decide: not found when it may not read it
	if err != nil {
		return nil, err
	}
	if err := auth.RequireOwner(ctx, auth.Approver, cur.Organisation, fmt.Sprintf("alert %d", id)); err != nil {
		return nil, err
	}
	a, err := s.Alerts.Edit(ctx, id, auth.FromContext(ctx).Name(), why, edits)
	if err != nil {
		return nil, err
	}
	changed := map[string][]string{}
	for _, e := range edits {
		if e.Headline != nil {
			changed[e.Language] = append(changed[e.Language], "headline")
		}
		if e.Description != nil {
			changed[e.Language] = append(changed[e.Language], "description")
		}
		if e.Instruction != nil {
			changed[e.Language] = append(changed[e.Language], "instruction")
		}
	}
	s.audit(ctx, "alert.edit", fmt.Sprintf("alert/%d", id), map[string]any{"alert": id, "organisation": cur.Organisation, "state": a.State, "why": why, "changed": changed})
	return s.Store.GetAlert(ctx, a.ID)
}
