package auth

import (
	"context"
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

func TestOwns(t *testing.T) {
	nodeAdmin := &Principal{KeyID: 1, Organisation: NodeOrganisation, Role: Admin}
	orgAdmin := &Principal{KeyID: 2, Organisation: "pdma-punjab", Role: Admin}
	operator := &Principal{KeyID: 3, Organisation: "pdma-punjab", Role: Operator}
	nodeOperator := &Principal{KeyID: 4, Organisation: NodeOrganisation, Role: Operator}
	cases := []struct {
		p     *Principal
		owner string
		want  bool
	}{
		{nodeAdmin, "pdma-punjab", true},
		{nodeAdmin, "", true},
		{orgAdmin, "pdma-punjab", true},
		{orgAdmin, "ndma", false},
		{orgAdmin, "", false},
		{operator, "pdma-punjab", true},
		{operator, "ndma", false},
		{nodeOperator, "pdma-punjab", false},
		{nodeOperator, NodeOrganisation, true},
		{nil, "pdma-punjab", false},
	}
	for _, c := range cases {
		if got := c.p.Owns(c.owner); got != c.want {
			t.Errorf("%+v.Owns(%q) = %v, want %v", c.p, c.owner, got, c.want)
		}
	}
	ctx := WithPrincipal(context.Background(), operator)
	if err := RequireOwner(ctx, Operator, "pdma-punjab", "Thing 1"); err != nil {
		t.Errorf("own organisation: %v", err)
	}
	err := RequireOwner(ctx, Operator, "ndma", "Thing 2")
	if apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(err.Error(), `Thing 2 belongs to organisation "ndma"`) {
		t.Errorf("other organisation: %v", err)
	}
	if err := RequireOwner(ctx, Approver, "pdma-punjab", "Alert 3"); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("role too weak: %v", err)
	}
	if err := RequireOwner(context.Background(), Viewer, "pdma-punjab", "Thing 1"); apperr.KindOf(err) != apperr.Unauthorized {
		t.Errorf("anonymous: %v", err)
	}
}
