package dissemination_test

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/channeltest"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// million is the scale benchmarks' world: the real places, 22,000 synthetic villages and
// 1,000,000 subscribers on SQLite — 950,000 in Punjab's towns and villages (one SMS contact
// each, a fifth with an e-mail address too) and 50,000 at points near them.
type million struct {
	svc    *dissemination.Service
	alerts alert.Store
	g      *place.Gazetteer
	build  time.Duration
	insert time.Duration
}

var (
	millionOnce sync.Once
	millionW    *million
	millionErr  error
)

func loadMillion(b *testing.B) *million {
	b.Helper()
	millionOnce.Do(func() { millionW, millionErr = buildMillion() })
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	return millionW
}

func buildMillion() (*million, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rabta-bench-million")
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "rabta.db"))
	if err != nil {
		return nil, err
	}
	ps, err := place.Load()
	if err != nil {
		return nil, err
	}
	vs, err := place.Villages(ps, place.VillageOptions{Seed: 1})
	if err != nil {
		return nil, err
	}
	ps = append(ps, vs...)
	g, err := place.NewGazetteer(ps)
	if err != nil {
		return nil, err
	}
	var punjab []place.Place
	for _, p := range ps {
		if (p.Kind == place.Village || p.Kind == place.Town) && p.Province == "Punjab" {
			punjab = append(punjab, p)
		}
	}
	key := make([]byte, dissemination.KeySize)
	crand.Read(key)
	sealer, _ := dissemination.NewSealer(key)
	st := sqlite.NewDissemination(db)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	name := sealer.Seal([]byte("Synthetic subscriber"))
	now := time.Now()
	total := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("RABTA_BENCH_SUBSCRIBERS")); err == nil && v >= 10_000 {
		total = v // a smaller world for profiling
	}
	for batch := 0; batch < total/10_000; batch++ {
		subs := make([]*dissemination.StoredSubscriber, 0, 10_000)
		for i := range 10_000 {
			n := batch*10_000 + i
			p := punjab[r.IntN(len(punjab))]
			s := &dissemination.StoredSubscriber{Subscriber: dissemination.Subscriber{Org: "pdma-punjab", Kind: "person", Language: []string{"ur", "pnb", "en", "skr"}[n%4],
				Audiences: []string{"public"}, Consent: dissemination.Consent{At: now, Source: "synthetic"}, Created: now}, SealedName: name}
			if n%20 == 0 {
				lat, lon := p.Lat+(r.Float64()-0.5)*0.02, p.Lon+(r.Float64()-0.5)*0.02
				s.Lat, s.Lon, s.RadiusKM = &lat, &lon, 2
			} else {
				s.Place = p.Key
			}
			phone := fmt.Sprintf("+92300%07d", n)
			s.Contacts = []dissemination.StoredContact{{Channel: channel.SMS, Position: 0, Sealed: sealer.SealContact(dissemination.Contact{Channel: channel.SMS, Address: phone}),
				Lookup: sealer.Lookup(channel.SMS, phone)}}
			if n%5 == 0 {
				addr := fmt.Sprintf("s%d@example.org", n)
				s.Contacts = append(s.Contacts, dissemination.StoredContact{Channel: channel.Email, Position: 1, Sealed: sealer.SealContact(dissemination.Contact{Channel: channel.Email, Address: addr}),
					Lookup: sealer.Lookup(channel.Email, addr)})
			}
			subs = append(subs, s)
		}
		if err := st.AddSubscribers(ctx, subs); err != nil {
			return nil, err
		}
	}
	m := &million{alerts: sqlite.NewAlerts(db), g: g, insert: time.Since(start)}
	m.svc = &dissemination.Service{Store: st, Sealer: sealer, Places: dissemination.Places{G: g}, Points: dissemination.NewPoints(g),
		Render: &dissemination.Messages{}, MessageByIdentifier: m.alerts.MessageByIdentifier, Log: discardLog()}
	start = time.Now()
	if _, err := m.svc.Preview(ctx, &cap.Alert{}); err != nil { // builds the subscriber index
		return nil, err
	}
	m.build = time.Since(start)
	return m, nil
}

func discardLog() *slog.Logger {
	if os.Getenv("RABTA_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// issueFor stores an issued alert message for area and returns it.
func issueFor(b *testing.B, as alert.Store, n int, area cap.Area) *alert.Message {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	al := &alert.Alert{RuleID: fmt.Sprintf("bench-%d", n), State: alert.Draft, Status: cap.StatusActual, Level: 0, LevelName: "High", Created: now, Updated: now}
	id, err := as.CreateAlert(ctx, al, alert.Transition{To: alert.Draft, By: "bench", At: now})
	if err != nil {
		b.Fatal(err)
	}
	al.ID = id
	ident := fmt.Sprintf("rabta-bench-%d-%d", id, n)
	msg := &cap.Alert{Identifier: ident, Sender: "rabta@bench", Sent: now, Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: "Public",
		Infos: []cap.Info{{Language: "ur", Categories: []cap.Category{"Met"}, Event: "سیلاب", Urgency: "Immediate", Severity: "Severe", Certainty: "Observed",
			Headline: "اونچے درجے کا سیلاب", Instruction: "اونچی جگہ پر جائیں۔", Areas: []cap.Area{area}}}}
	xml, _, err := cap.Builder{Now: func() time.Time { return now }}.Build(msg)
	if err != nil {
		b.Fatal(err)
	}
	m := &alert.Message{AlertID: id, Identifier: ident, Sender: "rabta@bench", Sent: now, Expires: now.Add(time.Hour), MsgType: cap.MsgAlert, Status: cap.StatusActual, Headline: "x", XML: xml}
	al.State = alert.Issued
	if err := as.SaveAlert(ctx, al, alert.Transition{AlertID: id, From: alert.Draft, To: alert.Issued, By: "bench", At: now, Identifier: ident}, m); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkPlanMillion: an alert for the province of Punjab, where all 1,000,000 subscribers
// are: the time from the issued message to every delivery planned and queued in the store
// (1,200,000 deliveries: SMS for everyone, e-mail for a fifth). Aim: ≤ 10 s.
func BenchmarkPlanMillion(b *testing.B) {
	m := loadMillion(b)
	b.ReportMetric(m.build.Seconds(), "index-build-s")
	area := cap.Area{AreaDesc: "Punjab", Geocodes: []cap.ValuePair{{ValueName: "province", Value: "Punjab"}}}
	n := 0
	for b.Loop() {
		b.StopTimer()
		msg := issueFor(b, m.alerts, n, area)
		n++
		b.StartTimer()
		if err := m.svc.PlanMessage(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreviewDistrict: the impact of a district-sized polygon (Lahore's real boundary)
// against the real places, 22,000 villages and 1,000,000 subscribers (index warm): places,
// people, districts, and subscribers by channel and language. Aim: ≤ 50 ms median.
func BenchmarkPreviewDistrict(b *testing.B) {
	m := loadMillion(b)
	lahore, ok := m.g.Place("district:Lahore")
	if !ok {
		b.Fatal("no Lahore")
	}
	area := cap.Area{AreaDesc: "Lahore", Polygons: []cap.Polygon{place.Outline(lahore.Boundary, cap.MaxVertices)}}
	a := &cap.Alert{Status: cap.StatusActual, MsgType: cap.MsgAlert, Infos: []cap.Info{{Areas: []cap.Area{area}}}}
	var imp *dissemination.Impact
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		var err error
		if imp, err = m.svc.Preview(context.Background(), a); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(imp.Subscribers), "subscribers")
	b.ReportMetric(float64(imp.Reach.Villages["sms-only"]+imp.Reach.Villages["fibre"]+imp.Reach.Villages["mobile-data"]+imp.Reach.Villages["none"]), "villages")
}

// BenchmarkIssueToFirstSMS: from an alert stored as issued (and the pipeline woken, as the
// alert service does) to its SMS accepted by a real SMSC over SMPP, one subscriber, the
// pipeline idle between alerts. Aim: p99 ≤ 1 s.
func BenchmarkIssueToFirstSMS(b *testing.B) {
	f := newFixture(b)
	smsc := channeltest.SMSC(b)
	snd, err := smpp.New(smpp.Options{Addr: smsc.Addr, SystemID: smsc.SystemID, Password: smsc.Password, Source: "RABTA", Rate: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer snd.Close()
	f.svc.Senders = map[channel.Kind]channel.Sender{channel.SMS: snd}
	f.svc.Config.Poll = time.Second
	if _, err := f.svc.Subscribe(context.Background(), dissemination.Subscriber{Org: "o", Name: "A", Language: "ur", Place: "village:a",
		Contacts: []dissemination.Contact{{Channel: channel.SMS, Address: "+923001234567"}}, Consent: dissemination.Consent{Source: "bench"}}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := f.svc.Start(ctx)
	defer func() { cancel(); wait() }()
	var lat []time.Duration
	n := 0
	for b.Loop() {
		al := &alert.Alert{}
		start := time.Now()
		f.issue(b, al, 1, cap.MsgAlert, cap.StatusActual)
		f.svc.Wake()
		n++
		smsc.Wait(10*time.Second, "the SMS", func() bool { return len(smsc.Received()) >= n })
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
