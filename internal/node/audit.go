package node

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/auth"
)

// AuditLog returns the audit log of the node whose store is stores, signing with the node's
// key and certificate (keyFile and certFile, or node-key.pem and node-cert.pem in dataDir, made
// on first use as for CAP): for the command line (rabta audit), which runs beside or without
// the node.
func AuditLog(stores *Stores, id, dataDir, keyFile, certFile string) (*audit.Log, error) {
	sign, err := nodeSigner(dataDir, id, keyFile, certFile)
	if err != nil {
		return nil, err
	}
	return &audit.Log{Store: stores.Audit, Node: id, Key: sign.key, Cert: sign.cert}, nil
}

// Audit is the node's audit log: federation records agreement changes and exchanged batches
// in it (its Record method).
func (n *Node) Audit() *audit.Log { return n.audit }

// auditRoutes serves the audit log: GET /api/v1/audit (the node-wide admin; from, to: seqs,
// limit 1–10000, default 100) answers {"entries": [...], "head": {...}}; GET
// /api/v1/audit/proof?partner=ORG[&from=RFC3339&to=RFC3339] answers the partner's proof
// (audit.Proof) to the node-wide admin or an admin of organisation ORG.
func (n *Node) auditRoutes(mux *http.ServeMux) {
	st := n.sta
	mux.HandleFunc("GET /api/v1/audit", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.RequireOwner(r.Context(), auth.Admin, auth.NodeOrganisation, "the audit log"); err != nil {
			st.Error(w, r, err)
			return
		}
		q := r.URL.Query()
		var from, to int64
		limit := 100
		for _, p := range []struct {
			name string
			dst  *int64
		}{{"from", &from}, {"to", &to}} {
			if v := q.Get(p.name); v != "" {
				x, err := strconv.ParseInt(v, 10, 64)
				if err != nil || x < 0 {
					st.Error(w, r, apperr.E(apperr.Invalid, "query parameter %s=%q: want an entry number (seq) ≥ 0", p.name, v))
					return
				}
				*p.dst = x
			}
		}
		if v := q.Get("limit"); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil {
				st.Error(w, r, apperr.E(apperr.Invalid, "query parameter limit=%q: want a number from 1 to 10000", v))
				return
			}
			limit = x
		}
		recs, err := n.audit.List(r.Context(), from, to, limit)
		if err != nil {
			st.Error(w, r, err)
			return
		}
		head, err := n.stores.Audit.LastHead(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		out := struct {
			Entries []audit.Record `json:"entries"`
			Head    *audit.Head    `json:"head"`
		}{Entries: recs, Head: head}
		if out.Entries == nil {
			out.Entries = []audit.Record{}
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /api/v1/audit/proof", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil { // no key: 401 before the query is looked at
			st.Error(w, r, err)
			return
		}
		q := r.URL.Query()
		partner := q.Get("partner")
		if partner == "" {
			st.Error(w, r, apperr.E(apperr.Invalid, "query parameter partner: required (the partner organisation or node)"))
			return
		}
		if err := auth.RequireOwner(r.Context(), auth.Admin, partner, "the audit proof for "+strconv.Quote(partner)); err != nil {
			st.Error(w, r, err)
			return
		}
		var win [2]time.Time
		for i, name := range []string{"from", "to"} {
			if v := q.Get(name); v != "" {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					st.Error(w, r, apperr.E(apperr.Invalid, "query parameter %s=%q: want an RFC 3339 time", name, v))
					return
				}
				win[i] = t
			}
		}
		p, err := n.audit.Export(r.Context(), partner, win[0], win[1])
		if err != nil {
			st.Error(w, r, err)
			return
		}
		writeJSON(w, p)
	})
}

// writeJSON answers 200 with v as JSON: Content-Type application/json unless the handler set
// one already (the WIS2 catalogue is application/geo+json), and not to be cached.
func writeJSON(w http.ResponseWriter, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
