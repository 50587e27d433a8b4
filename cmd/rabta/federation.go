package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/config"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/node"
)

// federationCmds are the federation subcommands, each with its usage (for its -h and for the
// command's usage) and its own flags besides --config, --data-dir and --db.
var federationCmds = []struct{ name, usage string }{
	{"key", `  rabta federation key                                     this node's public nkey (partners register it); a new
                                                           data directory named with --data-dir is made (0700)`},
	{"partners add", `  rabta federation partners add --node ID --nkey KEY [--url URL [--ca FILE]] [--cert FILE]   a partner node (--url: receive from it there;
                                                           --ca: PEM its tls:// listener must chain to, or its certificate;
                                                           --cert: its node-cert.pem, to verify the CAP alerts it shares)`},
	{"partners remove", `  rabta federation partners remove NODE                    refused while agreements with it are proposed or approved`},
	{"partners list", `  rabta federation partners list [--pem]                   partners: node, nkey, url and their certificates' subject,
                                                           SHA-256 fingerprint and expiry (--pem: the whole records, PEM included)`},
	{"agreements create", `  rabta federation agreements create FILE                  a proposed agreement (JSON, docs/federation.md; - for stdin)`},
	{"agreements approve", `  rabta federation agreements approve|revoke ID`},
	{"agreements revoke", ""}, // with approve
	{"agreements list", `  rabta federation agreements list [--received]            the agreements this node provides (--received: those it receives from
                                                           partners, with their state — active, ended, unknown — terms and counts)`},
}

const federationNote = `(each with --data-dir DIR or --db URL; a running node picks changes up within a second; all but
 partners add refuse a data directory with no node in it, rather than make one; a refused command changes nothing)`

// federationUsageOf is the usage of the subcommands whose name starts with prefix ("" for all).
func federationUsageOf(prefix string) string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range federationCmds {
		if c.usage != "" && strings.HasPrefix(c.name, prefix) {
			b.WriteString(c.usage + "\n")
		}
	}
	return b.String() + federationNote
}

var federationUsage = federationUsageOf("")

// isHelp reports whether a is a request for help.
func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// wantsHelp reports whether args ask for help (-h, -help or --help before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// federationCmd manages federation from the command line, which holds the node's data
// directory and so acts for the node (recorded as by "cli"). Output is JSON. Its arguments,
// files and keys are checked before the data directory is touched: a refused command changes
// nothing there. -h (or --help) prints the usage, on stdout, and succeeds.
func federationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("%s", federationUsage)
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, federationUsage)
		return nil
	}
	sub := args[0]
	verb := ""
	rest := args[1:]
	if sub == "partners" || sub == "agreements" {
		if len(rest) == 0 {
			return usagef("%s", federationUsageOf(sub))
		}
		if isHelp(rest[0]) {
			fmt.Fprintln(stdout, federationUsageOf(sub))
			return nil
		}
		verb, rest = rest[0], rest[1:]
	}
	name := strings.TrimSpace(sub + " " + verb)
	known := false
	for _, c := range federationCmds {
		known = known || c.name == name
	}
	if !known {
		return usagef("unknown command 'federation %s'\n%s", name, federationUsage)
	}
	var c common
	fs := flag.NewFlagSet("federation "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	// each subcommand's own flags, so that its -h lists those alone
	var pnode, nkey, url, ca, certFile string
	var withPEM, received bool
	switch name {
	case "partners add":
		fs.StringVar(&pnode, "node", "", "partner node id")
		fs.StringVar(&nkey, "nkey", "", "partner's public nkey (rabta federation key on that node)")
		fs.StringVar(&url, "url", "", "partner's NATS URL to receive from (tls://host:port, or nats:// on loopback)")
		fs.StringVar(&ca, "ca", "", "PEM file: the CA (or the certificate itself) the partner's tls:// listener must chain to")
		fs.StringVar(&certFile, "cert", "", "partner's certificate (PEM: its node-cert.pem), to verify the CAP alerts it shares")
		fs.BoolVar(&withPEM, "pem", false, "print the whole record, the certificates in PEM, not their summary")
	case "partners list":
		fs.BoolVar(&withPEM, "pem", false, "print the whole records, the certificates in PEM, not their summary")
	case "agreements list":
		fs.BoolVar(&received, "received", false, "the agreements this node receives from partners, not those it provides")
	}
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), federationUsageOf(strings.Replace(name, "revoke", "approve", 1))) // one line says both
		fmt.Fprintln(fs.Output(), "flags:")
		fs.PrintDefaults()
	}
	if wantsHelp(rest) {
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	if err := c.load(fs); err != nil {
		return err
	}
	pos := fs.Args()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	switch name {
	case "key", "partners add", "partners list", "agreements list":
		if len(pos) > 0 {
			return usagef("federation %s: unexpected argument %q\n%s", name, pos[0], federationUsageOf(name))
		}
	default:
		if len(pos) != 1 {
			return usagef("federation %s: want one argument, not %d\n%s", name, len(pos), federationUsageOf(strings.Replace(name, "revoke", "approve", 1)))
		}
	}
	// everything the command is given is checked before the data directory is touched: a
	// refused command changes nothing there (no store, no signing key, no audit entry). A
	// command line it cannot run is said first; then, for a node that must exist, that there is none.
	if name != "key" && name != "partners add" && c.cfg.DB == "" {
		if err := c.needNode(filepath.Join(c.cfg.DataDir, node.DBFile)); err != nil {
			return err
		}
	}
	var (
		partner *federation.Partner   // partners add
		created *federation.Agreement // agreements create
		agreeID int64                 // agreements approve, revoke
	)
	switch name {
	case "partners add":
		partner = &federation.Partner{Node: pnode, NKey: nkey, URL: url}
		if ca != "" {
			b, err := os.ReadFile(ca)
			if err != nil {
				return fmt.Errorf("--ca: %w", err)
			}
			partner.CA = string(b)
		}
		if certFile != "" {
			b, err := os.ReadFile(certFile)
			if err != nil {
				return fmt.Errorf("--cert: %w", err)
			}
			partner.Cert = string(b)
		}
		if err := partner.ValidatePartner(); err != nil {
			return err
		}
		// the node itself is refused before anything is opened (a refused command changes nothing)
		if err := (&federation.Service{Node: c.cfg.NodeID, NodeKey: fedKeyIfAny(c.cfg.DataDir)}).CheckPartnerNotSelf(partner); err != nil {
			return err
		}
	case "partners remove":
		if !federation.ValidName(pos[0]) {
			return fmt.Errorf("partner %q: a node id is lower-case letters, digits, '-' and '_'", pos[0])
		}
	case "agreements create":
		var b []byte
		var err error
		if pos[0] == "-" {
			b, err = io.ReadAll(io.LimitReader(os.Stdin, federation.MaxBodyBytes+1))
		} else {
			b, err = os.ReadFile(pos[0])
		}
		if err != nil {
			return err
		}
		if created, err = federation.ParseAgreement(b); err != nil {
			return err
		}
	case "agreements approve", "agreements revoke":
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("agreement id %q: a positive number", pos[0])
		}
		agreeID = v
	}
	if name == "key" {
		// the key is made on first use in the data directory. Printing it is a new node's first
		// step (docs/federation.md): a data directory named (--data-dir, RABTA_DATA_DIR,
		// data_dir) is made when new, its owner's only, as serve makes it; never the default
		// ./rabta-data, which no node may use (its key would be given to partners for nothing)
		named := c.cfg.DataDir != config.Default().DataDir || os.Getenv("RABTA_DATA_DIR") != ""
		fs.Visit(func(f *flag.Flag) { named = named || f.Name == "data-dir" })
		if !named {
			if err := c.needNode(c.cfg.DataDir); err != nil {
				return fmt.Errorf("%w; for a new node, 'rabta federation key --data-dir DIR' makes DIR and the node's key (docs/federation.md)", err)
			}
		}
		k, err := node.FedPublicKey(c.cfg.DataDir) // makes the directory (node.DataDirMode) and the key
		if err != nil {
			return err
		}
		// the node id given (RABTA_NODE_ID, --config) recorded, now that its directory exists
		if _, err := node.ResolveID(c.cfg.DataDir, c.cfg.NodeID); err != nil {
			return err
		}
		fmt.Fprintln(stdout, k)
		return nil
	}
	// adding a partner may be a new node's first step; the rest reads, or changes or names
	// what must be there already (an agreement names the node's partner, organisation and
	// Datastreams), and refuses a data directory without a node
	open := c.openExisting
	if name == "partners add" {
		open = c.openStores
	}
	stores, err := open(ctx, nil)
	if err != nil {
		return err
	}
	defer stores.Close()
	// the node itself is no partner of its own, nor an agreement's consumer (its id and key)
	svc := &federation.Service{Store: stores.Federation, Node: c.cfg.NodeID, NodeKey: fedKeyIfAny(c.cfg.DataDir)}
	if verb != "list" {
		// changes made here are recorded in the node's audit log, as the API's are (a list
		// records nothing: it needs no signing key)
		alog, err := node.AuditLog(stores, c.cfg.NodeID, c.cfg.DataDir, c.cfg.SigningKeyFile, c.cfg.SigningCertFile)
		if err != nil {
			return err
		}
		svc.Audit = alog
	}
	switch name {
	case "partners add":
		existed, err := svc.SavePartner(ctx, partner)
		if err != nil {
			return err
		}
		if c.cfg.NodeID == node.DefaultID { // docs/federation.md, step 0, missed: said, not refused (a node may stay "local")
			cert := ""
			if c.cfg.SigningCertFile == "" {
				cert = fmt.Sprintf(", and its certificate %s is named for it (CN=rabta node %s)", filepath.Join(c.cfg.DataDir, "node-cert.pem"), node.DefaultID)
			}
			fmt.Fprintf(stderr, "warning: this node has no id yet: it is %q to its partners%s. Set its id first (docs/federation.md, step 0): "+
				"RABTA_NODE_ID=ID (or node_id in its configuration) on each command; then delete node-cert.pem and node-key.pem from the data directory "+
				"so that a certificate with its name is made\n", node.DefaultID, cert)
		}
		if existed { // what it was not given kept its stored value: the record printed is what is stored
			fmt.Fprintf(stderr, "partner %s updated (it existed: what was not given — url, ca, cert — is kept)\n", partner.Node)
		}
		if withPEM {
			return enc.Encode(partner)
		}
		return enc.Encode(partner.Summary())
	case "partners remove":
		rs, err := node.ReceivedFor(ctx, stores.Federation)
		if err != nil {
			return err
		}
		if err := svc.RemovePartner(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "partner %s removed\n", pos[0])
		var active []string
		for _, r := range rs {
			if r.Provider == pos[0] && r.State == federation.ReceivedActive {
				active = append(active, strconv.FormatInt(r.Agreement, 10))
			}
		}
		if len(active) > 0 { // this node's link to it stops: what it shares no longer arrives
			fmt.Fprintf(stderr, "warning: this node received agreements %s from %s: nothing more arrives under them (what arrived is kept as they say)\n",
				strings.Join(active, ", "), pos[0])
		}
		return nil
	case "partners list":
		ps, err := stores.Federation.Partners(ctx)
		if err != nil {
			return err
		}
		if withPEM {
			return enc.Encode(ps)
		}
		out := make([]federation.PartnerSummary, len(ps))
		for i, p := range ps {
			out[i] = p.Summary()
		}
		return enc.Encode(out)
	case "agreements create":
		if err := svc.Create(ctx, created); err != nil {
			return err
		}
		for _, w := range created.Warnings {
			fmt.Fprintf(stderr, "warning: agreement %d: %s\n", created.ID, w)
		}
		return enc.Encode(created)
	case "agreements approve", "agreements revoke":
		var a *federation.Agreement
		if verb == "approve" {
			a, err = svc.Approve(ctx, agreeID)
		} else {
			a, err = svc.Revoke(ctx, agreeID)
		}
		if apperr.KindOf(err) == apperr.NotFound {
			err = node.ReceivedHint(ctx, stores.Federation, agreeID, verb, err)
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
		if received {
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
	return usagef("%s", federationUsage)
}

// fedKeyIfAny gives the public nkey of the node in dir, "" when it has none yet (a key made
// later cannot be one a partner was given before): it never makes one.
func fedKeyIfAny(dir string) func() (string, error) {
	return func() (string, error) {
		if _, err := os.Stat(filepath.Join(dir, node.FedKeyFile)); errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return node.FedPublicKey(dir)
	}
}
