package main

import (
	"context"
	"errors"

	"github.com/rabta/rabta/internal/sensing"
)

// openPostgres opens the PostgreSQL store.
func openPostgres(ctx context.Context, dsn string, qc sensing.Checker) (*stores, error) {
	return nil, errors.New("db: the PostgreSQL store is not selectable yet (its alert store is missing); leave db empty for SQLite")
}
