package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/rabta/rabta/internal/auth"
)

// bootstrapName is the name of the node's bootstrap admin key: the one RABTA_ADMIN_KEY (or
// admin_key_file) sets, or the one made and printed on a node's first start.
const bootstrapName = "bootstrap"

// bootstrapAdmin makes sure the node has its bootstrap admin key (role admin in
// auth.NodeOrganisation, named "bootstrap").
//
// With key (RABTA_ADMIN_KEY) or the key in file, that key is the bootstrap key: imported if new,
// and every other valid bootstrap key (an earlier RABTA_ADMIN_KEY, or a printed one) is
// revoked, so that changing RABTA_ADMIN_KEY replaces the old key instead of adding a second one;
// the log says which key ids were revoked for which (never a key). A key revoked before (through
// the API or rabta keys revoke) is refused: a revoked key never comes back.
//
// With neither, a node without valid keys makes one and shows it once on console (showKey) —
// the terminal or a private file, never the structured log, which says only the new key's id.
func bootstrapAdmin(ctx context.Context, keys auth.Store, key, file string, console io.Writer, log *slog.Logger) error {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("admin_key_file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key != "" {
		return importBootstrap(ctx, keys, key, log)
	}
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	clear, id, err := auth.Create(ctx, keys, auth.NodeOrganisation, auth.Admin, bootstrapName)
	if err != nil {
		return err
	}
	if err := showKey(console, clear); err != nil {
		// a key nobody can read would leave the node without an admin: revoke it and stop
		keys.RevokeKey(ctx, id)
		return err
	}
	log.Info("admin_key_created", "key_id", id)
	return nil
}

// importBootstrap makes key the one valid bootstrap key (see bootstrapAdmin). It is idempotent:
// a start interrupted after the import and before the revocations finishes them on the next.
func importBootstrap(ctx context.Context, keys auth.Store, key string, log *slog.Logger) error {
	id, err := auth.Import(ctx, keys, auth.NodeOrganisation, auth.Admin, bootstrapName, key)
	if err != nil {
		return fmt.Errorf("RABTA_ADMIN_KEY: %w", err)
	}
	if id != 0 {
		log.Info("admin_key_imported", "key_id", id)
	} else {
		k, err := keys.KeyByHash(ctx, auth.Hash(key))
		if err != nil {
			return fmt.Errorf("RABTA_ADMIN_KEY: %w", err)
		}
		id = k.ID
	}
	all, err := keys.Keys(ctx)
	if err != nil {
		return err
	}
	var revoked []int64
	for _, k := range all {
		if k.ID == id || k.Name != bootstrapName || k.Organisation != auth.NodeOrganisation || k.Role != auth.Admin || k.RevokedAt != nil {
			continue
		}
		if err := keys.RevokeKey(ctx, k.ID); err != nil {
			return fmt.Errorf("revoke the old bootstrap key %d: %w", k.ID, err)
		}
		revoked = append(revoked, k.ID)
	}
	if len(revoked) > 0 {
		log.Warn("admin_key_replaced", "key_id", id, "revoked_key_ids", revoked,
			"why", "RABTA_ADMIN_KEY (or admin_key_file) changed: the new key replaces the old bootstrap key")
	}
	return nil
}

// showKey writes the bootstrap key that the node made to console, once. A terminal (an
// *os.File that is a character device) gets it in a banner saying how to use it; any other
// writer — the private file <data-dir>/bootstrap-admin.key of a node whose stderr is not a
// terminal (systemd, docker) — gets the bare key and a newline, nothing else, so that
// KEY=$(cat FILE) and "Authorization: Bearer $KEY" work.
func showKey(console io.Writer, key string) error {
	if isTerminal(console) {
		_, err := fmt.Fprintf(console, "\n  Bootstrap admin API key (shown once, store it now):\n\n    %s\n\n  Use it as: Authorization: Bearer <key>\n\n", key)
		return err
	}
	_, err := io.WriteString(console, key+"\n")
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
