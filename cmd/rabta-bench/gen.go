package main

import (
	"math"
	"strconv"
	"time"
)

// epoch is the phenomenon time of every datastream's first observation.
var epoch = time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)

// sentinelEvery makes one value in this many a -9999 "sensor error" sentinel, which QC flags
// bad (out of the water-level range): a realistic trickle of flagged values, not all of them.
const sentinelEvery = 5000

// dataset is the benchmark's observations: n rows over d datastreams, hourly from epoch,
// water levels in metres. Every phase writes exactly these rows.
type dataset struct {
	n, d int
}

// rows returns how many observations datastream i (0-based) has: n/d, the first n%d one more.
func (g dataset) rows(i int) int {
	r := g.n / g.d
	if i < g.n%g.d {
		r++
	}
	return r
}

// hours is the longest datastream's number of hours.
func (g dataset) hours() int { return g.rows(0) }

// at returns the phenomenon time of hour h.
func at(h int) time.Time { return epoch.Add(time.Duration(h) * time.Hour) }

// appendTime appends hour h as RFC 3339 ("2014-01-01T05:00:00Z").
func appendTime(b []byte, h int) []byte { return at(h).AppendFormat(b, time.RFC3339) }

// value is datastream i's water level at hour h: a per-station base, a seasonal and a daily
// cycle and a little noise, rounded to millimetres; now and then a -9999 sentinel.
func value(i, h int) float64 {
	x := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(h)*0xBF58476D1CE4E5B9
	x ^= x >> 31
	x *= 0x94D049BB133111EB
	x ^= x >> 29
	if x%sentinelEvery == 0 {
		return -9999
	}
	noise := float64(x>>11)/float64(1<<53) - 0.5 // [-0.5, 0.5)
	base := 1.5 + float64(i%13)*0.4
	season := 1.2 * math.Sin(2*math.Pi*float64(h)/8766+float64(i))
	day := 0.08 * math.Sin(2*math.Pi*float64(h)/24+float64(i%24))
	return math.Round((base+season+day+0.02*noise)*1000) / 1000
}

func appendValue(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', -1, 64) }

// each calls f for every row of the datastreams in ds (indexes), in time order, the
// datastreams of one hour together (the order a gateway uploading all its stations would use).
func (g dataset) each(ds []int, f func(i, h int) bool) {
	for h := 0; h < g.hours(); h++ {
		for _, i := range ds {
			if h < g.rows(i) {
				if !f(i, h) {
					return
				}
			}
		}
	}
}

func allStreams(d int) []int {
	s := make([]int, d)
	for i := range s {
		s[i] = i
	}
	return s
}
