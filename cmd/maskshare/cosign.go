package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/transport"
)

const cosignUsage = `usage: maskshare cosign COMMAND [flags]

The service (holds the organisation's key; run by the organisation):
  init     --dir DIR --org NAME --origin LOGNAME --ra CADIR     make the service's keys and log
  serve    --dir DIR --listen ADDR --key K --cert C --ra CADIR [--admin NAME...]
  export   --dir DIR --out FILE                                 export the log (service stopped)

A user's device (or an administrator), over mutual TLS to the service:
  enrol      --state DIR --user NAME [--recovery HPKEKEY --kit FILE]   CONNECTION
  sign       --state DIR --file DOCUMENT [--purpose TEXT] [--out SIG]  CONNECTION
  revoke     --user NAME [--reason TEXT]                               CONNECTION
  checkpoint --state DIR [--out FILE]                                  CONNECTION
  CONNECTION = --service NAME=ADDR --key K --cert C --ca CA.crt

Offline:
  recovery-key --out FILE                                  make a recovery HPKE key
  recover      --state DIR --kit FILE --recovery-key FILE  replace a lost phone's share
`

// runCosign runs the escrowed co-signing service and its clients
// (SPEC.md §4.3).
func runCosign(ctx context.Context, stdout io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, cosignUsage)
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "init":
		return runCosignInit(stdout, rest)
	case "serve":
		return runCosignServe(ctx, stdout, rest)
	case "export":
		return runCosignExport(stdout, rest)
	case "enrol", "sign", "revoke", "checkpoint":
		return runCosignClient(ctx, stdout, sub, rest)
	case "recovery-key":
		return runCosignRecoveryKey(stdout, rest)
	case "recover":
		return runCosignRecover(stdout, rest)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, cosignUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, cosignUsage)
	return badInput(fmt.Errorf("unknown subcommand %q", sub))
}

func loadRA(dir string) (*cosign.RA, error) {
	if err := checkPrivateFile(filepath.Join(dir, "ca.key")); err != nil {
		return nil, badInput(fmt.Errorf("--ra: %w", err))
	}
	ca, err := transport.LoadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, badInput(fmt.Errorf("--ra: %w", err))
	}
	return &cosign.RA{CA: ca}, nil
}

func runCosignInit(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("cosign init", flag.ContinueOnError)
	dir := flags.String("dir", "", "the service's data directory (required; made 0700)")
	org := flags.String("org", "", "the organisation's name (required)")
	origin := flags.String("origin", "", "the log's name, such as cosign.example.com/log (required)")
	raDir := flags.String("ra", "", "the registration authority's directory (maskshare ca init): ca.crt, ca.key (required)")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || *org == "" || *origin == "" || *raDir == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	ra, err := loadRA(*raDir)
	if err != nil {
		return err
	}
	cert, err := cosign.InitService(*dir, *org, *origin, ra)
	if err != nil {
		return badInput(err)
	}
	if err := transport.WriteCertificate(filepath.Join(*dir, "org.crt"), cert); err != nil {
		return err
	}
	svc, err := cosign.OpenService(*dir, &cosign.ServiceConfig{RA: ra})
	if err != nil {
		return err
	}
	defer svc.Close()
	vkey := svc.Log().VerifierKey()
	if err := os.WriteFile(filepath.Join(*dir, "log.vkey"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "made the co-signing service of %s in %s\n", *org, *dir)
	fmt.Fprintf(stdout, "  org.crt   the organisation's certificate (its key is sealed in the store)\n")
	fmt.Fprintf(stdout, "  log.vkey  the log's verifier key: %s\n", vkey)
	return nil
}

func runCosignServe(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("cosign serve", flag.ContinueOnError)
	dir := flags.String("dir", "", "the service's data directory, made by cosign init (required)")
	listen := flags.String("listen", "", "TCP address to listen on, such as 0.0.0.0:7700 (required)")
	keyPath := flags.String("key", "", "the service's TLS private key (required)")
	certPath := flags.String("cert", "", "the service's TLS certificate, from the RA (required)")
	raDir := flags.String("ra", "", "the registration authority's directory: its ca.crt is the clients' root, its ca.key certifies users (required)")
	var admins listFlag
	flags.Var(&admins, "admin", "TLS name of an administrator, who may revoke any user (repeatable)")
	level := flags.String("log-level", "info", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || *listen == "" || *keyPath == "" || *certPath == "" || *raDir == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return badInput(err)
	}
	if err := checkPrivateFile(*keyPath); err != nil {
		return badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(*certPath, *keyPath)
	if err != nil {
		return badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	ra, err := loadRA(*raDir)
	if err != nil {
		return err
	}
	svc, err := cosign.OpenService(*dir, &cosign.ServiceConfig{RA: ra, Admins: admins, Logger: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	l, err := cosign.Listen(*listen, id, transport.Trust{Roots: ra.Roots()}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cosign %s listening on %s\n", id.Name, l.Addr())
	fmt.Fprintf(stdout, "log: %s\n", svc.Log().VerifierKey())
	if err := svc.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "maskshare cosign: shut down")
	return nil
}

func runCosignExport(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("cosign export", flag.ContinueOnError)
	dir := flags.String("dir", "", "the service's data directory (required; the service must be stopped)")
	out := flags.String("out", "", "the export file to write (required)")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || *out == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	st, err := custody.OpenStore(filepath.Join(*dir, cosign.ServiceStoreFile), &custody.StoreConfig{Buckets: cosign.ServiceBuckets})
	if err != nil {
		return err
	}
	defer st.Close()
	hk, err := custody.ReadPrivateKeyFile(filepath.Join(*dir, cosign.ServiceKeyFile))
	if err != nil {
		return err
	}
	l, err := cosign.OpenStoredLog(st, hk)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := l.Export(context.Background(), f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	n, _ := l.Size(context.Background())
	fmt.Fprintf(stdout, "exported %d entries of %s to %s\n", n, l.Origin(), *out)
	return nil
}

// clientFlags are the connection flags of the client subcommands.
type clientFlags struct {
	service, key, cert, ca, state string
}

func (c *clientFlags) register(fs *flag.FlagSet, state bool) {
	fs.StringVar(&c.service, "service", "", "the service, NAME=ADDR (NAME as in its certificate) (required)")
	fs.StringVar(&c.key, "key", "", "this device's TLS private key (required)")
	fs.StringVar(&c.cert, "cert", "", "this device's TLS certificate, naming the user (required)")
	fs.StringVar(&c.ca, "ca", "", "the RA's certificate, ca.crt (required)")
	if state {
		fs.StringVar(&c.state, "state", "", "this device's state directory: its share, certificates and last checkpoint (required)")
	}
}

func (c *clientFlags) dial(ctx context.Context) (*cosign.Client, func(), error) {
	name, addr, ok := strings.Cut(c.service, "=")
	if !ok || c.key == "" || c.cert == "" || c.ca == "" {
		return nil, nil, badInput(errors.New("--service NAME=ADDR, --key, --cert and --ca are required"))
	}
	if err := checkPrivateFile(c.key); err != nil {
		return nil, nil, badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(c.cert, c.key)
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	roots, err := transport.LoadCAPool(c.ca)
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("--ca: %w", err))
	}
	conn, err := cosign.Dial(ctx, id, transport.Trust{Roots: roots}, name, addr, nil)
	if err != nil {
		return nil, nil, err
	}
	return cosign.NewClient(conn), func() { conn.Close() }, nil
}

func openState(dir string) (*custody.Store, error) {
	if dir == "" {
		return nil, badInput(errors.New("--state is required"))
	}
	if err := privateDir(dir, true); err != nil {
		return nil, badInput(fmt.Errorf("--state: %w", err))
	}
	return custody.OpenStore(filepath.Join(dir, "device.db"), &custody.StoreConfig{Buckets: cosign.ClientBuckets})
}

// runCosignClient runs a client subcommand. A refusal by the service
// exits 3 (another participant refused), with its reason.
func runCosignClient(ctx context.Context, stdout io.Writer, sub string, args []string) (err error) {
	defer func() {
		var re *cosign.RemoteError
		if errors.As(err, &re) {
			err = peerFailure(err)
		}
	}()
	flags := flag.NewFlagSet("cosign "+sub, flag.ContinueOnError)
	var cf clientFlags
	cf.register(flags, sub != "revoke")
	user := flags.String("user", "", "the user (enrol: this device's user; revoke: the user to revoke)")
	recovery := flags.String("recovery", "", "enrol: the recovery HPKE public key (hpke1:...), for a 2-of-3 key with an offline recovery share")
	kitPath := flags.String("kit", "", "enrol: where to write the recovery kit (with --recovery)")
	file := flags.String("file", "", "sign: the document to sign")
	purpose := flags.String("purpose", "", "sign: what the signature is for, logged with the request")
	out := flags.String("out", "", "sign: where to write the organisation's signature; checkpoint: where to write the checkpoint")
	reason := flags.String("reason", "", "revoke: why, logged")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	var st *custody.Store
	if sub != "revoke" {
		var err error
		if st, err = openState(cf.state); err != nil {
			return err
		}
		defer st.Close()
	}
	var doc [32]byte
	switch sub {
	case "enrol":
		if *user == "" || (*recovery == "") != (*kitPath == "") {
			return badInput(errors.New("enrol needs --user, and --recovery with --kit"))
		}
	case "sign":
		if *file == "" {
			return badInput(errors.New("sign needs --file"))
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return badInput(fmt.Errorf("--file: %w", err))
		}
		doc = sha256.Sum256(b)
	case "revoke":
		if *user == "" {
			return badInput(errors.New("revoke needs --user"))
		}
	}
	cl, closeConn, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	switch sub {
	case "enrol":
		var rk *custody.PublicKey
		if *recovery != "" {
			if rk, err = custody.ParsePublicKeyString(*recovery); err != nil {
				return badInput(fmt.Errorf("--recovery: %w", err))
			}
		}
		cred, kit, err := cl.Enrol(ctx, *user, rk)
		if err != nil {
			return err
		}
		if err := cosign.SaveCredential(st, cred); err != nil {
			return err
		}
		if kit != nil {
			if err := os.WriteFile(*kitPath, kit.Marshal(), 0o600); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "enrolled %s: certificate serial %x, key %s\n", cred.User, cred.Cert.SerialNumber, transport.FormatPublicKey(cred.Cert.PublicKey.(ed25519.PublicKey)))
		if kit != nil {
			fmt.Fprintf(stdout, "recovery kit (2-of-3, sealed to the recovery key) in %s: keep it offline\n", *kitPath)
		}
		return writeCertificates(st, cf.state, cred)
	case "sign":
		cred, err := cosign.LoadCredential(st)
		if err != nil {
			return err
		}
		rc, err := cl.Sign(ctx, cred, doc, *purpose)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signed %s (sha256 %x) for %s: log entries %d–%d\n", *file, doc, cred.OrgCert.Subject.CommonName, rc.Index, rc.Index+1)
		fmt.Fprintf(stdout, "organisation signature: %s\n", hex.EncodeToString(rc.OrgSignature))
		if *out != "" {
			return os.WriteFile(*out, rc.OrgSignature, 0o644)
		}
		return nil
	case "revoke":
		rc, err := cl.Revoke(ctx, *user, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s: log entry %d\n", *user, rc.Index)
		return nil
	case "checkpoint":
		status, err := cl.Status(ctx)
		if err != nil {
			return err
		}
		m, err := cosign.NewMonitor(st, status.VerifierKey)
		if err != nil {
			return err
		}
		c, err := m.Sync(ctx, cl)
		if err != nil {
			return &logInvalid{err}
		}
		_, signed := m.Checkpoint()
		fmt.Fprintf(stdout, "log %s: size %d, root %s (consistent with the last checkpoint this device kept)\n", c.Origin, c.Size, c.Hash)
		if *out != "" {
			return os.WriteFile(*out, signed, 0o644)
		}
		return nil
	}
	return nil
}

// writeCertificates puts the user's and the organisation's certificates
// in the state directory as PEM, for openssl and auditors.
func writeCertificates(_ *custody.Store, dir string, cred *cosign.Credential) error {
	if err := transport.WriteCertificate(filepath.Join(dir, "user.crt"), cred.Cert); err != nil {
		return err
	}
	return transport.WriteCertificate(filepath.Join(dir, "org.crt"), cred.OrgCert)
}

func runCosignRecoveryKey(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("cosign recovery-key", flag.ContinueOnError)
	out := flags.String("out", "", "the recovery private key file to make (required; keep it offline)")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *out == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	k, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		return err
	}
	if err := custody.WritePrivateKeyFile(*out, k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recovery key in %s; its public key (for cosign enrol --recovery):\n%s\n", *out, k.Public())
	return nil
}

func runCosignRecover(stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("cosign recover", flag.ContinueOnError)
	state := flags.String("state", "", "the new device's state directory (required)")
	kitPath := flags.String("kit", "", "the recovery kit (required)")
	keyPath := flags.String("recovery-key", "", "the recovery private key (required)")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *state == "" || *kitPath == "" || *keyPath == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	st, err := openState(*state)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := readSmall(*kitPath, 64<<10)
	if err != nil {
		return badInput(fmt.Errorf("--kit: %w", err))
	}
	kit, err := cosign.ParseRecoveryKit(b)
	if err != nil {
		return badInput(fmt.Errorf("--kit: %w", err))
	}
	rk, err := custody.ReadPrivateKeyFile(*keyPath)
	if err != nil {
		return badInput(fmt.Errorf("--recovery-key: %w", err))
	}
	share, err := kit.Open(rk)
	if err != nil {
		return badInput(fmt.Errorf("--kit: %w", err))
	}
	cred, err := kit.Credential(share)
	if err != nil {
		return badInput(err)
	}
	if err := cosign.SaveCredential(st, cred); err != nil {
		return err
	}
	if err := writeCertificates(st, *state, cred); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s now signs with the recovery share (2-of-3 with the service)\n", cred.User)
	return nil
}
