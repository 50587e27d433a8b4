package place

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/cap"
)

const header = "name,lat,lon,population,languages,connectivity\n"

func TestReadVillages(t *testing.T) {
	in := "\ufeffName, LAT ,lon,population,languages,connectivity,name_ur,id\n" +
		"Basti Malana,30.07,71.19,1200,skr;ur,sms-only,بستی ملانہ,PTA-1\n" +
		"\"Chak 7, North\",31.5,74.3,0,PNB ur,Fibre,,\n"
	var calls [][2]int64
	got, rowErrs, err := ReadVillages(strings.NewReader(in), CSVOptions{Progress: func(rows int, bytes int64) { calls = append(calls, [2]int64{int64(rows), bytes}) }})
	if err != nil || len(rowErrs) != 0 {
		t.Fatal(err, rowErrs)
	}
	want := []Place{
		{Key: "village:PTA-1", Kind: Village, Name: "Basti Malana", NameUr: "بستی ملانہ", Country: "PK", Lat: 30.07, Lon: 71.19, Population: 1200,
			Languages: []string{"skr", "ur"}, Connectivity: SMSOnly, Source: "imported village list"},
		{Key: "village:Chak 7, North@31.50000,74.30000", Kind: Village, Name: "Chak 7, North", Country: "PK", Lat: 31.5, Lon: 74.3,
			Languages: []string{"pnb", "ur"}, Connectivity: Fibre, Source: "imported village list"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	if len(calls) != 1 || calls[0] != [2]int64{2, int64(len(in))} {
		t.Errorf("progress %v, want one call (2 rows, %d bytes)", calls, len(in))
	}
}

func TestReadVillagesRowErrors(t *testing.T) {
	long := strings.Repeat("a", 201)
	rows := []struct{ row, want string }{
		{"Ok,30,70,10,ur,none", ""},
		{",30,70,10,ur,none", "line 3, column name: empty"},
		{"A,91,70,10,ur,none", "line 4, column lat: latitude 91 is outside [-90, 90]"},
		{"A,30,-180.5,10,ur,none", "line 5, column lon: longitude -180.5 is outside [-180, 180]"},
		{"A,NaN,70,10,ur,none", `line 6, column lat: latitude "NaN" is not a decimal number`},
		{"A,0x1p4,70,10,ur,none", `line 7, column lat: latitude "0x1p4" is not a decimal number`},
		{"A,30,70,-1,ur,none", `line 8, column population: "-1" is not a whole number of people from 0 to 2000000`},
		{"A,30,70,2000001,ur,none", `line 9, column population: "2000001"`},
		{"A,30,70,1.5,ur,none", `line 10, column population: "1.5"`},
		{"A,30,70,10,,none", "line 11, column languages: empty"},
		{"A,30,70,10,urdu!,none", `line 12, column languages: "urdu!" is not a BCP 47 language tag`},
		{"A,30,70,10,ur,fiber", `line 13, column connectivity: "fiber" is not one of fibre, mobile-data, sms-only, none`},
		{"A,30,70,10,ur", "line 14: 5 fields, the header names 6"},
		{long + ",30,70,10,ur,none", "line 15, column name: 201 bytes, at most 200"},
		{"A\x01,30,70,10,ur,none", "line 16, column name: contains the control character U+0001"},
		{"Ok,30,70,10,ur,none", `line 17: village "Ok" is already on line 2`},
		{"B \"x\",30,70,10,ur,none", `line 18: bare " in non-quoted-field`},
		{"A,30,70,10,a;b;c;d;e;f;g;h;i,none", "line 19, column languages: 9 tags, at most 8"},
		{"A\xff,30,70,10,ur,none", "line 20, column name: not valid UTF-8"},
		{"Last,30,70,10,ur,none", ""},
	}
	var b strings.Builder
	b.WriteString(header)
	for _, r := range rows {
		b.WriteString(r.row + "\n")
	}
	got, rowErrs, err := ReadVillages(strings.NewReader(b.String()), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "Ok" || got[1].Name != "Last" {
		t.Errorf("villages %+v", got)
	}
	var want []string
	for _, r := range rows {
		if r.want != "" {
			want = append(want, r.want)
		}
	}
	if len(rowErrs) != len(want) {
		t.Fatalf("%d row errors, want %d: %v", len(rowErrs), len(want), rowErrs)
	}
	for i, e := range rowErrs {
		if !strings.HasPrefix(e.Error(), want[i]) {
			t.Errorf("row error %q, want it to begin %q", e, want[i])
		}
		if strings.Contains(strings.ToLower(e.Error()), "internal") {
			t.Errorf("%q", e)
		}
	}
}

func TestReadVillagesStops(t *testing.T) {
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString(header)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "V%d,30,70,10,ur,none\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, in string
		opts     CSVOptions
		want     string
		villages int
	}{
		{"empty", "", CSVOptions{}, "empty: the first line must name the columns", 0},
		{"missing column", "name,lat,lon,population,languages\n", CSVOptions{}, `column "connectivity" is missing`, 0},
		{"unknown column", "name,lat,lng\n", CSVOptions{}, `column 3 "lng" is not one of`, 0},
		{"repeated column", "name,lat,lat\n", CSVOptions{}, `column "lat" appears twice`, 0},
		{"bad header", "name,\"lat\n", CSVOptions{}, "line 1 (the header)", 0},
		{"rows", rows(5), CSVOptions{MaxRows: 3}, "more than 3 rows (line 5)", 3},
		{"bytes", rows(100), CSVOptions{MaxBytes: 200}, "more than 200 bytes", 7},
		{"errors", header + strings.Repeat("x\n", 5), CSVOptions{MaxErrors: 2}, "more than 2 rows with errors; stopped at line 4", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := ReadVillages(strings.NewReader(tc.in), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
			if len(got) != tc.villages {
				t.Errorf("%d villages, want %d", len(got), tc.villages)
			}
		})
	}
	// Exactly MaxBytes is allowed.
	in := rows(3)
	if got, _, err := ReadVillages(strings.NewReader(in), CSVOptions{MaxBytes: int64(len(in))}); err != nil || len(got) != 3 {
		t.Errorf("exactly MaxBytes: %d, %v", len(got), err)
	}
	// Progress every 1,000 rows and at the end, growing.
	var calls []int
	got, _, err := ReadVillages(strings.NewReader(rows(2500)), CSVOptions{Progress: func(r int, _ int64) { calls = append(calls, r) }})
	if err != nil || len(got) != 2500 || !reflect.DeepEqual(calls, []int{1000, 2000, 2500}) {
		t.Errorf("%d villages, progress %v, %v", len(got), calls, err)
	}
}

func TestLocate(t *testing.T) {
	w := load(t)
	vs := []Place{{Key: "v1", Kind: Village, Lat: 30.07, Lon: 71.19}, {Key: "v2", Kind: Village, Lat: 31.5, Lon: 74.3, District: "Mine", Languages: []string{"en"}}, {Key: "v3", Kind: Village, Lat: 10, Lon: 10}}
	Locate(w.places, vs)
	if vs[0].District != "Muzaffargarh" || vs[0].Province != "Punjab" || vs[0].Division != "Dera Ghazi Khan" || !reflect.DeepEqual(vs[0].Languages, []string{"skr", "ur"}) {
		t.Errorf("%+v", vs[0])
	}
	if vs[1].District != "Mine" || vs[1].Languages[0] != "en" || vs[2].District != "" || vs[2].Languages[0] != "ur" {
		t.Errorf("%+v %+v", vs[1], vs[2])
	}
}

// FuzzReadVillages: any input gives villages that satisfy the documented limits, row errors
// with a line and a reason, and never a panic.
func FuzzReadVillages(f *testing.F) {
	f.Add(header + "Basti,30.07,71.19,1200,skr;ur,sms-only\n")
	f.Add("name,lat,lon,population,languages,connectivity,id,name_ur,district,province\nA,1,2,3,ur,none,x,ا,d,p\nA,1,2,3,ur,none,x,,,\n")
	f.Add(header + "\"a\"\"b\",-90,180,0,zh-Hant-TW en,fibre\n\"unterminated,1,2\n")
	f.Add(header + "A,1e400,2,3,ur,none\nB,1,2,99999999999999999999,ur,none\n")
	f.Add("name\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, rowErrs, _ := ReadVillages(strings.NewReader(in), CSVOptions{MaxRows: 100, MaxErrors: 100})
		keys := map[string]bool{}
		for _, p := range got {
			if p.Name == "" || len(p.Name) > DefaultMaxField || !utf8.ValidString(p.Name) || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 ||
				p.Population < 0 || p.Population > DefaultMaxPopulation || len(p.Languages) == 0 || p.Kind != Village || keys[p.Key] {
				t.Fatalf("invalid village %+v", p)
			}
			if _, err := ParseConnectivity(string(p.Connectivity)); err != nil {
				t.Fatal(err)
			}
			keys[p.Key] = true
		}
		for _, e := range rowErrs {
			if e.Line < 2 || e.Reason == "" {
				t.Fatalf("row error %+v", e)
			}
		}
		if len(got)+len(rowErrs) > 101 {
			t.Fatalf("%d villages and %d errors past the limit of 100 rows", len(got), len(rowErrs))
		}
	})
}

// FuzzCompile: any CAP polygon or circle text compiles or is refused with an error naming
// it; a compiled shape answers point tests without panicking.
func FuzzCompile(f *testing.F) {
	f.Add("31,74 31,75 32,75 32,74 31,74", "31.5,74.5 10")
	f.Add("31,74 32,75 31,75 32,74 31,74", "0,0 0")
	f.Add("31,74 31,74 31,74 31,74", "90,180 20000")
	f.Add("0,0 0,0.0000001 0.0000001,0 0,0", "-90,-180 0.001")
	f.Fuzz(func(t *testing.T, polygon, circle string) {
		var area cap.Area
		if pg, err := cap.ParsePolygon(polygon); err == nil {
			area.Polygons = append(area.Polygons, pg)
		}
		if c, err := cap.ParseCircle(circle); err == nil {
			area.Circles = append(area.Circles, c)
		}
		s, err := Compile(area)
		if err != nil {
			if !strings.Contains(err.Error(), "of the area") {
				t.Fatalf("error names no polygon or circle: %v", err)
			}
			return
		}
		for _, p := range [][2]float64{{31.5, 74.5}, {0, 0}, {90, 180}, {-90, -180}} {
			s.Contains(p[0], p[1])
			s.Near(p[0], p[1], 5)
		}
	})
}
