package sqlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/ingest"
)

// Idempotency keeps the answers to writes made with an Idempotency-Key (table
// idempotency_keys) over an Engine. Each method is one or two single statements, atomic on
// both engines without an explicit transaction: of two concurrent claims of one key, exactly
// one inserts the row or takes over its lapsed lease.
type Idempotency struct{ eng Engine }

var _ ingest.Idempotency = (*Idempotency)(nil)

// NewIdempotency returns the Idempotency-Key store over eng.
func NewIdempotency(eng Engine) *Idempotency { return &Idempotency{eng: eng} }

// Claim implements ingest.Idempotency.
func (s *Idempotency) Claim(ctx context.Context, apiKey int64, key string, fp []byte, now time.Time, lease, window time.Duration) (bool, *ingest.Answer, error) {
	us := now.UnixMicro()
	var claimed bool
	var prev *ingest.Answer
	err := s.eng.Write(ctx, func(tx Tx) error {
		// an expired key is forgotten first: it may be used again
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ? AND expires_us <= ?`, apiKey, key, us); err != nil {
			return fmt.Errorf("expire idempotency key: %w", err)
		}
		n, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, lease_us, expires_us) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (api_key_id, idem_key) DO NOTHING`, apiKey, key, fp, us+lease.Microseconds(), us+window.Microseconds())
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if n == 1 {
			claimed = true
			return nil
		}
		// a claim whose lease lapsed (its request died with the node) is taken over, by the
		// same request only
		n, err = tx.Exec(ctx, `UPDATE idempotency_keys SET lease_us = ? WHERE api_key_id = ? AND idem_key = ? AND status = 0 AND lease_us <= ? AND fingerprint = ?`,
			us+lease.Microseconds(), apiKey, key, us, fp)
		if err != nil {
			return fmt.Errorf("take over idempotency key: %w", err)
		}
		if n == 1 {
			claimed = true
			return nil
		}
		var a ingest.Answer
		var status int64
		if err := tx.QueryRow(ctx, `SELECT fingerprint, status, content_type, location, body FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?`,
			apiKey, key).Scan(&a.Fingerprint, &status, &a.ContentType, &a.Location, &a.Body); err != nil {
			return fmt.Errorf("read idempotency key: %w", err)
		}
		a.Status = int(status)
		prev = &a
		return nil
	})
	if err != nil {
		return false, nil, s.eng.WriteErr(err)
	}
	return claimed, prev, nil
}

// Save implements ingest.Idempotency.
func (s *Idempotency) Save(ctx context.Context, apiKey int64, key string, a *ingest.Answer) error {
	if a.Status <= 0 {
		return errors.New("save idempotency key: no status")
	}
	body := a.Body
	if body == nil {
		body = []byte{}
	}
	err := s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = ?, content_type = ?, location = ?, body = ? WHERE api_key_id = ? AND idem_key = ?`,
			int64(a.Status), a.ContentType, a.Location, body, apiKey, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("save idempotency key: %w", s.eng.WriteErr(err))
	}
	return nil
}

// Release implements ingest.Idempotency.
func (s *Idempotency) Release(ctx context.Context, apiKey int64, key string) error {
	err := s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ? AND status = 0`, apiKey, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", s.eng.WriteErr(err))
	}
	return nil
}

// Purge implements ingest.Idempotency.
func (s *Idempotency) Purge(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) (err error) {
		n, err = tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_us <= ?`, now.UnixMicro())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", s.eng.WriteErr(err))
	}
	return n, nil
}
