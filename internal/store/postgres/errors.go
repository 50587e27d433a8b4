package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rabta/rabta/internal/apperr"
)

// writeErr gives the errors PostgreSQL raises for a write the kind the client should see:
// the SQLite store checks most of these first, PostgreSQL's constraints catch the rest.
func writeErr(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return apperr.Wrap(apperr.Conflict, err, "already exists")
	case "23503": // foreign_key_violation
		return apperr.Wrap(apperr.NotFound, err, "a linked entity does not exist")
	case "23502", "23514": // not_null_violation, check_violation
		if isNoPartition(err) {
			return err
		}
		return apperr.Wrap(apperr.Invalid, err, "invalid value")
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return apperr.Wrap(apperr.Unavailable, err, "conflicting concurrent write; try again")
	}
	if len(pe.Code) == 5 && pe.Code[:2] == "22" { // data exception
		return apperr.Wrap(apperr.Invalid, err, "invalid value")
	}
	return err
}
