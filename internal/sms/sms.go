// Package sms works out how a text travels as SMS: which data coding it needs and how many
// segments it takes, before anything is sent (3GPP TS 23.038 for the alphabets, TS 23.040
// §9.2.3.24.1 for concatenation).
//
// A text whose every character is in the GSM 03.38 default alphabet or its extension table
// goes as GSM 7-bit: 160 septets in one message, 153 per part when concatenated (the 6-octet
// user data header takes 7 septets); extension characters (€ [ ] { } \ ^ ~ | and form feed)
// take two septets each, and a part never splits an escape pair. Any other text goes as UCS-2:
// 70 UTF-16 code units in one message, 67 per part; a character outside the Basic
// Multilingual Plane takes two units and a part never splits the pair.
package sms

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/linxGnu/gosmpp/data"
)

// Coding is an SMS data coding scheme, with the SMPP 3.4 data_coding value as its number
// (§5.2.19): 0 is the SMSC default alphabet (GSM 03.38 here), 8 is UCS-2.
type Coding uint8

// Codings.
const (
	GSM7 Coding = 0
	UCS2 Coding = 8
)

func (c Coding) String() string {
	if c == UCS2 {
		return "UCS-2"
	}
	return "GSM-7"
}

// Single-message and per-part capacities, in septets (GSM-7) or UTF-16 units (UCS-2).
const (
	GSM7Single = 160
	GSM7Part   = 153
	UCS2Single = 70
	UCS2Part   = 67
	// MaxParts is the most parts a concatenated SMS may have (the header's count is one octet).
	MaxParts = 255
)

// Plan is how a text is sent.
type Plan struct {
	Coding Coding
	// Units is the text's length in septets (GSM-7, escapes counted twice) or UTF-16 code
	// units (UCS-2).
	Units int
	// Parts is the number of SMS the text takes: 1 when it fits one, else the concatenated
	// parts. An empty text is one (empty) SMS.
	Parts int
}

// Analyze returns how text is sent. Invalid UTF-8 is treated as U+FFFD (so UCS-2).
func Analyze(text string) Plan {
	if len(data.ValidateGSM7String(text)) == 0 && utf8.ValidString(text) {
		p := Plan{Coding: GSM7}
		for _, r := range text {
			p.Units += septets(r)
		}
		p.Parts = parts(text, p.Units, GSM7Single, GSM7Part, septets)
		return p
	}
	p := Plan{Coding: UCS2}
	for _, r := range text {
		p.Units += units(r)
	}
	p.Parts = parts(text, p.Units, UCS2Single, UCS2Part, units)
	return p
}

// Split cuts text into the parts Analyze counts, never inside a character's septets or
// code units. It returns one element for a text that fits one message.
func Split(text string) []string {
	p := Analyze(text)
	size, single := units, UCS2Single
	per := UCS2Part
	if p.Coding == GSM7 {
		size, single, per = septets, GSM7Single, GSM7Part
	}
	if p.Units <= single {
		return []string{text}
	}
	var out []string
	start, n := 0, 0
	for i, r := range text {
		w := size(r)
		if n+w > per {
			out = append(out, text[start:i])
			start, n = i, 0
		}
		n += w
	}
	return append(out, text[start:])
}

func parts(text string, total, single, per int, size func(rune) int) int {
	if total <= single {
		return 1
	}
	n, used := 1, 0
	for _, r := range text {
		w := size(r)
		if used+w > per {
			n++
			used = 0
		}
		used += w
	}
	return n
}

func septets(r rune) int {
	if data.IsEscapeChar(r) {
		return 2
	}
	return 1
}

func units(r rune) int {
	if utf16.RuneLen(r) == 2 {
		return 2
	}
	return 1
}
