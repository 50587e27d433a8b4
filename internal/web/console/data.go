package console

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/twoway"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// Palette is the colour of each flood class, from the lowest level a gauge's rules name to
// the highest (a gauge with n levels uses n colours spread over it), and of a gauge that
// reaches none (Normal) or has no reading (NoData).
var (
	Palette = []string{"#fbc02d", "#f57c00", "#d32f2f", "#7b1fa2"}
	Normal  = "#2e7d32"
	NoData  = "#9e9e9e"
)

// QC ring colours of a marker: the latest observation's quality flag.
var qcRing = map[string]string{"good": "#1b1b1b", "suspect": "#ff6d00", "bad": "#d500f9", "": "#616161"}

// Level is a rule level as the console shows it.
type Level struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Station is one gauge on the map (GET /console/api/stations): where it is, its latest
// reading (value in Unit — as people read it, i18n's English term for the unit's symbol:
// "cusecs" for UCUM's "[cft_i]/s", a symbol it does not know as given —, time RFC 3339), its flood class by the levels of the rules that read
// it (twoway.Class, as the LEVEL command reports it; "" below every level) and its rank (0:
// none, 1: the lowest level …), its trend (twoway.Trend: rising, falling, steady, ""), the QC
// flag of its latest observation (good, suspect, bad; "" unknown) and the colours the map
// draws it with.
type Station struct {
	Datastream int64      `json:"datastream"`
	Name       string     `json:"name"`
	Lat        float64    `json:"lat"`
	Lon        float64    `json:"lon"`
	Unit       string     `json:"unit"`
	Value      *float64   `json:"value"`
	Time       *time.Time `json:"time"`
	Class      string     `json:"class"`
	Rank       int        `json:"rank"`
	Trend      string     `json:"trend"`
	QC         string     `json:"qc"`
	Direction  string     `json:"direction"`
	Levels     []Level    `json:"levels"`
	Colour     string     `json:"colour"`
	Ring       string     `json:"ring"`
}

// StationsView is the answer of GET /console/api/stations.
type StationsView struct {
	Generated time.Time `json:"generated"`
	Stations  []Station `json:"stations"`
	// Legend names each colour: "normal", "no data" and the level names in rank order of
	// the gauges on the map.
	Poll int `json:"pollSeconds"`
}

// sortedLevels returns g's levels from the lowest class to the highest.
func sortedLevels(g twoway.Gauge) []rule.Level {
	lv := slices.Clone(g.Levels)
	slices.SortStableFunc(lv, func(a, b rule.Level) int {
		if g.Direction == rule.Below {
			return -cmp(a.Value, b.Value)
		}
		return cmp(a.Value, b.Value)
	})
	return lv
}

func cmp(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// colour is the fill of a class of rank r (1-based) among n levels.
func colour(r, n int) string {
	switch {
	case r <= 0:
		return Normal
	case n <= 1:
		return Palette[len(Palette)-1]
	}
	i := int(math.Round(float64(r-1) * float64(len(Palette)-1) / float64(n-1)))
	return Palette[min(max(i, 0), len(Palette)-1)]
}

// stations builds the map's gauges: each gauge of the rules (Gauges) with a location, its
// class, trend and the QC flag of its latest reading.
func (s *Server) stations(ctx context.Context) ([]Station, error) {
	gs, err := s.Gauges(ctx)
	if err != nil {
		return nil, err
	}
	fcs, err := s.forecastDatastreams(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Station, 0, len(gs))
	for _, g := range gs {
		if g.Lat == 0 && g.Lon == 0 || fcs[g.Datastream] {
			continue // no location: not on a map; a forecast: on its station's hydrograph
		}
		st := Station{Datastream: g.Datastream, Name: g.Name, Lat: g.Lat, Lon: g.Lon, Unit: unitLabel(g.Unit), Direction: string(g.Direction), Levels: []Level{}}
		if st.Direction == "" {
			st.Direction = string(rule.Above)
		}
		lv := sortedLevels(g)
		for _, l := range lv {
			st.Levels = append(st.Levels, Level{l.Name, l.Value})
		}
		st.Colour = NoData
		if len(g.Recent) > 0 {
			v, t := g.Recent[0].V, g.Recent[0].T
			st.Value, st.Time = &v, &t
			st.Class, st.Trend = twoway.Class(g), twoway.Trend(g.Recent)
			for i, l := range lv {
				if l.Name == st.Class {
					st.Rank = i + 1
				}
			}
			st.Colour = colour(st.Rank, len(lv))
			if s.Readings != nil {
				rs, err := s.Readings.Readings(ctx, g.Datastream, t, t)
				if err != nil {
					return nil, err
				}
				if len(rs) > 0 {
					st.QC = rs[len(rs)-1].Flag.String()
				}
			}
		}
		st.Ring = qcRing[st.QC]
		out = append(out, st)
	}
	return out, nil
}

// forecastDatastreams are the ids of the forecast Datastreams (forecasting.IsForecast): forecast
// rules read them, but the map shows stations by what was observed.
func (s *Server) forecastDatastreams(ctx context.Context) (map[int64]bool, error) {
	out := map[int64]bool{}
	if s.Entities == nil {
		return out, nil
	}
	es, err := s.list(ctx, sensing.Datastreams, nil, url.Values{"$filter": {"properties/" + forecasting.PropForecast + " eq true"}, "$select": {"id,properties"}}, 10000)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if forecasting.IsForecast(raw(e.Props["properties"])) {
			out[e.ID] = true
		}
	}
	return out, nil
}

func (s *Server) poll() int {
	if s.Poll > 0 {
		return s.Poll
	}
	return 5
}

// stationsJSON serves GET /console/api/stations (viewer): StationsView.
func (s *Server) stationsJSON(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	sts, err := s.stations(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeJSON(w, StationsView{Generated: s.now().UTC(), Stations: sts, Poll: s.poll()})
}

// Point is one observation of a hydrograph: time (Unix seconds), value, QC flag.
type Point struct {
	T  int64   `json:"t"`
	V  float64 `json:"v"`
	QC string  `json:"qc"`
}

// ForecastPoint is one forecast value with its 90 % band (forecasting.Parameters), from the
// latest issue that covers its time.
type ForecastPoint struct {
	T      int64     `json:"t"`
	V      float64   `json:"v"`
	Lower  float64   `json:"lower"`
	Upper  float64   `json:"upper"`
	Issued time.Time `json:"issued"`
}

// Series is the answer of GET /console/api/stations/{ds}/series?hours=H: the station's
// observations over the H hours (1 to MaxSeriesHours, default DefaultHours) up to its latest
// reading (or now, when later), oldest first, at most MaxSeriesRows (the newest kept,
// Truncated set); the rule levels as bands; the forecast of its forecast Datastream (one whose
// properties say forecastInput = ds) from the window's start on; and its counts of QC flags.
type Series struct {
	Station
	Hours        int             `json:"hours"`
	From         time.Time       `json:"from"`
	Until        time.Time       `json:"until"`
	Observations []Point         `json:"observations"`
	Forecast     []ForecastPoint `json:"forecast"`
	ForecastDS   int64           `json:"forecastDatastream,omitempty"`
	Flags        map[string]int  `json:"flags"`
	Truncated    bool            `json:"truncated,omitempty"`
}

// dsID parses the {ds} of a path: a positive integer, else Invalid naming it.
func dsID(r *http.Request) (int64, error) {
	v := r.PathValue("ds")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.E(apperr.Invalid, "datastream %q in the path: want a positive integer", v)
	}
	return id, nil
}

// parseHours reads ?hours= (DefaultHours when absent).
func parseHours(v string) (int, error) {
	if v == "" {
		return DefaultHours, nil
	}
	h, err := strconv.Atoi(v)
	if err != nil || h < 1 || h > MaxSeriesHours {
		return 0, apperr.E(apperr.Invalid, "query parameter hours=%q: want a whole number of hours from 1 to %d", v, MaxSeriesHours)
	}
	return h, nil
}

// series builds a station's hydrograph; NotFound when ds is not a gauge of the rules.
func (s *Server) series(ctx context.Context, ds int64, hours int) (*Series, error) {
	sts, err := s.stations(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(sts, func(st Station) bool { return st.Datastream == ds })
	if i < 0 {
		return nil, apperr.E(apperr.NotFound, "Datastream %d is not a gauge on the console's map (no threshold rule reads it, or its Thing has no location)", ds)
	}
	out := &Series{Station: sts[i], Hours: hours, Observations: []Point{}, Forecast: []ForecastPoint{}, Flags: map[string]int{}}
	until := s.now().UTC()
	if out.Time != nil && out.Time.After(until) {
		until = *out.Time
	}
	from := until.Add(-time.Duration(hours) * time.Hour)
	out.From, out.Until = from, until
	rs, err := s.Readings.Readings(ctx, ds, from, until)
	if err != nil {
		return nil, err
	}
	if len(rs) > MaxSeriesRows {
		rs, out.Truncated = rs[len(rs)-MaxSeriesRows:], true
	}
	for _, x := range rs {
		f := x.Flag.String()
		out.Observations = append(out.Observations, Point{x.Time.Unix(), x.Value, f})
		out.Flags[f]++
	}
	fds, fc, err := s.forecast(ctx, ds, from)
	if err != nil {
		return nil, err
	}
	out.ForecastDS, out.Forecast = fds, fc
	return out, nil
}

// list runs a SensorThings query: set, optional parent, query options, page size.
func (s *Server) list(ctx context.Context, set string, parent *sensing.Parent, opts url.Values, top int) ([]*sensing.Entity, error) {
	o, err := odata.ParseOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("console query %v: %w", opts, err)
	}
	p, err := s.Entities.List(ctx, &sensing.Query{Set: set, Parent: parent, Opts: o, Top: top, MaxTop: top, ExpandTop: top})
	if err != nil {
		return nil, err
	}
	return p.Entities, nil
}

// forecast returns the forecast Datastream of discharge Datastream ds (0 when none) and its
// values from from on, each time from the latest issue.
func (s *Server) forecast(ctx context.Context, ds int64, from time.Time) (int64, []ForecastPoint, error) {
	out := []ForecastPoint{}
	if s.Entities == nil {
		return 0, out, nil
	}
	fdss, err := s.list(ctx, sensing.Datastreams, nil, url.Values{
		"$filter": {fmt.Sprintf("properties/%s eq %d", forecasting.PropInput, ds)}, "$select": {"id,properties"}}, 10)
	if err != nil {
		return 0, nil, err
	}
	var fid int64
	for _, e := range fdss {
		if forecasting.IsForecast(raw(e.Props["properties"])) {
			fid = e.ID
			break
		}
	}
	if fid == 0 {
		return 0, out, nil
	}
	obs, err := s.list(ctx, sensing.Observations, &sensing.Parent{Set: sensing.Datastreams, ID: fid, Nav: sensing.Observations}, url.Values{
		"$filter":  {"phenomenonTime ge " + from.UTC().Format(time.RFC3339)},
		"$orderby": {"resultTime desc,phenomenonTime asc"},
		"$select":  {"phenomenonTime,result,parameters"}}, MaxForecastRow)
	if err != nil {
		return 0, nil, err
	}
	seen := map[int64]bool{}
	for _, e := range obs {
		var o struct {
			PhenomenonTime string                 `json:"phenomenonTime"`
			Result         float64                `json:"result"`
			Parameters     forecasting.Parameters `json:"parameters"`
		}
		b, _ := json.Marshal(e.Props)
		if json.Unmarshal(b, &o) != nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, o.PhenomenonTime)
		if err != nil || seen[t.Unix()] {
			continue // a later issue already gave this time
		}
		seen[t.Unix()] = true
		out = append(out, ForecastPoint{T: t.Unix(), V: o.Result, Lower: o.Parameters.Lower, Upper: o.Parameters.Upper, Issued: o.Parameters.Issued})
	}
	slices.SortFunc(out, func(a, b ForecastPoint) int { return int(a.T - b.T) })
	return fid, out, nil
}

// raw returns a JSON property value as bytes.
func raw(v any) []byte {
	switch x := v.(type) {
	case json.RawMessage:
		return x
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	b, _ := json.Marshal(v)
	return b
}

// unitLabel is how the console writes unit symbol u (i18n's English term, else u).
func unitLabel(u string) string {
	l, _ := i18n.For("en").Unit(u)
	return l
}

// seriesJSON serves GET /console/api/stations/{ds}/series (viewer): Series.
func (s *Server) seriesJSON(w http.ResponseWriter, r *http.Request) {
	if out, ok := s.seriesOf(w, r); ok {
		writeJSON(w, out)
	}
}

// seriesOf is the Series of the request's station ({ds}) over its ?hours (viewer), or false
// when it has answered the request with the error.
func (s *Server) seriesOf(w http.ResponseWriter, r *http.Request) (*Series, bool) {
	err := auth.Require(r.Context(), auth.Viewer)
	var ds int64
	if err == nil {
		ds, err = dsID(r)
	}
	var hours int
	if err == nil {
		hours, err = parseHours(r.URL.Query().Get("hours"))
	}
	var out *Series
	if err == nil {
		out, err = s.series(r.Context(), ds, hours)
	}
	if err != nil {
		s.failErr(w, r, err)
		return nil, false
	}
	return out, true
}

// DistrictVertices is how many points each district outline keeps (place.Outline).
const DistrictVertices = 80

// districtsJSON serves GET /console/api/districts (viewer): the node's districts as a GeoJSON
// FeatureCollection (RFC 7946) of Polygons, each the outline of the district's largest part
// simplified to DistrictVertices points, with properties name, province, population.
func (s *Server) districtsJSON(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	b, err := s.districts(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	writeCached(w, r, "application/geo+json", b)
}

func (s *Server) districts(ctx context.Context) ([]byte, error) {
	s.geoMu.Lock()
	defer s.geoMu.Unlock()
	if s.geo != nil && s.now().Sub(s.geoAt) < time.Minute {
		return s.geo, nil
	}
	ps, err := s.Places(ctx)
	if err != nil {
		return nil, err
	}
	type feature struct {
		Type       string         `json:"type"`
		Geometry   map[string]any `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	n := 0
	for _, p := range ps {
		if p.Kind != place.District || p.Boundary == nil {
			continue
		}
		n++
		pg := place.Outline(p.Boundary, DistrictVertices)
		if len(pg) < 4 {
			continue
		}
		ring := make([][2]float64, len(pg))
		for i, pt := range pg {
			ring[i] = [2]float64{round5(pt.Lon), round5(pt.Lat)}
		}
		fc.Features = append(fc.Features, feature{Type: "Feature",
			Geometry:   map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}},
			Properties: map[string]any{"name": p.Name, "province": p.Province, "population": p.Population}})
	}
	if n == s.geoN && s.geo != nil {
		s.geoAt = s.now()
		return s.geo, nil
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return nil, err
	}
	s.geo, s.geoN, s.geoAt = b, n, s.now()
	return b, nil
}

func round5(v float64) float64 { return math.Round(v*1e5) / 1e5 }

// villagesJSON serves GET /console/api/villages (viewer): the node's villages as
// {"villages": [[lat, lon, connectivity], …]} with connectivity one of fibre, mobile-data,
// sms-only, none, "" (compact: 22,000 villages are about 0.8 MB, 0.2 MB gzipped).
func (s *Server) villagesJSON(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.villMu.Lock()
	defer s.villMu.Unlock()
	if s.vill == nil || s.now().Sub(s.villAt) > time.Minute {
		ps, err := s.Places(r.Context())
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		vs := [][3]any{}
		for _, p := range ps {
			if p.Kind == place.Village {
				vs = append(vs, [3]any{round5(p.Lat), round5(p.Lon), string(p.Connectivity)})
			}
		}
		b, _ := json.Marshal(map[string]any{"villages": vs})
		s.vill, s.villN, s.villAt = b, len(vs), s.now()
	}
	writeCached(w, r, "application/json", s.vill)
}

// writeCached writes a large answer the client may keep for 5 minutes, gzip-compressed when
// the client accepts it.
func writeCached(w http.ResponseWriter, r *http.Request, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		zw.Write(b)
		zw.Close()
		return
	}
	w.Write(b)
}
