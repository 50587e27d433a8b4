package cap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// Feed namespaces.
const (
	AtomNamespace = "http://www.w3.org/2005/Atom"
	capNSPrefix   = "urn:oasis:names:tc:emergency:cap:" // any CAP version, for index elements
	// ContentType is the media type of a CAP message, used on Atom links to the XML.
	ContentType = "application/cap+xml"
)

// Feed is an Atom 1.0 or RSS 2.0 feed of CAP alerts, as ParseFeed reads it.
type Feed struct {
	Format  string // "atom" or "rss"
	ID      string // Atom id; RSS has none
	Title   string
	Updated time.Time // Atom updated; RSS lastBuildDate or pubDate
	Links   []Link
	Entries []Entry
}

// Link is an Atom link (an RSS <link> becomes Rel "alternate").
type Link struct {
	Href string
	Rel  string // "" means "alternate"
	Type string
}

// Entry is one alert in a feed: an Atom entry or an RSS item. ParseFeed fills it from a feed;
// NewEntry fills it from an alert for WriteAtom. The CAP index fields are the cap: namespace
// elements aggregators read without fetching the alert (any CAP version's namespace is read).
type Entry struct {
	ID        string // Atom id or RSS guid
	Title     string
	Summary   string
	Author    string
	Updated   time.Time
	Published time.Time
	Links     []Link

	Event     string
	Status    Status
	MsgType   MsgType
	Severity  Severity
	Urgency   Urgency
	Certainty Certainty
	Effective time.Time
	Expires   time.Time
	AreaDesc  string
	Polygons  []Polygon

	// Alert is the CAP 1.2 alert embedded in the entry's content, if any; AlertErr says why
	// embedded content could not be decoded (e.g. a CAP 1.1 alert). A feed with one bad
	// embedded alert is still a feed.
	Alert    *Alert
	AlertErr error
}

// CAPLink returns the entry's link to the CAP XML: the first link typed
// application/cap+xml, else the first alternate link.
func (e *Entry) CAPLink() string {
	for _, l := range e.Links {
		if strings.EqualFold(l.Type, ContentType) {
			return l.Href
		}
	}
	for _, l := range e.Links {
		if l.Rel == "" || l.Rel == "alternate" {
			return l.Href
		}
	}
	return ""
}

// ParseFeed reads an Atom 1.0 or RSS 2.0 feed of CAP alerts with the same defences as
// Unmarshal (no DOCTYPE, size ≤ MaxFeedSize, bounded depth, UTF-8/Latin-1 only). It requires
// what the formats require: Atom feed and entry id, title and updated; an RSS item title or
// description; and of every entry a link to the CAP message or the message embedded. Atom
// elements it does not know are an error; foreign-namespace elements other than CAP index
// elements are ignored.
func ParseFeed(b []byte) (*Feed, error) {
	root, err := parseTree(b, MaxFeedSize)
	if err != nil {
		return nil, err
	}
	switch {
	case root.name.Space == AtomNamespace && root.name.Local == "feed":
		return parseAtom(root)
	case root.name.Space == "" && root.name.Local == "rss":
		return parseRSS(root)
	}
	return nil, errf(ErrFeed, "", root.line, "root element is <%s> in namespace %q, want an Atom <feed> or an RSS <rss>", root.name.Local, root.name.Space)
}

var (
	atomFeedElems  = " author category contributor generator icon id link logo rights subtitle title updated entry "
	atomEntryElems = " author category content contributor id link published rights source summary title updated "
)

func parseAtom(root *node) (*Feed, error) {
	f := &Feed{Format: "atom"}
	seen := map[string]int{}
	for _, c := range root.children {
		if c.name.Space != AtomNamespace {
			continue
		}
		p := "feed/" + c.name.Local
		if !strings.Contains(atomFeedElems, " "+c.name.Local+" ") {
			return nil, errf(ErrFeed, p, c.line, "unknown Atom element in <feed>")
		}
		idx := seen[c.name.Local]
		seen[c.name.Local]++
		switch c.name.Local {
		case "id":
			f.ID = strings.TrimSpace(c.Text())
		case "title":
			f.Title = strings.TrimSpace(c.Text())
		case "updated":
			t, err := parseFeedTime(c.Text())
			if err != nil {
				return nil, errf(ErrFeed, p, c.line, "%v", err)
			}
			f.Updated = t
		case "link":
			f.Links = append(f.Links, atomLink(c))
		case "entry":
			e, err := parseAtomEntry(c, fmt.Sprintf("feed/entry[%d]", idx))
			if err != nil {
				return nil, err
			}
			f.Entries = append(f.Entries, *e)
		}
	}
	for _, req := range []string{"id", "title", "updated"} {
		if seen[req] == 0 {
			return nil, errf(ErrFeed, "feed", root.line, "required element <%s> is missing", req)
		}
	}
	return f, nil
}

func atomLink(n *node) Link {
	var l Link
	for _, a := range n.attr {
		switch a.Name.Local {
		case "href":
			l.Href = strings.TrimSpace(a.Value)
		case "rel":
			l.Rel = a.Value
		case "type":
			l.Type = a.Value
		}
	}
	return l
}

func parseAtomEntry(n *node, path string) (*Entry, error) {
	e := &Entry{}
	seen := map[string]int{}
	for _, c := range n.children {
		p := path + "/" + c.name.Local
		if strings.HasPrefix(c.name.Space, capNSPrefix) {
			if err := e.capElement(c, path, p); err != nil {
				return nil, err
			}
			continue
		}
		if c.name.Space != AtomNamespace {
			continue
		}
		if !strings.Contains(atomEntryElems, " "+c.name.Local+" ") {
			return nil, errf(ErrFeed, p, c.line, "unknown Atom element in <entry>")
		}
		seen[c.name.Local]++
		switch c.name.Local {
		case "id":
			e.ID = strings.TrimSpace(c.Text())
		case "title":
			e.Title = strings.TrimSpace(c.Text())
		case "summary":
			e.Summary = strings.TrimSpace(c.Text())
		case "author":
			for _, a := range c.children {
				if a.name.Local == "name" {
					e.Author = strings.TrimSpace(a.Text())
				}
			}
		case "updated", "published":
			t, err := parseFeedTime(c.Text())
			if err != nil {
				return nil, errf(ErrFeed, p, c.line, "%v", err)
			}
			if c.name.Local == "updated" {
				e.Updated = t
			} else {
				e.Published = t
			}
		case "link":
			e.Links = append(e.Links, atomLink(c))
		case "content":
			e.embedded(c, p)
		}
	}
	for _, req := range []string{"id", "title", "updated"} {
		if seen[req] == 0 {
			return nil, errf(ErrFeed, path, n.line, "required element <%s> is missing", req)
		}
	}
	if e.CAPLink() == "" && e.Alert == nil && e.AlertErr == nil {
		return nil, errf(ErrFeed, path, n.line, "entry has neither a link to its CAP message nor the message embedded")
	}
	return e, nil
}

// embedded decodes a CAP alert carried as a child element of content.
func (e *Entry) embedded(c *node, path string) {
	for _, k := range c.children {
		if k.name.Local == "alert" {
			e.Alert, e.AlertErr = decodeAlertNode(k, path)
			return
		}
	}
}

func decodeAlertNode(n *node, path string) (*Alert, error) {
	a, err := decodeAlert(n, "alert")
	if err != nil {
		if ce, ok := err.(*Error); ok {
			ce2 := *ce
			ce2.Path = strings.TrimSuffix(path+"/"+ce.Path, "/")
			return nil, &ce2
		}
		return nil, err
	}
	return a, nil
}

// capElement reads a CAP-namespace child of an entry: an index element, or an <alert>. An
// <alert> is decoded if it is a whole CAP 1.2 message; its CAP-namespace children are also
// read as index elements, since some feeds (NWS) wrap the index in an <alert> fragment.
func (e *Entry) capElement(c *node, entryPath, p string) error {
	if c.name.Local != "alert" {
		return e.capIndex(c, p)
	}
	e.Alert, e.AlertErr = decodeAlertNode(c, entryPath)
	for i, k := range c.children {
		if strings.HasPrefix(k.name.Space, capNSPrefix) {
			if err := e.capIndex(k, fmt.Sprintf("%s/%s[%d]", p, k.name.Local, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// capIndex reads one cap: index element of an entry.
func (e *Entry) capIndex(c *node, p string) error {
	s := strings.TrimSpace(c.Text())
	var err error
	switch c.name.Local {
	case "event":
		e.Event = s
	case "status":
		e.Status = Status(s)
	case "msgType":
		e.MsgType = MsgType(s)
	case "severity":
		e.Severity = Severity(s)
	case "urgency":
		e.Urgency = Urgency(s)
	case "certainty":
		e.Certainty = Certainty(s)
	case "areaDesc":
		e.AreaDesc = s
	case "effective", "expires":
		if s == "" {
			return nil
		}
		var t time.Time
		if t, err = parseFeedTime(s); err == nil {
			if c.name.Local == "effective" {
				e.Effective = t
			} else {
				e.Expires = t
			}
		}
	case "polygon":
		if s == "" { // NWS feeds carry empty polygons
			return nil
		}
		var pg Polygon
		if pg, err = ParsePolygon(s); err == nil {
			e.Polygons = append(e.Polygons, pg)
		}
	}
	if err != nil {
		return errf(ErrFeed, p, c.line, "%v", err)
	}
	return nil
}

var rssTimeLayouts = []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 MST", time.RFC3339}

func parseFeedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", s)
}

func parseRSSTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range rssTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 822 date-time", s)
}

func parseRSS(root *node) (*Feed, error) {
	f := &Feed{Format: "rss"}
	var ch *node
	for _, c := range root.children {
		if c.name.Local == "channel" && c.name.Space == "" {
			if ch != nil {
				return nil, errf(ErrFeed, "rss/channel", c.line, "more than one <channel>")
			}
			ch = c
		}
	}
	if ch == nil {
		return nil, errf(ErrFeed, "rss", root.line, "required element <channel> is missing")
	}
	item := 0
	for _, c := range ch.children {
		if c.name.Space != "" {
			continue
		}
		p := "rss/channel/" + c.name.Local
		switch c.name.Local {
		case "title":
			f.Title = strings.TrimSpace(c.Text())
		case "link":
			f.Links = append(f.Links, Link{Href: strings.TrimSpace(c.Text())})
		case "lastBuildDate", "pubDate":
			t, err := parseRSSTime(c.Text())
			if err != nil {
				return nil, errf(ErrFeed, p, c.line, "%v", err)
			}
			if f.Updated.IsZero() || c.name.Local == "lastBuildDate" {
				f.Updated = t
			}
		case "item":
			e, err := parseRSSItem(c, fmt.Sprintf("rss/channel/item[%d]", item))
			item++
			if err != nil {
				return nil, err
			}
			f.Entries = append(f.Entries, *e)
		}
	}
	return f, nil
}

func parseRSSItem(n *node, path string) (*Entry, error) {
	e := &Entry{}
	for _, c := range n.children {
		p := path + "/" + c.name.Local
		if strings.HasPrefix(c.name.Space, capNSPrefix) {
			if err := e.capElement(c, path, p); err != nil {
				return nil, err
			}
			continue
		}
		if c.name.Space != "" {
			continue
		}
		switch c.name.Local {
		case "title":
			e.Title = strings.TrimSpace(c.Text())
		case "description":
			e.Summary = strings.TrimSpace(c.Text())
			e.embedded(c, p)
		case "guid":
			e.ID = strings.TrimSpace(c.Text())
		case "author":
			e.Author = strings.TrimSpace(c.Text())
		case "link":
			e.Links = append(e.Links, Link{Href: strings.TrimSpace(c.Text())})
		case "enclosure":
			l := atomLink(c)
			for _, a := range c.attr {
				if a.Name.Local == "url" {
					l.Href = strings.TrimSpace(a.Value)
				}
			}
			l.Rel = "enclosure"
			e.Links = append(e.Links, l)
		case "pubDate":
			t, err := parseRSSTime(c.Text())
			if err != nil {
				return nil, errf(ErrFeed, p, c.line, "%v", err)
			}
			e.Published, e.Updated = t, t
		}
	}
	if e.Title == "" && e.Summary == "" {
		return nil, errf(ErrFeed, path, n.line, "an item needs a <title> or a <description>")
	}
	if e.CAPLink() == "" && e.Alert == nil && e.AlertErr == nil {
		return nil, errf(ErrFeed, path, n.line, "item has neither a link to its CAP message nor the message embedded")
	}
	return e, nil
}

// FeedInfo describes the feed WriteAtom writes.
type FeedInfo struct {
	ID      string    // stable URI of the feed, e.g. https://islamabad.rabta.example/cap/feed.atom
	Title   string    // e.g. "Rabta Islamabad: active alerts"
	SelfURL string    // where the feed is served (rel="self")
	Author  string    // the issuing organisation
	Updated time.Time // zero means the latest entry's Updated
}

// NewEntry summarises a for a feed: capURL is where its CAP XML is served; lang picks the
// info block (exact match, then language prefix, then the first).
func NewEntry(a *Alert, capURL, lang string) Entry {
	e := Entry{
		ID:        capURL,
		Author:    a.Sender,
		Updated:   a.Sent,
		Published: a.Sent,
		Status:    a.Status,
		MsgType:   a.MsgType,
		Links:     []Link{{Href: capURL, Rel: "alternate", Type: ContentType}},
	}
	if len(a.Infos) == 0 {
		e.Title = a.Identifier
		return e
	}
	in := &a.Infos[0]
	for i := range a.Infos {
		if strings.EqualFold(a.Infos[i].Language, lang) {
			in = &a.Infos[i]
			break
		}
		if prefix, _, _ := strings.Cut(a.Infos[i].Language, "-"); lang != "" && strings.EqualFold(prefix, lang) {
			in = &a.Infos[i]
		}
	}
	e.Title = in.Headline
	if e.Title == "" {
		e.Title = in.Event
	}
	e.Summary = in.Description
	if in.SenderName != "" {
		e.Author = in.SenderName
	}
	e.Event, e.Severity, e.Urgency, e.Certainty = in.Event, in.Severity, in.Urgency, in.Certainty
	e.Effective, e.Expires = in.Effective, in.Expires
	if e.Effective.IsZero() {
		e.Effective = a.Sent
	}
	var descs []string
	for _, ar := range in.Areas {
		descs = append(descs, ar.AreaDesc)
		e.Polygons = append(e.Polygons, ar.Polygons...)
	}
	e.AreaDesc = strings.Join(descs, "; ")
	return e
}

// WriteAtom writes an Atom 1.0 feed of entries in the shape alert aggregators (WMO Alert Hub,
// IFRC Alert Hub, Google Public Alerts) consume: one entry per alert with id, title (the
// headline), updated, published, author, summary, a link rel="alternate" typed
// application/cap+xml to the CAP XML, and cap: (CAP 1.2 namespace) index elements. Entries
// are written in the order given. Alerts embedded in entries are not written (index feed).
func WriteAtom(w io.Writer, f FeedInfo, entries []Entry) error {
	if f.ID == "" || f.Title == "" {
		return errf(ErrFeed, "feed", 0, "FeedInfo needs ID and Title")
	}
	updated := f.Updated
	if updated.IsZero() {
		for _, e := range entries {
			if e.Updated.After(updated) {
				updated = e.Updated
			}
		}
	}
	if updated.IsZero() {
		return errf(ErrFeed, "feed/updated", 0, "no time to put in <updated>: set FeedInfo.Updated")
	}
	fw := &feedWriter{}
	b := &fw.b
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<feed xmlns="` + AtomNamespace + `" xmlns:cap="` + Namespace + `">` + "\n")
	fw.elem(1, "feed", "id", f.ID)
	fw.elem(1, "feed", "title", f.Title)
	fw.elem(1, "feed", "updated", atomTime(updated))
	if f.Author != "" {
		b.WriteString("  <author>\n")
		fw.elem(2, "feed/author", "name", f.Author)
		b.WriteString("  </author>\n")
	}
	if f.SelfURL != "" {
		fw.link(1, Link{Href: f.SelfURL, Rel: "self", Type: "application/atom+xml"})
	}
	for i, e := range entries {
		p := fmt.Sprintf("feed/entry[%d]", i)
		if e.ID == "" || e.Title == "" || e.Updated.IsZero() {
			fw.fail(p, "an entry needs ID, Title and Updated")
			continue
		}
		b.WriteString("  <entry>\n")
		fw.elem(2, p, "id", e.ID)
		fw.elem(2, p, "title", e.Title)
		fw.elem(2, p, "updated", atomTime(e.Updated))
		if !e.Published.IsZero() {
			fw.elem(2, p, "published", atomTime(e.Published))
		}
		if e.Author != "" {
			b.WriteString("    <author>\n")
			fw.elem(3, p+"/author", "name", e.Author)
			b.WriteString("    </author>\n")
		}
		if e.Summary != "" {
			fw.elem(2, p, "summary", e.Summary)
		}
		for _, l := range e.Links {
			fw.link(2, l)
		}
		fw.elem(2, p, "cap:event", e.Event)
		fw.elem(2, p, "cap:status", string(e.Status))
		fw.elem(2, p, "cap:msgType", string(e.MsgType))
		fw.elem(2, p, "cap:urgency", string(e.Urgency))
		fw.elem(2, p, "cap:severity", string(e.Severity))
		fw.elem(2, p, "cap:certainty", string(e.Certainty))
		if !e.Effective.IsZero() {
			fw.elem(2, p, "cap:effective", FormatTime(e.Effective))
		}
		if !e.Expires.IsZero() {
			fw.elem(2, p, "cap:expires", FormatTime(e.Expires))
		}
		fw.elem(2, p, "cap:areaDesc", e.AreaDesc)
		for _, pg := range e.Polygons {
			fw.elem(2, p, "cap:polygon", pg.String())
		}
		b.WriteString("  </entry>\n")
	}
	b.WriteString("</feed>\n")
	if len(fw.errs) > 0 {
		return fw.errs
	}
	_, err := w.Write(b.Bytes())
	return err
}

type feedWriter struct {
	b    bytes.Buffer
	errs Errors
}

func (fw *feedWriter) fail(path, format string, args ...any) {
	fw.errs = append(fw.errs, errf(ErrFeed, path, 0, format, args...))
}

func (fw *feedWriter) elem(depth int, parent, name, s string) {
	if strings.HasPrefix(name, "cap:") && s == "" {
		return
	}
	if r, ok := validXMLText(s); !ok {
		fw.fail(parent+"/"+name, "text holds %U, which XML 1.0 cannot carry", r)
		return
	}
	fw.b.WriteString(strings.Repeat("  ", depth) + "<" + name + ">")
	escapeText(&fw.b, s)
	fw.b.WriteString("</" + name + ">\n")
}

func (fw *feedWriter) link(depth int, l Link) {
	fw.b.WriteString(strings.Repeat("  ", depth) + `<link href="`)
	escapeAttr(&fw.b, l.Href)
	fw.b.WriteByte('"')
	if l.Rel != "" {
		fw.b.WriteString(` rel="`)
		escapeAttr(&fw.b, l.Rel)
		fw.b.WriteByte('"')
	}
	if l.Type != "" {
		fw.b.WriteString(` type="`)
		escapeAttr(&fw.b, l.Type)
		fw.b.WriteByte('"')
	}
	fw.b.WriteString("/>\n")
}

// atomTime formats an Atom date (RFC 3339): UTC with "Z", since RFC 3339 reads CAP's "-00:00"
// as "offset unknown".
func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
