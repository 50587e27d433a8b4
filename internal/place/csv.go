package place

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Limits of ReadVillages, each applied when the option is 0.
const (
	DefaultMaxRows       = 200_000   // data rows
	DefaultMaxBytes      = 64 << 20  // bytes of input
	DefaultMaxField      = 200       // bytes per field
	DefaultMaxErrors     = 1_000     // row errors before reading stops
	DefaultMaxPopulation = 2_000_000 // people in one village
	progressEvery        = 1_000     // rows between progress reports
	maxLanguages         = 8         // tags in one languages field
)

// CSVOptions configures ReadVillages. Zero values take the defaults above.
type CSVOptions struct {
	MaxRows, MaxField, MaxErrors int
	MaxBytes, MaxPopulation      int64
	// Source is written into each village's Source (default "imported village list").
	Source string
	// Progress, when set, is called every 1,000 rows and once at the end with the data rows
	// read so far and the bytes of input consumed (a CLI draws a progress bar against the
	// file's size).
	Progress func(rows int, bytes int64)
}

// RowError is a problem with one row (or the header, line 1) of a village CSV: its line
// (1-based, as an editor counts; a quoted field may span lines), the column by name ("" when
// the whole row is at fault) and the reason.
type RowError struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Reason)
}

// The columns of a village CSV.
var (
	requiredColumns = []string{"name", "lat", "lon", "population", "languages", "connectivity"}
	optionalColumns = []string{"id", "name_ur", "district", "province"}
)

// ReadVillages reads a list of villages as CSV (RFC 4180, UTF-8, comma-separated) with a
// header row naming its columns, in any order, case ignored:
//
//	name          the village's name (required, at most MaxField bytes, no control characters)
//	lat, lon      WGS 84 decimal degrees, in [-90, 90] and [-180, 180]
//	population    a whole number of people in [0, MaxPopulation]
//	languages     BCP 47 tags separated by ";" or spaces, most spoken first (e.g. "skr;ur"), at most 8
//	connectivity  fibre, mobile-data, sms-only or none
//	id            optional: the list's own stable id; the key is then "village:<id>", otherwise
//	              "village:<name>@<lat>,<lon>" (5 decimals)
//	name_ur       optional: the name in Urdu script
//	district, province  optional: where the village lies (else Locate can fill them in)
//
// It returns the valid villages (Kind Village, Country "PK", Synthetic false) and one
// RowError per invalid row (the row is then left out; a repeated key is an error of the
// later row). The error is for what stops the reading: a header without a required column
// or with an unknown or repeated one, more than MaxRows rows, more than MaxBytes of input,
// more than MaxErrors row errors, or a read error; the villages and row errors up to that
// point are returned with it.
func ReadVillages(r io.Reader, opts CSVOptions) ([]Place, []RowError, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	if opts.MaxField <= 0 {
		opts.MaxField = DefaultMaxField
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxPopulation <= 0 {
		opts.MaxPopulation = DefaultMaxPopulation
	}
	if opts.Source == "" {
		opts.Source = "imported village list"
	}
	cr := &countingReader{r: r, max: opts.MaxBytes}
	c := csv.NewReader(cr)
	c.ReuseRecord = true
	c.FieldsPerRecord = -1 // checked here, with a clearer message
	progress := func(rows int) {
		if opts.Progress != nil {
			opts.Progress(rows, cr.n)
		}
	}

	head, err := c.Read()
	if err != nil {
		if errors.Is(err, errTooBig) {
			return nil, nil, fmt.Errorf("village list: more than %d bytes", opts.MaxBytes)
		}
		if err == io.EOF {
			return nil, nil, fmt.Errorf("village list: empty: the first line must name the columns (%s)", strings.Join(requiredColumns, ", "))
		}
		return nil, nil, fmt.Errorf("village list: line 1 (the header): %v", csvReason(err))
	}
	col := map[string]int{}
	known := append(append([]string(nil), requiredColumns...), optionalColumns...)
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !contains(known, h) {
			return nil, nil, fmt.Errorf("village list: line 1: column %d %q is not one of %s", i+1, truncate(h, 40), strings.Join(known, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, nil, fmt.Errorf("village list: line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, h := range requiredColumns {
		if _, ok := col[h]; !ok {
			return nil, nil, fmt.Errorf("village list: line 1: column %q is missing (the columns are %s)", h, strings.Join(requiredColumns, ", "))
		}
	}

	var out []Place
	var rowErrs []RowError
	seen := map[string]int{}
	rows, line := 0, 1
	for {
		rec, err := c.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errTooBig) {
				progress(rows)
				return out, rowErrs, fmt.Errorf("village list: more than %d bytes", opts.MaxBytes)
			}
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				progress(rows)
				return out, rowErrs, fmt.Errorf("village list: reading after line %d: %w", line, err)
			}
			line = pe.StartLine
		} else {
			line, _ = c.FieldPos(0)
		}
		if rows++; rows > opts.MaxRows {
			progress(rows - 1)
			return out, rowErrs, fmt.Errorf("village list: more than %d rows (line %d)", opts.MaxRows, line)
		}
		if err != nil {
			rowErrs = append(rowErrs, RowError{Line: line, Reason: csvReason(err)})
		} else {
			if p, e := village(rec, col, line, opts); e != nil {
				rowErrs = append(rowErrs, *e)
			} else if first, dup := seen[p.Key]; dup {
				rowErrs = append(rowErrs, RowError{Line: line, Reason: fmt.Sprintf("village %q is already on line %d (same key %q)", p.Name, first, p.Key)})
			} else {
				seen[p.Key] = line
				out = append(out, p)
			}
		}
		if len(rowErrs) > opts.MaxErrors {
			progress(rows)
			return out, rowErrs, fmt.Errorf("village list: more than %d rows with errors; stopped at line %d", opts.MaxErrors, line)
		}
		if rows%progressEvery == 0 {
			progress(rows)
		}
	}
	progress(rows)
	return out, rowErrs, nil
}

// village parses one data row.
func village(rec []string, col map[string]int, line int, opts CSVOptions) (Place, *RowError) {
	bad := func(column, format string, args ...any) (Place, *RowError) {
		return Place{}, &RowError{Line: line, Column: column, Reason: fmt.Sprintf(format, args...)}
	}
	if n := len(col); len(rec) != n {
		return bad("", "%d fields, the header names %d", len(rec), n)
	}
	get := func(name string) (string, bool) {
		i, ok := col[name]
		if !ok {
			return "", false
		}
		return strings.TrimSpace(rec[i]), true
	}
	for name, i := range col {
		if err := text(rec[i], opts.MaxField); err != nil {
			return bad(name, "%v", err)
		}
	}
	p := Place{Kind: Village, Country: "PK", Source: opts.Source}
	p.Name, _ = get("name")
	if p.Name == "" {
		return bad("name", "empty: every village needs a name")
	}
	p.NameUr, _ = get("name_ur")
	p.District, _ = get("district")
	p.Province, _ = get("province")
	var err error
	s, _ := get("lat")
	if p.Lat, err = coordinate(s, 90); err != nil {
		return bad("lat", "latitude %v", err)
	}
	s, _ = get("lon")
	if p.Lon, err = coordinate(s, 180); err != nil {
		return bad("lon", "longitude %v", err)
	}
	s, _ = get("population")
	if p.Population, err = strconv.ParseInt(s, 10, 64); err != nil || p.Population < 0 || p.Population > opts.MaxPopulation {
		return bad("population", "%q is not a whole number of people from 0 to %d", truncate(s, 40), opts.MaxPopulation)
	}
	s, _ = get("languages")
	tags := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
	if len(tags) == 0 {
		return bad("languages", "empty: give at least one BCP 47 tag, e.g. \"ur\"")
	}
	if len(tags) > maxLanguages {
		return bad("languages", "%d tags, at most %d", len(tags), maxLanguages)
	}
	for _, t := range tags {
		tag, err := language.Parse(t)
		if err != nil {
			return bad("languages", "%q is not a BCP 47 language tag", truncate(t, 40))
		}
		p.Languages = append(p.Languages, tag.String())
	}
	s, _ = get("connectivity")
	if p.Connectivity, err = ParseConnectivity(s); err != nil {
		return bad("connectivity", "%q is not one of fibre, mobile-data, sms-only, none", truncate(s, 40))
	}
	if id, ok := get("id"); ok && id != "" {
		p.Key = "village:" + id
	} else {
		p.Key = fmt.Sprintf("village:%s@%.5f,%.5f", p.Name, p.Lat, p.Lon)
	}
	return p, nil
}

// coordinate parses a decimal number of degrees in [-limit, limit].
func coordinate(s string, limit float64) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("%q is not a decimal number of degrees", truncate(s, 40))
	}
	if f < -limit || f > limit {
		return 0, fmt.Errorf("%v is outside [-%v, %v]", f, limit, limit)
	}
	return f, nil
}

// text checks a field: valid UTF-8, no control characters, at most max bytes.
func text(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, at most %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%v (character %d of line %d)", pe.Err, pe.Column, pe.Line)
	}
	return err.Error()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

var errTooBig = errors.New("input too large")

// countingReader counts the bytes read and fails past max.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// Reading exactly max bytes is allowed; one byte more is too many.
		var one [1]byte
		k, err := c.r.Read(one[:])
		if k > 0 {
			return 0, errTooBig
		}
		return 0, err
	}
	if rest := c.max - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}
