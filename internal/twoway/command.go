package twoway

import (
	"strings"
	"unicode"

	"github.com/agnivade/levenshtein"
	"golang.org/x/text/unicode/norm"
)

// Verb is what an incoming SMS asks for.
type Verb string

// Verbs. Unknown is any text that is not one of the others: it is answered with HELP.
const (
	Join    Verb = "JOIN"
	Stop    Verb = "STOP"
	Lang    Verb = "LANG"
	Level   Verb = "LEVEL"
	Help    Verb = "HELP"
	Unknown Verb = "UNKNOWN"
)

// Words are the command words, by verb, in English, Roman Urdu and Urdu script (compared
// after Fold: upper case, Arabic-script letter forms unified). The first of each script is
// the one replies name. Roman Urdu and Urdu-script words set the reply language to Urdu.
var Words = map[Verb][]Word{
	Join: {{"JOIN", "en"}, {"SUBSCRIBE", "en"}, {"START", "en"}, {"SHAMIL", "ur"}, {"SHAMEL", "ur"}, {"SHAAMIL", "ur"}, {"شامل", "ur"}},
	Stop: {{"STOP", "en"}, {"UNSUBSCRIBE", "en"}, {"BAND", "ur"}, {"BUND", "ur"}, {"بند", "ur"}, {"روکیں", "ur"},
		{"停止", "zh"}, {"退订", "zh"}},
	Lang: {{"LANG", "en"}, {"LANGUAGE", "en"}, {"ZABAN", "ur"}, {"ZUBAN", "ur"}, {"ZABAAN", "ur"}, {"زبان", "ur"}},
	Level: {{"LEVEL", "en"}, {"WATER", "en"}, {"SATAH", "ur"}, {"SATHA", "ur"}, {"SATHAA", "ur"}, {"SATA", "ur"},
		{"سطح", "ur"}},
	Help: {{"HELP", "en"}, {"INFO", "en"}, {"?", "en"}, {"MADAD", "ur"}, {"MADAT", "ur"}, {"مدد", "ur"}},
}

// Word is one command word and the language a reply to it is written in.
type Word struct {
	Text     string
	Language string // BCP 47: "en", "ur" (Roman Urdu too) or "zh" (replies in English)
}

// Command is an incoming SMS read as a command.
type Command struct {
	Verb Verb
	// Arg is what follows the command word (a place, a gauge, a language), spaces
	// collapsed and punctuation removed, in its original case; "" when none.
	Arg string
	// Language is the language of the command word ("en", "ur" or "zh"); "" for Unknown.
	Language string
	// Fuzzy is set when the command word was matched with one typing error.
	Fuzzy bool
}

// MaxText is the most runes Parse reads of a message; the rest is ignored.
const MaxText = 480

// Parse reads an incoming SMS as a command: the first word is the command word (case,
// spacing, punctuation, Arabic-script letter variants and diacritics do not matter; a word
// of four or more letters may carry one typing error: "JION", "STPO" do not — that is two —
// but "JOIM", "LEVL" do), the rest its argument. A text that starts with none of Words is
// Unknown. Parse never fails.
func Parse(text string) Command {
	words := Tokens(text)
	if len(words) == 0 {
		return Command{Verb: Unknown}
	}
	first := Fold(words[0])
	arg := strings.Join(words[1:], " ")
	best, bestWord, fuzzy := Unknown, Word{}, false
	for _, v := range []Verb{Join, Stop, Lang, Level, Help} {
		for _, w := range Words[v] {
			if first == Fold(w.Text) {
				return Command{Verb: v, Arg: arg, Language: w.Language}
			}
		}
	}
	if n := len([]rune(first)); n >= 4 {
		for _, v := range []Verb{Join, Stop, Lang, Level, Help} {
			for _, w := range Words[v] {
				if len([]rune(w.Text)) >= 4 && levenshtein.ComputeDistance(first, Fold(w.Text)) == 1 && best == Unknown {
					best, bestWord, fuzzy = v, w, true
				}
			}
		}
	}
	if best == Unknown {
		return Command{Verb: Unknown, Arg: strings.Join(words, " ")}
	}
	return Command{Verb: best, Arg: arg, Language: bestWord.Language, Fuzzy: fuzzy}
}

// Tokens splits text into words: at most MaxText runes are read, letters are kept with
// their marks, digits and '.' and '-' inside a word are kept, every other character (Latin
// and Arabic punctuation, symbols, controls) separates words — except that a text of
// nothing but "?" is the word "?".
func Tokens(text string) []string {
	r := []rune(text)
	if len(r) > MaxText {
		r = r[:MaxText]
	}
	if strings.TrimSpace(string(r)) == "?" {
		return []string{"?"}
	}
	var out []string
	var cur []rune
	flush := func() {
		w := strings.Trim(string(cur), ".-")
		if w != "" {
			out = append(out, w)
		}
		cur = cur[:0]
	}
	for _, c := range r {
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.Is(unicode.Mn, c) || c == '.' || c == '-':
			cur = append(cur, c)
		default:
			flush()
		}
	}
	flush()
	return out
}

// Fold puts a word in the form command words and names are compared in: Unicode NFKC,
// upper case, Arabic-script diacritics and tatweel removed, and the Arabic letter forms
// people type on phones mapped to the Urdu ones (ي ى → ی, ك → ک, ه ھ → ہ, ۃ → ہ, أ إ آ → ا).
func Fold(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	for _, c := range s {
		switch {
		case unicode.Is(unicode.Mn, c) || c == 'ـ':
			continue
		case c == 'ي' || c == 'ى':
			c = 'ی'
		case c == 'ك':
			c = 'ک'
		case c == 'ه' || c == 'ھ' || c == 'ۃ':
			c = 'ہ'
		case c == 'أ' || c == 'إ' || c == 'آ':
			c = 'ا'
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}
