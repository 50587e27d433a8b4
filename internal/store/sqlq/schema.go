package sqlq

import (
	"fmt"

	"github.com/rabta/rabta/internal/sensing"
)

// Column maps one entity property to SQL.
type Column struct {
	// Col is the column name on the entity's table.
	Col string
	// Kind is the property's type.
	Kind sensing.Kind
	// End is, for KindInterval, the column with the interval's end (equal to the start for an instant).
	// Times in Time/Interval columns are stored as INTEGER microseconds since the Unix epoch, UTC.
	End string
	// Text is, for KindResult, the column holding a non-numeric result as JSON text; Col holds
	// numeric results as REAL (NULL when the result is not a number).
	Text string
	// NotNull says the column (and End) is NOT NULL in the DDL. ORDER BY then leaves out the
	// NULLS FIRST/LAST it otherwise spells out (to sort nulls as SQLite does on both engines):
	// without it PostgreSQL can walk an index backwards for DESC, with it PostgreSQL cannot and
	// reads and sorts every row of the datastream instead.
	NotNull bool
}

// Link maps a navigation property to SQL. Exactly one of LocalFK, RemoteFK and Via is set.
type Link struct {
	Target string // entity set name
	Many   bool
	// LocalFK is the column on this entity's table that holds the target's id (to-one).
	LocalFK string
	// RemoteFK is the column on the target's table that holds this entity's id (to-many).
	RemoteFK string
	// Via is a link table for many-to-many navigation.
	Via *Via
}

// Via is a many-to-many link table.
type Via struct {
	Table     string
	LocalCol  string // holds this entity's id
	RemoteCol string // holds the target's id
	// Rank, when set, is the column that orders the targets of one entity (0, 1, …): a
	// MultiDatastream's ObservedProperties, in the order of its unitOfMeasurements. Listing
	// them through this link orders by it unless $orderby says otherwise.
	Rank string
}

// Table maps one entity set to its table.
type Table struct {
	Name    string            // table name; the primary key column is always "id"
	Columns map[string]Column // by SensorThings property name
	Links   map[string]Link   // by navigation property name
}

// Schema maps every entity set (by name, e.g. "Things") to its table.
type Schema map[string]*Table

// Join returns the SQL needed to go from an entity of set (table alias from) along nav to the
// target entities (table alias to): the target table expression for FROM and a condition tying
// the two aliases together, e.g. ("observations o", "o.datastream_id = d.id").
func (s Schema) Join(set, nav, from, to string) (target string, fromSQL, cond string, err error) {
	t, ok := s[set]
	if !ok {
		return "", "", "", fmt.Errorf("unknown entity set %q", set)
	}
	l, ok := t.Links[nav]
	if !ok {
		return "", "", "", fmt.Errorf("%s has no navigation property %q", set, nav)
	}
	tt := s[l.Target]
	switch {
	case l.LocalFK != "":
		return l.Target, tt.Name + " " + to, fmt.Sprintf("%s.id = %s.%s", to, from, l.LocalFK), nil
	case l.RemoteFK != "":
		return l.Target, tt.Name + " " + to, fmt.Sprintf("%s.%s = %s.id", to, l.RemoteFK, from), nil
	default:
		v := l.Via
		return l.Target, tt.Name + " " + to, fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s.%s = %s.id AND %s.%s = %s.id)",
			v.Table, v.Table, v.LocalCol, from, v.Table, v.RemoteCol, to), nil
	}
}
