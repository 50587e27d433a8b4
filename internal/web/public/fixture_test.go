package public_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/httpapi"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/warning"
	"github.com/rabta/rabta/internal/web/public"
)

// Where the fixture's warnings are: Lahore (the Ravi) and Khanki (the Chenab).
const (
	lahoreLat, lahoreLon = 31.55, 74.34
	khankiLat, khankiLon = 32.40, 73.97
)

// rule is one warning rule of the fixture: its area is a circle.
type fixtureRule struct {
	id, status, severity string
	area                 string
	lat, lon, km         float64
	auto, operational    bool
	ds                   int64
}

var fixtureRules = []fixtureRule{
	{id: "ravi", status: "Actual", severity: "Severe", lat: lahoreLat, lon: lahoreLon, km: 20, auto: true, ds: 1},
	{id: "chenab", status: "Actual", severity: "Moderate", area: "Chenab near Khanki", lat: khankiLat, lon: khankiLon, km: 25, auto: true, ds: 2},
	{id: "drill", status: "Exercise", severity: "Extreme", lat: lahoreLat, lon: lahoreLon, km: 30, auto: true, ds: 3},
	{id: "waiting", status: "Actual", severity: "Extreme", lat: lahoreLat, lon: lahoreLon, km: 30, auto: false, ds: 4},
	{id: "ops", status: "Actual", severity: "Minor", lat: lahoreLat, lon: lahoreLon, km: 30, operational: true, ds: 5},
	{id: "over", status: "Actual", severity: "Minor", lat: lahoreLat, lon: lahoreLon, km: 30, auto: true, ds: 6},
}

func rulesYAML() string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, r := range fixtureRules {
		desc := r.area
		if desc == "" {
			desc = "Ravi near Lahore"
		}
		fmt.Fprintf(&b, `  - id: %s
    name: %s
    kind: threshold
    datastreams: [%d]
    levels:
      - {name: High, value: 100, severity: %s, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: %s, circles: [{center: [%g, %g], radiusKm: %g}]}
    autoIssue: %t
    operational: %t
    status: %s
    templates:
      en: {headline: "{{if .Cancel}}All clear ({{.Rule}}){{else}}{{.Level}} flood: %s{{end}}", description: "The river rose to {{.Quantity}}.", instruction: "Move people and livestock away from the river banks."}
      ur: {headline: "{{if .Cancel}}خطرہ ختم{{else}}{{.Level}} درجے کا سیلاب: %s{{end}}", description: "دریا {{.Quantity}} تک چڑھ گیا۔", instruction: "لوگوں اور مویشیوں کو دریا کے کناروں سے دور لے جائیں۔"}
      zh: {headline: "{{if .Cancel}}警报解除{{else}}{{.Level}}洪水：%s{{end}}", description: "河水上涨至{{.Quantity}}。", instruction: "请将人员和牲畜转移出河岸地区。"}
`, r.id, r.id, r.ds, r.severity, desc, r.lat, r.lon, r.km, r.auto, r.operational, r.status, r.id, r.id, r.id)
	}
	return b.String()
}

type signer struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func (s signer) Sign(xml []byte) ([]byte, error) { return cap.Sign(xml, s.key, s.cert) }

func newSigner(t testing.TB) signer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabta test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, cert}
}

// box is a rectangular boundary (lon/lat) for the fixture's regions.
func box(t testing.TB, minLon, minLat, maxLon, maxLat float64) *geom.MultiPolygon {
	g, err := geom.UnmarshalWKT(fmt.Sprintf("MULTIPOLYGON(((%[1]g %[2]g,%[3]g %[2]g,%[3]g %[4]g,%[1]g %[4]g,%[1]g %[2]g)))", minLon, minLat, maxLon, maxLat))
	if err != nil {
		t.Fatal(err)
	}
	mp := g.MustAsMultiPolygon()
	return &mp
}

// gazetteer is a small gazetteer of Punjab and Karachi: regions with rectangular boundaries
// around the real places (the embedded real gazetteer takes seconds to build under -race:
// the node's own tests use it), real towns' coordinates, and villages of our own.
func gazetteer(t testing.TB) *place.Gazetteer {
	ps := []place.Place{
		{Key: "province:Punjab", Kind: place.Province, Name: "Punjab", Country: "PK", Lat: 31.0, Lon: 72.5, Boundary: box(t, 69, 28, 76, 34)},
		{Key: "province:Sindh", Kind: place.Province, Name: "Sindh", Country: "PK", Lat: 25.5, Lon: 68.5, Boundary: box(t, 66.5, 23.5, 71, 28)},
		{Key: "division:Lahore", Kind: place.Division, Name: "Lahore", Country: "PK", Province: "Punjab", Lat: 31.5, Lon: 74.2, Boundary: box(t, 73.5, 30.8, 74.7, 31.8)},
		{Key: "district:Lahore", Kind: place.District, Name: "Lahore", Country: "PK", Province: "Punjab", Division: "Lahore", Lat: 31.5, Lon: 74.3, Boundary: box(t, 74.0, 31.2, 74.6, 31.8)},
		{Key: "district:Gujranwala", Kind: place.District, Name: "Gujranwala", Country: "PK", Province: "Punjab", Division: "Gujranwala", Lat: 32.2, Lon: 74.1, Boundary: box(t, 73.7, 31.9, 74.4, 32.6)},
		{Key: "district:Chiniot", Kind: place.District, Name: "Chiniot", Country: "PK", Province: "Punjab", Division: "Faisalabad", Lat: 31.7, Lon: 72.9, Boundary: box(t, 72.6, 31.4, 73.3, 32.0)},
		{Key: "district:Karachi", Kind: place.District, Name: "Karachi", Country: "PK", Province: "Sindh", Division: "Karachi", Lat: 24.9, Lon: 67.1, Boundary: box(t, 66.8, 24.7, 67.4, 25.2)},
		{Key: "geonames:1172451", Kind: place.Town, Name: "Lahore", Country: "PK", Province: "Punjab", District: "Lahore", Lat: 31.558, Lon: 74.351, Population: 13_000_000},
		{Key: "geonames:1177662", Kind: place.Town, Name: "Gujranwala", Country: "PK", Province: "Punjab", District: "Gujranwala", Lat: 32.161, Lon: 74.188, Population: 2_000_000},
		{Key: "geonames:1174872", Kind: place.Town, Name: "Karachi", Country: "PK", Province: "Sindh", District: "Karachi", Lat: 24.861, Lon: 67.010, Population: 18_000_000},
		{Key: "village:test:Bhaini", Kind: place.Village, Name: "Bhaini", NameUr: "بھینی", Country: "PK", Province: "Punjab", District: "Lahore", Lat: 31.60, Lon: 74.40, Population: 1200},
		{Key: "village:test:Khanki", Kind: place.Village, Name: "Khanki", Country: "PK", Province: "Punjab", District: "Gujranwala", Lat: 32.41, Lon: 73.98, Population: 900},
		{Key: "village:test:DurKot", Kind: place.Village, Name: "Dur Kot", Country: "PK", Province: "Punjab", District: "Chiniot", Lat: 31.72, Lon: 72.98, Population: 800},
	}
	g, err := place.NewGazetteer(ps)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is the public page over a real SQLite alert store holding: ravi and chenab
// (Actual, Public, issued), drill (Exercise, issued), waiting (a draft), ops (operational:
// Restricted, issued by an approver), over (issued, then cancelled). ids maps each rule to its alert.
type fixture struct {
	srv *httptest.Server
	pub *public.Server
	ids map[string]int64
	log *syncBuffer
	msg map[string]string // rule → CAP identifier of its latest message
}

func newFixture(t testing.TB) *fixture {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := sqlite.NewAlerts(db)
	var ds []int64
	for _, r := range fixtureRules {
		ds = append(ds, r.ds)
	}
	storetest.SeedDatastreams(t, db, "pdma", ds...)
	rules, err := rule.ParseYAML("fixture", []byte(rulesYAML()))
	if err != nil {
		t.Fatal(err)
	}
	if err := warning.Apply(ctx, st, "pdma", "test", rules); err != nil {
		t.Fatal(err)
	}
	runner := &warning.Runner{Store: st}
	if err := runner.Load(ctx); err != nil {
		t.Fatal(err)
	}
	sign := newSigner(t)
	svc := &alert.Service{Store: st, Signer: sign, Rules: runner.Rule,
		Config: alert.Config{Node: "test", Sender: "test.rabta.org", SenderName: "PDMA Punjab", Expiry: 6 * time.Hour}}
	runner.Alerts = svc
	f := &fixture{ids: map[string]int64{}, msg: map[string]string{}, log: &syncBuffer{}}
	now := time.Now().UTC()
	for _, r := range fixtureRules {
		a, err := svc.Trigger(ctx, rule.Trigger{RuleID: r.id, Kind: rule.Fire, Level: 0, LevelName: "High", PrevLevel: -1,
			Datastream: r.ds, Value: 150, ObservedAt: now, At: now, Cause: "test"})
		if err != nil || a == nil {
			t.Fatalf("trigger %s: %+v %v", r.id, a, err)
		}
		f.ids[r.id] = a.ID
		if r.operational && a.State == alert.Draft { // an operational warning is issued by a person
			if _, err := svc.Approve(ctx, a.ID, "pdma/approver", "seen"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := svc.Cancel(ctx, f.ids["over"], "pdma/approver", "the river fell"); err != nil {
		t.Fatal(err)
	}
	for r, id := range f.ids {
		a, err := st.GetAlert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m := a.Last(); m != nil {
			f.msg[r] = m.Identifier
		}
	}
	log := slog.New(slog.NewJSONHandler(f.log, nil))
	g := gazetteer(t)
	f.pub = &public.Server{Alerts: st, Places: func(context.Context) (*place.Gazetteer, error) { return g, nil }, Log: log}
	api := &httpapi.Server{Store: st, Log: log, Trusted: func() []*x509.Certificate { return []*x509.Certificate{sign.cert} }}
	mux := http.NewServeMux()
	f.pub.Register(mux)
	api.Register(mux)
	f.srv = httptest.NewServer(auth.RequestID(mux))
	t.Cleanup(f.srv.Close)
	return f
}
