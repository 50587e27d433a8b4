package cap

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// pts builds a polygon from lat, lon pairs.
func pts(ll ...float64) Polygon {
	var pg Polygon
	for i := 0; i+1 < len(ll); i += 2 {
		pg = append(pg, Point{Lat: ll[i], Lon: ll[i+1]})
	}
	return pg
}

// Every kind of degenerate area is refused by the one check, with a message saying where.
func TestCheckPolygon(t *testing.T) {
	for _, tc := range []struct {
		name string
		pg   Polygon
		want string // "" for accepted
	}{
		{"square", pts(31, 74, 31, 75, 32, 75, 32, 74, 31, 74), ""},
		{"triangle with a repeated vertex", pts(31, 74, 31, 75, 31, 75, 32, 75, 31, 74), ""},
		{"bow tie", pts(31, 74, 32, 75, 31, 75, 32, 74, 31, 74), "crosses itself at 31.5,74.5 (edges 0 and 2)"},
		{"four identical points", pts(31, 74, 31, 74, 31, 74, 31, 74), "has only 1 distinct point(s): it encloses no area"},
		{"two distinct points", pts(31, 74, 31, 75, 31, 74, 31, 74), "has only 2 distinct point(s)"},
		{"collinear: no area", pts(31, 74, 31, 75, 31, 76, 31, 74), "runs back over itself between"},
		{"spike", pts(31, 74, 31, 75, 32, 75, 31, 75, 31, 74), "runs back over itself"},
		{"touching itself at a vertex", pts(31, 74, 31, 76, 32, 75, 31, 75, 32, 74, 31, 74), "touches itself at 31,75"},
		{"open ring", pts(31, 74, 31, 75, 32, 75, 32, 74), "is not closed: the first point 31,74 differs from the last 32,74"},
		{"three points", pts(31, 74, 31, 75, 31, 74), "has 3 points; a CAP polygon needs at least 4"},
		{"empty", nil, "has 0 points"},
		{"latitude out of range", pts(91, 74, 31, 75, 32, 75, 91, 74), "point 0 (91,74): latitude out of range"},
		{"lon,lat order", pts(120, 33, 121, 33, 121, 34, 120, 33), "looks like lon,lat"},
		{"longitude out of range", pts(31, 181, 31, 75, 32, 75, 31, 181), "point 0 (31,181): longitude out of range"},
		{"NaN", pts(31, 74, math.NaN(), 75, 32, 75, 31, 74), "point 1 (NaN,75): not a finite number"},
		{"infinite", pts(31, 74, 31, math.Inf(1), 32, 75, 31, 74), "point 1 (31,+Inf): not a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPolygon(tc.pg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestCheckCircle(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Circle
		want string
	}{
		{"5 km", Circle{Point{31, 74}, 5}, ""},
		{"radius 0", Circle{Point{31, 74}, 0}, "radius 0 km: it must be greater than 0"},
		{"negative radius", Circle{Point{31, 74}, -1}, "radius -1 km: it must be a finite number, not negative"},
		{"NaN radius", Circle{Point{31, 74}, math.NaN()}, "radius NaN km"},
		{"infinite radius", Circle{Point{31, 74}, math.Inf(1)}, "radius +Inf km"},
		{"centre out of range", Circle{Point{31, 200}, 5}, "centre (31,200): longitude out of range"},
		{"NaN centre", Circle{Point{math.NaN(), 74}, 5}, "centre (NaN,74): not a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCircle(tc.c)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A received message with a degenerate area decodes and validates (CAP 1.2 allows it) and
// Degenerate reports each such area by path; CheckIssue (what Rabta issues) refuses it.
func TestDegenerateReportedAndNotIssued(t *testing.T) {
	sent := time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("", 5*3600))
	a := floodAlert(sent)
	a.Infos[1].Areas[0].Polygons = append(a.Infos[1].Areas[0].Polygons, pts(31, 74, 32, 75, 31, 75, 32, 74, 31, 74))
	a.Infos[2].Areas[0].Circles = []Circle{{Point{31, 74}, 0}}
	xml, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(xml)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := Validate(got); err != nil {
		t.Errorf("Validate: %v", err)
	}
	probs := Degenerate(got)
	if len(probs) != 2 || probs[0].Path != "alert/info[1]/area[0]/polygon[1]" || !strings.Contains(probs[0].Msg, "crosses itself at 31.5,74.5") ||
		probs[1].Path != "alert/info[2]/area[0]/circle[0]" || !strings.Contains(probs[1].Msg, "radius 0 km") || !errors.Is(probs[0], ErrDegenerate) {
		t.Errorf("Degenerate: %v", probs)
	}
	if d := Degenerate(floodAlert(sent)); len(d) != 0 {
		t.Errorf("a sound alert: %v", d)
	}
	err = CheckIssue(got, sent.Add(time.Minute))
	if !errors.Is(err, ErrDegenerate) || !strings.Contains(err.Error(), "alert/info[1]/area[0]/polygon[1]: crosses itself") {
		t.Errorf("CheckIssue: %v", err)
	}
	if _, _, err := (Builder{Now: func() time.Time { return sent }}).Build(got); !errors.Is(err, ErrDegenerate) {
		t.Errorf("Build: %v", err)
	}
}

// FuzzCheckPolygon: ParsePolygon and CheckPolygon never panic, and a polygon CheckPolygon
// accepts is closed, in range and encloses an area.
func FuzzCheckPolygon(f *testing.F) {
	for _, s := range []string{
		"31,74 31,75 32,75 32,74 31,74",
		"31,74 32,75 31,75 32,74 31,74",
		"31,74 31,74 31,74 31,74",
		"31,74 31,75 31,76 31,74",
		"31,74 31,76 32,75 31,75 32,74 31,74",
		"91,74 31,75 32,75 91,74",
		"0,0 0,1 1,1 1,0 0,0.5 0,0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pg, err := ParsePolygon(s)
		if err != nil {
			return
		}
		if CheckPolygon(pg) != nil {
			return
		}
		if !pg.Closed() || len(pg) < 4 {
			t.Fatalf("accepted an open or short ring %s", pg)
		}
		a := &Alert{Infos: []Info{{Areas: []Area{{AreaDesc: "x", Polygons: []Polygon{pg}}}}}}
		if len(Degenerate(a)) != 0 {
			t.Fatalf("accepted by CheckPolygon, reported by Degenerate: %s", pg)
		}
	})
}

// Simplifying can make a sound ring run back over itself (found by search: this ring of 9
// points, cut to 5); Builder then issues the ring's convex hull, simplified (convex, so
// sound), and says so, rather than refusing the warning.
func TestBuildSimplifiedRingStaysSound(t *testing.T) {
	pg := pts(8, 4, 6, 7, 7, 5, 1, 4, 4, 5, 5, 6, 6, 6, 5, 9, 8, 4)
	if err := CheckPolygon(pg); err != nil {
		t.Fatal(err)
	}
	if err := CheckPolygon(Simplify(pg, 5)); err == nil {
		t.Fatal("the case no longer shows the fault: Simplify kept the ring sound")
	}
	sent := time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("", 5*3600))
	a := floodAlert(sent)
	for i := range a.Infos {
		a.Infos[i].Areas[0].Polygons = []Polygon{pg}
	}
	xml, notes, err := Builder{Now: func() time.Time { return sent }, MaxVertices: 5}.Build(a)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	got, err := Unmarshal(xml)
	if err != nil {
		t.Fatal(err)
	}
	out := got.Infos[0].Areas[0].Polygons[0]
	if CheckPolygon(out) != nil || len(out) > 5 || len(Degenerate(got)) != 0 {
		t.Errorf("issued ring %s: %v", out, CheckPolygon(out))
	}
	if !strings.Contains(strings.Join(notes, "\n"), "alert/info[0]/area[0]/polygon[0]: replaced by its convex hull of") {
		t.Errorf("notes: %q", notes)
	}
}
