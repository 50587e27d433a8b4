package rule

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseYAML checks that no input crashes the parser, that an error is always a non-empty
// ErrorList, and that whatever it accepts an engine accepts too.
func FuzzParseYAML(f *testing.F) {
	if b, err := os.ReadFile("../../examples/rules-full.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"rules: []",
		"rules:\n  - {id: a, kind: silence, maxGap: 1h, datastreams: [1]}\n",
		"rules:\n  - id: x\n    kind: threshold\n    datastreams: [1]\n    hysteresis: 5%\n    area: {desc: x}\n    levels: [{name: L, value: 1, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}]\n",
		"a: &a [1]\nrules: *a\n",
		"rules:\n  - &r {id: a}\n  - *r\n",
		"rules: [{levels: [{value: .nan}]}]",
		"rules:\n  - id: a\n    name: \"unterminated\n",
		"advisories:\n  - {id: h, type: heat, place: Lahore, temperature: 1, humidity: 2, area: {desc: x}}\n",
		"advisories:\n  - {id: a, type: air, standard: hj633, place: Beijing, pm25: 3}\n  - {id: r, type: rainBeforeHarvest, crop: wheat, place: Okara, rain: 4}\n",
		"advisories:\n  - {id: f, type: frost, crop: rice, place: x, temperature: 1}\n  - {id: g, type: heatAtFlowering, crop: maize, temperature: 1}\n",
		"advisories: [{id: h, type: heat, place: x, temperature: 1, humidity: 1}]\nrules: [{id: h-public, kind: silence, maxGap: 1h, datastreams: [1]}]\n",
		"advisories: {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := ParseYAML("fuzz.yaml", b)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty ErrorList", err, err)
			}
			if rules != nil {
				t.Fatal("rules returned with an error")
			}
			return
		}
		if _, err := New(rules); err != nil {
			t.Fatalf("ParseYAML accepted rules that New rejects: %v", err)
		}
	})
}
