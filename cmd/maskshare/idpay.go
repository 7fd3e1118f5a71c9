package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/maskshare/maskshare/custody/idpay"
	"github.com/maskshare/maskshare/internal/durable"
)

const idpayUsage = `usage: maskshare idpay COMMAND [flags]   (identity keys for QR payments, SPEC.md §4.4)

  keygen  --out FILE                        make an Ed25519 key on this device (file 0600); print its public key
  issue   --issuer-key FILE --subdomain S --user U --pubkey HEX --serial N [--valid DUR] --out FILE
                                            certify a user's public key (issuer)
  issue   --revoke --issuer-key FILE --subdomain S --number N [--serials 3,7] [--next-update DUR] --out FILE
                                            sign a revocation list (issuer)
  request --key FILE --cert FILE --amount N --currency CUR [--offline] --out PREFIX
                                            payee: write the payment request as PREFIX.png and PREFIX.txt
  pay     --key FILE --cert FILE --trust FILE --request FILE (--backend URL | --offline --out PREFIX [--yes])
                                            payer: check the request, pay online, or sign back offline
  verify  --key FILE --cert FILE --trust FILE --request FILE --acceptance FILE --out FILE
                                            payee: check the payer's offline acceptance, write the receipt
  verify  --trust FILE --cert FILE          check a certificate now
  verify  --receipt FILE --backend URL      submit a receipt for settlement
  backend --listen ADDR --db FILE --trust FILE [--crl FILE...] [--tls-cert F --tls-key F]
                                            serve challenges, payments and receipts over HTTP(S)

The trust file lists one issuer per line: "SUBDOMAIN HEX-PUBLIC-KEY" (# starts a comment).
QR payloads are base45 text (RFC 9285); FILE arguments holding them may be the .txt files written here.
Amounts are in minor units (cents).
`

// runIdpay dispatches the idpay subcommands.
func runIdpay(ctx context.Context, stdout io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, idpayUsage)
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "keygen":
		return idpayKeygen(stdout, args)
	case "issue":
		return idpayIssue(stdout, args)
	case "request":
		return idpayRequest(stdout, args, time.Now())
	case "pay":
		return idpayPay(ctx, stdout, os.Stdin, args, time.Now())
	case "verify":
		return idpayVerify(ctx, stdout, args, time.Now())
	case "backend":
		return idpayBackend(ctx, args)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, idpayUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, idpayUsage)
	return badInput(fmt.Errorf("unknown idpay command %q", sub))
}

func idpayFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("idpay "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: maskshare idpay "+name+" "+usage)
		fs.PrintDefaults()
	}
	return fs
}

// idpayParse parses flags and checks the required ones are set.
func idpayParse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return badInput(err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return badInput(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	for _, r := range required {
		if f := fs.Lookup(r); f == nil || f.Value.String() == "" {
			fs.Usage()
			return badInput(fmt.Errorf("--%s is required", r))
		}
	}
	return nil
}

// Key files hold the 32-byte Ed25519 seed in hex, mode 0600.
func idpayWriteKey(path string, key ed25519.PrivateKey) error {
	b := fmt.Appendf(nil, "%x\n", key.Seed())
	defer clear(b)
	return durable.CreateFile(path, b, 0o600)
}

func idpayReadKey(path string) (ed25519.PrivateKey, error) {
	if err := checkPrivateFile(path); err != nil {
		return nil, badInput(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, badInput(fmt.Errorf("%s: not an idpay key file (64 hex digits)", path))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// idpayReadPayload reads a file holding base45 text (as written next to a
// QR image, or as a scanner returns it) or raw binary.
func idpayReadPayload(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(err)
	}
	if len(b) > 0 && b[0] == idpay.Version {
		return b, nil
	}
	p, err := idpay.Base45Decode(strings.TrimRight(string(b), "\r\n"))
	if err != nil {
		return nil, badInput(fmt.Errorf("%s: %w", path, err))
	}
	return p, nil
}

func idpayReadCert(path string) (*idpay.Certificate, error) {
	b, err := idpayReadPayload(path)
	if err != nil {
		return nil, err
	}
	c, err := idpay.ParseCertificate(b)
	return c, badInput(err)
}

// idpayReadTrust reads a trust file: "SUBDOMAIN HEX-KEY" per line.
func idpayReadTrust(path string, cfg *idpay.Config) (*idpay.Trust, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(err)
	}
	tr, err := idpayParseTrust(b, cfg)
	if err != nil {
		return nil, badInput(fmt.Errorf("%s%w", path, err))
	}
	return tr, nil
}

// idpayMaxTrustFile bounds a trust file (about 10,000 issuers).
const idpayMaxTrustFile = 1 << 20

// idpayParseTrust parses a trust file's contents; errors start with
// ":LINE: " for the caller to prefix with the file name.
func idpayParseTrust(b []byte, cfg *idpay.Config) (*idpay.Trust, error) {
	if len(b) > idpayMaxTrustFile {
		return nil, fmt.Errorf(": %d bytes, more than %d", len(b), idpayMaxTrustFile)
	}
	tr := idpay.NewTrust(cfg)
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf(":%d: want SUBDOMAIN HEX-PUBLIC-KEY", i+1)
		}
		pub, err := hex.DecodeString(f[1])
		if err != nil {
			return nil, fmt.Errorf(":%d: public key: %w", i+1, err)
		}
		if tr.Issuer(f[0]) != nil {
			return nil, fmt.Errorf(":%d: sub-domain %q listed twice", i+1, f[0])
		}
		if err := tr.AddIssuer(f[0], pub); err != nil {
			return nil, fmt.Errorf(":%d: %w", i+1, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf(": no issuers")
	}
	return tr, nil
}

// idpayWriteQR writes payload as PREFIX.png (QR code) and PREFIX.txt
// (its base45 text).
func idpayWriteQR(stdout io.Writer, prefix string, payload []byte) error {
	c, err := idpay.QRCode(payload, idpay.DefaultLevel)
	if err != nil {
		return err
	}
	img, err := c.PNG(6)
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".png", img, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".txt", []byte(c.Text+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.png (QR version %d-%v, %d bytes as %d base45 characters) and %s.txt\n",
		prefix, c.Version, c.Level, len(payload), len(c.Text), prefix)
	return nil
}

func idpayKeygen(stdout io.Writer, args []string) error {
	fs := idpayFlags("keygen", "--out FILE")
	out := fs.String("out", "", "key file to create (mode 0600; never overwritten)")
	if err := idpayParse(fs, args, "out"); err != nil {
		return err
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := idpayWriteKey(*out, key); err != nil {
		return badInput(err)
	}
	fmt.Fprintf(stdout, "%x\n", pub)
	return nil
}

func idpayIssue(stdout io.Writer, args []string) error {
	fs := idpayFlags("issue", "--issuer-key FILE --subdomain S (--user U --pubkey HEX --serial N | --revoke --number N) --out FILE")
	keyPath := fs.String("issuer-key", "", "the issuer's key file")
	sub := fs.String("subdomain", "", "the issuer's business sub-domain ID")
	user := fs.String("user", "", "user ID to certify")
	pubHex := fs.String("pubkey", "", "the user's public key in hex, made on the user's device (idpay keygen)")
	serial := fs.Uint64("serial", 0, "certificate serial, unique per issuer")
	valid := fs.Duration("valid", 30*24*time.Hour, "validity from now (keep it short: it bounds a stolen phone's use when revocation lists are not fresh)")
	revoke := fs.Bool("revoke", false, "sign a revocation list instead of a certificate")
	number := fs.Uint64("number", 0, "revocation list number, higher than the last one published")
	serials := fs.String("serials", "", "comma-separated revoked serials")
	next := fs.Duration("next-update", 24*time.Hour, "revocation list: time until the next list is due")
	out := fs.String("out", "", "output file (binary)")
	if err := idpayParse(fs, args, "issuer-key", "subdomain", "out"); err != nil {
		return err
	}
	key, err := idpayReadKey(*keyPath)
	if err != nil {
		return err
	}
	is, err := idpay.NewIssuer(*sub, key)
	if err != nil {
		return badInput(err)
	}
	now := time.Now()
	var enc []byte
	if *revoke {
		var list []uint64
		for _, s := range strings.Split(*serials, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return badInput(fmt.Errorf("--serials: %w", err))
			}
			list = append(list, v)
		}
		l, err := is.Revoke(*number, now, now.Add(*next), list)
		if err != nil {
			return badInput(err)
		}
		enc = l.Bytes()
		fmt.Fprintf(stdout, "revocation list %d of %s: %d serials, next update %s\n", l.Number, l.Subdomain, len(l.Serials), l.NextUpdate.Format(time.RFC3339))
	} else {
		if *user == "" || *pubHex == "" || *serial == 0 {
			fs.Usage()
			return badInput(errors.New("--user, --pubkey and --serial (non-zero) are required"))
		}
		pub, err := hex.DecodeString(*pubHex)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return badInput(fmt.Errorf("--pubkey: want 64 hex digits"))
		}
		c, err := is.Issue(*user, pub, now.Add(-time.Minute), now.Add(*valid), *serial)
		if err != nil {
			return badInput(err)
		}
		enc = c.Bytes()
		fmt.Fprintf(stdout, "certificate %s/%s serial %d, valid until %s, %d bytes\n", c.Subdomain, c.User, c.Serial, c.NotAfter.Format(time.RFC3339), len(enc))
	}
	return os.WriteFile(*out, enc, 0o644)
}

// idpayWallet loads a wallet from --key, --cert and --trust.
func idpayWallet(keyPath, certPath, trustPath string) (*idpay.Wallet, *idpay.Trust, error) {
	key, err := idpayReadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cert, err := idpayReadCert(certPath)
	if err != nil {
		return nil, nil, err
	}
	tr := idpay.NewTrust(nil)
	if trustPath != "" {
		if tr, err = idpayReadTrust(trustPath, nil); err != nil {
			return nil, nil, err
		}
	}
	w, err := idpay.NewWallet(key, cert, tr)
	return w, tr, badInput(err)
}

func idpayRequest(stdout io.Writer, args []string, now time.Time) error {
	fs := idpayFlags("request", "--key FILE --cert FILE --amount N --currency CUR [--offline] --out PREFIX")
	keyPath := fs.String("key", "", "the payee's key file")
	certPath := fs.String("cert", "", "the payee's certificate")
	amount := fs.Uint64("amount", 0, "amount in minor units")
	currency := fs.String("currency", "", "currency, three letters (EUR)")
	offline := fs.Bool("offline", false, "an offline payment (the payer signs this request's nonce back)")
	out := fs.String("out", "", "output prefix: PREFIX.png and PREFIX.txt")
	if err := idpayParse(fs, args, "key", "cert", "currency", "out"); err != nil {
		return err
	}
	w, _, err := idpayWallet(*keyPath, *certPath, "")
	if err != nil {
		return err
	}
	mode := idpay.Online
	if *offline {
		mode = idpay.Offline
	}
	q, err := w.Request(mode, *amount, *currency, now)
	if err != nil {
		return badInput(err)
	}
	fmt.Fprintln(stdout, q)
	return idpayWriteQR(stdout, *out, q.Bytes())
}

func idpayPay(ctx context.Context, stdout io.Writer, stdin io.Reader, args []string, now time.Time) error {
	fs := idpayFlags("pay", "--key FILE --cert FILE --trust FILE --request FILE (--backend URL | --offline --out PREFIX [--yes])")
	keyPath := fs.String("key", "", "the payer's key file")
	certPath := fs.String("cert", "", "the payer's certificate")
	trustPath := fs.String("trust", "", "trusted issuers file")
	reqPath := fs.String("request", "", "the payee's request (base45 text as scanned, or binary)")
	backend := fs.String("backend", "", "online: the back end's URL (http://HOST:PORT or https://...)")
	caPath := fs.String("ca", "", "online over https: CA certificate (PEM) of the back end")
	offline := fs.Bool("offline", false, "offline: sign the request's challenge back into a QR code")
	out := fs.String("out", "", "offline: output prefix for the acceptance (PREFIX.png, PREFIX.txt) and receipt (PREFIX.receipt)")
	yes := fs.Bool("yes", false, "offline: do not ask for confirmation")
	if err := idpayParse(fs, args, "key", "cert", "trust", "request"); err != nil {
		return err
	}
	w, _, err := idpayWallet(*keyPath, *certPath, *trustPath)
	if err != nil {
		return err
	}
	raw, err := idpayReadPayload(*reqPath)
	if err != nil {
		return err
	}
	q, err := idpay.ParseRequest(raw)
	if err != nil {
		return badInput(err)
	}
	if *offline {
		if *out == "" {
			return badInput(errors.New("--offline needs --out"))
		}
		confirm := func(q *idpay.Request) bool {
			if *yes {
				return true
			}
			fmt.Fprintf(stdout, "pay %d %s (minor units) to %s/%s? [y/N] ", q.Amount, q.Currency, q.Payee.Subdomain, q.Payee.User)
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
		}
		a, err := w.Accept(q, now, confirm)
		if err != nil {
			return err
		}
		rc := &idpay.Receipt{Request: q, Acceptance: a}
		if err := os.WriteFile(*out+".receipt", rc.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accepted: %v\n", q)
		return idpayWriteQR(stdout, *out, a.Bytes())
	}
	if *backend == "" {
		return badInput(errors.New("give --backend URL (online) or --offline"))
	}
	if err := w.CheckRequest(q, idpay.Online, now); err != nil {
		return err
	}
	client, err := idpayClient(*caPath)
	if err != nil {
		return err
	}
	chRaw, err := idpayPost(ctx, client, *backend+"/v1/challenge", nil)
	if err != nil {
		return err
	}
	ch, err := idpay.ParseChallenge(chRaw)
	if err != nil {
		return err
	}
	p, err := w.Pay(q, ch, time.Now())
	if err != nil {
		return err
	}
	res, err := idpayPost(ctx, client, *backend+"/v1/payment", p.Bytes())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "paid: %s", res)
	return nil
}

func idpayVerify(ctx context.Context, stdout io.Writer, args []string, now time.Time) error {
	fs := idpayFlags("verify", "--key FILE --cert FILE --trust FILE --request FILE --acceptance FILE --out FILE | --trust FILE --cert FILE | --receipt FILE --backend URL")
	keyPath := fs.String("key", "", "the payee's key file")
	certPath := fs.String("cert", "", "the payee's certificate (or the certificate to check)")
	trustPath := fs.String("trust", "", "trusted issuers file")
	reqPath := fs.String("request", "", "the payee's own offline request")
	accPath := fs.String("acceptance", "", "the payer's acceptance (base45 text as scanned, or binary)")
	out := fs.String("out", "", "receipt file to write")
	receiptPath := fs.String("receipt", "", "a receipt to submit to --backend")
	backend := fs.String("backend", "", "the back end's URL")
	caPath := fs.String("ca", "", "over https: CA certificate (PEM) of the back end")
	if err := idpayParse(fs, args); err != nil {
		return err
	}
	switch {
	case *receiptPath != "":
		if *backend == "" {
			return badInput(errors.New("--receipt needs --backend"))
		}
		raw, err := os.ReadFile(*receiptPath)
		if err != nil {
			return badInput(err)
		}
		client, err := idpayClient(*caPath)
		if err != nil {
			return err
		}
		res, err := idpayPost(ctx, client, *backend+"/v1/receipt", raw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "settled: %s", res)
		return nil
	case *accPath != "":
		if *keyPath == "" || *certPath == "" || *trustPath == "" || *reqPath == "" || *out == "" {
			return badInput(errors.New("--acceptance needs --key, --cert, --trust, --request and --out"))
		}
		w, _, err := idpayWallet(*keyPath, *certPath, *trustPath)
		if err != nil {
			return err
		}
		qRaw, err := idpayReadPayload(*reqPath)
		if err != nil {
			return err
		}
		q, err := idpay.ParseRequest(qRaw)
		if err != nil {
			return badInput(err)
		}
		aRaw, err := idpayReadPayload(*accPath)
		if err != nil {
			return err
		}
		a, err := idpay.ParseAcceptance(aRaw)
		if err != nil {
			return badInput(err)
		}
		rc, err := w.Complete(q, a, now)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, rc.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "paid by %s/%s: %v; receipt in %s\n", a.Payer.Subdomain, a.Payer.User, q, *out)
		return nil
	case *certPath != "" && *trustPath != "":
		c, err := idpayReadCert(*certPath)
		if err != nil {
			return err
		}
		tr, err := idpayReadTrust(*trustPath, nil)
		if err != nil {
			return err
		}
		if err := tr.VerifyCertificate(c, now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "valid: %s/%s serial %d, key %x, until %s\n", c.Subdomain, c.User, c.Serial, c.PublicKey, c.NotAfter.Format(time.RFC3339))
		return nil
	}
	fs.Usage()
	return flag.ErrHelp
}

func idpayClient(caPath string) (*http.Client, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	if caPath != "" {
		pem, err := os.ReadFile(caPath)
		if err != nil {
			return nil, badInput(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, badInput(fmt.Errorf("%s: no PEM certificate", caPath))
		}
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}
	}
	return c, nil
}

// idpayPost posts body and returns the response body; a refusal comes back
// as an error carrying the back end's message.
func idpayPost(ctx context.Context, c *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, badInput(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("back end %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// idpayHandler serves the back end's HTTP API: POST /v1/challenge returns
// a challenge encoding; POST /v1/payment and /v1/receipt take a payment or
// receipt encoding and return the record as a line of text once it is on
// disk. Refusals are 409 (replay, double spend), 422 (other refusals) or
// 400 (malformed), with the reason as text.
func idpayHandler(b *idpay.Backend, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/challenge", func(w http.ResponseWriter, r *http.Request) {
		ch, err := b.NewChallenge(r.Context(), now())
		if err != nil {
			http.Error(w, "challenge: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(ch.Bytes())
	})
	submit := func(fn func(context.Context, []byte, time.Time) (*idpay.Record, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, idpay.MaxEncodedLen))
			if err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			rec, err := fn(r.Context(), body, now())
			switch {
			case err == nil:
				fmt.Fprintln(w, rec)
			case errors.Is(err, idpay.ErrReplay), errors.Is(err, idpay.ErrDoubleSpend), errors.Is(err, idpay.ErrDuplicateReceipt):
				http.Error(w, err.Error(), http.StatusConflict)
			case errors.Is(err, idpay.ErrRefused):
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			case errors.Is(err, idpay.ErrMalformed):
				http.Error(w, err.Error(), http.StatusBadRequest)
			default:
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}
	}
	mux.HandleFunc("POST /v1/payment", submit(b.SubmitPayment))
	mux.HandleFunc("POST /v1/receipt", submit(b.SubmitReceipt))
	return mux
}

// idpayBodyTimeout bounds the time to read a request (headers and body,
// at most idpay.MaxEncodedLen bytes) and to write its answer; idle
// keep-alive connections are closed after as long. Without it a client
// that sends its headers and then trickles or stalls its body holds a
// connection and a goroutine for ever.
const idpayBodyTimeout = 30 * time.Second

// idpayServer is the back end's HTTP server, every read and write bounded
// by timeout.
func idpayServer(h http.Handler, timeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, timeout),
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    16 << 10,
	}
}

func idpayBackend(ctx context.Context, args []string) error {
	fs := idpayFlags("backend", "--listen ADDR --db FILE --trust FILE [--crl FILE...] [--tls-cert FILE --tls-key FILE]")
	listen := fs.String("listen", "", "TCP address, such as 127.0.0.1:7700")
	db := fs.String("db", "", "the back end's database (created 0600 if missing)")
	trustPath := fs.String("trust", "", "trusted issuers file")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "and this key (PEM, mode 0600)")
	requireFresh := fs.Bool("require-fresh-crl", false, "refuse certificates of sub-domains without a revocation list before its next-update")
	var crls listFlag
	fs.Var(&crls, "crl", "revocation list file (repeatable)")
	if err := idpayParse(fs, args, "listen", "db", "trust"); err != nil {
		return err
	}
	tr, err := idpayReadTrust(*trustPath, &idpay.Config{RequireFreshList: *requireFresh})
	if err != nil {
		return err
	}
	for _, c := range crls {
		raw, err := os.ReadFile(c)
		if err != nil {
			return badInput(err)
		}
		l, err := idpay.ParseRevocationList(raw)
		if err != nil {
			return badInput(fmt.Errorf("%s: %w", c, err))
		}
		if err := tr.SetRevocationList(l); err != nil {
			return badInput(fmt.Errorf("%s: %w", c, err))
		}
	}
	be, err := idpay.OpenBackend(*db, tr)
	if err != nil {
		return err
	}
	defer be.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return badInput(err)
	}
	srv := idpayServer(idpayHandler(be, time.Now), idpayBodyTimeout)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	fmt.Fprintf(os.Stderr, "idpay backend listening on %s\n", ln.Addr())
	if *tlsCert != "" {
		if err := checkPrivateFile(*tlsKey); err != nil {
			return badInput(err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
		err = srv.ServeTLS(ln, *tlsCert, *tlsKey)
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
