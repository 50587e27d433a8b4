package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// request makes a request to n's HTTP listener with key (empty: anonymous) and returns the
// status and body (the internal tests' do; node_test.go has the external tests').
func request(t *testing.T, n *Node, method, path, key, body string) (int, string) {
	t.Helper()
	r, _ := http.NewRequest(method, "http://"+n.Addr().String()+path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
