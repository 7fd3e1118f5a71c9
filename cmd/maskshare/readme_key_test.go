//go:build unix

package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filippo.io/edwards25519"
)

// TestReadmeKeyWalkthrough runs the README's key slicing walkthrough as
// written (its shell blocks in order, five keynode processes in the
// background, on free ports), then checks that the odds the README shows
// are what key odds prints for the placement key place wrote, and that the
// recovered key is the one split registered: its public key is split's and
// a signature made with it verifies with crypto/ed25519.
func TestReadmeKeyWalkthrough(t *testing.T) {
	bin := binary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	walk := section(t, string(readme), "## Key slicing", "## Threshold signing pool")
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "maskshare")); err != nil {
		t.Fatal(err)
	}
	script := shBlocks(t, walk)
	for port := 7601; port <= 7605; port++ {
		old := fmt.Sprintf("127.0.0.1:%d", port)
		if !strings.Contains(script, old) {
			t.Fatalf("README: the walkthrough no longer uses %s", old)
		}
		script = strings.ReplaceAll(script, old, freeAddr(t))
	}
	// The nodes run in the background of the script: a process group of
	// their own, killed at the end.
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README key walkthrough: %v\n%s", err, out)
	}

	prompt := "$ ./maskshare key odds --placement placement.json"
	if got, want := run(t, dir, strings.Fields(prompt)[2:]...), shownOutput(t, walk, prompt); got != want {
		t.Fatalf("key odds prints:\n%s\nthe README shows:\n%s", got, want)
	}
	split, err := os.ReadFile(filepath.Join(dir, "split.out"))
	if err != nil {
		t.Fatal(err)
	}
	pubHex := field(t, string(split), "public key:")
	if !strings.Contains(string(out), "public key:  "+pubHex+"\n") || !strings.Contains(string(out), "recovered alice/signing at epoch 2") {
		t.Fatalf("the recovery does not print split's public key %s:\n%s", pubHex, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "alice-new", "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != keyFileType {
		t.Fatalf("alice-new/alice.key:\n%s", data)
	}
	a, err := edwards25519.NewScalar().SetCanonicalBytes(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(pubHex)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("split printed public key %q", pubHex)
	}
	msg := []byte("README")
	if !ed25519.Verify(pub, msg, signScalar(t, a, msg)) {
		t.Fatal("crypto/ed25519 rejects a signature of the recovered key under split's public key")
	}
}
