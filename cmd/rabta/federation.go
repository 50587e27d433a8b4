package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/node"
)

const federationUsage = `usage:
  rabta federation key                                     this node's public nkey (partners register it)
  rabta federation partners add --node ID --nkey KEY [--url URL [--ca FILE]] [--cert FILE]   a partner node (--url: receive from it there;
                                                           --ca: PEM its tls:// listener must chain to, or its certificate;
                                                           --cert: its node-cert.pem, to verify the CAP alerts it shares)
  rabta federation partners remove NODE                    refused while agreements with it are proposed or approved
  rabta federation partners list [--pem]                   partners: node, nkey, url and their certificates' subject,
                                                           SHA-256 fingerprint and expiry (--pem: the whole records, PEM included)
  rabta federation agreements create FILE                  a proposed agreement (JSON, docs/federation.md; - for stdin)
  rabta federation agreements approve|revoke ID
  rabta federation agreements list [--received]            the agreements this node provides (--received: those it receives from
                                                           partners, with their state — active, ended, unknown — terms and counts)
(each with --data-dir DIR or --db URL; a running node picks changes up within a second; all but
 partners add refuse a data directory with no node in it, rather than make one)`

// federationCmd manages federation from the command line, which holds the node's data
// directory and so acts for the node (recorded as by "cli"). Output is JSON.
func federationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(federationUsage)
	}
	sub := args[0]
	verb := ""
	rest := args[1:]
	if sub == "partners" || sub == "agreements" {
		if len(rest) == 0 {
			return errors.New(federationUsage)
		}
		verb, rest = rest[0], rest[1:]
	}
	var c common
	fs := flag.NewFlagSet("federation "+sub+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	pnode := fs.String("node", "", "partner node id")
	nkey := fs.String("nkey", "", "partner's public nkey (rabta federation key on that node)")
	url := fs.String("url", "", "partner's NATS URL to receive from (tls://host:port, or nats:// on loopback)")
	ca := fs.String("ca", "", "PEM file: the CA (or the certificate itself) the partner's tls:// listener must chain to")
	certFile := fs.String("cert", "", "partner's certificate (PEM: its node-cert.pem), to verify the CAP alerts it shares")
	withPEM := fs.Bool("pem", false, "partners list and add: print the whole records, the certificates in PEM, not their summary")
	received := fs.Bool("received", false, "agreements list: the agreements this node receives from partners, not those it provides")
	if err := parse(fs, rest); err != nil {
		return err
	}
	if err := c.load(fs); err != nil {
		return err
	}
	pos := fs.Args()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if sub == "key" {
		// the key is made on first use in the data directory: in the node's, never in a new
		// ./rabta-data that no node uses (its key would be given to partners for nothing)
		if err := c.needNode(c.cfg.DataDir); err != nil {
			return err
		}
		k, err := node.FedPublicKey(c.cfg.DataDir)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k)
		return nil
	}
	// adding a partner may be a new node's first step; the rest reads, or changes or names
	// what must be there already (an agreement names the node's partner, organisation and
	// Datastreams), and refuses a data directory without a node
	open := c.openExisting
	if sub+" "+verb == "partners add" {
		open = c.openStores
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	svc := &federation.Service{Store: stores.Federation}
	if verb != "list" {
		// changes made here are recorded in the node's audit log, as the API's are (a list
		// records nothing: it needs no signing key)
		alog, err := node.AuditLog(stores, c.cfg.NodeID, c.cfg.DataDir, c.cfg.SigningKeyFile, c.cfg.SigningCertFile)
		if err != nil {
			return err
		}
		svc.Audit = alog
	}
	partners := func(ps ...federation.Partner) error {
		if *withPEM {
			return enc.Encode(ps)
		}
		out := make([]federation.PartnerSummary, len(ps))
		for i, p := range ps {
			out[i] = p.Summary()
		}
		return enc.Encode(out)
	}
	id := func() (int64, error) {
		if len(pos) != 1 {
			return 0, errors.New(federationUsage)
		}
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("agreement id %q: a positive number", pos[0])
		}
		return v, nil
	}
	switch sub + " " + verb {
	case "partners add":
		p := &federation.Partner{Node: *pnode, NKey: *nkey, URL: *url}
		if *ca != "" {
			b, err := os.ReadFile(*ca)
			if err != nil {
				return fmt.Errorf("--ca: %w", err)
			}
			p.CA = string(b)
		}
		if *certFile != "" {
			b, err := os.ReadFile(*certFile)
			if err != nil {
				return fmt.Errorf("--cert: %w", err)
			}
			p.Cert = string(b)
		}
		if err := svc.AddPartner(ctx, p); err != nil {
			return err
		}
		if *withPEM {
			return enc.Encode(p)
		}
		return enc.Encode(p.Summary())
	case "partners remove":
		if len(pos) != 1 {
			return errors.New(federationUsage)
		}
		if err := svc.RemovePartner(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "partner %s removed\n", pos[0])
		return nil
	case "partners list":
		ps, err := stores.Federation.Partners(ctx)
		if err != nil {
			return err
		}
		return partners(ps...)
	case "agreements create":
		if len(pos) != 1 {
			return errors.New(federationUsage)
		}
		var b []byte
		if pos[0] == "-" {
			b, err = io.ReadAll(io.LimitReader(os.Stdin, federation.MaxBodyBytes+1))
		} else {
			b, err = os.ReadFile(pos[0])
		}
		if err != nil {
			return err
		}
		a, err := federation.ParseAgreement(b)
		if err != nil {
			return err
		}
		if err := svc.Create(ctx, a); err != nil {
			return err
		}
		return enc.Encode(a)
	case "agreements approve", "agreements revoke":
		n, err := id()
		if err != nil {
			return err
		}
		var a *federation.Agreement
		if verb == "approve" {
			a, err = svc.Approve(ctx, n)
		} else {
			a, err = svc.Revoke(ctx, n)
		}
		if err != nil {
			return err
		}
		return enc.Encode(a)
	case "agreements list":
		rs, err := node.ReceivedFor(ctx, stores.Federation)
		if err != nil {
			return err
		}
		if *received {
			return enc.Encode(rs)
		}
		as, err := svc.List(ctx)
		if err != nil {
			return err
		}
		if len(as) == 0 && len(rs) > 0 { // a receiving node: what it receives is there
			fmt.Fprintf(stderr, "(this node provides no agreement; it receives under %d: rabta federation agreements list --received)\n", len(rs))
		}
		return enc.Encode(as)
	}
	return errors.New(federationUsage)
}
