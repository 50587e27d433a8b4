package place

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/peterstace/simplefeatures/geom"
)

// data holds the embedded real places (see data/PROVENANCE.md for sources and licences).
//
//go:embed data/*.geojson data/*.csv data/PROVENANCE.md
var data embed.FS

// Provenance returns data/PROVENANCE.md: where every embedded place comes from and the
// attribution its licence asks for (OpenStreetMap ODbL, GeoNames CC BY 4.0, PBS Census 2023).
func Provenance() string {
	b, _ := data.ReadFile("data/PROVENANCE.md")
	return string(b)
}

// Sources named in Place.Source.
const (
	SourceOSM      = "OpenStreetMap contributors (ODbL 1.0) via AbuBakrCh/pakistan-map"
	SourceCensus   = "; population: PBS Census 2023"
	SourceGeoNames = "GeoNames (geonames.org, CC BY 4.0)"
)

// townShareCap is the largest share of a district's census population its GeoNames towns
// may hold together; above it they are scaled down (see Load).
const townShareCap = 0.9

type feature struct {
	Properties struct {
		Name       string   `json:"name"`
		Province   string   `json:"province"`
		Division   string   `json:"division"`
		Population *int64   `json:"population_2023"`
		PBSArea    *float64 `json:"area_km2_pbs"`
		Tongue     string   `json:"dominant_mother_tongue"`
	} `json:"properties"`
	Geometry json.RawMessage `json:"geometry"`
}

// Load returns the embedded real places: 7 provinces and territories, 37 divisions, 156
// districts (with their boundaries, 2023 census populations and dominant mother tongue),
// 458 GeoNames places of Pakistan (Kind Town, placed in the district whose boundary holds
// them) and 609 GeoNames cities of China — 1,267 places, in that order. Each call parses
// the embedded files anew (about a tenth of a second) and returns places of its own.
//
// Two documented adjustments keep the numbers consistent:
//   - the 20 districts of Azad Jammu & Kashmir and Gilgit-Baltistan have no 2023 census
//     figure: their Population is estimated (Estimated = true) as their boundary's area times
//     the census density (PBS population / PBS area) of the least dense of the three census
//     districts nearest to them (by distance between label points): mountain districts
//     border both plains and mountains, and their people live in the valleys;
//   - where the GeoNames towns inside a district hold together more than 90% of its census
//     population (GeoNames counts a whole agglomeration at one point: Karachi's 11.6 million
//     fall inside one of its seven districts), they are scaled down to 90%, and their Source
//     says so; so a district's villages always have people to share (see Villages).
func Load() ([]Place, error) {
	var out []Place
	area := map[string]float64{} // PBS area (km²) of each census district
	for _, f := range []struct {
		file string
		kind Kind
	}{{"pak_provinces_osm.geojson", Province}, {"pak_divisions_osm.geojson", Division}, {"pak_districts_osm_census2023.geojson", District}} {
		ps, err := loadRegions(f.file, f.kind, area)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	estimate(out, area)
	towns, err := loadTowns("pak_populated_places_geonames.csv", "PK")
	if err != nil {
		return nil, err
	}
	locate(out, towns)
	scaleTowns(out, towns)
	out = append(out, towns...)
	cn, err := loadTowns("china_cities_geonames.csv", "CN")
	if err != nil {
		return nil, err
	}
	return append(out, cn...), nil
}

func loadRegions(file string, kind Kind, area map[string]float64) ([]Place, error) {
	b, err := data.ReadFile("data/" + file)
	if err != nil {
		return nil, err
	}
	var fc struct{ Features []feature }
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make([]Place, 0, len(fc.Features))
	for i, f := range fc.Features {
		g, err := geom.UnmarshalGeoJSON(f.Geometry, geom.NoValidate{})
		if err != nil {
			return nil, fmt.Errorf("%s: feature %d (%s): %w", file, i, f.Properties.Name, err)
		}
		var mp geom.MultiPolygon
		switch g.Type() {
		case geom.TypePolygon:
			mp = g.MustAsPolygon().AsMultiPolygon()
		case geom.TypeMultiPolygon:
			mp = g.MustAsMultiPolygon()
		default:
			return nil, fmt.Errorf("%s: feature %d (%s): %s, want a polygon", file, i, f.Properties.Name, g.Type())
		}
		p := Place{Key: string(kind) + ":" + f.Properties.Name, Kind: kind, Name: f.Properties.Name, Country: "PK",
			Province: f.Properties.Province, Boundary: &mp, Source: SourceOSM, Languages: languages(f.Properties.Tongue)}
		if kind == Province {
			p.Province = p.Name
		}
		if kind == District {
			p.District = p.Name
		}
		if f.Properties.Population != nil {
			p.Population = *f.Properties.Population
			p.Source += SourceCensus
		}
		xy, _ := mp.PointOnSurface().XY()
		p.Lat, p.Lon = xy.Y, xy.X
		if kind == District {
			p.Division = f.Properties.Division
			if f.Properties.PBSArea != nil {
				area[p.Name] = *f.Properties.PBSArea
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// areaKM2 measures mp's area in km² on a local equirectangular projection about its
// latitude (good to a fraction of a percent for a district).
func areaKM2(mp *geom.MultiPolygon, lat float64) float64 {
	c := math.Cos(lat * math.Pi / 180)
	return mp.Area(geom.WithTransform(func(p geom.XY) geom.XY {
		return geom.XY{X: p.X * c * kmPerDegree, Y: p.Y * kmPerDegree}
	}))
}

// estimate fills in the population of districts without a census figure, and of their
// provinces and divisions as the sum of their districts (see Load).
func estimate(ps []Place, pbsArea map[string]float64) {
	var census []*Place
	for i := range ps {
		if p := &ps[i]; p.Kind == District && p.Population > 0 && pbsArea[p.Name] > 0 {
			census = append(census, p)
		}
	}
	sums := map[string]int64{}
	for i := range ps {
		p := &ps[i]
		if p.Kind != District || p.Population > 0 {
			continue
		}
		// The least dense of the three nearest census districts: mountain territory borders
		// both plains and mountains, and its people live in the valleys.
		sort.Slice(census, func(a, b int) bool {
			return DistanceKM(p.Lat, p.Lon, census[a].Lat, census[a].Lon) < DistanceKM(p.Lat, p.Lon, census[b].Lat, census[b].Lon)
		})
		if len(census) == 0 {
			continue
		}
		near := census[0]
		for _, c := range census[1:min(3, len(census))] {
			if float64(c.Population)/pbsArea[c.Name] < float64(near.Population)/pbsArea[near.Name] {
				near = c
			}
		}
		density := float64(near.Population) / pbsArea[near.Name]
		p.Population = int64(math.Round(areaKM2(p.Boundary, p.Lat) * density))
		p.Estimated = true
		p.Source += fmt.Sprintf("; population estimated (no 2023 census figure): area × census density of %s district, the least dense of the three nearest (%.0f/km²)", near.Name, density)
		sums[p.Province] += p.Population
	}
	for i := range ps {
		if p := &ps[i]; p.Kind == Province && p.Population == 0 && sums[p.Name] > 0 {
			p.Population, p.Estimated = sums[p.Name], true
			p.Source += "; population estimated: sum of its districts' estimates"
		}
	}
	div := map[string]int64{}
	for i := range ps {
		if p := &ps[i]; p.Kind == District && p.Estimated {
			div[p.Division] += p.Population
		}
	}
	for i := range ps {
		if p := &ps[i]; p.Kind == Division && p.Population == 0 && div[p.Name] > 0 {
			p.Population, p.Estimated = div[p.Name], true
			p.Source += "; population estimated: sum of its districts' estimates"
		}
	}
}

func loadTowns(file, country string) ([]Place, error) {
	b, err := data.ReadFile("data/" + file)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var out []Place
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		lat, err1 := strconv.ParseFloat(rec[col["latitude"]], 64)
		lon, err2 := strconv.ParseFloat(rec[col["longitude"]], 64)
		pop, err3 := strconv.ParseInt(rec[col["population"]], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s line %d: bad latitude, longitude or population", file, line)
		}
		p := Place{Key: "geonames:" + rec[col["geonameid"]], Kind: Town, Name: rec[col["name"]], Country: country,
			Province: rec[col["admin1_name"]], Lat: lat, Lon: lon, Population: pop, Source: SourceGeoNames}
		if country == "CN" {
			p.Languages = []string{"zh"}
		}
		out = append(out, p)
	}
	return out, nil
}

// Locate sets the District, Division and Province of each point place of points (a town or
// village, imported say) whose District is empty, from the district among regions whose
// boundary holds it, or for a place just outside every boundary (on the coast, say) a
// district whose boundary passes within 10 km; and its Languages, when it has none, from
// that district's (else Urdu). Places found in no district keep an empty District.
func Locate(regions []Place, points []Place) { locate(regions, points) }

func locate(regions []Place, towns []Place) {
	type d struct {
		p    *Place
		poly *poly
	}
	var ds []d
	for i := range regions {
		if p := &regions[i]; p.Kind == District {
			ds = append(ds, d{p, shapeOf(p.Boundary)})
		}
	}
	for i := range towns {
		t := &towns[i]
		if t.District != "" || t.Kind.Region() {
			continue
		}
		var in *Place
		for _, x := range ds {
			if x.poly.contains(t.Lon, t.Lat) {
				in = x.p
				break
			}
		}
		if in == nil {
			best := 10.0
			for _, x := range ds {
				if x.poly.near(t.Lat, t.Lon, best) {
					in = x.p
					break
				}
			}
		}
		if in == nil {
			if len(t.Languages) == 0 {
				t.Languages = []string{"ur"}
			}
			continue
		}
		t.District, t.Division, t.Province = in.Name, in.Division, in.Province
		if len(t.Languages) == 0 {
			t.Languages = append([]string(nil), in.Languages...)
		}
	}
}

// scaleTowns scales down the towns of a district that together exceed 90% of its census
// population (see Load).
func scaleTowns(regions []Place, towns []Place) {
	pop := map[string]int64{}
	for _, p := range regions {
		if p.Kind == District {
			pop[p.Name] = p.Population
		}
	}
	sum := map[string]int64{}
	for _, t := range towns {
		if t.District != "" {
			sum[t.District] += t.Population
		}
	}
	names := make([]string, 0, len(sum))
	for n := range sum {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		limit := int64(float64(pop[n]) * townShareCap)
		if sum[n] <= limit || sum[n] == 0 {
			continue
		}
		f := float64(limit) / float64(sum[n])
		for i := range towns {
			if t := &towns[i]; t.District == n {
				t.Source += fmt.Sprintf("; population scaled from %d to fit %s district's census figure", t.Population, n)
				t.Population = int64(math.Floor(float64(t.Population) * f))
			}
		}
	}
}
