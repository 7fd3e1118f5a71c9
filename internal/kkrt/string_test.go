package kkrt

import (
	"fmt"
	"strings"
	"testing"
)

// TestSecretsNotPrinted: printing a sender or a receiver with any verb
// shows neither the sender's key (its choice bits and rows) nor the
// receiver's PRF values.
func TestSecretsNotPrinted(t *testing.T) {
	var session [32]byte
	s, msg0, err := NewSender(session, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, msg1, err := NewReceiver(session, elementsOf([][]byte{[]byte("alice"), []byte("bob")}), msg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(msg1); err != nil {
		t.Fatal(err)
	}
	key := strings.Trim(fmt.Sprint(s.s), "[]")
	val := strings.Trim(fmt.Sprint(r.outputs[0].Value), "[]")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, key) {
			t.Fatalf("%s of the sender shows its key: %.200q", verb, out)
		}
		if out := fmt.Sprintf(verb, r); strings.Contains(out, val) {
			t.Fatalf("%s of the receiver shows a PRF value: %.200q", verb, out)
		}
	}
}
