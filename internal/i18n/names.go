package i18n

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Names translates names and other free texts that are not templates — station, river and
// place names, a rule's area description and audience — from their English form. The zero
// value and nil are empty and usable; a filled Names is safe for concurrent reads.
type Names struct {
	m map[string]map[string]string // English → tag → text
}

// Add records text as the name of english in the language tag (a built-in tag). Empty texts
// are ignored.
func (n *Names) Add(english, tag, text string) {
	english, text = strings.TrimSpace(english), strings.TrimSpace(text)
	if english == "" || text == "" {
		return
	}
	if n.m == nil {
		n.m = map[string]map[string]string{}
	}
	if n.m[english] == nil {
		n.m[english] = map[string]string{}
	}
	n.m[english][tag] = text
}

// Name returns english in the language of tag: the language's own form, else along its
// fallback chain (the Urdu-script form for Sindhi, Pashto and Punjabi), else english itself
// with false. English asks for nothing and gets english, true.
func (n *Names) Name(tag, english string) (string, bool) {
	l := For(tag)
	if l.Tag == "en" {
		return english, true
	}
	if n != nil {
		if forms, ok := n.m[strings.TrimSpace(english)]; ok {
			for _, t := range l.chain() {
				if s, ok := forms[t]; ok {
					return s, true
				}
			}
		}
	}
	return english, false
}

// Len is the number of English names known.
func (n *Names) Len() int {
	if n == nil {
		return 0
	}
	return len(n.m)
}

// ReadNames reads a names table in CSV (RFC 4180, UTF-8, a header row): a column name_en
// with the English form, and for each language a column name_<tag> (tag one of Langs) with a
// column source_<tag> beside it saying where the name was found. An empty name cell is no
// name (the fallback applies); a name without a source is an error, so that no name enters
// without one. Other columns are ignored. Errors name the line and column.
func ReadNames(r io.Reader) (*Names, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("names: empty file, want a header row with name_en")
		}
		return nil, fmt.Errorf("names: header: %w", err)
	}
	en, names, sources := -1, map[string]int{}, map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case h == "name_en":
			en = i
		case strings.HasPrefix(h, "name_"):
			tag := strings.TrimPrefix(h, "name_")
			if _, ok := langs[tag]; !ok {
				return nil, fmt.Errorf("names: line 1 column %d: %q: unknown language %q (want one of %s)", i+1, h, tag, strings.Join(order, ", "))
			}
			names[tag] = i
		case strings.HasPrefix(h, "source_"):
			sources[strings.TrimPrefix(h, "source_")] = i
		}
	}
	if en < 0 {
		return nil, errors.New("names: line 1: no name_en column")
	}
	for tag := range names {
		if _, ok := sources[tag]; !ok {
			return nil, fmt.Errorf("names: line 1: name_%s has no source_%s column", tag, tag)
		}
	}
	n := &Names{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return nil, fmt.Errorf("names: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return nil, fmt.Errorf("names: line %d column %d: not UTF-8", line, i+1)
			}
		}
		english := strings.TrimSpace(rec[en])
		if english == "" {
			return nil, fmt.Errorf("names: line %d column %d: name_en is empty", line, en+1)
		}
		for tag, i := range names {
			text := strings.TrimSpace(rec[i])
			if text == "" {
				continue
			}
			if strings.TrimSpace(rec[sources[tag]]) == "" {
				return nil, fmt.Errorf("names: line %d column %d: name_%s %q has no source", line, sources[tag]+1, tag, text)
			}
			n.Add(english, tag, text)
		}
	}
}

// Merge adds other's names to n; where both name the same text in the same language, n's
// own form stays.
func (n *Names) Merge(other *Names) {
	if other == nil {
		return
	}
	for english, forms := range other.m {
		for tag, text := range forms {
			if _, ok := n.Name(tag, english); ok && n.m[english][tag] != "" {
				continue
			}
			n.Add(english, tag, text)
		}
	}
}
