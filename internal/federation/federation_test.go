package federation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

const good = `{"providerOrganisation":"pdma","consumerOrganisation":"sindh-id","consumerNode":"karachi",
 "selection":{"datastreams":[1,2],"observedProperties":[1]},"resolution":"hourly-mean","embargo":"30m",
 "purpose":"flood warning downstream","validFrom":"2025-06-01T00:00:00Z","validUntil":"2026-06-01T00:00:00Z","retention":"30d"}`

// Each field's rule is enforced, and the error names the field.
func TestParseAgreement(t *testing.T) {
	a, err := federation.ParseAgreement([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if a.ConsumerNode != "karachi" || time.Duration(a.Embargo) != 30*time.Minute || time.Duration(a.Retention) != 30*24*time.Hour ||
		a.Resolution != federation.HourlyMean || a.State != "" || a.ValidUntil == nil {
		t.Errorf("parsed: %+v", a)
	}
	for _, c := range []struct{ change, field string }{
		{`"providerOrganisation":"pdma"->"providerOrganisation":"PDMA"`, "providerOrganisation"},
		{`"consumerOrganisation":"sindh-id"->"consumerOrganisation":""`, "consumerOrganisation"},
		{`"consumerNode":"karachi"->"consumerNode":"kar achi"`, "consumerNode"},
		{`"selection":{"datastreams":[1,2],"observedProperties":[1]}->"selection":{"observedProperties":[1]}`, "selection"},
		{`"datastreams":[1,2]->"datastreams":[1,-2]`, "selection.datastreams"},
		{`"resolution":"hourly-mean"->"resolution":"weekly"`, "resolution"},
		{`"embargo":"30m"->"embargo":"400d"`, "embargo"},
		{`"embargo":"30m"->"embargo":"-5m"`, "embargo"},
		{`"embargo":"30m"->"embargo":30`, "embargo"},
		{`"purpose":"flood warning downstream"->"purpose":" "`, "purpose"},
		{`"validFrom":"2025-06-01T00:00:00Z"->"validFrom":"2027-06-01T00:00:00Z"`, "validUntil"},
		{`"validFrom":"2025-06-01T00:00:00Z",->`, "validFrom"},
		{`"retention":"30d"->"retention":"40000d"`, "retention"},
		{`"retention":"30d"->"retention":"30d","state":"approved"`, "unknown field"},
		{`"selection":{"datastreams":[1,2],"observedProperties":[1]}->"selection":{"datastreams":[1,2],"observations":false}`, "selection.observations"},
		{`"selection":{"datastreams":[1,2],"observedProperties":[1]},"resolution":"hourly-mean"->"selection":{"alerts":true,"observations":false},"resolution":"weekly"`, "resolution"},
	} {
		from, to, _ := strings.Cut(c.change, "->")
		body := strings.Replace(good, from, to, 1)
		if body == good && c.change != "" {
			t.Fatalf("%s: changes nothing", c.change)
		}
		_, err := federation.ParseAgreement([]byte(body))
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v (want Invalid naming %q)", c.change, err, c.field)
		}
	}
	// alerts only, by area: no Observations selected, no resolution needed
	alertsOnly := strings.Replace(strings.Replace(good, `"selection":{"datastreams":[1,2],"observedProperties":[1]}`,
		`"selection":{"alerts":true,"observations":false,"area":{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}}`, 1),
		`"resolution":"hourly-mean",`, "", 1)
	if a, err := federation.ParseAgreement([]byte(alertsOnly)); err != nil || a.Selection.Data() || !a.Selection.Alerts || a.Selection.Area == nil || a.Resolution != federation.Raw {
		t.Errorf("an agreement for alerts only: %+v %v", a, err)
	}
	if _, err := federation.ParseAgreement([]byte(strings.Replace(alertsOnly, `"observations":false,`, "", 1))); err == nil || !strings.Contains(err.Error(), "resolution") {
		t.Errorf("alerts and an area (which selects Datastreams too) without a resolution: %v", err)
	}
	if _, err := federation.ParseAgreement([]byte(good + " {}")); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("two JSON values: %v", err)
	}
	many := strings.Replace(good, `"datastreams":[1,2]`, `"datastreams":[`+strings.Repeat("1,", federation.MaxSelected)+`1]`, 1)
	if _, err := federation.ParseAgreement([]byte(many)); err == nil || !strings.Contains(err.Error(), "at most 1000") {
		t.Errorf("1001 datastreams: %v", err)
	}
	if _, err := federation.ParseAgreement(make([]byte, federation.MaxBodyBytes+1)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a body over the limit: %v", err)
	}
}

func FuzzParseAgreement(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"resolution":"raw","embargo":"1d"}`))
	f.Add([]byte(`{"embargo":"d"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := federation.ParseAgreement(b)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
	})
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{"nats://127.0.0.1:4222": true, "nats://[::1]:4222": true, "tls://hub.example.org:7422": true,
		"nats://10.0.0.5:4222": false, "http://127.0.0.1:4222": false, "127.0.0.1:4222": false, "nats://": false,
		"nats://127.0.0.1:99999": false, "nats://127.0.0.1:0": false, "nats://127.0.0.1:x": false, "tls://hub.example.org:4222/path": false,
		"tls://hub.example.org:4222?x=1": false, "tls://hub.example.org": true, "tls://hub.example.org:4222/": true, "nats://127.0.0.1": true} {
		if err := federation.CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", u, err, ok)
		}
	}
}

// Hourly means and daily maxima per UTC period and Datastream; values flagged bad, and those
// outside [from, until), left out.
func TestAggregate(t *testing.T) {
	t0 := time.Date(2025, 8, 27, 10, 0, 0, 0, time.UTC)
	vals := []federation.Value{
		{Datastream: 1, Time: t0.Add(5 * time.Minute), Result: 10},
		{Datastream: 1, Time: t0.Add(50 * time.Minute), Result: 20},
		{Datastream: 1, Time: t0.Add(55 * time.Minute), Result: 1e9, Flag: int(sensing.FlagBad)},    // as the store keeps it
		{Datastream: 1, Time: t0.Add(56 * time.Minute), Result: 15, Flag: int(sensing.FlagSuspect)}, // suspect: kept
		{Datastream: 2, Time: t0.Add(10 * time.Minute), Result: 7},
		{Datastream: 1, Time: t0.Add(70 * time.Minute), Result: 40},
		{Datastream: 1, Time: t0.Add(-time.Minute), Result: 99}, // before from
	}
	got, err := federation.Aggregate(federation.HourlyMean, t0, t0.Add(2*time.Hour), vals)
	if err != nil {
		t.Fatal(err)
	}
	want := []federation.Aggregated{{1, t0, t0.Add(time.Hour), 15, 3}, {2, t0, t0.Add(time.Hour), 7, 1}, {1, t0.Add(time.Hour), t0.Add(2 * time.Hour), 40, 1}}
	if len(got) != len(want) {
		t.Fatalf("hourly: %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("hourly %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	day := t0.Truncate(24 * time.Hour)
	got, _ = federation.Aggregate(federation.DailyMax, day, day.Add(24*time.Hour), vals)
	if len(got) != 2 || got[0].Result != 99 || got[0].Count != 5 || !got[0].Start.Equal(day) || got[1].Result != 7 {
		t.Errorf("daily max: %+v", got)
	}
	if _, err := federation.Aggregate(federation.Raw, day, day, vals); err == nil {
		t.Error("aggregating raw: no error")
	}
}

func msg() federation.Message {
	t0 := time.Date(2025, 8, 27, 10, 0, 0, 0, time.UTC)
	return federation.Message{V: 1, Provider: "islamabad", Agreement: 3, ConsumerOrg: "admin", Resolution: federation.Raw, Observation: 9,
		Datastream:     federation.RemoteSource{ID: 1, Name: "Discharge", Unit: json.RawMessage(`{"name":"cusec"}`)},
		PhenomenonTime: "2025-08-27T15:00:00+05:00", Start: t0, End: t0, Result: 1001480}
}

func TestDecodeMessage(t *testing.T) {
	b, _ := json.Marshal(msg())
	m, err := federation.DecodeMessage(b)
	if err != nil || m.Result != 1001480 || m.MsgID() != "islamabad:a3:o9" {
		t.Fatalf("%+v %v", m, err)
	}
	for name, change := range map[string]func(*federation.Message){
		"v": func(m *federation.Message) { m.V = 2 }, "provider": func(m *federation.Message) { m.Provider = "" },
		"agreement": func(m *federation.Message) { m.Agreement = 0 }, "start": func(m *federation.Message) { m.End = m.Start.Add(-time.Second) },
		"resolution": func(m *federation.Message) { m.Resolution = "weekly" }, "consumerOrganisation": func(m *federation.Message) { m.ConsumerOrg = "A B" },
		"phenomenonTime": func(m *federation.Message) { m.PhenomenonTime = "" },
	} {
		m := msg()
		change(&m)
		b, _ := json.Marshal(m)
		if _, err := federation.DecodeMessage(b); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if _, err := federation.DecodeMessage(make([]byte, federation.MaxMessage+1)); err == nil {
		t.Error("an oversized message decoded")
	}
	_ = math.Inf
}

func FuzzDecodeMessage(f *testing.F) {
	b, _ := json.Marshal(msg())
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := federation.DecodeMessage(b)
		if err != nil {
			return
		}
		if m.End.Before(m.Start) || m.Agreement <= 0 || math.IsNaN(m.Result) {
			t.Fatalf("decoded an invalid message: %+v", m)
		}
	})
}

// Who may create, approve, revoke and list, on a real store.
func TestServiceRoles(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.SeedDatastreams(t, db, "pdma", 1, 2) // what good selects: Datastreams 1 and 2, ObservedProperty 1
	var audit []string
	svc := &federation.Service{Store: sqlq.NewFederation(db), Audit: recorder(func(kind, actor string) { audit = append(audit, kind+" "+actor) })}
	as := func(org string, role auth.Role, key int64) context.Context {
		return auth.WithPrincipal(context.Background(), &auth.Principal{KeyID: key, Organisation: org, Role: role})
	}
	a, _ := federation.ParseAgreement([]byte(good))
	if err := svc.Create(context.Background(), a); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "consumerNode") {
		t.Errorf("an agreement with a node that is not a partner: %v", err)
	}
	if err := svc.AddPartner(context.Background(), &federation.Partner{Node: "karachi", NKey: testNKey()}); err != nil {
		t.Fatal(err)
	}
	audit = nil
	if err := svc.Create(as("pdma", auth.Viewer, 1), a); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("a viewer creates: %v", err)
	}
	if err := svc.Create(as("ndma", auth.Admin, 2), a); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("another organisation's admin creates: %v", err)
	}
	if err := svc.Create(as("pdma", auth.Operator, 3), a); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(as("pdma", auth.Operator, 3), a.ID); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an operator approves: %v", err)
	}
	if _, err := svc.Approve(as("ndma", auth.Admin, 2), a.ID); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("another organisation's admin approves: %v", err)
	}
	b, _ := federation.ParseAgreement([]byte(good))
	svc.Create(as("pdma", auth.Admin, 4), b)
	if _, err := svc.Approve(as("pdma", auth.Admin, 4), b.ID); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("its creator approves: %v (four eyes)", err)
	}
	svc.Holder = func(_ context.Context, name string) (string, error) { // key 8 was minted by key 4
		return strings.Replace(name, "key-8", "key-4", 1), nil
	}
	if _, err := svc.Approve(as("pdma", auth.Admin, 8), b.ID); apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(err.Error(), "same holder") {
		t.Errorf("a second key of its creator's holder approves: %v (four eyes)", err)
	}
	got, err := svc.Approve(as("pdma", auth.Admin, 5), a.ID)
	if err != nil || got.State != federation.Approved || got.ApprovedBy != "pdma/key-5" {
		t.Fatalf("approve: %+v %v", got, err)
	}
	if _, err := svc.Approve(as("pdma", auth.Admin, 5), a.ID); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("approving twice: %v", err)
	}
	// the consumer organisation is karachi's: a local organisation of the same name is not it
	if list, err := svc.List(as("sindh-id", auth.Viewer, 6)); err != nil || len(list) != 0 {
		t.Errorf("a local organisation named as the consumer organisation lists: %d %v, want none", len(list), err)
	}
	if list, err := svc.List(as("sindh-id", auth.Admin, 9)); err != nil || len(list) != 0 {
		t.Errorf("a local admin of an organisation named as the consumer organisation lists: %d %v, want none", len(list), err)
	}
	if list, err := svc.List(as("pdma", auth.Viewer, 6)); err != nil || len(list) != 2 {
		t.Errorf("the providing organisation's viewer lists: %d %v, want 2", len(list), err)
	}
	if list, err := svc.List(as(auth.NodeOrganisation, auth.Admin, 10)); err != nil || len(list) != 2 {
		t.Errorf("the node-wide admin lists: %d %v, want 2", len(list), err)
	}
	if list, err := svc.List(as("other", auth.Admin, 7)); err != nil || len(list) != 0 {
		t.Errorf("an unrelated organisation lists: %d %v", len(list), err)
	}
	if _, err := svc.Revoke(as("pdma", auth.Operator, 3), a.ID); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an operator revokes: %v", err)
	}
	if got, err := svc.Revoke(as("pdma", auth.Admin, 5), a.ID); err != nil || got.State != federation.Revoked {
		t.Errorf("revoke: %+v %v", got, err)
	}
	if _, err := svc.Revoke(as("pdma", auth.Admin, 5), a.ID); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("revoking twice: %v", err)
	}
	if err := svc.AddPartner(as("pdma", auth.Admin, 5), &federation.Partner{Node: "karachi", NKey: testNKey()}); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an organisation's admin adds a partner: %v", err)
	}
	// removing a partner: the node-wide admin's (or the command line's), once its agreements are closed
	if err := svc.RemovePartner(as("pdma", auth.Admin, 5), "karachi"); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("an organisation's admin removes a partner: %v, want Forbidden", err)
	}
	if err := svc.RemovePartner(context.Background(), "Karachi!"); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("a bad node id: %v, want Invalid", err)
	}
	if err := svc.RemovePartner(context.Background(), "karachi"); apperr.KindOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "agreement 2 is") {
		t.Errorf("removing karachi with agreement 2 proposed: %v, want Conflict naming it", err)
	}
	if _, err := svc.Revoke(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemovePartner(context.Background(), "karachi"); err != nil {
		t.Errorf("removing karachi, its agreements closed: %v", err)
	}
	want := "agreement.create pdma/key-3,agreement.create pdma/key-4,agreement.approve pdma/key-5,agreement.revoke pdma/key-5,agreement.revoke cli,partner.remove cli"
	if strings.Join(audit, ",") != want {
		t.Errorf("audit: %v\nwant %s", audit, want)
	}
}

type recorder func(kind, actor string)

func (r recorder) Record(_ context.Context, kind, actor, _ string, _ any) error {
	r(kind, actor)
	return nil
}

// A partner's CA: PEM certificates, with a tls:// URL only, at most MaxCABytes.
func TestPartnerCA(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	nkey := testNKey()
	for _, c := range []struct {
		url, ca, err string
	}{
		{"tls://hub.example.org:4222", ca, ""},
		{"tls://hub.example.org:4222", "not a certificate", "ca: no PEM certificate"},
		{"nats://127.0.0.1:4222", ca, "ca: only with a tls:// url"},
		{"", ca, "ca: only with a tls:// url"},
		{"tls://hub.example.org:4222", strings.Repeat(ca, federation.MaxCABytes/len(ca)+1), "at most 65536"},
	} {
		p := federation.Partner{Node: "karachi", NKey: nkey, URL: c.url, CA: c.ca}
		err := p.ValidatePartner()
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || apperr.KindOf(err) != apperr.Invalid) {
			t.Errorf("partner url %q ca %.20q: %v, want %q", c.url, c.ca, err, c.err)
		}
	}
	// a private seed pasted as the key: refused as the secret it is, never echoed
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	if err := (&federation.Partner{Node: "karachi", NKey: string(seed)}).ValidatePartner(); err == nil || !strings.Contains(err.Error(), "private seed") ||
		strings.Contains(err.Error(), string(seed)) {
		t.Errorf("a seed as the partner's nkey: %v, want refused as a private seed, not echoed", err)
	}
	// the node: missing, or given but not a node id (a newcomer read "required" for "Karachi")
	for node, want := range map[string]string{"": "node: required", "Karachi": `node: "Karachi" is not a node id`} {
		if err := (&federation.Partner{Node: node, NKey: nkey}).ValidatePartner(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("partner node %q: %v, want %q", node, err, want)
		}
	}
}

// testNKey returns a new NATS user public key.
func testNKey() string {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	return pub
}

// A partner's nkey is checked whole, its checksum too: a real key with one character changed
// (a newcomer's typo, accepted before and then never served) is refused naming the field.
func TestPartnerNKeyChecked(t *testing.T) {
	good := testNKey()
	typo := good[:55] + map[bool]string{true: "A", false: "B"}[good[55] != 'A']
	for key, ok := range map[string]bool{good: true, typo: false, "U" + strings.Repeat("A", 55): false, strings.ToLower(good): false, "": false} {
		err := (&federation.Partner{Node: "lahore", NKey: key}).ValidatePartner()
		if (err == nil) != ok || !ok && (apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "nkey")) {
			t.Errorf("nkey %q: %v, want ok %v", key, err, ok)
		}
	}
}

// A refused agreement body says what is wrong in the document's terms — the member and the
// JSON wanted — and never leaks a Go type (a newcomer got `expected struct { ProviderOrg
// string "json:\"providerOrganisation\""; … }`, and a time error naming no field).
func TestAgreementErrorsNameTheMember(t *testing.T) {
	good := `{"providerOrganisation":"pdma","consumerOrganisation":"ndma","consumerNode":"karachi","selection":{"datastreams":[1]},"resolution":"raw","purpose":"x","validFrom":"2025-01-01T00:00:00Z"}`
	if _, err := federation.ParseAgreement([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]string{
		strings.Replace(good, `"2025-01-01T00:00:00Z"`, `"yesterday"`, 1):              `validFrom: "yesterday" is not an RFC 3339 time`,
		strings.Replace(good, `"purpose":"x"`, `"validUntil":"soon","purpose":"x"`, 1): `validUntil: "soon"`,
		`[]`:      "want a JSON object, got JSON array",
		good[:40]: "ends too soon",
		``:        "empty",
		strings.Replace(good, `[1]`, `["one"]`, 1):                "selection.datastreams: want a JSON number, got JSON string",
		strings.Replace(good, `"purpose":"x"`, `"purpose":7`, 1):  "purpose: want a JSON string, got JSON number",
		strings.Replace(good, `"purpose":"x"`, `"purpos":"x"`, 1): `unknown field "purpos"`,
	} {
		_, err := federation.ParseAgreement([]byte(body))
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "struct") || strings.Contains(err.Error(), "int64") {
			t.Errorf("%.60s: %v, want Invalid with %q", body, err, want)
		}
	}
}

// An agreement naming what the node does not have — a providing organisation, Datastreams,
// Things, ObservedProperties — is refused whole, each named with the member it came from, and
// nothing is created or recorded; a Datastream of another organisation is named too (it would
// never be exported).
func TestCreateRefusesWhatDoesNotExist(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.SeedDatastreams(t, db, "pdma", 1, 2) // Thing 1, ObservedProperty 1
	storetest.SeedDatastreams(t, db, "ndma", 3)    // Thing 2, ObservedProperty 2
	var audit []string
	svc := &federation.Service{Store: sqlq.NewFederation(db), Audit: recorder(func(kind, actor string) { audit = append(audit, kind) })}
	ctx := context.Background()
	if err := svc.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: testNKey()}); err != nil {
		t.Fatal(err)
	}
	audit = nil
	agreement := func(provider, selection string) *federation.Agreement {
		t.Helper()
		a, err := federation.ParseAgreement([]byte(`{"providerOrganisation":"` + provider + `","consumerOrganisation":"sindh-id","consumerNode":"karachi",
			"selection":` + selection + `,"resolution":"raw","purpose":"p","validFrom":"2025-06-01T00:00:00Z"}`))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, c := range []struct {
		provider, selection string
		want                []string
	}{
		{"pdma", `{"datastreams":[1,9,3],"things":[7,1],"observedProperties":[1,8,9]}`, []string{
			"selection.datastreams: Datastream 9 does not exist on this node",
			"selection.datastreams: Datastream 3 (organisation ndma's) is not of the providing organisation pdma",
			"selection.things: Thing 7 does not exist on this node",
			"selection.observedProperties: ObservedProperties 8, 9 do not exist on this node",
		}},
		{"pdmaa", `{"things":[1]}`, []string{`providerOrganisation: "pdmaa" does not exist on this node`}},
		{"pdma", `{"things":[5,6],"alerts":true}`, []string{"selection.things: Things 5, 6 do not exist on this node"}},
	} {
		err := svc.Create(ctx, agreement(c.provider, c.selection))
		if apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("%s %s: %v, want Invalid", c.provider, c.selection, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(apperr.Message(err), w) {
				t.Errorf("%s %s: %q, want it to say %q", c.provider, c.selection, apperr.Message(err), w)
			}
		}
	}
	if list, err := svc.List(ctx); err != nil || len(list) != 0 || len(audit) != 0 {
		t.Errorf("after refusals: agreements %v %v, audit %v; want none", list, err, audit)
	}
	// what exists passes: the node's own organisation always exists; an organisation known by its Datastreams
	for _, a := range []*federation.Agreement{agreement("pdma", `{"datastreams":[1,2],"things":[1],"observedProperties":[1]}`), agreement("admin", `{"alerts":true}`)} {
		if err := svc.Create(ctx, a); err != nil {
			t.Errorf("%+v: %v", a.Selection, err)
		}
	}
}

// SummariseCerts reads any text without failing: one summary per CERTIFICATE block, each with
// its SHA-256 as openssl prints it.
func FuzzSummariseCerts(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabta node islamabad"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if got := federation.SummariseCerts("junk\n" + cert + cert); len(got) != 2 || got[0].Subject != "CN=rabta node islamabad" || !got[0].NotAfter.Equal(tmpl.NotAfter.UTC().Truncate(time.Second)) {
		f.Fatalf("two certificates: %+v", got)
	}
	f.Add(cert)
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Add("no PEM at all")
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range federation.SummariseCerts(text) {
			if len(c.SHA256) != 95 {
				t.Fatalf("summary %+v", c)
			}
		}
	})
}

// A Duration is written back in the form the documents use — whole days as days, else hours,
// minutes and seconds without the zero ones — and both that form and Go's read back to the
// same value.
func TestDurationJSON(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: `"0s"`, 30 * 24 * time.Hour: `"30d"`, 6 * time.Hour: `"6h"`, 90 * time.Minute: `"1h30m"`, 25 * time.Hour: `"25h"`,
		90 * time.Second: `"1m30s"`, 1500 * time.Millisecond: `"1.5s"`, 49*time.Hour + 5*time.Second: `"49h5s"`,
	} {
		b, err := json.Marshal(federation.Duration(d))
		if err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s %v, want %s", d, b, err, want)
		}
		var back federation.Duration
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != d {
			t.Errorf("Unmarshal(%s) = %v %v, want %v", b, time.Duration(back), err, d)
		}
		if err := json.Unmarshal([]byte(`"`+d.String()+`"`), &back); err != nil || time.Duration(back) != d {
			t.Errorf("Unmarshal(%q) = %v %v, want %v", d.String(), time.Duration(back), err, d)
		}
	}
}

// An agreement for alerts only is written without resolution, embargo and retention, which
// apply to Observations alone (a newcomer's alerts-only agreement was listed with
// "resolution":"raw","embargo":"0s","retention":"0s"); every other agreement keeps every
// member, the same as before, and either parses back as it was created.
func TestAgreementJSONAlertsOnly(t *testing.T) {
	area := `"area":{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}`
	for _, c := range []struct {
		name, selection string
		data            bool
	}{
		{"alerts in an area, no observations", `{"alerts":true,"observations":false,` + area + `}`, false},
		{"alerts alone", `{"alerts":true}`, false},
		{"datastreams and alerts", `{"datastreams":[1],"alerts":true}`, true},
		{"an area: its Datastreams and alerts", `{"alerts":true,` + area + `}`, true},
		{"datastreams", `{"datastreams":[1]}`, true},
	} {
		res := "" // left out of an agreement for alerts only, as docs/federation.md allows
		if c.data {
			res = `"resolution":"raw",`
		}
		a, err := federation.ParseAgreement([]byte(`{"providerOrganisation":"pdma","consumerOrganisation":"ndma","consumerNode":"karachi",
			"selection":` + c.selection + `,` + res + `"purpose":"warnings downstream","validFrom":"2025-01-01T00:00:00Z"}`))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		a.ID, a.State, a.CreatedBy = 7, federation.Proposed, "cli"
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"resolution", "embargo", "retention"} {
			if _, ok := m[k]; ok != c.data {
				t.Errorf("%s: %s in %s is %v, want %v", c.name, k, b, ok, c.data)
			}
		}
		for _, k := range []string{"id", "providerOrganisation", "consumerOrganisation", "consumerNode", "selection", "purpose", "validFrom", "state", "createdBy", "createdAt"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %s in %s", c.name, k, b)
			}
		}
		if c.data && (m["resolution"] != "raw" || m["embargo"] != "0s" || m["retention"] != "0s") {
			t.Errorf("%s: %s", c.name, b)
		}
		// what is written parses back (less what the node sets) as the agreement it was
		for _, k := range []string{"id", "state", "createdBy", "createdAt"} {
			delete(m, k)
		}
		in, _ := json.Marshal(m)
		back, err := federation.ParseAgreement(in)
		if err != nil || back.Resolution != a.Resolution || back.Selection.Data() != c.data || back.Embargo != a.Embargo || back.Retention != a.Retention {
			t.Errorf("%s: %s parsed back: %+v %v", c.name, in, back, err)
		}
	}
}

// TestServiceRefusesItself: with the node's id and key set, a partner that is the node itself
// (its id, or its key) is refused, an agreement to it is refused, and one proposed before
// (when the service did not know its node) cannot be approved.
func TestServiceRefusesItself(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.SeedDatastreams(t, db, "pdma", 1, 2)
	own := testNKey()
	svc := &federation.Service{Store: sqlq.NewFederation(db), Audit: recorder(func(string, string) {})}
	// as a node did before: itself as a partner, and an agreement to itself, proposed
	if err := svc.AddPartner(context.Background(), &federation.Partner{Node: "karachi", NKey: own}); err != nil {
		t.Fatal(err)
	}
	a, _ := federation.ParseAgreement([]byte(good))
	if err := svc.Create(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	svc.Node, svc.NodeKey = "karachi", func() (string, error) { return own, nil }
	if _, err := svc.Approve(context.Background(), a.ID); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), `consumerNode: "karachi" is this node itself`) {
		t.Errorf("approving an agreement to the node itself: %v, want Invalid naming it", err)
	}
	b, _ := federation.ParseAgreement([]byte(good))
	if err := svc.Create(context.Background(), b); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "is this node itself") {
		t.Errorf("an agreement to the node itself: %v, want Invalid naming it", err)
	}
	if err := svc.AddPartner(context.Background(), &federation.Partner{Node: "karachi", NKey: testNKey()}); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "is this node itself") {
		t.Errorf("the node's own id as a partner: %v, want Invalid", err)
	}
	if err := svc.AddPartner(context.Background(), &federation.Partner{Node: "lahore", NKey: own}); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "own public key") {
		t.Errorf("the node's own key as a partner: %v, want Invalid", err)
	}
	if err := svc.AddPartner(context.Background(), &federation.Partner{Node: "lahore", NKey: testNKey()}); err != nil {
		t.Errorf("another node as a partner: %v", err)
	}
}

// A URL with user info is refused with its own reason, and the error never repeats it (it may
// hold a password): partners log in with their nkey.
func TestCheckURLRefusesUserInfo(t *testing.T) {
	for _, u := range []string{"nats://user:s3cret@127.0.0.1:4222", "tls://user:s3cret@hub.example.org:4222", "nats://s3cret@10.0.0.5:4222",
		"user:s3cret@127.0.0.1:4222", "ftp://user:s3cret@host/x"} {
		err := federation.CheckURL(u)
		if err == nil || !strings.Contains(err.Error(), "partners log in with their nkey: leave user and password out of the URL") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckURL(%q) = %v, want refused for its user info, without repeating it", u, err)
		}
	}
	if err := federation.CheckURL("tls://hub.example.org:4222/a@b"); err == nil || strings.Contains(err.Error(), "user and password") { // an @ past the host is no user info
		t.Errorf("an @ in the path: %v, want refused for its path, not as user info", err)
	}
}
