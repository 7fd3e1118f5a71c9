package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maskshare/maskshare/custody/mpcsign"
	"github.com/maskshare/maskshare/transport"
)

// tlsFlags are the identity and trust flags of the signer and wallet
// commands, as for keynode.
type tlsFlags struct {
	key, cert, ca string
	peers         listFlag
}

func (f *tlsFlags) register(fs *flag.FlagSet, who string) {
	fs.StringVar(&f.key, "key", "", who+"'s TLS private key, maskshare keygen's NAME.key (required)")
	fs.StringVar(&f.cert, "cert", "", who+"'s certificate, self-signed or from a CA; its name is "+who+"'s name (required)")
	fs.StringVar(&f.ca, "ca", "", "certificate of the CA that issued the peers' certificates")
	fs.Var(&f.peers, "peer", "NAME=KEY: pin a peer's public key (repeatable)")
}

func (f *tlsFlags) load() (*transport.Identity, transport.Trust, []string, error) {
	var trust transport.Trust
	if f.key == "" || f.cert == "" {
		return nil, trust, nil, badInput(errors.New("--key and --cert are required"))
	}
	if err := checkPrivateFile(f.key); err != nil {
		return nil, trust, nil, badInput(fmt.Errorf("--key: %w", err))
	}
	id, err := transport.LoadIdentity(f.cert, f.key)
	if err != nil {
		return nil, trust, nil, badInput(fmt.Errorf("--key, --cert: %w", err))
	}
	if time.Now().After(id.Certificate.NotAfter) {
		return nil, trust, nil, badInput(fmt.Errorf("--cert: expired at %s", id.Certificate.NotAfter.UTC().Format(time.RFC3339)))
	}
	if f.ca != "" {
		if trust.Roots, err = transport.LoadCAPool(f.ca); err != nil {
			return nil, trust, nil, badInput(fmt.Errorf("--ca: %w", err))
		}
	}
	allowed := []string{transport.AnyPeer}
	if len(f.peers) > 0 {
		trust.Pins = make(map[string]ed25519.PublicKey, len(f.peers))
		allowed = nil
		for _, p := range f.peers {
			name, key, ok := strings.Cut(p, "=")
			if !ok || !transport.ValidName(name) {
				return nil, trust, nil, badInput(fmt.Errorf("--peer %q: want NAME=KEY", p))
			}
			if trust.Pins[name], err = transport.ParsePublicKey(key); err != nil {
				return nil, trust, nil, badInput(fmt.Errorf("--peer %s: %w", name, err))
			}
			allowed = append(allowed, name)
		}
	}
	if trust.Roots == nil && trust.Pins == nil {
		return nil, trust, nil, badInput(errors.New("--ca or --peer: peers must be authenticated"))
	}
	return id, trust, allowed, nil
}

// runSigner serves a pool node of the signer pool (SPEC.md §4.2): it
// takes part in FROST signings for the accounts enrolled with it, after
// checking each owner's authorisation, and never stores a share.
func runSigner(ctx context.Context, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("signer", flag.ContinueOnError)
	listen := flags.String("listen", "", "TCP address to listen on, such as 0.0.0.0:7700 (required)")
	dir := flags.String("dir", "", "data directory: the node's HPKE key and its database of accounts and spent requests (required; made 0700 if missing)")
	var tf tlsFlags
	tf.register(flags, "this node")
	level := flags.String("log-level", "info", "log level: debug, info, warn, error")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: maskshare signer --listen ADDR --dir DIR --key FILE --cert FILE (--ca FILE | --peer NAME=KEY...)")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *listen == "" || *dir == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return badInput(err)
	}
	id, trust, allowed, err := tf.load()
	if err != nil {
		return err
	}
	if err := privateDir(*dir, true); err != nil {
		return badInput(fmt.Errorf("--dir: %w", err))
	}
	tcfg, err := transport.ServerConfig(id, trust, allowed)
	if err != nil {
		return badInput(err)
	}
	tcfg.MaxMessageSize = max(mpcsign.MaxRequestSize, mpcsign.MaxResponseSize)
	tcfg.Logger = log
	s, err := mpcsign.OpenSigner(*dir, &mpcsign.SignerConfig{Name: id.Name, Logger: log})
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := transport.Listen(*listen, tcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signer %s listening on %s\n", id.Name, l.Addr())
	fmt.Fprintf(stdout, "node key: %s\n", s.PublicKey())
	fmt.Fprintf(stdout, "tls key:  %s\n", transport.FormatPublicKey(id.PublicKey()))
	if err := s.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "maskshare signer: shut down")
	return nil
}

const walletUsage = `usage: maskshare wallet COMMAND --dir DIR --key FILE --cert FILE (--ca FILE | --peer NAME=KEY...) --node NAME=ADDR... [flags]

commands:
  create  --account ID --device KEY -t T -n N [--period S] [--refresh-every D] [--qr FILE]
          make a t-of-n account for the owner's device key (ed25519:...), enrol it
          at the pool nodes and write the TOTP QR code for the device to scan;
          its shares are due for refresh every D (default 30d)
  sign    --account ID --message-file FILE (--auth FILE | --device-key FILE --device-cert FILE --code CODE [--nodes A,B,C])
          have t nodes sign; prints the Ed25519 signature (hex), checked with crypto/ed25519
  authorize --account ID --message-file FILE --nodes A,B,C --code CODE --device-key FILE --device-cert FILE --out FILE
          the owner's device: sign an authorisation for one message and node set
  choose  --account ID      draw t healthy nodes at random for the next request
  refresh --account ID      new shares of the same key (a new epoch)
  refresh --due             refresh every account whose interval has passed (for a
                            cron job or systemd timer); exit status 0 only if all did
  schedule --account ID --every D
                            change the account's refresh interval (D: 90m, 12h, 30d)
  repair  --account ID --share N
                            rebuild a lost share from t others (the key is never rebuilt)
  list                      accounts, epochs, last and next refresh, recorded cheaters
  nodes                     the pool nodes and whether they answer
`

// runWallet is the key holder of the signer pool.
func runWallet(ctx context.Context, stdout io.Writer, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(os.Stderr, walletUsage)
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	flags := flag.NewFlagSet("wallet "+sub, flag.ContinueOnError)
	flags.Usage = func() { fmt.Fprint(flags.Output(), walletUsage); flags.PrintDefaults() }
	dir := flags.String("dir", "", "the holder's data directory: its HPKE key and its store of sealed shares (required)")
	var tf tlsFlags
	tf.register(flags, "the holder")
	var nodes listFlag
	flags.Var(&nodes, "node", "NAME=ADDR: a pool node (repeatable)")
	account := flags.String("account", "", "account id")
	device := flags.String("device", "", "create: the owner's device public key (ed25519:..., from maskshare pubkey)")
	th := flags.Int("t", 0, "create: threshold t")
	n := flags.Int("n", 0, "create: number of shares n")
	period := flags.Int("period", mpcsign.DefaultPeriod, "create: TOTP time step in seconds")
	qr := flags.String("qr", "", "create: write the TOTP QR code PNG here (mode 0600)")
	msgFile := flags.String("message-file", "", "sign, authorize: the message to sign")
	authFile := flags.String("auth", "", "sign: the owner's authorisation (from wallet authorize)")
	devKey := flags.String("device-key", "", "sign, authorize: the device's private key (maskshare keygen's NAME.key)")
	devCert := flags.String("device-cert", "", "sign, authorize: the device's certificate")
	code := flags.String("code", "", "sign, authorize: the TOTP code the authenticator shows")
	nodeSet := flags.String("nodes", "", "sign, authorize: the node set, comma-separated (sign: default, t drawn at random)")
	out := flags.String("out", "", "authorize: write the authorisation here")
	shareID := flags.Int("share", 0, "repair: the share identifier to rebuild")
	var refreshEvery, every intervalFlag
	flags.Var(&refreshEvery, "refresh-every", "create: the refresh interval, like 12h or 30d (default 30d)")
	flags.Var(&every, "every", "schedule: the new refresh interval, like 12h or 30d")
	due := flags.Bool("due", false, "refresh: every account that is due, instead of --account")
	level := flags.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := flags.Parse(args); err != nil {
		return badInput(err)
	}
	if *dir == "" || flags.NArg() != 0 {
		flags.Usage()
		return flag.ErrHelp
	}
	readMessage := func() ([]byte, error) {
		if *msgFile == "" {
			return nil, badInput(errors.New("--message-file is required"))
		}
		b, err := os.ReadFile(*msgFile)
		if err == nil && len(b) > mpcsign.MaxMessage {
			err = fmt.Errorf("%d bytes, at most %d (sign a hash of larger data)", len(b), mpcsign.MaxMessage)
		}
		if err != nil {
			return nil, badInput(fmt.Errorf("--message-file: %w", err))
		}
		return b, nil
	}
	authorize := func(msg []byte, set []string) ([]byte, error) {
		if *devKey == "" || *devCert == "" || *code == "" {
			return nil, badInput(errors.New("--device-key, --device-cert and --code are required to authorise"))
		}
		if err := checkPrivateFile(*devKey); err != nil {
			return nil, badInput(fmt.Errorf("--device-key: %w", err))
		}
		dev, err := transport.LoadIdentity(*devCert, *devKey)
		if err != nil {
			return nil, badInput(fmt.Errorf("--device-key: %w", err))
		}
		a, err := mpcsign.NewAuthorization(*account, msg, set, *code, time.Now())
		if err != nil {
			return nil, badInput(err)
		}
		return a.Sign(dev.PrivateKey)
	}
	splitNodes := func() []string {
		if *nodeSet == "" {
			return nil
		}
		return strings.Split(*nodeSet, ",")
	}
	if sub == "authorize" {
		msg, err := readMessage()
		if err != nil {
			return err
		}
		if *out == "" || *nodeSet == "" {
			return badInput(errors.New("--out and --nodes are required"))
		}
		b, err := authorize(msg, splitNodes())
		if err != nil {
			return err
		}
		return os.WriteFile(*out, b, 0o600)
	}

	log, err := newLogger(*level, os.Stderr)
	if err != nil {
		return badInput(err)
	}
	id, trust, _, err := tf.load()
	if err != nil {
		return err
	}
	var pool []mpcsign.NodeAddr
	for _, s := range nodes {
		name, addr, ok := strings.Cut(s, "=")
		if !ok || !transport.ValidName(name) || addr == "" {
			return badInput(fmt.Errorf("--node %q: want NAME=ADDR", s))
		}
		pool = append(pool, mpcsign.NodeAddr{Name: name, Addr: addr})
	}
	if err := privateDir(*dir, true); err != nil {
		return badInput(fmt.Errorf("--dir: %w", err))
	}
	h, err := mpcsign.OpenHolder(*dir, &mpcsign.HolderConfig{Identity: id, Trust: trust, Pool: pool, Logger: log, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer h.Close()
	needAccount := func() error {
		if *account == "" {
			return badInput(errors.New("--account is required"))
		}
		return nil
	}
	switch sub {
	case "create":
		if err := needAccount(); err != nil {
			return err
		}
		dk, err := transport.ParsePublicKey(*device)
		if err != nil {
			return badInput(fmt.Errorf("--device: %w", err))
		}
		if *qr == "" {
			return badInput(errors.New("--qr is required: the device must get the TOTP key"))
		}
		f, err := os.OpenFile(*qr, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return badInput(fmt.Errorf("--qr: %w", err))
		}
		defer f.Close()
		acct, key, err := h.CreateAccount(ctx, *account, dk, &mpcsign.CreateOptions{Threshold: *th, Shares: *n, Period: *period, RefreshEvery: time.Duration(refreshEvery)})
		if err != nil {
			os.Remove(*qr)
			if errors.Is(err, mpcsign.ErrBadInterval) {
				return badInput(fmt.Errorf("--refresh-every: %w", err))
			}
			return err
		}
		if err := mpcsign.WriteQR(f, key, 320); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: %d-of-%d, epoch %d\n", acct.ID, acct.Threshold(), len(acct.Shares()), acct.Epoch)
		if s, err := h.Schedule(acct.ID); err == nil {
			fmt.Fprintf(stdout, "refresh every %s, next due %s\n", formatInterval(s.Every), formatNext(s))
		}
		fmt.Fprintf(stdout, "group key: %s\n", hex.EncodeToString(acct.GroupKey()))
		fmt.Fprintf(stdout, "TOTP QR code: %s (scan it with the device, then delete it)\n", *qr)
	case "choose":
		if err := needAccount(); err != nil {
			return err
		}
		set, err := h.ChooseNodes(ctx, *account)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "nodes: %s\n", strings.Join(set, ","))
	case "sign":
		if err := needAccount(); err != nil {
			return err
		}
		msg, err := readMessage()
		if err != nil {
			return err
		}
		var auth []byte
		if *authFile != "" {
			if auth, err = os.ReadFile(*authFile); err != nil {
				return badInput(fmt.Errorf("--auth: %w", err))
			}
		} else {
			set := splitNodes()
			if set == nil {
				if set, err = h.ChooseNodes(ctx, *account); err != nil {
					return err
				}
			}
			if auth, err = authorize(msg, set); err != nil {
				return err
			}
		}
		a, err := mpcsign.ParseAuthorization(auth)
		if err != nil {
			return badInput(fmt.Errorf("--auth: %w", err))
		}
		acct, _, err := h.Account(*account)
		if err != nil {
			return err
		}
		sig, err := h.Sign(ctx, msg, auth)
		if err != nil {
			return err
		}
		if !ed25519.Verify(acct.GroupKey(), msg, sig) {
			return errors.New("signature does not verify") // Sign checked it already
		}
		fmt.Fprintf(stdout, "nodes: %s\n", strings.Join(a.Nodes, ","))
		fmt.Fprintf(stdout, "signature: %s\n", hex.EncodeToString(sig))
		fmt.Fprintf(stdout, "verified with crypto/ed25519 under %s\n", hex.EncodeToString(acct.GroupKey()))
	case "refresh":
		printRefresh := func(account string, res *mpcsign.RefreshResult) {
			var acks []string
			for id, node := range res.Acks {
				acks = append(acks, fmt.Sprintf("%d@%s", id, node))
			}
			slices.Sort(acks)
			fmt.Fprintf(stdout, "account %s refreshed to epoch %d; new shares acknowledged: %s\n", account, res.Epoch, strings.Join(acks, " "))
		}
		if *due {
			if *account != "" {
				return badInput(errors.New("--due and --account exclude each other"))
			}
			done, err := h.RefreshDue(ctx)
			for _, id := range slices.Sorted(maps.Keys(done)) {
				printRefresh(id, done[id])
			}
			if err != nil {
				return err
			}
			if len(done) == 0 {
				fmt.Fprintln(stdout, "no account is due for refresh")
			}
			return nil
		}
		if err := needAccount(); err != nil {
			return err
		}
		res, err := h.Refresh(ctx, *account)
		if err != nil {
			return err
		}
		printRefresh(*account, res)
	case "schedule":
		if err := needAccount(); err != nil {
			return err
		}
		if every == 0 {
			return badInput(errors.New("--every is required"))
		}
		if err := h.SetRefreshInterval(*account, time.Duration(every)); err != nil {
			if errors.Is(err, mpcsign.ErrBadInterval) {
				return badInput(err)
			}
			return err
		}
		s, err := h.Schedule(*account)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: refresh every %s, next due %s\n", *account, formatInterval(s.Every), formatNext(s))
	case "repair":
		if err := needAccount(); err != nil {
			return err
		}
		if *shareID < 1 || *shareID > mpcsign.MaxSigners {
			return badInput(fmt.Errorf("--share %d: want 1..%d", *shareID, mpcsign.MaxSigners))
		}
		helpers, err := h.Repair(*account, uint16(*shareID))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: share %d repaired from shares %v\n", *account, *shareID, helpers)
	case "list":
		ids, err := h.Accounts()
		if err != nil {
			return err
		}
		for _, id := range ids {
			acct, enrolled, err := h.Account(id)
			if err != nil {
				return err
			}
			s, err := h.Schedule(id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\t%d-of-%d\tepoch %d\tgroup key %s\tnodes %s\n", id, acct.Threshold(), len(acct.Shares()), acct.Epoch,
				hex.EncodeToString(acct.GroupKey()), strings.Join(enrolled, ","))
			state := ""
			if s.Due(time.Now()) {
				state = " (due)"
			}
			fmt.Fprintf(stdout, "\trefresh every %s\tlast %s\tnext %s%s\n", formatInterval(s.Every), formatTime(s.Last), formatNext(s), state)
			cs, err := h.Cheaters(id)
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintf(stdout, "\tcheater: request %x at %s: %s\n", c.RequestID, c.Time.UTC().Format(time.RFC3339), strings.Join(c.Nodes, ","))
			}
		}
	case "nodes":
		for _, st := range h.Nodes(ctx) {
			if st.Err != nil {
				fmt.Fprintf(stdout, "%s\t%s\tdown: %v\n", st.Name, st.Addr, st.Err)
				continue
			}
			fmt.Fprintf(stdout, "%s\t%s\tup, %d accounts, node key %s\n", st.Name, st.Addr, st.Accounts, st.Key.String()[:24]+"...")
		}
	default:
		fmt.Fprint(os.Stderr, walletUsage)
		return badInput(fmt.Errorf("unknown wallet command %q", sub))
	}
	return nil
}

// intervalFlag is a refresh interval: a Go duration (90m, 12h) or a whole
// number of days (30d).
type intervalFlag time.Duration

func (f *intervalFlag) String() string { return formatInterval(time.Duration(*f)) }

func (f *intervalFlag) Set(v string) error {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > int(mpcsign.MaxRefreshInterval/(24*time.Hour)) {
			return fmt.Errorf("%q: want a number of days within 1..%d", v, mpcsign.MaxRefreshInterval/(24*time.Hour))
		}
		*f = intervalFlag(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("%q: not positive", v)
	}
	*f = intervalFlag(d)
	return nil
}

// formatInterval writes whole days as 30d, other intervals as Go does.
func formatInterval(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// formatTime writes t in UTC, RFC 3339; the zero time (no recorded
// refresh, so due now) as "unknown".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// formatNext writes when a schedule is next due; "now" for an account
// with no recorded refresh.
func formatNext(s mpcsign.Schedule) string {
	if s.Last.IsZero() {
		return "now"
	}
	return formatTime(s.Next())
}
