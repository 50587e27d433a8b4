package place

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// DefaultVillages is the number of synthetic villages Villages makes by default: Pakistan
// links more than 22,000 villages by optical fibre, and no public list of them with
// coordinates exists.
const DefaultVillages = 22_000

// DefaultMix is the share of synthetic villages by connectivity. It is an assumption for
// demonstrations and scale tests, not a measurement: a quarter reached by fibre, the largest
// share by mobile data, many by SMS only (feature phones, 2G), a few not at all.
var DefaultMix = map[Connectivity]float64{Fibre: 0.25, MobileData: 0.40, SMSOnly: 0.30, NoNetwork: 0.05}

// VillageOptions configures Villages.
type VillageOptions struct {
	// Count is the number of villages, at least one per district (0: DefaultVillages).
	Count int
	// Seed makes the set: the same places, Count, Seed and Mix give the same villages.
	Seed uint64
	// Mix is the share of villages by connectivity (nil: DefaultMix); shares are normalised.
	Mix map[Connectivity]float64
}

// Villages generates a synthetic, clearly labelled set of villages inside the districts of
// places (those of Kind District with a Boundary and a Population), deterministically from
// opts.Seed:
//   - each district gets villages in proportion to its population (largest remainder, at
//     least one each), placed uniformly at random (in degrees) inside its boundary;
//   - the villages of a district share what its towns (the Kind Town places whose District
//     is it) leave of its population, in random log-normal proportions, so that the district's
//     towns and villages add up to its Population exactly;
//   - a village speaks its district's languages (dominant mother tongue, then Urdu) and has a
//     connectivity drawn from opts.Mix;
//   - it is named "Synthetic village <district> <n>", keyed "village:syn:<district>:<n>"
//     (n from 0001), with Synthetic set and Source "synthetic (place.Villages, seed S)".
//
// The error says why no set can be made (no district, Count below the number of districts).
func Villages(places []Place, opts VillageOptions) ([]Place, error) {
	count := opts.Count
	if count == 0 {
		count = DefaultVillages
	}
	mix := opts.Mix
	if mix == nil {
		mix = DefaultMix
	}
	var cum []float64
	var total float64
	for _, c := range Connectivities {
		if mix[c] < 0 || math.IsNaN(mix[c]) {
			return nil, fmt.Errorf("villages: share of %s is %v", c, mix[c])
		}
		total += mix[c]
		cum = append(cum, total)
	}
	if !(total > 0) {
		return nil, fmt.Errorf("villages: the connectivity mix has no positive share")
	}
	var ds []*Place
	var people int64
	towns := map[string]int64{}
	for i := range places {
		p := &places[i]
		switch {
		case p.Kind == District && p.Boundary != nil && p.Population > 0:
			ds = append(ds, p)
			people += p.Population
		case p.Kind == Town && p.District != "":
			towns[p.District] += p.Population
		}
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("villages: no district with a boundary and a population among %d places", len(places))
	}
	if count < len(ds) {
		return nil, fmt.Errorf("villages: %d villages cannot give each of %d districts one", count, len(ds))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })

	// Apportion: one each, the rest by largest remainder of the population share.
	n := make([]int, len(ds))
	rest := count - len(ds)
	type frac struct {
		i int
		f float64
	}
	fr := make([]frac, len(ds))
	given := 0
	for i, d := range ds {
		q := float64(rest) * float64(d.Population) / float64(people)
		n[i] = 1 + int(q)
		given += int(q)
		fr[i] = frac{i, q - math.Floor(q)}
	}
	sort.SliceStable(fr, func(a, b int) bool { return fr[a].f > fr[b].f })
	for k := 0; k < rest-given; k++ {
		n[fr[k].i]++
	}

	rng := rand.New(rand.NewPCG(opts.Seed, 0x7261627461)) // "rabta"
	source := fmt.Sprintf("synthetic (place.Villages, seed %d)", opts.Seed)
	out := make([]Place, 0, count)
	for i, d := range ds {
		shape := shapeOf(d.Boundary)
		left := d.Population - towns[d.Name]
		if left < 0 {
			left = 0
		}
		pops := split(rng, left, n[i])
		for k := 0; k < n[i]; k++ {
			lat, lon := inside(rng, shape, d)
			u := rng.Float64() * total
			conn := Connectivities[len(Connectivities)-1]
			for j, c := range cum {
				if u < c {
					conn = Connectivities[j]
					break
				}
			}
			out = append(out, Place{
				Key:  fmt.Sprintf("village:syn:%s:%04d", d.Name, k+1),
				Kind: Village, Name: fmt.Sprintf("Synthetic village %s %04d", d.Name, k+1), Country: "PK",
				Province: d.Province, District: d.Name, Division: d.Division, Lat: lat, Lon: lon, Population: pops[k],
				Languages: append([]string(nil), d.Languages...), Connectivity: conn, Synthetic: true, Source: source,
			})
		}
	}
	return out, nil
}

// split divides total into n non-negative parts in random log-normal proportions that add up
// to total exactly.
func split(rng *rand.Rand, total int64, n int) []int64 {
	w := make([]float64, n)
	var sum float64
	for i := range w {
		w[i] = math.Exp(rng.NormFloat64() * 0.8)
		sum += w[i]
	}
	out := make([]int64, n)
	var given int64
	type frac struct {
		i int
		f float64
	}
	fr := make([]frac, n)
	for i := range w {
		q := float64(total) * w[i] / sum
		out[i] = int64(q)
		given += out[i]
		fr[i] = frac{i, q - math.Floor(q)}
	}
	sort.SliceStable(fr, func(a, b int) bool { return fr[a].f > fr[b].f })
	for k := 0; int64(k) < total-given && k < n; k++ {
		out[fr[k].i]++
	}
	return out
}

// inside draws a point uniformly (in degrees) inside the district's boundary, rounded to 5
// decimals (about 1 m); after 10,000 misses (a sliver of a district) it gives the district's
// label point.
func inside(rng *rand.Rand, shape *poly, d *Place) (lat, lon float64) {
	b := shape.box
	for try := 0; try < 10_000; try++ {
		x := b.MinX + rng.Float64()*(b.MaxX-b.MinX)
		y := b.MinY + rng.Float64()*(b.MaxY-b.MinY)
		x, y = math.Round(x*1e5)/1e5, math.Round(y*1e5)/1e5
		if shape.contains(x, y) {
			return y, x
		}
	}
	return d.Lat, d.Lon
}
