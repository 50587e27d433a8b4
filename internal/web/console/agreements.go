package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
)

// AgreementLister lists the federation agreements the principal in ctx may see:
// federation.Service's List (all for the node-wide admin, otherwise those the key's
// organisation provides; a principal below role viewer is apperr.Forbidden). It is
// the very method GET /api/v1/federation/agreements calls, so the console shows what the API
// shows (docs/federation.md).
type AgreementLister interface {
	List(ctx context.Context) ([]federation.Agreement, error)
}

// MaxSelectionIDs is how many ids of each selection list the agreements page shows (the rest
// counted: "… (1000 in all)").
const MaxSelectionIDs = 10

// agreementRow is one agreement as the page shows it.
type agreementRow struct {
	A         federation.Agreement
	Selection string // "datastreams 1, 2 · things 7 · observed properties 3 · area · alerts"
	// AlertsOnly: the agreement shares no Observations (Selection.Data false), so it has no
	// resolution, embargo or retention: the API leaves them out (Agreement.MarshalJSON) and
	// the page says "alerts only" instead of the stored defaults ("raw", none, no limit)
	AlertsOnly bool
	Embargo    string // "none" or a duration ("6h")
	Retention  string // "no limit" or a duration
	State      string // the stored state; "expired" for an approved one past its valid-until
}

// agreementsPage serves GET /console/agreements: the federation agreements the signed-in key
// may see (AgreementLister: the API's own list and visibility rule), newest first; without
// federation on the node (Agreements nil), a page that says so.
func (s *Server) agreementsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	data := map[string]any{"Enabled": s.Agreements != nil, "Node": s.Node}
	if s.Agreements != nil {
		as, err := s.Agreements.List(ctx)
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		now := s.now()
		rows := make([]agreementRow, 0, len(as))
		for i := len(as) - 1; i >= 0; i-- { // the store lists oldest first
			a := as[i]
			row := agreementRow{A: a, Selection: selectionSummary(a.Selection), State: string(a.State), AlertsOnly: !a.Selection.Data(),
				Embargo: durationOr(time.Duration(a.Embargo), "none"), Retention: durationOr(time.Duration(a.Retention), "no limit")}
			if a.State == federation.Approved && !a.Active(now) {
				row.State = string(federation.Expired)
			}
			rows = append(rows, row)
		}
		p := auth.FromContext(ctx)
		data["Rows"], data["All"] = rows, p.NodeAdmin()
	}
	s.render(w, r, http.StatusOK, "agreements", data)
}

// selectionSummary writes a selection as "datastreams 1, 2 · things 7 · observed properties
// 3 · area · alerts", at most MaxSelectionIDs ids of each list ("…, (N in all)" after them).
func selectionSummary(sel federation.Selection) string {
	var parts []string
	for _, l := range []struct {
		name string
		ids  []int64
	}{{"datastreams", sel.Datastreams}, {"things", sel.Things}, {"observed properties", sel.ObservedProperties}} {
		if len(l.ids) == 0 {
			continue
		}
		ids := make([]string, 0, min(len(l.ids), MaxSelectionIDs))
		for _, id := range l.ids[:min(len(l.ids), MaxSelectionIDs)] {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		s := l.name + " " + strings.Join(ids, ", ")
		if len(l.ids) > MaxSelectionIDs {
			s += fmt.Sprintf(" … (%d in all)", len(l.ids))
		}
		parts = append(parts, s)
	}
	if sel.Area != nil {
		parts = append(parts, "area")
	}
	if sel.Alerts {
		parts = append(parts, "alerts")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " · ")
}

// durationOr writes d ("30d" for whole days, else Go's form: "6h0m0s"), or zero when d is 0.
func durationOr(d time.Duration, zero string) string {
	if d == 0 {
		return zero
	}
	return federation.Duration(d).String() // as the agreement's JSON has it: "30d", "6h", "1h30m"
}
