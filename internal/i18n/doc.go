// Package i18n writes warnings wholly in the reader's language: flood classes, events, units,
// numbers, dates and times in a given zone, durations, station and place names, and the
// per-channel forms of an issued CAP message (SMS short form, e-mail long form, webhook JSON).
// It is pure: no I/O, no clock; every time and zone is a parameter.
//
// # Languages
//
// Six languages are built in (Langs): Urdu (ur), English (en), Chinese (zh, simplified script),
// Sindhi (sd, Arabic script), Pashto (ps) and Punjabi in Shahmukhi (pnb). Urdu, Sindhi, Pashto
// and Punjabi are written right to left (Lang.RTL; HTML gets dir="rtl").
//
// # Numbers
//
// Numbers are formatted by golang.org/x/text/number from CLDR data, with each language's CLDR
// default numbering system, not from digit tables written here:
//
//	ur   CLDR "ur"       latn     1,001,480  (Pakistani print and SMS use Western digits; CLDR's default for ur agrees)
//	en   CLDR "en"       latn     1,001,480
//	zh   CLDR "zh"       latn     1,001,480
//	sd   CLDR "sd"       arab     ١٬٠٠١٬٤٨٠  (CLDR's default for Sindhi: Arabic-Indic digits)
//	ps   CLDR "ps"       arabext  ۱٬۰۰۱٬۴۸۰  (CLDR's default for Pashto: Extended Arabic-Indic)
//	pnb  CLDR "pa-Arab"  arabext  ۱٬۰۰۱٬۴۸۰  (x/text has no "pnb"; CLDR files Shahmukhi Punjabi as pa_Arab)
//
// Dates and times use the same digits; month names, zone names and the "in 6 hours" forms are
// CLDR 48's (read from ICU 78.2), except Punjabi's, which CLDR lacks and which we wrote
// (they need a native speaker's review, as do all Sindhi, Pashto and Punjabi phrases here).
//
// # Names and fallbacks
//
// Names (station, river and place names, and other free texts of a rule such as its area
// description) are looked up by their English form. A name is looked up in the language itself,
// then along the language's fallback chain — Sindhi, Pashto and Punjabi fall back to the
// Urdu-script name, because the three are written in Perso-Arabic script and their readers read
// Urdu — and finally the English form is used as it is. Chinese has no fallback other than English.
// Terms (classes, events, units) follow the same chain.
//
// # Choosing a language
//
// Choose picks the <info> for a subscriber: the exact tag, then the same base language
// (ur-PK ↔ ur), then the subscriber's language's fallback chain, then Urdu, then English, then
// the first info.
package i18n
