package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// backup writes a consistent copy of the node's store while the node runs.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", "usage: rabta backup [--data-dir DIR] FILE")
	}
	if err := c.load(fs); err != nil {
		return err
	}
	out := fs.Arg(0)
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; backups never overwrite", out)
	}
	if c.cfg.DB != "" {
		if err := c.needNodeDB(ctx); err != nil { // a backup of a node, not of an empty database
			return err
		}
		// pg_dump reads one snapshot: consistent while the node runs; it writes into a file
		// made first, its owner's only, as the SQLite backup is (the store holds key hashes
		// and sealed contacts)
		f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, sqlite.FileMode)
		if err != nil {
			return err
		}
		f.Close()
		msg, err := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--no-owner", "--file", out, c.cfg.DB).CombinedOutput()
		if err != nil {
			os.Remove(out)
			return fmt.Errorf("pg_dump (from Debian's postgresql-client): %v: %s", err, strings.TrimSpace(string(msg)))
		}
		fmt.Fprintf(stdout, "backup written to %s\n", fs.Arg(0))
		return nil
	}
	stores, err := c.openExisting(ctx, nil) // a backup of a node, not of a new empty one
	if err != nil {
		return err
	}
	defer stores.Close()
	if err := stores.Backup(ctx, out); err != nil {
		return err
	}
	if err := sqlite.Check(ctx, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s\n", out)
	return nil
}

// restore replaces the node's store with a backup. The node must be stopped.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", "usage: rabta restore [--data-dir DIR] FILE")
	}
	if err := c.load(fs); err != nil {
		return err
	}
	in := fs.Arg(0)
	// the backup first: one that is not there, or not a SQLite database, makes nothing
	if c.cfg.DB != "" {
		if _, err := os.Stat(in); err != nil {
			return err
		}
	} else if err := sqlite.Check(ctx, in); err != nil {
		return err
	}
	if err := os.MkdirAll(c.cfg.DataDir, node.DataDirMode); err != nil {
		return err
	}
	lock, err := node.LockDataDir(c.cfg.DataDir) // a node running on this data directory refuses
	if err != nil {
		return err
	}
	defer lock()
	if c.cfg.DB != "" {
		// into the (stopped) node's database, replacing what is there
		out, err := exec.CommandContext(ctx, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "-d", c.cfg.DB, in).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: pg_restore (from Debian's postgresql-client): %v: %s", fs.Arg(0), err, strings.TrimSpace(string(out)))
		}
		fmt.Fprintf(stdout, "restored %s into the PostgreSQL database\n", fs.Arg(0))
		return nil
	}
	target := filepath.Join(c.cfg.DataDir, "rabta.db")
	tmp := target + ".restore"
	if err := copyFile(in, tmp); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(target + suffix)
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	// the bus's stream belongs to the old state; published entries are in the backup's past
	fmt.Fprintf(stdout, "restored %s into %s\n", in, target)
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // the store: keys' hashes, sealed contacts
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
