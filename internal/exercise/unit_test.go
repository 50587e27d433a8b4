package exercise

import (
	"strings"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	from := time.Date(2025, 8, 21, 0, 0, 0, 0, time.UTC)
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(from, 3600)
	c.wall = func() time.Time { return wall }
	if got := c.Now(); !got.Equal(from) {
		t.Errorf("before Start: %v, want %v", got, from)
	}
	c.Start()
	wall = wall.Add(2 * time.Second) // two wall seconds: two exercise hours
	if got := c.Now(); !got.Equal(from.Add(2 * time.Hour)) {
		t.Errorf("2 s after Start at 3600: %v, want %v", got, from.Add(2*time.Hour))
	}
	if d := c.Until(from.Add(3 * time.Hour)); d != time.Second+time.Millisecond {
		t.Errorf("Until an hour ahead at 3600: %v, want 1.001s", d)
	}
	c.Set(from.Add(100 * time.Hour)) // a running clock is not set
	if got := c.Now(); !got.Equal(from.Add(2 * time.Hour)) {
		t.Errorf("Set moved a running clock to %v", got)
	}

	m := NewClock(from, 0)
	m.Start()
	m.Set(from.Add(time.Hour))
	m.Set(from) // never back
	if got := m.Now(); !got.Equal(from.Add(time.Hour)) || m.Until(from.Add(48*time.Hour)) != 0 {
		t.Errorf("max-speed clock: %v, want %v and no waiting", got, from.Add(time.Hour))
	}
}

func TestEpisodeStart(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2025, 8, 21, h, 0, 0, 0, time.UTC) }
	obs := []Reading{{at(0), 120}, {at(1), 80}, {at(2), 110}, {at(3), 150}, {at(4), 90}}
	for _, c := range []struct {
		t    time.Time
		want *time.Time
	}{
		{at(0), ptr(at(0))}, // the window opens above the class
		{at(1), ptr(at(0))},
		{at(3), ptr(at(2))}, // a new episode began at 2
		{at(4), ptr(at(2))},
	} {
		got := episodeStart(obs, 100, c.t)
		if (got == nil) != (c.want == nil) || got != nil && !got.Equal(*c.want) {
			t.Errorf("episodeStart at %v = %v, want %v", c.t, got, c.want)
		}
	}
	if got := episodeStart(obs[1:2], 100, at(4)); got != nil {
		t.Errorf("never above: %v", got)
	}
}

func ptr(t time.Time) *time.Time { return &t }

func TestAuditRecipients(t *testing.T) {
	for _, c := range []struct {
		in      string
		rows    int
		without []int
		err     string
	}{
		{"name,audiences,phone\na,exercise,+923001112233\nb,public,+923001112244\nc,public; exercise,+923001112255\n", 3, []int{3}, ""},
		{"\ufeffname,audiences\n\"multi\nline\",public\nd,exercise\n", 2, []int{2}, ""},
		{"name,phone\na,+923001112233\n", 0, nil, `no "audiences" column`},
		{"", 0, nil, "empty file"},
		{"name,audiences\n\"unterminated,exercise\n", 0, nil, "quote"},
	} {
		rows, without, err := auditRecipients([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || rows != c.rows || len(without) != len(c.without) || (len(without) > 0 && without[0] != c.without[0]) {
			t.Errorf("%q: %d rows, without %v, err %v; want %d, %v", c.in, rows, without, err, c.rows, c.without)
		}
	}
}

// FuzzAuditRecipients: any bytes give rows and lines or an error, never a panic, and every
// line named is a data line.
func FuzzAuditRecipients(f *testing.F) {
	f.Add([]byte("name,language,audiences,place,lat,lon,radius_km,phone,email\nA,en,exercise,,31.5,74.3,5,+923001112233,\n"))
	f.Add([]byte("name,audiences\nb,public\n"))
	f.Add([]byte("audiences\n\"x\ny\"\n"))
	f.Add([]byte("\ufeffaudiences,audiences\n,,,\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, without, err := auditRecipients(b)
		if err != nil {
			return
		}
		if len(without) > rows {
			t.Errorf("%d lines without the exercise audience of %d rows", len(without), rows)
		}
		for _, l := range without {
			if l < 2 {
				t.Errorf("line %d named: the header is line 1", l)
			}
		}
	})
}
