package cap

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidateRules(t *testing.T) {
	sent := time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("", 5*3600))
	cases := []struct {
		name   string
		mutate func(a *Alert)
		want   string
	}{
		{"identifier with space", func(a *Alert) { a.Identifier = "a b" }, "alert/identifier: \"a b\" must not contain spaces"},
		{"identifier with comma", func(a *Alert) { a.Identifier = "a,b" }, "alert/identifier"},
		{"identifier with <", func(a *Alert) { a.Identifier = "a<b" }, "alert/identifier"},
		{"sender with &", func(a *Alert) { a.Sender = "a&b" }, "alert/sender"},
		{"bad status", func(a *Alert) { a.Status = "Real" }, `alert/status: "Real" is not one of`},
		{"missing msgType", func(a *Alert) { a.MsgType = "" }, "alert/msgType: required value is missing"},
		{"bad scope", func(a *Alert) { a.Scope = "World" }, "alert/scope"},
		{"bad category", func(a *Alert) { a.Infos[1].Categories[1] = "Weather" }, `alert/info[1]/category[1]: "Weather" is not one of`},
		{"bad responseType", func(a *Alert) { a.Infos[0].ResponseType[0] = "Run" }, "alert/info[0]/responseType[0]"},
		{"bad urgency", func(a *Alert) { a.Infos[2].Urgency = "Now" }, "alert/info[2]/urgency"},
		{"bad severity", func(a *Alert) { a.Infos[0].Severity = "High" }, "alert/info[0]/severity"},
		{"bad certainty", func(a *Alert) { a.Infos[0].Certainty = "Sure" }, "alert/info[0]/certainty"},
		{"no category", func(a *Alert) { a.Infos[0].Categories = nil }, "alert/info[0]/category: at least one category is required"},
		{"bad language", func(a *Alert) { a.Infos[0].Language = "english please" }, "alert/info[0]/language"},
		{"expires before sent", func(a *Alert) {
			a.Infos[0].Expires = sent.Add(-time.Hour)
			a.Infos[0].Effective = time.Time{}
			a.Infos[0].Onset = time.Time{}
		}, "alert/info[0]/expires: 2025-08-27T11:00:00+05:00 is not after sent"},
		{"polygon open", func(a *Alert) {
			pg := a.Infos[0].Areas[0].Polygons[0]
			a.Infos[0].Areas[0].Polygons[0] = pg[:len(pg)-1]
		}, "alert/info[0]/area[0]/polygon[0]: is not closed"},
		{"polygon too small", func(a *Alert) {
			a.Infos[0].Areas[0].Polygons = append(a.Infos[0].Areas[0].Polygons, Polygon{{1, 2}, {3, 4}, {1, 2}})
		}, "alert/info[0]/area[0]/polygon[1]: has 3 points; a CAP polygon needs at least 4"},
		{"polygon lon,lat", func(a *Alert) {
			a.Infos[0].Areas[0].Polygons = []Polygon{{{73, 33}, {73.1, 33}, {73.1, 33.1}, {73, 33}}, {{120, 33}, {120, 33}, {120, 33}, {120, 33}}}
		}, "alert/info[0]/area[0]/polygon[1]: point 0 (120,33): latitude out of range; the pair looks like lon,lat"},
		{"polygon too many points", func(a *Alert) {
			a.Infos[0].Areas[0].Polygons[0] = ring(1500)
		}, "alert/info[0]/area[0]/polygon[0]: has 1501 points; at most 1000"},
		{"longitude out of range", func(a *Alert) { a.Infos[0].Areas[0].Circles = []Circle{{Point{10, 200}, 5}} }, "alert/info[0]/area[0]/circle[0]: centre (10,200): longitude out of range"},
		{"negative radius", func(a *Alert) { a.Infos[0].Areas[0].Circles = []Circle{{Point{10, 20}, -5}} }, "alert/info[0]/area[0]/circle[0]: radius -5"},
		{"NaN point", func(a *Alert) { a.Infos[0].Areas[0].Polygons[0][3].Lat = math.NaN() }, "alert/info[0]/area[0]/polygon[0]: point 3 is not a finite number"},
		{"ceiling without altitude", func(a *Alert) { c := 10.0; a.Infos[0].Areas[0].Ceiling = &c }, "alert/info[0]/area[0]/ceiling: ceiling needs altitude"},
		{"update without references", func(a *Alert) { a.MsgType = MsgUpdate }, "alert/references: msgType Update must reference"},
		{"reference in future", func(a *Alert) {
			a.MsgType = MsgUpdate
			a.References = []Reference{{a.Sender, "old", sent.Add(time.Hour)}}
		}, "alert/references[0]: referenced message was sent"},
		{"reference bad sender", func(a *Alert) {
			a.MsgType = MsgCancel
			a.References = []Reference{{"a b", "old", sent.Add(-time.Hour)}}
		}, "alert/references"},
		{"private without addresses", func(a *Alert) { a.Scope = ScopePrivate }, "alert/addresses: required when scope is Private"},
		{"foreign extension", func(a *Alert) {
			a.Extensions = []Extension{{Space: "urn:x", Local: "x", XML: []byte(`<x xmlns="urn:x"/>`)}}
		}, `alert/x: element in namespace "urn:x" is not allowed`},
		{"control character", func(a *Alert) { a.Infos[0].Headline = "bad\x00" }, "alert/info[0]/headline: text holds U+0000"},
		{"bad digest", func(a *Alert) {
			a.Infos[0].Resources = []Resource{{ResourceDesc: "map", MimeType: "image/png", Digest: "abc"}}
		}, "alert/info[0]/resource[0]/digest"},
	}
	if err := Validate(floodAlert(sent)); err != nil {
		t.Fatalf("base alert: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := floodAlert(sent)
			c.mutate(a)
			err := Validate(a)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v\nwant %q", err, c.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Path == "" {
				t.Errorf("error has no path: %v", err)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	a := floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.UTC))
	a.Sent = time.Time{}
	a.Infos[1].Severity = "Loud"
	_, err := Marshal(a)
	if err == nil || !strings.Contains(err.Error(), "alert/sent: required date-time is missing") || !strings.Contains(err.Error(), "alert/info[1]/severity") || !errors.Is(err, ErrSchema) {
		t.Fatalf("Marshal = %v", err)
	}
}

func TestMarshalShape(t *testing.T) {
	a := floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.UTC))
	a.MsgType = MsgUpdate
	a.References = []Reference{{"alerts@ndma.gov.pk", "pk.ndma.1", time.Date(2025, 8, 27, 11, 0, 0, 0, time.FixedZone("", 5*3600))}}
	a.Incidents = []string{"flood-2025-08", "nullah lai"}
	a.Addresses = []string{"ops", "district office"}
	a.Scope = ScopeRestricted
	a.Restriction = "for responders"
	out, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	order := []string{"<identifier>", "<sender>", "<sent>2025-08-27T12:00:00-00:00</sent>", "<status>", "<msgType>", "<scope>", "<restriction>", `<addresses>ops "district office"</addresses>`, "<code>",
		"<references>alerts@ndma.gov.pk,pk.ndma.1,2025-08-27T11:00:00+05:00</references>", `<incidents>flood-2025-08 "nullah lai"</incidents>`, "<info>"}
	last := -1
	for _, o := range order {
		i := strings.Index(s, o)
		if i < 0 || i < last {
			t.Fatalf("%s missing or out of order in\n%s", o, s)
		}
		last = i
	}
	for _, pg := range strings.Split(s, "<polygon>")[1:] {
		pg, _, _ = strings.Cut(pg, "</polygon>")
		if strings.ContainsAny(pg, "\n\r\t") {
			t.Errorf("line break inside polygon")
		}
	}
	if err := Validate(a); err != nil {
		t.Fatal(err)
	}
	xmllint(t, "shape", out)
}

func TestTimeFormat(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2025, 8, 27, 12, 0, 0, 999, time.FixedZone("PKT", 5*3600)), "2025-08-27T12:00:00+05:00"},
		{time.Date(2025, 8, 27, 7, 0, 0, 0, time.UTC), "2025-08-27T07:00:00-00:00"},
		{time.Date(2025, 8, 27, 7, 0, 0, 0, time.FixedZone("", -4*3600-30*60)), "2025-08-27T07:00:00-04:30"},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 4*3600+28*60+12)), "1899-12-31T19:31:48-00:00"},
	} {
		if got := FormatTime(c.t); got != c.want {
			t.Errorf("FormatTime(%v) = %s, want %s", c.t, got, c.want)
		}
		back, err := ParseTime(c.want)
		if err != nil || !back.Equal(c.t.Truncate(time.Second)) {
			t.Errorf("ParseTime(%s) = %v, %v", c.want, back, err)
		}
	}
	for _, bad := range []string{"2025-08-27T12:00:00Z", "2025-08-27T12:00:00.5+05:00", "2025-08-27 12:00:00+05:00", "2025-13-27T12:00:00+05:00", "2025-08-27T12:00:00+15:00", "2025-08-27T12:00:00,05:00"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%s) accepted", bad)
		}
	}
}

func ring(n int) Polygon {
	pg := make(Polygon, 0, n+1)
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * float64(i) / float64(n)
		r := 1 + 0.1*math.Sin(7*th) + 0.01*math.Sin(97*th)
		pg = append(pg, Point{Lat: 30 + r*math.Sin(th), Lon: 70 + r*math.Cos(th)})
	}
	return append(pg, pg[0])
}

func TestSimplify(t *testing.T) {
	pg := ring(5000)
	s := Simplify(pg, 1000)
	if len(s) > 1000 || len(s) < 4 || !s.Closed() || s[0] != pg[0] {
		t.Fatalf("Simplify: %d points, closed %v", len(s), s.Closed())
	}
	// The shape is kept: every kept point is an original, and the area changes little.
	if a0, a1 := area(pg), area(s); math.Abs(a1-a0)/a0 > 0.02 {
		t.Errorf("area changed from %v to %v", a0, a1)
	}
	if got := Simplify(pg, 3); len(got) != 4 || !got.Closed() {
		t.Errorf("Simplify to minimum: %d points", len(got))
	}
	small := ring(10)
	if got := Simplify(small, 1000); len(got) != len(small) {
		t.Errorf("small polygon changed")
	}
}

func area(pg Polygon) float64 {
	s := 0.0
	for i := 0; i+1 < len(pg); i++ {
		s += pg[i].Lon*pg[i+1].Lat - pg[i+1].Lon*pg[i].Lat
	}
	return math.Abs(s) / 2
}

func TestBuilder(t *testing.T) {
	now := time.Date(2025, 8, 27, 12, 0, 30, 0, time.FixedZone("", 5*3600))
	b := Builder{Now: func() time.Time { return now }}
	a := floodAlert(time.Time{})
	for i := range a.Infos {
		a.Infos[i].Effective, a.Infos[i].Onset, a.Infos[i].Expires = now, now.Add(time.Hour), now.Add(6*time.Hour)
		a.Infos[i].Areas[0].Polygons = []Polygon{ring(2400)}
	}
	xml, notes, err := b.Build(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 4 || !strings.Contains(notes[1], "alert/info[0]/area[0]/polygon[0]: simplified from 2401 to 1000 points") {
		t.Errorf("notes = %q", notes)
	}
	if len(a.Infos[0].Areas[0].Polygons[0]) != 2401 || !a.Sent.IsZero() {
		t.Errorf("Build modified its argument")
	}
	got, err := Unmarshal(xml)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Infos[0].Areas[0].Polygons[0]) != 1000 || !got.Sent.Equal(now) {
		t.Errorf("built alert: %d points, sent %v", len(got.Infos[0].Areas[0].Polygons[0]), got.Sent)
	}
	xmllint(t, "built", xml)

	stale := floodAlert(now.Add(-time.Hour))
	if _, _, err := b.Build(stale); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "alert/sent") {
		t.Errorf("stale alert: %v", err)
	}
	early := floodAlert(now)
	early.Infos[2].Onset = now.Add(-time.Minute)
	if _, _, err := b.Build(early); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "alert/info[2]/onset") {
		t.Errorf("onset before sent: %v", err)
	}
	expired := floodAlert(now)
	for i := range expired.Infos {
		expired.Infos[i].Expires = now.Add(-time.Second)
	}
	if err := CheckIssue(expired, now); err == nil || !strings.Contains(err.Error(), "alert/info[0]/expires") {
		t.Errorf("expired alert: %v", err)
	}
}
