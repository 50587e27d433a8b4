package storetest

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// testKeyExpiry: a key with an expiry is found by its hash up to, not at, that second, by the
// store's clock; after it, as after a revocation, KeyByHash answers NotFound (so that HTTP
// refuses it at once and live bus sessions checked through it end), while KeyByID and Keys
// still show it with its expiry; CountKeys counts only valid keys.
func testKeyExpiry(t *testing.T, s Stores) {
	a := s.Auth
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.SetNow(func() time.Time { return now })
	exp := now.Add(time.Hour)
	key, id, err := auth.CreateUntil(ctx(), a, "pdma", auth.Operator, "logger", exp.Add(400*time.Millisecond)) // kept to the second
	if err != nil {
		t.Fatal(err)
	}
	forever, foreverID, err := auth.Create(ctx(), a, "pdma", auth.Viewer, "forever")
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.KeyByHash(ctx(), auth.Hash(key))
	if err != nil || k.ID != id || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || k.ExpiresAt.Location() != time.UTC {
		t.Fatalf("KeyByHash before expiry: %+v %v", k, err)
	}
	if k.State(now) != auth.KeyActive {
		t.Errorf("state before expiry: %s", k.State(now))
	}
	if n, err := a.CountKeys(ctx()); err != nil || n != 2 {
		t.Errorf("CountKeys before expiry: %d %v", n, err)
	}
	for _, c := range []struct {
		at    time.Time
		valid bool
	}{
		{exp.Add(-time.Second), true},
		{exp, false}, // valid up to, not at
		{exp.Add(time.Second), false},
		{exp.Add(24 * 365 * time.Hour), false},
	} {
		now = c.at
		_, err := a.KeyByHash(ctx(), auth.Hash(key))
		if c.valid && err != nil || !c.valid && kind(err) != apperr.NotFound {
			t.Errorf("at expiry%+v: KeyByHash %v, want valid=%v", c.at.Sub(exp), err, c.valid)
		}
		if _, err := a.KeyByHash(ctx(), auth.Hash(forever)); err != nil {
			t.Errorf("at expiry%+v: a key without expiry: %v", c.at.Sub(exp), err)
		}
	}
	if n, err := a.CountKeys(ctx()); err != nil || n != 1 {
		t.Errorf("CountKeys after expiry: %d %v, want 1", n, err)
	}
	k, err = a.KeyByID(ctx(), id)
	if err != nil || k.ID != id || k.Name != "logger" || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || k.RevokedAt != nil || k.State(now) != auth.KeyExpired {
		t.Errorf("KeyByID of an expired key: %+v %v", k, err)
	}
	if _, err := a.KeyByID(ctx(), 999999); kind(err) != apperr.NotFound {
		t.Errorf("KeyByID unknown: %v", err)
	}
	// revoked: KeyByID still shows it, with both times
	if err := a.RevokeKey(ctx(), foreverID); err != nil {
		t.Fatal(err)
	}
	k, err = a.KeyByID(ctx(), foreverID)
	if err != nil || k.RevokedAt == nil || !k.RevokedAt.Equal(now) || k.ExpiresAt != nil || k.State(now) != auth.KeyRevoked {
		t.Errorf("KeyByID of a revoked key: %+v %v", k, err)
	}
	keys, err := a.Keys(ctx())
	if err != nil || len(keys) != 2 || keys[0].ExpiresAt == nil || keys[1].ExpiresAt != nil {
		t.Errorf("Keys: %+v %v", keys, err)
	}
	if n, _ := a.CountKeys(ctx()); n != 0 {
		t.Errorf("CountKeys with one expired and one revoked key: %d", n)
	}
	// an expired key cannot be stored again under the same hash: it stays refused
	if _, err := auth.Import(ctx(), a, auth.NodeOrganisation, auth.Admin, "bootstrap", key); kind(err) != apperr.Conflict {
		t.Errorf("importing an expired key: %v, want Conflict", err)
	}
}
