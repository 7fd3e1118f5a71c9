package psi

import (
	"crypto"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

// Proofs of correct blinding. A party commits to its key k by publishing
// Y = k·B (B the ristretto255 generator) and proves, for a point A it
// blinds to k·A, that log_B(Y) = log_A(k·A): a Chaum–Pedersen proof of
// discrete-logarithm equality (circl's zk/dleq, which binds both bases and
// both results in its challenge), made non-interactive by hashing to a
// scalar under a domain separation tag that carries proofLabel and the
// caller's context.
//
// The rest of the package computes on filippo.io/edwards25519; the few
// proofs of a session (one per list and hop) cross to circl through the
// canonical encodings of their elements and scalars, which both sides
// define by RFC 9496, so the proofs are those circl has always made.

// ProofSize is the size in bytes of an encoded Proof.
const ProofSize = 2 * scalarSize

// A Proof is the encoding of a DLEQ proof: the challenge and the response,
// two canonically encoded scalars.
type Proof [ProofSize]byte

// proofLabel starts the domain separation tag of every proof.
const proofLabel = "maskshare ecdh dleq v1"

// maxContext bounds a proof's context: the hash-to-scalar tag built from
// it must stay within RFC 9380's 255 bytes.
const maxContext = 200

// ErrInvalidProof is returned (wrapped) by VerifyProof for a proof that
// does not verify.
var ErrInvalidProof = errors.New("psi: blinding proof does not verify")

func dleqParams(context []byte) dleq.Params {
	if len(context) > maxContext {
		panic("psi: proof context too long")
	}
	return dleq.Params{G: group.Ristretto255, H: crypto.SHA512, DST: append([]byte(proofLabel), context...)}
}

// Public returns the key's commitment Y = k·B.
func (k *Key) Public() Element {
	var y Element
	encodeElement(&y, new(edwards25519.Point).ScalarBaseMult(k.scalar()))
	return y
}

// circlScalar returns s as a circl scalar, through its canonical encoding.
func circlScalar(s *edwards25519.Scalar) group.Scalar {
	b := s.Bytes()
	defer clear(b)
	c := group.Ristretto255.NewScalar()
	if err := c.UnmarshalBinary(b); err != nil {
		panic("psi: circl refused a canonical scalar") // unreachable
	}
	return c
}

// circlElement returns the element encoded as b as a circl element, with
// an error from decodeElement if b is not a valid element other than the
// identity.
func circlElement(b *Element) (group.Element, error) {
	if err := decodeElement(new(edwards25519.Point), b); err != nil {
		return nil, err
	}
	e := group.Ristretto255.NewElement()
	if err := e.UnmarshalBinary(b[:]); err != nil {
		panic("psi: circl refused a canonical ristretto255 encoding") // unreachable: FuzzDecode in internal/ristretto255
	}
	return e, nil
}

// Prove returns next = k·prev and a proof, bound to context, that
// log_B(k.Public()) = log_prev(next). prev must be a valid element other
// than the identity (else the error wraps ErrInvalidElement).
func (k *Key) Prove(context []byte, prev *Element) (next Element, proof Proof, err error) {
	a := new(edwards25519.Point)
	if err := decodeElement(a, prev); err != nil {
		return next, proof, fmt.Errorf("%w: %v", ErrInvalidElement, err)
	}
	// The nonce comes from crypto/rand, like the keys.
	nonce, err := NewKey()
	if err != nil {
		return next, proof, err
	}
	return k.prove(context, a, nonce)
}

// prove is Prove for a decoded prev and a given nonce (known-answer tests).
func (k *Key) prove(context []byte, a *edwards25519.Point, nonce *Key) (next Element, proof Proof, err error) {
	var prev Element
	encodeElement(&prev, a)
	encodeElement(&next, new(edwards25519.Point).ScalarMult(k.scalar(), a))
	y := k.Public()
	var ce [3]group.Element
	for i, b := range []*Element{&y, &prev, &next} {
		if ce[i], err = circlElement(b); err != nil {
			return next, proof, fmt.Errorf("%w: %v", ErrInvalidElement, err)
		}
	}
	g := group.Ristretto255
	p, err := dleq.Prover{Params: dleqParams(context)}.ProveWithRandomness(circlScalar(k.scalar()), g.Generator(), ce[0], ce[1], ce[2], circlScalar(nonce.scalar()))
	if err != nil {
		return next, proof, err
	}
	enc, err := p.MarshalBinary()
	if err != nil || len(enc) != ProofSize {
		return next, proof, fmt.Errorf("psi: encoding a proof: %v", err)
	}
	copy(proof[:], enc)
	return next, proof, nil
}

// VerifyProof checks a proof made by Prove under context: that the key
// committed to as pub took prev to next. It returns nil if the proof
// verifies, an error wrapping ErrInvalidElement if pub, prev or next is not
// a valid element other than the identity, and one wrapping
// ErrInvalidProof otherwise.
func VerifyProof(context []byte, pub, prev, next *Element, proof *Proof) error {
	g := group.Ristretto255
	var ce [3]group.Element
	for i, x := range []struct {
		b    *Element
		what string
	}{{pub, "key commitment"}, {prev, "blinded point"}, {next, "result"}} {
		var err error
		if ce[i], err = circlElement(x.b); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidElement, x.what, err)
		}
	}
	y, a, ka := ce[0], ce[1], ce[2]
	var p dleq.Proof
	if err := p.UnmarshalBinary(g, proof[:]); err != nil {
		return fmt.Errorf("%w: scalars not canonically encoded", ErrInvalidProof)
	}
	if !(dleq.Verifier{Params: dleqParams(context)}).Verify(g.Generator(), y, a, ka, &p) {
		return ErrInvalidProof
	}
	return nil
}

// CheckElement reports whether e is the canonical encoding of a
// ristretto255 element other than the identity, with an error wrapping
// ErrInvalidElement if not.
func CheckElement(e *Element) error {
	if err := decodeElement(new(edwards25519.Point), e); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidElement, err)
	}
	return nil
}
