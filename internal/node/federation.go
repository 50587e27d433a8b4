package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/audit"
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
	// written whole to a file of its own, then linked into place: a process that reads the
	// key meanwhile (the server starting while `rabta federation key` runs) finds none or all
	// of it, never an empty file; of two that make one at once, the first link wins
	f, err := os.CreateTemp(dataDir, FedKeyFile+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(seed, '\n'))
	if err = errors.Join(err, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return FedSeed(dataDir)
		}
		return nil, err
	}
	return seed, nil
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

// checkFedListener refuses a node with partners registered whose NATS listener they may not
// use (off loopback without TLS: bus.Options.FederationListener), or whose TLS files cannot
// be loaded. New calls it before the bus opens: a refused configuration starts nothing.
func checkFedListener(ctx context.Context, o bus.Options, store *sqlq.Federation) error {
	err := o.FederationListener()
	if err == nil {
		return nil
	}
	ps, perr := store.Partners(ctx)
	if perr != nil {
		return perr
	}
	if len(ps) == 0 {
		return nil // nobody to refuse: the bus refuses partner logins while it is so
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Node
	}
	return fmt.Errorf("federation: %d partners registered (%s): %w", len(ps), strings.Join(names, ", "), err)
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

// fedExportBatch is how many Observations one read of a raw export pass takes (and so how
// many values are published before waiting for JetStream's acknowledgements).
const fedExportBatch = 1000

// fedBehindBatches is how many reads one round gives a group of agreements behind the others
// (back-filling history) before the round ends: the agreements at the head are served every
// round, however long a back-fill takes.
const fedBehindBatches = 20

// fedFlushEvery is how often the exporter saves its cursors and records its export batches
// in the audit log, and the importer its import batches: one audit write (one signature) and
// one cursor write a second, whatever the number of agreements and values. A crash re-sends
// what was published since the last save (at most about this long): those values carry the
// same message ids, and JetStream drops them within its duplicate window (bus.Options.DupWindow,
// 10 minutes by default, which must exceed this); after a longer outage the consumer's ingest
// leaves them out as identical to values already stored.
const fedFlushEvery = time.Second

// fedSelectionTTL is how long the exporter trusts a cached selection while the Datastreams
// table looks unchanged (the same count, highest id and sums of Thing and ObservedProperty
// ids): a new Datastream is seen at once; a Datastream's owner changed is seen within this.
const fedSelectionTTL = 5 * time.Second

// fedPurgeEvery is how often the node purges what the retention of the agreements it received
// under lets go (runPurge; a variable for tests).
var fedPurgeEvery = 30 * time.Second

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

	// the exporter's own state (its goroutine only)
	reload   atomic.Bool            // the agreements changed (the API or the service said so)
	agreed   []federation.Agreement // the agreements, as last read
	agreedAt time.Time              // when
	cur      map[int64]int64        // agreement → export cursor (raw: Observation id; aggregate: period start, Unix s)
	sels     map[int64]fedSelection // agreement → its selection, cached
	dsPrint  [4]int64               // the Datastreams table's fingerprint when sels was read
	vbuf     []byte                 // a read's values, encoded: kept for the next read (nothing refers to it after the read)
	flushed  time.Time              // when cursors and audit batches were last saved
	unsaved  []audit.Entry          // audit entries a failed flush left, written first next time (the flusher's)

	amu     sync.Mutex
	pending map[string]*fedBatch // audit entries being gathered until the next flush, by key

	rmu     sync.Mutex
	remotes map[string]int64 // provider/agreement/datastream → local remote Datastream
	mkmu    sync.Mutex       // held while a remote Datastream is looked up and made (remote)

	// what arrived under each received agreement since its link last saved it, by provider and
	// agreement (federation_received.go)
	tmu     sync.Mutex
	tallies map[string]map[int64]*federation.ReceivedTally
	// the providers with a link, when unlinked last looked (runLinks' own)
	linkedSeen bool
	linkedLast string

	// feed holds the Observations committed since the raw agreements' cursors, so that the
	// exporter need not read them back (federation_feed.go); shortHi is the store's highest id
	// when the feed last lagged it (a commit not yet handed over, or one made elsewhere)
	feed    *fedFeed
	shortHi int64
	shortAt time.Time

	// onStored, when set, is told the values of each batch once stored, and when the batch
	// was fetched (the benchmark's lag); onExported, when set, the Observation ids of each read
	// the exporter sent, once JetStream acknowledged them
	onStored   func(values []*federation.Message, fetched time.Time)
	onExported func(ids []int64)
}

// fedSelection is an agreement's selection as the store resolved it, and when.
type fedSelection struct {
	at  time.Time
	sel map[int64]federation.RemoteSource
	ids []int64 // its keys, sorted
}

// fedBatch gathers the values of one agreement exported (or imported) since the last flush
// into one audit entry: how many, the first and last Observation ids (import: stream
// sequence numbers) and the SHA-256 of the messages in order.
type fedBatch struct {
	kind, actor, subject string
	detail               map[string]any
	values               int
	first, last          int64 // Observation ids (import: stream sequences); periods: Unix seconds
	periods              bool  // an aggregating agreement's: first and last are the periods' bounds
	h                    hash.Hash
}

func (f *federator) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// changed is the agreements service's hook: the agreements are read again at the next round.
func (f *federator) changed() {
	f.reload.Store(true)
	f.Wake()
}

// note adds msgs (published, or stored, in this order), holding values values, to the audit
// entry of kind gathered under key; mk makes that entry when it is the first.
func (f *federator) note(key string, mk func() *fedBatch, msgs [][]byte, values int, first, last int64) {
	if len(msgs) == 0 {
		return
	}
	f.amu.Lock()
	defer f.amu.Unlock()
	if f.pending == nil {
		f.pending = map[string]*fedBatch{}
	}
	b := f.pending[key]
	if b == nil {
		b = mk()
		b.h = sha256.New()
		b.first = first
		f.pending[key] = b
	}
	for _, m := range msgs {
		b.h.Write(m)
	}
	b.values += values
	b.last = last
}

// noteExport records msgs, holding values values, published under agreement a.
func (f *federator) noteExport(a *federation.Agreement, msgs [][]byte, values int, first, last int64) {
	f.note(fmt.Sprintf("export/%d", a.ID), func() *fedBatch {
		return &fedBatch{kind: "export.batch", actor: "node/" + f.n.opts.ID, subject: fmt.Sprintf("agreement/%d", a.ID),
			detail: map[string]any{"agreement": a.ID, "consumer": a.ConsumerNode}}
	}, msgs, values, first, last)
}

// noteExportPeriods records msgs, one aggregated value each, published under agreement a for
// the periods from from to until: its audit entry says "from" and "until" (RFC 3339), not
// Observation ids, which an aggregate has none of.
func (f *federator) noteExportPeriods(a *federation.Agreement, msgs [][]byte, from, until time.Time) {
	f.note(fmt.Sprintf("export/%d", a.ID), func() *fedBatch {
		return &fedBatch{kind: "export.batch", actor: "node/" + f.n.opts.ID, subject: fmt.Sprintf("agreement/%d", a.ID),
			detail: map[string]any{"agreement": a.ID, "consumer": a.ConsumerNode}, periods: true}
	}, msgs, len(msgs), from.Unix(), until.Unix())
}

// flush records the gathered audit entries (one per agreement and direction, in one append
// with one signature) and then saves the cursors that moved (in one write). Cursors are saved
// only after the audit entries of what they pass: a crash between the two re-sends, and
// records again, rather than leaves a value sent without a record.
//
// It runs in the flusher's goroutine (runFlusher), never in the exporter's: the audit's
// signature and the two writes do not hold up the next round. cur is a copy of the exporter's
// cursors; saved is what the store has (the flusher's own).
func (f *federator) flush(ctx context.Context, cur, saved map[int64]int64) {
	f.amu.Lock()
	batches := f.pending
	f.pending = nil
	f.amu.Unlock()
	keys := make([]string, 0, len(batches))
	for k := range batches {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	es := f.unsaved
	for _, k := range keys {
		b := batches[k]
		if b.periods {
			b.detail["values"], b.detail["from"], b.detail["until"] = b.values, time.Unix(b.first, 0).UTC().Format(time.RFC3339), time.Unix(b.last, 0).UTC().Format(time.RFC3339)
		} else {
			b.detail["values"], b.detail["first"], b.detail["last"] = b.values, b.first, b.last
		}
		b.detail["sha256"] = hex.EncodeToString(b.h.Sum(nil))
		d, err := json.Marshal(b.detail)
		if err != nil {
			f.log.Error("audit_batch", "err", err)
			continue
		}
		es = append(es, audit.Entry{Kind: b.kind, Actor: b.actor, Subject: b.subject, Detail: d})
	}
	if len(es) > 0 {
		var err error
		if l, ok := f.audit.(interface {
			AppendAll(context.Context, []audit.Entry) ([]audit.Record, error)
		}); ok {
			_, err = l.AppendAll(ctx, es)
		} else {
			for i, e := range es {
				if err = f.audit.Record(ctx, e.Kind, e.Actor, e.Subject, json.RawMessage(e.Detail)); err != nil {
					es = es[i:]
					break
				}
			}
		}
		if err != nil {
			f.log.Warn("audit_batch_failed", "entries", len(es), "err", err)
			f.unsaved = es // written first next time; the cursors wait with them
			return
		}
		f.unsaved = nil
	}
	moved := map[int64]int64{}
	for id, c := range cur {
		if s, ok := saved[id]; !ok || s != c {
			moved[id] = c
		}
	}
	if err := f.store.SetCursors(ctx, moved); err != nil {
		f.log.Warn("export_cursors_not_saved", "err", err)
		return
	}
	maps.Copy(saved, moved)
}

// runFlusher flushes each copy of the cursors the exporter hands it, until cursors is closed.
func (f *federator) runFlusher(cursors <-chan map[int64]int64, done chan<- struct{}) {
	defer close(done)
	saved := map[int64]int64{}
	for cur := range cursors {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f.flush(ctx, cur, saved)
		cancel()
	}
}

// runExporter exports until ctx ends: a round after each wake (an Observation committed, an
// agreement changed), at once again while some agreement is behind, and every 500 ms
// (agreements changed by the command line); the cursors and audit batches are saved every
// fedFlushEvery, and when ctx ends.
func (f *federator) runExporter(ctx context.Context) {
	flushes, done := make(chan map[int64]int64, 1), make(chan struct{})
	go f.runFlusher(flushes, done)
	defer func() { // a last flush of what was sent, then the flusher ends
		flushes <- maps.Clone(f.cur)
		close(flushes)
		<-done
	}()
	for {
		more, err := f.exportRound(ctx)
		if err != nil && ctx.Err() == nil {
			f.log.Warn("export_failed", "err", err)
		}
		if time.Since(f.flushed) >= fedFlushEvery {
			select {
			case flushes <- maps.Clone(f.cur):
				f.flushed = time.Now()
			default: // the flusher still at the last one: next round
			}
		}
		if more && err == nil {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// exportRound brings the agreements' streams in line with the agreements and exports what
// each lets out since its cursor; more is true when some agreement is still behind.
func (f *federator) exportRound(ctx context.Context) (more bool, err error) {
	now := f.n.now()
	if now.Sub(f.expired) >= time.Second { // a write: not on every wake
		ids, err := f.store.Expire(ctx, now)
		if err != nil {
			return false, err
		}
		f.expired = now
		if len(ids) > 0 {
			f.reload.Store(true)
		}
		for _, id := range ids { // an agreement change like any other: in the audit log, once
			if err := f.audit.Record(ctx, "agreement.expire", "node/"+f.n.opts.ID, fmt.Sprintf("agreement/%d", id),
				map[string]any{"agreement": id, "from": federation.Approved, "to": federation.Expired}); err != nil {
				f.log.Error("audit_failed", "kind", "agreement.expire", "agreement", id, "err", err)
			}
			f.log.Info("agreement_expired", "agreement", id)
		}
	}
	if f.reload.Swap(false) || f.agreed == nil || time.Since(f.agreedAt) >= 500*time.Millisecond {
		all, err := f.store.Agreements(ctx)
		if err != nil {
			f.reload.Store(true)
			return false, err
		}
		f.agreed, f.agreedAt = all, time.Now()
	}
	if f.cur == nil {
		c, err := f.store.Cursors(ctx)
		if err != nil {
			return false, err
		}
		f.cur, f.sels = c, map[int64]fedSelection{}
	}
	all := f.agreed
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := map[string]bool{}
	for _, a := range all {
		_, made := f.streams[a.ID]
		switch {
		case a.Active(now) && !made:
			if err := f.n.bus.EnsureFed(ctx, a.ID, a.ConsumerNode, fedStreamAge); err != nil {
				return false, err
			}
			f.streams[a.ID] = a.ConsumerNode
			changed[a.ConsumerNode] = true
		case !a.Active(now) && made:
			if err := f.n.bus.DeleteFed(ctx, a.ID); err != nil {
				return false, err
			}
			delete(f.streams, a.ID)
			f.gone[a.ID] = true
			changed[a.ConsumerNode] = true
			f.log.Info("agreement_stream_deleted", "agreement", a.ID, "state", a.State)
		case !a.Active(now) && a.State != federation.Proposed && !f.gone[a.ID]:
			if err := f.n.bus.DeleteFed(ctx, a.ID); err != nil { // a stream an earlier run left
				return false, err
			}
			f.gone[a.ID] = true
		}
	}
	for node := range changed {
		f.n.bus.ReauthPartners(node) // they log in again with what their agreements give now
	}
	var raws []*federation.Agreement
	for i := range all {
		a := &all[i]
		if !a.Active(now) {
			continue
		}
		if _, ok := f.cur[a.ID]; !ok {
			f.cur[a.ID] = 0 // approved since the cursors were read
		}
		if a.Resolution == federation.Raw {
			raws = append(raws, a)
			continue
		}
		if err := f.export(ctx, a, now); err != nil {
			return false, fmt.Errorf("agreement %d: %w", a.ID, err)
		}
	}
	if len(raws) == 0 {
		f.feed.stop()
		return false, nil
	}
	f.feed.want.Store(true)
	more, err = f.exportRaw(ctx, raws, now)
	low := int64(math.MaxInt64) // what every raw agreement has passed, the feed forgets
	for _, a := range raws {
		low = min(low, f.cur[a.ID])
	}
	f.feed.trim(low)
	return more, err
}

// selections returns the selections of agreements as, from the cache while the Datastreams
// table's fingerprint is unchanged and the entry younger than fedSelectionTTL.
func (f *federator) selections(ctx context.Context, as []*federation.Agreement) (map[int64]fedSelection, error) {
	fp, err := f.store.DatastreamsPrint(ctx)
	if err != nil {
		return nil, err
	}
	if fp != f.dsPrint {
		clear(f.sels)
		f.dsPrint = fp
	}
	out := make(map[int64]fedSelection, len(as))
	for _, a := range as {
		s, ok := f.sels[a.ID]
		if !ok || time.Since(s.at) >= fedSelectionTTL {
			sel, err := f.store.Selected(ctx, a.ProviderOrg, a.Selection)
			if err != nil {
				return nil, err
			}
			s = fedSelection{at: time.Now(), sel: sel, ids: slices.Sorted(maps.Keys(sel))}
			f.sels[a.ID] = s
		}
		out[a.ID] = s
	}
	return out, nil
}

// exportRaw sends what the raw agreements as let out since their cursors, in one pass over
// the new Observation ids for all the agreements at the same cursor (after the first round,
// every agreement that is level: one read of the new rows, however many agreements), and
// reports whether some group is still behind. A raw cursor is the highest Observation id the
// agreement has considered: everything up to it was sent or is not the agreement's.
// fedValueSize is about what AppendValue writes for one value (an instant to the
// microsecond, a result of a few digits): the exporter sizes a read's buffer with it.
const fedValueSize = 96

func (f *federator) exportRaw(ctx context.Context, raws []*federation.Agreement, now time.Time) (bool, error) {
	hi, err := f.store.LastObservation(ctx)
	if err != nil {
		return false, err
	}
	// a commit the store shows before its hand-off reached the feed is exported at the wake the
	// hand-off brings, from the feed; one made elsewhere (the store still ahead of the feed
	// fedFeedWait later) is read from the store
	if last := f.feed.last(); last >= 0 && last < hi {
		if hi != f.shortHi {
			f.shortHi, f.shortAt = hi, time.Now()
		}
		if time.Since(f.shortAt) < fedFeedWait {
			hi = last
		}
	}
	var behind []*federation.Agreement
	for _, a := range raws {
		if f.cur[a.ID] < hi {
			behind = append(behind, a)
		}
	}
	if len(behind) == 0 {
		return false, nil
	}
	sels, err := f.selections(ctx, behind)
	if err != nil {
		return false, err
	}
	type member struct {
		a    *federation.Agreement
		sel  fedSelection
		due  time.Time
		stop bool
		enc  map[int64]*federation.BatchEncoder // by Datastream
	}
	groups := map[int64][]*member{}
	for _, a := range behind {
		s := sels[a.ID]
		c := f.cur[a.ID]
		if len(s.ids) == 0 {
			f.cur[a.ID] = hi // nothing selected: what is stored now is not the agreement's
			continue
		}
		if c == 0 { // a new agreement: start at its first Observation from validFrom on
			first, ok, err := f.store.FirstSince(ctx, s.ids, a.ValidFrom)
			if err != nil {
				return false, err
			}
			if !ok {
				f.cur[a.ID] = hi
				continue
			}
			if c = first - 1; c >= hi {
				continue
			}
		}
		groups[c] = append(groups[c], &member{a: a, sel: s, due: now.Add(-time.Duration(a.Embargo)), enc: map[int64]*federation.BatchEncoder{}})
	}
	starts := slices.Sorted(maps.Keys(groups))
	slices.Reverse(starts) // the group nearest the head first
	more := false
	for _, c := range starts {
		ms := groups[c]
		var union []int64
		for _, m := range ms {
			union = append(union, m.sel.ids...)
		}
		slices.Sort(union)
		union = slices.Compact(union)
		for reads := 0; ; reads++ {
			if reads == fedBehindBatches {
				more = true
				break
			}
			// the new Observations from the feed, or where it cannot vouch for them, the store
			rows, end, ok := f.feed.read(union, c, hi, fedExportBatch)
			if ok {
				f.n.metrics.fedReads.WithLabelValues("feed").Inc()
			} else {
				f.n.metrics.fedReads.WithLabelValues("store").Inc()
				if rows, err = f.store.RawRange(ctx, union, c, hi, fedExportBatch); err != nil {
					return false, err
				}
				end = hi // the range read to its end: nothing of the group's below hi is left
				if len(rows) == fedExportBatch {
					end = rows[len(rows)-1].ID
				}
			}
			type sent struct {
				msgs        [][]byte
				values      int
				first, last int64
				upto        int64
			}
			out := make([]sent, len(ms))
			live := 0
			// each value encoded once, and each Datastream's values compressed once, for every
			// agreement of the group that sends them
			encoded := make([][]byte, len(rows))
			vbuf := f.vbuf[:0]
			if cap(vbuf) < len(rows)*fedValueSize {
				vbuf = make([]byte, 0, len(rows)*fedValueSize)
			}
			packs := &federation.Packs{}
			for i, m := range ms {
				if m.stop {
					continue
				}
				live++
				o := &out[i]
				o.upto = end
				var order []int64 // the Datastreams with values in this read, in the order of their first
				publish := func(enc *federation.BatchEncoder) error {
					b, first, last, n := enc.TakeShared(packs)
					if n == 0 {
						return nil
					}
					if err := f.n.bus.PublishFedAsync(m.a.ID, federation.BatchMsgID(f.n.opts.ID, m.a.ID, first, last), b); err != nil {
						return err
					}
					o.msgs, o.values = append(o.msgs, b), o.values+n
					if o.first == 0 || first < o.first {
						o.first = first
					}
					o.last = max(o.last, last)
					return nil
				}
				for j, r := range rows {
					src, ok := m.sel.sel[r.Datastream]
					if !ok {
						continue
					}
					if r.End.After(m.due) || (m.a.ValidUntil != nil && !r.Start.Before(*m.a.ValidUntil)) {
						m.stop, o.upto = true, r.ID-1 // embargoed: this and what follows wait (in id order)
						break
					}
					if r.Start.Before(m.a.ValidFrom) {
						continue
					}
					enc := m.enc[r.Datastream]
					if enc == nil {
						if enc, err = federation.NewBatchEncoder(federation.Batch{Provider: f.n.opts.ID, Agreement: m.a.ID,
							ConsumerOrg: m.a.ConsumerOrg, Datastream: src, Retention: m.a.Retention}); err != nil {
							return false, err
						}
						m.enc[r.Datastream] = enc
					}
					if enc.Len() == 0 {
						order = append(order, r.Datastream)
					}
					if encoded[j] == nil {
						at := len(vbuf)
						if vbuf, err = federation.AppendValue(vbuf, r.ID, r.PhenText, r.Start, r.End, r.Result, r.Flag); err != nil {
							return false, err
						}
						encoded[j] = vbuf[at:len(vbuf):len(vbuf)] // (a later append may move vbuf; this stays)
					}
					err := enc.AddEncoded(r.ID, encoded[j])
					if errors.Is(err, federation.ErrBatchFull) {
						if err = publish(enc); err == nil {
							err = enc.AddEncoded(r.ID, encoded[j])
						}
					}
					if err != nil {
						return false, err
					}
				}
				// one message per Datastream (or more, when full) for what this read found
				for _, ds := range order {
					if err := publish(m.enc[ds]); err != nil {
						return false, err
					}
				}
			}
			f.vbuf = vbuf[:0] // (every batch of the read is taken: its values are copied, compressed)
			// the cursors move only past what JetStream has acknowledged (a value published
			// again after a failure is dropped by its message id)
			if err := f.n.bus.FedAcks(ctx); err != nil {
				return false, err
			}
			if f.onExported != nil {
				ids := make([]int64, len(rows))
				for i, r := range rows {
					ids[i] = r.ID
				}
				f.onExported(ids)
			}
			for i, m := range ms {
				o := out[i]
				if o.upto > f.cur[m.a.ID] {
					f.cur[m.a.ID] = o.upto
				}
				f.noteExport(m.a, o.msgs, o.values, o.first, o.last)
			}
			c = end
			if live == 0 || c >= hi {
				break
			}
		}
	}
	return more, nil
}

// export sends what the aggregating agreement a (hourly mean, daily maximum) lets leave since
// its cursor: each period once it is due (its end past the embargo).
func (f *federator) export(ctx context.Context, a *federation.Agreement, now time.Time) error {
	cursor := f.cur[a.ID]
	p := a.Resolution.Period()
	start := time.Unix(cursor, 0).UTC()
	if cursor == 0 {
		start = a.ValidFrom.UTC().Truncate(p)
	}
	due := now.Add(-time.Duration(a.Embargo))
	if start.Add(p).After(due) {
		return nil // nothing due: no read
	}
	sels, err := f.selections(ctx, []*federation.Agreement{a})
	if err != nil {
		return err
	}
	sel := sels[a.ID]
	if len(sel.ids) == 0 {
		return nil
	}
	ids := sel.ids
	for i := 0; i < 1000 && !start.Add(p).After(due); i++ {
		from, end := start, start.Add(p)
		vals, err := f.store.Values(ctx, ids, start, end)
		if err != nil {
			return err
		}
		aggs, err := federation.Aggregate(a.Resolution, start, end, vals)
		if err != nil {
			return err
		}
		var msgs [][]byte
		for _, g := range aggs {
			m := federation.Message{V: 1, Provider: f.n.opts.ID, Agreement: a.ID, ConsumerOrg: a.ConsumerOrg, Datastream: sel.sel[g.Datastream],
				Resolution: a.Resolution, Retention: a.Retention}
			m.Start, m.End, m.Result, m.Count = g.Start, g.End, g.Result, g.Count
			m.PhenomenonTime = g.Start.Format(time.RFC3339) + "/" + g.End.Format(time.RFC3339)
			b, err := json.Marshal(&m)
			if err != nil {
				return err
			}
			if err := f.n.bus.PublishFedAsync(a.ID, m.MsgID(), b); err != nil {
				return err
			}
			msgs = append(msgs, b)
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
		// the cursor moves only past what JetStream has acknowledged
		if err := f.n.bus.FedAcks(ctx); err != nil {
			return err
		}
		f.cur[a.ID] = start.Unix()
		f.noteExportPeriods(a, msgs, from, end)
	}
	return nil
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
			f.unlinked(ctx, running)
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

// fedFetchWait is how long one fetch of a link waits for a first value before it asks again.
const fedFetchWait = 500 * time.Millisecond

// fedFetchValues is about how many values a link stores in one ingest call: it fetches as many
// messages as hold about that many (a version-2 message holds up to federation.MaxBatchValues;
// a version-1 message one), at least one and at most 1,000.
const fedFetchValues = 2000

// runLink receives from provider p until ctx ends: one receiver per active agreement
// (receiveAgreement), started and stopped as the provider's list of this node's agreements
// changes (asked every second), so that an agreement with nothing to fetch never holds up
// another's values.
func (f *federator) runLink(ctx context.Context, p federation.Partner, seed []byte) {
	log := f.log.With("provider", p.Node)
	l, err := bus.DialLog(p.URL, p.Node, f.n.opts.ID, seed, []byte(p.CA), log)
	if err != nil {
		log.Error("federation_link", "err", err)
		return
	}
	defer l.Close()
	log.Info("federation_link_started", "url", p.URL)
	running := map[int64]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, c := range running {
			c()
		}
		wg.Wait()
	}()
	states, err := f.store.ReceivedStates(ctx, p.Node) // as last saved: what the link learns is saved when it changes
	if err != nil {
		log.Warn("federation_received_states", "err", err)
		states = map[int64]federation.ReceivedState{}
	}
	defer func() { // what arrived since the last save, saved even as the node stops
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		f.saveReceived(sctx, p.Node, states, nil, log)
	}()
	refusedSaid, wrongSaid := false, false
	reached := "" // the server_name at p.URL, read at the first refusal: the url is this link's for its life
	for ctx.Err() == nil {
		wait := time.Second
		ids, err := l.Agreements(ctx)
		if ctx.Err() != nil {
			break // stopping: says nothing of the provider
		}
		refused := err != nil && l.Refused()
		if refused && reached == "" {
			if name, perr := bus.ServerAt(ctx, p.URL); perr == nil {
				reached = name
			}
		}
		// a refusal says something of the agreements only from the provider's own server: a url
		// that reaches another (this node's own, a port mistyped) is a wrong url
		wrong := refused && reached != "" && reached != bus.ServerName(p.Node)
		if wrong {
			if !wrongSaid {
				log.Warn("federation_link_wrong_server", "url", p.URL, "server", reached, "want", bus.ServerName(p.Node),
					"why", "the partner's url reaches another NATS server, which refuses this node's login: fix the url with rabta federation partners add --node "+p.Node+" --url …",
					"agreements", "unknown (not ended): the provider has not been reached")
			}
			refused, wrongSaid, wait = false, true, 5*time.Second
		}
		if refused {
			// the provider refuses this node's login (it removed this node as a partner, or has
			// another key for it): nothing arrives from it, and it cannot be asked — its
			// agreements are ended for this node until it lists them again (docs/federation.md)
			if !refusedSaid {
				log.Info("federation_login_refused", "why", "the provider no longer has this node as a partner (or not with this key)",
					"agreements", "ended until the provider lists them again")
			}
			refusedSaid, ids, err = true, []int64{}, nil
		} else if err == nil {
			refusedSaid = false
		}
		f.saveReceived(ctx, p.Node, states, receivedChanges(states, ids, err == nil), log) // before a new agreement's receiver starts
		if err != nil {
			if !wrong {
				wait = 250 * time.Millisecond // the link is down, or the provider slow: the receivers go on
			}
		} else {
			want := map[int64]bool{}
			for _, id := range ids {
				want[id] = true
				if running[id] != nil {
					continue
				}
				actx, cancel := context.WithCancel(ctx)
				running[id] = cancel
				wg.Go(func() {
					f.receiveAgreement(actx, l, p.Node, id, log)
				})
			}
			for id, cancel := range running {
				if !want[id] {
					cancel() // revoked or expired: its stream is gone
					delete(running, id)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// receiveAgreement fetches agreement id's values from provider over l, stores each batch and
// then acknowledges it, until ctx ends. (The retention its messages say is saved with what
// was received, and purged by runPurge.)
func (f *federator) receiveAgreement(ctx context.Context, l *bus.Link, provider string, id int64, log *slog.Logger) {
	n := 8 // messages per fetch, from how many values the last ones held
	for ctx.Err() == nil {
		gaps := l.Gaps()
		t0 := time.Now()
		msgs, err := l.Fetch(ctx, id, n, fedFetchWait)
		if l.Gaps() > gaps {
			log.Info("federation_gap", "agreement", id, "why", "values fetched out of stream order: waiting for the missing ones to come again")
		}
		if len(msgs) == 0 {
			if err != nil {
				log.Debug("federation_fetch", "agreement", id, "err", err)
			}
			if time.Since(t0) < fedFetchWait/2 { // not a wait for values (the link down, an error): not a busy loop
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			continue
		}
		values, err := f.receive(ctx, provider, id, msgs)
		if err != nil {
			log.Warn("federation_receive_failed", "agreement", id, "err", err)
			continue // not acknowledged: fetched again after the ack wait
		}
		if err := l.Ack(ctx, msgs); err != nil {
			log.Warn("federation_ack_failed", "agreement", id, "err", err)
		}
		n = min(max(fedFetchValues*len(msgs)/max(values, 1), 1), 1000)
	}
}

// receive stores one fetched batch of agreement id from provider: decoded, into the remote
// Datastreams (made on first receipt), through ingest (a value received twice is left out).
// It returns how many values the messages held; the terms the last value message carried
// (consumer organisation, resolution, retention) go with the tally (saveReceived).
func (f *federator) receive(ctx context.Context, provider string, id int64, msgs []bus.FedMsg) (values int, err error) {
	fetched := time.Now()
	alerts, alertOrg := 0, ""
	var obs []sensing.Observation
	var got []*federation.Message
	raw := make([][]byte, 0, len(msgs))
	for _, fm := range msgs {
		if federation.IsAlertMessage(fm.Data) { // a shared CAP alert (federation_alerts.go), audited as import.alert
			org, err := f.receiveAlert(ctx, provider, id, fm)
			if err != nil {
				return 0, err
			}
			if org != "" {
				alertOrg = org
			}
			values++
			alerts++
			continue
		}
		raw = append(raw, fm.Data)
		ms, err := federation.DecodeMessages(fm.Data)
		if err == nil && (ms[0].Provider != provider || ms[0].Agreement != id) {
			err = apperr.E(apperr.Invalid, "federation message: of %s agreement %d on the stream of %s agreement %d", ms[0].Provider, ms[0].Agreement, provider, id)
		}
		if err != nil {
			f.log.Warn("federation_bad_message", "provider", provider, "agreement", id, "seq", fm.Seq, "reason", apperr.Message(err))
			values++
			continue
		}
		values += len(ms)
		for _, m := range ms {
			got = append(got, m)
			ds, err := f.remote(ctx, m)
			if err != nil {
				return 0, err
			}
			r := m.Result
			q, _ := json.Marshal(remoteQuality{Remote: remoteOrigin{Agreement: id, Count: m.Count,
				Flag: sensing.Flag(min(max(m.Flag, 0), int(sensing.FlagBad))), Node: provider, Observation: m.Observation, Resolution: m.Resolution}})
			obs = append(obs, sensing.Observation{DatastreamID: ds, PhenStart: m.Start, PhenEnd: m.End, PhenText: m.PhenomenonTime, ResultNum: &r, Quality: q})
		}
	}
	tally := &federation.ReceivedTally{Alerts: int64(alerts)}
	org := ""
	if len(got) > 0 { // (refused messages say nothing of the terms)
		last := got[len(got)-1]
		org = last.ConsumerOrg
		tally.Told, tally.ConsumerOrg, tally.Resolution, tally.Retention = true, last.ConsumerOrg, last.Resolution, last.Retention
	} else if alertOrg != "" { // shared alerts alone (an alerts-only agreement): the consumer organisation only
		tally.OrgTold, tally.ConsumerOrg = true, alertOrg
	}
	if len(obs) > 0 {
		_, errs, err := f.n.ingest.IngestAgain(withImport(ctx), "federation", obs)
		if err != nil {
			return 0, err
		}
		for i, e := range errs {
			if e == nil {
				tally.Values++
			} else if !ingest.Duplicate(e) {
				f.log.Warn("federation_refused", "provider", provider, "agreement", id, "index", i, "reason", apperr.Message(e))
			}
		}
	}
	f.tally(provider, id, tally)
	if f.onStored != nil {
		f.onStored(got, fetched)
	}
	// recorded in the audit log with the batches of the same second (flush)
	f.note(fmt.Sprintf("import/%s/%d", provider, id), func() *fedBatch {
		return &fedBatch{kind: "import.batch", actor: "node/" + provider, subject: fmt.Sprintf("agreement/%d", id),
			detail: map[string]any{"provider": provider, "agreement": id, "organisation": org}}
	}, raw, values-alerts, int64(msgs[0].Seq), int64(msgs[len(msgs)-1].Seq))
	return values, nil
}

// remoteQuality is what a received Observation reports of its origin, {"remote": {…}}, which
// ingest keeps as resultQuality.reported beside this node's own QC result (docs/federation.md):
// the agreement, the provider node and its Observation id, the provider's QC flag ("good",
// "suspect", "bad"), and for an aggregate its resolution and the count of values in it. The
// members are in the order encoding/json gives a map's, without building maps per value.
type remoteQuality struct {
	Remote remoteOrigin `json:"remote"`
}

type remoteOrigin struct {
	Agreement   int64                 `json:"agreement"`
	Count       int                   `json:"count,omitempty"` // an aggregate's: how many values
	Flag        sensing.Flag          `json:"flag"`
	Node        string                `json:"node"`
	Observation int64                 `json:"observation,omitempty"` // a raw value's: the provider's id
	Resolution  federation.Resolution `json:"resolution"`
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
	f.mkmu.Lock() // first receipts one at a time: each sees the names the others made
	defer f.mkmu.Unlock()
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
	// another agreement of the provider's already holds a remote Datastream of that name (two
	// agreements sharing a station): this one says its agreement, so the two can be told apart
	if rs, err := f.store.Received(ctx); err == nil {
		for _, r := range rs {
			if r.Provider == m.Provider && r.Agreement != m.Agreement && slices.ContainsFunc(r.Datastreams, func(d federation.ReceivedDatastream) bool { return d.Name == name }) {
				name += fmt.Sprintf(" (agreement %d)", m.Agreement)
				break
			}
		}
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
	if known, err := f.store.Organisation(ctx, m.ConsumerOrg); err == nil && !known {
		// the provider names an organisation this node has no key or data of: what is received
		// is its alone, so until one of its keys is made only the node-wide admin reads it
		f.log.Warn("federation_consumer_organisation_unknown", "provider", m.Provider, "agreement", m.Agreement, "organisation", m.ConsumerOrg,
			"why", "no key or data of this organisation on this node: what it receives is read by the node-wide admin alone until a key of it is made (rabta keys create --org "+m.ConsumerOrg+")")
	}
	pctx := auth.WithPrincipal(ctx, &auth.Principal{Organisation: m.ConsumerOrg, Role: auth.Admin})
	// made and marked remote in one transaction: never readable as an ordinary local Datastream
	id, err = f.store.CreateRemote(pctx, f.n.stores.ents, e, m.Provider, m.Agreement, src.ID)
	if err != nil {
		return 0, fmt.Errorf("remote datastream for %s/%d: %w", m.Provider, src.ID, err)
	}
	return id, nil
}

type importKey struct{}

// withImport marks ctx as the federation importer's, the one writer of remote Datastreams.
func withImport(ctx context.Context) context.Context {
	return context.WithValue(ctx, importKey{}, true)
}

// readOnlyRemote refuses writes to remote Datastreams by anyone but the importer: Forbidden,
// naming why, to a key that may read it; to one that may not, NotFound, as an id that does not
// exist (sqlq.Entities.Unseen).
func (f *federator) readOnlyRemote(ctx context.Context, ds int64) error {
	if ctx.Value(importKey{}) != nil {
		return nil
	}
	ok, err := f.store.IsRemote(ctx, ds)
	if err != nil {
		return err
	}
	if ok {
		// to a key that may not read it, it does not exist (docs/federation.md)
		if err := f.n.stores.ents.Unseen(ctx, sensing.Datastreams, ds); err != nil {
			return err
		}
		return apperr.E(apperr.Forbidden, "Datastreams(%d) is a remote Datastream, received from a partner node under an agreement: it is read-only here", ds)
	}
	return nil
}

// readOnlyEntity refuses a change to set(id) when it belongs to a remote Datastream (its
// Observations, its Thing with its Locations, its Sensor, …: sqlq.Federation.IsRemoteEntity),
// by anyone but the importer: what a partner sent stays as it sent it. To a key that may not
// read it, it does not exist (NotFound, sqlq.Entities.Unseen).
func (f *federator) readOnlyEntity(ctx context.Context, set string, id int64) error {
	if ctx.Value(importKey{}) != nil {
		return nil
	}
	ok, err := f.store.IsRemoteEntity(ctx, set, id)
	if err != nil {
		return err
	}
	if ok {
		// to a key that may not read it, it does not exist (docs/federation.md)
		if err := f.n.stores.ents.Unseen(ctx, set, id); err != nil {
			return err
		}
	}
	if ok && set == "Datastreams" {
		return apperr.E(apperr.Forbidden, "Datastreams(%d) is a remote Datastream, received from a partner node under an agreement: it is read-only here", id)
	}
	if ok {
		return apperr.E(apperr.Forbidden, "%s(%d) is part of a remote Datastream (received from a partner node under an agreement): it is read-only here", set, id)
	}
	return nil
}

// newFederator builds the node's federation: the agreements service, the exporter and the
// links. Agreement changes and export and import batches are recorded to federation.NopAudit
// until setAudit wires in the node's audit log (New does, before anything runs).
func (n *Node) newFederator() *federator {
	f := &federator{n: n, store: n.stores.Federation, audit: federation.NopAudit{}, log: n.log.With("component", "federation"),
		wake: make(chan struct{}, 1), streams: map[int64]string{}, remotes: map[string]int64{}, gone: map[int64]bool{},
		tallies: map[string]map[int64]*federation.ReceivedTally{},
		feed:    &fedFeed{to: -1}}
	f.svc = &federation.Service{Store: f.store, Audit: f.audit, Now: n.now, Changed: f.changed,
		Holder: func(ctx context.Context, name string) (string, error) {
			return auth.HolderName(ctx, n.stores.Keys, name)
		},
		Node: n.opts.ID, NodeKey: func() (string, error) { return FedPublicKey(n.opts.DataDir) }}
	return f
}

// setAudit records agreement changes and export and import batches to a (the node's audit
// log, internal/audit). Called before the federation starts.
func (f *federator) setAudit(a federation.AuditSink) {
	f.audit, f.svc.Audit = a, a
}

// startFederation answers partners' agreement lists and starts the exporter and the links.
// (A node with partners whose NATS listener is off loopback without TLS was refused by New,
// before anything started: checkFedListener.)
func (n *Node) startFederation(bg context.Context) error {
	if err := n.bus.ServeFedList(bg); err != nil {
		return err
	}
	n.wg.Go(func() { n.fed.runExporter(bg) })
	n.wg.Go(func() { n.fed.runLinks(bg) })
	n.wg.Go(func() { n.fed.runPurge(bg) })         // retention of what was received (federation_received.go)
	n.wg.Go(func() { n.fed.runAlertExporter(bg) }) // shared CAP alerts (federation_alerts.go)
	return nil
}
