package cap

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unmarshal decodes one CAP 1.2 message. It checks everything the CAP 1.2 XML schema checks
// (required and repeated elements, enumerations, date-time and number syntax) and refuses
// hostile input (see parseTree), but not the specification rules beyond the schema: call
// Validate for those. Element order is not enforced — several national feeds misorder
// elements — since Marshal always writes the schema's order. Dropped on decode, by design:
// comments, processing instructions, attributes on CAP elements (e.g. xsi:schemaLocation), and
// the white space of element-only content. Foreign-namespace elements directly inside <alert>
// (such as an enveloped XML Signature) are kept in Alert.Extensions; foreign elements anywhere
// else are refused, because the schema allows them nowhere else.
func Unmarshal(b []byte) (*Alert, error) {
	root, err := parseTree(b, MaxSize)
	if err != nil {
		return nil, err
	}
	return decodeAlert(root, "alert")
}

func decodeAlert(n *node, path string) (*Alert, error) {
	if err := checkRoot(n, path); err != nil {
		return nil, err
	}
	d := &dec{}
	a := &Alert{}
	seen := map[string]int{}
	for _, c := range n.children {
		if c.name.Space != Namespace {
			if c.name.Space == "" || c.name.Space == Namespace11 || c.name.Space == Namespace10 {
				return nil, errf(ErrSchema, path+"/"+c.name.Local, c.line, "element is in namespace %q, want the CAP 1.2 namespace %q", c.name.Space, Namespace)
			}
			a.Extensions = append(a.Extensions, Extension{Space: c.name.Space, Local: c.name.Local, XML: serialize(c)})
			continue
		}
		name := c.name.Local
		idx := seen[name]
		seen[name]++
		p := path + "/" + name
		switch name {
		case "identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction", "addresses", "note", "references", "incidents":
			if idx > 0 {
				return nil, errf(ErrSchema, p, c.line, "element appears more than once")
			}
		case "code", "info":
			p = fmt.Sprintf("%s[%d]", p, idx)
		default:
			return nil, errf(ErrSchema, p, c.line, "unknown element in <alert>")
		}
		if name == "info" {
			info, err := d.info(c, p)
			if err != nil {
				return nil, err
			}
			a.Infos = append(a.Infos, *info)
			continue
		}
		s, err := d.text(c, p)
		if err != nil {
			return nil, err
		}
		switch name {
		case "identifier":
			a.Identifier = s
		case "sender":
			a.Sender = s
		case "sent":
			a.Sent, err = d.time(c, p, s)
		case "status":
			a.Status = Status(strings.TrimSpace(s))
			err = enumErr(a.Status.Valid(), c, p, s, statusValues)
		case "msgType":
			a.MsgType = MsgType(strings.TrimSpace(s))
			err = enumErr(a.MsgType.Valid(), c, p, s, msgTypeValues)
		case "source":
			a.Source = s
			a.present |= mark(s, hasSource)
		case "scope":
			a.Scope = Scope(strings.TrimSpace(s))
			err = enumErr(a.Scope.Valid(), c, p, s, scopeValues)
		case "restriction":
			a.Restriction = s
			a.present |= mark(s, hasRestriction)
		case "addresses":
			a.Addresses, err = splitList(s)
			a.present |= mark(strings.TrimSpace(s), hasAddresses)
		case "code":
			a.Codes = append(a.Codes, s)
		case "note":
			a.Note = s
			a.present |= mark(s, hasNote)
		case "references":
			a.References, err = parseReferences(s)
			a.present |= mark(strings.TrimSpace(s), hasReferences)
		case "incidents":
			a.Incidents, err = splitList(s)
			a.present |= mark(strings.TrimSpace(s), hasIncidents)
		}
		if err != nil {
			if e, ok := err.(*Error); ok {
				return nil, e
			}
			return nil, errf(ErrSchema, p, c.line, "%v", err)
		}
	}
	for _, req := range []string{"identifier", "sender", "sent", "status", "msgType", "scope"} {
		if seen[req] == 0 {
			return nil, errf(ErrSchema, path, n.line, "required element <%s> is missing", req)
		}
	}
	return a, nil
}

func checkRoot(n *node, path string) error {
	switch {
	case n.name.Local == "alert" && n.name.Space == Namespace:
		return nil
	case n.name.Local == "alert" && n.name.Space == Namespace11:
		return errf(ErrNamespace, path, n.line, "this is a CAP 1.1 message (namespace %q); only CAP 1.2 (%q) is accepted", n.name.Space, Namespace)
	case n.name.Local == "alert" && n.name.Space == Namespace10:
		return errf(ErrNamespace, path, n.line, "this is a CAP 1.0 message (namespace %q); only CAP 1.2 (%q) is accepted", n.name.Space, Namespace)
	case n.name.Local == "alert":
		return errf(ErrNamespace, path, n.line, "<alert> is in namespace %q, want %q", n.name.Space, Namespace)
	}
	return errf(ErrNamespace, "", n.line, "root element is <%s> in namespace %q, want <alert> in %q", n.name.Local, n.name.Space, Namespace)
}

type dec struct{}

// text returns the character content of an element that must not have child elements.
func (d *dec) text(n *node, path string) (string, error) {
	if len(n.children) > 0 {
		c := n.children[0]
		return "", errf(ErrSchema, path, c.line, "unexpected child element <%s>; this element holds text only", c.name.Local)
	}
	return n.Text(), nil
}

func (d *dec) time(n *node, path, s string) (time.Time, error) {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, errf(ErrSchema, path, n.line, "%v", err)
	}
	return t, nil
}

func enumErr(ok bool, n *node, path, s string, values []string) error {
	if ok {
		return nil
	}
	return errf(ErrSchema, path, n.line, "%q is not one of %s", s, strings.Join(values, ", "))
}

func (d *dec) info(n *node, path string) (*Info, error) {
	info := &Info{}
	seen := map[string]int{}
	for _, c := range n.children {
		if c.name.Space != Namespace {
			return nil, errf(ErrSchema, path+"/"+c.name.Local, c.line, "element in namespace %q is not allowed in <info>", c.name.Space)
		}
		name := c.name.Local
		idx := seen[name]
		seen[name]++
		p := path + "/" + name
		switch name {
		case "language", "event", "urgency", "severity", "certainty", "audience", "effective", "onset", "expires",
			"senderName", "headline", "description", "instruction", "web", "contact":
			if idx > 0 {
				return nil, errf(ErrSchema, p, c.line, "element appears more than once")
			}
		case "category", "responseType", "eventCode", "parameter", "resource", "area":
			p = fmt.Sprintf("%s[%d]", p, idx)
		default:
			return nil, errf(ErrSchema, p, c.line, "unknown element in <info>")
		}
		var err error
		switch name {
		case "eventCode", "parameter":
			var vp ValuePair
			vp, err = d.valuePair(c, p)
			if name == "eventCode" {
				info.EventCodes = append(info.EventCodes, vp)
			} else {
				info.Parameters = append(info.Parameters, vp)
			}
		case "resource":
			var r *Resource
			if r, err = d.resource(c, p); err == nil {
				info.Resources = append(info.Resources, *r)
			}
		case "area":
			var ar *Area
			if ar, err = d.area(c, p); err == nil {
				info.Areas = append(info.Areas, *ar)
			}
		default:
			var s string
			if s, err = d.text(c, p); err != nil {
				return nil, err
			}
			switch name {
			case "language":
				info.Language = strings.TrimSpace(s)
				info.present |= mark(info.Language, hasLanguage)
				if info.Language != "" && !validLanguage(info.Language) {
					err = errf(ErrSchema, p, c.line, "%q is not an xs:language code like en-US", s)
				}
			case "category":
				v := Category(strings.TrimSpace(s))
				info.Categories = append(info.Categories, v)
				err = enumErr(v.Valid(), c, p, s, categoryValues)
			case "event":
				info.Event = s
			case "responseType":
				v := ResponseType(strings.TrimSpace(s))
				info.ResponseType = append(info.ResponseType, v)
				err = enumErr(v.Valid(), c, p, s, responseValues)
			case "urgency":
				info.Urgency = Urgency(strings.TrimSpace(s))
				err = enumErr(info.Urgency.Valid(), c, p, s, urgencyValues)
			case "severity":
				info.Severity = Severity(strings.TrimSpace(s))
				err = enumErr(info.Severity.Valid(), c, p, s, severityValues)
			case "certainty":
				info.Certainty = Certainty(strings.TrimSpace(s))
				err = enumErr(info.Certainty.Valid(), c, p, s, certaintyValues)
			case "audience":
				info.Audience = s
				info.present |= mark(s, hasAudience)
			case "effective":
				info.Effective, err = d.time(c, p, s)
			case "onset":
				info.Onset, err = d.time(c, p, s)
			case "expires":
				info.Expires, err = d.time(c, p, s)
			case "senderName":
				info.SenderName = s
				info.present |= mark(s, hasSenderName)
			case "headline":
				info.Headline = s
				info.present |= mark(s, hasHeadline)
			case "description":
				info.Description = s
				info.present |= mark(s, hasDescription)
			case "instruction":
				info.Instruction = s
				info.present |= mark(s, hasInstruction)
			case "web":
				info.Web = strings.TrimSpace(s)
				info.present |= mark(info.Web, hasWeb)
			case "contact":
				info.Contact = s
				info.present |= mark(s, hasContact)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for _, req := range []string{"category", "event", "urgency", "severity", "certainty"} {
		if seen[req] == 0 {
			return nil, errf(ErrSchema, path, n.line, "required element <%s> is missing", req)
		}
	}
	return info, nil
}

func (d *dec) valuePair(n *node, path string) (ValuePair, error) {
	var vp ValuePair
	seen := map[string]int{}
	for _, c := range n.children {
		p := path + "/" + c.name.Local
		if c.name.Space != Namespace || (c.name.Local != "valueName" && c.name.Local != "value") {
			return vp, errf(ErrSchema, p, c.line, "unexpected element; want <valueName> then <value>")
		}
		if seen[c.name.Local]++; seen[c.name.Local] > 1 {
			return vp, errf(ErrSchema, p, c.line, "element appears more than once")
		}
		s, err := d.text(c, p)
		if err != nil {
			return vp, err
		}
		if c.name.Local == "valueName" {
			vp.ValueName = s
		} else {
			vp.Value = s
		}
	}
	if seen["valueName"] == 0 || seen["value"] == 0 {
		return vp, errf(ErrSchema, path, n.line, "needs both <valueName> and <value>")
	}
	return vp, nil
}

func (d *dec) resource(n *node, path string) (*Resource, error) {
	r := &Resource{}
	seen := map[string]int{}
	for _, c := range n.children {
		p := path + "/" + c.name.Local
		if c.name.Space != Namespace {
			return nil, errf(ErrSchema, p, c.line, "element in namespace %q is not allowed in <resource>", c.name.Space)
		}
		switch c.name.Local {
		case "resourceDesc", "mimeType", "size", "uri", "derefUri", "digest":
		default:
			return nil, errf(ErrSchema, p, c.line, "unknown element in <resource>")
		}
		if seen[c.name.Local]++; seen[c.name.Local] > 1 {
			return nil, errf(ErrSchema, p, c.line, "element appears more than once")
		}
		s, err := d.text(c, p)
		if err != nil {
			return nil, err
		}
		switch c.name.Local {
		case "resourceDesc":
			r.ResourceDesc = s
		case "mimeType":
			r.MimeType = s
		case "size":
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, errf(ErrSchema, p, c.line, "%q is not an integer", s)
			}
			r.Size = &v
		case "uri":
			r.URI = strings.TrimSpace(s)
			r.present |= mark(r.URI, hasURI)
		case "derefUri":
			r.DerefURI = s
			r.present |= mark(s, hasDerefURI)
		case "digest":
			r.Digest = s
			r.present |= mark(s, hasDigest)
		}
	}
	for _, req := range []string{"resourceDesc", "mimeType"} {
		if seen[req] == 0 {
			return nil, errf(ErrSchema, path, n.line, "required element <%s> is missing", req)
		}
	}
	return r, nil
}

func (d *dec) area(n *node, path string) (*Area, error) {
	a := &Area{}
	seen := map[string]int{}
	for _, c := range n.children {
		p := path + "/" + c.name.Local
		if c.name.Space != Namespace {
			return nil, errf(ErrSchema, p, c.line, "element in namespace %q is not allowed in <area>", c.name.Space)
		}
		idx := seen[c.name.Local]
		seen[c.name.Local]++
		switch c.name.Local {
		case "areaDesc", "altitude", "ceiling":
			if idx > 0 {
				return nil, errf(ErrSchema, p, c.line, "element appears more than once")
			}
		case "polygon", "circle", "geocode":
			p = fmt.Sprintf("%s[%d]", p, idx)
		default:
			return nil, errf(ErrSchema, p, c.line, "unknown element in <area>")
		}
		if c.name.Local == "geocode" {
			vp, err := d.valuePair(c, p)
			if err != nil {
				return nil, err
			}
			a.Geocodes = append(a.Geocodes, vp)
			continue
		}
		s, err := d.text(c, p)
		if err != nil {
			return nil, err
		}
		switch c.name.Local {
		case "areaDesc":
			a.AreaDesc = s
		case "polygon":
			pg, err := ParsePolygon(s)
			if err != nil {
				return nil, errf(ErrSchema, p, c.line, "%v", err)
			}
			a.Polygons = append(a.Polygons, pg)
		case "circle":
			ci, err := ParseCircle(s)
			if err != nil {
				return nil, errf(ErrSchema, p, c.line, "%v", err)
			}
			a.Circles = append(a.Circles, ci)
		case "altitude", "ceiling":
			v, err := parseNumber(strings.TrimSpace(s))
			if err != nil {
				return nil, errf(ErrSchema, p, c.line, "%v", err)
			}
			if c.name.Local == "altitude" {
				a.Altitude = &v
			} else {
				a.Ceiling = &v
			}
		}
	}
	if seen["areaDesc"] == 0 {
		return nil, errf(ErrSchema, path, n.line, "required element <areaDesc> is missing")
	}
	return a, nil
}

// validLanguage checks xs:language: [a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*.
func validLanguage(s string) bool {
	for i, part := range strings.Split(s, "-") {
		if len(part) < 1 || len(part) > 8 {
			return false
		}
		for _, c := range part {
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// splitList splits a CAP space-delimited list in which entries containing spaces are
// enclosed in double quotes (<addresses>, <incidents>).
func splitList(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated double quote in list %q", truncate(s, 60))
			}
			out = append(out, s[1:1+end])
			s = strings.TrimLeft(s[2+end:], " \t\r\n")
			continue
		}
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = strings.TrimLeft(s[end:], " \t\r\n")
	}
	return out, nil
}

// parseReferences parses "sender,identifier,sent" entries separated by white space.
func parseReferences(s string) ([]Reference, error) {
	var out []Reference
	for i, f := range strings.Fields(s) {
		parts := strings.Split(f, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("reference %d %q is not \"sender,identifier,sent\"", i, f)
		}
		t, err := ParseTime(parts[2])
		if err != nil {
			return nil, fmt.Errorf("reference %d %q: %v", i, f, err)
		}
		out = append(out, Reference{Sender: parts[0], Identifier: parts[1], Sent: t})
	}
	return out, nil
}

// mark returns p when s is empty: an optional element present but empty is remembered so that
// Marshal writes it back; a non-empty one is written anyway.
func mark(s string, p presence) presence {
	if s == "" {
		return p
	}
	return 0
}
