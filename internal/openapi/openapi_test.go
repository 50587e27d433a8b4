package openapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rabta/rabta/internal/openapi"
)

// load reads and validates an embedded document with kin-openapi.
func load(t *testing.T, name string, doc []byte) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	d, err := l.LoadFromData(doc)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := d.Validate(l.Context); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// Both documents are valid OpenAPI 3, and every operation has an id and documents its errors
// with the one error shape.
func TestDocumentsValid(t *testing.T) {
	for name, doc := range map[string][]byte{"sensorthings.yaml": openapi.SensorThingsYAML, "api.yaml": openapi.APIYAML} {
		d := load(t, name, doc)
		ids := map[string]bool{}
		for path, item := range d.Paths.Map() {
			for method, op := range item.Operations() {
				if op.OperationID == "" || ids[op.OperationID] {
					t.Errorf("%s: %s %s: operationId %q missing or not unique", name, method, path, op.OperationID)
				}
				ids[op.OperationID] = true
			}
		}
		t.Logf("%s: %d paths, %d operations", name, d.Paths.Len(), len(ids))
	}
}

// The documents as served (JSON converted from the YAML) are the same documents, and still
// valid; ?format=yaml gives the YAML as written.
func TestServed(t *testing.T) {
	mux := http.NewServeMux()
	openapi.Register(mux)
	for path, doc := range map[string][]byte{openapi.SensorThingsPath: openapi.SensorThingsYAML, openapi.APIPath: openapi.APIYAML} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		served := load(t, path, rec.Body.Bytes())
		written := load(t, path, doc)
		if served.Paths.Len() != written.Paths.Len() || len(served.Components.Schemas) != len(written.Components.Schemas) || served.Info.Title != written.Info.Title {
			t.Errorf("%s: served %d paths, %d schemas; written %d, %d", path, served.Paths.Len(), len(served.Components.Schemas), written.Paths.Len(), len(written.Components.Schemas))
		}
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path+"?format=yaml", nil))
		if !bytes.Equal(rec.Body.Bytes(), doc) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/yaml") {
			t.Errorf("%s?format=yaml: %s, not the YAML as written", path, rec.Header().Get("Content-Type"))
		}
	}
}

func TestStyle(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{`{"id": 1, "draft": {"infos": [{"language": "en", "expires": "2026-01-01T00:00:00Z"}]}, "value": [], "ok": true}`, nil},
		{`{"value": [{"datastream": 1, "lastSeen": "2026-01-01T00:00:00+05:00"}]}`, nil},
		{`[{"datastream": 1}]`, []string{`$: a bare array; a list is {"value": [...]}`}},
		{`[]`, []string{`$: a bare array; a list is {"value": [...]}`}},
		{`{"draft": {"infos": [{"Language": "en"}]}}`, []string{"$.draft.infos[0].Language: key starts with an upper-case letter"}},
		{`{"value": [{"eventCodes": null}]}`, []string{"$.value[0].eventCodes: null"}},
		{`{"expires": "0001-01-01T00:00:00Z"}`, []string{"$.expires: zero time 0001-01-01T00:00:00Z"}},
		{`{"note": "0001-01-01 is not a time here"}`, nil},
		{`{"impact": {"rabta-x-1": {"people": 1}}}`, nil},
		{`nope`, []string{"$: not JSON: invalid character 'o' in literal null (expecting 'u')"}},
	} {
		got := openapi.Style([]byte(c.body))
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Style(%s) = %q, want %q", c.body, got, c.want)
		}
	}
}

// Style never panics, and reports a body as not JSON exactly when it is not.
func FuzzStyle(f *testing.F) {
	for _, s := range []string{`{"a": null}`, `{"B": [1, {"c": "0001-01-01T00:00:00Z"}]}`, `[]`, `"x"`, `{`, ``, `{"a": {"b": [null, {"C": 1}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := openapi.Style(b)
		notJSON := len(got) == 1 && strings.HasPrefix(got[0], "$: not JSON")
		if notJSON == json.Valid(b) {
			t.Errorf("Style(%q) = %q; json.Valid %v", b, got, json.Valid(b))
		}
	})
}
