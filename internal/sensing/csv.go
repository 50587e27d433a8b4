package sensing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CSVLayout is the column layout of an observation CSV file, detected from its header row.
type CSVLayout int

// CSV layouts.
const (
	// LayoutGeneric: datastream,phenomenonTime,result with optional resultTime and
	// parameters, in any order (docs/import.md).
	LayoutGeneric CSVLayout = iota + 1
	// LayoutPDMA: the PDMA Punjab gauge report table, one discharge observation in cusecs per
	// row (docs/import.md).
	LayoutPDMA
)

// String names the layout.
func (l CSVLayout) String() string {
	switch l {
	case LayoutGeneric:
		return "generic"
	case LayoutPDMA:
		return "pdma"
	}
	return "unknown"
}

// PDMAHeader is the exact header row of the PDMA layout.
var PDMAHeader = []string{"report_datetime_pkt", "station", "river", "discharge_cusecs", "discharge_m3s", "trend", "source_pdf"}

// PDMAUnit is the unit of a PDMA row's Result.
const PDMAUnit = "cusecs"

// Generic layout column names.
const (
	colDatastream     = "datastream"
	colPhenomenonTime = "phenomenonTime"
	colResult         = "result"
	colResultTime     = "resultTime"
	colParameters     = "parameters"
)

var genericColumns = []string{colDatastream, colPhenomenonTime, colResult, colResultTime, colParameters}

// MaxCSVRecordBytes bounds the bytes read for one CSV record (row). A longer record — or a
// quoted field left open that swallows the rest of the file — stops the reader with
// ErrRecordTooLong instead of filling memory. The bound is approximate by the size of the
// reader's buffer (4 KiB): a record may be cut slightly before or after this many bytes.
const MaxCSVRecordBytes = 1 << 20

// ErrRecordTooLong is the fatal error for a record over MaxCSVRecordBytes.
var ErrRecordTooLong = fmt.Errorf("record longer than %d bytes", MaxCSVRecordBytes)

// CSVRow is one observation read from a CSV file.
type CSVRow struct {
	Line int // line number of the row's first line in the file, from 1 (the header)

	// Datastream is the generic layout's datastream cell: a numeric id or a datastream name,
	// for the caller to resolve. Empty for the PDMA layout.
	Datastream string
	// Station and River name the gauge in the PDMA layout; empty for the generic layout.
	Station, River string

	// PhenomenonTime is the text as sent (surrounding spaces trimmed), to be echoed verbatim;
	// Start and End are its parsed bounds (equal for an instant).
	PhenomenonTime string
	Start, End     time.Time

	// Result is a float64 for a number, or a json.RawMessage for any other JSON value (a
	// quoted string, true/false, an object or array). Never nil, never NaN or infinite.
	Result any

	ResultTime *time.Time      // nil when absent or empty
	Parameters json.RawMessage // a JSON object, nil when absent or empty
}

// RowError is a problem with one CSV row. The row is skipped; the reader carries on with the
// next row.
type RowError struct {
	Line   int    // line number, from 1
	Column string // the column at fault, "" when the row as a whole is
	Msg    string
}

// UserMessage is what is wrong with the row, without its line: written for the person whose
// file it is (see package apperr).
func (e *RowError) UserMessage() string {
	if e.Column == "" {
		return e.Msg
	}
	return e.Column + ": " + e.Msg
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Msg)
}

// CSVReader reads observations from CSV, one row at a time. It never holds more than one
// record (about MaxCSVRecordBytes) in memory.
type CSVReader struct {
	r      *csv.Reader
	lim    *limitReader
	layout CSVLayout
	cols   map[string]int // generic: column name → index
	ncol   int
	names  []string // the header's column names, as written
	last   int      // last line of the previous record
	fatal  error    // sticky
}

// NewCSVReader reads the header row from r and detects the layout. The header must be either
// the PDMA header exactly or a generic header (case-insensitive names, any order, each once,
// nothing else); otherwise the error lists both. A UTF-8 byte-order mark and spaces around
// header names are ignored.
func NewCSVReader(r io.Reader) (*CSVReader, error) {
	lim := &limitReader{r: r, n: MaxCSVRecordBytes}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1 // checked per row, as a RowError
	cr.ReuseRecord = true
	c := &CSVReader{r: cr, lim: lim}
	header, err := cr.Read()
	if err != nil {
		switch {
		case err == io.EOF:
			return nil, errors.New("csv: empty file: want a header row")
		case lim.exceeded:
			return nil, fmt.Errorf("csv header: %w", ErrRecordTooLong)
		}
		return nil, fmt.Errorf("csv header: %w", err)
	}
	c.last = endLine(cr, header)
	names := make([]string, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		names[i] = strings.TrimSpace(h)
	}
	c.ncol = len(names)
	c.names = names
	if equalStrings(names, PDMAHeader) {
		c.layout = LayoutPDMA
		return c, nil
	}
	c.cols = make(map[string]int)
	for i, n := range names {
		col := ""
		for _, g := range genericColumns {
			if strings.EqualFold(n, g) {
				col = g
			}
		}
		if col == "" {
			return nil, unknownHeader(fmt.Sprintf("unknown column %s", quoteShort(n)))
		}
		if _, dup := c.cols[col]; dup {
			return nil, unknownHeader(fmt.Sprintf("column %q twice", col))
		}
		c.cols[col] = i
	}
	for _, req := range genericColumns[:3] {
		if _, ok := c.cols[req]; !ok {
			return nil, unknownHeader(fmt.Sprintf("missing column %q", req))
		}
	}
	c.layout = LayoutGeneric
	return c, nil
}

func unknownHeader(why string) error {
	return fmt.Errorf("csv header: %s; accepted headers: generic %q with optional %q, %q (any order), or PDMA %q",
		why, strings.Join(genericColumns[:3], ","), colResultTime, colParameters, strings.Join(PDMAHeader, ","))
}

// Layout returns the layout detected from the header.
func (c *CSVReader) Layout() CSVLayout { return c.layout }

// Next returns the next row. A row that cannot be read gives a *RowError and Next may be
// called again for the rows after it. At the end it returns io.EOF. Any other error — a read
// error from the underlying reader, or ErrRecordTooLong — is fatal: it names the line and is
// returned again by every later call.
func (c *CSVReader) Next() (CSVRow, error) {
	if c.fatal != nil {
		return CSVRow{}, c.fatal
	}
	c.lim.reset()
	rec, err := c.r.Read()
	if err != nil {
		if c.lim.exceeded {
			c.fatal = fmt.Errorf("csv line %d: %w", c.last+1, ErrRecordTooLong)
			return CSVRow{}, c.fatal
		}
		if err == io.EOF {
			return CSVRow{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) { // bad quoting: the reader has moved past it

			if pe.Line > c.last {
				c.last = pe.Line
			}
			return CSVRow{}, &RowError{Line: pe.StartLine, Msg: "malformed CSV: " + pe.Err.Error()}
		}
		c.fatal = fmt.Errorf("csv line %d: %w", c.last+1, err)
		return CSVRow{}, c.fatal
	}
	line, _ := c.r.FieldPos(0)
	c.last = endLine(c.r, rec)
	if len(rec) != c.ncol {
		return CSVRow{}, &RowError{Line: line, Msg: fmt.Sprintf("%d fields, want %d as in the header", len(rec), c.ncol)}
	}
	for i, f := range rec { // text that is not UTF-8, or a NUL, would be stored and served as is
		if err := CheckText(f, "field"); err != nil {
			return CSVRow{}, &RowError{Line: line, Column: c.names[i], Msg: strings.TrimPrefix(err.Error(), "field: ")}
		}
	}
	if c.layout == LayoutPDMA {
		return pdmaRow(line, rec)
	}
	return c.genericRow(line, rec)
}

func (c *CSVReader) genericRow(line int, rec []string) (CSVRow, error) {
	row := CSVRow{Line: line}
	rowErr := func(col, format string, args ...any) (CSVRow, error) {
		return CSVRow{}, &RowError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	row.Datastream = strings.TrimSpace(rec[c.cols[colDatastream]])
	if msg := checkName(row.Datastream); msg != "" {
		return rowErr(colDatastream, "%s", msg)
	}
	var err error
	row.PhenomenonTime = strings.TrimSpace(rec[c.cols[colPhenomenonTime]])
	if row.PhenomenonTime == "" {
		return rowErr(colPhenomenonTime, "empty")
	}
	if row.Start, row.End, err = ParseTimeOrInterval(row.PhenomenonTime); err != nil {
		return rowErr(colPhenomenonTime, "%v", err)
	}
	if row.Result, err = parseResult(rec[c.cols[colResult]]); err != nil {
		return rowErr(colResult, "%v", err)
	}
	if i, ok := c.cols[colResultTime]; ok {
		if s := strings.TrimSpace(rec[i]); s != "" {
			if strings.Contains(s, "/") {
				return rowErr(colResultTime, "an interval: resultTime is an instant")
			}
			t, _, err := ParseTimeOrInterval(s)
			if err != nil {
				return rowErr(colResultTime, "%v", err)
			}
			row.ResultTime = &t
		}
	}
	if i, ok := c.cols[colParameters]; ok {
		if s := strings.TrimSpace(rec[i]); s != "" {
			if !json.Valid([]byte(s)) || s[0] != '{' {
				return rowErr(colParameters, "want a JSON object such as {\"method\":\"manual\"}")
			}
			if err := CheckJSON([]byte(s)); err != nil {
				return rowErr(colParameters, "%v", err)
			}
			if len(s) > MaxJSONBytes {
				return rowErr(colParameters, "%d bytes, over the limit of %d bytes for parameters", len(s), MaxJSONBytes)
			}
			row.Parameters = json.RawMessage(s)
		}
	}
	return row, nil
}

func pdmaRow(line int, rec []string) (CSVRow, error) {
	row := CSVRow{Line: line}
	rowErr := func(col, format string, args ...any) (CSVRow, error) {
		return CSVRow{}, &RowError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	var err error
	row.PhenomenonTime = strings.TrimSpace(rec[0])
	if row.PhenomenonTime == "" {
		return rowErr(PDMAHeader[0], "empty")
	}
	if row.Start, row.End, err = ParseTimeOrInterval(row.PhenomenonTime); err != nil {
		return rowErr(PDMAHeader[0], "%v", err)
	}
	row.Station, row.River = strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
	if msg := checkName(row.Station); msg != "" {
		return rowErr(PDMAHeader[1], "%s", msg)
	}
	if msg := checkName(row.River); msg != "" {
		return rowErr(PDMAHeader[2], "%s", msg)
	}
	cusecs, err := parseNumber(rec[3])
	if err != nil {
		return rowErr(PDMAHeader[3], "%v", err)
	}
	row.Result = cusecs
	// The other columns travel as parameters, so the provenance of each value is kept.
	params := make(map[string]any, 3)
	if s := strings.TrimSpace(rec[4]); s != "" {
		m3s, err := parseNumber(s)
		if err != nil {
			return rowErr(PDMAHeader[4], "%v", err)
		}
		params["discharge_m3s"] = m3s
	}
	if s := strings.TrimSpace(rec[5]); s != "" {
		params["trend"] = s
	}
	if s := strings.TrimSpace(rec[6]); s != "" {
		params["source"] = s
	}
	if len(params) > 0 {
		b, err := json.Marshal(params) // cannot fail: strings and finite numbers
		if err != nil {
			return rowErr("", "%v", err)
		}
		row.Parameters = b
	}
	return row, nil
}

// parseResult parses a generic result cell: a JSON number becomes a float64, any other JSON
// value except null a json.RawMessage.
func parseResult(cell string) (any, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return nil, errors.New("empty")
	}
	if s[0] == '-' || s[0] >= '0' && s[0] <= '9' {
		return parseNumber(s)
	}
	if s == "null" {
		return nil, errors.New("null: a result is required")
	}
	if !json.Valid([]byte(s)) {
		return nil, fmt.Errorf("%s is neither a number nor a JSON value (write text as a JSON string: \"\"text\"\" inside a quoted CSV field)", quoteShort(s))
	}
	if err := CheckJSON([]byte(s)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return nil, err
	}
	if buf.Len() > MaxResultBytes {
		return nil, fmt.Errorf("%d bytes, over the limit of %d bytes for a result", buf.Len(), MaxResultBytes)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// parseNumber parses a JSON number (so no NaN, Inf, hex, leading '+' or '.', or thousands
// separators) that fits a float64.
func parseNumber(cell string) (float64, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return 0, errors.New("empty: want a number")
	}
	if !isJSONNumber(s) {
		return 0, fmt.Errorf("%s is not a number (want e.g. 56998 or -1.5e3)", quoteShort(s))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s is out of range", quoteShort(s))
	}
	return v, nil
}

// isJSONNumber reports whether s is exactly a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// checkName returns why a datastream, station or river name is unusable, or "".
func checkName(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxNameBytes:
		return fmt.Sprintf("%d bytes, over the limit of %d bytes for a name", len(s), MaxNameBytes)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// endLine returns the line a record just read ends on: the line its last field starts on, plus
// the newlines inside that field (a quoted field may span lines).
func endLine(r *csv.Reader, rec []string) int {
	line, _ := r.FieldPos(len(rec) - 1)
	return line + strings.Count(rec[len(rec)-1], "\n")
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// limitReader fails once more than n bytes have been read since the last reset. The failure
// is sticky: a csv.Reader cannot be resynchronised in the middle of an over-long record.
type limitReader struct {
	r        io.Reader
	n, read  int
	exceeded bool
}

func (l *limitReader) reset() { l.read = 0 }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, ErrRecordTooLong
	}
	if l.read >= l.n {
		l.exceeded = true
		return 0, ErrRecordTooLong
	}
	if rem := l.n - l.read; len(p) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.read += n
	return n, err
}
