package sqlq

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every spelling uses each of its arguments and formats cleanly in both dialects (a stray %
// or a missing argument would reach the database as "%!s(MISSING)").
func TestFuncSpellings(t *testing.T) {
	ref := regexp.MustCompile(`%\[(\d)\]s`)
	for name, f := range funcs {
		for d, format := range f {
			n := 0
			for _, m := range ref.FindAllStringSubmatch(format, -1) {
				i, _ := strconv.Atoi(m[1])
				n = max(n, i)
			}
			if i := strings.LastIndexByte(name, '/'); i > 0 {
				if want, _ := strconv.Atoi(name[i+1:]); want != n {
					t.Errorf("%s in %s uses %d arguments", name, dialectNames[d], n)
				}
			}
			args := make([]string, n)
			for i := range args {
				args[i] = "a" + strconv.Itoa(i+1)
			}
			got, err := spell(strings.Split(name, "/")[0], args, d)
			if err != nil || strings.Contains(got, "%!") {
				t.Errorf("%s in %s: %q %v", name, dialectNames[d], got, err)
			}
			for _, a := range args {
				if !strings.Contains(got, a) {
					t.Errorf("%s in %s leaves out %s: %q", name, dialectNames[d], a, got)
				}
			}
		}
	}
	if _, err := spell("nosuch", nil, 1); err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("unknown function: %v", err)
	}
}
