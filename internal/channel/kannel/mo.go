package kannel

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/rabta/rabta/internal/channel"
)

// MaxMOText is the longest text ParseMO accepts, in bytes: ten concatenated UCS-2 segments
// (10 × 67 characters of up to 3 UTF-8 bytes each) fit.
const MaxMOText = 2048

// ParseMO reads a mobile-originated message from the query (or form) of Kannel's
// sms-service get-url, after Kannel filled in its escapes:
//
//	from=%p   the sender, E.164 with or without "+", or a national number (read as
//	          region's, e.g. "PK"; "" means "PK")
//	to=%P     the number it was sent to (optional)
//	text=%a   the message as Kannel holds it: UTF-16BE octets when coding is 2, otherwise
//	          UTF-8 (or, when that is not valid UTF-8 or charset names it, ISO-8859-1)
//	coding=%c Kannel's coding: 0 (7-bit), 1 (8-bit) or 2 (UCS-2); absent means 0
//	charset=%C the text's charset as Kannel names it (optional)
//	ts=%T     when the SMSC received it, Unix seconds (optional; at when absent)
//
// It does not check the token (MOHandler does). An error names the parameter at fault.
func ParseMO(q url.Values, region string, at time.Time) (channel.Inbound, error) {
	in := channel.Inbound{Gateway: "kannel", Received: at}
	if region == "" {
		region = "PK"
	}
	from := strings.TrimSpace(q.Get("from"))
	if from == "" {
		return in, fmt.Errorf("from: missing")
	}
	if len(from) > 32 {
		return in, fmt.Errorf("from: longer than 32 bytes")
	}
	if !strings.HasPrefix(from, "+") && len(from) > 10 && strings.Trim(from, "0123456789") == "" && from[0] != '0' {
		from = "+" + from // international without the plus, as SMSCs often give it
	}
	num, err := phonenumbers.Parse(from, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return in, fmt.Errorf("from: not a phone number")
	}
	in.From = phonenumbers.Format(num, phonenumbers.E164)
	in.To = q.Get("to")
	if len(in.To) > 32 {
		return in, fmt.Errorf("to: longer than 32 bytes")
	}
	text := q.Get("text")
	if len(text) > MaxMOText {
		return in, fmt.Errorf("text: longer than %d bytes", MaxMOText)
	}
	switch c := q.Get("coding"); c {
	case "2":
		if len(text)%2 != 0 {
			return in, fmt.Errorf("text: UCS-2 (coding 2) of an odd number of octets")
		}
		u := make([]uint16, len(text)/2)
		for i := range u {
			u[i] = uint16(text[2*i])<<8 | uint16(text[2*i+1])
		}
		text = string(utf16.Decode(u))
	case "", "0", "1", "%c":
		cs := strings.ToUpper(q.Get("charset"))
		if !utf8.ValidString(text) || strings.Contains(cs, "8859-1") || cs == "WINDOWS-1252" || cs == "LATIN1" {
			r := make([]rune, len(text))
			for i := 0; i < len(text); i++ {
				r[i] = rune(text[i])
			}
			text = string(r)
		}
	default:
		return in, fmt.Errorf("coding: %q is not 0, 1 or 2", truncate(c))
	}
	if strings.ContainsRune(text, utf8.RuneError) {
		return in, fmt.Errorf("text: does not decode to text")
	}
	in.Text = text
	if ts := q.Get("ts"); ts != "" && ts != "%T" {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sec < 0 || sec > 1<<40 {
			return in, fmt.Errorf("ts: %q is not a Unix time", truncate(ts))
		}
		in.Received = time.Unix(sec, 0).UTC()
	}
	return in, nil
}

// MOHandler serves Kannel's sms-service get-url (GET, or POST with a form) for messages
// people send to the node's number: ?token=<secret>&from=%p&to=%P&text=%a&coding=%c&charset=%C&ts=%T.
// It checks
// the token in constant time (403 when wrong, before anything is parsed), parses the message
// (ParseMO; 400 naming the parameter) and calls fn; it answers 200 with an empty body, so
// Kannel sends no reply of its own (replies go out through the node's SMS sender), or 503
// when fn fails (Kannel retries). log may be nil; numbers, texts and tokens are never logged.
func MOHandler(secret string, fn channel.InboundFunc, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readCallback(w, r, 16<<10) {
			return
		}
		if secret == "" || subtle.ConstantTimeCompare([]byte(r.Form.Get("token")), []byte(secret)) != 1 {
			log.Warn("mo_forbidden")
			http.Error(w, "token: not this node's", http.StatusForbidden)
			return
		}
		in, err := ParseMO(r.Form, "", time.Now().UTC())
		if err != nil {
			log.Info("mo_refused", "error", err.Error())
			http.Error(w, "bad MO message: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), in); err != nil {
			log.Warn("mo_failed", "message", in, "err", err)
			http.Error(w, "could not handle the message", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
	})
}
