package rule

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxYAMLSize is the largest rules file ParseYAML reads.
const MaxYAMLSize = 1 << 20

// maxNodes bounds the work of decoding one file, aliases included: an anchor used many times
// is decoded each time, and this keeps a "billion laughs" file from taking the process down.
const maxNodes = 200_000

// ParseYAML reads a rules file and validates every rule in it. name is used in error
// positions only. The file is a mapping with one key, "rules", holding a list of rules;
// field names are the JSON names of Rule (see docs/rules.md). Unknown fields are errors, so
// that a typo ("hystersis") is not silently ignored. Only the first YAML document is read.
//
// On error the result is an ErrorList of positioned errors, e.g.
//
//	rules.yaml:12:5: rules[1].levels[2].value: must be greater than the previous level (375000)
//
// and no rules are returned: a file is applied whole or not at all.
func ParseYAML(name string, b []byte) (rules []Rule, err error) {
	if len(b) > MaxYAMLSize {
		return nil, ErrorList{{File: name, Msg: fmt.Sprintf("file is %d bytes; at most %d", len(b), MaxYAMLSize)}}
	}
	defer func() {
		// The YAML library is third-party code at a trust boundary: bad input must give an
		// error, never take the process down.
		if p := recover(); p != nil {
			rules, err = nil, ErrorList{{File: name, Msg: fmt.Sprintf("yaml: cannot parse: %v", p)}}
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, ErrorList{syntaxError(name, err)}
	}
	d := &decoder{file: name}
	rules = d.file_(&doc)
	if len(d.errs) > 0 {
		d.errs.sort()
		if len(d.errs) > maxErrors {
			d.errs = append(d.errs[:maxErrors], &FieldError{File: name, Msg: "too many errors"})
		}
		return nil, d.errs
	}
	return rules, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns "yaml: line 3: mapping values are not allowed" into a positioned error.
func syntaxError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Msg: "yaml: " + m[2]}
	}
	return &FieldError{File: file, Msg: msg}
}

type decoder struct {
	file  string
	errs  ErrorList
	nodes int
	// pos maps a field path relative to the rule being decoded to its node, so that the
	// errors of Rule.validate can be positioned.
	pos map[string]*yaml.Node
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) > maxErrors {
		return
	}
	e := &FieldError{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// resolve follows aliases and unwraps documents, and counts the work done. Once the budget
// of maxNodes is spent it reports that once and returns nil for everything.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && depth < 100; depth++ {
		d.nodes++
		if d.nodes == maxNodes+1 {
			d.errorf(n, "", "file is too complex (more than %d YAML nodes, aliases expanded)", maxNodes)
		}
		if d.nodes > maxNodes {
			return nil
		}
		switch n.Kind {
		case yaml.AliasNode:
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

func (d *decoder) tooBig() bool { return d.nodes > maxNodes }

func (d *decoder) file_(doc *yaml.Node) []Rule {
	top := d.resolve(doc)
	if top == nil || top.Kind == 0 || (top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
		d.errorf(doc, "", "file is empty; expected a mapping with a \"rules\" list")
		return nil
	}
	if top.Kind != yaml.MappingNode {
		d.errorf(top, "", "expected a mapping with a \"rules\" list, not %s", kindName(top))
		return nil
	}
	var list, advs *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value == "advisories" {
			advs = d.resolve(v)
			if advs == nil || advs.Kind != yaml.SequenceNode {
				d.errorf(v, "advisories", "must be a list of advisories, not %s", kindName(v))
				return nil
			}
			continue
		}
		if k.Value == "rules" {
			list = d.resolve(v)
			if list == nil || list.Kind != yaml.SequenceNode {
				d.errorf(v, "rules", "must be a list of rules, not %s", kindName(v))
				return nil
			}
			continue
		}
		d.errorf(k, k.Value, "unknown field (the file has two fields, \"rules\" and \"advisories\")")
	}
	if list == nil && advs == nil {
		d.errorf(top, "rules", "is required")
		return nil
	}
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode}
	}
	rules := make([]Rule, 0, len(list.Content))
	ids := map[string]string{} // rule id → where the file makes it
	if advs != nil {
		for i, an := range advs.Content {
			if d.tooBig() {
				return nil
			}
			prefix := fmt.Sprintf("advisories[%d]", i)
			for _, r := range d.advisory(an, prefix) {
				if w, dup := ids[r.ID]; dup {
					d.errorf(an, prefix, "makes rule id %q, which %s makes too", r.ID, w)
				}
				ids[r.ID] = prefix
				rules = append(rules, r)
			}
		}
	}
	for i, rn := range list.Content {
		if d.tooBig() {
			return nil
		}
		prefix := fmt.Sprintf("rules[%d]", i)
		r, idNode := d.rule(rn, prefix)
		if r.ID != "" {
			if w, dup := ids[r.ID]; dup {
				d.errorf(idNode, prefix+".id", "repeats %s (%q)", w, r.ID)
			}
			ids[r.ID] = prefix + ".id"
		}
		rules = append(rules, r)
	}
	return rules
}

// rule decodes one rule and validates it, positioning validation errors at the offending
// field, or at the rule itself for a missing field.
func (d *decoder) rule(n *yaml.Node, prefix string) (Rule, *yaml.Node) {
	var r Rule
	d.pos = map[string]*yaml.Node{"": n}
	before := len(d.errs)
	n = d.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(n, prefix, "must be a mapping (a rule), not %s", kindName(n))
		return r, nil
	}
	d.pos[""] = n
	d.fields(n, prefix, "", map[string]func(v *yaml.Node, path string){
		"id":          func(v *yaml.Node, p string) { r.ID = d.str(v, joinPath(prefix, p)) },
		"name":        func(v *yaml.Node, p string) { r.Name = d.str(v, joinPath(prefix, p)) },
		"kind":        func(v *yaml.Node, p string) { r.Kind = Kind(d.str(v, joinPath(prefix, p))) },
		"datastreams": func(v *yaml.Node, p string) { r.Datastreams = d.ints(v, prefix, p) },
		"aggregate":   func(v *yaml.Node, p string) { r.Aggregate = Aggregate(d.str(v, joinPath(prefix, p))) },
		"count":       func(v *yaml.Node, p string) { r.Count = int(d.int(v, joinPath(prefix, p))) },
		"forecast":    func(v *yaml.Node, p string) { r.Forecast = d.bool(v, joinPath(prefix, p)) },
		"horizon":     func(v *yaml.Node, p string) { r.Horizon = d.duration(v, joinPath(prefix, p)) },
		"window":      func(v *yaml.Node, p string) { r.Window = d.duration(v, joinPath(prefix, p)) },
		"maxGap":      func(v *yaml.Node, p string) { r.MaxGap = d.duration(v, joinPath(prefix, p)) },
		"direction":   func(v *yaml.Node, p string) { r.Direction = Direction(d.str(v, joinPath(prefix, p))) },
		"levels":      func(v *yaml.Node, p string) { r.Levels = d.levels(v, prefix, p) },
		"hysteresis":  func(v *yaml.Node, p string) { r.Hysteresis = d.margin(v, joinPath(prefix, p)) },
		"hold":        func(v *yaml.Node, p string) { r.Hold = d.duration(v, joinPath(prefix, p)) },
		"clearHold":   func(v *yaml.Node, p string) { r.ClearHold = d.duration(v, joinPath(prefix, p)) },
		"ignoreSuspect": func(v *yaml.Node, p string) {
			r.IgnoreSuspect = d.bool(v, joinPath(prefix, p))
		},
		"area":        func(v *yaml.Node, p string) { r.Area = d.area(v, prefix, p) },
		"autoIssue":   func(v *yaml.Node, p string) { r.AutoIssue = d.bool(v, joinPath(prefix, p)) },
		"status":      func(v *yaml.Node, p string) { r.Status = Status(d.str(v, joinPath(prefix, p))) },
		"audience":    func(v *yaml.Node, p string) { r.Audience = d.str(v, joinPath(prefix, p)) },
		"templates":   func(v *yaml.Node, p string) { r.Templates = d.templates(v, prefix, p) },
		"operational": func(v *yaml.Node, p string) { r.Operational = d.bool(v, joinPath(prefix, p)) },
		"category":    func(v *yaml.Node, p string) { r.Category = d.str(v, joinPath(prefix, p)) },
		"audiences":   func(v *yaml.Node, p string) { r.Audiences = d.strs(v, prefix, p) },
		"months": func(v *yaml.Node, p string) {
			for _, m := range d.ints(v, prefix, p) {
				r.Months = append(r.Months, int(m))
			}
		},
	})
	if len(d.errs) > before {
		// A field that did not decode would give a second, misleading error from validate.
		return r, d.pos["id"]
	}
	r.validate(func(path, format string, args ...any) {
		d.errorf(d.nodeFor(path), joinPath(prefix, path), format, args...)
	})
	return r.withDefaults(), d.pos["id"]
}

// advisory decodes one advisory (a rule template) and expands it into its rules (Expand),
// positioning errors at the offending field.
func (d *decoder) advisory(n *yaml.Node, prefix string) []Rule {
	var a Advisory
	d.pos = map[string]*yaml.Node{"": n}
	before := len(d.errs)
	n = d.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(n, prefix, "must be a mapping (an advisory), not %s", kindName(n))
		return nil
	}
	d.pos[""] = n
	id := func(v *yaml.Node, p string) int64 { return d.int(v, joinPath(prefix, p)) }
	d.fields(n, prefix, "", map[string]func(v *yaml.Node, path string){
		"id":          func(v *yaml.Node, p string) { a.ID = d.str(v, joinPath(prefix, p)) },
		"type":        func(v *yaml.Node, p string) { a.Type = d.str(v, joinPath(prefix, p)) },
		"place":       func(v *yaml.Node, p string) { a.Place = d.str(v, joinPath(prefix, p)) },
		"temperature": func(v *yaml.Node, p string) { a.Temperature = id(v, p) },
		"humidity":    func(v *yaml.Node, p string) { a.Humidity = id(v, p) },
		"pm25":        func(v *yaml.Node, p string) { a.PM25 = id(v, p) },
		"rain":        func(v *yaml.Node, p string) { a.Rain = id(v, p) },
		"standard":    func(v *yaml.Node, p string) { a.Standard = d.str(v, joinPath(prefix, p)) },
		"crop":        func(v *yaml.Node, p string) { a.Crop = d.str(v, joinPath(prefix, p)) },
		"threshold":   func(v *yaml.Node, p string) { a.Threshold = d.float(v, joinPath(prefix, p)) },
		"audiences":   func(v *yaml.Node, p string) { a.Audiences = d.strs(v, prefix, p) },
		"area":        func(v *yaml.Node, p string) { a.Area = d.area(v, prefix, p) },
		"status":      func(v *yaml.Node, p string) { a.Status = Status(d.str(v, joinPath(prefix, p))) },
		"autoIssue":   func(v *yaml.Node, p string) { a.AutoIssue = d.bool(v, joinPath(prefix, p)) },
	})
	if len(d.errs) > before {
		return nil
	}
	if a.ID == "" {
		d.errorf(n, prefix+".id", "is required")
		return nil
	}
	rules, err := Expand(a)
	if err != nil {
		for _, fe := range err.(ErrorList) {
			path := fe.Path
			if i := strings.Index(path, ")."); strings.HasPrefix(path, "(") && i > 0 {
				path = path[i+2:] // an expanded rule's field: position it at the advisory's own field
			}
			d.errorf(d.nodeFor(path), joinPath(prefix, fe.Path), "%s", fe.Msg)
		}
		return nil
	}
	return rules
}

// nodeFor finds the node of path, or of its closest ancestor that exists in the file.
func (d *decoder) nodeFor(path string) *yaml.Node {
	for {
		if n, ok := d.pos[path]; ok {
			return n
		}
		i := max(strings.LastIndexAny(path, ".["), 0)
		if path == "" {
			return nil
		}
		path = path[:i]
	}
}

func joinPath(prefix, p string) string {
	switch {
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}

// fields decodes a mapping with the given field decoders. rel is the path of the mapping
// relative to the rule ("" for the rule itself); each decoder gets its field's node and
// rule-relative path ("levels", "area.desc").
func (d *decoder) fields(n *yaml.Node, prefix, rel string, fs map[string]func(v *yaml.Node, path string)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := k.Value
		if rel != "" {
			p = rel + "." + k.Value
		}
		f, ok := fs[k.Value]
		if !ok {
			d.errorf(k, joinPath(prefix, p), "unknown field%s", suggest(k.Value, fs))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, joinPath(prefix, p), "appears twice")
			continue
		}
		seen[k.Value] = true
		d.pos[p] = v
		f(v, p)
	}
}

// suggest returns ` (did you mean "hysteresis"?)` for a near miss.
func suggest[V any](got string, fs map[string]V) string {
	best, bestD := "", 3
	for _, k := range sortedKeys(fs) {
		if dd := editDistance(strings.ToLower(got), strings.ToLower(k)); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported YAML node"
}

// scalar returns the scalar node n resolves to, or reports an error and returns nil.
func (d *decoder) scalar(n *yaml.Node, path, want string) *yaml.Node {
	v := d.resolve(n)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errorf(n, path, "must be %s, not %s", want, kindName(v))
		return nil
	}
	return v
}

func (d *decoder) str(n *yaml.Node, path string) string {
	v := d.scalar(n, path, "a string")
	if v == nil {
		return ""
	}
	return v.Value
}

func (d *decoder) bool(n *yaml.Node, path string) bool {
	v := d.scalar(n, path, "true or false")
	if v == nil {
		return false
	}
	if v.Tag != "!!bool" {
		d.errorf(v, path, "must be true or false, not %q", v.Value)
		return false
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		d.errorf(v, path, "must be true or false, not %q", v.Value)
	}
	return b
}

func (d *decoder) int(n *yaml.Node, path string) int64 {
	v := d.scalar(n, path, "an integer")
	if v == nil {
		return 0
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 10, 64)
	if err != nil || v.Tag != "!!int" {
		d.errorf(v, path, "must be an integer, not %q", v.Value)
		return 0
	}
	return i
}

func (d *decoder) float(n *yaml.Node, path string) float64 {
	v := d.scalar(n, path, "a number")
	if v == nil {
		return 0
	}
	if v.Tag != "!!int" && v.Tag != "!!float" {
		d.errorf(v, path, "must be a number, not %q", v.Value)
		return 0
	}
	var f float64
	if err := v.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.errorf(v, path, "must be a finite number, not %q", v.Value)
		return 0
	}
	return f
}

// duration reads a Go duration ("90m", "24h", "1h30m") or 0.
func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	v := d.scalar(n, path, `a duration like "6h"`)
	if v == nil {
		return 0
	}
	if v.Value == "0" {
		return 0
	}
	dur, err := time.ParseDuration(v.Value)
	if err != nil {
		d.errorf(v, path, `must be a duration like "30m" or "6h", not %q`, v.Value)
		return 0
	}
	return dur
}

func (d *decoder) margin(n *yaml.Node, path string) Margin {
	v := d.scalar(n, path, `a number or a percentage like "5%"`)
	if v == nil {
		return Margin{}
	}
	m, err := ParseMargin(v.Value)
	if err != nil {
		d.errorf(v, path, "%v", err)
	}
	return m
}

// list returns the items of the list n resolves to.
func (d *decoder) list(n *yaml.Node, path string) []*yaml.Node {
	v := d.resolve(n)
	if v == nil || v.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, not %s", kindName(v))
		return nil
	}
	return v.Content
}

func (d *decoder) mapping(n *yaml.Node, path string) *yaml.Node {
	v := d.resolve(n)
	if v == nil || v.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, not %s", kindName(v))
		return nil
	}
	return v
}

func (d *decoder) ints(n *yaml.Node, prefix, p string) []int64 {
	return listOf(d, n, prefix, p, d.int)
}

func (d *decoder) strs(n *yaml.Node, prefix, p string) []string {
	return listOf(d, n, prefix, p, d.str)
}

// listOf decodes the list at p (under prefix) item by item, remembering each item's position
// for errors found later ("p[i]").
func listOf[T any](d *decoder, n *yaml.Node, prefix, p string, item func(*yaml.Node, string) T) []T {
	items := d.list(n, joinPath(prefix, p))
	out := make([]T, 0, len(items))
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		d.pos[ip] = it
		out = append(out, item(it, joinPath(prefix, ip)))
	}
	return out
}

func (d *decoder) levels(n *yaml.Node, prefix, p string) []Level {
	items := d.list(n, joinPath(prefix, p))
	out := make([]Level, 0, len(items))
	for i, it := range items {
		lp := fmt.Sprintf("%s[%d]", p, i)
		d.pos[lp] = it
		m := d.mapping(it, joinPath(prefix, lp))
		if m == nil {
			continue
		}
		var l Level
		d.fields(m, prefix, lp, map[string]func(*yaml.Node, string){
			"name":      func(v *yaml.Node, q string) { l.Name = d.str(v, joinPath(prefix, q)) },
			"value":     func(v *yaml.Node, q string) { l.Value = d.float(v, joinPath(prefix, q)) },
			"severity":  func(v *yaml.Node, q string) { l.Severity = Severity(d.str(v, joinPath(prefix, q))) },
			"urgency":   func(v *yaml.Node, q string) { l.Urgency = Urgency(d.str(v, joinPath(prefix, q))) },
			"certainty": func(v *yaml.Node, q string) { l.Certainty = Certainty(d.str(v, joinPath(prefix, q))) },
			"event":     func(v *yaml.Node, q string) { l.Event = d.str(v, joinPath(prefix, q)) },
		})
		out = append(out, l)
	}
	return out
}

func (d *decoder) latlon(n *yaml.Node, prefix, p string) LatLon {
	items := d.list(n, joinPath(prefix, p))
	if items == nil {
		return LatLon{}
	}
	if len(items) != 2 {
		d.errorf(n, joinPath(prefix, p), "must be [latitude, longitude], has %d numbers", len(items))
		return LatLon{}
	}
	return LatLon{Lat: d.float(items[0], joinPath(prefix, p)+"[0]"), Lon: d.float(items[1], joinPath(prefix, p)+"[1]")}
}

func (d *decoder) area(n *yaml.Node, prefix, p string) Area {
	var a Area
	m := d.mapping(n, joinPath(prefix, p))
	if m == nil {
		return a
	}
	ap := p
	d.fields(m, prefix, ap, map[string]func(*yaml.Node, string){
		"desc": func(v *yaml.Node, q string) { a.Desc = d.str(v, joinPath(prefix, q)) },
		"polygons": func(v *yaml.Node, q string) {
			for i, poly := range d.list(v, joinPath(prefix, q)) {
				pp := fmt.Sprintf("%s[%d]", q, i)
				d.pos[pp] = poly
				var ring []LatLon
				for j, pt := range d.list(poly, joinPath(prefix, pp)) {
					ptp := fmt.Sprintf("%s[%d]", pp, j)
					d.pos[ptp] = pt
					ring = append(ring, d.latlon(pt, prefix, ptp))
				}
				a.Polygons = append(a.Polygons, ring)
			}
		},
		"circles": func(v *yaml.Node, q string) {
			for i, c := range d.list(v, joinPath(prefix, q)) {
				cp := fmt.Sprintf("%s[%d]", q, i)
				d.pos[cp] = c
				cm := d.mapping(c, joinPath(prefix, cp))
				if cm == nil {
					continue
				}
				var ci Circle
				d.fields(cm, prefix, cp, map[string]func(*yaml.Node, string){
					"center":   func(v *yaml.Node, q string) { ci.Center = d.latlon(v, prefix, q) },
					"radiusKm": func(v *yaml.Node, q string) { ci.RadiusKm = d.float(v, joinPath(prefix, q)) },
				})
				a.Circles = append(a.Circles, ci)
			}
		},
		"geocodes": func(v *yaml.Node, q string) {
			for i, g := range d.list(v, joinPath(prefix, q)) {
				gp := fmt.Sprintf("%s[%d]", q, i)
				d.pos[gp] = g
				gm := d.mapping(g, joinPath(prefix, gp))
				if gm == nil {
					continue
				}
				var gc Geocode
				d.fields(gm, prefix, gp, map[string]func(*yaml.Node, string){
					"name":  func(v *yaml.Node, q string) { gc.Name = d.str(v, joinPath(prefix, q)) },
					"value": func(v *yaml.Node, q string) { gc.Value = d.str(v, joinPath(prefix, q)) },
				})
				a.Geocodes = append(a.Geocodes, gc)
			}
		},
	})
	return a
}

func (d *decoder) templates(n *yaml.Node, prefix, p string) map[string]Template {
	m := d.mapping(n, joinPath(prefix, p))
	if m == nil {
		return nil
	}
	out := map[string]Template{}
	tp := p
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		lp := tp + "." + k.Value
		d.pos[lp] = v
		if _, dup := out[k.Value]; dup {
			d.errorf(k, joinPath(prefix, lp), "appears twice")
			continue
		}
		tm := d.mapping(v, joinPath(prefix, lp))
		if tm == nil {
			continue
		}
		var t Template
		d.fields(tm, prefix, lp, map[string]func(*yaml.Node, string){
			"headline":    func(v *yaml.Node, q string) { t.Headline = d.str(v, joinPath(prefix, q)) },
			"description": func(v *yaml.Node, q string) { t.Description = d.str(v, joinPath(prefix, q)) },
			"instruction": func(v *yaml.Node, q string) { t.Instruction = d.str(v, joinPath(prefix, q)) },
		})
		out[k.Value] = t
	}
	return out
}
