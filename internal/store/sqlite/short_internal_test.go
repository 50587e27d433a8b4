package sqlite

import (
	"context"
	"testing"

	"github.com/rabta/rabta/internal/store/sqlq"
)

// A context marked sqlq.Short runs its statements without its cancellation (so the driver
// starts no watcher per statement) and keeps its values (the principal); any other context is
// used as it is, so that a long statement stays interruptible.
func TestUncancelled(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "principal"))
	defer cancel()
	if got := uncancelled(ctx); got != ctx {
		t.Error("a context not marked Short lost its cancellation")
	}
	short := uncancelled(sqlq.Short(ctx))
	if short.Done() != nil || short.Value(key{}) != "principal" || !sqlq.IsShort(short) {
		t.Errorf("Short: Done %v, value %v, short %v; want no Done, the value kept", short.Done(), short.Value(key{}), sqlq.IsShort(short))
	}
	bg := sqlq.Short(context.Background())
	if got := uncancelled(bg); got != bg {
		t.Error("a Short context that cannot end was wrapped again")
	}
}
