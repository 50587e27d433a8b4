package i18n

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Lang is one language Rabta writes messages in. Its methods format numbers, dates, durations
// and terms; they are safe for concurrent use.
type Lang struct {
	Tag     string // BCP 47 tag as written in CAP <language>: "ur", "en", "zh", "sd", "ps", "pnb"
	Name    string // the language's name in itself (CLDR), e.g. "اردو"
	English string // its English name
	RTL     bool   // written right to left
	// Fallback lists the tags whose names and terms stand in when this language has none,
	// before English: Urdu for Sindhi, Pashto and Punjabi.
	Fallback []string

	cldr    language.Tag     // the CLDR locale for numbers
	printer *message.Printer // formats numbers with cldr
	t       *table
}

// Dir is the HTML dir attribute for the language: "rtl" or "ltr".
func (l *Lang) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

var langs = map[string]*Lang{}

// order is the order Langs returns.
var order = []string{"ur", "en", "zh", "sd", "ps", "pnb"}

func init() {
	def := []struct {
		tag, name, english, cldr string
		rtl                      bool
		fallback                 []string
		t                        *table
	}{
		{"ur", "اردو", "Urdu", "ur", true, nil, &urdu},
		{"en", "English", "English", "en", false, nil, &english},
		{"zh", "中文", "Chinese", "zh", false, nil, &chinese},
		{"sd", "سنڌي", "Sindhi", "sd", true, []string{"ur"}, &sindhi},
		{"ps", "پښتو", "Pashto", "ps", true, []string{"ur"}, &pashto},
		{"pnb", "پنجابی", "Punjabi (Shahmukhi)", "pa-Arab", true, []string{"ur"}, &punjabi},
	}
	for _, d := range def {
		tag := language.MustParse(d.cldr)
		langs[d.tag] = &Lang{Tag: d.tag, Name: d.name, English: d.english, RTL: d.rtl, Fallback: d.fallback,
			cldr: tag, printer: message.NewPrinter(tag), t: d.t}
	}
}

// Langs returns the built-in languages' tags: ur, en, zh, sd, ps, pnb.
func Langs() []string { return append([]string(nil), order...) }

// Lookup returns the built-in language for a BCP 47 tag, matched case-insensitively on the
// exact tag and then on its base language ("ur-PK" → ur, "pa-Arab" → pnb, "zh-Hans-CN" → zh).
// It returns false for a language not built in.
func Lookup(tag string) (*Lang, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	if l, ok := langs[t]; ok {
		return l, true
	}
	base, rest, _ := strings.Cut(t, "-")
	if base == "pa" && strings.HasPrefix(rest, "arab") || base == "lah" {
		return langs["pnb"], true
	}
	if base == "zh" && strings.Contains(rest, "hant") {
		return nil, false // traditional script: not written here
	}
	l, ok := langs[base]
	return l, ok
}

// For returns the built-in language for tag, or English when there is none, so that a message
// is always written.
func For(tag string) *Lang {
	if l, ok := Lookup(tag); ok {
		return l
	}
	return langs["en"]
}

// chain is the lookup order for l's names and terms, without English.
func (l *Lang) chain() []string { return append([]string{l.Tag}, l.Fallback...) }

// Choose picks which of the available CAP <info> languages to send to a person who prefers
// preferred: the exact tag (case-insensitive), then an info with the same base language
// (ur ↔ ur-PK), then the preferred language's fallback chain (Urdu for Sindhi, Pashto and
// Punjabi), then Urdu and English — English first for a reader of a left-to-right language
// Rabta knows (Chinese) — then the first. It returns the index into available, or
// -1 when available is empty. An empty available tag counts as en-US, CAP's default.
func Choose(preferred string, available []string) int {
	if len(available) == 0 {
		return -1
	}
	norm := func(s string) string {
		if s == "" {
			return "en-us"
		}
		return strings.ToLower(strings.TrimSpace(s))
	}
	base := func(s string) string { b, _, _ := strings.Cut(norm(s), "-"); return b }
	find := func(match func(string) bool) int {
		for i, a := range available {
			if match(a) {
				return i
			}
		}
		return -1
	}
	p := norm(preferred)
	if i := find(func(a string) bool { return norm(a) == p }); i >= 0 {
		return i
	}
	if i := find(func(a string) bool { return base(a) == base(p) }); i >= 0 {
		return i
	}
	var want []string
	l, known := Lookup(preferred)
	if known {
		want = append(want, l.chain()...)
	}
	// a reader of a Perso-Arabic-script language (or of a language Rabta does not know:
	// in Pakistan most are written in it) reads Urdu before English; a reader of a
	// left-to-right language Rabta knows (Chinese) reads English before Urdu
	if known && !l.RTL {
		want = append(want, "en", "ur")
	} else {
		want = append(want, "ur", "en")
	}
	for _, w := range want {
		if i := find(func(a string) bool {
			l, ok := Lookup(norm(a))
			return ok && l.Tag == w || base(a) == w
		}); i >= 0 {
			return i
		}
	}
	return 0
}
