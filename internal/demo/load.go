package demo

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/advisory"
)

//go:embed data/*.csv data/PROVENANCE.md
var files embed.FS

// Provenance returns data/PROVENANCE.md: where every embedded file comes
// from, its licence and what was trimmed. Serve it with the demo so the
// attribution travels with the data.
func Provenance() string {
	b, err := files.ReadFile("data/PROVENANCE.md")
	if err != nil {
		return ""
	}
	return string(b)
}

// Units used by the demo series; Symbol is the UCUM code, Definition the
// QUDT unit.
var (
	// Cusecs is cubic feet per second, the unit PDMA reports discharge in.
	Cusecs = Unit{Name: "cubic foot per second (cusec)", Symbol: "[cft_i]/s", Definition: "http://qudt.org/vocab/unit/FT3-PER-SEC"}
	// Celsius is degree Celsius.
	Celsius = Unit{Name: "degree Celsius", Symbol: "Cel", Definition: "http://qudt.org/vocab/unit/DEG_C"}
	// Millimetre is millimetre of precipitation.
	Millimetre = Unit{Name: "millimetre", Symbol: "mm", Definition: "http://qudt.org/vocab/unit/MilliM"}
	// MicrogramPerCubicMetre is µg/m³, the unit of all Beijing pollutants.
	MicrogramPerCubicMetre = Unit{Name: "microgram per cubic metre", Symbol: "ug/m3", Definition: "http://qudt.org/vocab/unit/MicroGM-PER-M3"}
	// Percent is per cent (relative humidity).
	Percent = Unit{Name: "percent", Symbol: "%", Definition: "http://qudt.org/vocab/unit/PERCENT"}
)

// Observed property definitions: CF standard names in the NERC vocabulary
// server.
const (
	defDischarge   = "http://vocab.nerc.ac.uk/standard_name/water_volume_transport_in_river_channel/"
	defAirTemp     = "http://vocab.nerc.ac.uk/standard_name/air_temperature/"
	defRain        = "http://vocab.nerc.ac.uk/standard_name/thickness_of_rainfall_amount/"
	defPM25        = "http://vocab.nerc.ac.uk/standard_name/mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air/"
	defPM10        = "http://vocab.nerc.ac.uk/standard_name/mass_concentration_of_pm10_ambient_aerosol_particles_in_air/"
	defNO2         = "http://vocab.nerc.ac.uk/standard_name/mass_concentration_of_nitrogen_dioxide_in_air/"
	defO3          = "http://vocab.nerc.ac.uk/standard_name/mass_concentration_of_ozone_in_air/"
	defDewPoint    = "http://vocab.nerc.ac.uk/standard_name/dew_point_temperature/"
	defRH          = "http://vocab.nerc.ac.uk/standard_name/relative_humidity/"
	attribPDMA     = "PDMA Punjab, Gauges and Rivers Situation Reports (parsed by ashahryar/Pakistan-Operational-Risk-Intelligence, MIT)"
	attribPMD      = "Pakistan Meteorological Department (CDPC), Pakistan Monthly Climate Summary"
	attribUCIMulti = "Zhang et al. (2017), Beijing Multi-Site Air-Quality Data, UCI ML Repository, CC BY 4.0"
	attribUCIEmb   = "Liang et al. (2015), Beijing PM2.5 Data, UCI ML Repository, CC BY 4.0"
)

// Load parses the embedded data into a Dataset. It fails only if the
// embedded files are inconsistent, which the package tests rule out.
func Load() (*Dataset, error) {
	ds := &Dataset{}
	for _, step := range []struct {
		name string
		fn   func(*Dataset) error
	}{
		{"gauges", loadGauges},
		{"pmd climate", loadClimate},
		{"beijing air quality", loadAir},
	} {
		if err := step.fn(ds); err != nil {
			return nil, fmt.Errorf("load demo %s: %w", step.name, err)
		}
	}
	for i := range ds.Series {
		s := &ds.Series[i]
		sort.SliceStable(s.Obs, func(a, b int) bool { return s.Obs[a].Time.Before(s.Obs[b].Time) })
		for j := 1; j < len(s.Obs); j++ {
			if !s.Obs[j].Time.After(s.Obs[j-1].Time) {
				return nil, fmt.Errorf("load demo: series %s: duplicate time %s", s.Key, s.Obs[j].Time)
			}
		}
		if ds.Station(s.StationKey) == nil {
			return nil, fmt.Errorf("load demo: series %s: unknown station %q", s.Key, s.StationKey)
		}
	}
	return ds, nil
}

// table is a CSV file read into rows addressed by column name.
type table struct {
	name string
	cols map[string]int
	rows [][]string
}

func readTable(name string) (*table, error) {
	f, err := files.Open("data/" + name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	t := &table{name: name, cols: map[string]int{}}
	for i, c := range head {
		t.cols[c] = i
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

// get returns column col of row i; a missing column is a programming error
// caught by the tests.
func (t *table) get(i int, col string) string {
	c, ok := t.cols[col]
	if !ok {
		panic(fmt.Sprintf("demo: %s has no column %q", t.name, col))
	}
	return strings.TrimSpace(t.rows[i][c])
}

// num parses column col of row i; ok is false for an empty or "NA" field.
func (t *table) num(i int, col string) (v float64, ok bool, err error) {
	s := t.get(i, col)
	if s == "" || s == "NA" {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s row %d column %s: %w", t.name, i+2, col, err)
	}
	return v, true, nil
}

// coord is one row of a *_coordinates.csv file.
type coord struct {
	lat, lon float64
	approx   bool
	source   string
}

func readCoords(name string) (map[string]coord, error) {
	t, err := readTable(name)
	if err != nil {
		return nil, err
	}
	m := map[string]coord{}
	for i := range t.rows {
		lat, ok1, err1 := t.num(i, "lat")
		lon, ok2, err2 := t.num(i, "lon")
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		approx, err := strconv.ParseBool(t.get(i, "approx"))
		if err != nil || !ok1 || !ok2 {
			return nil, fmt.Errorf("%s row %d: bad coordinate", name, i+2)
		}
		m[t.get(i, "station")] = coord{lat: lat, lon: lon, approx: approx, source: t.get(i, "source")}
	}
	return m, nil
}

// slug turns a source name into a key part: "G.S.Wala" → "gs-wala".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == '.':
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// gaugeNames gives the full structure names for the PDMA short names; the
// "structure" column of the station file carries longer descriptions.
var gaugeNames = map[string]string{
	"G.S.Wala": "Ganda Singh Wala", "Suleimanki": "Sulemanki Headworks", "Shahdara": "Ravi at Shahdara (Lahore)",
	"Jassar": "Ravi at Jassar",
}

func loadGauges(ds *Dataset) error {
	st, err := readTable("pdma_punjab_gauge_stations.csv")
	if err != nil {
		return err
	}
	coords, err := readCoords("gauge_coordinates.csv")
	if err != nil {
		return err
	}
	index := map[string]int{} // PDMA name → series index
	for i := range st.rows {
		name := st.get(i, "station")
		c, ok := coords[name]
		if !ok {
			return fmt.Errorf("no coordinates for gauge %q", name)
		}
		classes := map[string]float64{}
		for key, col := range map[string]string{"low": "low_flood_cusecs", "medium": "medium_flood_cusecs", "veryHigh": "very_high_flood_cusecs", "exceptional": "exceptional_flood_cusecs"} {
			v, ok, err := st.num(i, col)
			if err != nil {
				return err
			}
			if ok {
				classes[key] = v
			}
		}
		structure := st.get(i, "structure")
		full := gaugeNames[name]
		if full == "" {
			full = structure
		}
		river := st.get(i, "river")
		order, _ := strconv.Atoi(st.get(i, "report_order"))
		key := "pdma-" + slug(name)
		ds.Stations = append(ds.Stations, Station{
			Key:         key,
			Name:        full,
			Description: fmt.Sprintf("%s on the %s river, Punjab; PDMA gauge %q", structure, titleCase(river), name),
			Lat:         c.lat, Lon: c.lon, Approx: c.approx, Source: c.source,
			Properties: map[string]any{
				"river": titleCase(river), "structure": structure, "pdmaName": name, "reportOrder": order,
				"province": "Punjab", "country": "PK", "operator": "Punjab Irrigation Department", "network": "PDMA Punjab",
			},
		})
		index[name] = len(ds.Series)
		ds.Series = append(ds.Series, Series{
			StationKey:       key,
			Key:              key + "/discharge",
			Name:             "Discharge at " + full,
			Description:      "River discharge as reported in the PDMA Punjab Gauges and Rivers Situation Reports, in cusecs as reported. Source: " + attribPDMA,
			ObservedProperty: "Discharge",
			Definition:       defDischarge,
			Unit:             Cusecs,
			ObservationType:  OMMeasurement,
			Properties: map[string]any{
				"floodClasses": classes,
				"floodClassesNote": "PDMA / Federal Flood Commission classes in cusecs; the 'high' class was lost when the source PDFs were parsed " +
					"and is deliberately absent. Verify before using for real warnings.",
				"attribution": attribPDMA,
			},
			Split: GaugeSplit,
		})
	}
	fl, err := readTable("pdma_punjab_river_flows_2025_2026.csv")
	if err != nil {
		return err
	}
	for i := range fl.rows {
		name := fl.get(i, "station")
		si, ok := index[name]
		if !ok {
			return fmt.Errorf("flow row %d: unknown station %q", i+2, name)
		}
		t, err := time.Parse(time.RFC3339, fl.get(i, "report_datetime_pkt"))
		if err != nil {
			return fmt.Errorf("flow row %d: %w", i+2, err)
		}
		v, ok, err := fl.num(i, "discharge_cusecs")
		if err != nil {
			return err
		}
		if ok {
			ds.Series[si].Obs = append(ds.Series[si].Obs, Obs{Time: t, Value: v})
		}
	}
	return nil
}

// titleCase turns "CHENAB" into "Chenab".
func titleCase(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

// climateVars are the PMD columns turned into series.
var climateVars = []struct {
	col, key, prop, desc string
	def                  string
	unit                 Unit
}{
	{"mean_temp_c", "mean-temperature", "Air temperature (monthly mean)", "Monthly mean air temperature", defAirTemp, Celsius},
	{"mean_max_temp_c", "mean-max-temperature", "Air temperature (monthly mean of daily maximum)", "Monthly mean of the daily maximum air temperature", defAirTemp, Celsius},
	{"mean_min_temp_c", "mean-min-temperature", "Air temperature (monthly mean of daily minimum)", "Monthly mean of the daily minimum air temperature", defAirTemp, Celsius},
	{"rain_total_mm", "rain-total", "Precipitation (monthly total)", "Monthly rainfall total", defRain, Millimetre},
}

// pmdNames maps names printed by PMD to the station they belong to.
var pmdNames = map[string]string{"Chaklala": "Rawalpindi"}

// pmdFull gives the full town names behind PMD abbreviations.
var pmdFull = map[string]string{"D.I.Khan": "Dera Ismail Khan", "Nokkundi": "Nok Kundi"}

func loadClimate(ds *Dataset) error {
	t, err := readTable("pmd_monthly_station_climate_2020_2021.csv")
	if err != nil {
		return err
	}
	coords, err := readCoords("pmd_coordinates.csv")
	if err != nil {
		return err
	}
	first := map[string]int{} // station name → index of its first series
	for i := range t.rows {
		name := t.get(i, "station")
		if alias, ok := pmdNames[name]; ok {
			name = alias
		}
		si, ok := first[name]
		if !ok {
			c, ok := coords[name]
			if !ok {
				return fmt.Errorf("no coordinates for PMD station %q", name)
			}
			full := name
			if f, ok := pmdFull[name]; ok {
				full = f
			}
			key := "pmd-" + slug(name)
			ds.Stations = append(ds.Stations, Station{
				Key: key, Name: full + " (PMD)",
				Description: "Pakistan Meteorological Department synoptic station " + full,
				Lat:         c.lat, Lon: c.lon, Approx: c.approx, Source: c.source,
				Properties: map[string]any{"city": full, "pmdName": name, "country": "PK", "operator": "Pakistan Meteorological Department", "network": "PMD synoptic"},
			})
			si = len(ds.Series)
			first[name] = si
			for _, v := range climateVars {
				ds.Series = append(ds.Series, Series{
					StationKey: key, Key: key + "/" + v.key,
					Name:             v.prop + " at " + full,
					Description:      v.desc + ". Each observation is stamped at 00:00 PKT on the first day of its month and summarises that month. Source: " + attribPMD,
					ObservedProperty: v.prop, Definition: v.def, Unit: v.unit, ObservationType: OMMeasurement,
					Properties: map[string]any{"period": "P1M", "aggregation": "monthly", "normals": map[string]float64{}, "attribution": attribPMD},
					Split:      ClimateSplit,
				})
			}
		}
		year, err1 := strconv.Atoi(t.get(i, "year"))
		month, err2 := strconv.Atoi(t.get(i, "month"))
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("pmd row %d: %w", i+2, err)
		}
		at := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, PKT)
		for k, v := range climateVars {
			s := &ds.Series[si+k]
			val, ok, err := t.num(i, v.col)
			if err != nil {
				return err
			}
			if ok {
				s.Obs = append(s.Obs, Obs{Time: at, Value: val})
			}
			norm, ok, err := t.num(i, "normal_"+v.col)
			if err != nil {
				return err
			}
			if ok {
				s.Properties["normals"].(map[string]float64)[at.Format("2006-01")] = norm
			}
		}
	}
	return nil
}

// airVars are the Beijing columns turned into series.
var airVars = []struct {
	col, key, prop string
	def            string
	unit           Unit
}{
	{"pm25", "pm25", "PM2.5", defPM25, MicrogramPerCubicMetre},
	{"pm10", "pm10", "PM10", defPM10, MicrogramPerCubicMetre},
	{"no2", "no2", "NO2", defNO2, MicrogramPerCubicMetre},
	{"o3", "o3", "O3", defO3, MicrogramPerCubicMetre},
	{"temp", "temperature", "Air temperature", defAirTemp, Celsius},
	{"dewp", "dew-point", "Dew point temperature", defDewPoint, Celsius},
}

func loadAir(ds *Dataset) error {
	coords, err := readCoords("beijing_coordinates.csv")
	if err != nil {
		return err
	}
	type source struct {
		file, name, key, desc, attrib string
		setting                       string
		split                         time.Time
	}
	for _, src := range []source{
		{"us_embassy_pm25_2014.csv", "US Embassy", "usembassy-beijing", "PM2.5 monitor of the US Embassy in Beijing (Chaoyang District)", attribUCIEmb, "urban", EmbassySplit},
		{"prsa_aotizhongxin_2016-03_2017-02.csv", "Aotizhongxin", "prsa-aotizhongxin", "Beijing municipal air-quality station Aotizhongxin (Olympic Sports Centre), urban", attribUCIMulti, "urban", AirSplit},
		{"prsa_changping_2016-03_2017-02.csv", "Changping", "prsa-changping", "Beijing municipal air-quality station Changping, suburban", attribUCIMulti, "suburban", AirSplit},
		{"prsa_huairou_2016-03_2017-02.csv", "Huairou", "prsa-huairou", "Beijing municipal air-quality station Huairou, rural north", attribUCIMulti, "rural", AirSplit},
	} {
		c, ok := coords[src.name]
		if !ok {
			return fmt.Errorf("no coordinates for Beijing station %q", src.name)
		}
		t, err := readTable(src.file)
		if err != nil {
			return err
		}
		ds.Stations = append(ds.Stations, Station{
			Key: src.key, Name: src.name + " (Beijing)", Description: src.desc,
			Lat: c.lat, Lon: c.lon, Approx: c.approx, Source: c.source,
			Properties: map[string]any{"city": "Beijing", "country": "CN", "setting": src.setting, "timezone": "Asia/Shanghai"},
		})
		times := make([]time.Time, len(t.rows))
		for i := range t.rows {
			if times[i], err = time.Parse(time.RFC3339, t.get(i, "time_cst")); err != nil {
				return fmt.Errorf("%s row %d: %w", src.file, i+2, err)
			}
		}
		for _, v := range airVars {
			if _, ok := t.cols[v.col]; !ok {
				continue
			}
			s := Series{
				StationKey: src.key, Key: src.key + "/" + v.key,
				Name:             v.prop + " at " + src.name,
				Description:      "Hourly " + v.prop + " (Beijing time). Source: " + src.attrib,
				ObservedProperty: v.prop, Definition: v.def, Unit: v.unit, ObservationType: OMMeasurement,
				Properties: map[string]any{"period": "PT1H", "attribution": src.attrib},
				Split:      src.split,
			}
			for i := range t.rows {
				val, ok, err := t.num(i, v.col)
				if err != nil {
					return err
				}
				if ok {
					s.Obs = append(s.Obs, Obs{Time: times[i], Value: val})
				}
			}
			ds.Series = append(ds.Series, s)
		}
		if t, d := ds.SeriesByKey(src.key+"/temperature"), ds.SeriesByKey(src.key+"/dew-point"); t != nil && d != nil {
			ds.Series = append(ds.Series, humidity(t, d, src.name, src.attrib))
		}
	}
	return nil
}

// humidity derives a station's hourly relative humidity (%) from its air temperature and dew
// point of the same hour with the Magnus formula (advisory.RelativeHumidity); an hour missing
// either has none. The heat advisories read it with the temperature (docs/advisories.md).
func humidity(t, d *Series, name, attrib string) Series {
	dew := make(map[int64]float64, len(d.Obs))
	for _, o := range d.Obs {
		dew[o.Time.Unix()] = o.Value
	}
	s := Series{StationKey: t.StationKey, Key: t.StationKey + "/relative-humidity",
		Name:             "Relative humidity at " + name,
		Description:      "Hourly relative humidity (Beijing time), computed from air temperature and dew point of the same hour with the Magnus formula. Source: " + attrib,
		ObservedProperty: "Relative humidity", Definition: defRH, Unit: Percent, ObservationType: OMMeasurement,
		Properties: map[string]any{"period": "PT1H", "attribution": attrib, "computedFrom": "temperature and dew point of the same hour, with the Magnus formula (internal/advisory.RelativeHumidity)"},
		Split:      t.Split,
	}
	for _, o := range t.Obs {
		if td, ok := dew[o.Time.Unix()]; ok {
			s.Obs = append(s.Obs, Obs{Time: o.Time, Value: math.Round(advisory.RelativeHumidity(o.Value, td)*10) / 10})
		}
	}
	return s
}
