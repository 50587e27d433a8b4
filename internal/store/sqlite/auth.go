package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// Auth is the organisation and API key store.
type Auth struct{ db *DB }

var _ auth.Store = (*Auth)(nil)

// NewAuth returns the key store on db.
func NewAuth(db *DB) *Auth { return &Auth{db: db} }

// CreateKey implements auth.Store.
func (a *Auth) CreateKey(ctx context.Context, org string, role auth.Role, name, prefix string, hash []byte) (int64, error) {
	tx, err := a.db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	now := a.db.Now().Unix()
	if _, err := tx.ExecContext(ctx, `INSERT INTO organisations (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, org, now); err != nil {
		return 0, fmt.Errorf("create organisation: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (organisation_id, role, name, prefix, hash, created_at)
		SELECT id, ?, ?, ?, ?, ? FROM organisations WHERE name = ?`, role.String(), name, prefix, hash, now, org)
	if err != nil {
		return 0, fmt.Errorf("create key: %w", err)
	}
	id, _ := res.LastInsertId()
	return id, tx.Commit()
}

func scanKey(sc interface{ Scan(...any) error }) (*auth.Key, error) {
	var k auth.Key
	var role string
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&k.ID, &k.Organisation, &role, &k.Name, &k.Prefix, &created, &revoked); err != nil {
		return nil, err
	}
	k.Role, _ = auth.ParseRole(role)
	k.CreatedAt = time.Unix(created, 0).UTC()
	if revoked.Valid {
		t := time.Unix(revoked.Int64, 0).UTC()
		k.RevokedAt = &t
	}
	return &k, nil
}

const keyCols = `k.id, o.name, k.role, k.name, k.prefix, k.created_at, k.revoked_at FROM api_keys k JOIN organisations o ON o.id = k.organisation_id`

// KeyByHash implements auth.Store.
func (a *Auth) KeyByHash(ctx context.Context, hash []byte) (*auth.Key, error) {
	k, err := scanKey(a.db.r.QueryRowContext(ctx, `SELECT `+keyCols+` WHERE k.hash = ? AND k.revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "no such key")
	}
	return k, err
}

// Keys implements auth.Store.
func (a *Auth) Keys(ctx context.Context) ([]auth.Key, error) {
	rows, err := a.db.r.QueryContext(ctx, `SELECT `+keyCols+` ORDER BY k.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// RevokeKey implements auth.Store.
func (a *Auth) RevokeKey(ctx context.Context, id int64) error {
	res, err := a.db.w.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, a.db.Now().Unix(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.E(apperr.NotFound, "no unrevoked key %d", id)
	}
	return nil
}

// CountKeys implements auth.Store.
func (a *Auth) CountKeys(ctx context.Context) (int, error) {
	var n int
	err := a.db.w.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n)
	return n, err
}
