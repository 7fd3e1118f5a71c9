package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRuns runs the demo: a service process, two enrolled users, a
// contract signed with the organisation's key after authorisation and
// checked by crypto/ed25519, a revoked user's and a replayed request
// refused, the operator's forgery failing, and the dispute settled by the
// offline verifier against the checkpoint the user kept.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	out, err := exec.Command("go", "run", ".").CombinedOutput()
	for _, want := range []string{
		"alice enrolled: 2-of-2 key shared by phone and service",
		"bob enrolled: 2-of-2 key shared by phone and service",
		"contract signed with acme's key after alice's authorisation (log entries 2, 3); crypto/ed25519 verifies it",
		"bob's request after his revocation is refused: cosign service: cosign: user revoked",
		"a replayed request id is refused: cosign service: cosign: request id already used",
		"gets no signature under her key: frost: invalid signature shares from signers [1]",
		"appending it to the log directly is refused: cosign: entry signature does not verify",
		"offline verifier: 7 entries, 4 signed by users' keys (certified by the RA), 3 by the service; extends alice's kept checkpoint",
		"dispute settled: entry 2 is alice's authorisation of the contract",
		"no authorisation by alice of the operator's contract exists in the log",
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("go run .: %v\nwant %q in:\n%s", err, want, out)
		}
	}
}
