package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/node"
)

const auditUsage = `usage:
  rabta audit verify [--data-dir DIR]            check the whole chain and its signed heads (exit 1 names the first bad entry)
  rabta audit list [--from N] [--to N] [--limit N]
  rabta audit export --partner ORG [--from T] [--to T] > proof.json
                                                 the entries concerning ORG, with the chain and the signed head
  rabta audit verify-proof [--cert provider.pem] proof.json
                                                 what a partner runs with the provider's certificate`

// auditCmd runs "rabta audit …" (docs/audit.md).
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" {
		return usagef("%s", auditUsage)
	}
	cmd := args[0]
	if !slices.Contains([]string{"verify", "list", "export", "verify-proof"}, cmd) { // before its flags: "audit nope -h" is no command's help
		return usagef("unknown audit command %q\n%s", cmd, auditUsage)
	}
	var c common
	fs := flag.NewFlagSet("audit "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	partner := fs.String("partner", "", "export: the partner organisation (or node) the proof is for")
	fromS := fs.String("from", "", "list: first entry number; export: RFC 3339 time the window starts")
	toS := fs.String("to", "", "list: last entry number; export: RFC 3339 time the window ends")
	limit := fs.Int("limit", 100, "list: entries at most (1–10000)")
	certFile := new(string)
	if cmd == "verify-proof" { // its flag only: audit export -h does not list it
		fs.StringVar(certFile, "cert", "", "verify-proof: the provider's certificate (PEM), got from the provider out of band")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if cmd == "verify-proof" {
		if fs.NArg() != 1 {
			return usagef("usage: rabta audit verify-proof [--cert provider.pem] proof.json")
		}
		return verifyProof(fs.Arg(0), *certFile, stdout, stderr)
	}
	switch cmd {
	case "verify", "list", "export":
		if fs.NArg() > 0 {
			return usagef("audit %s: unexpected argument %q", cmd, fs.Arg(0))
		}
	default:
		return usagef("unknown audit command %q\n%s", cmd, auditUsage)
	}
	if err := c.load(fs); err != nil {
		return err
	}
	stores, err := c.openExisting(ctx, nil) // reads a node's log: never makes a node
	if err != nil {
		return err
	}
	defer stores.Close()
	log, err := node.AuditLog(stores, c.cfg.NodeID, c.cfg.DataDir, c.cfg.SigningKeyFile, c.cfg.SigningCertFile)
	if err != nil {
		return err
	}
	switch cmd {
	case "verify":
		rep, err := log.Verify(ctx)
		if err != nil {
			return err
		}
		if rep.Problem != nil {
			return fmt.Errorf("the audit chain does not verify: %w", rep.Problem)
		}
		fmt.Fprintf(stdout, "chain of %d entries verifies, head signed by %s\n", rep.Entries, log.Cert.Subject.String())
		return nil
	case "list":
		var from, to int64
		if *fromS != "" {
			if _, err := fmt.Sscan(*fromS, &from); err != nil {
				return usagef("--from %q: want an entry number", *fromS)
			}
		}
		if *toS != "" {
			if _, err := fmt.Sscan(*toS, &to); err != nil {
				return usagef("--to %q: want an entry number", *toS)
			}
		}
		recs, err := log.List(ctx, from, to, *limit)
		if err != nil {
			return err
		}
		for _, r := range recs {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Kind, r.Actor, r.Subject, r.Detail)
		}
		return nil
	}
	var win [2]time.Time
	for i, s := range []string{*fromS, *toS} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return usagef("--from/--to %q: want an RFC 3339 time", s)
		}
		win[i] = t
	}
	if *partner == "" {
		return usagef("audit export: --partner ORG is required")
	}
	p, err := log.Export(ctx, *partner, win[0], win[1])
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "proof for %s: %d entries in the chain segment, head at entry %d\n", *partner, len(p.Items), p.Head.Seq)
	return nil
}

// verifyProof checks a proof file with the provider's certificate (or, without one, with the
// certificate inside, saying that this proves consistency only).
func verifyProof(path, certFile string, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := audit.ParseProof(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var cert *x509.Certificate
	if certFile != "" {
		b, err := os.ReadFile(certFile)
		if err != nil {
			return err
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return fmt.Errorf("--cert %s: not a PEM certificate", certFile)
		}
		if cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("--cert %s: %w", certFile, err)
		}
	}
	rep, err := audit.VerifyProof(p, cert)
	if err != nil {
		return fmt.Errorf("%s does not verify: %w", path, err)
	}
	for _, r := range rep.Entries {
		fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Kind, r.Actor, r.Subject, r.Detail)
	}
	fmt.Fprintf(stdout, "proof verifies: %d entries concerning %s, chain to entry %d signed by %s at %s\n",
		len(rep.Entries), p.Partner, rep.Head.Seq, rep.Cert.Subject.String(), rep.Head.Time.Format(time.RFC3339))
	if !rep.Pinned {
		fmt.Fprintln(stderr, "warning: checked with the certificate inside the proof; pass the provider's certificate with --cert to know who signed it")
	}
	return nil
}

// orgsCmd runs "rabta orgs open|close ORG" and "rabta orgs list-open" (docs/wis2.md).
func orgsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const u = orgsUsage
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("%s", u)
	}
	cmd := args[0]
	if !slices.Contains([]string{"open", "close", "list-open"}, cmd) { // before its flags: "orgs nope -h" is no command's help
		return usagef("unknown orgs command %q; %s", cmd, u)
	}
	var c common
	fs := flag.NewFlagSet("orgs "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case (cmd == "open" || cmd == "close") && fs.NArg() == 1, cmd == "list-open" && fs.NArg() == 0:
	default:
		return usagef("%s", u)
	}
	if err := c.load(fs); err != nil {
		return err
	}
	open := c.openStores
	if cmd == "list-open" {
		open = c.openExisting // reads only: never makes a node
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	if cmd == "list-open" {
		open, err := stores.Open.Opened(ctx)
		if err != nil {
			return err
		}
		for org, at := range open {
			fmt.Fprintf(stdout, "%s\topen since %s\n", org, at.Format(time.RFC3339))
		}
		return nil
	}
	log, err := node.AuditLog(stores, c.cfg.NodeID, c.cfg.DataDir, c.cfg.SigningKeyFile, c.cfg.SigningCertFile)
	if err != nil {
		return err
	}
	org := fs.Arg(0)
	changed, err := node.SetOpen(ctx, stores, log, org, cmd == "open", "node", time.Now())
	if err != nil {
		return err
	}
	state := map[bool]string{true: "open", false: "closed"}[cmd == "open"]
	if !changed {
		fmt.Fprintf(stdout, "organisation %s's data was %s already\n", org, state)
		return nil
	}
	fmt.Fprintf(stdout, "organisation %s's data is now %s\n", org, state)
	return nil
}
