package rule

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseYAMLExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/rules-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseYAML("rules-full.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 5 {
		t.Fatalf("got %d rules, want 5", len(rules))
	}
	k := rules[0]
	if k.ID != "chenab-khanki-flood" || k.Kind != Threshold || len(k.Levels) != 5 || k.Levels[4].Value != 600000 ||
		k.Levels[4].Severity != Extreme || k.Hysteresis != (Margin{Value: 5, Percent: true}) || k.Aggregate != Any ||
		k.Area.Circles[0].Center != (LatLon{32.40, 73.97}) || k.Templates["ur"].Headline == "" || k.Status != Actual {
		t.Errorf("rule 0 = %+v", k)
	}
	f := rules[1]
	if !f.Forecast || f.Horizon != 48*time.Hour || f.Hysteresis != (Margin{Value: 10000}) {
		t.Errorf("rule 1 = %+v", f)
	}
	a := rules[2]
	if a.Aggregate != Count || a.Count != 2 || a.Window != 24*time.Hour || !a.IgnoreSuspect || a.Status != Exercise || len(a.Area.Polygons[0]) != 5 {
		t.Errorf("rule 2 = %+v", a)
	}
	if r := rules[3]; r.Hold != time.Hour || r.ClearHold != 3*time.Hour {
		t.Errorf("rule 3 = %+v", r)
	}
	if s := rules[4]; s.Kind != Silence || !s.Operational || s.MaxGap != 36*time.Hour {
		t.Errorf("rule 4 = %+v", s)
	}
	if _, err := New(rules); err != nil {
		t.Errorf("New: %v", err)
	}
}

// TestParseYAMLErrors checks that each error names the file, line, column and field path.
func TestParseYAMLErrors(t *testing.T) {
	const lv = `
      - {name: Low, value: 250000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}`
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "level out of order",
			yaml: `rules:
  - id: tarbela
    kind: threshold
    datastreams: [1]
    area: {desc: Indus at Tarbela}
    levels:` + lv + `
  - id: kalabagh
    kind: threshold
    datastreams: [2]
    area: {desc: Indus at Kalabagh}
    levels:` + lv + `
      - name: Medium
        value: 375000
        severity: Moderate
        urgency: Expected
        certainty: Observed
        event: Flood
      - {name: High, value: 300000, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
`,
			want: []string{"rules.yaml:20:29: rules[1].levels[2].value: must be greater than the previous level (375000)"},
		},
		{
			name: "missing and unknown fields",
			yaml: `rules:
  - name: no id
    kind: treshold
    datastreams: [1, 1, -3]
    hystersis: 5%
    hold: 10 minutes
    area: {desc: x}
    levels:` + lv + `
`,
			want: []string{
				`rules.yaml:5:5: rules[0].hystersis: unknown field (did you mean "hysteresis"?)`,
				`rules.yaml:6:11: rules[0].hold: must be a duration like "30m" or "6h", not "10 minutes"`,
			},
		},
		{
			name: "validation after decoding",
			yaml: `rules:
  - name: no id
    kind: treshold
    datastreams: [1, 1, -3]
    hysteresis: 120%
    area: {desc: x}
    levels:` + lv + `
`,
			want: []string{
				`rules.yaml:2:5: rules[0].id: is required`,
				`rules.yaml:3:11: rules[0].kind: must be threshold, rateOfRise, accumulation, silence or heatIndex, not "treshold"`,
				`rules.yaml:4:22: rules[0].datastreams[1]: repeats datastreams[0] (1)`,
				`rules.yaml:4:25: rules[0].datastreams[2]: must be a positive datastream id, not -3`,
				`rules.yaml:5:17: rules[0].hysteresis: must be less than 100%, not 120%`,
			},
		},
		{
			name: "wrong types",
			yaml: `rules:
  - id: x
    kind: threshold
    datastreams: 7
    autoIssue: yes please
    area: {desc: x, circles: [{center: [95, 10], radiusKm: 1}]}
    levels:
      - {name: Low, value: "high", severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
`,
			want: []string{
				`rules.yaml:4:18: rules[0].datastreams: must be a list, not "7"`,
				`rules.yaml:5:16: rules[0].autoIssue: must be true or false, not "yes please"`,
				`rules.yaml:8:28: rules[0].levels[0].value: must be a number, not "high"`,
			},
		},
		{
			name: "area checked once decoded",
			yaml: `rules:
  - id: x
    kind: threshold
    datastreams: [7]
    area: {desc: x, circles: [{center: [95, 10], radiusKm: 1}], polygons: [[[1, 1], [1, 2], [2, 2]]]}
    levels:` + lv + `
`,
			want: []string{
				`rules.yaml:5:40: rules[0].area.circles[0].center: centre (95,10): latitude out of range; the pair looks like lon,lat but CAP is lat,lon`,
				`rules.yaml:5:76: rules[0].area.polygons[0]: has 3 points; a CAP polygon needs at least 4 (a triangle plus the closing point)`,
			},
		},
		{
			name: "degenerate areas: bow tie, four identical points, open ring, radius 0, negative radius",
			yaml: `rules:
  - id: x
    kind: threshold
    datastreams: [7]
    area:
      desc: x
      polygons:
        - [[31, 74], [32, 75], [31, 75], [32, 74], [31, 74]]
        - [[31, 74], [31, 74], [31, 74], [31, 74]]
        - [[31, 74], [31, 75], [32, 75], [32, 74]]
      circles: [{center: [31, 74], radiusKm: 0}, {center: [31, 74], radiusKm: -2}]
    levels:` + lv + `
`,
			want: []string{
				`rules.yaml:8:11: rules[0].area.polygons[0]: crosses itself at 31.5,74.5 (edges 0 and 2)`,
				`rules.yaml:9:11: rules[0].area.polygons[1]: has only 1 distinct point(s): it encloses no area`,
				`rules.yaml:10:11: rules[0].area.polygons[2]: is not closed: the first point 31,74 differs from the last 32,74`,
				`rules.yaml:11:46: rules[0].area.circles[0].radiusKm: radius 0 km: it must be greater than 0 (a circle of radius 0 reaches nobody)`,
				`rules.yaml:11:79: rules[0].area.circles[1].radiusKm: radius -2 km: it must be a finite number, not negative`,
			},
		},
		{
			name: "duplicate ids",
			yaml: `rules:
  - {id: a, kind: silence, maxGap: 1h, datastreams: [1]}
  - {id: a, kind: silence, maxGap: 1h, datastreams: [2]}
`,
			want: []string{`rules.yaml:3:10: rules[1].id: repeats rules[0].id ("a")`},
		},
		{
			name: "yaml syntax",
			yaml: "rules:\n  - id: a\n    name: \"unterminated\n",
			want: []string{`rules.yaml:3: yaml: found unexpected end of stream`},
		},
		{
			name: "not a rules file",
			yaml: "- a\n- b\n",
			want: []string{`rules.yaml:1:1: expected a mapping with a "rules" list, not a list`},
		},
		{
			name: "unknown top-level field",
			yaml: "rule:\n  - id: a\n",
			want: []string{`rules.yaml:1:1: rule: unknown field (the file has two fields, "rules" and "advisories")`, `rules.yaml:1:1: rules: is required`},
		},
		{
			name: "empty",
			yaml: "",
			want: []string{`rules.yaml: file is empty; expected a mapping with a "rules" list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseYAML("rules.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; rules %+v", rules)
			}
			if rules != nil {
				t.Errorf("rules returned with an error: %+v", rules)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList", err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseYAMLAliasBomb(t *testing.T) {
	// Each level list is an alias of the previous, nine deep: decoding it naively would build
	// 10^9 levels.
	var b strings.Builder
	b.WriteString("a0: &a0 [{name: x, value: 1}]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("rules:\n  - {id: x, kind: threshold, datastreams: [1], levels: *a9}\n")
	start := time.Now()
	_, err := ParseYAML("bomb.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseYAMLTooLarge(t *testing.T) {
	_, err := ParseYAML("big.yaml", make([]byte, MaxYAMLSize+1))
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("err = %v", err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	r := Rule{ID: "x", Kind: Threshold, Datastreams: []int64{1}, Area: Area{Desc: "x"}, AutoIssue: true,
		Levels: []Level{{Name: "Low", Value: 1, Severity: Minor, Urgency: Expected, Certainty: Observed, Event: "Flood"}}}
	want := "area: autoIssue needs a polygon, circle or geocode to target\n" +
		"templates: autoIssue needs at least one template: nobody reviews the text"
	if err := r.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

func TestParseMargin(t *testing.T) {
	for in, want := range map[string]Margin{"5%": {5, true}, " 2.5 % ": {2.5, true}, "10000": {10000, false}, "0": {}} {
		got, err := ParseMargin(in)
		if err != nil || got != want {
			t.Errorf("ParseMargin(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseMargin(got.String()); back != got {
			t.Errorf("%v does not round-trip", got)
		}
	}
	for _, in := range []string{"", "%", "five", "NaN", "Inf%"} {
		if _, err := ParseMargin(in); err == nil {
			t.Errorf("ParseMargin(%q) accepted", in)
		}
	}
}
