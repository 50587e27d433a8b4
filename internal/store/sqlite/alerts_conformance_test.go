package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/warning"
)

// TestAlertsConformance runs the alert store's suite on a fresh SQLite file per test.
func TestAlertsConformance(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) (alert.Store, warning.Store) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		a := sqlite.NewAlerts(db)
		return a, a
	})
}

// TestDatastreamLabel: the station (Thing) name and the unit's symbol.
func TestDatastreamLabel(t *testing.T) {
	storetest.RunDatastreamLabel(t, func(t *testing.T) storetest.Stores { return stores(t) })
}
