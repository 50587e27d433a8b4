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

// bootstrapAdmin makes sure a fresh node has an admin key: key (RABTA_ADMIN_KEY) or the one in
// file if given, otherwise a generated one printed once on console.
func bootstrapAdmin(ctx context.Context, keys auth.Store, key, file string, console io.Writer, log *slog.Logger) error {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("admin_key_file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key != "" {
		id, err := auth.Import(ctx, keys, auth.NodeOrganisation, auth.Admin, "bootstrap", key)
		if err != nil {
			return fmt.Errorf("RABTA_ADMIN_KEY: %w", err)
		}
		if id != 0 {
			log.Info("admin_key_imported", "key_id", id)
		}
		return nil
	}
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	clear, id, err := auth.Create(ctx, keys, auth.NodeOrganisation, auth.Admin, "bootstrap")
	if err != nil {
		return err
	}
	fmt.Fprintf(console, "\n  Bootstrap admin API key (shown once, store it now):\n\n    %s\n\n  Use it as: Authorization: Bearer <key>\n\n", clear)
	log.Info("admin_key_created", "key_id", id)
	return nil
}
