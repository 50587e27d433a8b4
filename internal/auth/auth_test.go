package auth

import (
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
)

func TestRoles(t *testing.T) {
	for _, s := range []string{"viewer", "Operator", " approver ", "ADMIN"} {
		r, err := ParseRole(s)
		if err != nil || !strings.EqualFold(r.String(), strings.TrimSpace(s)) {
			t.Errorf("%q: %v %v", s, r, err)
		}
	}
	if _, err := ParseRole("root"); err == nil || apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("root: %v", err)
	}
	if !(Viewer < Operator && Operator < Approver && Approver < Admin) {
		t.Error("roles are not ordered")
	}
}

func TestKeys(t *testing.T) {
	a, pa := NewKey()
	b, _ := NewKey()
	if a == b || !strings.HasPrefix(a, "rbt_"+pa+"_") || len(a) < 40 {
		t.Errorf("keys %q %q", a, b)
	}
	if string(Hash(a)) == string(Hash(b)) || len(Hash(a)) != 32 {
		t.Error("hashes")
	}
	if prefixOf("rbt_abcd_xyz") != "abcd" || prefixOf("something-else") != "" {
		t.Error("prefixOf")
	}
}
