package sqlite

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/peterstace/simplefeatures/geom"
	sqlitedrv "modernc.org/sqlite"
)

// The geometry functions that sqlq.SQLite compiles $filter's geo.* and st_* functions to.
// Each takes geometries as text, GeoJSON (a geometry or a Feature, as stored in the location,
// feature and observed_area columns) or well-known text (as $filter literals are bound), and
// returns NULL when an argument is NULL or not a valid geometry.
//
//	rabta_st_equals(a, b), rabta_st_disjoint, rabta_st_touches, rabta_st_within,
//	rabta_st_overlaps, rabta_st_crosses, rabta_st_intersects, rabta_st_contains → 1 or 0
//	rabta_st_relate(a, b, pattern) → 1 or 0 (pattern: a DE-9IM pattern such as 'T*F**F***')
//	rabta_geo_distance(a, b) → planar distance in coordinate units (degrees for WGS 84)
//	rabta_geo_length(a) → planar length in coordinate units
var (
	registerOnce sync.Once
	registerErr  error
)

func init() {
	if err := RegisterFuncs(); err != nil {
		panic(err)
	}
}

// RegisterFuncs registers Rabta's SQL functions with the "sqlite" driver, for connections
// opened afterwards. It is idempotent; package init calls it already.
func RegisterFuncs() error {
	registerOnce.Do(func() {
		preds := map[string]func(a, b geom.Geometry) (bool, error){
			"rabta_st_equals":   geom.Equals,
			"rabta_st_disjoint": geom.Disjoint,
			"rabta_st_touches":  geom.Touches,
			"rabta_st_within":   geom.Within,
			"rabta_st_overlaps": geom.Overlaps,
			"rabta_st_crosses":  geom.Crosses,
			"rabta_st_contains": geom.Contains,
			"rabta_st_intersects": func(a, b geom.Geometry) (bool, error) {
				return geom.Intersects(a, b), nil
			},
		}
		for name, f := range preds {
			if err := sqlitedrv.RegisterDeterministicScalarFunction(name, 2, geomFunc(2, func(g []geom.Geometry, _ []driver.Value) (driver.Value, error) {
				ok, err := f(g[0], g[1])
				if err != nil {
					return nil, nil
				}
				return boolInt(ok), nil
			})); err != nil {
				registerErr = fmt.Errorf("register %s: %w", name, err)
				return
			}
		}
		others := []struct {
			name string
			n    int32
			f    func(g []geom.Geometry, args []driver.Value) (driver.Value, error)
		}{
			{"rabta_st_relate", 3, func(g []geom.Geometry, args []driver.Value) (driver.Value, error) {
				pat, ok := text(args[2])
				if !ok {
					return nil, nil
				}
				m, err := geom.Relate(g[0], g[1])
				if err != nil {
					return nil, nil
				}
				match, err := geom.RelateMatches(m, strings.ToUpper(pat))
				if err != nil {
					return nil, fmt.Errorf("rabta_st_relate: %v", err)
				}
				return boolInt(match), nil
			}},
			{"rabta_geo_distance", 2, func(g []geom.Geometry, _ []driver.Value) (driver.Value, error) {
				d, ok := geom.Distance(g[0], g[1])
				if !ok {
					return nil, nil
				}
				return d, nil
			}},
			{"rabta_geo_length", 1, func(g []geom.Geometry, _ []driver.Value) (driver.Value, error) {
				return g[0].Length(), nil
			}},
		}
		for _, o := range others {
			if err := sqlitedrv.RegisterDeterministicScalarFunction(o.name, o.n, geomFunc(int(min(o.n, 2)), o.f)); err != nil {
				registerErr = fmt.Errorf("register %s: %w", o.name, err)
				return
			}
		}
	})
	return registerErr
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// geomFunc adapts f, taking its first n arguments as geometries, to an SQL function that
// returns NULL when one of them is NULL or invalid, and never panics.
func geomFunc(n int, f func(g []geom.Geometry, args []driver.Value) (driver.Value, error)) func(*sqlitedrv.FunctionContext, []driver.Value) (driver.Value, error) {
	return func(_ *sqlitedrv.FunctionContext, args []driver.Value) (v driver.Value, err error) {
		defer func() {
			if r := recover(); r != nil {
				v, err = nil, nil // a geometry the algorithms cannot handle is treated as invalid
			}
		}()
		g := make([]geom.Geometry, n)
		for i := range n {
			s, ok := text(args[i])
			if !ok {
				return nil, nil
			}
			if g[i], ok = parseGeom(s); !ok {
				return nil, nil
			}
		}
		return f(g, args)
	}
}

func text(v driver.Value) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// geomCache keeps recently parsed geometries: a query's literal is the same on every row.
var geomCache struct {
	sync.Mutex
	m map[string]geom.Geometry
}

const geomCacheMax = 256

// parseGeom parses GeoJSON (a geometry or a Feature) or well-known text.
func parseGeom(s string) (geom.Geometry, bool) {
	geomCache.Lock()
	g, ok := geomCache.m[s]
	geomCache.Unlock()
	if ok {
		return g, true
	}
	g, ok = parseGeomText(s)
	if !ok {
		return geom.Geometry{}, false
	}
	if len(s) <= 1<<16 {
		geomCache.Lock()
		if geomCache.m == nil || len(geomCache.m) >= geomCacheMax {
			geomCache.m = make(map[string]geom.Geometry, geomCacheMax)
		}
		geomCache.m[s] = g
		geomCache.Unlock()
	}
	return g, true
}

func parseGeomText(s string) (geom.Geometry, bool) {
	b := bytes.TrimSpace([]byte(s))
	if len(b) == 0 {
		return geom.Geometry{}, false
	}
	if b[0] != '{' {
		g, err := geom.UnmarshalWKT(string(b))
		return g, err == nil
	}
	var f struct {
		Type     string          `json:"type"`
		Geometry json.RawMessage `json:"geometry"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return geom.Geometry{}, false
	}
	if f.Type == "Feature" {
		if len(f.Geometry) == 0 || string(f.Geometry) == "null" {
			return geom.Geometry{}, false
		}
		b = f.Geometry
	}
	g, err := geom.UnmarshalGeoJSON(b)
	return g, err == nil
}
