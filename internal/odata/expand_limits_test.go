package odata

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestExpandDepth: an $expand through MaxExpandDepth levels of navigation parses, one more
// level is a 400 naming the limit, at the step that goes over, whether the levels are
// written as a path, nested $expand, or both.
func TestExpandDepth(t *testing.T) {
	path := func(n int) string { // Datastreams/Thing/Datastreams/… n steps
		steps := make([]string, n)
		for i := range steps {
			steps[i] = []string{"Datastreams", "Thing"}[i%2]
		}
		return strings.Join(steps, "/")
	}
	nested := func(n int) string { // Datastreams($expand=Thing($expand=…)) n levels
		if n == 1 {
			return "Datastreams"
		}
		return "Datastreams($expand=" + strings.Repeat("Thing($expand=Datastreams($expand=", (n-2)/2) +
			map[bool]string{true: "Thing", false: "Thing($expand=Datastreams)"}[n%2 == 0] + strings.Repeat("))", (n-2)/2) + ")"
	}
	tests := []struct {
		name   string
		expand string
		levels int
	}{
		{"path at the limit", path(MaxExpandDepth), MaxExpandDepth},
		{"path over the limit", path(MaxExpandDepth + 1), MaxExpandDepth + 1},
		{"nested at the limit", nested(MaxExpandDepth), MaxExpandDepth},
		{"nested over the limit", nested(MaxExpandDepth + 1), MaxExpandDepth + 1},
		{"mixed over the limit", "Datastreams/Thing($expand=" + path(MaxExpandDepth-1) + ")", MaxExpandDepth + 1},
		{"issue 15's request", "Datastreams($top=10000;$expand=Observations($top=10000;$expand=Datastream($expand=Thing($expand=Datastreams($top=10000;$expand=Observations($top=10000))))))", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func(string) error{
				func(s string) error { _, err := ParseOptions(url.Values{"$expand": {s}}); return err },
				func(s string) error { _, err := ParseExpand(s); return err },
			} {
				err := parse(tt.expand)
				if tt.levels <= MaxExpandDepth {
					if err != nil {
						t.Fatalf("%d levels: %v", tt.levels, err)
					}
					continue
				}
				var oe *Error
				if !errors.As(err, &oe) || oe.Option != "$expand" || !strings.Contains(oe.Msg, "over the limit of 8 (MaxExpandDepth)") {
					t.Fatalf("%d levels: %v, want a $expand error naming the limit", tt.levels, err)
				}
				// the position points at the step that goes over: the 9th name
				if oe.Pos < 1 || oe.Pos > len(tt.expand) || !strings.HasPrefix(oe.Msg, tt.expand[oe.Pos-1:][:strings.IndexAny(tt.expand[oe.Pos-1:]+"/($),", "/($),")]+":") {
					t.Fatalf("%d levels: error at %d (%q), want at the step over the limit", tt.levels, oe.Pos, err)
				}
			}
		})
	}
}
