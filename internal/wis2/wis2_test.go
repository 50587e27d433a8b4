package wis2_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/wis2"
	"github.com/rabta/rabta/internal/wis2/wis2test"
)

var opts = wis2.Options{Centre: "pk-rabta-islamabad", Node: "islamabad", BaseURL: "https://rabta.example.org"}

var t0 = time.Date(2025, 8, 27, 6, 0, 0, 0, time.UTC)

func datasets() []wis2.Dataset {
	return []wis2.Dataset{
		{Organisation: "pmd", Property: 1, PropertyName: "Water level", PropertyDefinition: "http://vocabs.example/level", Open: true, Opened: t0,
			Start: t0, End: t0.Add(time.Hour), Streams: []wis2.Stream{
				{ID: 1, Name: "Level at Tarbela", Station: "Tarbela", Lon: 72.7, Lat: 34.1, HasPoint: true, Unit: "m"},
				{ID: 2, Name: "Level at Attock", Station: "Attock", Lon: 72.2, Lat: 33.9, HasPoint: true, Unit: "m"}}},
		{Organisation: "ndma", Property: 2, PropertyName: "Air temperature", Start: t0, End: t0,
			Streams: []wis2.Stream{{ID: 3, Name: "Temperature", Station: "Lahore", Lon: 74.3, Lat: 31.5, HasPoint: true}}},
		{Organisation: "city", Property: 3, PropertyName: "Rainfall", Streams: []wis2.Stream{{ID: 4, Name: "Rain", Station: "Roof"}}}, // no data yet, no position
	}
}

// The catalogue's records validate against WCMP2 2.1's schema (formats asserted): open data
// as core with the notification topic, closed data as recommended with rights; and the
// validator refuses a record missing what WCMP2 requires.
func TestCatalogueValidates(t *testing.T) {
	c := opts.Catalogue(datasets(), t0)
	if c.NumberMatched != 3 || len(c.Features) != 3 {
		t.Fatalf("catalogue: %d records", len(c.Features))
	}
	for _, f := range c.Features {
		b, _ := json.Marshal(f)
		if err := wis2test.Record(t, b); err != nil {
			t.Errorf("record %s does not validate: %v\n%s", f.ID, err, b)
		}
	}
	open, closed := c.Features[0], c.Features[1]
	if open.ID != "urn:wmo:md:pk-rabta-islamabad:rabta.pmd.1" || open.Properties["wmo:dataPolicy"] != "core" || closed.Properties["wmo:dataPolicy"] != "recommended" {
		t.Errorf("ids and policies: %s %v %v", open.ID, open.Properties["wmo:dataPolicy"], closed.Properties["wmo:dataPolicy"])
	}
	var topic string
	for _, l := range open.Links {
		if l.Rel == "items" {
			topic = l.Channel
		}
	}
	if topic != "origin/a/wis2/pk-rabta-islamabad/data/core/hydrology/surface-based-observations/water-quantity/stream" || !wis2test.Topic(t, topic) {
		t.Errorf("open dataset's topic %q", topic)
	}
	if g, _ := json.Marshal(open.Geometry); !strings.Contains(string(g), "Polygon") {
		t.Errorf("two stations: geometry %s, want their bounding polygon", g)
	}
	// the validator is not a rubber stamp
	b, _ := json.Marshal(open)
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m["properties"].(map[string]any), "contacts")
	b, _ = json.Marshal(m)
	if wis2test.Record(t, b) == nil {
		t.Error("a record without contacts validated")
	}
}

// Notifications validate against the WNM schema, for a batch at one time and over a span; the
// integrity value is the SHA-512 of the content; the topic follows the hierarchy.
func TestNotificationValidates(t *testing.T) {
	content := wis2.Content(wis2.Data{Datastream: 1, Name: "Level", Station: "Tarbela", Unit: "m", From: 5, To: 7,
		Observations: []wis2.Obs{{ID: 5, PhenomenonTime: "2025-08-27T06:00:00Z", Result: json.RawMessage("3.25")}}})
	for _, b := range []wis2.Batch{
		{Datastream: 1, First: 5, Last: 5, Start: t0, End: t0, Content: content, Station: datasets()[0].Streams[0]},
		{Datastream: 1, First: 5, Last: 7, Start: t0, End: t0.Add(2 * time.Hour), Content: content},
	} {
		n := opts.Notification("pmd", 1, b, t0.Add(time.Minute))
		doc, _ := json.Marshal(n)
		if err := wis2test.Notification(t, doc); err != nil {
			t.Errorf("notification does not validate: %v\n%s", err, doc)
		}
		sum := sha512.Sum512(content)
		if got := n.Properties["integrity"].(map[string]any)["value"]; got != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("integrity %v", got)
		}
		if n.Links[0].Rel != "canonical" || n.Links[0].Href != "https://rabta.example.org"+wis2.DataPath(1, b.First, b.Last) {
			t.Errorf("link %+v", n.Links[0])
		}
	}
	for _, topic := range []string{opts.Topic(wis2.Core, wis2.Discipline("Air temperature", "")), opts.Topic(wis2.Core, wis2.Discipline("Discharge", ""))} {
		if !wis2test.Topic(t, topic) {
			t.Errorf("topic %s is not in the hierarchy", topic)
		}
	}
	if wis2test.Topic(t, "origin/a/wis2/pk-x/data/core/hydrology/made-up") {
		t.Error("a made-up topic passed")
	}
	doc, _ := json.Marshal(map[string]any{"id": "not-a-uuid", "conformsTo": []string{wis2.WNM}, "type": "Feature", "geometry": nil,
		"properties": map[string]any{"pubtime": "yesterday", "data_id": "x", "datetime": "2025-08-27T06:00:00Z"}, "links": []any{map[string]any{"href": "https://x", "rel": "canonical"}}})
	if wis2test.Notification(t, doc) == nil {
		t.Error("a notification with a bad id and pubtime validated")
	}
}

// WMO's own examples validate with the same validator (it reads the schemas as WMO means them).
func TestExamplesValidate(t *testing.T) {
	for _, c := range []struct {
		glob  string
		check func(testing.TB, []byte) error
	}{{"wcmp2/examples/*.json", wis2test.Record}, {"notification-message/examples/example1.json", wis2test.Notification}} {
		files, _ := filepath.Glob(filepath.Join(wis2test.Dir(), c.glob))
		if len(files) == 0 {
			t.Fatalf("no files %s", c.glob)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.check(t, b); err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
		}
	}
}

func TestCheckCentre(t *testing.T) {
	for c, ok := range map[string]bool{"pk-pmd": true, "cn-cma-global-cache": true, "xx-rabta-local": true, "PK-PMD": false, "pmd": false, "pk-": false, "pk pmd": false} {
		if (wis2.CheckCentre(c) == nil) != ok {
			t.Errorf("CheckCentre(%q): want ok=%v", c, ok)
		}
	}
}
