package sqlq

import (
	"context"
	"fmt"
	"net/url"

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
// It is off unless Entities.ExpandBatch is set: at 10,000,000 observations on SQLite the
// latest of every datastream (100) took 14.9 ms this way against 7.7 ms with one cached
// statement per datastream, back to back on the same store (docs/bench.md) — SQLite has no
// round trip to save, and the compound's ORDER BY sorts each subquery's rows. On PostgreSQL,
// where each of the 100 queries is a round trip and is planned over every partition, it is
// not measured yet.

// batchMaxParents is the most entities whose collections one statement reads; batchMaxRows
// bounds the rows it reads ahead (each entity's page is at most top+1 rows).
const (
	batchMaxParents = 64
	batchMaxRows    = 1024
)

// batchable reports whether item's collection, expanded on n entities, is read by a prefetch.
func (s *Entities) batchable(it expandItem, n int) bool {
	return s.ExpandBatch && n > 1 && it.nav.Many && it.top >= 1 && it.opts != nil && len(it.opts.Expand) == 0 &&
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
	x, _, err := p.statement(0, len(ids))
	if err != nil {
		return "", nil, err
	}
	text, args := s.eng.Dynamic(x.b.String(), x.args)
	return text, args, nil
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
	k := min(batchMaxParents, max(1, batchMaxRows/(p.item.top+1)), len(p.ents)-i)
	x, terms, err := p.statement(i, k)
	if err != nil {
		return err
	}
	text, args := p.s.eng.Dynamic(x.b.String(), x.args)
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
