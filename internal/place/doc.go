// Package place holds the places a warning can reach and answers which of them, and how many
// people, lie in a CAP area. It is pure: no I/O beyond its embedded data, no database; the
// stores keep places (store/sqlq's Places) and the node builds a Gazetteer from them at start.
//
// # Model
//
// A Place is a region with a boundary (Province, Division, District) or a point (Town,
// Village), keyed stably ("district:Lahore", "geonames:1172451", "village:syn:Lahore:0001").
// Load returns the real places embedded from data/ (see data/PROVENANCE.md: OpenStreetMap
// boundaries under ODbL, Pakistan Bureau of Statistics Census 2023 populations, GeoNames
// towns under CC BY 4.0, whose attribution must be kept wherever they are shown). None of
// these sources has names in Urdu script, so NameUr is empty for them; an imported village
// list may carry them (column name_ur).
//
// Languages are BCP 47 tags from the census's dominant mother tongue of the district (Urdu →
// ur, Punjabi → pnb, Sindhi → sd, Pushto → ps, Balochi → bal, Saraiki → skr, Brahvi → brh,
// Hindko → hno, Kohistani → mvy), followed by Urdu, which is understood nationally. The AJK
// and Gilgit-Baltistan districts have no census figures at all: Urdu alone. Chinese cities: zh.
//
// # Villages
//
// Pakistan links more than 22,000 villages by optical fibre, but no public list of those
// villages with their coordinates exists (GeoNames' cities500 holds only 458 Pakistani
// places, towns and cities; its full PK dump was not reachable). So:
//   - ReadVillages imports the real list when someone has it (CSV: name, lat, lon,
//     population, languages, connectivity; optional id, name_ur, district, province), with
//     per-row errors and a progress callback; Locate fills in each village's district.
//   - Villages generates a clearly labelled synthetic set (DefaultVillages = 22,000, seeded):
//     Synthetic = true, named "Synthetic village <district> <n>", placed inside district
//     boundaries in proportion to their population, with populations such that each
//     district's towns and villages add up to its census figure, languages from the district,
//     and connectivity drawn from DefaultMix (25% fibre, 40% mobile data, 30% SMS only, 5%
//     none — an assumption for the demonstration and the scale tests, not a measurement).
//
// Districts without a census figure (AJK, Gilgit-Baltistan) get an estimate (Estimated =
// true): area × the census density of the least dense of their three nearest census
// districts. It is rough (it puts Gilgit-Baltistan at about 4.5 million people, where the
// 2017 census counted about 1.5 million) and says so in Source.
//
// # Areas
//
// Gazetteer.Resolve takes a cap.Area and returns an Impact: people, places by kind, villages
// by connectivity, the districts touched with their people, and the keys of every place
// reached (to find the subscribers attached to them). An area is the union of
//   - its polygons (CAP "lat,lon" rings, at least 4 points, closed, valid: a self-intersecting
//     or zero-area polygon is refused with an error naming it),
//   - its circles (great-circle distance on a sphere of EarthRadiusKM from the centre ≤ the
//     radius; a radius of 0 or less is refused),
//   - the regions its geocodes name. The geocode scheme: valueName "district" (or
//     "PK-district") with the district's English name as in the data, optionally prefixed
//     "PK-" ("PK-Lahore", "Dera Ghazi Khan"); "division" (or "PK-division") likewise;
//     "province" (or "PK-province", "iso3166-2") with the province's name or its ISO 3166-2
//     code ("PK-PB", "PK-SD", "PK-KP", "PK-BA", "PK-IS", "PK-GB", "PK-JK"). Case, spaces,
//     punctuation and "&"/"and" are ignored. A geocode that names no known region, or of
//     another scheme, is listed in Impact.Unknown with the reason, never silently dropped.
//
// A point place is inside a region named by a geocode when its District (Division, Province)
// is that region; inside a polygon or circle by its coordinates.
//
// PointIndex answers the same question for many points of the caller's own (subscribers'
// homes, or points with a radius of interest): build it once with NewPointIndex, compile the
// area with Gazetteer.Shape (or Compile, without geocodes) and Search it. Both indexes are
// simplefeatures' R-tree (github.com/peterstace/simplefeatures/rtree), and polygons are
// validated by simplefeatures' geom; polygon edges sit in an R-tree of their own so that a
// point test visits only the edges its ray meets.
package place
