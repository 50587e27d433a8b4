package sqlq

import (
	"math"
	"strconv"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// errForgedCursor is the answer to a $skiptoken whose keys this server cannot have made.
var errForgedCursor = apperr.E(apperr.Invalid, "$skiptoken is not one this server made; follow @iot.nextLink as given")

// checkCursor checks, and makes bindable, the keys of query's cursor ($skiptoken, which the
// client sends back and may have changed): one per term, each null or of its term's kind
// (Compiler.OrderKeys). Keys that a node of this engine may have written pass unchanged in
// meaning; any other is an Invalid error rather than a query the database refuses (a 500). On
// PostgreSQL, which types a bound number or boolean by its Go type, a key of a JSON term is
// bound as untyped text, which PostgreSQL reads as the term's type (or refuses with a 400).
func (s *Entities) checkCursor(query *sensing.Query, nterms int) error {
	c := query.Cursor
	if c == nil {
		return nil
	}
	if len(c.Keys) != nterms || c.ID < 0 || c.MaxID < 0 {
		return errForgedCursor
	}
	kinds := make([]KeyKind, nterms) // no $orderby: by id alone, or (a MultiDatastream's ObservedProperties) by rank
	for i := range kinds {
		kinds[i] = KeyInt
	}
	if len(query.Opts.OrderBy) > 0 {
		var err error
		if kinds, err = s.q.OrderKeys(query.Set, "e", query.Opts.OrderBy); err != nil {
			return err
		}
	}
	if len(kinds) != nterms {
		return errForgedCursor
	}
	var eng Engine = s.eng
	if j, ok := eng.(joined); ok {
		eng = j.Engine
	}
	tk, _ := eng.(textKeys)
	pg := tk != nil && tk.TextKeys()
	for i, k := range c.Keys {
		v, ok := cursorKey(kinds[i], k, pg)
		if !ok {
			return errForgedCursor
		}
		c.Keys[i] = v
	}
	return nil
}

// textKeys is an Engine on which a JSON order term is text and a bound number or boolean is
// typed by its Go type (PostgreSQL): a cursor key of such a term is bound as untyped text.
type textKeys interface{ TextKeys() bool }

// cursorKey returns key v as bound for a term of kind k, and whether it is one.
func cursorKey(k KeyKind, v any, pg bool) (any, bool) {
	if v == nil {
		return nil, true
	}
	switch v := v.(type) {
	case int64:
		switch k {
		case KeyInt, KeyNumber:
			return v, true
		case KeyBool: // SQLite's booleans are 0 and 1
			return v, !pg && (v == 0 || v == 1)
		case KeyAny:
			if pg {
				return strconv.FormatInt(v, 10), true
			}
			return v, true
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		switch k {
		case KeyInt:
			if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
				return int64(v), true
			}
		case KeyNumber:
			return v, true
		case KeyAny:
			if pg {
				return strconv.FormatFloat(v, 'g', -1, 64), true
			}
			return v, true
		}
	case string:
		switch k {
		case KeyString, KeyAny:
			return v, true
		case KeyNumber: // PostgreSQL's float8 specials (see its CursorKey)
			if v == "NaN" || v == "Infinity" || v == "-Infinity" {
				return v, true
			}
		}
	case bool:
		switch k {
		case KeyBool:
			return v, true
		case KeyAny:
			if pg {
				return strconv.FormatBool(v), true
			}
			return v, true
		}
	}
	return nil, false
}
