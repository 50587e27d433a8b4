package twoway

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Candidate is a name a place or gauge may be called by.
type Candidate struct {
	Key   string // what a match returns (a place key, a gauge's datastream id …)
	Names []string
	Rank  int // lower wins a tie (districts before towns before villages)
}

// Matcher finds the candidate a person meant by a name typed on a phone.
//
// A query matches, in this order of preference:
//  1. a name exactly, after Fold and with spaces, dots and hyphens removed ("lahore",
//     "LAHORE", "Dera Ghazi Khan" = "deraghazikhan", "لاہور");
//  2. a name's consonant skeleton, for a query of three or more Latin letters that is all
//     consonants: the name's first letter and its consonants but a, e, i, o, u and y ("LHR"
//     and "lhr" are Lahore's, "KRCH" Karachi's, "MLTN" Multan's);
//  3. a name within edit distance 1 of a query of 4 or 5 letters, or 2 of a longer one
//     (Levenshtein over runes, Urdu script too: "Lahor", "Lahoor", "Karachee", "Peshawer",
//     "لاھور").
//
// Among equally good matches the lowest Rank, then the first given, wins. Queries shorter
// than three letters match only exactly.
type Matcher struct {
	cands []Candidate
	exact map[string]int
	skel  map[string]int
	names [][]string // folded names per candidate
}

// NewMatcher indexes cands.
func NewMatcher(cands []Candidate) *Matcher {
	m := &Matcher{cands: cands, exact: map[string]int{}, skel: map[string]int{}, names: make([][]string, len(cands))}
	better := func(idx map[string]int, k string, i int) {
		if j, ok := idx[k]; !ok || cands[i].Rank < cands[j].Rank {
			idx[k] = i
		}
	}
	for i, c := range cands {
		for _, n := range c.Names {
			f := squash(n)
			if f == "" {
				continue
			}
			m.names[i] = append(m.names[i], f)
			better(m.exact, f, i)
			if s := skeleton(f); len(s) >= 3 {
				better(m.skel, s, i)
			}
		}
	}
	return m
}

// Match returns the candidate query names and how far it was from the name matched (0:
// exactly or by its skeleton), or false.
func (m *Matcher) Match(query string) (Candidate, int, bool) {
	q := squash(query)
	n := len([]rune(q))
	if n == 0 {
		return Candidate{}, 0, false
	}
	if i, ok := m.exact[q]; ok {
		return m.cands[i], 0, true
	}
	if n < 3 {
		return Candidate{}, 0, false
	}
	if latinConsonants(q) {
		if i, ok := m.skel[q]; ok {
			return m.cands[i], 0, true
		}
	}
	if n < 4 {
		return Candidate{}, 0, false
	}
	limit := 1
	if n >= 6 {
		limit = 2
	}
	best, bestD := -1, limit+1
	for i, names := range m.names {
		for _, f := range names {
			if d := len([]rune(f)) - n; d > limit || -d > limit {
				continue
			}
			d := levenshtein.ComputeDistance(q, f)
			if d < bestD || d == bestD && best >= 0 && m.cands[i].Rank < m.cands[best].Rank {
				best, bestD = i, d
			}
		}
	}
	if best < 0 {
		return Candidate{}, 0, false
	}
	return m.cands[best], bestD, true
}

// squash is Fold without spaces, dots, hyphens and apostrophes.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '\'', '’', '\t':
			return -1
		}
		return r
	}, Fold(s))
}

func skeleton(folded string) string {
	if folded == "" || !isLatin(folded) {
		return ""
	}
	var b strings.Builder
	for i, c := range folded {
		if i == 0 || !strings.ContainsRune("AEIOUY", c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func isLatin(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func latinConsonants(s string) bool {
	return isLatin(s) && !strings.ContainsAny(s, "AEIOU")
}
