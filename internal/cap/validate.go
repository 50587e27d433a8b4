package cap

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// XMLDSigNamespace is the XML Signature namespace, the only one the CAP 1.2 schema allows
// after <info>.
const XMLDSigNamespace = "http://www.w3.org/2000/09/xmldsig#"

// Validate checks a against the CAP 1.2 schema (as Marshal does) and against the rules of the
// CAP 1.2 specification that the schema cannot express:
//
//   - identifier and sender are non-empty without spaces, commas, '<' or '&';
//   - a Private alert has addresses; Update, Cancel, Ack and Error reference earlier messages;
//   - references are "sender,identifier,sent" with valid parts, none sent after this alert;
//   - expires is after sent, effective and onset;
//   - every polygon is a closed ring of at least 4 and at most MaxVertices points, every
//     latitude is within ±90 and longitude within ±180 (a pair that only fits swapped is
//     reported as lon,lat order); circle radii are finite and not negative (CAP 1.2 §3.2.4;
//     areas that CAP allows but that bound nothing usable — a self-intersecting ring, a ring
//     enclosing no area, a circle of radius 0 — are Degenerate's to report, and CheckIssue's
//     to refuse);
//   - ceiling needs altitude and is not below it;
//   - a resource digest is 40 hex digits (SHA-1, as CAP 1.2 says); size is not negative;
//   - extension elements are XML Signature elements.
//
// It returns nil or an Errors listing every problem with its element path.
func Validate(a *Alert) error {
	if a == nil {
		return Errors{errf(ErrInvalid, "alert", 0, "nil alert")}
	}
	e := &enc{}
	_, _ = e.alert(a)
	v := &validator{errs: e.errs}
	v.alert(a)
	if len(v.errs) > 0 {
		return v.errs
	}
	return nil
}

type validator struct{ errs Errors }

func (v *validator) fail(path, format string, args ...any) {
	if len(v.errs) < 100 {
		v.errs = append(v.errs, errf(ErrInvalid, path, 0, format, args...))
	}
}

// checkID applies CAP's rule for identifier and sender.
func (v *validator) checkID(path, s string) {
	switch {
	case s == "":
		v.fail(path, "must not be empty")
	case strings.ContainsAny(s, " \t\r\n,<&"):
		v.fail(path, "%q must not contain spaces, commas, '<' or '&'", s)
	}
}

func (v *validator) alert(a *Alert) {
	const p = "alert"
	v.checkID(p+"/identifier", a.Identifier)
	v.checkID(p+"/sender", a.Sender)
	if a.Scope == ScopePrivate && len(a.Addresses) == 0 {
		v.fail(p+"/addresses", "required when scope is Private")
	}
	if a.Scope == ScopeRestricted && strings.TrimSpace(a.Restriction) == "" {
		v.fail(p+"/restriction", "required when scope is Restricted")
	}
	switch a.MsgType {
	case MsgUpdate, MsgCancel, MsgAck, MsgError:
		if len(a.References) == 0 {
			v.fail(p+"/references", "msgType %s must reference the earlier message(s)", a.MsgType)
		}
	}
	for i, r := range a.References {
		rp := fmt.Sprintf("%s/references[%d]", p, i)
		v.checkID(rp+"/sender", r.Sender)
		v.checkID(rp+"/identifier", r.Identifier)
		if !r.Sent.IsZero() && !a.Sent.IsZero() && r.Sent.After(a.Sent) {
			v.fail(rp, "referenced message was sent (%s) after this one (%s)", FormatTime(r.Sent), FormatTime(a.Sent))
		}
		if r.Sender == a.Sender && r.Identifier == a.Identifier {
			v.fail(rp, "an alert must not reference itself")
		}
	}
	for i := range a.Infos {
		v.info(fmt.Sprintf("%s/info[%d]", p, i), a, &a.Infos[i])
	}
	for _, x := range a.Extensions {
		if x.Space != XMLDSigNamespace {
			v.fail(p+"/"+x.Local, "element in namespace %q is not allowed by the CAP 1.2 schema (only XML Signature)", x.Space)
		}
	}
}

func (v *validator) info(p string, a *Alert, in *Info) {
	if strings.TrimSpace(in.Event) == "" {
		v.fail(p+"/event", "must not be empty")
	}
	if !in.Expires.IsZero() {
		for _, t := range []struct {
			name string
			t    time.Time
		}{{"sent", a.Sent}, {"effective", in.Effective}, {"onset", in.Onset}} {
			if !t.t.IsZero() && !in.Expires.After(t.t) {
				v.fail(p+"/expires", "%s is not after %s %s", FormatTime(in.Expires), t.name, FormatTime(t.t))
			}
		}
	}
	for i, r := range in.Resources {
		rp := fmt.Sprintf("%s/resource[%d]", p, i)
		if strings.TrimSpace(r.MimeType) == "" {
			v.fail(rp+"/mimeType", "must not be empty")
		}
		if r.Size != nil && *r.Size < 0 {
			v.fail(rp+"/size", "must not be negative")
		}
		if r.Digest != "" && !isHex(strings.TrimSpace(r.Digest), 40) {
			v.fail(rp+"/digest", "%q is not a SHA-1 digest (40 hex digits)", r.Digest)
		}
	}
	for i := range in.Areas {
		v.area(fmt.Sprintf("%s/area[%d]", p, i), &in.Areas[i])
	}
}

func (v *validator) area(p string, a *Area) {
	if strings.TrimSpace(a.AreaDesc) == "" {
		v.fail(p+"/areaDesc", "must not be empty")
	}
	for i, pg := range a.Polygons {
		pp := fmt.Sprintf("%s/polygon[%d]", p, i)
		if err := checkPolygonSpec(pg); err != nil {
			v.fail(pp, "%v", err)
		}
		if len(pg) > MaxVertices {
			v.fail(pp, "has %d points; at most %d are allowed (use Simplify)", len(pg), MaxVertices)
		}
	}
	for i, c := range a.Circles {
		if err := checkCircleSpec(c); err != nil {
			v.fail(fmt.Sprintf("%s/circle[%d]", p, i), "%v", err)
		}
	}
	if a.Ceiling != nil {
		if a.Altitude == nil {
			v.fail(p+"/ceiling", "ceiling needs altitude")
		} else if *a.Ceiling < *a.Altitude {
			v.fail(p+"/ceiling", "ceiling %v is below altitude %v", *a.Ceiling, *a.Altitude)
		}
	}
}

func checkPoint(pt Point) string {
	if math.IsNaN(pt.Lat) || math.IsNaN(pt.Lon) || math.IsInf(pt.Lat, 0) || math.IsInf(pt.Lon, 0) {
		return "not a finite number"
	}
	latOK := pt.Lat >= -90 && pt.Lat <= 90
	lonOK := pt.Lon >= -180 && pt.Lon <= 180
	switch {
	case latOK && lonOK:
		return ""
	case !latOK && pt.Lat >= -180 && pt.Lat <= 180 && pt.Lon >= -90 && pt.Lon <= 90:
		return "latitude out of range; the pair looks like lon,lat but CAP is lat,lon"
	case !latOK:
		return "latitude out of range -90..90"
	default:
		return "longitude out of range -180..180"
	}
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Clock skew tolerated by CheckIssue between the issuing clock and the alert's sent time.
const (
	MaxSentSkew = 2 * time.Minute  // sent may be at most this far after now
	MaxSentAge  = 10 * time.Minute // sent may be at most this far before now
)

// CheckIssue reports whether a may be issued at now: it must Validate, its areas must not be
// Degenerate (kind ErrDegenerate), and it must not be stale. Sent must be within [now-MaxSentAge, now+MaxSentSkew]; every effective, onset and
// expires must not be before sent; every expires must be after now. (Validate alone accepts
// an onset before sent, which received alerts about an event already under way often have;
// an alert we issue states such an onset as sent, or omits it.)
func CheckIssue(a *Alert, now time.Time) error {
	err := Validate(a)
	errs, _ := err.(Errors)
	if a == nil {
		return err
	}
	errs = append(errs, Degenerate(a)...)
	add := func(path, format string, args ...any) {
		errs = append(errs, errf(ErrStale, path, 0, format, args...))
	}
	if !a.Sent.IsZero() {
		if a.Sent.After(now.Add(MaxSentSkew)) {
			add("alert/sent", "%s is in the future (now %s)", FormatTime(a.Sent), FormatTime(now))
		}
		if a.Sent.Before(now.Add(-MaxSentAge)) {
			add("alert/sent", "%s is more than %v before now (%s)", FormatTime(a.Sent), MaxSentAge, FormatTime(now))
		}
	}
	for i, in := range a.Infos {
		p := fmt.Sprintf("alert/info[%d]", i)
		for _, t := range []struct {
			name string
			t    time.Time
		}{{"effective", in.Effective}, {"onset", in.Onset}, {"expires", in.Expires}} {
			if !t.t.IsZero() && !a.Sent.IsZero() && t.t.Before(a.Sent) {
				add(p+"/"+t.name, "%s is before sent %s", FormatTime(t.t), FormatTime(a.Sent))
			}
		}
		if !in.Expires.IsZero() && !in.Expires.After(now) {
			add(p+"/expires", "%s has already passed (now %s)", FormatTime(in.Expires), FormatTime(now))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Builder turns an alert composed by Rabta into the XML to issue: it fills Sent if zero,
// simplifies polygons over MaxVertices (with Simplify; when that makes a ring cross itself,
// the ring's convex hull is simplified instead, which stays a sound ring), refuses what
// CheckIssue refuses, and marshals.
type Builder struct {
	Now         func() time.Time // required
	MaxVertices int              // 0 means MaxVertices
}

// Build returns the XML to issue, with notes describing what it changed (for the audit log:
// e.g. "alert/info[0]/area[0]/polygon[0]: simplified from 2400 to 1000 points"). a is not
// modified.
func (b Builder) Build(a *Alert) (xml []byte, notes []string, err error) {
	if a == nil {
		return nil, nil, errf(ErrInvalid, "alert", 0, "nil alert")
	}
	now := b.Now()
	max := b.MaxVertices
	if max <= 0 {
		max = MaxVertices
	}
	c := *a
	if c.Sent.IsZero() {
		c.Sent = now.Truncate(time.Second)
		notes = append(notes, "alert/sent: set to "+FormatTime(c.Sent))
	}
	c.Infos = append([]Info(nil), a.Infos...)
	for i := range c.Infos {
		in := &c.Infos[i]
		in.Areas = append([]Area(nil), in.Areas...)
		for j := range in.Areas {
			ar := &in.Areas[j]
			ar.Polygons = append([]Polygon(nil), ar.Polygons...)
			for k, pg := range ar.Polygons {
				if len(pg) > max && pg.Closed() {
					s := Simplify(pg, max)
					note := fmt.Sprintf("alert/info[%d]/area[%d]/polygon[%d]: simplified from %d to %d points (Visvalingam-Whyatt)", i, j, k, len(pg), len(s))
					if CheckPolygon(pg) == nil && CheckPolygon(s) != nil {
						// dropping vertices can make a ring cross itself: simplify the convex hull
						// instead, which stays convex and so sound (it covers the area's
						// inward bends; Simplify cuts corners of it as of any ring)
						if h, ok := hull(pg); ok {
							s = Simplify(h, max)
							note = fmt.Sprintf("alert/info[%d]/area[%d]/polygon[%d]: replaced by its convex hull of %d points (simplified from %d points, the ring crossed itself)", i, j, k, len(s), len(pg))
						}
					}
					ar.Polygons[k] = s
					notes = append(notes, note)
				}
			}
		}
	}
	if err := CheckIssue(&c, now); err != nil {
		return nil, notes, err
	}
	xml, err = Marshal(&c)
	return xml, notes, err
}
