package sensorthings

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// segment is one step of a resource path: an entity set or navigation property, maybe with a key.
type segment struct {
	Name  string // as written: "Things", "Datastream", "Observations"
	Set   string // entity set it lands in
	Many  bool   // a collection (no key given and the step is to-many)
	ID    int64
	HasID bool
}

// resource is a parsed resource path below the version root.
type resource struct {
	Segs     []segment
	Property string // a single property: /Things(1)/name
	Value    bool   // $value after a property
	Ref      bool   // $ref after an entity or collection
	Special  string // "$batch", "CreateObservations"
}

// parsePath parses the path after "/v1.1/". Errors say which segment is wrong.
func parsePath(p string) (*resource, error) {
	p = strings.TrimSuffix(p, "/")
	if p == "$batch" || p == "CreateObservations" {
		return &resource{Special: p}, nil
	}
	if p == "" {
		return nil, apperr.E(apperr.Invalid, "empty resource path")
	}
	parts := strings.Split(p, "/")
	r := &resource{}
	var cur *sensing.EntitySet
	for i, part := range parts {
		where := fmt.Sprintf("path segment %d %q", i+1, part)
		if part == "" {
			return nil, apperr.E(apperr.Invalid, "%s: empty segment", where)
		}
		if r.Value || r.Ref {
			return nil, apperr.E(apperr.Invalid, "%s: nothing may follow $value or $ref", where)
		}
		switch part {
		case "$ref":
			if i == 0 || r.Property != "" {
				return nil, apperr.E(apperr.Invalid, "%s: $ref follows an entity or a collection", where)
			}
			r.Ref = true
			continue
		case "$value":
			if r.Property == "" {
				return nil, apperr.E(apperr.Invalid, "%s: $value follows a property", where)
			}
			r.Value = true
			continue
		}
		if r.Property != "" {
			return nil, apperr.E(apperr.Invalid, "%s: a property has no sub-resources (only $value)", where)
		}
		name, key, hasKey, err := splitKey(part)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s", where)
		}
		if i == 0 {
			set, ok := sensing.Sets[name]
			if !ok {
				return nil, apperr.E(apperr.NotFound, "%s: no entity set %q", where, name)
			}
			cur = set
			r.Segs = append(r.Segs, segment{Name: name, Set: set.Name, Many: !hasKey, ID: key, HasID: hasKey})
			continue
		}
		prev := r.Segs[len(r.Segs)-1]
		if prev.Many {
			return nil, apperr.E(apperr.Invalid, "%s: address one entity of %s by id first, e.g. %s(1)", where, prev.Name, prev.Name)
		}
		if nav, ok := cur.NavTo(name); ok {
			if hasKey && !nav.Many {
				return nil, apperr.E(apperr.Invalid, "%s: %s is a single entity and takes no key", where, name)
			}
			cur = sensing.Sets[nav.Target]
			r.Segs = append(r.Segs, segment{Name: name, Set: nav.Target, Many: nav.Many && !hasKey, ID: key, HasID: hasKey})
			continue
		}
		if _, ok := cur.Prop(name); ok || name == "id" {
			if hasKey {
				return nil, apperr.E(apperr.Invalid, "%s: a property takes no key", where)
			}
			r.Property = name
			continue
		}
		return nil, apperr.E(apperr.NotFound, "%s: %s has no property or navigation %q", where, cur.Single, name)
	}
	return r, nil
}

// splitKey splits "Things(12)" into "Things", 12. Keys may be written as numbers or as
// quoted strings holding a number ('12'), since clients of other servers send both.
func splitKey(s string) (name string, id int64, has bool, err error) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if strings.ContainsAny(s, ")'") {
			return "", 0, false, fmt.Errorf("unexpected character")
		}
		return s, 0, false, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", 0, false, fmt.Errorf("key must end with ')'")
	}
	name, raw := s[:open], s[open+1:len(s)-1]
	id, err = parseID(raw)
	if err != nil {
		return "", 0, false, err
	}
	return name, id, true, nil
}

// parseID parses an entity id written as 12 or '12'.
func parseID(raw string) (int64, error) {
	if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' {
		raw = raw[1 : len(raw)-1]
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("invalid id %q: ids are positive integers", raw)
	}
	return id, nil
}
