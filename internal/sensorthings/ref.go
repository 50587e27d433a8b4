package sensorthings

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// refWrite serves the $ref writes (SensorThings 1.1 18-088 §10.3, OData 4.0 §11.4.6), which
// add and remove links between existing entities without changing them:
//
//	POST   /Things(1)/Locations/$ref      {"@iot.id": 3}   adds Locations(3) to the Thing's Locations
//	PUT    /Datastreams(1)/Sensor/$ref    {"@iot.id": 2}   makes Sensors(2) the Datastream's Sensor
//	DELETE /Things(1)/Locations(3)/$ref                    removes the link (the Location stays)
//	DELETE /Things(1)/Locations/$ref?$id=<URL of Locations(3)>  the same
//
// The body may name the entity by "@iot.id" (a number or a numeric string), "@iot.selfLink" or
// "@odata.id" (its URL, absolute or relative). The answer is 204 No Content. A link the data
// model makes mandatory (a Datastream's Thing, Sensor, ObservedProperty; an Observation's
// Datastream and FeatureOfInterest; a HistoricalLocation's Thing) can be changed with PUT (or,
// for a child in a one-to-many collection, by POST to its new parent's collection) but not
// removed: that is a 400 naming it. The caller has checked the operator role.
func (s *Server) refWrite(w http.ResponseWriter, r *http.Request, res *resource) {
	ctx := r.Context()
	linker, ok := s.Store.(Linker)
	if !ok {
		s.methodNotAllowed(w, r, "GET")
		return
	}
	if len(res.Segs) < 2 {
		s.Error(w, r, apperr.E(apperr.Invalid, "%s .../$ref writes a link: name the navigation property, e.g. /%s/Things(1)/Locations/$ref", r.Method, Version))
		return
	}
	last := res.Segs[len(res.Segs)-1]
	parent, err := s.resolve(ctx, &resource{Segs: res.Segs[:len(res.Segs)-1]})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if parent.ID == 0 {
		s.Error(w, r, apperr.E(apperr.Invalid, "$ref writes a link of one entity: address it by id before %s", last.Name))
		return
	}
	nav, _ := sensing.Sets[parent.Set].NavTo(last.Name)
	where := parent.Set + "(" + strconv.FormatInt(parent.ID, 10) + ")/" + nav.Name + "/$ref"
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		switch {
		case last.HasID:
			s.Error(w, r, apperr.E(apperr.Invalid, "%s %s: the entity to link goes in the body, not in the URL: %s %s(%d)/%s/$ref with {\"@iot.id\": %d}",
				r.Method, where, r.Method, parent.Set, parent.ID, nav.Name, last.ID))
			return
		case nav.Many && r.Method == http.MethodPut:
			s.Error(w, r, apperr.E(apperr.Invalid, "PUT %s: %s is a collection; add to it with POST", where, nav.Name))
			return
		case !nav.Many && r.Method == http.MethodPost:
			s.Error(w, r, apperr.E(apperr.Invalid, "POST %s: %s is a single entity; change it with PUT", where, nav.Name))
			return
		}
		raw, err := readJSON(r.Body)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		id, err := refBody(raw, nav.Target)
		if err != nil {
			s.Error(w, r, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s %s", r.Method, where))
			return
		}
		if err := s.readOnlyLink(ctx, parent, nav.Target, id); err != nil {
			s.Error(w, r, err)
			return
		}
		if err := linker.Link(ctx, parent.Set, parent.ID, nav.Name, id); err != nil {
			s.Error(w, r, err)
			return
		}
	case http.MethodDelete:
		var id int64
		idParam := ""
		if q, err := query(r.URL.RawQuery); err == nil {
			idParam = q.Get("$id")
		}
		switch {
		case last.HasID && idParam != "":
			s.Error(w, r, apperr.E(apperr.Invalid, "DELETE %s: give the entity either in the path or in $id, not both", where))
			return
		case last.HasID:
			id = last.ID
		case idParam != "":
			id, err = refURL(idParam, nav.Target)
			if err != nil {
				s.Error(w, r, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "DELETE %s: $id", where))
				return
			}
		case nav.Many:
			s.Error(w, r, apperr.E(apperr.Invalid, "DELETE %s: name the link to remove, as %s(%d)/%s(<id>)/$ref or with ?$id=<URL of the %s>",
				where, parent.Set, parent.ID, nav.Name, sensing.Sets[nav.Target].Single))
			return
		}
		if err := s.readOnlyLink(ctx, parent, nav.Target, id); err != nil {
			s.Error(w, r, err)
			return
		}
		if err := linker.Unlink(ctx, parent.Set, parent.ID, nav.Name, id); err != nil {
			s.Error(w, r, err)
			return
		}
	default:
		s.methodNotAllowed(w, r, "GET, POST, PUT, DELETE")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// refBody reads the entity a $ref body names: {"@iot.id": 3}, {"@iot.id": "3"},
// {"@iot.selfLink": ".../Locations(3)"} or {"@odata.id": "Locations(3)"}; the entity must be of
// the set target.
func refBody(raw json.RawMessage, target string) (int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return 0, apperr.E(apperr.Invalid, `want a JSON object such as {"@iot.id": 1}`)
	}
	if len(m) != 1 {
		return 0, apperr.E(apperr.Invalid, `want exactly one of "@iot.id", "@iot.selfLink" or "@odata.id" in the body, got %d members`, len(m))
	}
	for k, v := range m {
		switch k {
		case "@iot.id":
			id, err := decodeID(v)
			if err != nil {
				return 0, apperr.E(apperr.Invalid, "@iot.id: %v", err)
			}
			return id, nil
		case "@iot.selfLink", "@odata.id":
			var u string
			if err := json.Unmarshal(v, &u); err != nil {
				return 0, apperr.E(apperr.Invalid, "%s: want the URL of a %s as a string", k, sensing.Sets[target].Single)
			}
			id, err := refURL(u, target)
			if err != nil {
				return 0, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s", k)
			}
			return id, nil
		default:
			return 0, apperr.E(apperr.Invalid, `unexpected member %q: want "@iot.id", "@iot.selfLink" or "@odata.id"`, k)
		}
	}
	return 0, nil
}

// refURL reads the id from the URL of an entity of set target: absolute
// (http://host/v1.1/Locations(3)) or relative (Locations(3), ../Locations(3)).
func refURL(u, target string) (int64, error) {
	p := u
	if pu, err := url.Parse(u); err == nil {
		p = pu.Path
	}
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	name, id, has, err := splitKey(p)
	if err != nil || !has {
		return 0, apperr.E(apperr.Invalid, "%q is not the URL of an entity such as %s(1)", u, target)
	}
	if name != target {
		return 0, apperr.E(apperr.Invalid, "%q is not a %s: a link here goes to %s", u, sensing.Sets[target].Single, target)
	}
	return id, nil
}

// readOnlyLink refuses a link written between parent and target(id) when either is read-only
// (Server.ReadOnly).
func (s *Server) readOnlyLink(ctx context.Context, parent *target, set string, id int64) error {
	if err := s.readOnly(ctx, parent.Set, parent.ID); err != nil {
		return err
	}
	return s.readOnly(ctx, set, id)
}
