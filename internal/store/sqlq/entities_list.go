package sqlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// maxExpandDepth bounds nested $expand.
const maxExpandDepth = 8

// orderTerm is one ORDER BY term: an SQL expression, its arguments and its direction.
type orderTerm struct {
	sql  string
	args []any
	desc bool
	// notNull: the term is a NOT NULL column (Column.NotNull), so its order needs no NULLS clause
	notNull bool
}

// dir is the term's direction in ORDER BY: NULLs first ascending and last descending (none
// in a NOT NULL column, whose index then serves the order).
func (t orderTerm) dir() string {
	switch {
	case t.desc && t.notNull:
		return " DESC"
	case t.desc:
		return " DESC NULLS LAST"
	case t.notNull:
		return " ASC"
	}
	return " ASC NULLS FIRST"
}

// idDir is the direction of the id that breaks ties after terms: the last term's.
func idDir(terms []orderTerm) string {
	if len(terms) > 0 && terms[len(terms)-1].desc {
		return " DESC"
	}
	return " ASC"
}

// q accumulates SQL text and its '?' arguments in the same order.
type q struct {
	b    strings.Builder
	args []any
}

func (x *q) add(sql string, args ...any) {
	x.b.WriteString(sql)
	x.args = append(x.args, args...)
}

// orderTerms compiles $orderby into separate terms, so that each can be selected (for the
// paging cursor), ordered by and compared against the cursor.
func (s *Entities) orderTerms(set, alias string, items []odata.OrderItem) ([]orderTerm, error) {
	var out []orderTerm
	for _, it := range items {
		sqlText, args, err := s.q.OrderBy(set, alias, []odata.OrderItem{it})
		if err != nil {
			return nil, err
		}
		for _, t := range splitTop(sqlText) {
			t = strings.TrimSpace(t)
			desc := strings.HasSuffix(t, " DESC")
			t = strings.TrimSuffix(strings.TrimSuffix(t, " DESC"), " ASC")
			n := countPlaceholders(t)
			out = append(out, orderTerm{sql: t, args: args[:n], desc: desc, notNull: s.notNullColumn(set, alias, t)})
			args = args[n:]
		}
	}
	return out, nil
}

// notNullColumn reports whether the SQL term t is one of set's NOT NULL columns on alias.
func (s *Entities) notNullColumn(set, alias, t string) bool {
	for _, c := range Sensing[set].Columns {
		if c.NotNull && (t == alias+"."+c.Col || (c.End != "" && t == alias+"."+c.End)) {
			return true
		}
	}
	return false
}

// Unquoted calls fn with the index and byte of every byte of the SQL text s that stands
// outside quoted text ('…' literals, "…" identifiers), and the depth of parentheses there.
// It knows no other quoting: the SQL it is used on (the store's own statements and compiled
// filters, whose literals are all bound) has no comments, E'…' strings or $$ bodies.
func Unquoted(s string, fn func(i int, c byte, depth int)) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			continue
		case c == '\'' || c == '"':
			quote = c
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
		fn(i, c, depth)
	}
}

// splitTop splits s at commas outside parentheses and quotes.
func splitTop(s string) []string {
	var parts []string
	start := 0
	Unquoted(s, func(i int, c byte, depth int) {
		if c == ',' && depth == 0 {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	})
	if strings.TrimSpace(s[start:]) != "" {
		parts = append(parts, s[start:])
	}
	return parts
}

func countPlaceholders(s string) int {
	n := 0
	Unquoted(s, func(_ int, c byte, _ int) {
		if c == '?' {
			n++
		}
	})
	return n
}

// parentCond returns the condition tying alias a of the listed set to q.Parent.
func parentCond(p *sensing.Parent, a string) (string, []any, error) {
	l, ok := Sensing[p.Set].Links[p.Nav]
	if !ok {
		return "", nil, apperr.E(apperr.Invalid, "%s has no navigation property %s", p.Set, p.Nav)
	}
	switch {
	case l.RemoteFK != "":
		return fmt.Sprintf("%s.%s = ?", a, l.RemoteFK), []any{p.ID}, nil
	case l.Via != nil:
		return fmt.Sprintf("%s.id IN (SELECT %s FROM %s WHERE %s = ?)", a, l.Via.RemoteCol, l.Via.Table, l.Via.LocalCol), []any{p.ID}, nil
	default:
		return fmt.Sprintf("%s.id = (SELECT %s FROM %s WHERE id = ?)", a, l.LocalFK, Sensing[p.Set].Name), []any{p.ID}, nil
	}
}

// where builds the WHERE conditions shared by a page and its count.
func (s *Entities) where(x *q, query *sensing.Query, a string) error {
	x.add(" WHERE 1=1")
	if query.Parent != nil {
		c, args, err := parentCond(query.Parent, a)
		if err != nil {
			return err
		}
		x.add(" AND "+c, args...)
	}
	if query.ID > 0 {
		x.add(" AND "+a+".id = ?", query.ID)
	}
	if query.Opts.Filter != nil {
		c, args, err := s.q.Where(query.Set, a, query.Opts.Filter)
		if err != nil {
			return err
		}
		x.add(" AND "+c, args...)
	}
	viewCond(x, query, a) // remoteview.go
	return nil
}

// cursorCond adds "strictly after the cursor" in the order of terms (ids break ties, in the
// direction of the last term). NULLs come first ascending and last descending, as ordered.
func (s *Entities) cursorCond(x *q, terms []orderTerm, c *sensing.Cursor, a string) {
	if len(c.Keys) != len(terms) {
		return
	}
	idDesc := len(terms) > 0 && terms[len(terms)-1].desc
	var build func(i int) (string, []any)
	build = func(i int) (string, []any) {
		if i == len(terms) {
			if idDesc {
				return a + ".id < ?", []any{c.ID}
			}
			return a + ".id > ?", []any{c.ID}
		}
		t, v := terms[i], c.Keys[i]
		rest, restArgs := build(i + 1)
		var after, eq string
		var afterArgs, eqArgs []any
		switch {
		case v == nil && !t.desc:
			after, afterArgs = t.sql+" IS NOT NULL", t.args
			eq, eqArgs = t.sql+" IS NULL", t.args
		case v == nil && t.desc:
			after = "0=1"
			eq, eqArgs = t.sql+" IS NULL", t.args
		case !t.desc:
			after, afterArgs = t.sql+" > ?", append(append([]any{}, t.args...), v)
			eq, eqArgs = t.sql+" = ?", append(append([]any{}, t.args...), v)
		default:
			after, afterArgs = "("+t.sql+" < ? OR "+t.sql+" IS NULL)", append(append(append([]any{}, t.args...), v), t.args...)
			eq, eqArgs = t.sql+" = ?", append(append([]any{}, t.args...), v)
		}
		args := append(append(append([]any{}, afterArgs...), eqArgs...), restArgs...)
		return "(" + after + " OR (" + eq + " AND " + rest + "))", args
	}
	cond, args := build(0)
	x.add(" AND "+cond, args...)
	// a redundant bound on the first key lets an index range scan start at the cursor
	if len(terms) > 0 && c.Keys[0] != nil {
		if terms[0].desc {
			x.add(" AND ("+terms[0].sql+" <= ? OR "+terms[0].sql+" IS NULL)", append(append(append([]any{}, terms[0].args...), c.Keys[0]), terms[0].args...)...)
		} else {
			x.add(" AND "+terms[0].sql+" >= ?", append(append([]any{}, terms[0].args...), c.Keys[0])...)
		}
	}
	if c.MaxID > 0 {
		x.add(" AND "+s.eng.NoIndex(a+".id")+" <= ?", c.MaxID) // SQLite: keeps it from choosing the rowid for this bound
	}
}

// errNoneFit is what list returns when not even the first entity of a collection, with what
// its $expand asks for, fits in the query's Budget: an expanded collection is then given empty
// with a nextLink to all of it, a to-one expansion fails its entity, and the answer as a
// whole (List, Get) is Budget.Err.
var errNoneFit = errors.New("no entity fits in the response budget")

// List implements the SensorThings store: a page of q.Set, with expands. Count, page and
// expands see one snapshot. Every entity read, at every level of $expand, is charged to
// q.Budget; when it runs out, the answer is cut with server-driven paging wherever that is
// correct: a collection (the page itself or an expanded one) ends before the first entity
// that does not fit with all it expands, or just after an entity one of whose expanded
// collections was cut, and gets a nextLink (Page.Next, Expanded.Next) that lists the rest. A
// level with $expand reads at most half the rows left in the budget, so that what it expands
// has room. When not even the first entity fits, List fails with q.Budget.Err (413). The
// context's end (deadline, client gone) stops the work between queries and inside the
// running query (each engine's driver interrupts it).
func (s *Entities) List(ctx context.Context, query *sensing.Query) (*sensing.Page, error) {
	query = viewed(ctx, query) // remoteview.go: what a remote Datastream's reader may see
	still := s.kept(query)     // remoteview.go
	if still != nil && s.KeptHook != nil {
		s.KeptHook()
	}
	mark := query.Budget.Mark()
	var page *sensing.Page
	err := s.eng.Read(ctx, func(tx Tx) error {
		if err := s.hide(ctx, tx, query); err != nil { // remoteview.go
			return err
		}
		var err error
		page, err = s.list(ctx, tx, query, 0)
		if still != nil && !still() { // what is hidden may have changed since it was kept: again, in this snapshot
			query.Budget.Rewind(mark)
			if err := s.rehide(ctx, tx, query); err != nil {
				return err
			}
			page, err = s.list(ctx, tx, query, 0)
		}
		return err
	})
	if errors.Is(err, errNoneFit) {
		return nil, query.Budget.Err()
	}
	if err != nil {
		return nil, err
	}
	return page, nil
}

func (s *Entities) list(ctx context.Context, tx Tx, query *sensing.Query, depth int) (*sensing.Page, error) {
	const a = "e"
	t := Sensing[query.Set]
	terms, err := s.orderTerms(query.Set, a, query.Opts.OrderBy)
	if err != nil {
		return nil, err
	}
	if len(terms) == 0 {
		terms = rankTerm(query.Parent, a) // a MultiDatastream's ObservedProperties: in rank order
	}
	if query.Cursor != nil && len(query.Cursor.Keys) != len(terms) {
		// a $skiptoken from a listing in another order: continuing it would silently start over
		return nil, apperr.E(apperr.Invalid, "$skiptoken was made for another $orderby; follow @iot.nextLink as given")
	}
	if err := s.checkCursor(query, len(terms)); err != nil {
		return nil, err
	}
	page := &sensing.Page{}
	cur := query.Cursor
	if cur == nil && depth == 0 {
		// remember where the listing began: later pages neither shift nor change count
		var maxID *int64
		if err := tx.QueryRow(ctx, "SELECT max(id) FROM "+t.Name).Scan(&maxID); err != nil {
			return nil, err
		}
		cur = &sensing.Cursor{}
		if maxID != nil {
			cur.MaxID = *maxID
		}
	}
	if query.Opts.Count != nil && *query.Opts.Count {
		// counts.go: the Observations of a (Multi)Datastream, or all, unfiltered: exact from the counts
		if n, ok, err := fastCount(ctx, tx, query); err != nil {
			return nil, err
		} else if ok {
			page.Count = &n
		}
	}
	if query.Opts.Count != nil && *query.Opts.Count && page.Count == nil {
		var x q
		x.add("SELECT count(*) FROM " + t.Name + " " + a)
		if err := s.where(&x, query, a); err != nil {
			return nil, err
		}
		if query.Cursor != nil && query.Cursor.MaxID > 0 {
			x.add(" AND "+s.eng.NoIndex(a+".id")+" <= ?", query.Cursor.MaxID)
		}
		var n int64
		text, args := s.eng.Dynamic(x.b.String(), x.args)
		if err := tx.QueryRow(ctx, text, args...).Scan(&n); err != nil {
			return nil, s.queryErr(err)
		}
		page.Count = &n
	}
	if query.Top <= 0 { // $top=0: the count alone
		return page, nil
	}
	// from the start of this page: the nextLink of a collection of which nothing fits
	from := query.Cursor
	if from == nil {
		from = &sensing.Cursor{}
		if cur != nil {
			from.MaxID = cur.MaxID
		}
	}
	budget := query.Budget
	top := query.Top
	if budget != nil && len(query.Opts.Expand) > 0 {
		top = int(min(int64(top), max(1, budget.Left()/2))) // leave room for what is expanded
	}
	if budget.Left() < 1 {
		budget.Miss() // so that the collections around this one end too
		page.Next = from
		return page, errNoneFit
	}
	x, err := s.pageSQL(query, terms, "SELECT "+selectList(query.Set, a))
	if err != nil {
		return nil, err
	}
	text, args := s.eng.Dynamic(x.b.String(), x.args)
	rows, err := tx.Query(ctx, text, args...)
	if err != nil {
		return nil, s.queryErr(err)
	}
	pb := &pageBuilder{s: s, query: query, page: page, cur: cur, from: from, top: top}
	for rows.Next() {
		r, err := s.scanPageRow(query.Set, len(terms), rows.Scan)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if !pb.add(r) {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.queryErr(err)
	}
	return pb.finish(ctx, tx, depth)
}

// pageRow is one entity of a page as read (pageSQL), with its order keys (for the cursor).
type pageRow struct {
	e    *sensing.Entity
	keys []any
}

// scanPageRow scans a row of pageSQL's query: the entity, its nterms order keys, then the
// extra trailing columns into extra.
func (s *Entities) scanPageRow(set string, nterms int, scan func(dest ...any) error, extra ...any) (pageRow, error) {
	k := make([]any, nterms)
	ptrs := make([]any, nterms, nterms+len(extra))
	for i := range k {
		ptrs[i] = &k[i]
	}
	e, err := scanEntity(set, scan, append(ptrs, extra...)...)
	if err != nil {
		return pageRow{}, err
	}
	for i := range k {
		k[i] = s.eng.CursorKey(k[i])
	}
	return pageRow{e, k}, nil
}

// pageBuilder makes a page of query out of its rows, in order, charging each to the
// query's Budget: add each row (until it returns false), then finish.
type pageBuilder struct {
	s         *Entities
	query     *sensing.Query
	page      *sensing.Page
	cur, from *sensing.Cursor // the listing's start (MaxID), and this page's (the nextLink of none fits)
	top       int
	keys      [][]any // the order keys of each entity of the page
	sizes     []int64
	cut       bool // a row did not fit in the budget
}

// after returns the cursor that continues after the page's i-th entity.
func (pb *pageBuilder) after(i int) *sensing.Cursor {
	c := &sensing.Cursor{Keys: pb.keys[i], ID: pb.page.Entities[i].ID}
	if pb.cur != nil {
		c.MaxID = pb.cur.MaxID
	}
	return c
}

// add takes the next row of the page; false when the page is full (one row more than top was
// read: the page gets a nextLink) or the row did not fit in the budget.
func (pb *pageBuilder) add(r pageRow) bool {
	if len(pb.page.Entities) == pb.top {
		pb.page.Next = pb.after(pb.top - 1)
		return false
	}
	size := sensing.EntitySize(r.e)
	if !pb.query.Budget.Take(size) {
		pb.cut = true
		return false
	}
	pb.page.Entities = append(pb.page.Entities, r.e)
	pb.keys = append(pb.keys, r.keys)
	pb.sizes = append(pb.sizes, size)
	return true
}

// finish expands the page's entities and cuts the page where the budget ran out.
func (pb *pageBuilder) finish(ctx context.Context, tx Tx, depth int) (*sensing.Page, error) {
	page := pb.page
	n, err := pb.s.expand(ctx, tx, pb.query, page.Entities, depth)
	if err != nil {
		return nil, err
	}
	if n < len(page.Entities) || pb.cut {
		for _, size := range pb.sizes[n:] {
			pb.query.Budget.Give(1, size)
		}
		if n == 0 {
			page.Entities, page.Next = nil, pb.from
			return page, errNoneFit
		}
		page.Entities = page.Entities[:n]
		page.Next = pb.after(n - 1)
	}
	return page, nil
}

// pageSQL builds the query for one page: head (the SELECT list), the order keys, the
// conditions, the cursor, ORDER BY and LIMIT.
func (s *Entities) pageSQL(query *sensing.Query, terms []orderTerm, head string) (*q, error) {
	return s.pageSQLLimit(query, terms, head, false)
}

// pageSQLLimit is pageSQL with, when inline is set, the LIMIT written into the text instead of
// bound: a statement kept prepared (batch.go's lateral) then has a plan for its own LIMIT,
// which PostgreSQL can make once and reuse (with LIMIT bound, it plans every run again).
func (s *Entities) pageSQLLimit(query *sensing.Query, terms []orderTerm, head string, inline bool) (*q, error) {
	const a = "e"
	x := &q{}
	x.add(head)
	for i, term := range terms {
		x.add(", "+term.sql+fmt.Sprintf(" AS k%d_", i), term.args...) // named for batch.go's outer ORDER BY
	}
	x.add(" FROM " + Sensing[query.Set].Name + " " + a)
	if err := s.where(x, query, a); err != nil {
		return nil, err
	}
	if query.Cursor != nil {
		s.cursorCond(x, terms, query.Cursor, a)
	}
	x.add(" ORDER BY ")
	for _, term := range terms {
		x.add(term.sql+term.dir()+", ", term.args...)
	}
	x.add(a + ".id" + idDir(terms))
	if inline {
		x.add(" LIMIT " + strconv.Itoa(query.Top+1))
	} else {
		x.add(" LIMIT ?", query.Top+1)
	}
	if query.Cursor == nil && query.Opts.Skip != nil && *query.Opts.Skip > 0 {
		x.add(" OFFSET ?", *query.Opts.Skip)
	}
	return x, nil
}

// Get returns one entity (q.ID), with expands; NotFound if it does not exist or is not
// related to q.Parent.
func (s *Entities) Get(ctx context.Context, query *sensing.Query) (*sensing.Entity, error) {
	query = viewed(ctx, query) // remoteview.go
	still := s.kept(query)     // remoteview.go
	mark := query.Budget.Mark()
	var e *sensing.Entity
	run := s.eng.Read
	if query.Opts == nil || len(query.Opts.Expand) == 0 {
		run = s.eng.Do // one statement needs no snapshot (and, on PostgreSQL, no BEGIN and COMMIT)
	}
	if query.View != nil && query.View.Hidden == nil {
		run = s.eng.Read // what the view hides, and the entity, in one snapshot
	}
	err := run(ctx, func(tx Tx) error {
		if err := s.hide(ctx, tx, query); err != nil { // remoteview.go
			return err
		}
		var err error
		e, err = s.get(ctx, tx, query)
		return err
	})
	if still != nil && !still() { // what is hidden may have changed since it was kept: again, in one snapshot
		query.Budget.Rewind(mark)
		err = s.eng.Read(ctx, func(tx Tx) error {
			if err := s.rehide(ctx, tx, query); err != nil {
				return err
			}
			var err error
			e, err = s.get(ctx, tx, query)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Entities) get(ctx context.Context, tx Tx, query *sensing.Query) (*sensing.Entity, error) {
	var x q
	x.add("SELECT " + selectList(query.Set, "e") + " FROM " + Sensing[query.Set].Name + " e")
	only := *query
	only.Opts = &odata.Options{}
	if err := s.where(&x, &only, "e"); err != nil {
		return nil, err
	}
	text, args := s.eng.Dynamic(x.b.String(), x.args)
	rows, err := tx.Query(ctx, text, args...)
	if err != nil {
		return nil, s.queryErr(err)
	}
	var e *sensing.Entity
	if rows.Next() {
		e, err = scanEntity(query.Set, rows.Scan)
		if err != nil {
			rows.Close()
			return nil, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.queryErr(err)
	}
	if e == nil {
		if query.Parent != nil {
			return nil, apperr.E(apperr.NotFound, "%s(%d) has no %s(%d)", query.Parent.Set, query.Parent.ID, query.Set, query.ID)
		}
		return nil, apperr.E(apperr.NotFound, "%s(%d) does not exist", query.Set, query.ID)
	}
	if !query.Budget.Take(sensing.EntitySize(e)) {
		return nil, query.Budget.Err()
	}
	if query.Opts != nil && len(query.Opts.Expand) > 0 {
		n, err := s.expand(ctx, tx, query, []*sensing.Entity{e}, 0)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, query.Budget.Err()
		}
	}
	return e, nil
}

// expandItem is one $expand item resolved: the navigation property, its options and page size.
type expandItem struct {
	nav  sensing.Nav
	opts *odata.Options
	top  int
}

// expand fills Expanded on ents, one entity after the other, for every $expand item, with the
// item's own options, and returns how many of ents (from the first) it completed: all of them,
// or fewer when query.Budget ran out. An entity is complete when each of its to-one
// expansions is there and each expanded collection is whole or cut with a nextLink (an
// expanded collection of which nothing fits is empty, with a nextLink to all of it). It stops
// before an entity that cannot be completed, giving back what that entity's expansion took,
// and just after an entity during whose expansion a Take failed: the budget has no room left
// for more. Any other error fails the whole request.
func (s *Entities) expand(ctx context.Context, tx Tx, query *sensing.Query, ents []*sensing.Entity, depth int) (int, error) {
	if query.Opts == nil || len(query.Opts.Expand) == 0 || len(ents) == 0 {
		return len(ents), nil
	}
	if depth >= maxExpandDepth {
		return 0, apperr.E(apperr.Invalid, "$expand nests more than %d levels", maxExpandDepth)
	}
	set := sensing.Sets[query.Set]
	items := make([]expandItem, 0, len(query.Opts.Expand))
	for _, it := range query.Opts.Expand {
		names := it.Names()
		nav, ok := set.NavTo(names[0])
		if !ok {
			return 0, &odata.Error{Option: "$expand", Pos: it.Path[0].P, Msg: fmt.Sprintf("%s has no navigation property %q", set.Single, names[0])}
		}
		opts := it.Options
		if len(names) > 1 {
			// Datastreams/Observations: expand the first step, nest the rest under it
			rest := it
			rest.Path = it.Path[1:]
			opts = &odata.Options{Expand: []odata.ExpandItem{rest}}
		}
		top := query.ExpandTop
		if top <= 0 {
			top = 100
		}
		if opts.Top != nil {
			top = int(min(*opts.Top, int64(max(query.MaxTop, 1))))
		}
		if !nav.Many {
			top = 1
		}
		items = append(items, expandItem{nav, opts, top})
	}
	budget := query.Budget
	pre := make([]*prefetch, len(items)) // batch.go: the expanded collections read many entities at a time
	for j, it := range items {
		if s.batchable(it, len(ents)) {
			pre[j] = &prefetch{s: s, query: query, item: it, ents: ents}
		}
	}
	for i, e := range ents {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		misses := budget.Misses()
		rows, bytes := budget.Used()
		ok, err := s.expandOne(ctx, tx, query, items, ents, pre, i, depth)
		if err != nil {
			return 0, err
		}
		if !ok {
			r, b := budget.Used()
			budget.Give(r-rows, b-bytes)
			e.Expanded = nil
			return i, nil
		}
		if budget.Misses() > misses {
			return i + 1, nil
		}
	}
	return len(ents), nil
}

// expandOne expands the items of ents[i]; false when a to-one expansion does not fit in the
// budget. An item with a prefetch (pre[j], batch.go) takes its rows from there instead of
// querying them.
func (s *Entities) expandOne(ctx context.Context, tx Tx, query *sensing.Query, items []expandItem, ents []*sensing.Entity, pre []*prefetch, i, depth int) (bool, error) {
	e := ents[i]
	if e.Expanded == nil {
		e.Expanded = map[string]*sensing.Expanded{}
	}
	for j, it := range items {
		sub := &sensing.Query{Set: it.nav.Target, Parent: &sensing.Parent{Set: query.Set, ID: e.ID, Nav: it.nav.Name}, Opts: it.opts,
			Top: it.top, MaxTop: query.MaxTop, ExpandTop: query.ExpandTop, Budget: query.Budget, View: query.View}
		var p *sensing.Page
		var err error
		if pre[j] != nil {
			p, err = pre[j].page(ctx, tx, sub, i, depth+1)
		} else {
			p, err = s.list(ctx, tx, sub, depth+1)
		}
		switch {
		case errors.Is(err, errNoneFit) && !it.nav.Many:
			return false, nil
		case errors.Is(err, errNoneFit): // an empty collection with a nextLink to all of it
		case err != nil:
			return false, err
		}
		x := &sensing.Expanded{IsMany: it.nav.Many, Count: p.Count}
		if it.nav.Many {
			x.Many = p.Entities
			if x.Many == nil {
				x.Many = []*sensing.Entity{}
			}
			x.Next, x.Top = p.Next, it.top
		} else if len(p.Entities) > 0 {
			x.One = p.Entities[0]
		}
		e.Expanded[it.nav.Name] = x
	}
	return true, nil
}

// queryErr classifies errors of a read query: a bad filter that only the database could see
// (an invalid geometry literal, a string compared with a number) is the client's mistake.
func (s *Entities) queryErr(err error) error {
	var oe *odata.Error
	if errors.As(err, &oe) {
		return err
	}
	return s.eng.QueryErr(err)
}

// PageSQL returns the query for the ids of one page of query and its arguments, as the
// engine runs it, for tests that check the query plan.
func (s *Entities) PageSQL(query *sensing.Query) (string, []any, error) {
	terms, err := s.orderTerms(query.Set, "e", query.Opts.OrderBy)
	if err != nil {
		return "", nil, err
	}
	if len(terms) == 0 {
		terms = rankTerm(query.Parent, "e")
	}
	x, err := s.pageSQL(query, terms, "SELECT e.id")
	if err != nil {
		return "", nil, err
	}
	text, args := s.eng.Dynamic(x.b.String(), x.args)
	return text, args, nil
}
