package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/wis2"
)

// WIS2 limits: Datastreams one catalogue describes, observations one data link serves.
const (
	wis2MaxStreams = 10000
	wis2MaxObs     = 10000
)

// wis2Options are the node's WIS2 publisher options, with base as the links' base URL.
func (n *Node) wis2Options(base string) wis2.Options {
	_, port, _ := net.SplitHostPort(n.bus.MQTTAddr()) // "" without an MQTT listener
	return wis2.Options{Centre: n.opts.WIS2Centre, Node: n.opts.ID, BaseURL: base, MQTTPort: port}
}

// linkBase is the base URL of links in an answer to r (PublicURL, or the request's scheme and
// Host made trustworthy by auth.Proxies).
func (n *Node) linkBase(r *http.Request) string {
	if n.opts.PublicURL != "" {
		return n.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil || r.URL.Scheme == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// wis2Routes serves WIS2 discovery and data (docs/wis2.md): GET /wis2/catalogue (public: the
// WCMP2 records of every dataset, so that a partner sees what it could ask for), GET
// /wis2/data/datastreams/{id}/observations?from=&to= (the data a notification links to: public
// for open data, otherwise a viewer key of the owning organisation), and the open-data switch:
// GET /api/v1/organisations/open, POST and DELETE /api/v1/organisations/{org}/open (an admin
// of the organisation, or the node-wide admin).
func (n *Node) wis2Routes(mux *http.ServeMux) {
	st, od := n.sta, n.stores.Open
	mux.HandleFunc("GET /wis2/catalogue", func(w http.ResponseWriter, r *http.Request) {
		ds, err := od.Datasets(r.Context(), wis2MaxStreams)
		if err != nil {
			st.Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/geo+json")
		writeJSON(w, n.wis2Options(n.linkBase(r)).Catalogue(ds, n.now()))
	})
	mux.HandleFunc("GET /wis2/data/datastreams/{id}/observations", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			st.Error(w, r, apperr.E(apperr.Invalid, "Datastream id %q: want a positive number", r.PathValue("id")))
			return
		}
		var rng [2]int64
		for i, name := range []string{"from", "to"} {
			v, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
			if err != nil || v <= 0 {
				st.Error(w, r, apperr.E(apperr.Invalid, "query parameter %s=%q: want an observation id ≥ 1", name, r.URL.Query().Get(name)))
				return
			}
			rng[i] = v
		}
		if rng[1] < rng[0] || rng[1]-rng[0] >= wis2MaxObs {
			st.Error(w, r, apperr.E(apperr.Invalid, "observation ids %d to %d: want from ≤ to and at most %d ids", rng[0], rng[1], wis2MaxObs))
			return
		}
		content, err := n.wis2Content(r.Context(), id, rng[0], rng[1])
		if err != nil {
			st.Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(content)
	})
	mux.HandleFunc("GET /api/v1/organisations/open", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			st.Error(w, r, err)
			return
		}
		open, err := od.Opened(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		writeJSON(w, open)
	})
	for _, m := range []string{"POST", "DELETE"} {
		mux.HandleFunc(m+" /api/v1/organisations/{org}/open", func(w http.ResponseWriter, r *http.Request) {
			org := r.PathValue("org")
			if err := auth.RequireOwner(r.Context(), auth.Admin, org, "organisation "+strconv.Quote(org)+"'s open-data setting"); err != nil {
				st.Error(w, r, err)
				return
			}
			by := auth.FromContext(r.Context()).Name()
			changed, err := SetOpen(r.Context(), n.stores, n.audit, org, m == "POST", by, n.now())
			if err != nil {
				st.Error(w, r, err)
				return
			}
			writeJSON(w, map[string]any{"organisation": org, "open": m == "POST", "changed": changed})
		})
	}
}

// SetOpen opens (open) or closes org's data and records the change in the audit log (log nil:
// not recorded); changed is false when it already was so. An organisation's name that no
// organisation can have is Invalid, one this node does not know (sqlq.OpenData.Known) is
// NotFound, and nothing is changed or recorded; an open organisation can always be closed.
func SetOpen(ctx context.Context, stores *Stores, log interface {
	Record(ctx context.Context, kind, actor, subject string, detail any) error
}, org string, open bool, by string, at time.Time) (changed bool, err error) {
	wasOpen := false
	if !open { // one opened before names were checked can still be closed
		opened, err := stores.Open.Opened(ctx)
		if err != nil {
			return false, err
		}
		_, wasOpen = opened[org]
	}
	if !wasOpen {
		if err := KnownOrganisation(ctx, stores, org); err != nil {
			return false, err
		}
	}
	kind := "organisation.close"
	if open {
		kind = "organisation.open"
		changed, err = stores.Open.Open(ctx, org, by, at)
	} else {
		changed, err = stores.Open.Close(ctx, org)
	}
	if err != nil || !changed || log == nil {
		return changed, err
	}
	return true, log.Record(ctx, kind, by, "organisation/"+org, map[string]any{"organisation": org, "open": open})
}

// KnownOrganisation refuses org when no organisation can have that name (Invalid) or this
// node does not know it (NotFound, naming it); the node's own organisation is always known.
// What names an organisation to act for (orgs open, ?organisation= of the rules routes, rules
// apply --org, import subscribers --org) checks it first, so that a typo changes nothing.
func KnownOrganisation(ctx context.Context, stores *Stores, org string) error {
	if err := auth.CheckOrganisation(org); err != nil {
		return err
	}
	if org == auth.NodeOrganisation {
		return nil
	}
	ok, err := stores.Open.Known(ctx, org)
	if err != nil || ok {
		return err
	}
	return apperr.E(apperr.NotFound, "organisation %q is not known on this node: it has no API key, data, rules or subscribers here (an organisation comes into being with its first key: rabta keys create --org %s)", org, org)
}

// wis2Content is the data served for Datastream id's observations from…to: for anyone when
// its organisation's data is open and it is not a remote Datastream (a partner's data, shared
// under an agreement, is not this node's to publish); otherwise for a viewer of the owning organisation (ctx's
// principal), else NotFound, as if there were none.
func (n *Node) wis2Content(ctx context.Context, id, from, to int64) ([]byte, error) {
	od := n.stores.Open
	si, err := od.Stream(ctx, id)
	if err != nil {
		return nil, err
	}
	s := si.Stream
	open, err := od.Opened(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := open[si.Organisation]; !ok || si.Remote { // a partner's data is never this node's open data
		if p := auth.FromContext(ctx); p == nil || p.Role < auth.Viewer || !p.Owns(si.Organisation) {
			if si.Remote {
				return nil, apperr.E(apperr.NotFound, "no open data of Datastream %d: it is a remote Datastream, a partner node's data received under an agreement, which this node never publishes (docs/wis2.md); viewers of organisation %q read it with their key", id, si.Organisation)
			}
			return nil, apperr.E(apperr.NotFound, "no open data of Datastream %d (its organisation has not opened its data; read it through the SensorThings API with a key)", id)
		}
	}
	obs, err := od.Observations(ctx, id, from, to, wis2MaxObs)
	if err != nil {
		return nil, err
	}
	return wis2.Content(wis2.Data{Datastream: id, Name: s.Name, Station: s.Station, Unit: s.Unit, From: from, To: to, Observations: obs}), nil
}

// wantsWIS2 is the wis2 consumer's want: whether a batch of Datastream ds may need a
// notification — some organisation's data is open, read now, as notifyWIS2 reads it (a
// failed read says yes, so that notifyWIS2 meets the error and the message comes again).
// With no open data, the default, the consumer passes over every message without decoding it
// or reading the Datastream.
func (n *Node) wantsWIS2(ds int64) bool {
	if ds == 0 {
		return false // a MultiDatastream's batch: not announced
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open, err := n.stores.Open.Opened(ctx)
	return err != nil || len(open) > 0
}

// notifyWIS2 publishes the WIS2 notification of one committed batch when its Datastream's
// organisation's data is open (nothing otherwise): on the topic of its discipline, linking to
// the batch's data on this node with the SHA-512 of the bytes the link serves.
func (n *Node) notifyWIS2(ctx context.Context, b *sensing.ObsBatch) error {
	if b.Datastream == 0 || len(b.Obs) == 0 {
		return nil // MultiDatastreams are not announced
	}
	od := n.stores.Open
	// the open organisations first (a small table): with none open, as on most nodes, a
	// batch costs this one read and not the Datastream's description (a four-table join
	// that was 15 % of the server's CPU per single POST on SQLite)
	open, err := od.Opened(ctx)
	if err != nil || len(open) == 0 {
		return err
	}
	si, err := od.Stream(ctx, b.Datastream)
	if apperr.KindOf(err) == apperr.NotFound {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if _, ok := open[si.Organisation]; !ok || si.Remote { // a partner's data is not announced onward
		return nil
	}
	first, last := b.Obs[0].ID, b.Obs[0].ID
	start, end := b.Obs[0].Start, b.Obs[0].End
	for _, o := range b.Obs[1:] {
		first, last = min(first, o.ID), max(last, o.ID)
		if o.Start.Before(start) {
			start = o.Start
		}
		if o.End.After(end) {
			end = o.End
		}
	}
	obs, err := od.Observations(ctx, b.Datastream, first, last, wis2MaxObs)
	if err != nil {
		return err
	}
	s := si.Stream
	content := wis2.Content(wis2.Data{Datastream: b.Datastream, Name: s.Name, Station: s.Station, Unit: s.Unit, From: first, To: last, Observations: obs})
	o := n.wis2Options(n.base)
	msg := o.Notification(si.Organisation, si.Property, wis2.Batch{Datastream: b.Datastream, Station: s, First: first, Last: last, Start: start, End: end, Content: content}, n.now())
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return n.bus.PublishTopic(o.Topic(wis2.Core, wis2.Discipline(si.PropertyName, si.PropertyDefinition)), data)
}
