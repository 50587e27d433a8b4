package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
)

// Navigate follows the to-one navigation nav from set(id) and returns the target's id.
func (s *Entities) Navigate(ctx context.Context, set string, id int64, nav string) (string, int64, error) {
	target, from, cond, err := Schema.Join(set, nav, "p", "t")
	if err != nil {
		return "", 0, apperr.Wrap(apperr.Invalid, err, "navigate")
	}
	var tid int64
	q := fmt.Sprintf("SELECT t.id FROM %s p, %s WHERE p.id = ? AND %s", Schema[set].Name, from, cond)
	err = s.db.r.QueryRowContext(ctx, q, id).Scan(&tid)
	if errors.Is(err, sql.ErrNoRows) {
		if err := s.existsRead(ctx, set, id); err != nil {
			return "", 0, err
		}
		return target, 0, apperr.E(apperr.NotFound, "%s(%d) has no %s", set, id, nav)
	}
	if err != nil {
		return "", 0, err
	}
	return target, tid, nil
}

func (s *Entities) existsRead(ctx context.Context, set string, id int64) error {
	var one int
	err := s.db.r.QueryRowContext(ctx, "SELECT 1 FROM "+Schema[set].Name+" WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.E(apperr.NotFound, "%s(%d) does not exist", set, id)
	}
	return err
}
