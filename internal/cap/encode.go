package cap

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Marshal encodes a as CAP 1.2 XML in the schema's element order, UTF-8, indented by two
// spaces, with the CAP namespace as the default namespace. It refuses (with the element's
// path) anything that would not be valid against the CAP 1.2 XSD: a missing Sent, an
// enumeration value outside the schema's list, an info without category, a bad language tag,
// a non-finite number, text that XML cannot carry. It does not apply the rules Validate
// checks. The error is an Errors listing every problem. Optional string elements are written when non-empty (or when they were present but
// empty in decoded input). Extensions are written verbatim after the last <info>.
func Marshal(a *Alert) ([]byte, error) {
	if a == nil {
		return nil, errf(ErrSchema, "alert", 0, "nil alert")
	}
	e := &enc{}
	return e.alert(a)
}

// alert encodes a; all schema problems found are returned as Errors.
func (e *enc) alert(a *Alert) ([]byte, error) {
	e.b.Grow(2048)
	e.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	e.b.WriteString(`<alert xmlns="` + Namespace + `">` + "\n")
	const p = "alert"
	e.str(1, p, "identifier", a.Identifier, true)
	e.str(1, p, "sender", a.Sender, true)
	e.time(1, p, "sent", a.Sent, true)
	e.enum(1, p, "status", string(a.Status), a.Status.Valid(), statusValues)
	e.enum(1, p, "msgType", string(a.MsgType), a.MsgType.Valid(), msgTypeValues)
	e.str(1, p, "source", a.Source, a.present&hasSource != 0)
	e.enum(1, p, "scope", string(a.Scope), a.Scope.Valid(), scopeValues)
	e.str(1, p, "restriction", a.Restriction, a.present&hasRestriction != 0)
	if len(a.Addresses) > 0 || a.present&hasAddresses != 0 {
		e.str(1, p, "addresses", e.joinList(p+"/addresses", a.Addresses), true)
	}
	for i, c := range a.Codes {
		e.str(1, fmt.Sprintf("%s/code[%d]", p, i), "", c, true)
	}
	e.str(1, p, "note", a.Note, a.present&hasNote != 0)
	if len(a.References) > 0 || a.present&hasReferences != 0 {
		e.str(1, p, "references", e.references(p+"/references", a.References), true)
	}
	if len(a.Incidents) > 0 || a.present&hasIncidents != 0 {
		e.str(1, p, "incidents", e.joinList(p+"/incidents", a.Incidents), true)
	}
	for i := range a.Infos {
		e.info(fmt.Sprintf("%s/info[%d]", p, i), &a.Infos[i])
	}
	for i, x := range a.Extensions {
		if x.Space == "" || x.Space == Namespace {
			e.fail(fmt.Sprintf("%s/%s", p, x.Local), "extension element %d must be in a foreign namespace", i)
		}
		e.b.WriteString("  ")
		e.b.Write(x.XML)
		e.b.WriteByte('\n')
	}
	e.b.WriteString("</alert>\n")
	if len(e.errs) > 0 {
		return nil, e.errs
	}
	return e.b.Bytes(), nil
}

type enc struct {
	b    bytes.Buffer
	errs Errors
}

func (e *enc) fail(path, format string, args ...any) {
	if len(e.errs) < 100 {
		e.errs = append(e.errs, errf(ErrSchema, path, 0, format, args...))
	}
}

// str writes <name>s</name> at depth; with name "" the last path segment (minus any index)
// names the element.
func (e *enc) str(depth int, parent, name, s string, write bool) {
	if !write && s == "" {
		return
	}
	path := parent
	if name != "" {
		path = parent + "/" + name
	} else {
		name = parent[strings.LastIndexByte(parent, '/')+1:]
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i]
		}
	}
	if r, ok := validXMLText(s); !ok {
		e.fail(path, "text holds %U, which XML 1.0 cannot carry", r)
		return
	}
	e.indent(depth)
	if s == "" {
		e.b.WriteString("<" + name + "/>\n")
		return
	}
	e.b.WriteString("<" + name + ">")
	escapeText(&e.b, s)
	e.b.WriteString("</" + name + ">\n")
}

func (e *enc) indent(depth int) {
	for i := 0; i < depth; i++ {
		e.b.WriteString("  ")
	}
}

func (e *enc) time(depth int, parent, name string, t time.Time, required bool) {
	if t.IsZero() {
		if required {
			e.fail(parent+"/"+name, "required date-time is missing")
		}
		return
	}
	if y := t.Year(); y < 1 || y > 9999 {
		e.fail(parent+"/"+name, "year %d is outside 0001–9999", y)
		return
	}
	e.str(depth, parent, name, FormatTime(t), true)
}

func (e *enc) enum(depth int, parent, name, v string, ok bool, values []string) {
	if !ok {
		path := parent
		if name != "" {
			path += "/" + name
		}
		if v == "" {
			e.fail(path, "required value is missing; want one of %s", strings.Join(values, ", "))
		} else {
			e.fail(path, "%q is not one of %s", v, strings.Join(values, ", "))
		}
		return
	}
	e.str(depth, parent, name, v, true)
}

func (e *enc) joinList(path string, items []string) string {
	parts := make([]string, len(items))
	for i, s := range items {
		switch {
		case strings.ContainsRune(s, '"'):
			e.fail(path, "entry %d %q holds a double quote, which the list format cannot carry", i, s)
		case s == "" || strings.ContainsAny(s, " \t\r\n"):
			parts[i] = `"` + s + `"`
		default:
			parts[i] = s
		}
	}
	return strings.Join(parts, " ")
}

func (e *enc) references(path string, refs []Reference) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		for _, f := range []string{r.Sender, r.Identifier} {
			if f == "" || strings.ContainsAny(f, ", \t\r\n") {
				e.fail(path, "reference %d: sender and identifier must be non-empty, without commas or white space (got %q)", i, f)
			}
		}
		if r.Sent.IsZero() {
			e.fail(path, "reference %d: sent is missing", i)
		}
		parts[i] = r.Sender + "," + r.Identifier + "," + FormatTime(r.Sent)
	}
	return strings.Join(parts, " ")
}

func (e *enc) info(p string, in *Info) {
	e.b.WriteString("  <info>\n")
	if in.Language != "" && !validLanguage(in.Language) {
		e.fail(p+"/language", "%q is not an xs:language code like en-US", in.Language)
	}
	e.str(2, p, "language", in.Language, in.present&hasLanguage != 0)
	if len(in.Categories) == 0 {
		e.fail(p+"/category", "at least one category is required")
	}
	for i, c := range in.Categories {
		e.enum(2, fmt.Sprintf("%s/category[%d]", p, i), "", string(c), c.Valid(), categoryValues)
	}
	e.str(2, p, "event", in.Event, true)
	for i, r := range in.ResponseType {
		e.enum(2, fmt.Sprintf("%s/responseType[%d]", p, i), "", string(r), r.Valid(), responseValues)
	}
	e.enum(2, p, "urgency", string(in.Urgency), in.Urgency.Valid(), urgencyValues)
	e.enum(2, p, "severity", string(in.Severity), in.Severity.Valid(), severityValues)
	e.enum(2, p, "certainty", string(in.Certainty), in.Certainty.Valid(), certaintyValues)
	e.str(2, p, "audience", in.Audience, in.present&hasAudience != 0)
	for i, vp := range in.EventCodes {
		e.pair(2, fmt.Sprintf("%s/eventCode[%d]", p, i), "eventCode", vp)
	}
	e.time(2, p, "effective", in.Effective, false)
	e.time(2, p, "onset", in.Onset, false)
	e.time(2, p, "expires", in.Expires, false)
	e.str(2, p, "senderName", in.SenderName, in.present&hasSenderName != 0)
	e.str(2, p, "headline", in.Headline, in.present&hasHeadline != 0)
	e.str(2, p, "description", in.Description, in.present&hasDescription != 0)
	e.str(2, p, "instruction", in.Instruction, in.present&hasInstruction != 0)
	e.str(2, p, "web", in.Web, in.present&hasWeb != 0)
	e.str(2, p, "contact", in.Contact, in.present&hasContact != 0)
	for i, vp := range in.Parameters {
		e.pair(2, fmt.Sprintf("%s/parameter[%d]", p, i), "parameter", vp)
	}
	for i := range in.Resources {
		e.resource(fmt.Sprintf("%s/resource[%d]", p, i), &in.Resources[i])
	}
	for i := range in.Areas {
		e.area(fmt.Sprintf("%s/area[%d]", p, i), &in.Areas[i])
	}
	e.b.WriteString("  </info>\n")
}

func (e *enc) pair(depth int, p, name string, vp ValuePair) {
	e.indent(depth)
	e.b.WriteString("<" + name + ">\n")
	e.str(depth+1, p, "valueName", vp.ValueName, true)
	e.str(depth+1, p, "value", vp.Value, true)
	e.indent(depth)
	e.b.WriteString("</" + name + ">\n")
}

func (e *enc) resource(p string, r *Resource) {
	e.b.WriteString("    <resource>\n")
	e.str(3, p, "resourceDesc", r.ResourceDesc, true)
	e.str(3, p, "mimeType", r.MimeType, true)
	if r.Size != nil {
		e.str(3, p, "size", strconv.FormatInt(*r.Size, 10), true)
	}
	e.str(3, p, "uri", r.URI, r.present&hasURI != 0)
	e.str(3, p, "derefUri", r.DerefURI, r.present&hasDerefURI != 0)
	e.str(3, p, "digest", r.Digest, r.present&hasDigest != 0)
	e.b.WriteString("    </resource>\n")
}

func (e *enc) area(p string, a *Area) {
	e.b.WriteString("    <area>\n")
	e.str(3, p, "areaDesc", a.AreaDesc, true)
	for i, pg := range a.Polygons {
		pp := fmt.Sprintf("%s/polygon[%d]", p, i)
		if len(pg) == 0 {
			e.fail(pp, "polygon has no points")
		}
		for j, pt := range pg {
			if !finite(pt.Lat) || !finite(pt.Lon) {
				e.fail(pp, "point %d is not a finite number", j)
			}
		}
		e.str(3, pp, "", pg.String(), true)
	}
	for i, c := range a.Circles {
		pp := fmt.Sprintf("%s/circle[%d]", p, i)
		if !finite(c.Center.Lat) || !finite(c.Center.Lon) || !finite(c.RadiusKM) {
			e.fail(pp, "circle has a non-finite number")
		}
		e.str(3, pp, "", c.String(), true)
	}
	for i, vp := range a.Geocodes {
		e.pair(3, fmt.Sprintf("%s/geocode[%d]", p, i), "geocode", vp)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"altitude", a.Altitude}, {"ceiling", a.Ceiling}} {
		if f.v == nil {
			continue
		}
		if !finite(*f.v) {
			e.fail(p+"/"+f.name, "not a finite number")
			continue
		}
		e.str(3, p, f.name, formatFloat(*f.v), true)
	}
	e.b.WriteString("    </area>\n")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
