package apperr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/rule"
)

// driverErr stands for a database driver's error: its text must never reach a user.
type driverErr struct{}

func (driverErr) Error() string {
	return `ERROR: insert violates foreign key constraint "observations_foi_id_fkey" (SQLSTATE 23503)`
}

func TestMessage(t *testing.T) {
	parse := errors.New(`invalid time "x": missing offset`)
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"kind and message", apperr.E(apperr.NotFound, "Things(7) does not exist"), "Things(7) does not exist"},
		{"a driver's cause is hidden", apperr.Wrap(apperr.NotFound, driverErr{}, "a linked entity does not exist"), "a linked entity does not exist"},
		{"context above the boundary is not shown", fmt.Errorf("create: %w", apperr.Wrap(apperr.Conflict, driverErr{}, "already exists")), "already exists"},
		{"a plain cause is hidden", apperr.Wrap(apperr.Invalid, parse, "Observation.phenomenonTime"), "Observation.phenomenonTime"},
		{"a cause marked Shown is shown", apperr.Wrap(apperr.Invalid, apperr.Shown(parse), "Observation.phenomenonTime"), `Observation.phenomenonTime: invalid time "x": missing offset`},
		{"a nested apperr", apperr.Wrap(apperr.Invalid, fmt.Errorf("load: %w", apperr.E(apperr.Invalid, "datastream 3 is read twice")), "rule r1"), "rule r1: datastream 3 is read twice"},
		{"a nested apperr with a hidden cause", apperr.Wrap(apperr.Invalid, apperr.Wrap(apperr.Invalid, driverErr{}, "invalid value"), "Thing"), "Thing: invalid value"},
		{"an odata error with its position", apperr.Wrap(apperr.Invalid, &odata.Error{Option: "$filter", Pos: 7, Msg: "expected an operand"}, ""), "$filter: position 7: expected an operand"},
		{"cap errors", apperr.Wrap(apperr.Invalid, cap.Errors{{Path: "alert/sent", Msg: "missing", Kind: cap.ErrSchema}}, "not verified"), "not verified: cap: alert/sent: missing"},
		{"rule errors", apperr.Wrap(apperr.Invalid, rule.ErrorList{{Line: 3, Col: 5, Path: "rules[0].id", Msg: "required"}}, "rules"), "rules: 3:5: rules[0].id: required"},
		{"internal", apperr.Wrap(apperr.Internal, driverErr{}, "oops"), "internal error"},
		{"no kind", fmt.Errorf("commit: %w", driverErr{}), "internal error"},
		{"a nested internal error shows nothing of itself", apperr.Wrap(apperr.Unavailable, apperr.Wrap(apperr.Internal, driverErr{}, "secret"), "try again"), "try again"},
		{"no message at all: the kind", apperr.Wrap(apperr.Invalid, driverErr{}, ""), "invalid"},
	} {
		if got := apperr.Message(tt.err); got != tt.want {
			t.Errorf("%s: Message = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestWrapKeepsTheCauseForLogsAndErrorsIs(t *testing.T) {
	err := apperr.Wrap(apperr.Invalid, apperr.Shown(cap.Errors{{Msg: "x", Kind: cap.ErrSchema}}), "m")
	if !errors.Is(err, cap.ErrSchema) || apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("chain lost: %v", err)
	}
	if err := apperr.Wrap(apperr.Conflict, driverErr{}, "already exists"); err.Error() != "already exists: "+(driverErr{}).Error() {
		t.Errorf("Error() = %q, want the whole chain for the log", err)
	}
	if apperr.Wrap(apperr.Invalid, nil, "x") != nil || apperr.Shown(nil) != nil {
		t.Error("nil should stay nil")
	}
}

func TestRequestID(t *testing.T) {
	ctx := context.Background()
	if apperr.RequestID(ctx) != "" {
		t.Error("an id in an empty context")
	}
	if got := apperr.RequestID(apperr.WithRequestID(ctx, "abc")); got != "abc" {
		t.Errorf("RequestID = %q", got)
	}
	a, b := apperr.NewRequestID(), apperr.NewRequestID()
	if len(a) != 20 || a == b {
		t.Errorf("NewRequestID: %q, %q", a, b)
	}
}
