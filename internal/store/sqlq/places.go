package sqlq

import (
	"context"
	"fmt"
	"strings"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/place"
)

// Places is the store of places (table places, ddl/places.sql) over an Engine.
type Places struct{ eng Engine }

// NewPlaces returns the place store over eng.
func NewPlaces(eng Engine) *Places { return &Places{eng: eng} }

const placeCols = `place_key, kind, name, name_ur, country, province, division, district, lat, lon, population, estimated, languages, connectivity, synthetic, source, boundary`

// placeBatch is the number of rows one INSERT carries: 17 columns × 500 rows = 8,500
// parameters, within both SQLite's (32,766) and PostgreSQL's (65,535) limits.
const placeBatch = 500

// Replace makes ps the whole set of places: every stored place is deleted and ps inserted, in
// one transaction (readers see the old set or the new one). Keys must be unique within ps
// (apperr.Conflict otherwise) and not empty (apperr.Invalid).
func (s *Places) Replace(ctx context.Context, ps []place.Place) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM places`); err != nil {
			return err
		}
		return s.insert(ctx, tx, ps, "")
	})
}

// Upsert inserts ps, replacing the stored places with the same keys, in one transaction.
// Keys must be unique within ps (apperr.Conflict otherwise) and not empty (apperr.Invalid).
func (s *Places) Upsert(ctx context.Context, ps []place.Place) error {
	var set []string
	for _, c := range strings.Split(placeCols, ", ")[1:] {
		set = append(set, c+" = excluded."+c)
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		return s.insert(ctx, tx, ps, ` ON CONFLICT (place_key) DO UPDATE SET `+strings.Join(set, ", "))
	})
}

// DeleteSynthetic deletes the synthetic places (before importing a real village list, say)
// and returns how many there were.
func (s *Places) DeleteSynthetic(ctx context.Context) (int64, error) {
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM places WHERE synthetic = ?`, true)
		return err
	})
	return n, err
}

func (s *Places) insert(ctx context.Context, tx Tx, ps []place.Place, conflict string) error {
	seen := make(map[string]int, len(ps))
	for i, p := range ps {
		if p.Key == "" {
			return apperr.E(apperr.Invalid, "place %d (%q) has no key", i, p.Name)
		}
		if j, dup := seen[p.Key]; dup {
			return apperr.E(apperr.Conflict, "places %d and %d have the same key %q", j, i, p.Key)
		}
		seen[p.Key] = i
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", 17), ", ") + ")"
	for start := 0; start < len(ps); start += placeBatch {
		batch := ps[start:min(start+placeBatch, len(ps))]
		args := make([]any, 0, 17*len(batch))
		for i := range batch {
			p := &batch[i]
			var boundary *string
			if p.Boundary != nil {
				b, err := p.Boundary.MarshalJSON()
				if err != nil {
					return fmt.Errorf("store place %q: boundary: %w", p.Key, err)
				}
				s := string(b)
				boundary = &s
			}
			args = append(args, p.Key, string(p.Kind), p.Name, nullStr(p.NameUr), p.Country, nullStr(p.Province), nullStr(p.Division),
				nullStr(p.District), p.Lat, p.Lon, p.Population, p.Estimated, strings.Join(p.Languages, " "), nullStr(string(p.Connectivity)),
				p.Synthetic, p.Source, boundary)
		}
		q := `INSERT INTO places (` + placeCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(batch)), ", ") + conflict
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			if err := s.eng.WriteErr(err); err != nil {
				return fmt.Errorf("store places %d to %d: %w", start, start+len(batch)-1, err)
			}
		}
	}
	return nil
}

// List returns every place, ordered by key, boundaries parsed (to build a place.Gazetteer).
func (s *Places) List(ctx context.Context) ([]place.Place, error) {
	var out []place.Place
	err := readEach(ctx, s.eng, func(r Rows) error {
		var p place.Place
		var kind, langs string
		var nameUr, province, division, district, conn, boundary *string
		if err := r.Scan(&p.Key, &kind, &p.Name, &nameUr, &p.Country, &province, &division, &district, &p.Lat, &p.Lon, &p.Population,
			&p.Estimated, &langs, &conn, &p.Synthetic, &p.Source, &boundary); err != nil {
			return err
		}
		p.Kind, p.Languages = place.Kind(kind), strings.Fields(langs)
		p.NameUr, p.Province, p.Division, p.District = deref(nameUr), deref(province), deref(division), deref(district)
		p.Connectivity = place.Connectivity(deref(conn))
		if boundary != nil {
			g, err := geom.UnmarshalGeoJSON([]byte(*boundary), geom.NoValidate{})
			if err != nil {
				return fmt.Errorf("place %q: boundary: %w", p.Key, err)
			}
			var mp geom.MultiPolygon
			switch g.Type() {
			case geom.TypeMultiPolygon:
				mp = g.MustAsMultiPolygon()
			case geom.TypePolygon:
				mp = g.MustAsPolygon().AsMultiPolygon()
			default:
				return fmt.Errorf("place %q: boundary is a %s, not a polygon", p.Key, g.Type())
			}
			p.Boundary = &mp
		}
		out = append(out, p)
		return nil
	}, `SELECT `+placeCols+` FROM places ORDER BY place_key`)
	if err != nil {
		return nil, fmt.Errorf("list places: %w", s.eng.QueryErr(err))
	}
	return out, nil
}

// Count returns the number of places of each kind (kinds without places left out).
func (s *Places) Count(ctx context.Context) (map[place.Kind]int, error) {
	out := map[place.Kind]int{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var k string
		var n int64
		if err := r.Scan(&k, &n); err != nil {
			return err
		}
		out[place.Kind(k)] = int(n)
		return nil
	}, `SELECT kind, count(*) FROM places GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("count places: %w", s.eng.QueryErr(err))
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
