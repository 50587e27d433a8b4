package federation

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// Store keeps partners and agreements (sqlq.Federation, on either engine).
type Store interface {
	CreateAgreement(ctx context.Context, a *Agreement) error
	// Agreement returns one (NotFound when it does not exist).
	Agreement(ctx context.Context, id int64) (*Agreement, error)
	// Agreements lists every agreement, oldest first.
	Agreements(ctx context.Context) ([]Agreement, error)
	// SetState moves agreement id from state from to state to, recording by and at as its
	// approver or revoker; Conflict when it is not in from.
	SetState(ctx context.Context, id int64, from, to State, by string, at time.Time) error
	AddPartner(ctx context.Context, p *Partner) error
	Partners(ctx context.Context) ([]Partner, error)
	// RemovePartner removes partner node: NotFound when there is none, Conflict naming them
	// while agreements with it as consumer are proposed or approved (nothing is removed then).
	RemovePartner(ctx context.Context, node string) error
	Catalogue
}

// Catalogue tells which of the entities an agreement names exist on this node.
type Catalogue interface {
	// Owners returns the organisation of each of ids that exists as an entity of kind
	// ("datastreams", "things" or "observedProperties"); an id with no entity is not in it.
	Owners(ctx context.Context, kind string, ids []int64) (map[int64]string, error)
	// Organisation reports whether organisation org exists on this node: it has keys, or owns
	// Datastreams, Things, rules or alerts. The node's own (auth.NodeOrganisation) always does.
	Organisation(ctx context.Context, org string) (bool, error)
	// Selected returns the Datastreams selection sel picks among those organisation org owns,
	// by id: what the exporter shares (none for a selection of alerts only).
	Selected(ctx context.Context, org string, sel Selection) (map[int64]RemoteSource, error)
}

// Service decides who may do what with agreements, and records every change (Audit).
//
//   - create: an operator or admin of the providing organisation (or the node-wide admin);
//   - approve: an admin of the providing organisation (or the node-wide admin), not the
//     agreement's creator's key (four eyes do not apply to the node-wide admin's own key);
//   - revoke: an admin of the providing organisation (or the node-wide admin);
//   - list: a viewer sees the agreements its organisation provides. Every agreement on this
//     node is one this node provides: its consumer organisation is a name on the partner
//     node, not an organisation here, so a local organisation that happens to share that
//     name sees nothing of it.
//
// Without a principal in ctx (the command line, which holds the data directory) everything is
// allowed and recorded as by "cli".
type Service struct {
	Store Store
	Audit AuditSink
	Now   func() time.Time
	// Changed, when set, is called after each change (the node recompiles its exports).
	Changed func()
	// Holder, when set, names whoever holds the key named (auth.HolderName): the approver may
	// not be the creator's holder, so a second key an admin minted for itself cannot approve
	// what the first created. Nil: keys are compared.
	Holder func(ctx context.Context, name string) (string, error)
	// Node and NodeKey, when set, are this node's id and its public nkey: a partner with
	// either is this node itself and is refused, and so is an agreement (created or approved)
	// whose consumer node is Node — a node does not share with itself.
	Node    string
	NodeKey func() (string, error)
}

// CheckPartnerNotSelf refuses p as this node itself — its id, or its key — as AddPartner does:
// for a caller that checks before it changes anything (the command line).
func (s *Service) CheckPartnerNotSelf(p *Partner) error {
	return s.checkNotSelf("partner: node", p.Node, p.NKey)
}

// checkNotSelf refuses node (with nkey, when given) as this node itself (Invalid, naming why).
func (s *Service) checkNotSelf(member, node, nkey string) error {
	if s.Node != "" && node == s.Node {
		return apperr.E(apperr.Invalid, "%s: %q is this node itself: a node is not its own partner and shares nothing with itself (give the partner node's id)", member, node)
	}
	if nkey == "" || s.NodeKey == nil {
		return nil
	}
	own, err := s.NodeKey()
	if err != nil {
		return err
	}
	if nkey == own {
		return apperr.E(apperr.Invalid, "partner: nkey: it is this node's own public key (rabta federation key): a node is not its own partner (give the partner node's key)")
	}
	return nil
}

// sameHolder reports whether key names a and b are held by the same holder.
func (s *Service) sameHolder(ctx context.Context, a, b string) (bool, error) {
	if a == b || s.Holder == nil {
		return a == b, nil
	}
	ha, err := s.Holder(ctx, a)
	if err != nil {
		return false, err
	}
	hb, err := s.Holder(ctx, b)
	return ha == hb, err
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) audit() AuditSink {
	if s.Audit == nil {
		return NopAudit{}
	}
	return s.Audit
}

func actor(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.Name()
	}
	return "cli"
}

func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// Create stores a new agreement in state proposed; its consumer node must be a registered
// partner (Invalid otherwise). It sets a.SelectedDatastreams to how many Datastreams the
// selection picks now, as the exporter resolves it: a selection that picks none is accepted
// (a station may come later), and the caller says so.
func (s *Service) Create(ctx context.Context, a *Agreement) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if p := auth.FromContext(ctx); p != nil {
		if err := auth.RequireOwner(ctx, auth.Operator, a.ProviderOrg, "an agreement of organisation "+a.ProviderOrg); err != nil {
			return err
		}
	}
	if err := s.checkNotSelf("agreement: consumerNode", a.ConsumerNode, ""); err != nil {
		return err
	}
	ps, err := s.Store.Partners(ctx)
	if err != nil {
		return err
	}
	known := false
	for _, p := range ps {
		known = known || p.Node == a.ConsumerNode
	}
	if !known {
		return apperr.E(apperr.Invalid, "agreement: consumerNode: %q is not a partner of this node (rabta federation partners add)", a.ConsumerNode)
	}
	if err := s.checkNamed(ctx, a); err != nil {
		return err
	}
	var selected *int // the exporter's own resolution of the selection (none: alerts only)
	if a.Selection.Data() {
		sel, err := s.Store.Selected(ctx, a.ProviderOrg, a.Selection)
		if err != nil {
			return err
		}
		selected = new(int)
		*selected = len(sel)
	}
	a.State, a.CreatedBy, a.CreatedAt = Proposed, actor(ctx), s.now().UTC()
	a.ApprovedBy, a.ApprovedAt, a.RevokedBy, a.RevokedAt = "", nil, "", nil
	a.SelectedDatastreams, a.Warnings = nil, nil // the terms alone are stored and recorded
	if err := s.Store.CreateAgreement(ctx, a); err != nil {
		return err
	}
	s.changed()
	if err := s.audit().Record(ctx, "agreement.create", a.CreatedBy, subject(a.ID), a); err != nil {
		return err
	}
	a.SelectedDatastreams, a.Warnings = selected, createWarnings(a, selected)
	return nil
}

// createWarnings are the warnings of create's answer for agreement a (Agreement.Warnings),
// whose selection picks selected Datastreams now (nil: it shares no Observations).
func createWarnings(a *Agreement, selected *int) []string {
	var w []string
	if selected != nil && *selected == 0 {
		w = append(w, fmt.Sprintf("selection: picks no Datastream of organisation %s now: the agreement is kept (a Datastream that comes "+
			"to match its selection later is shared), but check its datastreams, things, observedProperties and area", a.ProviderOrg))
	}
	if r := time.Duration(a.Retention); selected != nil && r > 0 && a.CreatedAt.Sub(a.ValidFrom) > r {
		w = append(w, fmt.Sprintf("retention: %s is shorter than the back-fill from validFrom %s: the consumer purges the back-filled "+
			"values older than %s as they arrive; set validFrom no earlier than %s, or a longer retention",
			a.Retention, a.ValidFrom.UTC().Format(time.RFC3339), a.Retention, a.CreatedAt.Add(-r).UTC().Truncate(time.Second).Format(time.RFC3339)))
	}
	return w
}

// checkNamed refuses an agreement that names what this node does not have: a providing
// organisation that does not exist, or in its selection a Datastream that is not the
// providing organisation's, a Thing or an ObservedProperty that does not exist. Each is named
// with the member it came from; such a selection would otherwise be accepted and export
// nothing, silently.
func (s *Service) checkNamed(ctx context.Context, a *Agreement) error {
	var bad []string
	ok, err := s.Store.Organisation(ctx, a.ProviderOrg)
	if err != nil {
		return err
	}
	if !ok {
		bad = append(bad, fmt.Sprintf("providerOrganisation: %q does not exist on this node", a.ProviderOrg))
	}
	for _, m := range []struct {
		member, entity, entities string
		ids                      []int64
		own                      bool // must be the providing organisation's
	}{
		{"datastreams", "Datastream", "Datastreams", a.Selection.Datastreams, ok},
		{"things", "Thing", "Things", a.Selection.Things, false},
		{"observedProperties", "ObservedProperty", "ObservedProperties", a.Selection.ObservedProperties, false},
	} {
		if len(m.ids) == 0 {
			continue
		}
		owners, err := s.Store.Owners(ctx, m.member, m.ids)
		if err != nil {
			return err
		}
		var missing, foreign []string
		for _, id := range m.ids {
			org, found := owners[id]
			switch {
			case !found:
				missing = append(missing, strconv.FormatInt(id, 10))
			case m.own && org != a.ProviderOrg:
				foreign = append(foreign, fmt.Sprintf("%d (organisation %s's)", id, org))
			}
		}
		if len(missing) > 0 {
			bad = append(bad, fmt.Sprintf("selection.%s: %s %s on this node", m.member, counted(m.entity, m.entities, missing), verb(missing, "does not exist", "do not exist")))
		}
		if len(foreign) > 0 {
			bad = append(bad, fmt.Sprintf("selection.%s: %s %s of the providing organisation %s (only its data is shared)",
				m.member, counted(m.entity, m.entities, foreign), verb(foreign, "is not", "are not"), a.ProviderOrg))
		}
	}
	if len(bad) > 0 {
		return apperr.E(apperr.Invalid, "agreement: %s", strings.Join(bad, "; "))
	}
	return nil
}

// counted is "Thing 5" or "Things 5, 6".
func counted(entity, entities string, ids []string) string {
	if len(ids) == 1 {
		return entity + " " + ids[0]
	}
	return entities + " " + strings.Join(ids, ", ")
}

func verb(ids []string, one, many string) string {
	if len(ids) == 1 {
		return one
	}
	return many
}

// Approve moves a proposed agreement to approved: from then on it exports.
func (s *Service) Approve(ctx context.Context, id int64) (*Agreement, error) {
	return s.transition(ctx, id, Proposed, Approved, "agreement.approve")
}

// Revoke ends an approved (or proposed) agreement: nothing more leaves the node under it.
func (s *Service) Revoke(ctx context.Context, id int64) (*Agreement, error) {
	a, err := s.Store.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.State != Approved && a.State != Proposed {
		return nil, apperr.E(apperr.Conflict, "agreement %d is %s: only a proposed or approved agreement can be revoked", id, a.State)
	}
	return s.transition(ctx, id, a.State, Revoked, "agreement.revoke")
}

func (s *Service) transition(ctx context.Context, id int64, from, to State, kind string) (*Agreement, error) {
	a, err := s.Store.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	if p := auth.FromContext(ctx); p != nil {
		if err := auth.RequireOwner(ctx, auth.Admin, a.ProviderOrg, fmt.Sprintf("agreement %d (of organisation %s)", id, a.ProviderOrg)); err != nil {
			return nil, err
		}
		if to == Approved && !p.NodeAdmin() {
			same, err := s.sameHolder(ctx, a.CreatedBy, p.Name())
			if err != nil {
				return nil, err
			}
			if same {
				return nil, apperr.E(apperr.Forbidden, "agreement %d: created by %s, so %s (a key of the same holder) cannot approve it (four eyes)", id, a.CreatedBy, p.Name())
			}
		}
	}
	if a.State != from {
		return nil, apperr.E(apperr.Conflict, "agreement %d is %s, not %s", id, a.State, from)
	}
	if to == Approved { // one proposed before such agreements were refused
		if err := s.checkNotSelf(fmt.Sprintf("agreement %d: consumerNode", id), a.ConsumerNode, ""); err != nil {
			return nil, err
		}
	}
	by, at := actor(ctx), s.now().UTC()
	if err := s.Store.SetState(ctx, id, from, to, by, at); err != nil {
		return nil, err
	}
	s.changed()
	if err := s.audit().Record(ctx, kind, by, subject(id), map[string]any{"agreement": id, "from": from, "to": to}); err != nil {
		return nil, err
	}
	return s.Store.Agreement(ctx, id)
}

// List returns the agreements ctx's principal may see: all for the node-wide admin (and the
// command line), otherwise those its organisation provides (the consumer organisation is the partner node's).
func (s *Service) List(ctx context.Context) ([]Agreement, error) {
	all, err := s.Store.Agreements(ctx)
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	if p == nil || p.NodeAdmin() {
		return all, nil
	}
	if err := auth.Require(ctx, auth.Viewer); err != nil {
		return nil, err
	}
	out := []Agreement{}
	for _, a := range all {
		// not a.ConsumerOrg: that is an organisation of the partner node (a.ConsumerNode), and
		// a local organisation of the same name is another organisation
		if a.ProviderOrg == p.Organisation {
			out = append(out, a)
		}
	}
	return out, nil
}

// AddPartner registers a partner node, or updates it (SavePartner).
func (s *Service) AddPartner(ctx context.Context, p *Partner) error {
	_, err := s.SavePartner(ctx, p)
	return err
}

// SavePartner registers a partner node (the node-wide admin only, or the command line). A
// partner of the same node id is updated, and existed is true: what p does not give keeps its
// stored value — the url (and its ca), the certificate — and a new nkey replaces the old one
// (whose live sessions the bus closes). p is then what is stored, with the partner's original
// created time.
func (s *Service) SavePartner(ctx context.Context, p *Partner) (existed bool, err error) {
	if err := p.ValidatePartner(); err != nil {
		return false, err
	}
	if pr := auth.FromContext(ctx); pr != nil && !pr.NodeAdmin() {
		return false, apperr.E(apperr.Forbidden, "partners are the node's: only the node-wide admin (role admin in organisation %q) adds them", auth.NodeOrganisation)
	}
	if err := s.checkNotSelf("partner: node", p.Node, p.NKey); err != nil {
		return false, err
	}
	ps, err := s.Store.Partners(ctx)
	if err != nil {
		return false, err
	}
	p.Created = s.now().UTC().Truncate(time.Microsecond) // as stored
	for _, old := range ps {
		if old.Node != p.Node {
			continue
		}
		existed = true
		if p.URL == "" { // the stored url, with its ca unless a new one is given
			p.URL, p.CA = old.URL, cmp.Or(p.CA, old.CA)
		} else if p.CA == "" && p.URL == old.URL {
			p.CA = old.CA
		}
		p.Cert = cmp.Or(p.Cert, old.Cert)
		p.Created = old.Created
		if err := p.ValidatePartner(); err != nil {
			return false, err
		}
	}
	if err := s.Store.AddPartner(ctx, p); err != nil {
		return false, err
	}
	s.changed()
	kind := "partner.add"
	if existed {
		kind = "partner.update" // a key rotated, a url or certificate changed
	}
	return existed, s.audit().Record(ctx, kind, actor(ctx), "partner/"+p.Node, p)
}

// RemovePartner removes partner node (the node-wide admin only, or the command line). It is
// refused (Conflict, naming them) while the partner has agreements proposed or approved:
// revoke those first, so that each end of a flow is an audited decision of its own. Its
// sessions are closed and, on a receiving node, its link stopped, within a second.
func (s *Service) RemovePartner(ctx context.Context, node string) error {
	if !ValidName(node) {
		return apperr.E(apperr.Invalid, "partner: node: required, lower-case letters, digits, '-' and '_'")
	}
	if pr := auth.FromContext(ctx); pr != nil && !pr.NodeAdmin() {
		return apperr.E(apperr.Forbidden, "partners are the node's: only the node-wide admin (role admin in organisation %q) removes them", auth.NodeOrganisation)
	}
	if err := s.Store.RemovePartner(ctx, node); err != nil {
		return err
	}
	s.changed()
	return s.audit().Record(ctx, "partner.remove", actor(ctx), "partner/"+node, map[string]any{"node": node})
}

func subject(id int64) string { return fmt.Sprintf("agreement/%d", id) }
