package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"

	"github.com/maskshare/maskshare/custody/mpcsign"
)

// startSigner starts `maskshare signer` for name in dir and waits for it
// to print its address.
func startSigner(t *testing.T, dir, name, addr string) *proc {
	t.Helper()
	p := start(t, dir, "signer", "--listen", addr, "--dir", name+"/data",
		"--key", name+"/"+name+".key", "--cert", name+"/"+name+".crt", "--ca", "ca/ca.crt")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := p.stdout.String()
		if strings.Contains(out, "listening on "+addr) && strings.Contains(out, "node key: hpke1:") {
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("signer exited: %v\n%s\n%s", err, out, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("signer did not start:\n%s\n%s", p.stdout.String(), p.stderr)
	return nil
}

// scanQR reads the TOTP key from the QR code PNG, as the device does.
func scanQR(t *testing.T, path string) *otp.Key {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(res.GetText())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestSignerWallet runs four `maskshare signer` processes and `maskshare
// wallet`: a 2-of-3 account is created, the device scans its QR code and
// authorises two signings by different node pairs (each signature checked
// here with crypto/ed25519), a stale code is refused, a node is killed
// with SIGKILL and restarted, the account is refreshed and signs again.
func TestSignerWallet(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "ca", "init", "--dir", "ca", "--name", "test-ca")
	names := []string{"s1", "s2", "s3", "s4"}
	keys := map[string]string{}
	for _, name := range append([]string{"holder", "alice"}, names...) {
		keys[name] = keygen(t, filepath.Join(dir, name), name)
		run(t, dir, "ca", "sign", "--dir", "ca", filepath.Join(name, name+".csr"))
	}
	addrs := map[string]string{}
	procs := map[string]*proc{}
	wallet := []string{"--dir", "holder/data", "--key", "holder/holder.key", "--cert", "holder/holder.crt", "--ca", "ca/ca.crt"}
	for _, n := range names {
		addrs[n] = freeAddr(t)
		procs[n] = startSigner(t, dir, n, addrs[n])
		wallet = append(wallet, "--node", n+"="+addrs[n])
	}
	w := func(sub string, args ...string) []string {
		return append(append([]string{"wallet", sub}, wallet...), args...)
	}

	out := run(t, dir, w("create", "--account", "acct", "--device", keys["alice"], "-t", "2", "-n", "3", "--qr", "alice/totp.png")...)
	gk, err := hex.DecodeString(field(t, out, "group key:"))
	if err != nil || len(gk) != ed25519.PublicKeySize {
		t.Fatalf("group key: %v\n%s", err, out)
	}
	totp := scanQR(t, filepath.Join(dir, "alice", "totp.png"))
	code := func(at time.Time) string {
		c, err := mpcsign.Code(totp, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	msgPath := filepath.Join(dir, "msg")
	sign := func(msg, nodes, c string) string {
		os.WriteFile(msgPath, []byte(msg), 0o600)
		return run(t, dir, w("sign", "--account", "acct", "--message-file", "msg", "--device-key", "alice/alice.key",
			"--device-cert", "alice/alice.crt", "--code", c, "--nodes", nodes)...)
	}
	check := func(msg, out string) {
		t.Helper()
		sig, err := hex.DecodeString(field(t, out, "signature:"))
		if err != nil || !ed25519.Verify(gk, []byte(msg), sig) {
			t.Fatalf("signature of %q does not verify with crypto/ed25519:\n%s", msg, out)
		}
	}
	// Two requests in the same TOTP step, by disjoint node pairs.
	now := time.Now()
	check("pay 1", sign("pay 1", "s1,s2", code(now)))
	check("pay 2", sign("pay 2", "s3,s4", code(now)))

	// A stale code is refused by the nodes: exit code 3.
	os.WriteFile(msgPath, []byte("pay 3"), 0o600)
	cmd := exec.Command(binary(t), w("sign", "--account", "acct", "--message-file", "msg", "--device-key", "alice/alice.key",
		"--device-cert", "alice/alice.crt", "--code", code(now.Add(-5*time.Minute)), "--nodes", "s1,s3")...)
	cmd.Dir = dir
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitPeer || !strings.Contains(string(outb), "stale TOTP code") {
		t.Fatalf("stale code: %v\n%s", err, outb)
	}

	// kill -9 and restart a node; the account survives at it.
	procs["s2"].cmd.Process.Signal(syscall.SIGKILL)
	procs["s2"].wait(t, 10*time.Second)
	procs["s2"] = startSigner(t, dir, "s2", addrs["s2"])

	out = run(t, dir, w("refresh", "--account", "acct")...)
	if !strings.Contains(out, "refreshed to epoch 2") {
		t.Fatalf("refresh:\n%s", out)
	}
	out = run(t, dir, w("list")...)
	if !strings.Contains(out, "2-of-3\tepoch 2\tgroup key "+hex.EncodeToString(gk)) {
		t.Fatalf("list:\n%s", out)
	}
	// The authorisation may be made apart from the holder (the device),
	// then given to it.
	os.WriteFile(msgPath, []byte("pay 4"), 0o600)
	run(t, dir, "wallet", "authorize", "--dir", "alice", "--account", "acct", "--message-file", "msg", "--nodes", "s2,s4",
		"--code", code(time.Now().Add(time.Duration(totp.Period())*time.Second)), "--device-key", "alice/alice.key", "--device-cert", "alice/alice.crt", "--out", "alice/auth")
	check("pay 4", run(t, dir, w("sign", "--account", "acct", "--message-file", "msg", "--auth", "alice/auth")...))

	// An intact share is not "repaired"; the command runs frost's repair.
	if out := runFail(t, dir, w("repair", "--account", "acct", "--share", "2")...); !strings.Contains(out, "is intact") {
		t.Fatalf("repair of an intact share:\n%s", out)
	}

	out = run(t, dir, w("nodes")...)
	if strings.Count(out, "up, 1 accounts") != 4 {
		t.Fatalf("nodes:\n%s", out)
	}
	for _, n := range names {
		procs[n].cmd.Process.Signal(syscall.SIGTERM)
		if err := procs[n].wait(t, 10*time.Second); err != nil {
			t.Fatalf("%s after SIGTERM: %v", n, err)
		}
	}
}
