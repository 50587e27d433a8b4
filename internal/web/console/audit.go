package console

import (
	"context"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/auth"
)

// AuditLog reads the node's audit log (*audit.Log implements it; docs/audit.md): List returns
// the records with from ≤ seq ≤ to (to 0: to the end), by seq, at most limit (1–10,000);
// VerifyLatest checks the whole hash chain, each signed head's hash and the latest head's
// signature.
type AuditLog interface {
	List(ctx context.Context, from, to int64, limit int) ([]audit.Record, error)
	VerifyLatest(ctx context.Context) (audit.Report, error)
}

// Limits of the audit page.
const (
	AuditPageEntries = 200 // the latest entries shown
	AuditDetailChars = 160 // characters of an entry's detail (JSON) shown, the rest cut with "…"
)

// auditRow is one entry as the page shows it.
type auditRow struct {
	R      audit.Record
	Detail string // the detail's JSON, shortened to AuditDetailChars characters
}

// auditPage serves GET /console/audit to the node-wide admin (as GET /api/v1/audit: role
// admin in the node's organisation; anyone else 403): the result of VerifyLatest over the
// whole chain ("chain of N entries verifies, head signed by …", or the first bad entry) and
// the latest AuditPageEntries entries, newest first. VerifyLatest reads the chain a page at a
// time and costs a SHA-256 per entry on every view; every head's signature is checked by
// `rabta audit verify`. Without an audit log (Audit nil), a page that says so.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.RequireOwner(ctx, auth.Admin, auth.NodeOrganisation, "the audit log"); err != nil {
		s.failErr(w, r, err)
		return
	}
	data := map[string]any{"Enabled": s.Audit != nil}
	if s.Audit != nil {
		rep, err := s.Audit.VerifyLatest(ctx)
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		var rows []auditRow
		if rep.Entries > 0 {
			recs, err := s.Audit.List(ctx, max(1, rep.Entries-AuditPageEntries+1), 0, AuditPageEntries)
			if err != nil {
				s.failErr(w, r, err)
				return
			}
			slices.Reverse(recs)
			for _, rec := range recs {
				rows = append(rows, auditRow{R: rec, Detail: shorten(string(rec.Detail), AuditDetailChars)})
			}
		}
		signer := ""
		if l, ok := s.Audit.(*audit.Log); ok && l.Cert != nil {
			signer = l.Cert.Subject.CommonName
		}
		data["Report"], data["Rows"], data["Signer"] = rep, rows, signer
	}
	s.render(w, r, http.StatusOK, "audit", data)
}

// shorten returns s cut to at most n characters (runes; "…" is the last when cut). Text that
// is not valid UTF-8 has its bad bytes replaced first.
func shorten(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // each bad byte becomes U+FFFD
	}
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
