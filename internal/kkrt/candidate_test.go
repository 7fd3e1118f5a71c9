package kkrt

import (
	"errors"
	"fmt"
	"testing"
)

// TestCandidateIsCandidates: Candidate(e, c) is element c of
// Candidates(e), for every c below HashCount, and refuses c out of range.
func TestCandidateIsCandidates(t *testing.T) {
	var session [32]byte
	session[0] = 7
	snd, msg0, err := NewSender(session, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snd.Candidate(el([]byte("x")), 0); !errors.Is(err, ErrState) {
		t.Fatalf("Candidate before Finish: %v, want ErrState", err)
	}
	inputs := elementsOf([][]byte{[]byte("a"), []byte("b")})
	_, msg1, err := NewReceiver(session, inputs, msg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		x := el(fmt.Appendf(nil, "id-%d", i))
		all, err := snd.Candidates(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != HashCount {
			t.Fatalf("%d candidates, want %d", len(all), HashCount)
		}
		for c, want := range all {
			got, err := snd.Candidate(x, c)
			if err != nil || got != want {
				t.Fatalf("Candidate(%x, %d) = %x, %v; Candidates has %x", x, c, got, err, want)
			}
		}
		if _, err := snd.Candidate(x, len(all)); !errors.Is(err, ErrIndex) {
			t.Fatalf("Candidate(%x, %d): %v, want ErrIndex", x, len(all), err)
		}
		if _, err := snd.Candidate(x, -1); !errors.Is(err, ErrIndex) {
			t.Fatalf("Candidate(%x, -1): %v, want ErrIndex", x, err)
		}
	}
}
