package sqlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/audit"
)

// Audit keeps the audit log (tables audit_log and audit_heads). It only inserts and reads.
type Audit struct{ eng Engine }

var _ audit.BatchStore = (*Audit)(nil)

// NewAudit returns the audit log's store over eng.
func NewAudit(eng Engine) *Audit { return &Audit{eng: eng} }

// Append implements audit.Store: under the node-wide lock "audit" (every process of the
// node), in one write transaction.
func (s *Audit) Append(ctx context.Context, next func(audit.Link) (audit.Record, audit.Head, error)) error {
	return s.eng.Lock(ctx, "audit", func(ctx context.Context) error {
		return s.eng.Write(ctx, func(tx Tx) error {
			var last audit.Link
			err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last.Seq, &last.Hash)
			if err != nil && !errors.Is(err, ErrNoRows) {
				return fmt.Errorf("audit: read the chain's end: %w", err)
			}
			r, h, err := next(last)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, at_us, kind, actor, subject, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				r.Seq, us(r.Time), r.Kind, r.Actor, r.Subject, string(r.Detail), r.Prev, r.Hash); err != nil {
				return fmt.Errorf("audit: append entry %d: %w", r.Seq, s.eng.WriteErr(err))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (seq, node, hash, at_us, signature) VALUES (?, ?, ?, ?, ?)`,
				h.Seq, h.Node, h.Hash, us(h.Time), h.Signature); err != nil {
				return fmt.Errorf("audit: sign head %d: %w", h.Seq, s.eng.WriteErr(err))
			}
			return nil
		})
	})
}

// AppendBatch implements audit.BatchStore: several records and one signed head (the last
// record's), in one write transaction under the lock "audit".
func (s *Audit) AppendBatch(ctx context.Context, next func(audit.Link) ([]audit.Record, audit.Head, error)) error {
	return s.eng.Lock(ctx, "audit", func(ctx context.Context) error {
		return s.eng.Write(ctx, func(tx Tx) error {
			var last audit.Link
			err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&last.Seq, &last.Hash)
			if err != nil && !errors.Is(err, ErrNoRows) {
				return fmt.Errorf("audit: read the chain's end: %w", err)
			}
			rs, h, err := next(last)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, at_us, kind, actor, subject, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					r.Seq, us(r.Time), r.Kind, r.Actor, r.Subject, string(r.Detail), r.Prev, r.Hash); err != nil {
					return fmt.Errorf("audit: append entry %d: %w", r.Seq, s.eng.WriteErr(err))
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (seq, node, hash, at_us, signature) VALUES (?, ?, ?, ?, ?)`,
				h.Seq, h.Node, h.Hash, us(h.Time), h.Signature); err != nil {
				return fmt.Errorf("audit: sign head %d: %w", h.Seq, s.eng.WriteErr(err))
			}
			return nil
		})
	})
}

// Records implements audit.Store.
func (s *Audit) Records(ctx context.Context, from, to int64, limit int) ([]audit.Record, error) {
	if to <= 0 {
		to = 1<<63 - 1
	}
	var out []audit.Record
	err := readEach(ctx, s.eng, func(r Rows) error {
		var rec audit.Record
		var at int64
		var detail string
		if err := r.Scan(&rec.Seq, &at, &rec.Kind, &rec.Actor, &rec.Subject, &detail, &rec.Prev, &rec.Hash); err != nil {
			return err
		}
		rec.Time, rec.Detail = time.UnixMicro(at).UTC(), []byte(detail)
		out = append(out, rec)
		return nil
	}, `SELECT seq, at_us, kind, actor, subject, detail, prev, hash FROM audit_log WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`, from, to, limit)
	return out, err
}

// Heads implements audit.Store.
func (s *Audit) Heads(ctx context.Context, from, to int64, limit int) ([]audit.Head, error) {
	if to <= 0 {
		to = 1<<63 - 1
	}
	return s.heads(ctx, `SELECT seq, node, hash, at_us, signature FROM audit_heads WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`, from, to, limit)
}

// LastHead implements audit.Store.
func (s *Audit) LastHead(ctx context.Context) (*audit.Head, error) {
	hs, err := s.heads(ctx, `SELECT seq, node, hash, at_us, signature FROM audit_heads ORDER BY seq DESC LIMIT 1`)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	return &hs[0], nil
}

func (s *Audit) heads(ctx context.Context, q string, args ...any) ([]audit.Head, error) {
	var out []audit.Head
	err := readEach(ctx, s.eng, func(r Rows) error {
		var h audit.Head
		var at int64
		if err := r.Scan(&h.Seq, &h.Node, &h.Hash, &at, &h.Signature); err != nil {
			return err
		}
		h.Time = time.UnixMicro(at).UTC()
		out = append(out, h)
		return nil
	}, q, args...)
	return out, err
}
