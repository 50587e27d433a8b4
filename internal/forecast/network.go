// Package forecast is Rabta's flood-forecasting computation: the river network (which gauge is
// upstream of which), rating curves (stage ↔ discharge), and flood routing. It is pure: no
// store, no bus, no HTTP. docs/forecast.md describes the methods and the demo data.
package forecast

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"
)

// River network.
//
// A network is a directed graph of gauge stations joined by reaches: a reach runs from an
// upstream station to the next station downstream. Where two reaches end at the same station
// (a confluence) their routed flows are summed there. A station has at most one downstream
// reach: distributaries and canal off-takes are not modelled, so flows never split. The
// graph must be acyclic.

// Station is one gauge station in a network.
type Station struct {
	ID    string  // unique key in the network, e.g. "tarbela"; [a-z0-9_.-]
	Name  string  // display name, e.g. "Tarbela Dam"
	River string  // river name as the gauge authority prints it, e.g. "INDUS"
	Lat   float64 // WGS84 degrees; 0,0 when unknown (HasPosition false)
	Lon   float64
	// HasPosition reports whether Lat/Lon were given.
	HasPosition bool
	// Approx marks a position that is not the gauge's own (e.g. a nearby town centre).
	Approx bool
	// Source says where the position comes from (free text).
	Source string
}

// Reach is the river between two consecutive stations, From upstream, To downstream.
type Reach struct {
	From, To string
	// LengthKM is the length along the river, km (≥ 0; 0 when unknown).
	LengthKM float64
	// TravelTime is the time a flood wave takes to pass the reach; 0 means unknown (not yet
	// calibrated). Never negative.
	TravelTime time.Duration
}

// Network is a validated, acyclic river network. It is immutable after construction and safe
// for concurrent use.
type Network struct {
	stations []Station
	index    map[string]int // station id → index in stations
	reaches  []Reach
	down     []int   // station index → index of its downstream reach, or -1
	up       [][]int // station index → indexes of reaches ending there, file order
	order    []int   // station indexes in topological order (upstream first)
	rank     []int   // station index → position in order
}

// NetworkError is a validation error in a network, naming where it is: the file line (0
// when the network was not read from a file) and the field path, e.g. "reaches[3].to".
// Doc names what was read in the message ("river network" when empty); the stored network
// document of package forecasting says "forecast network".
type NetworkError struct {
	Doc   string
	Line  int
	Field string
	Msg   string
}

func (e *NetworkError) Error() string {
	var b strings.Builder
	if e.Doc == "" {
		b.WriteString("river network")
	} else {
		b.WriteString(e.Doc)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// ErrUnknownStation is wrapped by the errors of queries naming a station the network lacks.
var ErrUnknownStation = errors.New("unknown station")

// NewNetwork validates stations and reaches and returns the network. Errors (*NetworkError):
// empty or duplicate station id, unknown station in a reach, a self-loop, a duplicate reach,
// a station with two downstream reaches, a negative or non-finite length or travel time, a
// latitude/longitude out of range, and a cycle (naming its stations).
func NewNetwork(stations []Station, reaches []Reach) (*Network, error) {
	return newNetwork(stations, reaches, nil)
}

func newNetwork(stations []Station, reaches []Reach, pos Fields) (*Network, error) {
	n := &Network{
		stations: slices.Clone(stations),
		index:    make(map[string]int, len(stations)),
		reaches:  slices.Clone(reaches),
		down:     make([]int, len(stations)),
		up:       make([][]int, len(stations)),
	}
	serr := func(i int, field, format string, a ...any) error {
		return &NetworkError{Line: pos.at("stations", i, field), Field: fmt.Sprintf("stations[%d].%s", i, field), Msg: fmt.Sprintf(format, a...)}
	}
	rerr := func(i int, field, format string, a ...any) error {
		return &NetworkError{Line: pos.at("reaches", i, field), Field: fmt.Sprintf("reaches[%d].%s", i, field), Msg: fmt.Sprintf(format, a...)}
	}
	if len(stations) == 0 {
		return nil, &NetworkError{Field: "stations", Msg: "no stations"}
	}
	for i, s := range stations {
		switch {
		case s.ID == "":
			return nil, serr(i, "id", "missing")
		case !validID(s.ID):
			return nil, serr(i, "id", "%q: want at most 64 letters, digits, '_', '.' or '-'", s.ID)
		case s.HasPosition && (!finite(s.Lat) || s.Lat < -90 || s.Lat > 90):
			return nil, serr(i, "lat", "%v out of range -90…90", s.Lat)
		case s.HasPosition && (!finite(s.Lon) || s.Lon < -180 || s.Lon > 180):
			return nil, serr(i, "lon", "%v out of range -180…180", s.Lon)
		}
		if j, dup := n.index[s.ID]; dup {
			return nil, serr(i, "id", "duplicate station %q (also stations[%d])", s.ID, j)
		}
		n.index[s.ID] = i
		n.down[i] = -1
	}
	for i, r := range reaches {
		f, okf := n.index[r.From]
		t, okt := n.index[r.To]
		switch {
		case r.From == "":
			return nil, rerr(i, "from", "missing")
		case !okf:
			return nil, rerr(i, "from", "unknown station %q", r.From)
		case r.To == "":
			return nil, rerr(i, "to", "missing")
		case !okt:
			return nil, rerr(i, "to", "unknown station %q", r.To)
		case f == t:
			return nil, rerr(i, "to", "self-loop: reach from %q to itself", r.From)
		case !finite(r.LengthKM) || r.LengthKM < 0:
			return nil, rerr(i, "length_km", "%v: want a length ≥ 0 km", r.LengthKM)
		case r.TravelTime < 0:
			return nil, rerr(i, "travel_time_h", "%v: want a travel time ≥ 0", r.TravelTime)
		}
		if j := n.down[f]; j >= 0 {
			if reaches[j].To == r.To {
				return nil, rerr(i, "to", "duplicate reach %s → %s (also reaches[%d])", r.From, r.To, j)
			}
			return nil, rerr(i, "from", "station %q already has a downstream reach (reaches[%d] to %q); flows that split are not modelled", r.From, j, reaches[j].To)
		}
		n.down[f] = i
		n.up[t] = append(n.up[t], i)
	}
	// Topological order with gonum; node ids are station indexes, ties broken by file order.
	g := simple.NewDirectedGraph()
	for i := range stations {
		g.AddNode(simple.Node(int64(i)))
	}
	for _, r := range reaches {
		g.SetEdge(g.NewEdge(simple.Node(int64(n.index[r.From])), simple.Node(int64(n.index[r.To]))))
	}
	sorted, err := topo.SortStabilized(g, func(ns []graph.Node) {
		slices.SortFunc(ns, func(a, b graph.Node) int { return int(a.ID() - b.ID()) })
	})
	if err != nil {
		var u topo.Unorderable
		if errors.As(err, &u) && len(u) > 0 {
			cyc := u[0]
			ids := make([]int, len(cyc))
			for k, nd := range cyc {
				ids[k] = int(nd.ID())
			}
			slices.Sort(ids)
			names := make([]string, len(ids))
			for k, id := range ids {
				names[k] = stations[id].ID
			}
			first := n.down[ids[0]]
			return nil, &NetworkError{Line: pos.at("reaches", first, ""), Field: fmt.Sprintf("reaches[%d]", first),
				Msg: fmt.Sprintf("cycle through stations %s", strings.Join(names, ", "))}
		}
		return nil, fmt.Errorf("river network: order stations: %w", err)
	}
	n.order = make([]int, len(sorted))
	n.rank = make([]int, len(stations))
	for k, nd := range sorted {
		n.order[k] = int(nd.ID())
		n.rank[nd.ID()] = k
	}
	return n, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func validID(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return len(s) <= 64
}

// Stations returns the stations in file order.
func (n *Network) Stations() []Station { return slices.Clone(n.stations) }

// Reaches returns the reaches in file order.
func (n *Network) Reaches() []Reach { return slices.Clone(n.reaches) }

// Station returns the station with the given id.
func (n *Network) Station(id string) (Station, bool) {
	i, ok := n.index[id]
	if !ok {
		return Station{}, false
	}
	return n.stations[i], true
}

// Order returns every station id in topological order: each station comes after every
// station upstream of it. Ties are broken by file order, so the result is deterministic.
func (n *Network) Order() []string {
	out := make([]string, len(n.order))
	for k, i := range n.order {
		out[k] = n.stations[i].ID
	}
	return out
}

// Downstream returns the reach leaving station id, if any.
func (n *Network) Downstream(id string) (Reach, bool) {
	i, ok := n.index[id]
	if !ok || n.down[i] < 0 {
		return Reach{}, false
	}
	return n.reaches[n.down[i]], true
}

// Upstream returns every reach that drains to station id, in an order in which they can be
// computed: a reach comes after every reach ending at its From station (so when a reach is
// routed, the inflow at its upstream station, the sum of the reaches that join there, is
// complete). Headwater stations in the result are those that appear as a From and never as a
// To. A station with nothing upstream gives an empty slice. Errors: ErrUnknownStation.
func (n *Network) Upstream(id string) ([]Reach, error) {
	t, ok := n.index[id]
	if !ok {
		return nil, fmt.Errorf("river network: upstream of %q: %w", id, ErrUnknownStation)
	}
	in := n.upstreamSet(t)
	var out []Reach
	for _, i := range n.order[:n.rank[t]] {
		if in[i] {
			out = append(out, n.reaches[n.down[i]])
		}
	}
	return out, nil
}

// upstreamSet marks the stations draining to t (t excluded).
func (n *Network) upstreamSet(t int) []bool {
	in := make([]bool, len(n.stations))
	stack := []int{t}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range n.up[s] {
			f := n.index[n.reaches[r].From]
			if !in[f] {
				in[f] = true
				stack = append(stack, f)
			}
		}
	}
	return in
}

// Horizon is how far ahead a station's forecast can reach from upstream observations.
type Horizon struct {
	// Longest is the sum of reach travel times along the upstream path with the greatest
	// total: how long the earliest-observed water takes to arrive. Path lists that path's
	// stations from its headwater to the station itself. 0 and a one-station path when
	// nothing is upstream.
	Longest time.Duration
	Path    []string
	// Shortest is the same sum along the upstream path with the smallest total. Below a
	// confluence only the flow of every branch is known for that long; beyond it, the sum
	// relies on the longer branches alone (the shorter ones still contribute what they carry
	// at the time of the last observation).
	Shortest time.Duration
	// Unknown lists the upstream reaches whose travel time is not known (counted as 0 in the
	// sums above); empty when the horizon is complete.
	Unknown []Reach
}

// Horizon returns the forecast horizon at station id. Errors: ErrUnknownStation.
func (n *Network) Horizon(id string) (Horizon, error) {
	t, ok := n.index[id]
	if !ok {
		return Horizon{}, fmt.Errorf("river network: horizon of %q: %w", id, ErrUnknownStation)
	}
	in := n.upstreamSet(t)
	in[t] = true
	long := make([]time.Duration, len(n.stations))
	short := make([]time.Duration, len(n.stations))
	prev := make([]int, len(n.stations)) // station → upstream station on the longest path
	var h Horizon
	for _, s := range n.order[:n.rank[t]+1] {
		if !in[s] {
			continue
		}
		if len(n.up[s]) == 0 {
			long[s], short[s], prev[s] = 0, 0, -1
			continue
		}
		first := true
		for _, ri := range n.up[s] {
			r := n.reaches[ri]
			f := n.index[r.From]
			if r.TravelTime == 0 {
				h.Unknown = append(h.Unknown, r)
			}
			l, sh := long[f]+r.TravelTime, short[f]+r.TravelTime
			if first || l > long[s] {
				long[s], prev[s] = l, f
			}
			if first || sh < short[s] {
				short[s] = sh
			}
			first = false
		}
	}
	h.Longest, h.Shortest = long[t], short[t]
	for s := t; s >= 0; s = prev[s] {
		h.Path = append(h.Path, n.stations[s].ID)
	}
	slices.Reverse(h.Path)
	return h, nil
}

// Network file.
//
// LoadNetwork reads YAML (chosen over JSON because the demo network cites a source beside
// almost every number, and YAML keeps those citations as comments next to the value, and
// because its parser gives every value's line, so an error can name it):
//
//	stations:
//	  - id: tarbela            # required, unique
//	    name: Tarbela Dam      # optional
//	    river: INDUS           # optional
//	    lat: 34.0855           # optional, WGS84 degrees (both or neither)
//	    lon: 72.6969
//	    approx: false          # optional: true when the position is not the gauge's own
//	    source: "…"            # optional free text: where the position comes from
//	reaches:
//	  - from: tarbela          # required: upstream station id
//	    to: kalabagh           # required: downstream station id
//	    length_km: 167.2       # optional, ≥ 0
//	    travel_time_h: 30      # optional, hours > 0; absent or null = unknown
//	    source: "…"            # optional free text: where the numbers come from
//
// Top-level keys besides stations and reaches: name, description, sources (free text, kept
// for people). Unknown keys are refused. A station's name and river are UTF-8 text of at most
// MaxStationText bytes, a source at most MaxSourceText (document.go: the walkers shared with
// package forecasting's stored network document).

// maxNetworkFile bounds what LoadNetwork reads.
const maxNetworkFile = 1 << 20

// LoadNetwork parses and validates a network file (format above). Errors name the line and
// the field: "river network: line 12: reaches[3].to: unknown station \"trimu\"".
func LoadNetwork(data []byte) (*Network, error) {
	if len(data) > maxNetworkFile {
		return nil, &NetworkError{Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxNetworkFile)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("river network: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &NetworkError{Line: doc.Line, Msg: "want a mapping with stations and reaches"}
	}
	var stations []Station
	var reaches []Reach
	pos := Fields{}
	err := Mapping("", doc.Content[0], "", pos, []string{"name", "description", "sources", "stations", "reaches"}, func(key string, val *yaml.Node) error {
		switch key {
		case "stations":
			return List(val, func(i int, item *yaml.Node) error {
				s, err := DecodeStation("", i, item, pos, nil, nil)
				stations = append(stations, s)
				return err
			})
		case "reaches":
			return List(val, func(i int, item *yaml.Node) error {
				r, err := DecodeReach("", i, item, pos, nil, nil)
				reaches = append(reaches, r)
				return err
			})
		}
		return nil // name, description, sources: for people
	})
	if err != nil {
		return nil, err
	}
	return newNetwork(stations, reaches, pos)
}

// punjabIndus is the demo network; data/PROVENANCE.md gives its sources.
//
//go:embed data/punjab_indus.yaml
var punjabIndus []byte

// PunjabIndusYAML returns the demo network file: Punjab's Indus, Jhelum, Chenab, Ravi and
// Sutlej gauges down to Panjnad, and the Indus on to Guddu, Sukkur and Kotri (21 stations,
// 20 reaches). Sources: internal/forecast/data/PROVENANCE.md.
func PunjabIndusYAML() []byte { return slices.Clone(punjabIndus) }

// PunjabIndus returns the demo network, loaded from PunjabIndusYAML.
func PunjabIndus() (*Network, error) { return LoadNetwork(punjabIndus) }
