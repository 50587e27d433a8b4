package dissemination

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/rule"
)

// Audiences a subscriber may belong to. An Actual alert for the public reaches every
// subscriber in its area; an operational (Restricted) one only responders; Exercise and Test
// alerts only the "exercise" audience — the people taking part in drills — never the public.
// A sector advisory (rule.Rule.Audiences: hospitals, clinics, schools, farmers …) reaches only
// the subscribers in its audiences (docs/advisories.md). The list is rule.Audiences (a rule
// naming an audience not in it is refused); at most rule.MaxAudiences.
var Audiences = rule.Audiences

// unknownAudience is an audience bit no subscriber has: a message naming only audiences
// this node does not know (from a partner node) reaches no one.
const unknownAudience audSet = 1 << 31

func init() {
	if len(Audiences) >= 32 || rule.MaxAudiences > 31 {
		panic("dissemination: more audiences than audSet has bits")
	}
}

// Limits on a subscriber record, enforced by Validate (and so by the API and the CSV import).
const (
	MaxNameLen     = 200  // characters
	MaxContacts    = 5    // per subscriber
	MaxURLLen      = 2048 // bytes, a webhook URL
	MinSecretLen   = 16   // bytes, a webhook's signing secret
	MaxRadiusKM    = 500.0
	MaxSourceLen   = 200  // characters, consent source
	DefaultRegion  = "PK" // phone numbers written without +country are read as Pakistani
	maxAddressLen  = 254  // RFC 5321 path limit for an e-mail address
	maxImportLines = 2_000_000
)

// Subscriber is a person or organisation who asked to be warned.
type Subscriber struct {
	ID   int64
	Org  string // the organisation that holds the record (auth.Principal.Org)
	Kind string // "person" or "organisation"
	Name string
	// Language is the preferred language (BCP 47: "ur", "en", "zh", "sd", "ps", "pnb" …).
	Language  string
	Audiences []string // from Audiences; "public" when empty
	// Place is the key of a place of interest (package place, e.g. "district:Lahore"), or
	// empty when the subscriber gave a point: Lat, Lon (WGS84 degrees) and RadiusKM.
	Place    string
	Lat, Lon *float64
	RadiusKM float64
	// Contacts in preference order: the first that the place's connectivity allows is used,
	// the next ones are fallbacks.
	Contacts []Contact
	Consent  Consent
	Created  time.Time

	line int // the CSV line it was read from (ReadCSV)
}

// Contact is one way to reach a subscriber.
type Contact struct {
	ID      int64
	Channel channel.Kind
	// Address is an E.164 phone number, an e-mail address or an https URL.
	Address string
	// Secret signs webhook deliveries (HMAC-SHA256); webhooks only.
	Secret string
}

// Consent records when and how the subscriber agreed to be contacted.
type Consent struct {
	At     time.Time
	Source string // e.g. "web form", "SMS JOIN", "CSV import by district office"
}

// LogValue keeps personal data out of logs: the id, organisation, language and redacted
// contacts only.
func (s Subscriber) LogValue() slog.Value {
	redacted := make([]string, len(s.Contacts))
	for i, c := range s.Contacts {
		redacted[i] = string(c.Channel) + ":" + channel.Redact(c.Address)
	}
	return slog.GroupValue(slog.Int64("id", s.ID), slog.String("org", s.Org), slog.String("language", s.Language),
		slog.String("contacts", strings.Join(redacted, ",")))
}

// LogValue shows a contact redacted.
func (c Contact) LogValue() slog.Value {
	return slog.StringValue(string(c.Channel) + ":" + channel.Redact(c.Address))
}

// Normalize validates s and puts its values in canonical form (E.164 phone numbers, lower-case
// e-mail domain, canonical language tag). Errors are apperr.Invalid and name the field.
func Normalize(s *Subscriber) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	s.Name = strings.TrimSpace(s.Name)
	switch n := utf8.RuneCountInString(s.Name); {
	case !utf8.ValidString(s.Name):
		bad("name: not valid UTF-8")
	case n == 0:
		bad("name: required")
	case n > MaxNameLen:
		bad("name: %d characters, more than the limit of %d", n, MaxNameLen)
	}
	if s.Kind == "" {
		s.Kind = "person"
	}
	if s.Kind != "person" && s.Kind != "organisation" {
		bad("kind: %q is neither person nor organisation", s.Kind)
	}
	if tag, err := language.Parse(s.Language); err != nil || s.Language == "" {
		bad("language: %q is not a BCP 47 language tag", s.Language)
	} else {
		s.Language = tag.String()
	}
	if len(s.Audiences) == 0 {
		s.Audiences = []string{"public"}
	}
	for i, a := range s.Audiences {
		a = strings.ToLower(strings.TrimSpace(a))
		s.Audiences[i] = a
		if !slices.Contains(Audiences, a) {
			bad("audiences[%d]: %q is not one of %s", i, a, strings.Join(Audiences, ", "))
		}
	}
	slices.Sort(s.Audiences)
	s.Audiences = slices.Compact(s.Audiences)
	s.Place = strings.TrimSpace(s.Place)
	switch {
	case s.Lat != nil || s.Lon != nil:
		if s.Lat == nil || s.Lon == nil {
			bad("lat, lon: give both or neither")
			break
		}
		if !(*s.Lat >= -90 && *s.Lat <= 90) {
			bad("lat: %v is outside -90…90", *s.Lat)
		}
		if !(*s.Lon >= -180 && *s.Lon <= 180) {
			bad("lon: %v is outside -180…180", *s.Lon)
		}
		if !(s.RadiusKM >= 0 && s.RadiusKM <= MaxRadiusKM) || math.IsNaN(s.RadiusKM) {
			bad("radiusKm: %v is outside 0…%v", s.RadiusKM, MaxRadiusKM)
		}
	case s.Place == "":
		bad("place: give a place key or a point (lat, lon, radiusKm)")
	}
	if s.Place != "" && (len(s.Place) > 200 || !utf8.ValidString(s.Place)) {
		bad("place: not a place key")
	}
	switch {
	case len(s.Contacts) == 0:
		bad("contacts: at least one is required")
	case len(s.Contacts) > MaxContacts:
		bad("contacts: %d, more than the limit of %d", len(s.Contacts), MaxContacts)
	}
	for i := range s.Contacts {
		if err := normalizeContact(&s.Contacts[i]); err != nil {
			bad("contacts[%d]: %v", i, err)
		}
	}
	s.Consent.Source = strings.TrimSpace(s.Consent.Source)
	if s.Consent.Source == "" {
		bad("consent.source: required (how the subscriber agreed)")
	} else if utf8.RuneCountInString(s.Consent.Source) > MaxSourceLen || !utf8.ValidString(s.Consent.Source) {
		bad("consent.source: longer than %d characters or not UTF-8", MaxSourceLen)
	}
	if len(errs) > 0 {
		return apperr.E(apperr.Invalid, "subscriber: %s", strings.Join(errs, "; "))
	}
	return nil
}

func normalizeContact(c *Contact) error {
	c.Address = strings.TrimSpace(c.Address)
	if c.Address == "" {
		return errors.New("address: required")
	}
	switch c.Channel {
	case channel.SMS, channel.Voice: // a voice contact is a phone number that gets calls
		e164, err := PhoneNumber(c.Address)
		if err != nil {
			return err
		}
		c.Address = e164
	case channel.Email:
		if len(c.Address) > maxAddressLen {
			return fmt.Errorf("address: longer than %d bytes", maxAddressLen)
		}
		a, err := mail.ParseAddress(c.Address)
		if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
			return errors.New("address: not an e-mail address")
		}
		at := strings.LastIndex(a.Address, "@")
		c.Address = a.Address[:at] + strings.ToLower(a.Address[at:])
	case channel.Webhook:
		if len(c.Address) > MaxURLLen {
			return fmt.Errorf("address: longer than %d bytes", MaxURLLen)
		}
		u, err := url.Parse(c.Address)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
			return errors.New("address: not an https URL without credentials")
		}
		if u.Scheme == "http" && !loopback(u.Hostname()) {
			return errors.New("address: webhooks use https (http only to a loopback host)")
		}
		if len(c.Secret) < MinSecretLen {
			return fmt.Errorf("secret: a webhook needs a signing secret of at least %d bytes", MinSecretLen)
		}
	default:
		return fmt.Errorf("channel: %q is not one of sms, email, webhook, voice", c.Channel)
	}
	if c.Channel != channel.Webhook && c.Secret != "" {
		return errors.New("secret: only webhooks have one")
	}
	return nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// PhoneNumber parses a phone number (international form, or national in DefaultRegion) and
// returns it in E.164 form ("+923001234567"). It refuses numbers that libphonenumber's
// metadata says cannot exist.
func PhoneNumber(s string) (string, error) {
	if len(s) > 40 {
		return "", errors.New("phone number: longer than 40 characters")
	}
	n, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil {
		return "", fmt.Errorf("phone number: %v", err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", errors.New("phone number: not a valid number for its country")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// RowError is one refused row of a CSV import.
type RowError struct {
	Line   int    // 1-based line in the file (the header is line 1)
	Column string // the column at fault, or "" for the row as a whole
	Reason string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Reason)
}

// CSVColumns are the columns ReadCSV knows; name, language, phone or email or webhook, and
// place or lat+lon are needed. Order is free; the header names them.
var CSVColumns = []string{"name", "kind", "language", "audiences", "place", "lat", "lon", "radius_km",
	"phone", "email", "webhook", "webhook_secret", "consent_source", "consent_at"}

// ReadCSV reads subscribers from CSV (UTF-8, header row, columns from CSVColumns; audiences
// separated by ';'; consent_at RFC 3339, default now; contacts in the order phone, email,
// webhook). Each valid row calls add; each invalid row is a RowError and the import goes on.
// progress, when not nil, is called every 1,000 rows with the rows read. A file over
// 2,000,000 lines stops with an error naming the limit.
func ReadCSV(r io.Reader, org string, now time.Time, add func(Subscriber) error, progress func(rows int)) ([]RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "line 1: cannot read the header")
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(CSVColumns, h) {
			return nil, apperr.E(apperr.Invalid, "line 1, column %d: unknown column %q (known: %s)", i+1, h, strings.Join(CSVColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, apperr.E(apperr.Invalid, "line 1: column %q given twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{"name", "language"} {
		if _, ok := col[need]; !ok {
			return nil, apperr.E(apperr.Invalid, "line 1: the column %q is required", need)
		}
	}
	var rowErrs []RowError
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		rows++
		if progress != nil && rows%1000 == 0 {
			progress(rows)
		}
		if line > maxImportLines {
			return rowErrs, apperr.E(apperr.Invalid, "line %d: more than the limit of %d lines per import", line, maxImportLines)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rowErrs = append(rowErrs, RowError{Line: pe.Line, Reason: pe.Err.Error()})
				continue
			}
			return rowErrs, err
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		s := Subscriber{line: line, Org: org, Name: get("name"), Kind: get("kind"), Language: get("language"), Place: get("place"),
			Consent: Consent{At: now, Source: get("consent_source")}}
		if a := get("audiences"); a != "" {
			s.Audiences = strings.Split(a, ";")
		}
		fail := func(column, format string, args ...any) {
			rowErrs = append(rowErrs, RowError{Line: line, Column: column, Reason: fmt.Sprintf(format, args...)})
		}
		ok := true
		for _, c := range []struct {
			name string
			dst  **float64
		}{{"lat", &s.Lat}, {"lon", &s.Lon}} {
			if v := get(c.name); v != "" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					fail(c.name, "%q is not a number", v)
					ok = false
					continue
				}
				*c.dst = &f
			}
		}
		if v := get("radius_km"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				fail("radius_km", "%q is not a number", v)
				ok = false
			}
			s.RadiusKM = f
		}
		if v := get("consent_at"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail("consent_at", "%q is not an RFC 3339 time", v)
				ok = false
			}
			s.Consent.At = t
		}
		if s.Consent.Source == "" {
			s.Consent.Source = "CSV import"
		}
		for _, c := range []struct {
			col  string
			kind channel.Kind
		}{{"phone", channel.SMS}, {"email", channel.Email}, {"webhook", channel.Webhook}, {"voice", channel.Voice}} {
			if v := get(c.col); v != "" {
				ct := Contact{Channel: c.kind, Address: v}
				if c.kind == channel.Webhook {
					ct.Secret = get("webhook_secret")
				}
				if err := normalizeContact(&ct); err != nil {
					fail(c.col, "%v", err)
					ok = false
				}
				s.Contacts = append(s.Contacts, ct)
			}
		}
		if !ok {
			continue
		}
		if err := Normalize(&s); err != nil {
			column := "" // the column of the first field Normalize names, when it is one
			msg := strings.TrimPrefix(apperr.Message(err), "subscriber: ")
			for _, c := range []string{"name", "kind", "language", "audiences", "place", "lat", "lon"} {
				if strings.HasPrefix(msg, c+":") || strings.HasPrefix(msg, c+"[") {
					column = c
				}
			}
			if strings.HasPrefix(msg, "radiusKm:") {
				column = "radius_km"
			}
			if strings.HasPrefix(msg, "consent.source:") {
				column = "consent_source"
			}
			fail(column, "%s", msg)
			continue
		}
		if err := add(s); err != nil {
			return rowErrs, fmt.Errorf("line %d: %w", line, err)
		}
	}
	return rowErrs, nil
}
