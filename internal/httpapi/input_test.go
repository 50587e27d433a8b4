package httpapi_test

import (
	"strings"
	"testing"
)

// TestBodiesSayWhatIsWrong: a JSON or YAML body with text that is not UTF-8, a member given
// twice, an unknown field or a YAML error is a 400 that says what and where, not a bare
// "body: want …".
func TestBodiesSayWhatIsWrong(t *testing.T) {
	n := newNode(t)
	cases := []struct {
		method, path, role, body string
		want                     string
	}{
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"why":"a","why":"b"}`, `body: why (byte 12): member "why" given twice`},
		{"POST", "/api/v1/alerts/1/approve", "approver", "{\"why\":\"\xff\"}", "body: why (byte 9): byte 0xff: the text is not UTF-8"},
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"why":"\u0000"}`, "NUL"},
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"whx":"a"}`, `body: want {"why": "..."} and nothing else: unknown field "whx"`},
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"why":"a"`, `and nothing else: the JSON ends before it is complete`},
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"why":"a"}}`, `and nothing else: malformed JSON at byte 12: more after the value`},
		{"POST", "/api/v1/alerts/1/approve", "approver", `{"why":5}`, `and nothing else: why: want a string, got a JSON number`},
		{"PUT", "/api/v1/rules", "admin", "rules:\n  - id: a\n    id: b\n", `rules[0].id: appears twice`},
		{"PUT", "/api/v1/rules", "admin", "rules:\n  - id: \"\xff\"\n", `UTF-8`},
		{"PUT", "/api/v1/rules", "admin", "rules: [", `request body:1: yaml: did not find expected node content`},
	}
	for _, c := range cases {
		resp, body := n.do(c.method, c.path, c.role, c.body)
		n.refused(resp, body, 400, c.want)
		if strings.Contains(body, "internal error") {
			t.Errorf("%s %s: %s", c.method, c.path, body)
		}
	}
}
