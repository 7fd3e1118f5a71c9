package frost_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"

	"github.com/maskshare/maskshare/frost"
)

// A 2-of-3 Ed25519 key from a trusted dealer; signers 1 and 3 sign, and the
// result is an ordinary Ed25519 signature.
func Example() {
	pub, keys, err := frost.Deal(frost.Ed25519, nil, 2, []uint16{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("pay 10 to bob")

	// Round one: each chosen signer commits and sends its commitments.
	n1, c1, _ := frost.Commit(keys[0])
	n3, c3, _ := frost.Commit(keys[2])
	pkg, err := frost.NewSigningPackage(msg, []*frost.SigningCommitments{c1, c3})
	if err != nil {
		log.Fatal(err)
	}

	// Round two: each signer signs the package with its nonces (once).
	s1, _ := frost.Sign(keys[0], n1, pkg)
	s3, _ := frost.Sign(keys[2], n3, pkg)

	sig, err := frost.Aggregate(pub, pkg, []*frost.SignatureShare{s1, s3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(sig), ed25519.Verify(pub.GroupKey(), msg, sig))
	// Output: 64 true
}

// Aggregate names the signers whose shares are wrong.
func ExampleAggregate_cheater() {
	pub, keys, _ := frost.Deal(frost.Ristretto255, nil, 2, []uint16{1, 2, 3})
	n1, c1, _ := frost.Commit(keys[0])
	n2, c2, _ := frost.Commit(keys[1])
	pkg, _ := frost.NewSigningPackage([]byte("m"), []*frost.SigningCommitments{c1, c2})
	s1, _ := frost.Sign(keys[0], n1, pkg)
	s2, _ := frost.Sign(keys[1], n2, pkg)

	// Signer 2 sends a share with one bit changed.
	b := s2.Marshal()
	b[len(b)-32] ^= 1
	bad, _ := frost.UnmarshalSignatureShare(b)

	_, err := frost.Aggregate(pub, pkg, []*frost.SignatureShare{s1, bad})
	var ce *frost.CheaterError
	fmt.Println(errors.Is(err, frost.ErrInvalidShare), errors.As(err, &ce), ce.Identifiers)
	// Output: true true [2]
}

// Nonces are single use.
func ExampleSign_nonceReuse() {
	_, keys, _ := frost.Deal(frost.Ed25519, nil, 1, []uint16{1})
	n, c, _ := frost.Commit(keys[0])
	pkg, _ := frost.NewSigningPackage([]byte("m"), []*frost.SigningCommitments{c})
	_, err := frost.Sign(keys[0], n, pkg)
	fmt.Println(err)
	_, err = frost.Sign(keys[0], n, pkg)
	fmt.Println(err)
	// Output:
	// <nil>
	// frost: signing nonces already used
}
