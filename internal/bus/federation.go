package bus

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// Federation on the bus (docs/federation.md). A partner node logs in to this node's NATS with
// its nkey (a signed nonce: no secret crosses the wire) and gets permissions generated from
// the agreements it receives, and nothing else: for each agreement's stream (FedStream) the
// JetStream API calls that fetch from and acknowledge its own durable consumer on it, the
// subject that lists its agreements (fedList), and its own reply inboxes (_INBOX_<node>.>).
// A subscription it chooses to anything else — the node's observations, another partner's
// stream, the JetStream API at large — is refused by the server: the boundary is the server's
// permissions, not the partner's good behaviour. Each agreement's stream is filled by the
// node's exporter with what the agreement lets leave (selection, resolution, embargo);
// revoking deletes the stream and closes the partner's sessions, which log in again with what
// is left.

// Partners is what the bus asks the store about partner nodes.
type Partners interface {
	// PartnerByNKey returns the node id of the partner with public nkey key ("" when none).
	PartnerByNKey(ctx context.Context, key string) (string, error)
	// AgreementsFor returns the ids of the active agreements whose consumer is node.
	AgreementsFor(ctx context.Context, node string) ([]int64, error)
}

// FedStream is the JetStream stream of agreement id on provider node.
func FedStream(provider string, id int64) string {
	return "FED_" + strings.ToUpper(strings.ReplaceAll(provider, "-", "_")) + "_" + strconv.FormatInt(id, 10)
}

// FedSubject is the subject of agreement id's exported values.
func FedSubject(provider string, id int64) string {
	return "rabta." + provider + ".fed." + strconv.FormatInt(id, 10)
}

// fedList is the subject a partner asks for the ids of its active agreements.
func fedList(provider string) string { return "rabta." + provider + ".fedlist" }

// inboxPrefix is partner node's reply-inbox prefix.
func inboxPrefix(node string) string { return "_INBOX_" + node }

// fedPermissions are partner node's permissions on provider's server, given its agreements.
func fedPermissions(provider, node string, agreements []int64) *server.Permissions {
	pub := []string{fedList(provider)}
	for _, id := range agreements {
		s := FedStream(provider, id)
		pub = append(pub, "$JS.API.CONSUMER.MSG.NEXT."+s+"."+node, "$JS.API.CONSUMER.INFO."+s+"."+node, "$JS.ACK."+s+"."+node+".>")
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{inboxPrefix(node) + ".>"}},
	}
}

// checkPartner authenticates a client that presents an nkey: the signature of the server's
// nonce must verify under the key, and the key must be a registered partner's.
func (a *clientAuth) checkPartner(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	b := a.bus
	if b.opts.Partners == nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return false
		}
	}
	pub, err := nkeys.FromPublicKey(o.Nkey)
	if err != nil || pub.Verify(c.GetNonce(), sig) != nil {
		b.log.Info("bus_partner_refused", "remote", addr(c.RemoteAddress()), "reason", "bad nkey signature")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := b.opts.Partners.PartnerByNKey(ctx, o.Nkey)
	if err != nil || node == "" {
		b.log.Info("bus_partner_refused", "remote", addr(c.RemoteAddress()), "reason", "not a partner's nkey")
		return false
	}
	ids, err := b.opts.Partners.AgreementsFor(ctx, node)
	if err != nil {
		b.log.Error("bus_partner_refused", "partner", node, "err", err)
		return false
	}
	b.fmu.Lock()
	if b.partners == nil {
		b.partners = map[uint64]string{}
	}
	b.partners[c.GetID()] = node
	b.fmu.Unlock()
	c.RegisterUser(&server.User{Username: "partner-" + node, Permissions: fedPermissions(b.opts.Node, node, ids)})
	b.log.Info("bus_partner_connected", "partner", node, "agreements", len(ids))
	return true
}

// ReauthPartners closes the live sessions of partner node (every partner when node is ""):
// they log in again with the permissions their agreements give now. Called after each change
// of agreements, so that a revoked agreement's subjects are closed at once.
func (b *Bus) ReauthPartners(node string) {
	if b.srv == nil {
		return
	}
	b.fmu.Lock()
	var ids []uint64
	for id, n := range b.partners {
		if node == "" || n == node {
			ids = append(ids, id)
			delete(b.partners, id)
		}
	}
	b.fmu.Unlock()
	for _, id := range ids {
		b.srv.DisconnectClientByID(id)
	}
}

// ServeFedList answers partners' requests for the ids of their active agreements (the
// partner is the node whose inbox the reply goes to: only it can read it).
func (b *Bus) ServeFedList(ctx context.Context) error {
	s, err := b.nc.Subscribe(fedList(b.opts.Node), func(m *nats.Msg) {
		rest, ok := strings.CutPrefix(m.Reply, "_INBOX_")
		node, _, ok2 := strings.Cut(rest, ".")
		if !ok || !ok2 || b.opts.Partners == nil {
			return
		}
		ids, err := b.opts.Partners.AgreementsFor(ctx, node)
		if err != nil {
			b.log.Warn("fed_list_failed", "partner", node, "err", err)
			return
		}
		data, _ := json.Marshal(ids)
		m.Respond(data)
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return nil
}

// EnsureFed makes sure agreement id's stream and consumer node's durable consumer on it exist.
// The stream keeps what the partner has not fetched for up to maxAge (store and forward: a
// link down for less loses nothing).
func (b *Bus) EnsureFed(ctx context.Context, id int64, consumer string, maxAge time.Duration) error {
	s, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: FedStream(b.opts.Node, id), Subjects: []string{FedSubject(b.opts.Node, id)},
		Storage: jetstream.FileStorage, MaxAge: maxAge, Duplicates: b.opts.DupWindow, Replicas: b.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: federation stream of agreement %d: %w", id, err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: consumer, AckPolicy: jetstream.AckAllPolicy, AckWait: 30 * time.Second, // a batch acknowledged by its last
		DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 4096,
	}); err != nil {
		return fmt.Errorf("bus: federation consumer of agreement %d: %w", id, err)
	}
	return nil
}

// DeleteFed deletes agreement id's stream (and so its consumer): nothing more can be fetched.
func (b *Bus) DeleteFed(ctx context.Context, id int64) error {
	err := b.js.DeleteStream(ctx, FedStream(b.opts.Node, id))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return err
}

// PublishFed publishes one exported value to agreement id's stream; msgID de-duplicates.
func (b *Bus) PublishFed(ctx context.Context, id int64, msgID string, data []byte) error {
	m := nats.NewMsg(FedSubject(b.opts.Node, id))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	_, err := b.js.PublishMsg(ctx, m)
	return err
}

// PublishFedAsync is PublishFed without waiting for JetStream's ack; FedAcks waits for every
// outstanding one.
func (b *Bus) PublishFedAsync(id int64, msgID string, data []byte) error {
	m := nats.NewMsg(FedSubject(b.opts.Node, id))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	_, err := b.js.PublishMsgAsync(m)
	return err
}

// FedAcks waits until JetStream has acknowledged every asynchronous publish (or ctx ends,
// or 30 s pass).
func (b *Bus) FedAcks(ctx context.Context) error {
	select {
	case <-b.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return errors.New("bus: no ack from JetStream within 30s")
	}
}

// Link is this node's side of receiving from a provider node: a NATS connection to the
// provider's server, logged in with this node's nkey, that fetches from this node's consumers
// on the provider's agreement streams.
type Link struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	provider string
	node     string
}

// Dial connects to a provider's NATS at url as node, signing the login nonce with seed (an
// nkey user seed, "SU…"). It returns at once; the connection is made, and remade after a
// cut, in the background.
func Dial(url, provider, node string, seed []byte) (*Link, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("federation key: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(inboxPrefix(node)), nats.Name("rabta-"+node+"-link"),
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.ReconnectWait(250*time.Millisecond), nats.NoEcho())
	if err != nil {
		return nil, fmt.Errorf("federation link to %s: %w", provider, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Link{nc: nc, js: js, provider: provider, node: node}, nil
}

// Close closes the link.
func (l *Link) Close() { l.nc.Close() }

// Agreements asks the provider for the ids of this node's active agreements.
func (l *Link) Agreements(ctx context.Context) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := l.nc.RequestWithContext(ctx, fedList(l.provider), nil)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if err := json.Unmarshal(m.Data, &ids); err != nil {
		return nil, fmt.Errorf("federation list from %s: %w", l.provider, err)
	}
	return ids, nil
}

// FedMsg is one message fetched from an agreement's stream.
type FedMsg struct {
	Data []byte
	Seq  uint64
	msg  jetstream.Msg
}

// Fetch fetches up to n messages of agreement id, in order: it waits up to wait for the
// first, then takes what else is there without waiting (so a value is passed on as soon as it
// arrives, and a backlog in batches of n).
func (l *Link) Fetch(ctx context.Context, id int64, n int, wait time.Duration) ([]FedMsg, error) {
	c, err := l.js.Consumer(ctx, FedStream(l.provider, id), l.node)
	if err != nil {
		return nil, err
	}
	first, err := c.Next(jetstream.FetchMaxWait(wait))
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]FedMsg, 0, n)
	add := func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil {
			out = append(out, FedMsg{Data: m.Data(), Seq: md.Sequence.Stream, msg: m})
		}
	}
	add(first)
	if n > 1 {
		batch, err := c.FetchNoWait(n - 1)
		if err != nil {
			return out, nil
		}
		for m := range batch.Messages() {
			add(m)
		}
	}
	return out, nil
}

// Ack acknowledges fetched messages once they are stored: they are not sent again. The
// consumer acknowledges all up to a message with that message's ack, so one round trip
// acknowledges the batch.
func (l *Link) Ack(ctx context.Context, msgs []FedMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	return msgs[len(msgs)-1].msg.DoubleAck(ctx)
}

// Raw returns the link's NATS connection (tests subscribe with it to what the link may not).
func (l *Link) Raw() *nats.Conn { return l.nc }
