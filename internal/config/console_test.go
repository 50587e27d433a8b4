package config

import (
	"strings"
	"testing"
)

// console_tile_url: empty by default (the console fetches nothing from elsewhere); a tile URL
// template is http(s) with {z}, {x} and {y}; anything else is refused, naming the field.
func TestConsoleTileURL(t *testing.T) {
	if c := Default(); c.ConsoleTileURL != "" {
		t.Fatalf("default console_tile_url %q, want empty", c.ConsoleTileURL)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"console_tile_url: https://tile.example.org/{z}/{x}/{y}.png\n", ""},
		{"console_tile_url: http://10.0.0.5:8081/osm/{z}/{x}/{y}.png\n", ""},
		{"console_tile_url: ftp://tile.example.org/{z}/{x}/{y}.png\n", "console_tile_url \"ftp://tile.example.org/{z}/{x}/{y}.png\": want an http or https URL template"},
		{"console_tile_url: /tiles/{z}/{x}/{y}.png\n", "want an http or https URL template"},
		{"console_tile_url: https://tile.example.org/{z}/{x}.png\n", "lacks {y}"},
	} {
		c := Default()
		err := c.Parse("f.yaml", []byte(tc.yaml))
		if err == nil {
			err = c.Validate()
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
