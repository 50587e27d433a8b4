package sensorthings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// writer builds a response body. Properties come out in the data model's order, so responses
// are stable (golden files) and readable. With rw set, a large body streams: whenever more
// than spillAt bytes are buffered between two entities of a collection they go to rw (the
// status, 200, is then sent), so that a response never exists twice in memory (the entities,
// and their JSON). Without rw, done writes it all.
type writer struct {
	b       bytes.Buffer
	base    string
	rw      http.ResponseWriter
	started bool
}

// spillAt is how many buffered bytes a streaming writer sends at once.
const spillAt = 32 << 10

// spill sends what is buffered when there is enough of it (only to a streaming writer).
func (w *writer) spill() {
	if w.rw == nil || w.b.Len() < spillAt {
		return
	}
	w.start(http.StatusOK)
	w.rw.Write(w.b.Bytes())
	w.b.Reset()
}

func (w *writer) start(status int) {
	if w.started {
		return
	}
	w.started = true
	w.rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.rw.WriteHeader(status)
}

func selfLink(base string, e *sensing.Entity) string {
	return base + "/" + e.Set + "(" + strconv.FormatInt(e.ID, 10) + ")"
}

func (w *writer) str(s string) {
	enc := json.NewEncoder(&w.b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	w.b.Truncate(w.b.Len() - 1) // Encode adds a newline
}

// number formats a float as JSON without an exponent where it can.
func number(x float64) string {
	if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func (w *writer) value(v any) {
	switch x := v.(type) {
	case nil:
		w.b.WriteString("null")
	case string:
		w.str(x)
	case json.RawMessage:
		if len(x) == 0 {
			w.b.WriteString("null")
			return
		}
		w.b.Write(x)
	case float64:
		w.b.WriteString(number(x))
	case int64:
		w.b.WriteString(strconv.FormatInt(x, 10))
	default:
		b, _ := json.Marshal(x)
		w.b.Write(b)
	}
}

// selection is what $select keeps of one JSON value: all of it, or only some members.
type selection struct {
	all  bool
	keys []string // members, in the order first selected
	sub  map[string]*selection
}

// add selects the member path (nil: the whole value).
func (s *selection) add(path []string) {
	if s.all {
		return
	}
	if len(path) == 0 {
		*s = selection{all: true}
		return
	}
	if s.sub == nil {
		s.sub = map[string]*selection{}
	}
	c, ok := s.sub[path[0]]
	if !ok {
		c = &selection{}
		s.sub[path[0]] = c
		s.keys = append(s.keys, path[0])
	}
	c.add(path[1:])
}

// selected returns the $select filter by property name: nil means everything.
func selected(o *odata.Options) map[string]*selection {
	if o == nil || len(o.Select) == 0 {
		return nil
	}
	m := make(map[string]*selection, len(o.Select))
	for _, it := range o.Select {
		s, ok := m[it.Name]
		if !ok {
			s = &selection{}
			m[it.Name] = s
		}
		s.add(it.Path)
	}
	return m
}

// pruned writes v keeping only the members sel selects: $select=properties/river gives
// "properties":{"river":"Indus"}, as FROST-Server does. A member that is absent is left out;
// an index (properties/list/0) selects an array element, written under its index as a member
// name; a value that is neither object nor array keeps no members ({}); null stays null.
func (w *writer) pruned(v any, sel *selection) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			w.value(v)
			return
		}
		raw = b
	}
	w.b.Write(prune(raw, sel))
}

func prune(raw json.RawMessage, sel *selection) []byte {
	if sel == nil || sel.all {
		return raw
	}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return []byte("null")
	}
	var obj map[string]json.RawMessage
	var arr []json.RawMessage
	switch t[0] {
	case '{':
		if json.Unmarshal(t, &obj) != nil {
			return []byte("null")
		}
	case '[':
		if json.Unmarshal(t, &arr) != nil {
			return []byte("null")
		}
	default:
		return []byte("{}")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, k := range sel.keys {
		var m json.RawMessage
		var ok bool
		if obj != nil {
			m, ok = obj[k]
		} else if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < len(arr) {
			m, ok = arr[i], true
		}
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(prune(m, sel.sub[k]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func (w *writer) entity(e *sensing.Entity, o *odata.Options) {
	sel := selected(o)
	set := sensing.Sets[e.Set]
	w.b.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			w.b.WriteByte(',')
		}
		first = false
	}
	self := selfLink(w.base, e)
	if sel == nil || sel["id"] != nil || sel["@iot.id"] != nil {
		comma()
		w.b.WriteString(`"@iot.id":`)
		w.b.WriteString(strconv.FormatInt(e.ID, 10))
		w.b.WriteString(`,"@iot.selfLink":`)
		w.str(self)
	}
	for _, p := range set.Props {
		if sel != nil && sel[p.Name] == nil {
			continue
		}
		comma()
		w.str(p.Name)
		w.b.WriteByte(':')
		if ps := sel[p.Name]; ps != nil && !ps.all {
			w.pruned(e.Props[p.Name], ps)
			continue
		}
		w.value(e.Props[p.Name])
	}
	for _, n := range set.Navs {
		if x, ok := e.Expanded[n.Name]; ok {
			comma()
			w.str(n.Name)
			w.b.WriteByte(':')
			if !x.IsMany {
				if x.One == nil {
					w.b.WriteString("null")
				} else {
					w.entity(x.One, expandOpts(o, n.Name))
				}
				continue
			}
			w.b.WriteByte('[')
			for i, c := range x.Many {
				if i > 0 {
					w.b.WriteByte(',')
				}
				w.entity(c, expandOpts(o, n.Name))
				w.spill()
			}
			w.b.WriteByte(']')
			if x.Count != nil {
				w.b.WriteString(`,"` + n.Name + `@iot.count":` + strconv.FormatInt(*x.Count, 10))
			}
			if x.Next != nil {
				w.b.WriteString(`,"` + n.Name + `@iot.nextLink":`)
				w.str(expandedNextLink(self, n.Name, expandOpts(o, n.Name), x.Top, x.Next))
			}
			continue
		}
		if sel != nil && sel[n.Name] == nil {
			continue
		}
		if e.Set == sensing.Observations && otherStream(e, n.Name) {
			continue
		}
		comma()
		w.str(n.Name + "@iot.navigationLink")
		w.b.WriteByte(':')
		w.str(self + "/" + n.Name)
	}
	w.b.WriteByte('}')
}

// otherStream tells whether nav is the one of an Observation's Datastream and MultiDatastream
// links that it does not have (an Observation belongs to one of the two, 18-088 §9), whose
// navigationLink would lead nowhere.
func otherStream(e *sensing.Entity, nav string) bool {
	_, multi := e.Props[sensing.MultiDatastreamIDProp]
	return (nav == "MultiDatastream" && !multi) || (nav == "Datastream" && multi)
}

// expandOpts returns the options nested in o's $expand for nav.
func expandOpts(o *odata.Options, nav string) *odata.Options {
	if o == nil {
		return nil
	}
	for _, it := range o.Expand {
		names := it.Names()
		if len(names) > 0 && names[0] == nav {
			if len(names) == 1 {
				return it.Options
			}
			// Datastreams/Observations: the first step is expanded with everything selected,
			// and the rest of the path nested below it.
			rest := it
			rest.Path = it.Path[1:]
			return &odata.Options{Expand: []odata.ExpandItem{rest}}
		}
	}
	return nil
}

// page writes a collection page, leaving the object open for a nextLink.
func (w *writer) page(set string, p *sensing.Page, o *odata.Options) {
	w.b.WriteByte('{')
	if p.Count != nil {
		w.b.WriteString(`"@iot.count":` + strconv.FormatInt(*p.Count, 10) + ",")
	}
	w.b.WriteString(`"value":[`)
	for i, e := range p.Entities {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.entity(e, o)
		w.spill()
	}
	w.b.WriteByte(']')
}

func (w *writer) refs(p *sensing.Page) {
	w.b.WriteByte('{')
	if p.Count != nil {
		w.b.WriteString(`"@iot.count":` + strconv.FormatInt(*p.Count, 10) + ",")
	}
	w.b.WriteString(`"value":[`)
	for i, e := range p.Entities {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.b.WriteString(`{"@iot.selfLink":`)
		w.str(selfLink(w.base, e))
		w.b.WriteByte('}')
		w.spill()
	}
	w.b.WriteByte(']')
}

func (w *writer) nextLink(r *http.Request, c *sensing.Cursor) {
	w.b.WriteString(`,"@iot.nextLink":`)
	w.str(nextLinkURL(w.base, r, c))
}

// done writes the response (the rest of it, for a streaming writer, whose rw it must be).
func (w *writer) done(rw http.ResponseWriter, status int) {
	w.rw = rw
	w.start(status)
	rw.Write(w.b.Bytes())
	w.b.Reset()
}

// dataArray writes a page of Observations in the dataArray result format (SensorThings 1.1,
// 14.3): one group per Datastream or MultiDatastream (its group has a
// "MultiDatastream@iot.navigationLink", 18-088 §9), components as $select gives them (default
// id, phenomenonTime, result), in the page's order within each group.
func (w *writer) dataArray(p *sensing.Page, o *odata.Options) {
	comps := []string{"id", "phenomenonTime", "result"}
	if len(o.Select) > 0 {
		comps = comps[:0]
		for _, it := range o.Select {
			if _, ok := sensing.Sets[sensing.Observations].Prop(it.Name); ok || it.Name == "id" {
				comps = append(comps, it.Name)
			}
		}
	}
	type stream struct {
		set string
		id  int64
	}
	var order []stream
	groups := map[stream][]*sensing.Entity{}
	for _, e := range p.Entities {
		ds := stream{sensing.Datastreams, 0}
		ds.id, _ = e.Props[sensing.DatastreamIDProp].(int64)
		if md, ok := e.Props[sensing.MultiDatastreamIDProp].(int64); ok {
			ds = stream{sensing.MultiDatastreams, md}
		}
		if _, ok := groups[ds]; !ok {
			order = append(order, ds)
		}
		groups[ds] = append(groups[ds], e)
	}
	w.b.WriteByte('{')
	if p.Count != nil {
		w.b.WriteString(`"@iot.count":` + strconv.FormatInt(*p.Count, 10) + ",")
	}
	w.b.WriteString(`"value":[`)
	for gi, ds := range order {
		if gi > 0 {
			w.b.WriteByte(',')
		}
		w.b.WriteString(`{"` + sensing.Sets[ds.set].Single + `@iot.navigationLink":`)
		w.str(w.base + "/" + ds.set + "(" + strconv.FormatInt(ds.id, 10) + ")")
		w.b.WriteString(`,"components":`)
		b, _ := json.Marshal(comps)
		w.b.Write(b)
		w.b.WriteString(`,"dataArray@iot.count":` + strconv.Itoa(len(groups[ds])) + `,"dataArray":[`)
		for i, e := range groups[ds] {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteByte('[')
			for j, c := range comps {
				if j > 0 {
					w.b.WriteByte(',')
				}
				if c == "id" {
					w.b.WriteString(strconv.FormatInt(e.ID, 10))
				} else {
					w.value(e.Props[c])
				}
			}
			w.b.WriteByte(']')
			w.spill()
		}
		w.b.WriteString("]}")
	}
	w.b.WriteByte(']')
}

// checkSelect refuses a $select (in o, and in the options of each $expand item, recursively)
// that names no property or navigation property of set, or members inside a property that is
// not JSON-valued: a 400 naming the option, the position and the name.
func checkSelect(set string, o *odata.Options) error {
	if o == nil {
		return nil
	}
	es, ok := sensing.Sets[set]
	if !ok {
		return nil
	}
	opt := "$select"
	if o.Origin != "" {
		opt = o.Origin
	}
	for _, it := range o.Select {
		if it.Name == "id" || it.Name == "@iot.id" {
			if len(it.Path) > 0 {
				return &odata.Error{Option: opt, Pos: it.P, Msg: fmt.Sprintf("%s: id has no members", it)}
			}
			continue
		}
		if _, ok := es.NavTo(it.Name); ok {
			if len(it.Path) > 0 {
				return &odata.Error{Option: opt, Pos: it.P, Msg: fmt.Sprintf("%s: select inside the navigation property %s with $expand=%s($select=...)", it, it.Name, it.Name)}
			}
			continue
		}
		p, ok := es.Prop(it.Name)
		if !ok {
			return &odata.Error{Option: opt, Pos: it.P, Msg: fmt.Sprintf("%s has no property %q", es.Single, it.Name)}
		}
		if len(it.Path) > 0 && p.Kind != sensing.KindJSON && p.Kind != sensing.KindGeometry && p.Kind != sensing.KindResult {
			return &odata.Error{Option: opt, Pos: it.P, Msg: fmt.Sprintf("%s: %s property %s has no members (only JSON-valued properties such as properties have)", it, es.Single, it.Name)}
		}
	}
	for _, x := range o.Expand {
		cur := set
		for _, seg := range x.Path {
			nav, ok := sensing.Sets[cur].NavTo(seg.Name)
			if !ok {
				return nil // the store names the unknown navigation property
			}
			cur = nav.Target
		}
		if err := checkSelect(cur, x.Options); err != nil {
			return err
		}
	}
	return nil
}
