package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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
	var id int64
	err := a.db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		now := a.db.Now().Unix()
		if _, err := tx.Exec(ctx, `INSERT INTO organisations (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, org, now); err != nil {
			return fmt.Errorf("create organisation: %w", err)
		}
		err := tx.QueryRow(ctx, `INSERT INTO api_keys (organisation_id, role, name, prefix, hash, created_at)
			SELECT id, $1, $2, $3, $4, $5 FROM organisations WHERE name = $6 RETURNING id`, role.String(), name, prefix, hash, now, org).Scan(&id)
		if err != nil {
			return fmt.Errorf("create key: %w", writeErr(err))
		}
		return nil
	})
	return id, err
}

func scanKey(sc pgx.Row) (*auth.Key, error) {
	var k auth.Key
	var role string
	var created int64
	var revoked *int64
	if err := sc.Scan(&k.ID, &k.Organisation, &role, &k.Name, &k.Prefix, &created, &revoked); err != nil {
		return nil, err
	}
	k.Role, _ = auth.ParseRole(role)
	k.CreatedAt = time.Unix(created, 0).UTC()
	if revoked != nil {
		t := time.Unix(*revoked, 0).UTC()
		k.RevokedAt = &t
	}
	return &k, nil
}

const keyCols = `k.id, o.name, k.role, k.name, k.prefix, k.created_at, k.revoked_at FROM api_keys k JOIN organisations o ON o.id = k.organisation_id`

// KeyByHash implements auth.Store.
func (a *Auth) KeyByHash(ctx context.Context, hash []byte) (*auth.Key, error) {
	var k *auth.Key
	err := a.db.conn(ctx, func(c *pgx.Conn) error {
		var err error
		k, err = scanKey(c.QueryRow(ctx, `SELECT `+keyCols+` WHERE k.hash = $1 AND k.revoked_at IS NULL`, hash))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "no such key")
	}
	return k, err
}

// Keys implements auth.Store.
func (a *Auth) Keys(ctx context.Context) ([]auth.Key, error) {
	var out []auth.Key
	err := a.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+keyCols+` ORDER BY k.id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, *k)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeKey implements auth.Store.
func (a *Auth) RevokeKey(ctx context.Context, id int64) error {
	return a.db.conn(ctx, func(c *pgx.Conn) error {
		res, err := c.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, a.db.Now().Unix(), id)
		if err != nil {
			return err
		}
		if res.RowsAffected() == 0 {
			return apperr.E(apperr.NotFound, "no unrevoked key %d", id)
		}
		return nil
	})
}

// CountKeys implements auth.Store.
func (a *Auth) CountKeys(ctx context.Context) (int, error) {
	var n int
	err := a.db.conn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n)
	})
	return n, err
}
