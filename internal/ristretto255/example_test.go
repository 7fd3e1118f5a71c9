package ristretto255_test

import (
	"encoding/hex"
	"fmt"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/internal/ristretto255"
)

// Blinding a hashed identifier with two keys in either order gives the
// same element, which is what psi's ecdh mode relies on.
func Example() {
	h := ristretto255.HashToElement(new(edwards25519.Point), []byte("cust-0001"), []byte("example-dst"))
	a, _ := edwards25519.NewScalar().SetCanonicalBytes(append([]byte{7}, make([]byte, 31)...))
	b, _ := edwards25519.NewScalar().SetCanonicalBytes(append([]byte{9}, make([]byte, 31)...))

	ab := new(edwards25519.Point).ScalarMult(a, h)
	ab.ScalarMult(b, ab)
	ba := new(edwards25519.Point).ScalarMult(b, h)
	ba.ScalarMult(a, ba)

	enc := ristretto255.AppendEncoding(nil, ab)
	back := new(edwards25519.Point)
	if err := ristretto255.Decode(back, enc); err != nil {
		panic(err)
	}
	fmt.Println(ristretto255.Equal(ab, ba), ristretto255.Equal(back, ba), len(enc))
	fmt.Println(hex.EncodeToString(ristretto255.AppendEncoding(nil, edwards25519.NewGeneratorPoint())))
	// Output:
	// true true 32
	// e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76
}
