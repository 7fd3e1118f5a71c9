// Command mpcwallet runs the signer pool of SPEC.md §4.2 on loopback: 7
// pool nodes, each a separate process serving over mutual TLS with its own
// HPKE key and bbolt store, and a key holder with a 3-of-5 account whose
// key exists only as 5 FROST shares sealed to the holder, made by
// COCKTAIL-DKG among 5 of the nodes (no dealer ever holds it). The owner's
// device scans the account's TOTP QR code; then:
//
//   - three requests, each authorised by the device (Ed25519 signature
//     over the exact message and node set, plus a TOTP code) and served by
//     a different set of 3 nodes;
//   - one request refused by the nodes for a stale TOTP code;
//   - one request in which a node sends a bad signature share: the holder
//     names it;
//   - a refresh (new shares, same public key; old shares deleted only after
//     the new ones are acknowledged), and a signature with the new shares.
//
// Every signature is checked with crypto/ed25519 under the account's
// public key.
//
// The cheating node is a demo device: the environment variable
// MPCWALLET_CHEAT, read only by this program's node wrapper, makes that
// node add one to its signature shares. Package mpcsign has no such
// switch.
//
//	go run ./examples/mpcwallet
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/edwards25519"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"

	"github.com/maskshare/maskshare/custody/mpcsign"
	"github.com/maskshare/maskshare/internal/child"
	"github.com/maskshare/maskshare/transport"
)

const (
	poolSize  = 7
	threshold = 3
	shares    = 5
	// period is the account's TOTP step: 10 s so that the demo's waits
	// for a fresh code are short; authenticator apps use 30.
	period   = 10
	nodeEnv  = "MPCWALLET_NODE"  // set in a node process: its directory
	cheatEnv = "MPCWALLET_CHEAT" // set in one node process: it cheats
	cheater  = "signer-5"
)

func main() {
	if dir := os.Getenv(nodeEnv); dir != "" {
		if err := serveNode(dir, os.Getenv(cheatEnv) == "1"); err != nil {
			fmt.Fprintln(os.Stderr, "mpcwallet node:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mpcwallet:", err)
		os.Exit(1)
	}
}

type node struct {
	addr mpcsign.NodeAddr
	cmd  *exec.Cmd
	in   io.WriteCloser // closing it stops the node
}

// device is the owner's phone: its Ed25519 key and the TOTP key it
// scanned.
type device struct {
	key  ed25519.PrivateKey
	totp *otp.Key
}

func (d *device) authorize(account string, msg []byte, nodes []string, at time.Time) ([]byte, error) {
	code, err := mpcsign.Code(d.totp, at)
	if err != nil {
		return nil, err
	}
	a, err := mpcsign.NewAuthorization(account, msg, nodes, code, time.Now())
	if err != nil {
		return nil, err
	}
	return a.Sign(d.key)
}

// waitNextStep waits for the next TOTP step: a node accepts each code
// once (RFC 6238 §5.2).
func waitNextStep() {
	now := time.Now()
	next := now.Truncate(period * time.Second).Add(period * time.Second)
	fmt.Printf("  (waiting %.1f s for the device's next TOTP code)\n", next.Sub(now).Seconds())
	time.Sleep(next.Sub(now) + 50*time.Millisecond)
}

func run() error {
	root, err := os.MkdirTemp("", "mpcwallet")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx := context.Background()

	// Identities, all issued by one CA made here for brevity; in a
	// deployment each node makes its key and the CA signs its request.
	ca, err := transport.NewCA("mpcwallet-ca")
	if err != nil {
		return err
	}
	if err := transport.WriteCertificate(filepath.Join(root, "ca.crt"), ca.Certificate); err != nil {
		return err
	}
	nodes := make([]*node, poolSize)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.in.Close()
				n.cmd.Wait()
			}
		}
	}()
	var pool []mpcsign.NodeAddr
	for i := range poolSize {
		name := fmt.Sprintf("signer-%d", i+1)
		id, err := ca.Issue(name)
		if err != nil {
			return err
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := id.WriteFiles(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")); err != nil {
			return err
		}
		if nodes[i], err = startNode(dir, name, name == cheater); err != nil {
			return err
		}
		pool = append(pool, nodes[i].addr)
	}
	fmt.Printf("started %d pool nodes (separate processes, mutual TLS)\n", poolSize)

	holderID, err := ca.Issue("holder")
	if err != nil {
		return err
	}
	hdir := filepath.Join(root, "holder")
	if err := os.Mkdir(hdir, 0o700); err != nil {
		return err
	}
	h, err := mpcsign.OpenHolder(hdir, &mpcsign.HolderConfig{Identity: holderID, Trust: transport.Trust{Roots: ca.Pool()}, Pool: pool})
	if err != nil {
		return err
	}
	defer h.Close()

	// The owner's device makes its key; the holder creates the account.
	dev := &device{}
	devPub, devKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	dev.key = devKey
	acct, totpKey, err := h.CreateAccount(ctx, "alice-wallet", devPub, &mpcsign.CreateOptions{Threshold: threshold, Shares: shares, Period: period})
	if err != nil {
		return err
	}
	gk := acct.GroupKey()
	fmt.Printf("account %s: %d-of-%d FROST key made by COCKTAIL-DKG among %d of the nodes (no dealer), enrolled at all %d\n", acct.ID, threshold, shares, shares, poolSize)
	cert, err := h.Certificate(acct.ID)
	if err != nil {
		return err
	}
	if err := cert.Verify(); err != nil {
		return fmt.Errorf("DKG certificate: %w", err)
	}
	fmt.Println("  DKG success certificate verified")
	fmt.Printf("  public key %s\n", hex.EncodeToString(gk))
	// The QR code the device scans: decoded here with gozxing, as a
	// phone's camera app would.
	var qr bytes.Buffer
	if err := mpcsign.WriteQR(&qr, totpKey, 320); err != nil {
		return err
	}
	if dev.totp, err = scan(qr.Bytes()); err != nil {
		return err
	}
	fmt.Printf("  device scanned the TOTP QR code (%d-byte PNG): %s…\n", qr.Len(), dev.totp.URL()[:len("otpauth://totp/maskshare:alice-wallet")])

	check := func(msg, sig []byte) error {
		if !ed25519.Verify(gk, msg, sig) {
			return fmt.Errorf("signature of %q does not verify", msg)
		}
		fmt.Printf("  signature %s… verified with crypto/ed25519\n", hex.EncodeToString(sig[:16]))
		return nil
	}
	sign := func(msg string, set []string, at time.Time) ([]byte, error) {
		auth, err := dev.authorize(acct.ID, []byte(msg), set, at)
		if err != nil {
			return nil, err
		}
		return h.Sign(ctx, []byte(msg), auth)
	}

	// Three requests by three node sets.
	chosen, err := h.ChooseNodes(ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("the holder draws %d healthy nodes at random for a request: %s\n", threshold, strings.Join(chosen, ", "))
	sets := [][]string{
		{"signer-1", "signer-2", "signer-3"},
		{"signer-4", "signer-6", "signer-7"},
		{"signer-1", "signer-4", "signer-6"},
	}
	start := time.Now()
	for i, set := range sets[:2] {
		msg := fmt.Sprintf("transfer %d: 0.%d BTC to bc1q-demo", i+1, i+1)
		fmt.Printf("request %d, %q, nodes %s\n", i+1, msg, strings.Join(set, ", "))
		sig, err := sign(msg, set, time.Now())
		if err != nil {
			return err
		}
		if err := check([]byte(msg), sig); err != nil {
			return err
		}
	}

	// A stale code: the one the device showed a minute ago.
	fmt.Printf("a request with a stale TOTP code (from a minute ago), nodes %s\n", strings.Join(sets[2], ", "))
	_, err = sign("transfer 9: 9 BTC to bc1q-thief", sets[2], start.Add(-time.Minute))
	if !errors.Is(err, mpcsign.ErrStaleCode) {
		return fmt.Errorf("stale code not refused: %v", err)
	}
	fmt.Printf("  refused by the nodes: %v\n", err)

	// A cheating node.
	waitNextStep()
	set := []string{"signer-2", cheater, "signer-7"}
	fmt.Printf("a request served by nodes %s (%s sends a bad signature share)\n", strings.Join(set, ", "), cheater)
	_, err = sign("transfer 4: 0.4 BTC to bc1q-demo", set, time.Now())
	var ce *mpcsign.CheaterError
	if !errors.As(err, &ce) {
		return fmt.Errorf("cheater not identified: %v", err)
	}
	fmt.Printf("  refused: %v\n", err)
	recs, err := h.Cheaters(acct.ID)
	if err != nil || len(recs) != 1 {
		return fmt.Errorf("cheater record: %v", err)
	}
	fmt.Printf("  the holder recorded cheater(s) %s for request %x\n", strings.Join(recs[0].Nodes, ", "), recs[0].RequestID[:4])

	// The third request, by a third set.
	msg := "transfer 3: 0.3 BTC to bc1q-demo"
	fmt.Printf("request 3, %q, nodes %s\n", msg, strings.Join(sets[2], ", "))
	sig, err := sign(msg, sets[2], time.Now())
	if err != nil {
		return err
	}
	if err := check([]byte(msg), sig); err != nil {
		return err
	}

	// Refresh.
	res, err := h.Refresh(ctx, acct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("refresh: epoch %d, %d new shares acknowledged by nodes (at least %d needed before the old ones are deleted)\n", res.Epoch, len(res.Acks), threshold)
	after, _, err := h.Account(acct.ID)
	if err != nil {
		return err
	}
	if !bytes.Equal(after.GroupKey(), gk) {
		return errors.New("refresh changed the public key")
	}
	fmt.Println("  same public key")
	waitNextStep()
	set = []string{"signer-3", "signer-6", "signer-7"}
	msg = "transfer 5: 0.5 BTC to bc1q-demo, after the refresh"
	fmt.Printf("request with the refreshed shares, nodes %s\n", strings.Join(set, ", "))
	if sig, err = sign(msg, set, time.Now()); err != nil {
		return err
	}
	if err := check([]byte(msg), sig); err != nil {
		return err
	}
	fmt.Println("done: every signature verified with crypto/ed25519; stale code refused; cheater named")
	return nil
}

func scan(pngData []byte) (*otp.Key, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return nil, err
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return nil, err
	}
	return otp.NewKeyFromURL(res.GetText())
}

func startNode(dir, name string, cheat bool) (*node, error) {
	env := []string{nodeEnv + "=" + dir}
	if cheat {
		env = append(env, cheatEnv+"=1")
	}
	p, err := child.Start("node "+name, env...)
	if err != nil {
		return nil, err
	}
	return &node{addr: mpcsign.NodeAddr{Name: name, Addr: p.Addr}, cmd: p.Cmd, in: p.Stdin}, nil
}

// cheating wraps a node so that its round-two signature shares are z + 1.
type cheating struct{ *mpcsign.Signer }

func (c cheating) Handle(peer mpcsign.Peer, req []byte) []byte {
	resp := c.Signer.Handle(peer, req)
	// A successful round two (op 4) answers version, code 0 and a 37-byte
	// frost.SignatureShare ending in z.
	if len(req) > 1 && req[1] == 4 && len(resp) == 2+37 && resp[1] == 0 {
		z, err := edwards25519.NewScalar().SetCanonicalBytes(resp[len(resp)-32:])
		if err == nil {
			var one [32]byte
			one[0] = 1
			o, _ := edwards25519.NewScalar().SetCanonicalBytes(one[:])
			copy(resp[len(resp)-32:], z.Add(z, o).Bytes())
		}
	}
	return resp
}

// serveNode is a pool node process: it serves from dir until its stdin
// closes.
func serveNode(dir string, cheat bool) error {
	id, err := transport.LoadIdentity(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"))
	if err != nil {
		return err
	}
	roots, err := transport.LoadCAPool(filepath.Join(filepath.Dir(dir), "ca.crt"))
	if err != nil {
		return err
	}
	cfg, err := transport.ServerConfig(id, transport.Trust{Roots: roots}, []string{transport.AnyPeer})
	if err != nil {
		return err
	}
	cfg.MaxMessageSize = max(mpcsign.MaxRequestSize, mpcsign.MaxResponseSize)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	s, err := mpcsign.OpenSigner(filepath.Join(dir, "data"), &mpcsign.SignerConfig{Name: id.Name})
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := transport.Listen("127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", l.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	var h mpcsign.Handler = s
	if cheat {
		h = cheating{s}
	}
	return mpcsign.Serve(ctx, l, h, nil, nil)
}
