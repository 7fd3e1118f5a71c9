package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRuns runs the demo: 22 key node processes, registration,
// recovery with 8 nodes down checked by crypto/ed25519, and the
// institutions' failed attempt.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	out, err := exec.Command("go", "run", ".").CombinedOutput()
	for _, want := range []string{
		"crypto/ed25519.Verify accepts it under alice's public key",
		"the institutions alone: 8 slices of the 10 needed: no key",
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("go run .: %v\n%s", err, out)
		}
	}
}
