package sensing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
)

// TestBudget: Take charges within both limits and counts a miss over either (charging
// nothing); Give gives back; Err names the limit the last miss went over; a nil Budget is
// unbounded.
func TestBudget(t *testing.T) {
	b := NewBudget(3, 100)
	steps := []struct {
		take   int64
		ok     bool
		rows   int64
		bytes  int64
		misses int64
	}{
		{40, true, 1, 40, 0},
		{40, true, 2, 80, 0},
		{30, false, 2, 80, 1}, // 110 bytes: over
		{20, true, 3, 100, 1}, // exactly at both limits
		{0, false, 3, 100, 2}, // a fourth entity: over the rows
	}
	for i, s := range steps {
		if ok := b.Take(s.take); ok != s.ok {
			t.Fatalf("step %d: Take(%d) = %v", i, s.take, ok)
		}
		if rows, bytes := b.Used(); rows != s.rows || bytes != s.bytes || b.Misses() != s.misses {
			t.Fatalf("step %d: used %d rows %d bytes, %d misses", i, rows, bytes, b.Misses())
		}
	}
	if err := b.Err(); apperr.KindOf(err) != apperr.TooLarge || !strings.Contains(apperr.Message(err), "limit of 3 entities in one response (max_response_rows)") {
		t.Fatalf("Err after a miss on rows: %v", err)
	}
	b.Give(2, 80)
	if rows, bytes := b.Used(); rows != 1 || bytes != 20 || b.Left() != 2 {
		t.Fatalf("after Give: %d rows, %d bytes, %d left", rows, bytes, b.Left())
	}
	if b.Take(81) {
		t.Fatal("Take(81) with 80 bytes left")
	}
	if err := b.Err(); !strings.Contains(apperr.Message(err), "limit of 100 bytes in one response (max_response_bytes)") {
		t.Fatalf("Err after a miss on bytes: %v", err)
	}
	b.Miss()
	if b.Misses() != 4 || !strings.Contains(apperr.Message(b.Err()), "max_response_rows") {
		t.Fatalf("Miss: %d misses, %v", b.Misses(), b.Err())
	}

	var none *Budget
	if !none.Take(1<<40) || none.Misses() != 0 || none.Left() < 1<<40 {
		t.Fatal("a nil Budget is not unbounded")
	}
	none.Give(1, 1)
	none.Miss()
}

// TestEntitySize: 64, plus the names and values of the properties.
func TestEntitySize(t *testing.T) {
	e := &Entity{Props: map[string]any{"name": "Khanki", "properties": json.RawMessage(`{"a":1}`), "result": 1.5, "validTime": nil}}
	if got, want := EntitySize(e), int64(64+4+6+10+7+6+8+9+8); got != want {
		t.Fatalf("EntitySize = %d, want %d", got, want)
	}
}
