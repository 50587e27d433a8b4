package auth

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// An attacker with many addresses cannot grow the limiter: beyond Entries sources, the least
// recently seen are forgotten. A source that only ever succeeds has no bucket at all.
func TestLimiterBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(Limits{FailRate: 1, FailBurst: 2, WriteRate: 1, WriteBurst: 1, Entries: 100}, func() time.Time { return now })
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.failed(Source(netip.AddrPortFrom(a, 1234).String()))
		l.write(int64(i))
	}
	if l.fails.len() != 100 || len(l.fails.m) != 100 || l.writes.len() != 100 {
		t.Errorf("%d sources (%d in the map), %d keys remembered; want 100 each", l.fails.len(), len(l.fails.m), l.writes.len())
	}
	// the most recent are kept, with their state
	last := Source("10.1.134.159:1") // i = 99999
	if d := l.failWait(last); d != 0 {
		t.Errorf("after one failure of a burst of 2: wait %v", d)
	}
	l.failed(last)
	if d := l.failWait(last); d != time.Second {
		t.Errorf("after two failures at 1/s: wait %v, want 1s", d)
	}
	now = now.Add(time.Second)
	if d := l.failWait(last); d != 0 {
		t.Errorf("a second later: wait %v", d)
	}
	if d := l.failWait("192.0.2.1"); d != 0 || l.fails.len() != 100 {
		t.Error("asking about a source that never failed made a bucket")
	}
}

// Sources: an IPv4 address is itself (an IPv4-mapped IPv6 one too); IPv6 addresses share their
// /64; what does not parse is its own source.
func TestSource(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7:4321":           "203.0.113.7",
		"203.0.113.7":                "203.0.113.7",
		"[::ffff:203.0.113.7]:80":    "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":            "2001:db8:1:3::/64",
		"pipe":                       "pipe",
	} {
		if got := Source(in); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}
}

// Only the public prefix of a key in Rabta's format is ever logged.
func TestPublicPrefix(t *testing.T) {
	key, prefix := NewKey()
	for in, want := range map[string]string{
		key:                            prefix,
		"rbt_SECRETXX_abc":             "",
		"rbt_0123abcd":                 "",
		"a-custom-bootstrap-key-xx":    "",
		"rbt_0123abc_x":                "",
		fmt.Sprintf("rbt_%s_", prefix): prefix,
	} {
		if got := publicPrefix(in); got != want {
			t.Errorf("publicPrefix(%.12q) = %q, want %q", in, got, want)
		}
	}
}

// A right key is never charged: a source that failed once (so has a bucket) and then
// authenticates many times with a right key, while the clock moves on, is never refused, and
// its bucket is as the one failure left it. (Reservation.CancelAt at the time of the answer
// restored nothing, so each right key took a token, and after one typo an address's right keys
// were limited to the refill rate.)
func TestRightKeysNotCharged(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(Limits{FailRate: 1, FailBurst: 20, Entries: 10}, func() time.Time { return now })
	src := Source("192.0.2.7:5000")
	wait, done := l.admit(src)
	if wait != 0 {
		t.Fatalf("first try: wait %v", wait)
	}
	done(true) // one wrong key
	for i := range 100 {
		now = now.Add(time.Millisecond) // the answer comes after the reservation
		wait, done := l.admit(src)
		if wait != 0 {
			t.Fatalf("right key %d refused: wait %v", i, wait)
		}
		now = now.Add(time.Millisecond)
		if done(false) {
			t.Fatalf("right key %d reported the source limited", i)
		}
	}
	// 20 wrong keys use the burst up (one was used before, one a second came back since)
	for range 20 {
		if wait, done := l.admit(src); wait == 0 {
			done(true)
		}
	}
	if wait, _ := l.admit(src); wait == 0 {
		t.Error("after the burst of wrong keys the source is not limited")
	}
}

// WriteN charges writes made already: within the bucket nothing is refused; past it the
// refusal names the limit and the key owes what it lacked (at most a burst), so Write and
// WriteWait refuse it until the clock has run that off.
func TestWriteN(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(Limits{WriteRate: 10, WriteBurst: 20}, func() time.Time { return now })
	if err := l.WriteN(1, 15); err != nil || l.WriteWait(1) != 0 {
		t.Fatalf("15 of a burst of 20: %v, wait %v", err, l.WriteWait(1))
	}
	err := l.WriteN(1, 10) // 5 left
	if _, ok := RetryAfter(err); !ok || !strings.Contains(err.Error(), "write_rate") {
		t.Fatalf("10 more: %v, want a refusal naming write_rate", err)
	}
	// it owes 5 (10 taken into debt from the 5 left): 0.6 s to a whole token at 10 a second
	if w := l.WriteWait(1); w < 500*time.Millisecond || w > 700*time.Millisecond {
		t.Errorf("wait after the refusal: %v, want 0.6 s", w)
	}
	if l.Write(1) == nil {
		t.Error("an API write while owing was allowed")
	}
	if l.WriteWait(2) != 0 || l.WriteN(2, 0) != nil {
		t.Error("another key is charged")
	}
	now = now.Add(time.Second)
	if w := l.WriteWait(1); w != 0 {
		t.Errorf("after a second: wait %v", w)
	}
	// far over a burst: the debt is a burst at most
	l.WriteN(3, 1000)
	if w := l.WriteWait(3); w > 2100*time.Millisecond {
		t.Errorf("after 1000 at once: wait %v, want at most a burst's 2 s", w)
	}
	var nl *Limiter
	if nl.WriteN(1, 100) != nil || nl.WriteWait(1) != 0 {
		t.Error("a nil limiter limits")
	}
}
