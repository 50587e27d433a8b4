package exercise

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client speaks to a node's HTTP API with an API key: the exercise node (to seed it, feed it
// readings and approve drafts, as operators do) or a source node (to read its history).
type client struct {
	base string // e.g. http://127.0.0.1:4321, no trailing slash
	key  string
	http *http.Client
}

func newClient(base, key string) *client {
	return &client{base: strings.TrimRight(base, "/"), key: key, http: &http.Client{Timeout: 60 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (nil: discarded). An answer outside
// 2xx is an error carrying the method, the path and the node's message.
func (c *client) do(ctx context.Context, method, path, ctype string, body []byte, out any) (http.Header, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	if p, ok := out.(*[]byte); ok {
		*p = b
		return resp.Header, nil
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: answer is not the JSON expected: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func (c *client) postJSON(ctx context.Context, path string, in, out any) (http.Header, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodPost, path, "application/json", b, out)
}

func (c *client) get(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, "", nil, out)
	return err
}

// raw returns a GET's body as it is (a CAP message).
func (c *client) raw(ctx context.Context, path string) ([]byte, error) {
	var b []byte
	_, err := c.do(ctx, http.MethodGet, path, "", nil, &b)
	return b, err
}
