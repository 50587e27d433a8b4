package demo

import (
	"strings"
	"testing"
	"time"
)

func load(t *testing.T) *Dataset {
	t.Helper()
	ds, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ds
}

func TestLoadStations(t *testing.T) {
	ds := load(t)
	count := map[string]int{}
	for _, s := range ds.Stations {
		prefix, _, _ := strings.Cut(s.Key, "-")
		count[prefix]++
		if s.Source == "" || s.Name == "" {
			t.Errorf("station %s: empty name or source", s.Key)
		}
		switch prefix {
		case "pdma", "pmd":
			// Pakistan's bounding box (Natural Earth admin-0, rounded out).
			if s.Lat < 23.5 || s.Lat > 37.2 || s.Lon < 60.8 || s.Lon > 77.9 {
				t.Errorf("station %s at %v,%v: outside Pakistan", s.Key, s.Lat, s.Lon)
			}
		default:
			// Beijing municipality.
			if s.Lat < 39.4 || s.Lat > 41.1 || s.Lon < 115.4 || s.Lon > 117.5 {
				t.Errorf("station %s at %v,%v: outside Beijing", s.Key, s.Lat, s.Lon)
			}
		}
	}
	beijing := count["usembassy"] + count["prsa"]
	if count["pdma"] != 18 || count["pmd"] != 25 || beijing != 4 {
		t.Errorf("stations: pdma %d (want 18), pmd %d (want 25), beijing %d (want 4)", count["pdma"], count["pmd"], beijing)
	}
	keys := map[string]bool{}
	for _, s := range ds.Stations {
		if keys[s.Key] {
			t.Errorf("duplicate station key %s", s.Key)
		}
		keys[s.Key] = true
	}
}

func TestLoadSeries(t *testing.T) {
	ds := load(t)
	keys := map[string]bool{}
	for _, s := range ds.Series {
		if keys[s.Key] {
			t.Errorf("duplicate series key %s", s.Key)
		}
		keys[s.Key] = true
		if len(s.Obs) == 0 {
			t.Errorf("series %s: no observations", s.Key)
		}
		for i := 1; i < len(s.Obs); i++ {
			if !s.Obs[i].Time.After(s.Obs[i-1].Time) {
				t.Fatalf("series %s: not sorted at %d", s.Key, i)
			}
		}
		if s.Split.IsZero() || s.ObservationType != OMMeasurement || s.Unit.Symbol == "" || s.Definition == "" {
			t.Errorf("series %s: incomplete metadata", s.Key)
		}
	}
	// 18 gauges + 25 × 4 climate + 3 × 5 + 1 air series.
	if got, want := len(ds.Series), 18+25*4+3*7+1; got != want {
		t.Errorf("series: got %d, want %d", got, want)
	}
	if n := len(ds.SeriesByKey("prsa-huairou/pm25").Obs); n < 8000 || n > 8760 {
		t.Errorf("huairou pm2.5: %d hourly values, want 12 months minus gaps", n)
	}
	rw := ds.SeriesByKey("pmd-rawalpindi/mean-temperature")
	if rw == nil || len(rw.Obs) != 12 {
		t.Errorf("rawalpindi (with Chaklala merged): want 12 months, got %v", rw)
	}
	if first := rw.Obs[0].Time; !first.Equal(time.Date(2020, 8, 1, 0, 0, 0, 0, PKT)) {
		t.Errorf("first PMD month at %v, want 2020-08-01T00:00+05:00", first)
	}
}

func TestKhankiPeak(t *testing.T) {
	ds := load(t)
	s := ds.SeriesByKey("pdma-khanki/discharge")
	if s == nil {
		t.Fatal("no Khanki discharge series")
	}
	var peak Obs
	for _, o := range s.Obs {
		if o.Value > peak.Value {
			peak = o
		}
	}
	want := time.Date(2025, 8, 27, 13, 0, 0, 0, PKT)
	if peak.Value != 1001480 || !peak.Time.Equal(want) {
		t.Errorf("Khanki peak %v at %v, want 1001480 at %v", peak.Value, peak.Time, want)
	}
	classes := s.Properties["floodClasses"].(map[string]float64)
	if _, ok := classes["high"]; ok || classes["exceptional"] != 600000 || len(classes) != 4 {
		t.Errorf("Khanki flood classes %v", classes)
	}
	if peak.Value < classes["exceptional"] {
		t.Errorf("the 2025 peak should exceed the exceptional class")
	}
	if s.Unit.Symbol != "[cft_i]/s" {
		t.Errorf("unit %q", s.Unit.Symbol)
	}
}

func TestProvenanceEmbedded(t *testing.T) {
	p := Provenance()
	for _, want := range []string{"CC BY 4.0", "PDMA", "GeoNames", "last 12 months"} {
		if !strings.Contains(p, want) {
			t.Errorf("PROVENANCE.md lacks %q", want)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"G.S.Wala": "gswala", "Khanki": "khanki", "D.I.Khan": "dikhan", "US Embassy": "us-embassy"} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
