package openapi_test

import (
	"fmt"
	"strings"
)

// apiKeys exercises the API key operations (/api/v1/keys) with a success and each documented
// error. The admin of the run is the node-wide admin; viewer and operator are of "pdma".
func apiKeys(c *checker) {
	newKey := func(role string) req {
		return req{role: "admin", method: "POST", path: "/api/v1/keys", body: fmt.Sprintf(`{"organisation":"pdma","role":%q,"name":"openapi","expiresIn":"90d"}`, role)}
	}
	one := id(c.t, c.must(201, newKey("operator")))
	two := id(c.t, c.must(201, req{role: "admin", method: "POST", path: "/api/v1/keys", body: `{"organisation":"ndma","role":"viewer","expiresAt":"2099-01-01T00:00:00Z"}`}))
	c.must(400, req{role: "admin", method: "POST", path: "/api/v1/keys", body: `{"organisation":"pdma","role":"viewer","expiresIn":"soon"}`})
	forbidden := newKey("viewer")
	forbidden.role = "viewer"
	c.must(403, forbidden)
	c.must(413, req{role: "admin", method: "POST", path: "/api/v1/keys", body: `{"organisation":"pdma","role":"viewer","name":"` + strings.Repeat("x", 8<<10) + `"}`, bad: true})

	c.must(200, req{role: "admin", method: "GET", path: "/api/v1/keys"})
	c.must(403, req{role: "operator", method: "GET", path: "/api/v1/keys"})
	c.must(200, req{role: "admin", method: "GET", path: fmt.Sprintf("/api/v1/keys/%d", one)})
	c.must(400, req{role: "admin", method: "GET", path: "/api/v1/keys/x", bad: true})
	c.must(403, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/keys/%d", one)})
	c.must(404, req{role: "admin", method: "GET", path: "/api/v1/keys/999999"})

	c.must(403, req{role: "operator", method: "DELETE", path: fmt.Sprintf("/api/v1/keys/%d", one)})
	c.must(400, req{role: "admin", method: "DELETE", path: "/api/v1/keys/x", bad: true})
	c.must(404, req{role: "admin", method: "DELETE", path: "/api/v1/keys/999999"})
	c.must(204, req{role: "admin", method: "DELETE", path: fmt.Sprintf("/api/v1/keys/%d", one)})
	c.must(409, req{role: "admin", method: "DELETE", path: fmt.Sprintf("/api/v1/keys/%d", one)})

	c.must(403, req{role: "viewer", method: "POST", path: fmt.Sprintf("/api/v1/keys/%d/revoke", two)})
	c.must(400, req{role: "admin", method: "POST", path: "/api/v1/keys/x/revoke", bad: true})
	c.must(404, req{role: "admin", method: "POST", path: "/api/v1/keys/999999/revoke"})
	c.must(200, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/keys/%d/revoke", two)})
	c.must(409, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/keys/%d/revoke", two)})
}
