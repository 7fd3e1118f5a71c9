package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/transport"
)

// TestCosignCLI runs `maskshare cosign` as a service process and its
// client subcommands: a user enrols with a recovery key, signs a document
// (the organisation's signature verifies with org.crt), keeps a
// checkpoint, loses its phone and signs again from the recovery kit; an
// administrator revokes the user, whose next request is refused; the
// stopped service's exported log passes `maskshare log verify --ca`
// against the kept checkpoint, and an edited export does not (exit 5).
func TestCosignCLI(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "ca", "init", "--dir", "ra", "--name", "acme-ra")
	for _, name := range []string{"cosign", "alice", "admin"} {
		keygen(t, filepath.Join(dir, name), name)
		run(t, dir, "ca", "sign", "--dir", "ra", filepath.Join(name, name+".csr"))
	}
	out := run(t, dir, "cosign", "init", "--dir", "svc", "--org", "acme", "--origin", "acme.example/cosign-log", "--ra", "ra")
	if !strings.Contains(out, "log.vkey") {
		t.Fatalf("init: %s", out)
	}
	addr := freeAddr(t)
	p := start(t, dir, "cosign", "serve", "--dir", "svc", "--listen", addr, "--key", "cosign/cosign.key",
		"--cert", "cosign/cosign.crt", "--ra", "ra", "--admin", "admin")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stdout.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("service did not start:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn := func(who string) []string {
		return []string{"--service", "cosign=" + addr, "--key", filepath.Join(who, who+".key"),
			"--cert", filepath.Join(who, who+".crt"), "--ca", "ra/ca.crt"}
	}
	out = run(t, dir, "cosign", "recovery-key", "--out", "recovery.key")
	rpub := strings.TrimSpace(out[strings.Index(out, "hpke1:"):])
	out = run(t, dir, append([]string{"cosign", "enrol", "--state", "phone", "--user", "alice", "--recovery", rpub, "--kit", "alice.kit"}, conn("alice")...)...)
	if !strings.Contains(out, "enrolled alice") || !strings.Contains(out, "recovery kit") {
		t.Fatalf("enrol: %s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "contract.txt"), []byte("acme buys 10 widgets"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, append([]string{"cosign", "sign", "--state", "phone", "--file", "contract.txt", "--purpose", "purchase", "--out", "contract.sig"}, conn("alice")...)...)
	org, err := transport.LoadCertificate(filepath.Join(dir, "phone", "org.crt"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(filepath.Join(dir, "contract.sig"))
	if !ed25519.Verify(org.PublicKey.(ed25519.PublicKey), cosign.DocumentMessage(sha256.Sum256([]byte("acme buys 10 widgets"))), sig) {
		t.Fatal("the organisation's signature does not verify with org.crt")
	}
	out = run(t, dir, append([]string{"cosign", "checkpoint", "--state", "phone", "--out", "kept.checkpoint"}, conn("alice")...)...)
	if !strings.Contains(out, "size 3") {
		t.Fatalf("checkpoint: %s", out)
	}
	// The phone is lost: a new device, the kit and the recovery key.
	run(t, dir, "cosign", "recover", "--state", "newphone", "--kit", "alice.kit", "--recovery-key", "recovery.key")
	run(t, dir, append([]string{"cosign", "sign", "--state", "newphone", "--file", "contract.txt"}, conn("alice")...)...)
	run(t, dir, append([]string{"cosign", "revoke", "--user", "alice", "--reason", "left"}, conn("admin")...)...)
	if code, out := runExit(t, dir, append([]string{"cosign", "sign", "--state", "newphone", "--file", "contract.txt"}, conn("alice")...)...); code != exitPeer || !strings.Contains(out, "revoked") {
		t.Fatalf("sign after revocation: exit %d: %s", code, out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("service: %v\n%s", err, p.stderr)
	}
	run(t, dir, "cosign", "export", "--dir", "svc", "--out", "log.export")
	out = run(t, dir, "log", "verify", "--log", "log.export", "--key", "svc/log.vkey", "--ca", "ra/ca.crt", "--old", "kept.checkpoint")
	if !strings.Contains(out, "OK") {
		t.Fatalf("log verify: %s", out)
	}
	exp, _ := os.ReadFile(filepath.Join(dir, "log.export"))
	lines := strings.Split(string(exp), "\n")
	lines[2], lines[3] = lines[3], lines[2]
	if err := os.WriteFile(filepath.Join(dir, "reordered.export"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runExit(t, dir, "log", "verify", "--log", "reordered.export", "--key", "svc/log.vkey", "--ca", "ra/ca.crt"); code != exitCheating {
		t.Fatalf("reordered export: exit %d: %s", code, out)
	}
}
