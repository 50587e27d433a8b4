package postgres

import (
	"context"
	"testing"

	"github.com/rabta/rabta/internal/store/storetest"
)

// A store made before migration 0027 (what readers outside an alert's organisation see of
// it) fills it in for the alerts already there (storetest.AlertsShownFilled).
func TestMigrateToAlertsShown(t *testing.T) {
	ctx := context.Background()
	dsn, exec, _ := storeBefore(t, "_alerts_shown")
	storetest.AlertsBeforeShown(exec)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	storetest.AlertsShownFilled(t, NewAlerts(db))
}
