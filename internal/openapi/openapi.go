// Package openapi holds the OpenAPI 3 documents of the node's HTTP APIs and serves them: one
// for the SensorThings API (sensorthings.yaml, served at GET /v1.1/api, the path FROST-Server
// uses) and one for Rabta's own API under /api/v1 and the CAP feed (api.yaml, served at GET
// /api/v1/openapi.json). The documents are written by hand as YAML, embedded in the binary and
// served as JSON; the test in this package loads them with kin-openapi, validates them, and
// validates the real responses of a running node against them, operation by operation.
//
// It also states the JSON style of /api/v1 as code (Style), so that every response in the
// tests can be held to it.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The documents as written.
var (
	//go:embed sensorthings.yaml
	SensorThingsYAML []byte
	//go:embed api.yaml
	APIYAML []byte
)

// Paths the documents are served at.
const (
	SensorThingsPath = "/v1.1/api"
	APIPath          = "/api/v1/openapi.json"
)

// Handler serves one of the documents as JSON (application/json), or as YAML when asked for
// with ?format=yaml. doc is SensorThingsYAML or APIYAML; a document that is not valid YAML
// panics here, at start, rather than on a request (the test loads both).
func Handler(doc []byte) http.Handler {
	js, err := toJSON(doc)
	if err != nil {
		panic(fmt.Sprintf("openapi: embedded document: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.URL.Query().Get("format") == "yaml" {
			w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
			w.Write(doc)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(js)
	})
}

// Register adds both documents' routes to mux.
func Register(mux *http.ServeMux) {
	mux.Handle("GET "+SensorThingsPath, Handler(SensorThingsYAML))
	mux.Handle("GET "+APIPath, Handler(APIYAML))
}

// toJSON converts a YAML document (mappings with string keys) to indented JSON.
func toJSON(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// Style reports where a JSON body of /api/v1 breaks the API's one JSON style: a key that
// starts with an upper-case letter (a Go field name leaking out), a null (empty values are
// left out), or a zero time ("0001-01-01T00:00:00Z"; times are RFC 3339 and absent when
// unknown), or a top-level array (a list is {"value": [...]}). Each problem is given as its JSON path ("$.value[0].draft.infos[0].Language").
// A body that is not JSON is itself a problem.
func Style(body []byte) []string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{"$: not JSON: " + err.Error()}
	}
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil:
			out = append(out, path+": null")
		case map[string]any:
			for k, e := range x {
				if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
					out = append(out, fmt.Sprintf("%s.%s: key starts with an upper-case letter", path, k))
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if strings.HasPrefix(x, "0001-01-01") {
				if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
					out = append(out, path+": zero time "+x)
				}
			}
		}
	}
	if _, ok := v.([]any); ok {
		out = append(out, `$: a bare array; a list is {"value": [...]}`)
	}
	walk("$", v)
	return out
}
