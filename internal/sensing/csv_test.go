package sensing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readAll reads every row, collecting row errors; a fatal error ends the read.
func readAll(t *testing.T, c *CSVReader) (rows []CSVRow, rowErrs []*RowError, fatal error) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("reader does not end")
		}
		row, err := c.Next()
		if err == io.EOF {
			return rows, rowErrs, nil
		}
		var re *RowError
		if errors.As(err, &re) {
			rowErrs = append(rowErrs, re)
			continue
		}
		if err != nil {
			return rows, rowErrs, err
		}
		rows = append(rows, row)
	}
}

func TestCSVPDMA(t *testing.T) {
	f, err := os.Open("testdata/pdma_excerpt.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := NewCSVReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Layout() != LayoutPDMA {
		t.Fatalf("layout %v", c.Layout())
	}
	rows, rowErrs, fatal := readAll(t, c)
	if fatal != nil || len(rowErrs) != 0 {
		t.Fatalf("fatal %v, row errors %v", fatal, rowErrs)
	}
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20", len(rows))
	}
	pkt := time.FixedZone("", 5*3600)
	first := CSVRow{
		Line: 2, Station: "Khanki", River: "CHENAB",
		PhenomenonTime: "2025-07-05T12:00:00+05:00",
		Start:          time.Date(2025, 7, 5, 12, 0, 0, 0, pkt), End: time.Date(2025, 7, 5, 12, 0, 0, 0, pkt),
		Result:     56998.0,
		Parameters: json.RawMessage(`{"discharge_m3s":1614,"source":"PDMA_GAUGES_AND_RIVERS_SITUATION_REPORT_05-07-2025_1200_HRS.pdf"}`),
	}
	if !reflect.DeepEqual(rows[0], first) {
		t.Errorf("first row:\n got %+v\nwant %+v", rows[0], first)
	}
	khanki := rows[10] // the 2025-08-27 flood peak
	if khanki.Station != "Khanki" || khanki.Result != 1001480.0 || khanki.Line != 12 {
		t.Errorf("flood peak row: %+v", khanki)
	}
	last := rows[19]
	if string(last.Parameters) != `{"discharge_m3s":6143.1,"source":"15.06.2026_1800Hrs.pdf","trend":"Falling"}` {
		t.Errorf("last row parameters %s", last.Parameters)
	}
	// Every PDMA row passes the default discharge QC.
	cfg := DefaultQC("Discharge", "", PDMAUnit)
	for _, r := range rows {
		var s QCState
		if q := s.CheckResult(cfg, r.Start, r.Result); q.Flag != FlagGood {
			t.Errorf("line %d: QC %+v", r.Line, q)
		}
	}
}

const pdmaHead = "report_datetime_pkt,station,river,discharge_cusecs,discharge_m3s,trend,source_pdf\n"

func TestCSVPDMARowErrors(t *testing.T) {
	in := pdmaHead +
		"2025-07-05T12:00:00+05:00,Khanki,CHENAB,56998,1614.0,,a.pdf\n" + // 2 ok
		"2025-07-05 12:00,Marala,CHENAB,107601,3046.9,,a.pdf\n" + // 3 time
		"2025-07-05T12:00:00+05:00,,CHENAB,107601,3046.9,,a.pdf\n" + // 4 station
		"2025-07-05T12:00:00+05:00,Marala,CHENAB,\"107,601\",3046.9,,a.pdf\n" + // 5 cusecs
		"2025-07-05T12:00:00+05:00,Marala,CHENAB,,3046.9,,a.pdf\n" + // 6 cusecs empty
		"2025-07-05T12:00:00+05:00,Marala,CHENAB,107601,n/a,,a.pdf\n" + // 7 m3s
		"2025-07-05T12:00:00+05:00,Marala,CHENAB,107601\n" + // 8 field count
		"2025-07-05T12:00:00+05:00,Marala,,107601,,,\n" + // 9 river
		"2025-07-05T12:00:00+05:00,Marala,CHENAB,-5,,,\n" // 10 ok: negative goes to QC, not rejected
	c, err := NewCSVReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	rows, rowErrs, fatal := readAll(t, c)
	if fatal != nil {
		t.Fatal(fatal)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 10 || rows[1].Parameters != nil {
		t.Errorf("rows %+v", rows)
	}
	want := []RowError{
		{3, "report_datetime_pkt", ""}, {4, "station", "empty"}, {5, "discharge_cusecs", "not a number"},
		{6, "discharge_cusecs", "empty"}, {7, "discharge_m3s", "not a number"}, {8, "", "4 fields, want 7"}, {9, "river", "empty"},
	}
	if len(rowErrs) != len(want) {
		t.Fatalf("row errors %v", rowErrs)
	}
	for i, w := range want {
		g := rowErrs[i]
		if g.Line != w.Line || g.Column != w.Column || !strings.Contains(g.Msg, w.Msg) {
			t.Errorf("error %d: %v, want %+v", i, g, w)
		}
	}
}

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		header string
		layout CSVLayout
		err    string
	}{
		{"datastream,phenomenonTime,result", LayoutGeneric, ""},
		{"result,datastream,phenomenonTime", LayoutGeneric, ""},
		{"Datastream, PhenomenonTime ,RESULT,resultTime,parameters", LayoutGeneric, ""},
		{"\uFEFFdatastream,phenomenonTime,result", LayoutGeneric, ""},
		{strings.TrimSuffix(pdmaHead, "\n"), LayoutPDMA, ""},
		{"\uFEFF" + strings.TrimSuffix(pdmaHead, "\n"), LayoutPDMA, ""},
		{"report_datetime_pkt,station,river,discharge_cusecs", 0, "unknown column \"report_datetime_pkt\""},
		{"datastream,phenomenonTime", 0, `missing column "result"`},
		{"datastream,phenomenonTime,result,result", 0, `column "result" twice`},
		{"datastream,phenomenonTime,result,unit", 0, `unknown column "unit"`},
		{"", 0, "empty file"},
		{"\"datastream,phenomenonTime,result", 0, "csv header"},
	}
	for _, tt := range tests {
		c, err := NewCSVReader(strings.NewReader(tt.header + "\n"))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want containing %q", tt.header, err, tt.err)
			}
			if err != nil && strings.Contains(tt.err, "column") && !strings.Contains(err.Error(), "accepted headers: generic \"datastream,phenomenonTime,result\"") {
				t.Errorf("%q: error does not list the accepted headers: %v", tt.header, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.header, err)
			continue
		}
		if c.Layout() != tt.layout {
			t.Errorf("%q: layout %v, want %v", tt.header, c.Layout(), tt.layout)
		}
	}
}

func TestCSVGeneric(t *testing.T) {
	in := "parameters,result,phenomenonTime,resultTime,datastream\n" +
		`,56998,2025-07-05T12:00:00+05:00,,17` + "\n" + // 2
		`"{""method"":""manual""}",-1.5e3,2025-07-05T07:00:00Z/2025-07-05T08:00:00Z,2025-07-05T08:00:05.25Z,Khanki discharge` + "\n" + // 3
		`,"""high""",2025-07-05T07:00:00Z,,17` + "\n" + // 4 a JSON string
		`,true,2025-07-05T07:00:00Z,,17` + "\n" + // 5
		`," {""a"": [1, 2]} ",2025-07-05T07:00:00Z,,17` + "\n" + // 6 an object, compacted
		"\n" + // 7 blank: skipped
		`,0,2025-07-05T07:00:00-00:00,,  padded  ` + "\n" + // 8
		`,high,2025-07-05T07:00:00Z,,17` + "\n" + // 9 unquoted text
		`,NaN,2025-07-05T07:00:00Z,,17` + "\n" + // 10
		`,1e999,2025-07-05T07:00:00Z,,17` + "\n" + // 11
		`,,2025-07-05T07:00:00Z,,17` + "\n" + // 12
		`,null,2025-07-05T07:00:00Z,,17` + "\n" + // 13
		`,+5,2025-07-05T07:00:00Z,,17` + "\n" + // 14
		`,5,2025-07-05T07:00:00Z,2025-07-05T07:00:00Z/2025-07-05T08:00:00Z,17` + "\n" + // 15
		`[1],5,2025-07-05T07:00:00Z,,17` + "\n" + // 16
		`,5,,,17` + "\n" + // 17
		`,5,2025-07-05T07:00:00Z,,` + "\n" + // 18
		`,5,2025-07-05T07:00:00Z,,"a` + "\n" + `b"` + "\n" + // 19-20 control character
		`,5,2025-07-05T07:00:00Z,,x"y` + "\n" + // 21 bare quote
		`,5,2025-07-05T08:00:00Z,,17` // 22 ok, no final newline
	c, err := NewCSVReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	rows, rowErrs, fatal := readAll(t, c)
	if fatal != nil {
		t.Fatal(fatal)
	}
	utc := time.UTC
	rt := time.Date(2025, 7, 5, 8, 0, 5, 25e7, utc)
	at7 := time.Date(2025, 7, 5, 7, 0, 0, 0, utc)
	pkt := time.FixedZone("", 5*3600)
	want := []CSVRow{
		{Line: 2, Datastream: "17", PhenomenonTime: "2025-07-05T12:00:00+05:00", Start: time.Date(2025, 7, 5, 12, 0, 0, 0, pkt), End: time.Date(2025, 7, 5, 12, 0, 0, 0, pkt), Result: 56998.0},
		{Line: 3, Datastream: "Khanki discharge", PhenomenonTime: "2025-07-05T07:00:00Z/2025-07-05T08:00:00Z", Start: at7, End: at7.Add(time.Hour), Result: -1500.0, ResultTime: &rt, Parameters: json.RawMessage(`{"method":"manual"}`)},
		{Line: 4, Datastream: "17", PhenomenonTime: "2025-07-05T07:00:00Z", Start: at7, End: at7, Result: json.RawMessage(`"high"`)},
		{Line: 5, Datastream: "17", PhenomenonTime: "2025-07-05T07:00:00Z", Start: at7, End: at7, Result: json.RawMessage(`true`)},
		{Line: 6, Datastream: "17", PhenomenonTime: "2025-07-05T07:00:00Z", Start: at7, End: at7, Result: json.RawMessage(`{"a":[1,2]}`)},
		{Line: 8, Datastream: "padded", PhenomenonTime: "2025-07-05T07:00:00-00:00", Start: at7, End: at7, Result: 0.0},
		{Line: 22, Datastream: "17", PhenomenonTime: "2025-07-05T08:00:00Z", Start: at7.Add(time.Hour), End: at7.Add(time.Hour), Result: 5.0},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v\nerrors %v", len(rows), len(want), rows, rowErrs)
	}
	for i := range want {
		if !reflect.DeepEqual(rows[i], want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}
	wantErrs := []RowError{
		{9, "result", "neither a number nor a JSON value"},
		{10, "result", "neither a number nor a JSON value"},
		{11, "result", "out of range"},
		{12, "result", "empty"},
		{13, "result", "null"},
		{14, "result", "neither a number nor a JSON value"},
		{15, "resultTime", "an interval"},
		{16, "parameters", "want a JSON object"},
		{17, "phenomenonTime", "empty"},
		{18, "datastream", "empty"},
		{19, "datastream", "control character"},
		{21, "", "malformed CSV"},
	}
	if len(rowErrs) != len(wantErrs) {
		t.Fatalf("row errors %v", rowErrs)
	}
	for i, w := range wantErrs {
		g := rowErrs[i]
		if g.Line != w.Line || g.Column != w.Column || !strings.Contains(g.Msg, w.Msg) {
			t.Errorf("error %d: %v, want %+v", i, g, w)
		}
	}
	if got := rowErrs[0].Error(); !strings.HasPrefix(got, "line 9: result: ") {
		t.Errorf("Error() = %q", got)
	}
}

func TestCSVRecordTooLong(t *testing.T) {
	head := "datastream,phenomenonTime,result\n"
	ok := "17,2025-07-05T07:00:00Z,1\n"
	tests := map[string]string{
		"long line":        head + ok + "17,2025-07-05T07:00:00Z,\"" + strings.Repeat("x", 2*MaxCSVRecordBytes) + "\"\n" + ok,
		"unclosed quote":   head + ok + "17,2025-07-05T07:00:00Z,\"" + strings.Repeat("x\n", MaxCSVRecordBytes) + ok,
		"long header":      strings.Repeat("x", 2*MaxCSVRecordBytes) + "\n",
		"long first field": head + strings.Repeat("1", 2*MaxCSVRecordBytes),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := NewCSVReader(strings.NewReader(in))
			if name == "long header" {
				if !errors.Is(err, ErrRecordTooLong) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows, _, fatal := readAll(t, c)
			if !errors.Is(fatal, ErrRecordTooLong) {
				t.Fatalf("fatal = %v, want ErrRecordTooLong", fatal)
			}
			if !strings.Contains(fatal.Error(), "line ") {
				t.Errorf("no line number: %v", fatal)
			}
			if len(rows) != 1 && name != "long first field" {
				t.Errorf("%d rows before the long one, want 1", len(rows))
			}
			if _, err := c.Next(); err != fatal {
				t.Errorf("fatal error not sticky: %v", err)
			}
		})
	}
	// Just under the limit is fine.
	big := strings.Repeat("x", MaxCSVRecordBytes-10_000)
	c, err := NewCSVReader(strings.NewReader(head + "17,2025-07-05T07:00:00Z,\"\"\"" + big + "\"\"\"\n" + ok))
	if err != nil {
		t.Fatal(err)
	}
	rows, rowErrs, fatal := readAll(t, c)
	if fatal != nil || len(rowErrs) != 0 || len(rows) != 2 {
		t.Fatalf("rows %d, errors %v, fatal %v", len(rows), rowErrs, fatal)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n--
	return copy(p, "datastream,phenomenonTime,result\n17,2025-07-05T07:00:00Z,1\n"), nil
}

func TestCSVReadError(t *testing.T) {
	c, err := NewCSVReader(&failingReader{n: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows, _, fatal := readAll(t, c)
	if len(rows) != 1 || fatal == nil || !strings.Contains(fatal.Error(), "disk on fire") || !strings.Contains(fatal.Error(), "line 3") {
		t.Errorf("rows %d, fatal %v", len(rows), fatal)
	}
}

// encodeGeneric writes rows in the generic layout, the way an exporter would.
func encodeGeneric(rows []CSVRow) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"datastream", "phenomenonTime", "result", "resultTime", "parameters"})
	for _, r := range rows {
		var res, rt string
		switch v := r.Result.(type) {
		case float64:
			res = strconv.FormatFloat(v, 'g', -1, 64)
		case json.RawMessage:
			res = string(v)
		}
		if r.ResultTime != nil {
			rt = r.ResultTime.Format(time.RFC3339Nano)
		}
		ds := r.Datastream
		if ds == "" {
			ds = r.Station + "@" + r.River
		}
		w.Write([]string{ds, r.PhenomenonTime, res, rt, string(r.Parameters)})
	}
	w.Flush()
	return b.String()
}

func FuzzCSVReader(f *testing.F) {
	pdma, err := os.ReadFile("testdata/pdma_excerpt.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(pdma))
	f.Add("datastream,phenomenonTime,result,resultTime,parameters\n17,2025-07-05T07:00:00Z,1.5,2025-07-05T07:00:01+05:00,\"{\"\"a\"\":1}\"\nx,2025-07-05T07:00:00Z/2025-07-05T08:00:00Z,\"\"\"t\"\"\",,\n")
	f.Add("result,datastream,phenomenonTime\n\"[1,2]\",a b,2025-07-05T07:00:00.5-03:00\n\n1,2\n\"x\ny\",\"\n")
	f.Add(pdmaHead + "2025-07-05T12:00:00+05:00,A,B,1,x,,\n,,,,,,\n")
	f.Add("datastream,phenomenonTime,result,parameters\n1,2025-07-05T07:00:00Z,\"\"\"\xff\"\"\"\",\n1,2025-07-05T07:00:00Z,\"{\"\"a\"\":1,\"\"a\"\":2}\",\n1,2025-07-05T07:00:00Z,5,\"{\"\"n\"\":1e400}\"\n")
	f.Add(pdmaHead + "2025-07-05T12:00:00+05:00,A\x00,B,1,x,\xfe,\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := NewCSVReader(strings.NewReader(in))
		if err != nil {
			return
		}
		var rows []CSVRow
		for i := 0; ; i++ {
			if i > len(in)+2 {
				t.Fatal("more results than input bytes: the reader does not end")
			}
			row, err := c.Next()
			if err == io.EOF {
				break
			}
			var re *RowError
			if errors.As(err, &re) {
				if re.Line < 1 || !strings.HasPrefix(re.Error(), "line ") {
					t.Fatalf("row error without a line number: %#v", re)
				}
				continue
			}
			if err != nil {
				if !strings.Contains(err.Error(), "line ") {
					t.Fatalf("fatal error without a line number: %v", err)
				}
				break
			}
			if row.Line < 2 || row.End.Before(row.Start) || row.Result == nil {
				t.Fatalf("bad row %+v", row)
			}
			// nothing stored from a row is text that is not UTF-8, a NUL, or JSON the
			// boundary refuses (CheckJSON)
			for _, s := range []string{row.Datastream, row.Station, row.River, row.PhenomenonTime, string(row.Parameters)} {
				if CheckText(s, "") != nil {
					t.Fatalf("row %d accepted with %q", row.Line, s)
				}
			}
			if r, ok := row.Result.(json.RawMessage); ok && (CheckJSON(r) != nil || len(r) > MaxResultBytes) {
				t.Fatalf("row %d accepted with result %q", row.Line, r)
			}
			if row.Parameters != nil && CheckJSON(row.Parameters) != nil {
				t.Fatalf("row %d accepted with parameters %q", row.Line, row.Parameters)
			}
			if len(rows) > 0 && row.Line <= rows[len(rows)-1].Line {
				t.Fatalf("line numbers not increasing: %d after %d", row.Line, rows[len(rows)-1].Line)
			}
			rows = append(rows, row)
		}
		if len(rows) == 0 {
			return
		}
		// Round trip: valid rows written in the generic layout read back the same.
		out := encodeGeneric(rows)
		c2, err := NewCSVReader(strings.NewReader(out))
		if err != nil {
			t.Fatalf("re-read header: %v", err)
		}
		for i, want := range rows {
			got, err := c2.Next()
			if err != nil {
				t.Fatalf("re-read row %d: %v\n%s", i, err, out)
			}
			if want.Datastream == "" {
				want.Datastream = want.Station + "@" + want.River
				want.Station, want.River = "", ""
			}
			got.Line, want.Line = 0, 0
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip row %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
		if _, err := c2.Next(); err != io.EOF {
			t.Fatalf("re-read: extra %v", err)
		}
	})
}
