package rule_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/rule"
)

var latlon = regexp.MustCompile(`\{"lat":([-0-9.e+]+),"lon":([-0-9.e+]+)\}`)

// A rule's View reads as written: durations as Go durations without zero units, the margin as
// written, zero values left out; and the View's JSON is a rules file entry that ParseYAML
// reads back to the same Rule (points written [lat, lon]), for every rule of the example files.
func TestView(t *testing.T) {
	rs, err := rule.ParseYAML("inline", []byte(`rules:
  - id: rise
    kind: rateOfRise
    datastreams: [1]
    window: 90m
    hold: 1h30m
    clearHold: 6h
    hysteresis: 5%
    area: {desc: Lahore}
    levels: [{name: High, value: 1, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}]
  - id: quiet
    kind: silence
    maxGap: 45s
    datastreams: [2]
`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal([]rule.View{rs[0].View(), rs[1].View()})
	for _, want := range []string{`"window":"1h30m"`, `"hold":"1h30m"`, `"clearHold":"6h"`, `"hysteresis":"5%"`, `"maxGap":"45s"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("views lack %s: %s", want, got)
		}
	}
	for _, stored := range []string{`5400000000000`, `"horizon"`, `"polygons"`, `"name":""`} {
		if strings.Contains(string(got), stored) {
			t.Errorf("views hold %s, the stored form or a zero value: %s", stored, got)
		}
	}

	files, _ := filepath.Glob("../../examples/rules*.yaml")
	if len(files) == 0 {
		t.Fatal("no example rules files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rule.ParseYAML(f, b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var views []rule.View
		for _, r := range want {
			views = append(views, r.View())
		}
		js, _ := json.Marshal(map[string]any{"rules": views})
		// points are {"lat", "lon"} in the view, [lat, lon] in a file
		js = latlon.ReplaceAll(js, []byte("[$1,$2]"))
		back, err := rule.ParseYAML(f+" as viewed", js)
		if err != nil {
			t.Fatalf("%s: the views do not parse as a rules file: %v\n%s", f, err, js)
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("%s: read back from the views:\n%+v\nwant\n%+v", f, back, want)
		}
	}
}
