package share

import (
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

// TestFeldmanKeySignsEd25519: a scalar recovered from a Feldman sharing
// signs a message (RFC 8032 equations with a random nonce) and the standard
// library's crypto/ed25519.Verify, a verifier this package did not write,
// accepts it under the public key C_0.
func TestFeldmanKeySignsEd25519(t *testing.T) {
	shares, c := mustDeal(t, Feldman, randomScalar(), 3, seq(6), 0)
	a, _, err := Recover(c, []Share{shares[5], shares[1], shares[3]})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("maskshare: recovered key signs")
	r := randomScalar()
	R := new(edwards25519.Point).ScalarBaseMult(r)
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(pk.Bytes())
	h.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	S := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	sig := append(R.Bytes(), S.Bytes()...)
	if !ed25519.Verify(ed25519.PublicKey(pk.Bytes()), msg, sig) {
		t.Fatal("crypto/ed25519 rejects the signature of the recovered key")
	}
	// And a key that is one off does not verify.
	S.MultiplyAdd(k, indexScalar(1), S)
	if ed25519.Verify(ed25519.PublicKey(pk.Bytes()), msg, append(R.Bytes(), S.Bytes()...)) {
		t.Fatal("crypto/ed25519 accepts a signature by another key")
	}
}

// secretLike matches what printing a scalar shows: its limbs as long
// decimal numbers, or its bytes in hex.
var secretLike = regexp.MustCompile(`[0-9]{8,}|[0-9a-f]{16,}`)

// TestSecretsNotPrinted: formatting a share, piece or sum with %v, %+v,
// %#v or %s never shows the secret value.
func TestSecretsNotPrinted(t *testing.T) {
	shares, c := mustDeal(t, Pedersen, randomScalar(), 2, seq(3), 0)
	pieces, err := RepairSplit(c, &shares[0], []uint32{1, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	sum := RepairSum{Scheme: Pedersen, Target: 3, From: 1, Value: pieces[0].Value, Blind: pieces[0].Blind}
	// The check itself: a bare scalar's formatting is caught.
	if !secretLike.MatchString(fmt.Sprintf("%v", struct{ V edwards25519.Scalar }{shares[0].Value})) {
		t.Fatal("secretLike misses a printed scalar")
	}
	for _, x := range []any{shares[0], &shares[0], pieces[0], &pieces[1], sum, &sum, shares} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, x)
			if secretLike.MatchString(out) {
				t.Fatalf("%s of %T prints a secret: %s", verb, x, out)
			}
			if !strings.Contains(out, "share.") {
				t.Fatalf("%s of %T: %s", verb, x, out)
			}
		}
	}
}
