package httpapi

import (
	"context"

	"github.com/rabta/rabta/internal/auth"
)

// Auditor records what the API changed (package audit's Log has this method).
type Auditor interface {
	Record(ctx context.Context, kind, actor, subject string, detail any) error
}

// audit records an action done by ctx's principal. The action has happened: a failure to
// record it is logged (the audit log's store is the node's store, so it is rare), not
// returned to the client.
func (s *Server) audit(ctx context.Context, kind, subject string, detail any) {
	if s.Audit == nil {
		return
	}
	actor := "node"
	if p := auth.FromContext(ctx); p != nil {
		actor = p.Name()
	}
	if err := s.Audit.Record(ctx, kind, actor, subject, detail); err != nil && s.Log != nil {
		s.Log.Error("audit_not_recorded", "kind", kind, "subject", subject, "err", err)
	}
}
