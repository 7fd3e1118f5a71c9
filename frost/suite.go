package frost

import (
	"crypto/sha512"
	"crypto/subtle"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/internal/ristretto255"
)

// Suite is one of the RFC 9591 ciphersuites: a prime-order group, its
// encodings, and the hash functions H1..H5. Use [Ed25519] or [Ristretto255].
type Suite struct {
	id   byte
	name string
	cs   ciphersuite
}

var (
	// Ed25519 is FROST(Ed25519, SHA-512), RFC 9591 §6.1. Its group
	// signatures are RFC 8032 Ed25519 signatures: crypto/ed25519.Verify
	// accepts them under the group public key.
	Ed25519 = &Suite{id: 1, name: "FROST(Ed25519, SHA-512)", cs: ed25519Suite{}}
	// Ristretto255 is FROST(ristretto255, SHA-512), RFC 9591 §6.2.
	Ristretto255 = &Suite{id: 2, name: "FROST(ristretto255, SHA-512)", cs: ristretto255Suite{}}
)

// String returns the RFC's name of the suite.
func (s *Suite) String() string { return s.name }

// ID is the byte that names the suite in this package's encodings
// (1 for Ed25519, 2 for ristretto255).
func (s *Suite) ID() byte { return s.id }

func suiteByID(id byte) *Suite {
	switch id {
	case Ed25519.id:
		return Ed25519
	case Ristretto255.id:
		return Ristretto255
	}
	return nil
}

// ciphersuite is RFC 9591 §6's interface over the group and hashes. Both
// suites share the scalar field of edwards25519 (order l) and keep elements
// as *edwards25519.Point; they differ in element encoding, validation,
// equality and the hash domain separation.
type ciphersuite interface {
	// encodeElement is SerializeElement (32 bytes).
	encodeElement(p *edwards25519.Point) []byte
	// decodeElement is DeserializeElement: canonical, in the prime-order
	// group, not the identity.
	decodeElement(b []byte) (*edwards25519.Point, bool)
	equal(p, q *edwards25519.Point) bool
	h1(m ...[]byte) *edwards25519.Scalar
	h2(m ...[]byte) *edwards25519.Scalar
	h3(m ...[]byte) *edwards25519.Scalar
	h4(m []byte) []byte
	h5(m []byte) []byte
}

func hashToScalar(prefix string, parts ...[]byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write([]byte(prefix))
	for _, p := range parts {
		h.Write(p)
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		panic(err) // 64 bytes always
	}
	return s
}

func hashBytes(prefix string, m []byte) []byte {
	h := sha512.New()
	h.Write([]byte(prefix))
	h.Write(m)
	return h.Sum(nil)
}

const (
	ed25519Context    = "FROST-ED25519-SHA512-v1"
	ristrettoContext  = "FROST-RISTRETTO255-SHA512-v1"
	scalarSize        = 32
	elementSize       = 32
	signatureSize     = 64
	identifierEncSize = 2
)

type ed25519Suite struct{}

func (ed25519Suite) encodeElement(p *edwards25519.Point) []byte { return p.Bytes() }

var scalarMinusOne = edwards25519.NewScalar().Negate(scalarFromUint16(1))

func (ed25519Suite) decodeElement(b []byte) (*edwards25519.Point, bool) {
	if len(b) != elementSize {
		return nil, false
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	// SetBytes accepts y ≥ p (as RFC 8032 verifiers may); RFC 9591 wants
	// one encoding per element, so re-encode and compare.
	if err != nil || subtle.ConstantTimeCompare(p.Bytes(), b) != 1 {
		return nil, false
	}
	if p.Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, false
	}
	// Prime order: (l−1)·P + P = l·P must be the identity. Public data, so
	// variable time is fine.
	q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(scalarMinusOne, p, edwards25519.NewScalar())
	q.Add(q, p)
	if q.Equal(edwards25519.NewIdentityPoint()) != 1 {
		return nil, false
	}
	return p, true
}

func (ed25519Suite) equal(p, q *edwards25519.Point) bool { return p.Equal(q) == 1 }

func (ed25519Suite) h1(m ...[]byte) *edwards25519.Scalar {
	return hashToScalar(ed25519Context+"rho", m...)
}

// h2 has no context string so that the challenge is RFC 8032's.
func (ed25519Suite) h2(m ...[]byte) *edwards25519.Scalar { return hashToScalar("", m...) }
func (ed25519Suite) h3(m ...[]byte) *edwards25519.Scalar {
	return hashToScalar(ed25519Context+"nonce", m...)
}
func (ed25519Suite) h4(m []byte) []byte { return hashBytes(ed25519Context+"msg", m) }
func (ed25519Suite) h5(m []byte) []byte { return hashBytes(ed25519Context+"com", m) }

type ristretto255Suite struct{}

func (ristretto255Suite) encodeElement(p *edwards25519.Point) []byte {
	return ristretto255.AppendEncoding(nil, p)
}

func (ristretto255Suite) decodeElement(b []byte) (*edwards25519.Point, bool) {
	p := new(edwards25519.Point)
	if ristretto255.Decode(p, b) != nil || ristretto255.IsIdentity(p) {
		return nil, false
	}
	return p, true
}

func (ristretto255Suite) equal(p, q *edwards25519.Point) bool { return ristretto255.Equal(p, q) }

func (ristretto255Suite) h1(m ...[]byte) *edwards25519.Scalar {
	return hashToScalar(ristrettoContext+"rho", m...)
}
func (ristretto255Suite) h2(m ...[]byte) *edwards25519.Scalar {
	return hashToScalar(ristrettoContext+"chal", m...)
}
func (ristretto255Suite) h3(m ...[]byte) *edwards25519.Scalar {
	return hashToScalar(ristrettoContext+"nonce", m...)
}
func (ristretto255Suite) h4(m []byte) []byte { return hashBytes(ristrettoContext+"msg", m) }
func (ristretto255Suite) h5(m []byte) []byte { return hashBytes(ristrettoContext+"com", m) }

// scalarFromUint16 is the identifier's scalar (RFC 9591 §4: identifiers are
// non-zero scalars; here they are 1..65535).
func scalarFromUint16(v uint16) *edwards25519.Scalar {
	var b [32]byte
	b[0], b[1] = byte(v), byte(v>>8)
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}

// decodeScalar is DeserializeScalar: canonical (< l) only.
func decodeScalar(b []byte) (*edwards25519.Scalar, bool) {
	if len(b) != scalarSize {
		return nil, false
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	return s, err == nil
}

func isZeroScalar(s *edwards25519.Scalar) bool {
	return s.Equal(edwards25519.NewScalar()) == 1
}
