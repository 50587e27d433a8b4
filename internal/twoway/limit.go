package twoway

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps one token bucket per number (by lookup key), the least recently seen
// forgotten first beyond max entries, and remembers whether a number over its limit was
// told so.
type limiter struct {
	every time.Duration
	burst int
	max   int
	mu    sync.Mutex
	ll    *list.List
	m     map[string]*list.Element
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	told bool // the "too many messages" reply went out since the number went over
}

func newLimiter(every time.Duration, burst, max int) *limiter {
	return &limiter{every: every, burst: burst, max: max, ll: list.New(), m: map[string]*list.Element{}}
}

// allow tells whether key may send a message now; when not, tell says whether this is the
// first refusal since it was last allowed (it gets one reply saying so).
func (l *limiter) allow(key string, now time.Time) (ok, tell bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, found := l.m[key]
	if !found {
		e = l.ll.PushFront(&bucket{key: key, lim: rate.NewLimiter(rate.Every(l.every), l.burst)})
		l.m[key] = e
		if l.ll.Len() > l.max {
			old := l.ll.Back()
			l.ll.Remove(old)
			delete(l.m, old.Value.(*bucket).key)
		}
	} else {
		l.ll.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	if b.lim.AllowN(now, 1) {
		b.told = false
		return true, false
	}
	tell = !b.told
	b.told = true
	return false, tell
}
