package main

import (
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/maskshare/maskshare/transport"
)

// runKeygen makes the identity of one institution, on its own machine, in a
// directory only its owner can use: DIR/NAME.key (the private key, 0600),
// DIR/NAME.crt (a self-signed certificate) and DIR/NAME.csr (a request for a
// CA). It never replaces a key: the others may already have pinned it.
func runKeygen(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("keygen", flag.ContinueOnError)
	dir := flags.String("dir", "", "directory for the key, certificate and request (required; made 0700 if missing)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare keygen --dir DIR NAME")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || flags.NArg() == 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if flags.NArg() > 1 {
		return fmt.Errorf("one NAME only, got %d (%s): each institution makes its own key on its own machine", flags.NArg(), strings.Join(flags.Args(), " "))
	}
	name := flags.Arg(0)
	if !transport.ValidName(name) {
		return fmt.Errorf("%w: %q (letters, digits, '.', '-' and '_')", transport.ErrBadName, name)
	}
	if err := privateDir(*dir, true); err != nil {
		return err
	}
	keyPath := filepath.Join(*dir, name+".key")
	crtPath := filepath.Join(*dir, name+".crt")
	csrPath := filepath.Join(*dir, name+".csr")
	if err := refuseExisting(keyPath); err != nil {
		return err
	}
	// A certificate without its key: the key may be kept elsewhere, and the
	// certificate may be a CA's, which a new key would not hold.
	if _, err := os.Lstat(crtPath); err == nil {
		return fmt.Errorf("%s exists without %s: keygen never replaces a certificate (move it away first to make a new identity)", crtPath, name+".key")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	id, err := transport.NewSelfSigned(name)
	if err != nil {
		return err
	}
	if err := id.CreateFiles(crtPath, keyPath); err != nil {
		return keyExists(keyPath, err)
	}
	csr, err := id.CertificateRequest()
	if err != nil {
		return err
	}
	if err := transport.WriteCertificateRequest(csrPath, csr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "made the identity of %s in %s:\n", name, *dir)
	fmt.Fprintf(stdout, "  %s  private key, readable by you only: it never leaves this directory\n", name+".key")
	fmt.Fprintf(stdout, "  %s  self-signed certificate (the \"cert\" of your configuration)\n", name+".crt")
	fmt.Fprintf(stdout, "  %s  certificate request, if a CA is to certify you\n", name+".csr")
	printKey(stdout, id.PublicKey())
	fmt.Fprintf(stdout, "Give the public key (or %s, for a CA) to the other institutions; never the .key.\n", name+".csr")
	return nil
}

func printKey(w io.Writer, pub ed25519.PublicKey) {
	fmt.Fprintf(w, "public key:  %s\n", transport.FormatPublicKey(pub))
	fmt.Fprintf(w, "fingerprint: %s\n", transport.Fingerprint(pub))
}

// privateDir checks that dir is a directory that only its owner can read,
// write or enter, making it (0700) if create is set and it is missing.
func privateDir(dir string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: others can use it, and a private key needs a directory only its owner can (chmod 700 %s, or choose another --dir)", dir, m, dir)
	}
	return nil
}

// refuseExisting fails if path exists: a private key is never replaced.
func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return keyExists(path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func keyExists(path string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: a private key is never replaced, since others may have pinned it (move it away first to make a new one)", path)
	}
	return err
}

// runCA runs `maskshare ca init` and `maskshare ca sign`: a CA that certifies
// institutions from their certificate requests, never seeing their keys.
func runCA(stdout io.Writer, args []string) error {
	const usage = "usage: maskshare ca init --dir CADIR [--name NAME]\n       maskshare ca sign --dir CADIR [--name NAME] [--out FILE] REQUEST.csr"
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "init":
		return runCAInit(stdout, args[1:])
	case "sign":
		return runCASign(stdout, args[1:])
	default:
		fmt.Fprintln(os.Stderr, usage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
}

func runCAInit(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("ca init", flag.ContinueOnError)
	dir := flags.String("dir", "", "directory for the CA's key and certificate (required; made 0700 if missing)")
	name := flags.String("name", "maskshare-ca", "the CA's name")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	if err := privateDir(*dir, true); err != nil {
		return err
	}
	keyPath, crtPath := filepath.Join(*dir, "ca.key"), filepath.Join(*dir, "ca.crt")
	if err := refuseExisting(keyPath); err != nil {
		return err
	}
	// A CA's key may be kept offline, away from its certificate: a ca.crt
	// without a ca.key is a CA all the same, which everyone trusts.
	if _, err := os.Lstat(crtPath); err == nil {
		return fmt.Errorf("%s exists (without ca.key, which may be kept offline): a CA is never replaced, since every participant trusts its certificate (move ca.crt away first to make a new CA)", crtPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ca, err := transport.NewCA(*name)
	if err != nil {
		return err
	}
	if err := ca.CreateFiles(crtPath, keyPath); err != nil {
		return keyExists(keyPath, err)
	}
	fmt.Fprintf(stdout, "made the CA %s in %s:\n", *name, *dir)
	fmt.Fprintf(stdout, "  ca.key  the CA's private key, readable by you only: it never leaves this directory\n")
	fmt.Fprintf(stdout, "  ca.crt  the CA's certificate: give it to every participant (the \"ca\" of their configurations)\n")
	printKey(stdout, ca.PrivateKey.Public().(ed25519.PublicKey))
	fmt.Fprintf(stdout, "Certify each institution with: maskshare ca sign --dir %s NAME.csr\n", *dir)
	return nil
}

func runCASign(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("ca sign", flag.ContinueOnError)
	dir := flags.String("dir", "", "the CA's directory, made by ca init (required)")
	out := flags.String("out", "", "where to write the certificate (default: the request's name with .crt, beside it)")
	want := flags.String("name", "", "refuse a request for any other name")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || flags.NArg() != 1 {
		flags.Usage()
		return flag.ErrHelp
	}
	req := flags.Arg(0)
	if *out == "" {
		*out = strings.TrimSuffix(req, filepath.Ext(req)) + ".crt"
	}
	if filepath.Clean(*out) == filepath.Clean(req) {
		return fmt.Errorf("--out %s would replace the request", *out)
	}
	if err := privateDir(*dir, false); err != nil {
		return err
	}
	if err := checkPrivateFile(filepath.Join(*dir, "ca.key")); err != nil {
		return err
	}
	ca, err := transport.LoadCA(filepath.Join(*dir, "ca.crt"), filepath.Join(*dir, "ca.key"))
	if err != nil {
		return err
	}
	csr, err := transport.LoadCertificateRequest(req)
	if err != nil {
		return err
	}
	if *want != "" && csr.Subject.CommonName != *want {
		return fmt.Errorf("%s asks for %q, not %q", req, csr.Subject.CommonName, *want)
	}
	cert, err := ca.IssueRequest(csr)
	if err != nil {
		return fmt.Errorf("%s: %w", req, err)
	}
	if err := transport.WriteCertificate(*out, cert); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "issued %s a certificate by %s, valid until %s, in %s\n",
		cert.Subject.CommonName, ca.Name, cert.NotAfter.UTC().Format("2006-01-02"), *out)
	printKey(stdout, cert.PublicKey.(ed25519.PublicKey))
	fmt.Fprintf(stdout, "Check the fingerprint with %s before sending the certificate back.\n", cert.Subject.CommonName)
	return nil
}

// runPubkey prints the public key in a certificate or certificate request,
// for pasting into the others' configurations.
func runPubkey(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("pubkey", flag.ContinueOnError)
	fp := flags.Bool("fingerprint", false, "print the key's SHA256 fingerprint instead")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare pubkey [--fingerprint] FILE.crt|FILE.csr")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return flag.ErrHelp
	}
	path := flags.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var pub any
	switch b, _ := pem.Decode(data); {
	case b != nil && b.Type == "CERTIFICATE":
		cert, err := transport.LoadCertificate(path)
		if err != nil {
			return err
		}
		pub = cert.PublicKey
	case b != nil && b.Type == "CERTIFICATE REQUEST":
		csr, err := transport.LoadCertificateRequest(path)
		if err != nil {
			return err
		}
		pub = csr.PublicKey
	default:
		return fmt.Errorf("%s: not a PEM certificate or certificate request", path)
	}
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("%s: not an Ed25519 key", path)
	}
	if *fp {
		fmt.Fprintln(stdout, transport.Fingerprint(k))
	} else {
		fmt.Fprintln(stdout, transport.FormatPublicKey(k))
	}
	return nil
}
