package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/custody/slicing"
)

// TestDemoRuns runs the demo: the planner's placement and its odds (checked
// against slicing.Plan, computed here), 22 key node processes,
// registration, recovery with 8 client nodes down checked by
// crypto/ed25519, and the institutions' failed attempt.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	p, odds, err := plan()
	if err != nil {
		t.Fatal(err)
	}
	if !odds.InstitutionsBelow || p.InstitutionSlices() >= p.Threshold {
		t.Fatalf("the plan breaks the institutions' rule: %+v", odds)
	}
	if _, left := downed(p); left < p.Threshold {
		t.Fatalf("the plan does not survive %d clients down: %d slices left, t = %d", clientsDown, left, p.Threshold)
	}
	out, err := exec.Command("go", "run", ".").CombinedOutput()
	for _, want := range []string{
		fmt.Sprintf("any %d of %d slices rebuild the key; institutions hold %d (", p.Threshold, p.Total(), p.InstitutionSlices()),
		fmt.Sprintf("exact odds: P(lost) = %s, P(compromised) = %s, P(compromised, institutions collude) = %s\n",
			slicing.Prob(odds.Lost), slicing.Prob(odds.Compromised), slicing.Prob(odds.CompromisedWithInstitutions)),
		fmt.Sprintf("%d client nodes are down", clientsDown),
		"crypto/ed25519.Verify accepts it under alice's public key",
		fmt.Sprintf("the institutions alone: %d slices of the %d needed: no key", p.InstitutionSlices(), p.Threshold),
	} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("go run .: %v\nwant %q in:\n%s", err, want, out)
		}
	}
}
