package cosign

import (
	"crypto/ed25519"
	"testing"

	"github.com/maskshare/maskshare/frost"
)

// TestEnrolSessionsPerUser: one user starting more enrolments than
// MaxEnrolSessions (each new one replacing its last) does not lock out
// another user's enrolment, and only its latest session remains usable.
func TestEnrolSessionsPerUser(t *testing.T) {
	e := newEnv(t)
	init := func(user string) ([]byte, error) {
		k, err := frost.NewDKGStaticKey(frost.Ed25519)
		if err != nil {
			t.Fatal(err)
		}
		pub, _, _ := ed25519.GenerateKey(nil)
		return e.svc.enrolInit(Peer{Name: user, Key: pub}, &request{op: opEnrolInit, user: user, static: k.PublicKey()})
	}
	for i := range MaxEnrolSessions + 1 {
		if _, err := init("mallory"); err != nil {
			t.Fatalf("mallory's enrolment %d: %v", i+1, err)
		}
	}
	if _, err := init("alice"); err != nil {
		t.Fatalf("alice's enrolment after mallory's %d: %v", MaxEnrolSessions+1, err)
	}
	e.svc.mu.Lock()
	n := len(e.svc.sessions)
	e.svc.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d enrolment sessions pending, want 2 (mallory's latest and alice's)", n)
	}
}
