package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// fedRoutes registers the federation API (docs/federation.md): every call needs a key (writes
// as federation.Service says: create by an operator or admin of the providing organisation,
// approve and revoke by its admin, partners by the node-wide admin).
//
//	GET  /api/v1/federation/agreements               the agreements the key's organisation provides
//	POST /api/v1/federation/agreements               a new agreement (JSON, federation.ParseAgreement) → 201, state proposed
//	POST /api/v1/federation/agreements/{id}/approve  → 200 the agreement, approved
//	POST /api/v1/federation/agreements/{id}/revoke   → 200 the agreement, revoked
//	GET  /api/v1/federation/received                 the agreements this node receives from partners, with their state and counts
//	GET  /api/v1/federation/partners                 partner nodes (node-wide admin)
//	POST /api/v1/federation/partners                 {"node","nkey","url"?,"ca"?,"cert"?} (node-wide admin) → 201; 200 when it existed (updated)
//	DELETE /api/v1/federation/partners/{node}        (node-wide admin) → 204; 409 naming its open agreements
//	GET  /api/v1/federation/key                      this node's public nkey (any key)
func (n *Node) fedRoutes(mux *http.ServeMux) {
	svc := n.fed.svc
	fail := n.api.Error
	need := func(w http.ResponseWriter, r *http.Request, role auth.Role) bool {
		if err := auth.Require(r.Context(), role); err != nil {
			fail(w, r, err)
			return false
		}
		return true
	}
	body := func(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, federation.MaxBodyBytes))
		if err != nil {
			fail(w, r, apperr.E(apperr.TooLarge, "body over the limit of %d bytes", federation.MaxBodyBytes))
			return nil, false
		}
		return b, true
	}
	mux.HandleFunc("GET /api/v1/federation/agreements", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Viewer) {
			return
		}
		as, err := svc.List(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		writeFedJSON(w, http.StatusOK, map[string]any{"value": as})
	})
	mux.HandleFunc("POST /api/v1/federation/agreements", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Operator) {
			return
		}
		b, ok := body(w, r)
		if !ok {
			return
		}
		a, err := federation.ParseAgreement(b)
		if err == nil {
			err = svc.Create(r.Context(), a)
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		writeFedJSON(w, http.StatusCreated, a)
	})
	for _, verb := range []string{"approve", "revoke"} {
		mux.HandleFunc("POST /api/v1/federation/agreements/{id}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			if !need(w, r, auth.Admin) {
				return
			}
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil || id <= 0 {
				fail(w, r, apperr.E(apperr.Invalid, "agreement id %q: a positive number", r.PathValue("id")))
				return
			}
			var a *federation.Agreement
			if verb == "approve" {
				a, err = svc.Approve(r.Context(), id)
			} else {
				a, err = svc.Revoke(r.Context(), id)
			}
			if apperr.KindOf(err) == apperr.NotFound {
				err = ReceivedHint(r.Context(), n.stores.Federation, id, verb, err)
			}
			if err != nil {
				fail(w, r, err)
				return
			}
			writeFedJSON(w, http.StatusOK, a)
		})
	}
	mux.HandleFunc("GET /api/v1/federation/received", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Viewer) {
			return
		}
		rs, err := n.fed.received(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		writeFedJSON(w, http.StatusOK, map[string]any{"value": rs})
	})
	mux.HandleFunc("GET /api/v1/federation/partners", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Admin) {
			return
		}
		if !auth.FromContext(r.Context()).NodeAdmin() {
			fail(w, r, apperr.E(apperr.Forbidden, "partners are the node's: only the node-wide admin lists them"))
			return
		}
		ps, err := n.stores.Federation.Partners(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		writeFedJSON(w, http.StatusOK, map[string]any{"value": ps})
	})
	mux.HandleFunc("POST /api/v1/federation/partners", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Admin) {
			return
		}
		b, ok := body(w, r)
		if !ok {
			return
		}
		if json.Valid(b) { // a member twice (which one counts differs between parsers), text not UTF-8 …
			if err := sensing.CheckJSON(b); err != nil {
				fail(w, r, apperr.E(apperr.Invalid, "partner: %v", err))
				return
			}
		}
		var p federation.Partner
		dec := json.NewDecoder(bytesReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			fail(w, r, apperr.E(apperr.Invalid, "partner: body: want {\"node\", \"nkey\", \"url\"?, \"ca\"?, \"cert\"?}: %v", err))
			return
		}
		existed, err := svc.SavePartner(r.Context(), &p)
		if err != nil {
			fail(w, r, err)
			return
		}
		if n.bus != nil { // a replaced key's sessions are closed now, not at the bus's next look
			n.bus.CheckPartnerKeys(r.Context())
		}
		status := http.StatusCreated
		if existed { // updated: p is the stored record, its created time the original one
			status = http.StatusOK
		}
		writeFedJSON(w, status, p)
	})
	mux.HandleFunc("DELETE /api/v1/federation/partners/{node}", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Admin) {
			return
		}
		if err := svc.RemovePartner(r.Context(), r.PathValue("node")); err != nil {
			fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/federation/key", func(w http.ResponseWriter, r *http.Request) {
		if !need(w, r, auth.Viewer) {
			return
		}
		k, err := FedPublicKey(n.opts.DataDir)
		if err != nil {
			fail(w, r, err)
			return
		}
		writeFedJSON(w, http.StatusOK, map[string]string{"node": n.opts.ID, "nkey": k})
	})
}

func writeFedJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// ReceivedHint is err (agreement id not found among this node's own) with, when this node
// receives an agreement of that id that the caller may see (ReceivedFor), where it comes from:
// only its provider approves or revokes it.
func ReceivedHint(ctx context.Context, store *sqlq.Federation, id int64, verb string, err error) error {
	rs, rerr := ReceivedFor(ctx, store)
	if rerr != nil {
		return err
	}
	var from []string
	for _, r := range rs {
		if r.Agreement == id {
			from = append(from, r.Provider)
		}
	}
	if len(from) == 0 {
		return err
	}
	return apperr.E(apperr.NotFound, "agreement %d is not this node's: it is one this node receives from %s (rabta federation agreements list --received, or GET /api/v1/federation/received); only its provider can %s it",
		id, strings.Join(from, " and "), verb)
}
