package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Entities written before migration 0013 belong to the node's organisation once it has run:
// an organisation's key may not change them, the node-wide admin may. The database from
// before is made by undoing 0013 on a fresh one (dropping its columns and its row).
func TestOrganisationsAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	thing := &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "Khanki", "description": "gauge"}, Links: map[string][]*sensing.Entity{
		"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "q", "description": "q",
			"observationType":   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
			"unitOfMeasurement": map[string]any{"name": "cusec", "symbol": "[cft_i]/s", "definition": "q"}}, Links: map[string][]*sensing.Entity{
			"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "text/html", "metadata": "x"}, Links: map[string][]*sensing.Entity{}}},
			"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "Discharge", "definition": "d", "description": "d"}, Links: map[string][]*sensing.Entity{}}},
		}}},
	}}
	if _, err := sqlq.NewEntities(db, nil).Create(ctx, thing); err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"things", "locations", "sensors", "observed_properties", "features_of_interest", "datastreams", "multi_datastreams"} {
		if _, err := raw.Exec(`ALTER TABLE ` + table + ` DROP COLUMN organisation`); err != nil {
			t.Fatalf("drop %s.organisation: %v", table, err)
		}
	}
	if n, err := raw.Exec(`DELETE FROM schema_migrations WHERE version = '0013_organisations'`); err != nil {
		t.Fatal(err)
	} else if c, _ := n.RowsAffected(); c != 1 {
		t.Fatalf("schema_migrations has no row 0013_organisations")
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ents := sqlq.NewEntities(db, nil)
	if ds, _, err := ents.Owned(ctx, auth.NodeOrganisation); err != nil || !slices.Equal(ds, []int64{1}) {
		t.Errorf("Owned(admin) after the upgrade = %v %v, want [1]", ds, err)
	}
	patch := &sensing.Entity{Set: sensing.Things, ID: 1, Props: map[string]any{"description": "changed"}, Links: map[string][]*sensing.Entity{}}
	op := auth.WithPrincipal(ctx, &auth.Principal{KeyID: 2, Organisation: "punjab", Role: auth.Admin})
	if err := ents.Update(op, patch, false); apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(apperr.Message(err), `belongs to organisation "admin"`) {
		t.Errorf("punjab's admin changes a Thing from before the upgrade: %v, want Forbidden", err)
	}
	admin := auth.WithPrincipal(ctx, &auth.Principal{KeyID: 1, Organisation: auth.NodeOrganisation, Role: auth.Admin})
	if err := ents.Update(admin, patch, false); err != nil {
		t.Errorf("the node-wide admin changes it: %v", err)
	}
}
