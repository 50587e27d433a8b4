package postgres_test

import (
	"testing"

	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestIdsInCommitOrder: two processes' stores on one schema give Observation ids in commit
// order (migration 0026: the id reservation's lock is held until the transaction ends).
func TestIdsInCommitOrder(t *testing.T) {
	dsn := testDSNSchema(t)
	a, b := testDBAt(t, dsn), testDBAt(t, dsn)
	storetest.IdsInCommitOrder(t,
		storetest.Stores{Entities: postgres.NewEntities(a, nil), Auth: postgres.NewAuth(a)},
		storetest.Stores{Entities: postgres.NewEntities(b, nil), Auth: postgres.NewAuth(b)})
}
