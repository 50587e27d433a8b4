package sqlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// Auth is the organisation and API key store over an Engine.
type Auth struct {
	eng Engine
	// Now is the clock of creation and revocation times.
	Now func() time.Time
}

var _ auth.Store = (*Auth)(nil)

// NewAuth returns the key store over eng.
func NewAuth(eng Engine) *Auth { return &Auth{eng: eng, Now: eng.Clock} }

// CreateKey implements auth.Store.
func (a *Auth) CreateKey(ctx context.Context, org string, role auth.Role, name, prefix string, hash []byte, expires *time.Time) (int64, error) {
	var id int64
	var exp *int64
	if expires != nil {
		e := expires.Unix()
		exp = &e
	}
	err := a.eng.Write(ctx, func(tx Tx) error {
		now := a.Now().Unix()
		if _, err := tx.Exec(ctx, `INSERT INTO organisations (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, org, now); err != nil {
			return fmt.Errorf("create organisation: %w", err)
		}
		// a key an organisation's admin creates is held by that admin's holder (four eyes)
		var heldBy *int64
		if p := auth.FromContext(ctx); p != nil && p.KeyID > 0 && !p.NodeAdmin() {
			var h int64
			if err := tx.QueryRow(ctx, `SELECT COALESCE(held_by, id) FROM api_keys WHERE id = ?`, p.KeyID).Scan(&h); err != nil {
				return fmt.Errorf("create key: the creating key %d: %w", p.KeyID, err)
			}
			heldBy = &h
		}
		err := tx.QueryRow(ctx, `INSERT INTO api_keys (organisation_id, role, name, prefix, hash, created_at, expires_at, held_by)
			SELECT id, ?, ?, ?, ?, ?, ?, ? FROM organisations WHERE name = ? RETURNING id`, role.String(), name, prefix, hash, now, exp, heldBy, org).Scan(&id)
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		return nil
	})
	return id, a.eng.WriteErr(err)
}

func scanKey(sc Row) (*auth.Key, error) {
	var k auth.Key
	var role string
	var created int64
	var revoked, expires, heldBy *int64
	if err := sc.Scan(&k.ID, &k.Organisation, &role, &k.Name, &k.Prefix, &created, &revoked, &expires, &heldBy); err != nil {
		return nil, err
	}
	k.Role, _ = auth.ParseRole(role)
	k.CreatedAt = time.Unix(created, 0).UTC()
	k.RevokedAt, k.ExpiresAt = unixTime(revoked), unixTime(expires)
	if heldBy != nil {
		k.HeldBy = *heldBy
	}
	return &k, nil
}

// unixTime is a nullable time in Unix seconds.
func unixTime(s *int64) *time.Time {
	if s == nil {
		return nil
	}
	t := time.Unix(*s, 0).UTC()
	return &t
}

const keyCols = `k.id, o.name, k.role, k.name, k.prefix, k.created_at, k.revoked_at, k.expires_at, k.held_by FROM api_keys k JOIN organisations o ON o.id = k.organisation_id`

// validKey is the condition of a key neither revoked nor expired at the time given as its
// one parameter (Unix seconds): a key is valid up to, not at, its expires_at.
const validKey = `k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)`

// KeyByHash implements auth.Store: the key is looked up by its unique hash, then checked to
// be valid at the store's clock (Now).
func (a *Auth) KeyByHash(ctx context.Context, hash []byte) (*auth.Key, error) {
	var k *auth.Key
	ctx = Short(ctx) // one row by a unique index, on every request
	err := a.eng.Do(ctx, func(tx Tx) (err error) {
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyCols+` WHERE k.hash = ? AND `+validKey, hash, a.Now().Unix()))
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "no such key")
	}
	return k, err
}

// KeyByID implements auth.Store.
func (a *Auth) KeyByID(ctx context.Context, id int64) (*auth.Key, error) {
	var k *auth.Key
	err := a.eng.Do(ctx, func(tx Tx) (err error) {
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyCols+` WHERE k.id = ?`, id))
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "no key %d", id)
	}
	return k, err
}

// Keys implements auth.Store.
func (a *Auth) Keys(ctx context.Context) ([]auth.Key, error) {
	var out []auth.Key
	err := readEach(ctx, a.eng, func(r Rows) error {
		k, err := scanKey(r)
		if err == nil {
			out = append(out, *k)
		}
		return err
	}, `SELECT `+keyCols+` ORDER BY k.id`)
	return out, err
}

// RevokeKey implements auth.Store.
func (a *Auth) RevokeKey(ctx context.Context, id int64) error {
	return a.eng.Write(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, a.Now().Unix(), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "no unrevoked key %d", id)
		}
		return nil
	})
}

// CountKeys implements auth.Store.
func (a *Auth) CountKeys(ctx context.Context) (int, error) {
	var n int
	err := readRow(ctx, a.eng, `SELECT count(*) FROM api_keys k WHERE `+validKey, []any{a.Now().Unix()}, &n)
	return n, err
}
