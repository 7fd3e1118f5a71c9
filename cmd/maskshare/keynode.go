package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/transport"
)

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runKeynode serves a key node of the key slicing system (SPEC.md §4.1):
// it keeps users' sealed slices in DIR and releases them, re-sealed, to
// the requesters a trusted institution authorised.
func runKeynode(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("keynode", flag.ContinueOnError)
	listen := flags.String("listen", "", "TCP address to listen on, such as 0.0.0.0:7600 (required)")
	dir := flags.String("dir", "", "data directory: the node's HPKE key and slice database (required; made 0700 if missing)")
	keyPath := flags.String("key", "", "this node's TLS private key, maskshare keygen's NAME.key (required)")
	certPath := flags.String("cert", "", "this node's certificate, self-signed or from a CA; its name is the node's name (required)")
	caPath := flags.String("ca", "", "certificate of the CA that issued the clients' certificates")
	var peers, institutions listFlag
	flags.Var(&peers, "peer", "NAME=KEY: pin a client's public key (repeatable); with pins, only pinned clients may connect")
	flags.Var(&institutions, "institution", "public key (ed25519:...) of a trusted institution, which signs release authorisations (repeatable; at least one)")
	anyRegistrant := flags.Bool("any-registrant", false, "let any authenticated client register a user's key (default: only a client whose certificate name is the user id, or an institution)")
	level := flags.String("log-level", "info", "log level: debug, info, warn, error")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare keynode --listen ADDR --dir DIR --key FILE --cert FILE (--ca FILE | --peer NAME=KEY...) --institution KEY...")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *listen == "" || *dir == "" || *keyPath == "" || *certPath == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if len(institutions) == 0 {
		return badInput(fmt.Errorf("--institution: at least one institution key is required (nobody could authorise a release)"))
	}
	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return badInput(err)
	}
	inst := make([]ed25519.PublicKey, len(institutions))
	for i, s := range institutions {
		if inst[i], err = transport.ParsePublicKey(s); err != nil {
			return badInput(fmt.Errorf("--institution %d: %w", i+1, err))
		}
	}
	if err := checkPrivateFile(*keyPath); err != nil {
		return badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(*certPath, *keyPath)
	if err != nil {
		return badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	trust := transport.Trust{}
	if *caPath != "" {
		if trust.Roots, err = transport.LoadCAPool(*caPath); err != nil {
			return badInput(fmt.Errorf("--ca: %w", err))
		}
	}
	allowed := []string{transport.AnyPeer}
	if len(peers) > 0 {
		trust.Pins = make(map[string]ed25519.PublicKey, len(peers))
		allowed = nil
		for _, p := range peers {
			name, key, ok := strings.Cut(p, "=")
			if !ok || !transport.ValidName(name) {
				return badInput(fmt.Errorf("--peer %q: want NAME=KEY", p))
			}
			if trust.Pins[name], err = transport.ParsePublicKey(key); err != nil {
				return badInput(fmt.Errorf("--peer %s: %w", name, err))
			}
			allowed = append(allowed, name)
		}
	}
	if trust.Roots == nil && trust.Pins == nil {
		return badInput(fmt.Errorf("--ca or --peer: the node must know how to authenticate its clients"))
	}
	if now := time.Now(); now.After(id.Certificate.NotAfter) {
		return badInput(fmt.Errorf("--cert: expired at %s", id.Certificate.NotAfter.UTC().Format(time.RFC3339)))
	}
	if err := privateDir(*dir, true); err != nil {
		return badInput(fmt.Errorf("--dir: %w", err))
	}
	tcfg, err := transport.ServerConfig(id, trust, allowed)
	if err != nil {
		return badInput(err)
	}
	tcfg.MaxMessageSize = max(slicing.MaxRequestSize, slicing.MaxResponseSize)
	tcfg.Logger = log
	node, err := slicing.OpenKeyNode(*dir, &slicing.KeyNodeConfig{Name: id.Name, Institutions: inst, AnyRegistrant: *anyRegistrant, Logger: log})
	if err != nil {
		return err
	}
	defer node.Close()
	l, err := transport.Listen(*listen, tcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keynode %s listening on %s\n", id.Name, l.Addr())
	fmt.Fprintf(stdout, "node key: %s\n", node.PublicKey())
	fmt.Fprintf(stdout, "tls key:  %s\n", transport.FormatPublicKey(id.PublicKey()))
	if err := node.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "maskshare keynode: shut down")
	return nil
}
