package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody/mpcsign"
)

// TestWalletRefreshDue runs three `maskshare signer` processes and the
// holder's scheduled refresh: accounts made with --refresh-every 1s and
// the default 30d, one rescheduled with `wallet schedule`; `wallet
// refresh --due` refreshes exactly the due ones (epoch 2, same group key,
// signing still verifies with crypto/ed25519), `wallet list` shows the
// schedule, and with the nodes down `--due` fails naming each account.
// It waits a little over a second for the short interval to pass.
func TestWalletRefreshDue(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "ca", "init", "--dir", "ca", "--name", "test-ca")
	names := []string{"s1", "s2", "s3"}
	keys := map[string]string{}
	for _, name := range append([]string{"holder", "alice"}, names...) {
		keys[name] = keygen(t, filepath.Join(dir, name), name)
		run(t, dir, "ca", "sign", "--dir", "ca", filepath.Join(name, name+".csr"))
	}
	procs := map[string]*proc{}
	wallet := []string{"--dir", "holder/data", "--key", "holder/holder.key", "--cert", "holder/holder.crt", "--ca", "ca/ca.crt"}
	for _, n := range names {
		addr := freeAddr(t)
		procs[n] = startSigner(t, dir, n, addr)
		wallet = append(wallet, "--node", n+"="+addr)
	}
	w := func(sub string, args ...string) []string {
		return append(append([]string{"wallet", sub}, wallet...), args...)
	}
	create := func(account string, args ...string) string {
		return run(t, dir, w("create", append([]string{"--account", account, "--device", keys["alice"], "-t", "2", "-n", "3",
			"--qr", "alice/" + account + ".png"}, args...)...)...)
	}
	out := create("fast", "--refresh-every", "1s")
	if !strings.Contains(out, "refresh every 1s, next due ") {
		t.Fatalf("create fast:\n%s", out)
	}
	gk, err := hex.DecodeString(field(t, out, "group key:"))
	if err != nil || len(gk) != ed25519.PublicKeySize {
		t.Fatalf("group key: %v\n%s", err, out)
	}
	if out := create("slow"); !strings.Contains(out, "refresh every 30d") {
		t.Fatalf("create slow:\n%s", out)
	}
	create("later", "--refresh-every", "1h")
	if out := run(t, dir, w("schedule", "--account", "later", "--every", "1s")...); !strings.Contains(out, "account later: refresh every 1s") {
		t.Fatalf("schedule:\n%s", out)
	}
	// Intervals out of bounds are the operator's input error.
	for _, bad := range []string{"500ms", "400d", "0s"} {
		cmd := exec.Command(binary(t), w("schedule", "--account", "later", "--every", bad)...)
		cmd.Dir = dir
		outb, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInput {
			t.Fatalf("schedule --every %s: %v\n%s", bad, err, outb)
		}
	}
	if out := run(t, dir, w("list")...); !strings.Contains(out, "\trefresh every 1s\tlast ") {
		t.Fatalf("list before:\n%s", out)
	}

	time.Sleep(1100 * time.Millisecond) // past "fast" and "later"'s 1 s interval
	out = run(t, dir, w("refresh", "--due")...)
	if !strings.Contains(out, "account fast refreshed to epoch 2") || !strings.Contains(out, "account later refreshed to epoch 2") ||
		strings.Contains(out, "account slow") {
		t.Fatalf("refresh --due:\n%s", out)
	}
	out = run(t, dir, w("list")...)
	for _, want := range []string{"fast\t2-of-3\tepoch 2\tgroup key " + hex.EncodeToString(gk), "later\t2-of-3\tepoch 2", "slow\t2-of-3\tepoch 1",
		"\trefresh every 30d\tlast 20"} {
		if !strings.Contains(out, want) {
			t.Fatalf("list after: no %q in\n%s", want, out)
		}
	}
	t.Logf("wallet list:\n%s", out)
	// The refreshed account still signs under the same key.
	totp := scanQR(t, filepath.Join(dir, "alice", "fast.png"))
	c, err := mpcsign.Code(totp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "msg"), []byte("after --due"), 0o600)
	out = run(t, dir, w("sign", "--account", "fast", "--message-file", "msg", "--device-key", "alice/alice.key",
		"--device-cert", "alice/alice.crt", "--code", c, "--nodes", "s1,s3")...)
	sig, err := hex.DecodeString(field(t, out, "signature:"))
	if err != nil || !ed25519.Verify(gk, []byte("after --due"), sig) {
		t.Fatalf("signature after refresh --due does not verify with crypto/ed25519:\n%s", out)
	}

	// With every node down, the due accounts fail, each named, and the
	// command's exit status says so.
	for _, n := range names {
		procs[n].cmd.Process.Signal(syscall.SIGTERM)
		if err := procs[n].wait(t, 10*time.Second); err != nil {
			t.Fatalf("%s after SIGTERM: %v", n, err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	out = runFail(t, dir, w("refresh", "--due")...)
	if !strings.Contains(out, "account fast") || !strings.Contains(out, "account later") || strings.Contains(out, "account slow") ||
		!strings.Contains(out, "refresh not acknowledged") {
		t.Fatalf("refresh --due with the nodes down:\n%s", out)
	}
}
