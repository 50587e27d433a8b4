package exercise

import (
	"sync"
	"time"
)

// Clock is the exercise's time, the node's Now (node.Options.Now). Before Start it stands
// at the exercise's start. At a speed N > 0 it then runs N times as fast as the wall clock:
//
//	now = from + (wall − start) · N
//
// At maximum speed (N = 0) it stands still and the replay moves it (Set) to each reading's or
// approval's time. Safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	at    time.Time // the exercise time at wall instant start (or the set time)
	start time.Time // wall instant; zero: not running
	speed float64
	wall  func() time.Time
}

// NewClock returns a clock standing at from; speed is exercise seconds per wall second, 0 for
// maximum speed.
func NewClock(from time.Time, speed float64) *Clock {
	return &Clock{at: from, speed: speed, wall: time.Now}
}

// Start sets a clock with a speed running from where it stands; at maximum speed it does nothing.
func (c *Clock) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.speed > 0 && c.start.IsZero() {
		c.start = c.wall()
	}
}

// Now returns the exercise time (UTC).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().UTC()
}

func (c *Clock) now() time.Time {
	if c.start.IsZero() {
		return c.at
	}
	return c.at.Add(time.Duration(float64(c.wall().Sub(c.start)) * c.speed))
}

// Set moves a maximum-speed clock forward to t; a clock never goes back, and a running clock
// (speed > 0) is not set.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.speed == 0 && t.After(c.at) {
		c.at = t
	}
}

// Until returns the wall time until the exercise clock reaches t (0 if it has, or at maximum speed).
func (c *Clock) Until(t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.speed == 0 {
		return 0
	}
	d := t.Sub(c.now())
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d)/c.speed) + time.Millisecond
}
