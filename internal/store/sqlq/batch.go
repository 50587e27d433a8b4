package sqlq

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// Expanded collections read many entities at a time.
//
// `$expand=Observations($top=1;$orderby=phenomenonTime desc)` on a page of Datastreams (the
// latest observation of every datastream, a dashboard's first request) is one page query per
// Datastream: each is served by the (datastream_id, phen_start) index, but 100 of them one after
// the other spend most of their time around the query (a round trip to PostgreSQL, the
// statement's execution set up and its rows handed over by database/sql). A prefetch reads the
// pages of up to batchMaxParents entities with one statement instead: the very page query
// list would run for each entity (pageSQL, with its $filter, $orderby, $skip and LIMIT top+1),
// each in its own subquery, joined with UNION ALL and tagged with the entity's position,
//
//	SELECT x.*, 0 AS b_ FROM (SELECT … WHERE e.datastream_id = ? … ORDER BY … LIMIT ?) x
//	UNION ALL SELECT x.*, 1 FROM (…) x … ORDER BY b_, k0_ DESC, id DESC
//
// so each subquery keeps its index plan (a LATERAL join or a correlated subquery would give
// the planner the choice to lose it), and the outer ORDER BY, on the subqueries' order keys
// (named k0_, k1_, … by pageSQL), gives back each entity's rows in the page's order. The rows
// are then taken by the same pageBuilder as list's, entity after entity in the order expand
// visits them, so the response budget cuts the answer exactly where one query per entity
// would: what differs is only that up to one statement's rows are read ahead.
//
// Only collections without $count and without a nested $expand are read this way (those
// need queries of their own per entity); everything else goes through list.
//
// On SQLite it is off unless Entities.ExpandBatch is set: at 10,000,000 observations the
// latest of every datastream (100) took 14.9 ms this way against 7.7 ms with one cached
// statement per datastream, back to back on the same store (docs/bench.md) — SQLite has no
// round trip to save, and the compound's ORDER BY sorts each subquery's rows.
//
// On PostgreSQL (an engine that is a Lateral) it is always on, in another form. There every
// page query is planned over every monthly partition of observations — about 10 ms each at
// 10,000,000 hourly observations over 11 years (137 partitions), so 1.2 s for the latest of
// 100 datastreams — and a UNION ALL of 64 subqueries would be planned 64 times over. So the
// statement is the page query once, joined LATERAL to the array of the entities' ids,
//
//	SELECT x.*, d_.n_ - 1 AS b_ FROM unnest(?::int8[]) WITH ORDINALITY AS d_(pid_, n_)
//	CROSS JOIN LATERAL (SELECT … WHERE e.datastream_id = d_.pid_ … ORDER BY … LIMIT 2) x
//	ORDER BY d_.n_, x.k0_ DESC, x.id DESC
//
// with its LIMIT written into the text: one text for any number of entities, kept prepared on
// the connection (Lateral.Prepared) and run with a generic plan (Lateral.Generic), which
// PostgreSQL makes once on the connection and then reuses — each datastream an index scan
// backwards from the newest partition (TestLatestOfEachUsesIndex holds the plan; 1.1 ms for
// 100 datastreams at 10 M, against 10 ms of planning alone for each run of an unprepared one).
// Left to itself PostgreSQL would plan the first five runs on each connection anew.

// batchMaxParents is the most entities whose collections one statement reads; batchMaxRows
// bounds the rows it reads ahead (each entity's page is at most top+1 rows).
const (
	batchMaxParents = 64
	batchMaxRows    = 1024
)

// lateral is the engine's Lateral, when it is one.
func (s *Entities) lateral() (Lateral, bool) {
	e := s.eng
	if j, ok := e.(joined); ok {
		e = j.Engine
	}
	l, ok := e.(Lateral)
	return l, ok
}

// batchable reports whether item's collection, expanded on n entities, is read by a prefetch.
func (s *Entities) batchable(it expandItem, n int) bool {
	_, lateral := s.lateral()
	return !s.ExpandEach && (s.ExpandBatch || lateral) && n > 1 && it.nav.Many && it.top >= 1 && it.opts != nil && len(it.opts.Expand) == 0 &&
		(it.opts.Count == nil || !*it.opts.Count)
}

// prefetch reads item's collection for query's entities ents, a statement at a time.
type prefetch struct {
	s     *Entities
	query *sensing.Query
	item  expandItem
	ents  []*sensing.Entity

	start int         // rows[k] is the page of ents[start+k]
	rows  [][]pageRow // the pages read by the last statement

	// the lateral statement (Lateral engines), made at the first read: its text and
	// arguments after the ids' array, and its page query's order terms
	latText  string
	latArgs  []any
	latTerms []orderTerm
}

// page returns the expanded collection of ents[i] (sub is its query), as list(sub) would: it
// reads the pages of ents[i] and those after it with one statement when ents[i]'s is not read
// yet.
func (p *prefetch) page(ctx context.Context, tx Tx, sub *sensing.Query, i, depth int) (*sensing.Page, error) {
	if i < p.start || i >= p.start+len(p.rows) {
		if err := p.read(ctx, tx, i); err != nil {
			return nil, err
		}
	}
	page := &sensing.Page{}
	from := &sensing.Cursor{} // the nextLink of a collection of which nothing fits: all of it
	if sub.Budget.Left() < 1 {
		sub.Budget.Miss() // so that the collections around this one end too
		page.Next = from
		return page, errNoneFit
	}
	pb := &pageBuilder{s: p.s, query: sub, page: page, from: from, top: sub.Top}
	for _, r := range p.rows[i-p.start] {
		if !pb.add(r) {
			break
		}
	}
	return pb.finish(ctx, tx, depth)
}

// statement builds the statement that reads the pages of ents[i:i+k] (statement's comment
// above), and returns it with the order terms of its subqueries.
func (p *prefetch) statement(i, k int) (*q, []orderTerm, error) {
	n := 1
	for n < k {
		n *= 2
	}
	n = min(n, batchMaxParents)
	const a = "e"
	x := &q{}
	var terms []orderTerm
	for b := range n {
		sub := p.sub(i + b)
		if b >= k {
			sub = p.sub(len(p.ents))
		}
		var err error
		terms, err = p.s.orderTerms(sub.Set, a, sub.Opts.OrderBy)
		if err != nil {
			return nil, nil, err
		}
		if len(terms) == 0 {
			terms = rankTerm(sub.Parent, a)
		}
		one, err := p.s.pageSQL(sub, terms, "SELECT "+selectList(sub.Set, a))
		if err != nil {
			return nil, nil, err
		}
		if b > 0 {
			x.add(" UNION ALL ")
		}
		x.add("SELECT x.*, "+fmt.Sprint(b)+" AS b_ FROM ("+one.b.String()+") x", one.args...)
	}
	x.add(" ORDER BY b_")
	for t, term := range terms {
		x.add(fmt.Sprintf(", k%d_", t) + term.dir())
	}
	x.add(", id" + idDir(terms))
	return x, terms, nil
}

// ExpandSQL returns the statement that reads the collection item (e.g.
// "Observations($top=1;$orderby=phenomenonTime desc)") of the entities ids of set at once,
// and its arguments, as the engine runs it, for tests that check the query plan.
func (s *Entities) ExpandSQL(set string, ids []int64, item string) (string, []any, error) {
	o, err := odata.ParseOptions(url.Values{"$expand": {item}})
	if err != nil {
		return "", nil, err
	}
	it := o.Expand[0]
	nav, ok := sensing.Sets[set].NavTo(it.Names()[0])
	if !ok || !nav.Many || it.Options == nil || it.Options.Top == nil {
		return "", nil, fmt.Errorf("ExpandSQL: %s is not a collection of %s with $top", item, set)
	}
	ents := make([]*sensing.Entity, len(ids))
	for i, id := range ids {
		ents[i] = &sensing.Entity{Set: set, ID: id}
	}
	p := &prefetch{s: s, query: &sensing.Query{Set: set}, item: expandItem{nav, it.Options, int(*it.Options.Top)}, ents: ents}
	if l, ok := s.lateral(); ok {
		x, _, err := p.lateral(0, len(ids))
		if err != nil {
			return "", nil, err
		}
		text, args := l.Prepared(x.b.String(), x.args)
		return text, args, nil
	}
	x, _, err := p.statement(0, len(ids))
	if err != nil {
		return "", nil, err
	}
	text, args := s.eng.Dynamic(x.b.String(), x.args)
	return text, args, nil
}

// lateral builds the statement that reads the pages of ents[i:i+k] on a Lateral engine
// (comment above), and returns it with the order terms of its page query.
func (p *prefetch) lateral(i, k int) (*q, []orderTerm, error) {
	if p.latText == "" {
		if err := p.lateralText(); err != nil {
			return nil, nil, err
		}
	}
	ids := make([]int64, k)
	for b := range k {
		ids[b] = p.ents[i+b].ID
	}
	x := &q{}
	x.add(p.latText, append([]any{ids}, p.latArgs...)...)
	return x, p.latTerms, nil
}

// lateralText makes the lateral statement's text, its arguments after the ids' array and its
// order terms, once for the prefetch: they do not depend on the entities. The page query is
// built twice, for parents -1 and -2 (ids no entity has): the arguments where the two differ
// are the parent's id, and stand for d_.pid_ in the statement. A page query whose text
// depends on its parent's id cannot be written this way: an error (a fault of this file).
func (p *prefetch) lateralText() error {
	const a = "e"
	var ones [2]*q
	var terms []orderTerm
	for j, id := range []int64{-1, -2} {
		sub := p.sub(0)
		sub.Parent.ID = id
		var err error
		if terms, err = p.s.orderTerms(sub.Set, a, sub.Opts.OrderBy); err != nil {
			return err
		}
		if len(terms) == 0 {
			terms = rankTerm(sub.Parent, a)
		}
		if ones[j], err = p.s.pageSQLLimit(sub, terms, "SELECT "+selectList(sub.Set, a), true); err != nil {
			return err
		}
	}
	text := ones[0].b.String()
	if text != ones[1].b.String() || len(ones[0].args) != len(ones[1].args) {
		return fmt.Errorf("expand %s: the page query's text depends on its parent", p.item.nav.Name)
	}
	var b strings.Builder
	var args []any
	b.WriteString("SELECT x.*, d_.n_ - 1 AS b_ FROM unnest(?::int8[]) WITH ORDINALITY AS d_(pid_, n_) CROSS JOIN LATERAL (")
	start, n, parents := 0, 0, 0
	Unquoted(text, func(at int, c byte, _ int) {
		if c != '?' {
			return
		}
		x, _ := ones[0].args[n].(int64)
		y, _ := ones[1].args[n].(int64)
		if x == -1 && y == -2 { // the parent's id
			b.WriteString(text[start:at])
			b.WriteString("d_.pid_")
			start = at + 1
			parents++
		} else {
			args = append(args, ones[0].args[n])
		}
		n++
	})
	b.WriteString(text[start:])
	if n != len(ones[0].args) || parents == 0 {
		return fmt.Errorf("expand %s: %d markers for %d arguments, %d of them the parent", p.item.nav.Name, n, len(ones[0].args), parents)
	}
	b.WriteString(") x ORDER BY d_.n_")
	for t, term := range terms {
		b.WriteString(fmt.Sprintf(", x.k%d_", t) + term.dir())
	}
	b.WriteString(", x.id" + idDir(terms))
	p.latText, p.latArgs, p.latTerms = b.String(), args, terms
	return nil
}

// sub is item's query on ents[i] (on a Parent of id 0, which has no entities, for i past the
// end: the padding of a statement).
func (p *prefetch) sub(i int) *sensing.Query {
	var id int64
	if i < len(p.ents) {
		id = p.ents[i].ID
	}
	return &sensing.Query{Set: p.item.nav.Target, Parent: &sensing.Parent{Set: p.query.Set, ID: id, Nav: p.item.nav.Name},
		Opts: p.item.opts, Top: p.item.top, MaxTop: p.query.MaxTop, ExpandTop: p.query.ExpandTop, View: p.query.View}
}

// read reads the pages of ents[i:i+k] with one statement: k is at most batchMaxParents and
// batchMaxRows/(top+1), and the statement has a power of two of subqueries (those past the
// end read nothing), so that few texts are prepared.
func (p *prefetch) read(ctx context.Context, tx Tx, i int) error {
	per := max(1, batchMaxRows/(p.item.top+1)) // the rows read ahead stay within batchMaxRows
	l, lateral := p.s.lateral()
	if !lateral {
		k := min(batchMaxParents, per, len(p.ents)-i)
		x, terms, err := p.statement(i, k)
		if err != nil {
			return err
		}
		text, args := p.s.eng.Dynamic(x.b.String(), x.args)
		return p.scan(ctx, tx, i, k, terms, text, args)
	}
	k := min(per, len(p.ents)-i) // the lateral text does not grow with k
	x, terms, err := p.lateral(i, k)
	if err != nil {
		return err
	}
	text, args := l.Prepared(x.b.String(), x.args)
	if err := l.Generic(ctx, tx, true); err != nil {
		return p.s.queryErr(err)
	}
	err = p.scan(ctx, tx, i, k, terms, text, args)
	if e := l.Generic(ctx, tx, false); err == nil && e != nil {
		err = p.s.queryErr(e)
	}
	return err
}

// scan runs the statement that reads the pages of ents[i:i+k] and keeps its rows.
func (p *prefetch) scan(ctx context.Context, tx Tx, i, k int, terms []orderTerm, text string, args []any) error {
	rows, err := tx.Query(ctx, text, args...)
	if err != nil {
		return p.s.queryErr(err)
	}
	defer rows.Close()
	p.start, p.rows = i, make([][]pageRow, k)
	for rows.Next() {
		var b int64
		r, err := p.s.scanPageRow(p.item.nav.Target, len(terms), rows.Scan, &b)
		if err != nil {
			return err
		}
		if b < 0 || b >= int64(k) {
			return fmt.Errorf("expand %s: a row of subquery %d of %d", p.item.nav.Name, b, k)
		}
		p.rows[b] = append(p.rows[b], r)
	}
	if err := rows.Err(); err != nil {
		return p.s.queryErr(err)
	}
	return nil
}
