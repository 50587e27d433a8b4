package federation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/sensing"
)

// Resolution is what an agreement shares of each Datastream.
type Resolution string

// Resolutions.
const (
	// Raw shares every Observation as stored (phenomenonTime, result, QC flag).
	Raw Resolution = "raw"
	// HourlyMean shares, per UTC hour, the mean of the numeric results not flagged bad.
	HourlyMean Resolution = "hourly-mean"
	// DailyMax shares, per UTC day, the maximum of the numeric results not flagged bad.
	DailyMax Resolution = "daily-max"
)

// Period is the length of one aggregated value (0 for Raw).
func (r Resolution) Period() time.Duration {
	switch r {
	case HourlyMean:
		return time.Hour
	case DailyMax:
		return 24 * time.Hour
	}
	return 0
}

// State is where an agreement is in its life.
type State string

// States.
const (
	Proposed State = "proposed"
	Approved State = "approved"
	Revoked  State = "revoked"
	Expired  State = "expired"
)

// Limits on what an agreement holds; each is named in the error that enforces it.
const (
	MaxSelected   = 1000 // ids in each selection list
	MaxPurpose    = 1000 // bytes of purpose
	MaxEmbargo    = 366 * 24 * time.Hour
	MaxRetention  = 100 * 366 * 24 * time.Hour
	MaxBodyBytes  = 256 << 10 // an agreement's JSON
	maxNameLength = 64
)

// Selection is which Datastreams of the providing organisation an agreement shares: those
// listed in Datastreams, and those of the Things in Things; when ObservedProperties is not
// empty, only those among them that measure one of its ObservedProperties. At least one of
// Datastreams and Things must be given. Ids are the provider's SensorThings @iot.id.
//
// Area (area.go) selects, besides, the Datastreams whose Thing lies inside it, and Alerts
// shares the providing organisation's issued CAP alerts (those whose area meets Area, when
// given; all of them otherwise; docs/federation.md "Alerts"). At least one of Datastreams,
// Things, Area and Alerts must be given.
type Selection struct {
	Datastreams        []int64 `json:"datastreams,omitempty"`
	Things             []int64 `json:"things,omitempty"`
	ObservedProperties []int64 `json:"observedProperties,omitempty"`
	Area               *Area   `json:"area,omitempty"`
	Alerts             bool    `json:"alerts,omitempty"`
	// Observations false shares no Observations at all: with Alerts, an agreement for alerts
	// only, whose Area then picks the alerts alone (absent: true).
	Observations *bool `json:"observations,omitempty"`
}

// Data reports whether s selects Datastreams at all (an agreement may share alerts only).
func (s Selection) Data() bool {
	if s.Observations != nil && !*s.Observations {
		return false
	}
	return len(s.Datastreams) > 0 || len(s.Things) > 0 || s.Area != nil
}

// Agreement is one data-sharing agreement, as stored on the providing node.
type Agreement struct {
	ID int64 `json:"id"`
	// ProviderOrg is the organisation of this node whose data is shared.
	ProviderOrg string `json:"providerOrganisation"`
	// ConsumerOrg and ConsumerNode are who receives it: an organisation of the partner node
	// ConsumerNode (a registered partner). The data lands there owned by ConsumerOrg.
	ConsumerOrg  string     `json:"consumerOrganisation"`
	ConsumerNode string     `json:"consumerNode"`
	Selection    Selection  `json:"selection"`
	Resolution   Resolution `json:"resolution"`
	// Embargo delays each value: an Observation (or an aggregated period) leaves the node once
	// its phenomenon time's end is Embargo in the past.
	Embargo Duration `json:"embargo"`
	Purpose string   `json:"purpose"`
	// ValidFrom is the first phenomenon time shared (history back to it is back-filled);
	// ValidUntil, when set, ends the agreement (state expired).
	ValidFrom  time.Time  `json:"validFrom"`
	ValidUntil *time.Time `json:"validUntil,omitempty"`
	// Retention is how long the consumer keeps what it received (0: as long as its own data).
	Retention  Duration   `json:"retention"`
	State      State      `json:"state"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	ApprovedBy string     `json:"approvedBy,omitempty"`
	ApprovedAt *time.Time `json:"approvedAt,omitempty"`
	RevokedBy  string     `json:"revokedBy,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	// SelectedDatastreams is how many Datastreams the selection picked when the agreement was
	// created, as the exporter resolves it (Catalogue.Selected): set by Service.Create alone,
	// for its answer (not stored); nil for an agreement that shares no Observations. 0 is
	// accepted (a station may come later), but the creator is told.
	SelectedDatastreams *int `json:"selectedDatastreams,omitempty"`
	// Warnings, in the answer of create alone (set by Service.Create, not stored), name what in
	// the terms is accepted but likely not meant: a selection that picks no Datastream now, a
	// retention shorter than the back-fill from ValidFrom (the consumer purges those values as
	// they arrive). Each begins with the member it is about.
	Warnings []string `json:"warnings,omitempty"`
}

// MarshalJSON implements json.Marshaler: an agreement that shares no Observations (alerts
// only: Selection.Data false) leaves out resolution, embargo and retention, which apply to
// Observations alone; every other agreement has all its members, as before.
func (a Agreement) MarshalJSON() ([]byte, error) {
	type plain Agreement // the same members, without this method
	if a.Selection.Data() {
		return json.Marshal(plain(a))
	}
	return json.Marshal(struct {
		plain
		Resolution *Resolution `json:"resolution,omitempty"` // shallower than plain's: these win, nil and left out
		Embargo    *Duration   `json:"embargo,omitempty"`
		Retention  *Duration   `json:"retention,omitempty"`
	}{plain: plain(a)})
}

// Active reports whether a exports at now: approved and not past ValidUntil.
func (a *Agreement) Active(now time.Time) bool {
	return a.State == Approved && (a.ValidUntil == nil || now.Before(*a.ValidUntil))
}

// Duration is a time.Duration written in JSON as a Go duration string ("90m", "24h") or
// as a number of days with a d suffix ("30d").
type Duration time.Duration

// MarshalJSON implements json.Marshaler: the form the documents use and ParseDuration reads
// (String).
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// String writes d as agreements are written: whole days as days ("30d"), else hours, minutes
// and seconds without the zero ones ("6h", "1h30m", "90s"); a fraction of a second as Go
// writes it ("1.5s"). Zero is "0s".
func (d Duration) String() string {
	v := time.Duration(d)
	const day = 24 * time.Hour
	switch {
	case v == 0:
		return "0s"
	case v < 0 || v%time.Second != 0:
		return v.String()
	case v%day == 0:
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := v / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.unit)
			v -= n * u.d
		}
	}
	return b.String()
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"90m\", \"6h\" or \"30d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads "30d" (days) or a Go duration ("6h", "90m"); negative is refused.
func ParseDuration(s string) (time.Duration, error) {
	var v time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hms") {
		v, err = time.ParseDuration(n + "h")
		v *= 24
	} else {
		v, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("duration %q: not a duration such as \"90m\", \"6h\" or \"30d\"", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q: negative", s)
	}
	return v, nil
}

var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ValidName reports whether s is a valid node or organisation name (lower case letters,
// digits, '-' and '_', at most 64 bytes).
func ValidName(s string) bool { return len(s) <= maxNameLength && name.MatchString(s) }

// Validate checks a new agreement's fields; the error (apperr.Invalid) names the field.
func (a *Agreement) Validate() error {
	bad := func(field, format string, args ...any) error {
		return apperr.E(apperr.Invalid, "agreement: %s: %s", field, fmt.Sprintf(format, args...))
	}
	if !ValidName(a.ProviderOrg) {
		return bad("providerOrganisation", "required, lower-case letters, digits, '-' and '_' (at most %d)", maxNameLength)
	}
	if !ValidName(a.ConsumerOrg) {
		return bad("consumerOrganisation", "required, lower-case letters, digits, '-' and '_' (at most %d)", maxNameLength)
	}
	if !ValidName(a.ConsumerNode) {
		return bad("consumerNode", "required, lower-case letters, digits, '-' and '_' (at most %d)", maxNameLength)
	}
	s := a.Selection
	if s.Observations != nil && !*s.Observations && !s.Alerts {
		return bad("selection.observations", "false shares no Observations: an agreement for alerts only says alerts: true")
	}
	if !s.Data() && !s.Alerts {
		return bad("selection", "give datastreams or things (ids of the provider's), an area (GeoJSON Polygon or MultiPolygon), or alerts: true")
	}
	for f, ids := range map[string][]int64{"selection.datastreams": s.Datastreams, "selection.things": s.Things, "selection.observedProperties": s.ObservedProperties} {
		if len(ids) > MaxSelected {
			return bad(f, "%d ids, at most %d", len(ids), MaxSelected)
		}
		for _, id := range ids {
			if id <= 0 {
				return bad(f, "id %d: ids are positive", id)
			}
		}
	}
	switch a.Resolution {
	case Raw, HourlyMean, DailyMax:
	case "":
		if !s.Data() {
			return bad("resolution", "required (an agreement for alerts only may leave it out): raw, hourly-mean or daily-max")
		}
		return bad("resolution", "required: raw, hourly-mean or daily-max")
	default:
		return bad("resolution", "%q: one of raw, hourly-mean, daily-max", a.Resolution)
	}
	if time.Duration(a.Embargo) > MaxEmbargo {
		return bad("embargo", "%s is over the limit of %s", time.Duration(a.Embargo), MaxEmbargo)
	}
	if strings.TrimSpace(a.Purpose) == "" {
		return bad("purpose", "required: what the data is for")
	}
	if len(a.Purpose) > MaxPurpose {
		return bad("purpose", "%d bytes, at most %d", len(a.Purpose), MaxPurpose)
	}
	if a.ValidFrom.IsZero() {
		return bad("validFrom", "required (RFC 3339): the first phenomenon time shared")
	}
	if a.ValidUntil != nil && !a.ValidUntil.After(a.ValidFrom) {
		return bad("validUntil", "must be after validFrom")
	}
	if time.Duration(a.Retention) > MaxRetention {
		return bad("retention", "%s is over the limit of %s", time.Duration(a.Retention), MaxRetention)
	}
	return nil
}

// ParseAgreement reads a new agreement's JSON (the body of POST /api/v1/federation/agreements):
// unknown members, a trailing value, and bodies over MaxBodyBytes are refused, and the result
// is validated (Validate). State, ids and who/when fields are not taken from the body.
func ParseAgreement(b []byte) (*Agreement, error) {
	if len(b) > MaxBodyBytes {
		return nil, apperr.E(apperr.Invalid, "agreement: body of %d bytes, at most %d", len(b), MaxBodyBytes)
	}
	var in struct {
		ProviderOrg  string     `json:"providerOrganisation"`
		ConsumerOrg  string     `json:"consumerOrganisation"`
		ConsumerNode string     `json:"consumerNode"`
		Selection    Selection  `json:"selection"`
		Resolution   Resolution `json:"resolution"`
		Embargo      *string    `json:"embargo"`
		Purpose      string     `json:"purpose"`
		ValidFrom    *string    `json:"validFrom"`
		ValidUntil   *string    `json:"validUntil"`
		Retention    *string    `json:"retention"`
	}
	if json.Valid(b) { // a member twice (which one counts differs between parsers), text not UTF-8 …
		if err := sensing.CheckJSON(b); err != nil {
			return nil, apperr.E(apperr.Invalid, "agreement: %v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, apperr.E(apperr.Invalid, "agreement: %s", jsonErr(err))
	}
	if dec.More() {
		return nil, apperr.E(apperr.Invalid, "agreement: more than one JSON value")
	}
	a := &Agreement{ProviderOrg: in.ProviderOrg, ConsumerOrg: in.ConsumerOrg, ConsumerNode: in.ConsumerNode,
		Selection: in.Selection, Resolution: in.Resolution, Purpose: in.Purpose}
	if a.Resolution == "" && !a.Selection.Data() && a.Selection.Alerts {
		a.Resolution = Raw // alerts only: no values, no resolution to choose
	}
	for _, t := range []struct {
		field string
		in    *string
		out   **time.Time
	}{{"validFrom", in.ValidFrom, nil}, {"validUntil", in.ValidUntil, &a.ValidUntil}} {
		if t.in == nil {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, *t.in)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "agreement: %s: %q is not an RFC 3339 time (e.g. 2025-07-01T00:00:00Z)", t.field, *t.in)
		}
		if t.out == nil {
			a.ValidFrom = v
		} else {
			*t.out = &v
		}
	}
	for _, d := range []struct {
		field string
		in    *string
		out   *Duration
	}{{"embargo", in.Embargo, &a.Embargo}, {"retention", in.Retention, &a.Retention}} {
		if d.in == nil {
			continue
		}
		v, err := ParseDuration(*d.in)
		if err != nil {
			return nil, apperr.E(apperr.Invalid, "agreement: %s: %v", d.field, err)
		}
		*d.out = Duration(v)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// jsonErr says what is wrong with a JSON document decoded into a Go value, in the document's
// terms (the member, the JSON kind wanted), never the Go type.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty: want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not JSON: it ends too soon"
	case asErr(err, &se):
		return fmt.Sprintf("not JSON at byte %d: %s", se.Offset, se.Error())
	case asErr(err, &te):
		if te.Field == "" {
			return fmt.Sprintf("want a JSON %s, got JSON %s", jsonKind(te.Type), te.Value)
		}
		return fmt.Sprintf("%s: want a JSON %s, got JSON %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ") // unknown field "x", or a member's own error
}

// jsonKind is the JSON kind a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value"
}

// Partner is another node this node shares with (as provider) or receives from (as
// consumer): its id, the public nkey it logs in to this node's NATS with, and, for a node this
// one receives from, the NATS URL to dial.
//
// Cert, when given, is the partner's X.509 certificate (PEM, the node-cert.pem of its data
// directory or the one its operator issued), with which this node verifies the signed CAP
// alerts it receives from the partner; without it, the partner's alerts are refused.
type Partner struct {
	Node string `json:"node"`
	NKey string `json:"nkey"`
	URL  string `json:"url,omitempty"`
	// CA is PEM: the certificates the partner's tls:// listener must chain to (its CA, or its
	// own certificate pinned); empty for the system's roots. At most MaxCABytes.
	CA      string    `json:"ca,omitempty"`
	Cert    string    `json:"cert,omitempty"`
	Created time.Time `json:"created"`
}

// MaxCABytes bounds a partner's CA (PEM).
const MaxCABytes = 64 << 10

// MaxCertBytes bounds a partner's certificate (PEM).
const MaxCertBytes = 16 << 10

// ValidatePartner checks a partner's fields; the error names the field.
func (p *Partner) ValidatePartner() error {
	switch {
	case p.Node == "":
		return apperr.E(apperr.Invalid, "partner: node: required (the partner's node id: lower-case letters, digits, '-' and '_')")
	case !ValidName(p.Node):
		return apperr.E(apperr.Invalid, "partner: node: %.64q is not a node id: lower-case letters, digits, '-' and '_', at most %d", p.Node, maxNameLength)
	}
	if _, err := nkeys.FromSeed([]byte(p.NKey)); err == nil { // never echoed: it is a secret
		return apperr.E(apperr.Invalid, "partner: nkey: this is a private seed (S…), not a public key — a secret, now seen here: "+
			"the partner should make a new key (stop its node, remove <data-dir>/federation.nk, run rabta federation key --data-dir DIR) "+
			"and give you the public key that prints (56 characters starting with U)")
	}
	if !nkeys.IsValidPublicUserKey(p.NKey) { // its checksum too: a mistyped key is refused here, not never served
		return apperr.E(apperr.Invalid, "partner: nkey: not a NATS user public key (56 characters starting with U, with its checksum, as `rabta federation key` prints)")
	}
	if p.URL != "" {
		if err := CheckURL(p.URL); err != nil {
			return apperr.E(apperr.Invalid, "partner: url: %v", err)
		}
	}
	if p.CA != "" {
		if len(p.CA) > MaxCABytes {
			return apperr.E(apperr.Invalid, "partner: ca: %d bytes, at most %d", len(p.CA), MaxCABytes)
		}
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(p.CA)) {
			return apperr.E(apperr.Invalid, "partner: ca: no PEM certificate in it")
		}
		if p.URL == "" || !strings.HasPrefix(p.URL, "tls://") {
			return apperr.E(apperr.Invalid, "partner: ca: only with a tls:// url")
		}
	}
	if p.Cert != "" {
		if len(p.Cert) > MaxCertBytes {
			return apperr.E(apperr.Invalid, "partner: cert: %d bytes, at most %d", len(p.Cert), MaxCertBytes)
		}
		cs, err := cap.ParseCertificates([]byte(p.Cert))
		if err != nil {
			return apperr.E(apperr.Invalid, "partner: cert: not an X.509 certificate: %v", err)
		}
		if len(cs) == 0 {
			return apperr.E(apperr.Invalid, "partner: cert: no PEM block of type CERTIFICATE")
		}
	}
	return nil
}

// CheckURL checks the NATS URL a link dials: nats:// only on loopback, tls:// anywhere, and
// no user or password in it (the error does not repeat the URL then).
func CheckURL(u string) error {
	scheme, rest, ok := strings.Cut(u, "://")
	auth := rest
	if !ok {
		auth = u
	}
	if auth, _, _ = strings.Cut(auth, "/"); strings.Contains(auth, "@") { // never echoed: it may hold a password
		return errors.New("partners log in with their nkey: leave user and password out of the URL")
	}
	if !ok || rest == "" {
		return fmt.Errorf("%q: a URL such as tls://host:4222 (or nats://127.0.0.1:4222 on loopback)", u)
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Hostname() == "" {
		return fmt.Errorf("%q: a URL such as tls://host:4222 (or nats://127.0.0.1:4222 on loopback)", u)
	}
	if (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" {
		return fmt.Errorf("%q: a NATS server's address is host and port alone (no path, query or fragment)", u)
	}
	if p := pu.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %s: want 1 to 65535", u, p)
		}
	}
	host := pu.Hostname()
	switch scheme {
	case "tls":
		return nil
	case "nats":
		if host == "127.0.0.1" || host == "::1" || host == "localhost" {
			return nil
		}
		return fmt.Errorf("%q: nats:// (no TLS) only to a loopback address; use tls://", u)
	}
	return fmt.Errorf("%q: scheme %q, want tls:// (or nats:// on loopback)", u, scheme)
}

// AuditSink records what federation does: every agreement change ("agreement.create",
// "agreement.approve", "agreement.revoke") and every batch exported or imported
// ("export.batch", "import.batch"), with actor (who: a key's "<org>/key-<id>", or the node),
// subject (e.g. "agreement/3") and detail (JSON-able: agreement id, counts, first/last ids,
// the batch's SHA-256). package audit's Log has this method.
type AuditSink interface {
	Record(ctx context.Context, kind, actor, subject string, detail any) error
}

// NopAudit records nothing.
type NopAudit struct{}

// Record implements AuditSink.
func (NopAudit) Record(context.Context, string, string, string, any) error { return nil }
