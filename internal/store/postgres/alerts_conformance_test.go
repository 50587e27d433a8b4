package postgres_test

import (
	"testing"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/storetest"
	"github.com/rabta/rabta/internal/warning"
)

// TestAlertsConformance runs the alert store's suite, each test in a fresh schema.
func TestAlertsConformance(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) (alert.Store, warning.Store) {
		a := postgres.NewAlerts(testDB(t))
		return a, a
	})
}

// TestDatastreamLabel: the station (Thing) name and the unit's symbol.
func TestDatastreamLabel(t *testing.T) {
	storetest.RunDatastreamLabel(t, func(t *testing.T) storetest.Stores { return stores(t) })
}
