package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Federation in the node (docs/federation.md): as a provider, the exporter turns each active
// agreement into its stream on the bus (bus.EnsureFed) and fills it from the store with what
// the agreement lets leave — its selection, at its resolution, after its embargo — from
// validFrom on (history back-filled), keeping its cursor in the store; a revoked or expired
// agreement's stream is deleted and the partner's sessions closed. As a consumer, one link per
// partner with a URL fetches from this node's agreement streams there and stores what arrives
// through the one ingest path (QC, outbox, rules) into read-only remote Datastreams, then
// acknowledges it: a link cut, or this node down, leaves it waiting on the provider's stream.

// FedKeyFile is the node's federation nkey seed in its data directory (made on first use,
// 0600): partners know the node by its public key (rabta federation key).
const FedKeyFile = "federation.nk"

// FedSeed returns the node's federation nkey seed from dataDir, making one on first use.
func FedSeed(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, FedKeyFile)
	if b, err := os.ReadFile(p); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, DataDirMode); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return FedSeed(dataDir)
		}
		return nil, err
	}
	_, err = f.Write(append(seed, '\n'))
	return seed, errors.Join(err, f.Close())
}

// FedPublicKey returns the public nkey of the node in dataDir.
func FedPublicKey(dataDir string) (string, error) {
	seed, err := FedSeed(dataDir)
	if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// fedPartners answers the bus's questions about partners from the store.
type fedPartners struct {
	store *sqlq.Federation
	now   func() time.Time
}

func (p fedPartners) PartnerByNKey(ctx context.Context, key string) (string, error) {
	return p.store.PartnerByNKey(ctx, key)
}

func (p fedPartners) AgreementsFor(ctx context.Context, node string) ([]int64, error) {
	all, err := p.store.Agreements(ctx)
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for _, a := range all {
		if a.ConsumerNode == node && a.Active(p.now()) {
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

// fedExportBatch is how many Observations one raw export round reads.
const fedExportBatch = 500

// fedStreamAge is how long an agreement's stream keeps what its partner has not fetched.
const fedStreamAge = 30 * 24 * time.Hour

// federator runs the node's exporter and links.
type federator struct {
	n     *Node
	store *sqlq.Federation
	svc   *federation.Service
	audit federation.AuditSink
	log   *slog.Logger
	wake  chan struct{}

	mu      sync.Mutex
	streams map[int64]string // agreement → consumer node, streams made
	expired time.Time        // when expired agreements were last looked for
	gone    map[int64]bool   // ended agreements whose streams are known to be deleted

	rmu     sync.Mutex
	remotes map[string]int64 // provider/agreement/datastream → local remote Datastream

	// onStored, when set, is told the values of each batch once stored (the benchmark's lag)
	onStored func(values []*federation.Message)
}

func (f *federator) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// runExporter exports until ctx ends: each round after a wake (an observation committed, an
// agreement changed) or every 500 ms (agreements changed by the command line).
func (f *federator) runExporter(ctx context.Context) {
	for {
		if err := f.exportRound(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("export_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (f *federator) exportRound(ctx context.Context) error {
	now := f.n.now()
	if now.Sub(f.expired) >= time.Second { // a write: not on every wake
		if _, err := f.store.Expire(ctx, now); err != nil {
			return err
		}
		f.expired = now
	}
	all, err := f.store.Agreements(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := map[string]bool{}
	for _, a := range all {
		_, made := f.streams[a.ID]
		switch {
		case a.Active(now) && !made:
			if err := f.n.bus.EnsureFed(ctx, a.ID, a.ConsumerNode, fedStreamAge); err != nil {
				return err
			}
			f.streams[a.ID] = a.ConsumerNode
			changed[a.ConsumerNode] = true
		case !a.Active(now) && made:
			if err := f.n.bus.DeleteFed(ctx, a.ID); err != nil {
				return err
			}
			delete(f.streams, a.ID)
			f.gone[a.ID] = true
			changed[a.ConsumerNode] = true
			f.log.Info("agreement_stream_deleted", "agreement", a.ID, "state", a.State)
		case !a.Active(now) && a.State != federation.Proposed && !f.gone[a.ID]:
			if err := f.n.bus.DeleteFed(ctx, a.ID); err != nil { // a stream an earlier run left
				return err
			}
			f.gone[a.ID] = true
		}
	}
	for node := range changed {
		f.n.bus.ReauthPartners(node) // they log in again with what their agreements give now
	}
	for _, a := range all {
		if !a.Active(now) {
			continue
		}
		if err := f.export(ctx, &a, now); err != nil {
			return fmt.Errorf("agreement %d: %w", a.ID, err)
		}
	}
	return nil
}

// export sends what agreement a lets leave since its cursor.
func (f *federator) export(ctx context.Context, a *federation.Agreement, now time.Time) error {
	sel, err := f.store.Selected(ctx, a.ProviderOrg, a.Selection)
	if err != nil || len(sel) == 0 {
		return err
	}
	ids := make([]int64, 0, len(sel))
	for id := range sel {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	cursor, err := f.store.Cursor(ctx, a.ID)
	if err != nil {
		return err
	}
	due := now.Add(-time.Duration(a.Embargo))
	msg := func(src federation.RemoteSource) federation.Message {
		return federation.Message{V: 1, Provider: f.n.opts.ID, Agreement: a.ID, ConsumerOrg: a.ConsumerOrg, Datastream: src, Resolution: a.Resolution,
			Retention: a.Retention}
	}
	h := sha256.New()
	var count int
	var first, last int64
	publish := func(m *federation.Message) error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		h.Write(b)
		count++
		return f.n.bus.PublishFedAsync(a.ID, m.MsgID(), b)
	}
	// the cursor moves only past what JetStream has acknowledged (a value published again
	// after a failure is dropped by its message id)
	saveCursor := func(c int64) error {
		if err := f.n.bus.FedAcks(ctx); err != nil {
			return err
		}
		return f.store.SetCursor(ctx, a.ID, c)
	}
	if a.Resolution == federation.Raw {
		for {
			rows, err := f.store.RawSince(ctx, ids, cursor, a.ValidFrom, fedExportBatch)
			if err != nil {
				return err
			}
			stop := false
			for _, r := range rows {
				if r.End.After(due) || (a.ValidUntil != nil && !r.Start.Before(*a.ValidUntil)) {
					stop = true // embargoed: this and what follows wait (in id order)
					break
				}
				m := msg(sel[r.Datastream])
				m.Observation, m.PhenomenonTime, m.Start, m.End, m.Result, m.Flag = r.ID, r.PhenText, r.Start, r.End, r.Result, r.Flag
				if err := publish(&m); err != nil {
					return err
				}
				if first == 0 {
					first = r.ID
				}
				cursor, last = r.ID, r.ID
			}
			if count > 0 {
				if err := saveCursor(cursor); err != nil {
					return err
				}
			}
			if stop || len(rows) < fedExportBatch {
				break
			}
		}
	} else {
		p := a.Resolution.Period()
		start := time.Unix(cursor, 0).UTC()
		if cursor == 0 {
			start = a.ValidFrom.UTC().Truncate(p)
		}
		for i := 0; i < 1000 && !start.Add(p).After(due); i++ {
			end := start.Add(p)
			vals, err := f.store.Values(ctx, ids, start, end)
			if err != nil {
				return err
			}
			aggs, err := federation.Aggregate(a.Resolution, start, end, vals)
			if err != nil {
				return err
			}
			for _, g := range aggs {
				m := msg(sel[g.Datastream])
				m.Start, m.End, m.Result, m.Count = g.Start, g.End, g.Result, g.Count
				m.PhenomenonTime = g.Start.Format(time.RFC3339) + "/" + g.End.Format(time.RFC3339)
				if err := publish(&m); err != nil {
					return err
				}
			}
			next := end
			if len(vals) == 0 { // skip empty periods up to the next value (or to what is due)
				t, ok, err := f.store.FirstValue(ctx, ids, end)
				if err != nil {
					return err
				}
				lim := due.UTC().Truncate(p)
				if !ok || t.After(lim) {
					t = lim
				}
				if t = t.UTC().Truncate(p); t.After(next) {
					next = t
				}
			}
			start = next
			if err := saveCursor(start.Unix()); err != nil {
				return err
			}
		}
	}
	if count == 0 {
		return nil
	}
	f.log.Debug("export_batch", "agreement", a.ID, "values", count)
	return f.audit.Record(ctx, "export.batch", "node/"+f.n.opts.ID, fmt.Sprintf("agreement/%d", a.ID), map[string]any{
		"agreement": a.ID, "consumer": a.ConsumerNode, "values": count, "first": first, "last": last, "sha256": hex.EncodeToString(h.Sum(nil))})
}

// runLinks keeps one link to each partner with a URL, until ctx ends: a partner added starts
// one within a second; one removed, or changed (another URL or CA), stops its link (and the
// changed one starts anew); a removed partner's sessions on this node's NATS are closed (it
// cannot log in again).
func (f *federator) runLinks(ctx context.Context) {
	running := map[string]context.CancelFunc{}
	var known map[string]bool // partner nodes seen in the last round
	defer func() {
		for _, c := range running {
			c()
		}
	}()
	seed, err := FedSeed(f.n.opts.DataDir)
	if err != nil {
		f.log.Error("federation_key", "err", err)
		return
	}
	for {
		ps, err := f.store.Partners(ctx)
		if err == nil {
			want, nodes := map[string]bool{}, map[string]bool{}
			for _, p := range ps {
				nodes[p.Node] = true
				key := p.Node + " " + p.URL + " " + p.CA
				want[key] = true
				if p.URL == "" || running[key] != nil {
					continue
				}
				lctx, cancel := context.WithCancel(ctx)
				running[key] = cancel
				f.n.wg.Go(func() { f.runLink(lctx, p, seed) })
			}
			for key, cancel := range running {
				if !want[key] {
					cancel()
					delete(running, key)
					f.log.Info("federation_link_stopped", "provider", strings.Fields(key)[0], "why", "partner removed or changed")
				}
			}
			for node := range known {
				if !nodes[node] {
					f.n.bus.ReauthPartners(node)
					f.log.Info("federation_partner_removed", "partner", node)
				}
			}
			known = nodes
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// runLink receives from provider p until ctx ends.
func (f *federator) runLink(ctx context.Context, p federation.Partner, seed []byte) {
	log := f.log.With("provider", p.Node)
	l, err := bus.Dial(p.URL, p.Node, f.n.opts.ID, seed, []byte(p.CA))
	if err != nil {
		log.Error("federation_link", "err", err)
		return
	}
	defer l.Close()
	log.Info("federation_link_started", "url", p.URL)
	retention := map[int64]time.Duration{} // per agreement, as its messages say
	purged := time.Now()
	for ctx.Err() == nil {
		if time.Since(purged) > 30*time.Second { // retention at the consumer, by phenomenon time
			purged = time.Now()
			for id, keep := range retention {
				if n, err := f.store.PurgeRemote(ctx, p.Node, id, f.n.now().Add(-keep)); err != nil {
					log.Warn("federation_purge_failed", "agreement", id, "err", err)
				} else if n > 0 {
					log.Info("federation_purged", "agreement", id, "observations", n)
				}
			}
		}
		ids, err := l.Agreements(ctx)
		if err != nil {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		got := 0
		for _, id := range ids {
			msgs, err := l.Fetch(ctx, id, 1000, 200*time.Millisecond)
			if err != nil && len(msgs) == 0 {
				log.Debug("federation_fetch", "agreement", id, "err", err)
				continue
			}
			if len(msgs) == 0 {
				continue
			}
			if m, err := federation.DecodeMessage(msgs[len(msgs)-1].Data); err == nil && m.Retention > 0 {
				retention[id] = time.Duration(m.Retention)
			}
			if err := f.receive(ctx, p.Node, id, msgs); err != nil {
				log.Warn("federation_receive_failed", "agreement", id, "err", err)
				continue // not acknowledged: fetched again after the ack wait
			}
			if err := l.Ack(ctx, msgs); err != nil {
				log.Warn("federation_ack_failed", "agreement", id, "err", err)
			}
			got += len(msgs)
		}
		if got == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// receive stores one fetched batch of agreement id from provider: decoded, into the remote
// Datastreams (made on first receipt), through ingest (a value received twice is left out).
func (f *federator) receive(ctx context.Context, provider string, id int64, msgs []bus.FedMsg) error {
	h := sha256.New()
	var obs []sensing.Observation
	var got []*federation.Message
	org := ""
	for _, fm := range msgs {
		h.Write(fm.Data)
		if federation.IsAlertMessage(fm.Data) { // a shared CAP alert (federation_alerts.go)
			if err := f.receiveAlert(ctx, provider, id, fm); err != nil {
				return err
			}
			continue
		}
		m, err := federation.DecodeMessage(fm.Data)
		if err != nil || m.Provider != provider || m.Agreement != id {
			f.log.Warn("federation_bad_message", "provider", provider, "agreement", id, "seq", fm.Seq, "reason", apperr.Message(err))
			continue
		}
		org = m.ConsumerOrg
		got = append(got, m)
		ds, err := f.remote(ctx, m)
		if err != nil {
			return err
		}
		r := m.Result
		q, _ := json.Marshal(map[string]any{"reported": map[string]any{"remote": map[string]any{
			"node": provider, "agreement": id, "observation": m.Observation, "flag": m.Flag, "count": m.Count, "resolution": m.Resolution}}})
		obs = append(obs, sensing.Observation{DatastreamID: ds, PhenStart: m.Start, PhenEnd: m.End, PhenText: m.PhenomenonTime, ResultNum: &r, Quality: q})
	}
	if len(obs) > 0 {
		_, errs, err := f.n.ingest.IngestAgain(withImport(ctx), "federation", obs)
		if err != nil {
			return err
		}
		for i, e := range errs {
			if e != nil && !ingest.Duplicate(e) {
				f.log.Warn("federation_refused", "provider", provider, "agreement", id, "index", i, "reason", apperr.Message(e))
			}
		}
	}
	if f.onStored != nil {
		f.onStored(got)
	}
	return f.audit.Record(ctx, "import.batch", "node/"+provider, fmt.Sprintf("agreement/%d", id), map[string]any{
		"provider": provider, "agreement": id, "organisation": org, "values": len(msgs), "first": msgs[0].Seq, "last": msgs[len(msgs)-1].Seq,
		"sha256": hex.EncodeToString(h.Sum(nil))})
}

// remote returns the local read-only Datastream for m's source, creating it (with its Thing,
// Sensor and ObservedProperty, owned by the consumer organisation) on first receipt.
func (f *federator) remote(ctx context.Context, m *federation.Message) (int64, error) {
	key := fmt.Sprintf("%s/%d/%d", m.Provider, m.Agreement, m.Datastream.ID)
	f.rmu.Lock()
	id, ok := f.remotes[key]
	f.rmu.Unlock()
	if ok {
		return id, nil
	}
	id, err := f.store.Remote(ctx, m.Provider, m.Agreement, m.Datastream.ID)
	if err != nil {
		return 0, err
	}
	if id != 0 {
		f.rmu.Lock()
		f.remotes[key] = id
		f.rmu.Unlock()
		return id, nil
	}
	src := m.Datastream
	prov, _ := json.Marshal(map[string]any{"remote": map[string]any{"node": m.Provider, "agreement": m.Agreement, "datastream": src.ID, "resolution": m.Resolution}})
	name := fmt.Sprintf("%s: %s", m.Provider, src.Name)
	if m.Resolution != federation.Raw {
		name += " (" + string(m.Resolution) + ")"
	}
	e := &sensing.Entity{Set: sensing.Datastreams, Props: map[string]any{
		"name": name, "description": fmt.Sprintf("Received from node %s under agreement %d (read-only)", m.Provider, m.Agreement),
		"observationType":   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		"unitOfMeasurement": src.Unit, "properties": json.RawMessage(prov),
	}, Links: map[string][]*sensing.Entity{
		"Thing": {{Set: sensing.Things, Props: map[string]any{"name": m.Provider + ": " + src.Thing,
			"description": "A station of node " + m.Provider, "properties": json.RawMessage(prov)}}},
		"Sensor": {{Set: sensing.Sensors, Props: map[string]any{"name": "node " + m.Provider, "description": "values received from a partner node",
			"encodingType": "text/html", "metadata": json.RawMessage(`"https://github.com/rabta/rabta/blob/main/docs/federation.md"`)}}},
		"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": src.ObservedProperty,
			"definition": src.Definition, "description": src.ObservedProperty + " (from node " + m.Provider + ")"}}},
	}}
	if len(src.Location) > 0 {
		e.Links["Thing"][0].Links = map[string][]*sensing.Entity{"Locations": {{Set: sensing.Locations, Props: map[string]any{
			"name": src.Thing, "description": "location given by node " + m.Provider, "encodingType": "application/geo+json", "location": src.Location}}}}
	}
	pctx := auth.WithPrincipal(ctx, &auth.Principal{Organisation: m.ConsumerOrg, Role: auth.Admin})
	id, err = f.n.stores.Entities.Create(pctx, e)
	if err != nil {
		return 0, fmt.Errorf("remote datastream for %s/%d: %w", m.Provider, src.ID, err)
	}
	return id, f.store.SaveRemote(ctx, m.Provider, m.Agreement, src.ID, id)
}

type importKey struct{}

// withImport marks ctx as the federation importer's, the one writer of remote Datastreams.
func withImport(ctx context.Context) context.Context {
	return context.WithValue(ctx, importKey{}, true)
}

// readOnlyRemote refuses writes to remote Datastreams by anyone but the importer.
func (f *federator) readOnlyRemote(ctx context.Context, ds int64) error {
	if ctx.Value(importKey{}) != nil {
		return nil
	}
	ok, err := f.store.IsRemote(ctx, ds)
	if err != nil {
		return err
	}
	if ok {
		return apperr.E(apperr.Forbidden, "Datastream(%d) is a remote Datastream, received from a partner node under an agreement: it is read-only here", ds)
	}
	return nil
}

// newFederator builds the node's federation: the agreements service, the exporter and the
// links. Agreement changes and export and import batches are recorded to federation.NopAudit
// until setAudit wires in the node's audit log (New does, before anything runs).
func (n *Node) newFederator() *federator {
	f := &federator{n: n, store: n.stores.Federation, audit: federation.NopAudit{}, log: n.log.With("component", "federation"),
		wake: make(chan struct{}, 1), streams: map[int64]string{}, remotes: map[string]int64{}, gone: map[int64]bool{}}
	f.svc = &federation.Service{Store: f.store, Audit: f.audit, Now: n.now, Changed: f.Wake,
		Holder: func(ctx context.Context, name string) (string, error) {
			return auth.HolderName(ctx, n.stores.Keys, name)
		}}
	return f
}

// setAudit records agreement changes and export and import batches to a (the node's audit
// log, internal/audit). Called before the federation starts.
func (f *federator) setAudit(a federation.AuditSink) {
	f.audit, f.svc.Audit = a, a
}

// startFederation answers partners' agreement lists and starts the exporter and the links.
// A node with partners whose NATS listener is off loopback without TLS does not start:
// partners would log in over it in clear (bus.FederationListener).
func (n *Node) startFederation(bg context.Context) error {
	if err := n.bus.FederationListener(); err != nil {
		ps, perr := n.stores.Federation.Partners(bg)
		if perr != nil {
			return perr
		}
		if len(ps) > 0 {
			return fmt.Errorf("federation: %d partners registered: %w", len(ps), err)
		}
	}
	if err := n.bus.ServeFedList(bg); err != nil {
		return err
	}
	n.wg.Go(func() { n.fed.runExporter(bg) })
	n.wg.Go(func() { n.fed.runLinks(bg) })
	n.wg.Go(func() { n.fed.runAlertExporter(bg) }) // shared CAP alerts (federation_alerts.go)
	return nil
}
