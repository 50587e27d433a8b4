// Package wis2test validates WIS2 documents against the WMO schemas copied into
// internal/wis2/testdata (see its PROVENANCE.md), with github.com/santhosh-tekuri/jsonschema/v6,
// formats asserted. For tests only.
package wis2test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ecmaRegexp is an ECMA-262 regular expression (JSON Schema's dialect): WCMP2's duration
// pattern uses a lookahead, which Go's RE2 does not have.
type ecmaRegexp regexp2.Regexp

func (re *ecmaRegexp) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

func (re *ecmaRegexp) String() string { return (*regexp2.Regexp)(re).String() }

func compileECMA(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return (*ecmaRegexp)(re), nil
}

// Dir is internal/wis2/testdata.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

var (
	once     sync.Once
	wcmp, wn *jsonschema.Schema
	loadErr  error
)

func load() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseRegexpEngine(compileECMA)
	compile := func(rel string) *jsonschema.Schema {
		b, err := os.ReadFile(filepath.Join(Dir(), rel))
		if err != nil {
			loadErr = err
			return nil
		}
		// WCMP2's bundled schema (a6c5859) has one $ref whose JSON pointer runs through another
		// $ref (links/items → #/definitions/Link), which no JSON Schema implementation follows:
		// point it, in memory only, at where it leads. The file stays as WMO published it.
		b = bytes.ReplaceAll(b, []byte(`"#/properties/links/items/properties/distribution/`), []byte(`"#/definitions/Link/properties/distribution/`))
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			loadErr = err
			return nil
		}
		url := "file:///wis2/" + rel
		if err := c.AddResource(url, doc); err != nil {
			loadErr = err
			return nil
		}
		s, err := c.Compile(url)
		if err != nil {
			loadErr = err
		}
		return s
	}
	wcmp = compile("wcmp2/schemas/wcmp2-bundled.json")
	wn = compile("notification-message/schemas/wis2-notification-message-bundled.json")
}

func validate(t testing.TB, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	once.Do(load)
	if loadErr != nil {
		t.Fatalf("WIS2 schemas: %v", loadErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// Record validates doc as a WCMP2 record.
func Record(t testing.TB, doc []byte) error { once.Do(load); return validate(t, wcmp, doc) }

// Notification validates doc as a WIS2 notification message.
func Notification(t testing.TB, doc []byte) error { once.Do(load); return validate(t, wn, doc) }

// Topic reports whether topic follows the WIS2 topic hierarchy as far as the copied CSV files
// define it: channel, version, system, a centre id (free: new ones appear upstream),
// notification type, data policy, then each earth-system-discipline level named in the
// index.csv of the level above.
func Topic(t testing.TB, topic string) bool {
	t.Helper()
	lv := strings.Split(topic, "/")
	if len(lv) < 7 || lv[0] != "origin" && lv[0] != "cache" || lv[1] != "a" || lv[2] != "wis2" || lv[4] != "data" && lv[4] != "metadata" ||
		lv[5] != "core" && lv[5] != "recommended" {
		return false
	}
	dir := filepath.Join(Dir(), "topic-hierarchy", "topic-hierarchy", "earth-system-discipline")
	for _, name := range lv[6:] {
		f, err := os.ReadFile(filepath.Join(dir, "index.csv"))
		if err != nil {
			return false
		}
		rows, err := csv.NewReader(bytes.NewReader(f)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows[1:] {
			if r[0] == name {
				found = true
			}
		}
		if !found {
			return false
		}
		dir = filepath.Join(dir, name)
	}
	return true
}
