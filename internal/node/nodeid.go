package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The node id a data directory belongs to. A node's id is its name to its partners (their
// federation streams and permissions), in its certificate's subject, on the heads of its audit
// log and in its proofs: the id a command runs under must be the node's. The first time a
// node runs under an id of its own choosing (not DefaultID) with a data directory, the id is
// recorded there (NodeIDFile); after that a command given no id takes the recorded one, and
// one given another id is refused.

// DefaultID is the node id of a node not given one (config node_id, --node-id, RABTA_NODE_ID).
const DefaultID = "local"

// NodeIDFile is the file in the data directory that records the node's id.
const NodeIDFile = "node-id"

// ResolveID returns the id a command given id runs under with dataDir: the recorded one when
// id is DefaultID, else id — recorded when the directory exists and records none. An id that
// differs from the recorded one is an error naming both and the file.
func ResolveID(dataDir, id string) (string, error) { return resolveID(dataDir, id, true) }

// LookupID is ResolveID without recording anything: the id a command would run under, or the
// same error. A command checks with it before it has decided to change the data directory
// (a refused command changes nothing), and records with ResolveID once it does.
func LookupID(dataDir, id string) (string, error) { return resolveID(dataDir, id, false) }

func resolveID(dataDir, id string, record bool) (string, error) {
	path := filepath.Join(dataDir, NodeIDFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if id == DefaultID || !record {
			return id, nil
		}
		if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
			return id, nil // no data directory yet: recorded when the node makes it
		}
		if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("node id: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	rec := strings.TrimSpace(string(b))
	if rec == "" || id == DefaultID || id == rec {
		if rec == "" {
			rec = id
		}
		return rec, nil
	}
	return "", fmt.Errorf("data directory %s belongs to node %q (recorded in %s), not %q: give that node's data directory, or leave the node id out; to rename the node, edit %s (its partners, certificate and audit log know it by the old name)",
		dataDir, rec, path, id, path)
}
