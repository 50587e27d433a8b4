package node

import (
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The layout of STYLE.md and the README's map, held against the code: imports point inward.
// Pure packages import only each other, the standard library (no HTTP) and libraries for
// formats (YAML, XML signatures); domain packages import pure
// and domain packages, never a database driver, NATS or an adapter; adapters import the
// domain and never each other (the two store engines share the SQL core, store/sqlq); only
// cmd/rabta imports config, and only node, cmd/rabta and exercise (which runs a node) import every part.
func TestImportsPointInward(t *testing.T) {
	const mod = "github.com/rabta/rabta/"
	layer := map[string]string{
		"internal/apperr": "pure", "internal/odata": "pure", "internal/sensing": "pure", "internal/rule": "pure", "internal/cap": "pure",
		"internal/sms": "pure", "internal/channel": "pure", "internal/place": "pure", "internal/i18n": "pure", "internal/forecast": "pure",
		"internal/advisory":       "pure",
		"internal/dissemination":  "domain",
		"internal/twoway":         "domain",
		"internal/federation":     "domain",
		"internal/channel/kannel": "adapter", "internal/channel/smpp": "adapter", "internal/channel/email": "adapter", "internal/channel/webhook": "adapter",
		"internal/channel/ivr": "adapter", "internal/voice": "adapter",
		"internal/channel/channeltest": "test",
		"internal/ingest":              "domain", "internal/alert": "domain", "internal/warning": "domain", "internal/auth": "domain",
		"internal/forecasting":  "domain",
		"internal/sensorthings": "adapter", "internal/httpapi": "adapter", "internal/bus": "adapter",
		"internal/openapi":    "adapter",
		"internal/web/public": "adapter", "internal/web/webtest": "test",
		"internal/store/sqlq": "adapter", "internal/store/sqlite": "adapter", "internal/store/postgres": "adapter",
		"internal/web/console":     "adapter", // the operator console (docs/console.md)
		"internal/store/storetest": "test", "internal/config": "config", "internal/demo": "demo",
		"internal/node": "node", "cmd/rabta": "cmd", "cmd/rabta-bench": "bench",
		"internal/forecast/cmd/calibrate-demo": "bench",    // the generator of the demo model (a program, like the benchmark)
		"internal/exercise":                    "exercise", // a whole node driven through its API, like cmd/rabta

		// the audit log and WIS2 (part F2)
		"internal/audit": "domain", "internal/wis2": "pure", "internal/wis2/wis2test": "test",
	}
	root := filepath.Join("..", "..")
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
			if d != nil && d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if pkg, err := build.ImportDir(p, 0); err == nil && len(pkg.GoFiles) > 0 {
			rel, _ := filepath.Rel(root, p)
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(dirs)
	for _, dir := range dirs {
		from, ok := layer[dir]
		if !ok {
			t.Errorf("%s: a package the layout does not place; add it to this test and to the README's map", dir)
			continue
		}
		pkg, err := build.ImportDir(filepath.Join(root, dir), 0) // non-test files only
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			to, ours := layer[strings.TrimPrefix(imp, mod)]
			ours = ours && strings.HasPrefix(imp, mod)
			var bad bool
			switch from {
			case "pure":
				bad = ours && to != "pure" || engine(imp) || imp == "net/http"
			case "domain":
				bad = ours && to != "pure" && to != "domain" || engine(imp)
			case "adapter":
				bad = ours && to != "pure" && to != "domain" && !(to == "adapter" && strings.HasPrefix(dir, "internal/store/") && imp == mod+"internal/store/sqlq")
			}
			if ours && to == "config" && from != "cmd" {
				bad = true
			}
			if bad {
				t.Errorf("%s (%s) imports %s (%s)", dir, from, imp, to)
			}
		}
	}
}

// engine tells whether imp is a database or messaging engine's package.
func engine(imp string) bool {
	if imp == "github.com/nats-io/nkeys" { // ed25519 keys in NATS's text form: no messaging
		return false
	}
	return imp == "database/sql" || strings.Contains(imp, "nats-io") || strings.Contains(imp, "jackc/pgx") || strings.HasPrefix(imp, "modernc.org/sqlite")
}
