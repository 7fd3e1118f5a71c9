package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRuns runs the README's first command, at a small size, and checks
// that it verified its result against the plaintext join.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	for _, args := range [][]string{{"-customers", "500"}, {"-customers", "200", "-mode", "ecdh", "-banks", "4", "-k", "2"}} {
		out, err := exec.Command("go", append([]string{"run", "."}, args...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verified: every bank's result equals the plaintext join") {
			t.Fatalf("go run . %v: %v\n%s", args, err, out)
		}
	}
}
