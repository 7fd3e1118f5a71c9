package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/transport"
)

// runKeygen makes DIR/ca.crt and DIR/ca.key unless they exist, and for each
// NAME an identity signed by that CA: DIR/NAME.crt and DIR/NAME.key (0600).
// Existing identities are kept, so the command can add participants later.
func runKeygen(args []string) error {
	flags := flag.NewFlagSet("keygen", flag.ContinueOnError)
	dir := flags.String("dir", "certs", "directory for the CA and identities")
	caName := flags.String("ca-name", "maskshare-ca", "name of a new CA")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare keygen [--dir DIR] NAME...")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() == 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	caCert, caKey := filepath.Join(*dir, "ca.crt"), filepath.Join(*dir, "ca.key")
	ca, err := transport.LoadCA(caCert, caKey)
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = transport.NewCA(*caName); err != nil {
			return err
		}
		if err := ca.WriteFiles(caCert, caKey); err != nil {
			return err
		}
		fmt.Printf("created CA %s in %s\n", *caName, caCert)
	} else if err != nil {
		return err
	}
	for _, name := range flags.Args() {
		crt, key := filepath.Join(*dir, name+".crt"), filepath.Join(*dir, name+".key")
		if _, err := os.Stat(crt); err == nil {
			fmt.Printf("kept existing identity %s\n", crt)
			continue
		}
		id, err := ca.Issue(name)
		if err != nil {
			return err
		}
		if err := id.WriteFiles(crt, key); err != nil {
			return err
		}
		fmt.Printf("created identity %s (%s, %s)\n", name, crt, key)
	}
	return nil
}
