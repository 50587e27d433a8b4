package sqlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// DatastreamByName resolves a datastream given by id ("12") or by its name. Names need not be
// unique: when several Datastreams have it, those the node computes (derived, forecasts:
// computed) are left out, and if more than one is left the Conflict lists them, to be named by id.
func (s *Entities) DatastreamByName(ctx context.Context, ref string) (int64, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if err := s.eng.Read(ctx, func(tx Tx) error { return s.exists(ctx, tx, "Datastreams", id) }); err != nil {
			return 0, err
		}
		return id, nil
	}
	c, err := s.candidates(ctx, `SELECT id, name, properties FROM datastreams WHERE name = ? ORDER BY id LIMIT `+maxCandidates, ref)
	if err != nil {
		return 0, err
	}
	switch c = measured(c); len(c) {
	case 0:
		return 0, apperr.E(apperr.NotFound, "no datastream %q", ref)
	case 1:
		return c[0].id, nil
	}
	return 0, apperr.E(apperr.Conflict, "more than one datastream named %q: %s; use the id", ref, listCandidates(c, false))
}

// DatastreamByPDMA resolves the discharge datastream of the PDMA gauge named station: the
// datastream whose Thing has properties.pdmaName = station and whose ObservedProperty is
// "Discharge", leaving out those the node computes (a gauge's forecast Datastream is on the
// same Thing and observes the same property; a derived one takes no imported values). When
// more than one is left, the Conflict lists them and says how to choose: the PDMA layout has
// no column that could, the generic layout's datastream column does.
func (s *Entities) DatastreamByPDMA(ctx context.Context, station string) (int64, error) {
	// the Thing's condition compiled as a $filter is, so that both dialects spell the JSON access
	f, err := odata.ParseFilter("properties/pdmaName eq '" + strings.ReplaceAll(station, "'", "''") + "'")
	if err != nil {
		return 0, apperr.Wrap(apperr.Invalid, err, "PDMA station %q", station)
	}
	cond, args, err := s.q.Where(sensing.Things, "t", f)
	if err != nil {
		return 0, err
	}
	q, args := s.eng.Dynamic(`SELECT d.id, d.name, d.properties FROM datastreams d JOIN things t ON t.id = d.thing_id
		JOIN observed_properties o ON o.id = d.observed_property_id
		WHERE `+cond+` AND o.name = 'Discharge' ORDER BY d.id LIMIT `+maxCandidates, args)
	all, err := s.candidates(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	c := measuredOnly(all)
	switch {
	case len(all) == 0:
		return 0, apperr.E(apperr.NotFound, "no datastream for PDMA station %q", station)
	case len(c) == 0:
		return 0, apperr.E(apperr.Invalid, "PDMA station %q has no measured discharge datastream, only ones the node computes (%s)", station, listCandidates(all, true))
	case len(c) == 1:
		return c[0].id, nil
	}
	return 0, apperr.E(apperr.Conflict, "more than one discharge datastream for PDMA station %q: %s; the PDMA layout cannot choose between them: "+
		"import these rows in the generic layout (datastream,phenomenonTime,result,resultTime,parameters) with the id in the datastream column", station, listCandidates(c, true))
}

// maxCandidates bounds the Datastreams one name may resolve to that are read (and listed in a
// Conflict).
const maxCandidates = "11"

// candidate is a Datastream a name may resolve to.
type candidate struct {
	id       int64
	name     string
	computed string // "derived" or "forecast": the node computes its values; "" measured
}

func (s *Entities) candidates(ctx context.Context, q string, args ...any) ([]candidate, error) {
	var out []candidate
	err := readEach(ctx, s.eng, func(r Rows) error {
		var c candidate
		var props *string
		if err := r.Scan(&c.id, &c.name, &props); err != nil {
			return err
		}
		if props != nil {
			switch p := []byte(*props); {
			case bytes.Contains(p, []byte(`"derivedFrom"`)):
				c.computed = "derived"
			case forecasting.IsForecast(p):
				c.computed = "forecast"
			}
		}
		out = append(out, c)
		return nil
	}, q, args...)
	return out, err
}

// measured returns c without the Datastreams the node computes when c has more than one
// Datastream (a single one is the one named, whatever it is: ingest says why it may be refused).
func measured(c []candidate) []candidate {
	if len(c) < 2 {
		return c
	}
	return measuredOnly(c)
}

// measuredOnly returns c without the Datastreams the node computes.
func measuredOnly(c []candidate) []candidate {
	var out []candidate
	for _, x := range c {
		if x.computed == "" {
			out = append(out, x)
		}
	}
	return out
}

// listCandidates says which Datastreams c are: Datastream(3), … with names, Datastream(3)
// "Discharge at Khanki", … and whether the node computes them.
func listCandidates(c []candidate, names bool) string {
	var b strings.Builder
	for i, x := range c {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 9 {
			b.WriteString("…")
			break
		}
		fmt.Fprintf(&b, "Datastream(%d)", x.id)
		if !names {
			continue
		}
		fmt.Fprintf(&b, " %q", x.name)
		if x.computed != "" {
			b.WriteString(" (" + x.computed + ")")
		}
	}
	return b.String()
}

// LastSeen returns each datastream's newest phenomenon time (datastreams with observations only).
func (s *Entities) LastSeen(ctx context.Context) (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id, t int64
		if err := r.Scan(&id, &t); err != nil {
			return err
		}
		out[id] = time.UnixMicro(t).UTC()
		return nil
	}, `SELECT id, phenomenon_time_end FROM datastreams WHERE phenomenon_time_end IS NOT NULL`)
	return out, err
}

// CountThings counts Things (to tell a fresh node from a seeded one).
func (s *Entities) CountThings(ctx context.Context) (int64, error) {
	var n int64
	err := readRow(ctx, s.eng, `SELECT count(*) FROM things`, nil, &n)
	return n, err
}

// DatastreamInfos returns what QC needs to know of every datastream (without recent values).
func (s *Entities) DatastreamInfos(ctx context.Context) ([]sensing.DatastreamInfo, error) {
	var out []sensing.DatastreamInfo
	err := readEach(ctx, s.eng, func(r Rows) error {
		var ds sensing.DatastreamInfo
		var uom, props *string
		if err := r.Scan(&ds.ID, &ds.ThingID, &ds.ObservationType, &uom, &props, &ds.ObservedPropertyName, &ds.ObservedPropertyDef); err != nil {
			return err
		}
		if uom != nil {
			ds.UnitSymbol = unitSymbol(*uom)
		}
		if props != nil {
			ds.Properties = []byte(*props)
		}
		out = append(out, ds)
		return nil
	}, `SELECT d.id, d.thing_id, d.observation_type, d.unit_of_measurement, d.properties, o.name, o.definition
		FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id ORDER BY d.id`)
	return out, err
}

// DatastreamLabel implements alert.Labeler: the station (Thing) name and unit symbol.
func (s *Entities) DatastreamLabel(ctx context.Context, id int64) (string, string, error) {
	var name, uom string
	err := readRow(ctx, s.eng, `SELECT t.name, d.unit_of_measurement FROM datastreams d JOIN things t ON t.id = d.thing_id WHERE d.id = ?`,
		[]any{id}, &name, &uom)
	if errors.Is(err, ErrNoRows) {
		return "", "", apperr.E(apperr.NotFound, "Datastream(%d) does not exist", id)
	}
	if err != nil {
		return "", "", err
	}
	return name, unitSymbol(uom), nil
}
