package twoway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sms"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		text string
		verb Verb
		arg  string
		lang string
	}{
		{"JOIN Lahore", Join, "Lahore", "en"},
		{"  join   lahore!! ", Join, "lahore", "en"},
		{"Join, Dera Ghazi Khan.", Join, "Dera Ghazi Khan", "en"},
		{"shamil lahore", Join, "lahore", "ur"},
		{"شامل لاہور", Join, "لاہور", "ur"},
		{"شامِل لاہور۔", Join, "لاہور", "ur"}, // a diacritic on the command word, Urdu full stop
		{"STOP", Stop, "", "en"},
		{"stop.", Stop, "", "en"},
		{"Band", Stop, "", "ur"},
		{"بند", Stop, "", "ur"},
		{"退订", Stop, "", "zh"}, // Chinese, as dissemination's STOP always took
		{"LEVEL Ravi", Level, "Ravi", "en"},
		{"satah shahdara", Level, "shahdara", "ur"},
		{"سطح لاہور", Level, "لاہور", "ur"},
		{"LANG urdu", Lang, "urdu", "en"},
		{"zaban english", Lang, "english", "ur"},
		{"زبان اردو", Lang, "اردو", "ur"},
		{"HELP", Help, "", "en"},
		{"?", Help, "", "en"},
		{"madad", Help, "", "ur"},
		{"مدد", Help, "", "ur"},
		{"JOIM lahore", Join, "lahore", "en"}, // one typing error in a word of four letters
		{"LEVL ravi", Level, "ravi", "en"},
		{"JION lahore", Unknown, "JION lahore", ""}, // a transposition is two
		{"hello", Unknown, "hello", ""},
		{"", Unknown, "", ""},
		{"!!!", Unknown, "", ""},
		{"JO lahore", Unknown, "JO lahore", ""}, // short words match only exactly
	} {
		c := Parse(tc.text)
		if c.Verb != tc.verb || c.Arg != tc.arg || c.Language != tc.lang {
			t.Errorf("Parse(%q) = %+v, want %s %q %s", tc.text, c, tc.verb, tc.arg, tc.lang)
		}
	}
}

// FuzzParseCommand: Parse never panics, gives one of the verbs, an argument that is valid
// UTF-8 with no runs of spaces and no more than MaxText runes, and the same answer again.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"JOIN Lahore", "شامل لاہور", "stop", "?", "LEVEL  ravi ,at, shahdara", "زبان اردو", "\xff\xfe", "a\u0301", "ـــ", strings.Repeat("x ", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c := Parse(text)
		switch c.Verb {
		case Join, Stop, Lang, Level, Help, Unknown:
		default:
			t.Fatalf("verb %q", c.Verb)
		}
		if !utf8.ValidString(c.Arg) || strings.Contains(c.Arg, "  ") || utf8.RuneCountInString(c.Arg) > MaxText {
			t.Fatalf("arg %q", c.Arg)
		}
		if c2 := Parse(text); c2 != c {
			t.Fatalf("not deterministic: %+v then %+v", c, c2)
		}
		if c.Verb != Unknown && c.Language != "en" && c.Language != "ur" && c.Language != "zh" {
			t.Fatalf("language %q", c.Language)
		}
	})
}

func testPlaces() []place.Place {
	return []place.Place{
		{Key: "district:Lahore", Kind: place.District, Name: "Lahore", Country: "PK", Lat: 31.5, Lon: 74.3},
		{Key: "geonames:1172451", Kind: place.Town, Name: "Lahore", Country: "PK", Lat: 31.55, Lon: 74.34},
		{Key: "district:Karachi South", Kind: place.District, Name: "Karachi South", Country: "PK", Lat: 24.85, Lon: 67.0},
		{Key: "geonames:1174872", Kind: place.Town, Name: "Karachi", Country: "PK", Lat: 24.86, Lon: 67.01},
		{Key: "district:Dera Ghazi Khan", Kind: place.District, Name: "Dera Ghazi Khan", Country: "PK", Lat: 30.05, Lon: 70.63},
		{Key: "district:Multan", Kind: place.District, Name: "Multan", Country: "PK", Lat: 30.2, Lon: 71.47},
		{Key: "district:Peshawar", Kind: place.District, Name: "Peshawar", Country: "PK", Lat: 34.0, Lon: 71.5},
		{Key: "village:PTA-1", Kind: place.Village, Name: "Basti Malana", NameUr: "بستی ملانہ", Country: "PK", Lat: 30.07, Lon: 71.19},
		{Key: "geonames:1816670", Kind: place.Town, Name: "Beijing", Country: "CN"},
	}
}

func TestMatchPlaces(t *testing.T) {
	s := &Service{Places: func(context.Context) ([]place.Place, error) { return testPlaces(), nil }}
	for _, tc := range []struct{ q, key string }{
		{"Lahore", "district:Lahore"}, // the district before the town of the same name
		{"lahore", "district:Lahore"},
		{"LAHORE", "district:Lahore"},
		{"Lahor", "district:Lahore"},
		{"lahoor", "district:Lahore"},
		{"LHR", "district:Lahore"},
		{"لاہور", "district:Lahore"},
		{"لاھور", "district:Lahore"}, // do-chashmi he for he
		{"Karachi", "geonames:1174872"},
		{"karachee", "geonames:1174872"},
		{"dera ghazi khan", "district:Dera Ghazi Khan"},
		{"DeraGhaziKhan", "district:Dera Ghazi Khan"},
		{"dera gazi kan", "district:Dera Ghazi Khan"},
		{"Peshawer", "district:Peshawar"},
		{"MLTN", "district:Multan"},
		{"بستی ملانہ", "village:PTA-1"},
		{"basti malana", "village:PTA-1"},
		{"Beijing", ""}, // only Pakistan's places
		{"La", ""},
		{"Xyzzy", ""},
		{"Lhasa", ""},
	} {
		p, ok, err := s.findPlace(t.Context(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tc.key != "") || ok && p.Key != tc.key {
			t.Errorf("%q matched %q (%v), want %q", tc.q, p.Key, ok, tc.key)
		}
	}
}

func TestLanguageOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ur", "ur"}, {"Urdu", "ur"}, {"URDU", "ur"}, {"اردو", "ur"}, {"en", "en"}, {"english", "en"}, {"angrezi", "en"},
		{"انگریزی", "en"}, {"sindhi", "sd"}, {"sd", "sd"}, {"سنڌي", "sd"}, {"klingon", ""}, {"zh", ""}, {"", ""},
	} {
		got, ok := LanguageOf(tc.in, []string{"sd"})
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("LanguageOf(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestClassAndTrend(t *testing.T) {
	at := time.Date(2025, 8, 27, 6, 0, 0, 0, time.UTC)
	pts := func(vs ...float64) []sensing.Point { // newest first
		var out []sensing.Point
		for i, v := range vs {
			out = append(out, sensing.Point{T: at.Add(-time.Duration(i) * time.Hour), V: v})
		}
		return out
	}
	levels := []rule.Level{{Name: "Very High", Value: 2000}, {Name: "High", Value: 1000}}
	for _, tc := range []struct {
		recent       []sensing.Point
		dir          rule.Direction
		class, trend string
	}{
		{pts(2500, 800), rule.Above, "Very High", "rising"},
		{pts(1000), rule.Above, "High", ""},
		{pts(999, 999.5), rule.Above, "", "steady"},
		{pts(500, 600, 700, 800, 900), rule.Above, "", "falling"},
		{pts(500), rule.Below, "High", ""}, // low-flow rules: reached at or below the value, the lowest is the most extreme
	} {
		g := Gauge{Recent: tc.recent, Levels: levels, Direction: tc.dir}
		if c, tr := Class(g), Trend(tc.recent); c != tc.class || tr != tc.trend {
			t.Errorf("%v %s: class %q trend %q, want %q %q", tc.recent, tc.dir, c, tr, tc.class, tc.trend)
		}
	}
}

// Every reply fits one SMS segment: GSM-7 160 characters for English, UCS-2 70 for Urdu,
// with the longest names of the gazetteer's places and a long gauge name.
// TestRepliesFitOneSegment: every reply in every language i18n carries is one SMS segment
// (160 GSM-7 characters in English, 70 UCS-2 characters in the others), with the longest
// names, and is written in that language (not English) where replies exist.
func TestRepliesFitOneSegment(t *testing.T) {
	long := place.Place{Name: "Shaheed Benazirabad (Nawabshah) District", NameUr: "شہید بینظیر آباد (نوابشاہ) ضلع"}
	for _, l := range i18n.Langs() {
		if !slices.Contains(ReplyLanguages, l) {
			t.Errorf("the node speaks %s but replies are not written in it", l)
		}
	}
	for _, lang := range ReplyLanguages {
		tx := textsFor(lang)
		texts := map[string]string{"help": helpText(lang), "too many": tx.TooMany, "stop": tx.Stop, "join usage": tx.JoinUsage,
			"join not found": fit(tx.NotFound+tx.JoinUsage, tx.JoinUsage), "lang usage": fit(fmt.Sprintf(tx.LangUsage, "urdu, english, chinese, sindhi, pashto, western panjabi"), tx.LangShort),
			"lang set": tx.LangSet, "level usage": tx.LevelUsage, "no readings": tx.NoReadings, "no gauge": fit(tx.NoGauge+tx.LevelUsage, tx.LevelUsage)}
		for _, p := range []place.Place{long, {Name: "Lahore", NameUr: "لاہور"}} {
			name := p.Name
			if lang == "ur" {
				name = p.NameUr
			}
			texts["joined "+p.Name] = joinText(lang, name)
		}
		for _, name := range []string{"Indus at Kotri Barrage (downstream, left bank)", "Ravi at Shahdara"} {
			g := Gauge{Name: name, Unit: "cusec", Levels: []rule.Level{{Name: "Exceptionally High", Value: 1}},
				Recent: []sensing.Point{{T: time.Now(), V: 875123.25}, {T: time.Now().Add(-time.Hour), V: 800000}}}
			texts["level "+name] = LevelText(g, lang)
		}
		for what, text := range texts {
			p := sms.Analyze(text)
			if p.Parts != 1 {
				t.Errorf("%s %s: %q takes %d segments (%s, %d units)", lang, what, text, p.Parts, p.Coding, p.Units)
			}
			if lang != "en" && p.Coding == sms.GSM7 && !strings.Contains(what, "level") {
				t.Errorf("%s %s: %q is not in the language's script", lang, what, text)
			}
		}
		if lang != "en" {
			for _, f := range []string{tx.Stop, tx.Help, tx.LangSet, tx.TooMany} {
				if f == replies["en"].Stop || f == replies["en"].Help || f == replies["en"].LangSet {
					t.Errorf("%s: an English text among its replies: %q", lang, f)
				}
			}
		}
	}
	// the level reply in Chinese says rising in Chinese; the Urdu one in Urdu
	g := Gauge{Name: "Ravi at Shahdara", Unit: "cusec", Levels: []rule.Level{{Name: "High", Value: 1}},
		Recent: []sensing.Point{{T: time.Date(2026, 8, 27, 6, 0, 0, 0, time.UTC), V: 2500}, {T: time.Date(2026, 8, 27, 5, 0, 0, 0, time.UTC), V: 2000}}}
	for lang, want := range map[string]string{"en": "Ravi at Shahdara: 2500 cusec at 06:00Z 27 Aug, High flood, rising.",
		"zh": "Ravi at Shahdara: 2500 cusec (06:00Z 27 Aug)，High级洪水，上涨", "ur": "Ravi at Shahdara: 2500 cusec (06:00Z 27 Aug)، High سیلاب، بڑھ رہا ہے"} {
		if got := LevelText(g, lang); got != want {
			t.Errorf("LevelText %s = %q, want %q", lang, got, want)
		}
	}
}
