package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRuns runs the demo: 7 pool node processes, a 3-of-5 account,
// three requests by three node sets, a stale code refused, a cheating node
// named, a refresh, every signature checked with crypto/ed25519.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	out, err := exec.Command("go", "run", ".").CombinedOutput()
	for _, want := range []string{
		"started 7 pool nodes",
		"request 1,", "request 2,", "request 3,",
		"refused by the nodes: mpcsign: node signer-", "stale TOTP code",
		"the holder recorded cheater(s) signer-5",
		"refresh: epoch 2", "DKG success certificate verified",
		"same public key",
		"done: every signature verified with crypto/ed25519",
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("go run . (missing %q): %v\n%s", want, err, out)
		}
	}
	if n := strings.Count(string(out), "verified with crypto/ed25519\n"); n != 4 {
		t.Fatalf("%d signatures verified, want 4:\n%s", n, out)
	}
}
