package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example village list and subscriber list load with the commands the README gives; a
// bad list is refused row by row with line, column and reason; the node then reaches the
// imported village and subscribers (impact preview of an area around the example villages).
func TestImportVillagesAndSubscribers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, errOut, err := rabta(t, "import", "villages", "--data-dir", dir, "--quiet", "../../examples/villages.csv")
	if err != nil || !strings.Contains(out, "4 villages imported, 0 rows refused") {
		t.Fatalf("import villages: %v\n%s%s", err, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("name,lat,lon,population,languages,connectivity\nA,30.1,71.2,100,ur,fibre\nB,95,71.2,100,ur,fibre\nC,30.1,71.2,-5,ur,fibre\nD,30.1,71.2,5,ur,wifi\n"), 0o644)
	out, _, err = rabta(t, "import", "villages", "--data-dir", dir, "--quiet", bad)
	for _, want := range []string{"line 3, column lat", "line 4, column population", "line 5, column connectivity", "1 villages imported, 3 rows refused"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("bad village list: %v, output lacks %q:\n%s", err, want, out)
		}
	}
	if _, errOut, err := rabta(t, "keys", "create", "--data-dir", dir, "--org", "pdma-punjab", "--role", "admin"); err != nil { // an organisation comes into being with its first key
		t.Fatalf("keys create: %v %s", err, errOut)
	}
	out, errOut, err = rabta(t, "import", "subscribers", "--data-dir", dir, "--org", "pdma-punjab", "--quiet", "../../examples/subscribers.csv")
	if err != nil || !strings.Contains(out, "4 subscribers imported, 0 rows refused") {
		t.Fatalf("import subscribers: %v\n%s%s", err, out, errOut)
	}
	if strings.Contains(errOut, "subscribers_imported") && !strings.Contains(errOut, `"msg":"subscribers_imported"`) {
		t.Errorf("import subscribers logs in another format than the node's (JSON): %s", errOut)
	}
	// importing the same list again adds nobody twice
	out, _, err = rabta(t, "import", "subscribers", "--data-dir", dir, "--org", "pdma-punjab", "--quiet", "../../examples/subscribers.csv")
	if err == nil || !strings.Contains(out, "line 2: already subscribed") || !strings.Contains(out, "0 subscribers imported, 4 rows refused") {
		t.Errorf("the same list again: %v\n%s", err, out)
	}
	badSubs := filepath.Join(t.TempDir(), "bad-subscribers.csv")
	os.WriteFile(badSubs, []byte("name,language,place,phone,email\nA,ur,district:Multan,12,\nB,ur,,+923001234567,\nC,xx-not-a-tag!,district:Multan,,c@example.org\nE,ur,district:Nowhere,+923009998877,\n"), 0o644)
	out, _, err = rabta(t, "import", "subscribers", "--data-dir", dir, "--org", "pdma-punjab", "--quiet", badSubs)
	for _, want := range []string{"line 2, column phone", "line 3, column place: place: give a place key", "line 4, column language: language:", "line 5, column place: place: \"district:Nowhere\" is not a known place", "0 subscribers imported, 4 rows refused"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("bad subscriber list: %v, output lacks %q:\n%s", err, want, out)
		}
	}
	p := start(t, dir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	dup := `{"name":"Again","language":"ur","place":"district:Multan","contacts":[{"channel":"sms","address":"+923001112233"}],"consent":{"source":"t"}}`
	if st, b := p.req("POST", "/api/v1/subscribers", adminKey, dup); st != 201 {
		t.Fatalf("a subscriber: %d %s", st, b)
	}
	if st, b := p.req("POST", "/api/v1/subscribers", adminKey, dup); st != 409 || !strings.Contains(b, "already subscribed") {
		t.Errorf("the same subscriber again: %d %s", st, b)
	}
	st, b := p.req("GET", "/api/v1/subscribers", adminKey, "")
	if st != 200 || strings.Count(b, `"name"`) != 5 || strings.Contains(b, "1112233") || strings.Contains(b, "clinic@") || strings.Contains(b, "change-me") {
		t.Fatalf("subscribers (contacts redacted): %d %s", st, b)
	}
	// an area around the example village on the Chenab: it, the farmer who gave a point
	// near it, and the clinic that named the district (Muzaffargarh) are reached
	st, b = p.req("POST", "/api/v1/impact", adminKey, `{"desc":"test","circles":[{"center":{"lat":30.07,"lon":71.18},"radiusKm":3}]}`)
	if st != 200 || !strings.Contains(b, `"sms-only": 1`) || !strings.Contains(b, `"subscribers": 2`) {
		t.Errorf("impact: %d %s", st, b)
	}
	st, b = p.req("POST", "/api/v1/impact", adminKey, `{"desc":"bow tie","polygons":[[{"lat":30,"lon":71},{"lat":31,"lon":72},{"lat":30,"lon":72},{"lat":31,"lon":71},{"lat":30,"lon":71}]]}`)
	if st != 400 || !strings.Contains(b, "polygon") {
		t.Errorf("a self-intersecting polygon: %d %s", st, b)
	}
	p.stop()
}

// An area over the documented limits is a 400 naming the limit, at once.
func TestImpactLimits(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), []string{"RABTA_ADMIN_KEY=" + adminKey})
	circle := `{"center":{"lat":30,"lon":71},"radiusKm":10}`
	many := `{"desc":"x","circles":[` + strings.TrimSuffix(strings.Repeat(circle+",", 101), ",") + `]}`
	if st, b := p.req("POST", "/api/v1/impact", adminKey, many); st != 400 || !strings.Contains(b, "limit of 100") {
		t.Errorf("101 circles: %d %s", st, b)
	}
	if st, b := p.req("POST", "/api/v1/impact", adminKey, `{"desc":"x","circles":[{"center":{"lat":30,"lon":71},"radiusKm":1e308}]}`); st != 400 || !strings.Contains(b, "limit of 2000 km") {
		t.Errorf("a huge radius: %d %s", st, b)
	}
	// degenerate areas: the one area check (cap.CheckPolygon, cap.CheckCircle) names each
	for _, tc := range []struct{ body, want string }{
		{`{"desc":"bow tie","polygons":[[{"lat":30,"lon":71},{"lat":31,"lon":72},{"lat":30,"lon":72},{"lat":31,"lon":71},{"lat":30,"lon":71}]]}`, "polygon 1 of the area: crosses itself at 30.5,71.5"},
		{`{"desc":"a point","polygons":[[{"lat":30,"lon":71},{"lat":30,"lon":71},{"lat":30,"lon":71},{"lat":30,"lon":71}]]}`, "polygon 1 of the area: has only 1 distinct point(s)"},
		{`{"desc":"radius 0","circles":[{"center":{"lat":30,"lon":71},"radiusKm":0}]}`, "circle 1 of the area (30,71 0): radius 0 km"},
		{`{"desc":"negative","circles":[{"center":{"lat":30,"lon":71},"radiusKm":-3}]}`, "radius -3 km"},
		{`{"desc":"open","polygons":[[{"lat":30,"lon":71},{"lat":31,"lon":72},{"lat":30,"lon":72},{"lat":31,"lon":73}]]}`, "is not closed"},
	} {
		if st, b := p.req("POST", "/api/v1/impact", adminKey, tc.body); st != 400 || !strings.Contains(b, tc.want) {
			t.Errorf("impact of %s: %d %s, want 400 with %q", tc.body, st, b, tc.want)
		}
	}
	p.stop()
}

// A command naming an organisation to act for (rules apply --org, rules list --org, import
// subscribers --org) refuses one the node does not know, naming it, and changes nothing: no
// rules, no subscribers, and the typo does not become a known organisation. Where there is no
// node, only the node's own organisation could be known: the command says there is no node
// and makes none.
func TestUnknownOrganisationRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"rules", "apply", "--org", "pdma", rules},
		{"import", "subscribers", "--quiet", "--org", "pdma", "../../examples/subscribers.csv"},
	} {
		if _, _, err := inProcess(t, append(args, "--data-dir", dir)...); err == nil || !strings.Contains(err.Error(), "no node in data directory "+dir) {
			t.Errorf("rabta %s where there is no node: %v; want it refused, naming the directory", strings.Join(args, " "), err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("rabta %s made the data directory (%v)", strings.Join(args, " "), err)
		}
	}
	if _, _, err := inProcess(t, "keys", "create", "--org", "ndma", "--role", "admin", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	want := `organisation "pdma" is not known on this node`
	for _, args := range [][]string{
		{"rules", "apply", "--org", "pdma", rules},
		{"rules", "list", "--org", "pdma"},
		{"import", "subscribers", "--quiet", "--org", "pdma", "../../examples/subscribers.csv"},
	} {
		out, _, err := inProcess(t, append(args, "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rabta %s: %v %s; want %q", strings.Join(args, " "), err, out, want)
		}
	}
	// nothing changed: pdma is still unknown (orgs open says so), no subscribers were sealed
	if _, _, err := inProcess(t, "orgs", "open", "pdma", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("orgs open pdma after the refusals: %v; want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "contacts.key")); !os.IsNotExist(err) {
		t.Errorf("a refused import made the contacts key (%v)", err)
	}
	// an organisation the node knows (ndma has a key; admin is the node's own) is served
	for _, org := range []string{"ndma", "admin"} {
		if out, _, err := inProcess(t, "rules", "apply", "--org", org, rules, "--data-dir", dir); err != nil || !strings.Contains(out, "organisation "+org) {
			t.Errorf("rules apply --org %s: %v %s", org, err, out)
		}
	}
	if out, _, err := inProcess(t, "import", "subscribers", "--quiet", "--org", "ndma", "../../examples/subscribers.csv", "--data-dir", dir); err != nil || !strings.Contains(out, "4 subscribers imported") {
		t.Errorf("import subscribers --org ndma: %v %s", err, out)
	}
}
