package ingest

import (
	"context"
	"time"
)

// Answer is the first answer to a write made with an Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header): what a retry of the same request, by the same
// API key, within the window gets again instead of the write being done twice.
type Answer struct {
	// Fingerprint is the SHA-256 of the request (method, path and query, body): a retry must
	// have the same, or it is another request reusing the key.
	Fingerprint []byte
	// Status is the HTTP status of the first answer; 0 while the first request is still being
	// served.
	Status int
	// ContentType and Location are the first answer's headers of those names; Body its body.
	ContentType, Location string
	Body                  []byte
}

// Idempotency keeps the answers to writes made with an Idempotency-Key, by the API key that
// made them (a client's key names nothing across API keys), durably: a retry after a restart
// of the node is still answered from it.
type Idempotency interface {
	// Claim takes key of API key apiKey for a request with fingerprint fp at now. claimed is
	// true when no unexpired answer or unexpired claim held the key (then the caller serves the
	// request and calls Save or Release; the claim holds for lease, then another request may
	// take it over), and the key is kept until now+window. Otherwise prev is what is held:
	// an answer, or a claim still being served (Status 0), with its fingerprint.
	Claim(ctx context.Context, apiKey int64, key string, fp []byte, now time.Time, lease, window time.Duration) (claimed bool, prev *Answer, err error)
	// Save stores the answer of a claimed key.
	Save(ctx context.Context, apiKey int64, key string, a *Answer) error
	// Release gives a claimed key up (the request failed and stored nothing): a retry is served
	// anew.
	Release(ctx context.Context, apiKey int64, key string) error
	// Purge deletes the keys expired at now and returns how many.
	Purge(ctx context.Context, now time.Time) (int64, error)
}
