package sqlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
)

// Navigate follows the to-one navigation nav from set(id) and returns the target's id.
func (s *Entities) Navigate(ctx context.Context, set string, id int64, nav string) (string, int64, error) {
	target, from, cond, err := Sensing.Join(set, nav, "p", "t")
	if err != nil {
		return "", 0, apperr.Wrap(apperr.Invalid, err, "%s has no navigation property %s", set, nav)
	}
	var tid int64
	q := fmt.Sprintf("SELECT t.id FROM %s p, %s WHERE p.id = ? AND %s", Sensing[set].Name, from, cond)
	err = s.eng.Read(ctx, func(tx Tx) error {
		err := tx.QueryRow(ctx, q, id).Scan(&tid)
		if errors.Is(err, ErrNoRows) {
			if err := s.exists(ctx, tx, set, id); err != nil {
				return err
			}
			return apperr.E(apperr.NotFound, "%s(%d) has no %s", set, id, nav)
		}
		return err
	})
	if err != nil && apperr.KindOf(err) != apperr.NotFound {
		return "", 0, err
	}
	return target, tid, err
}
