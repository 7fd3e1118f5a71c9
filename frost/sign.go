package frost

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"

	"filippo.io/edwards25519"
)

// MaxMessageSize bounds the message of a SigningPackage, so that a decoder
// allocates at most this much for it. Sign a hash of larger data.
const MaxMessageSize = 1 << 20

// SigningNonces are a signer's secret nonces from round one (RFC 9591 §5.1).
// They are single use: Sign erases them on its first call, whatever the
// outcome, and refuses erased nonces with ErrNonceUsed. There is no encoding
// for them, so they cannot be stored and replayed, and copies of a
// SigningNonces value share one state, so erasing one erases all.
type SigningNonces struct {
	*nonceState
}

type nonceState struct {
	suite       *Suite
	id          uint16
	hiding      edwards25519.Scalar
	binding     edwards25519.Scalar
	commitments *SigningCommitments
	used        bool
}

// SigningCommitments is a signer's public round-one message: its identifier
// and the hiding and binding nonce commitments.
type SigningCommitments struct {
	suite   *Suite
	id      uint16
	hiding  *edwards25519.Point
	binding *edwards25519.Point
}

// Identifier returns the signer's identifier.
func (c *SigningCommitments) Identifier() uint16 { return c.id }

// Suite returns the ciphersuite.
func (c *SigningCommitments) Suite() *Suite { return c.suite }

func (c *SigningCommitments) equal(d *SigningCommitments) bool {
	return c.suite == d.suite && c.id == d.id &&
		c.suite.cs.equal(c.hiding, d.hiding) && c.suite.cs.equal(c.binding, d.binding)
}

// Commit is round one (RFC 9591 §5.1): it draws the hiding and binding
// nonces with nonce_generate (32 bytes from crypto/rand hashed with the
// secret share by H3) and returns them with their public commitments.
func Commit(k *KeyShare) (*SigningNonces, *SigningCommitments, error) {
	var r [64]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, nil, err
	}
	return commitWithRandomness(k, r[:32], r[32:])
}

// commitWithRandomness is Commit with the random bytes given: the RFC
// vectors' path. Never call it with anything but fresh randomness.
func commitWithRandomness(k *KeyShare, hidingRand, bindingRand []byte) (*SigningNonces, *SigningCommitments, error) {
	if isZeroScalar(&k.secret) {
		return nil, nil, fmt.Errorf("%w: erased key share", ErrInconsistentKey)
	}
	skEnc := k.secret.Bytes()
	n := &SigningNonces{&nonceState{suite: k.suite, id: k.id}}
	n.hiding.Set(k.suite.cs.h3(hidingRand, skEnc))
	n.binding.Set(k.suite.cs.h3(bindingRand, skEnc))
	clear(skEnc)
	c := &SigningCommitments{
		suite:   k.suite,
		id:      k.id,
		hiding:  new(edwards25519.Point).ScalarBaseMult(&n.hiding),
		binding: new(edwards25519.Point).ScalarBaseMult(&n.binding),
	}
	n.commitments = c
	return n, c, nil
}

// Commitments returns the public commitments of the nonces.
func (n *SigningNonces) Commitments() *SigningCommitments { return n.commitments }

func (n *SigningNonces) erase() {
	n.hiding = *edwards25519.NewScalar()
	n.binding = *edwards25519.NewScalar()
	n.used = true
}

// SigningPackage is what the coordinator sends to the signers in round two:
// the message and the commitments of the chosen signers, sorted by
// identifier.
type SigningPackage struct {
	suite       *Suite
	message     []byte
	commitments []*SigningCommitments
}

// NewSigningPackage checks and copies the round-two input. The commitments
// must be of one suite, non-empty, at most MaxSigners, and strictly
// increasing by identifier (RFC 9591 §5.2: sorted, no duplicates).
func NewSigningPackage(message []byte, commitments []*SigningCommitments) (*SigningPackage, error) {
	if len(commitments) == 0 {
		return nil, fmt.Errorf("%w: no commitments", ErrTooFewSigners)
	}
	if len(commitments) > MaxSigners {
		return nil, fmt.Errorf("%w: %d commitments, more than %d", ErrThreshold, len(commitments), MaxSigners)
	}
	if len(message) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes, more than %d", ErrEncoding, len(message), MaxMessageSize)
	}
	s := commitments[0].suite
	for i, c := range commitments {
		if c == nil || c.suite != s {
			return nil, ErrSuiteMismatch
		}
		if i > 0 {
			switch prev := commitments[i-1].id; {
			case prev == c.id:
				return nil, fmt.Errorf("%w: %d", ErrDuplicate, c.id)
			case prev > c.id:
				return nil, fmt.Errorf("%w: %d after %d", ErrUnsorted, c.id, prev)
			}
		}
	}
	return &SigningPackage{suite: s, message: bytes.Clone(message), commitments: slices.Clone(commitments)}, nil
}

// Message returns a copy of the message to sign.
func (p *SigningPackage) Message() []byte { return bytes.Clone(p.message) }

// Identifiers returns the identifiers of the chosen signers, in order.
func (p *SigningPackage) Identifiers() []uint16 {
	ids := make([]uint16, len(p.commitments))
	for i, c := range p.commitments {
		ids[i] = c.id
	}
	return ids
}

// Suite returns the ciphersuite.
func (p *SigningPackage) Suite() *Suite { return p.suite }

func (p *SigningPackage) index(id uint16) int {
	i, ok := slices.BinarySearchFunc(p.commitments, id, func(c *SigningCommitments, id uint16) int {
		return int(c.id) - int(id)
	})
	if !ok {
		return -1
	}
	return i
}

// SignatureShare is a signer's round-two output.
type SignatureShare struct {
	suite *Suite
	id    uint16
	z     edwards25519.Scalar
}

// Identifier returns the signer's identifier.
func (s *SignatureShare) Identifier() uint16 { return s.id }

// Suite returns the ciphersuite.
func (s *SignatureShare) Suite() *Suite { return s.suite }

// session is what every signer and the coordinator derive from a signing
// package: binding factors, group commitment, challenge, Lagrange
// coefficients (RFC 9591 §4.4–4.6).
type session struct {
	xs  []*edwards25519.Scalar // identifiers, aligned with the commitments
	rho []*edwards25519.Scalar
	r   *edwards25519.Point
	c   *edwards25519.Scalar
}

// lambda is derive_interpolating_value for the i-th signer: only computed
// when needed, as it costs an inversion.
func (ss *session) lambda(i int) *edwards25519.Scalar {
	return lagrangeOne(edwards25519.NewScalar(), ss.xs, i)
}

func newSession(s *Suite, groupKey *edwards25519.Point, p *SigningPackage) *session {
	cs := s.cs
	gk := cs.encodeElement(groupKey)
	// encode_group_commitment_list
	list := make([]byte, 0, len(p.commitments)*(scalarSize+2*elementSize))
	xs := make([]*edwards25519.Scalar, len(p.commitments))
	for i, c := range p.commitments {
		xs[i] = scalarFromUint16(c.id)
		list = append(list, xs[i].Bytes()...)
		list = append(list, cs.encodeElement(c.hiding)...)
		list = append(list, cs.encodeElement(c.binding)...)
	}
	msgHash := cs.h4(p.message)
	listHash := cs.h5(list)
	ss := &session{xs: xs, rho: make([]*edwards25519.Scalar, len(p.commitments))}
	scalars := make([]*edwards25519.Scalar, 0, 2*len(p.commitments))
	points := make([]*edwards25519.Point, 0, 2*len(p.commitments))
	one := scalarFromUint16(1)
	for i, c := range p.commitments {
		ss.rho[i] = cs.h1(gk, msgHash, listHash, xs[i].Bytes())
		scalars = append(scalars, one, ss.rho[i])
		points = append(points, c.hiding, c.binding)
	}
	// Public points and public scalars: variable time.
	ss.r = new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	ss.c = cs.h2(cs.encodeElement(ss.r), gk, p.message)
	return ss
}

// Sign is round two (RFC 9591 §5.2). It consumes nonces: after the first
// call they are erased, and any further call with them returns
// ErrNonceUsed. It refuses a package of another suite, one with fewer
// commitments than the key's threshold, and one in which the signer's own
// commitment is missing or differs from the nonces'.
func Sign(k *KeyShare, nonces *SigningNonces, p *SigningPackage) (*SignatureShare, error) {
	if nonces == nil || nonces.nonceState == nil || nonces.used {
		return nil, ErrNonceUsed
	}
	if k == nil || p == nil {
		nonces.erase()
		return nil, fmt.Errorf("%w: nil key share or package", ErrSuiteMismatch)
	}
	var d, e edwards25519.Scalar
	d.Set(&nonces.hiding)
	e.Set(&nonces.binding)
	nonces.erase()
	defer func() { d, e = *edwards25519.NewScalar(), *edwards25519.NewScalar() }()

	if k.suite != nonces.suite || k.suite != p.suite {
		return nil, ErrSuiteMismatch
	}
	if isZeroScalar(&k.secret) {
		return nil, fmt.Errorf("%w: erased key share", ErrInconsistentKey)
	}
	if nonces.id != k.id {
		return nil, fmt.Errorf("%w: nonces of signer %d, key of signer %d", ErrIdentifier, nonces.id, k.id)
	}
	if len(p.commitments) < k.threshold {
		return nil, fmt.Errorf("%w: %d commitments, threshold %d", ErrTooFewSigners, len(p.commitments), k.threshold)
	}
	i := p.index(k.id)
	if i < 0 || !p.commitments[i].equal(nonces.commitments) {
		return nil, fmt.Errorf("%w: signer %d", ErrCommitment, k.id)
	}
	ss := newSession(k.suite, k.groupKey, p)
	// z = d + e·ρ + λ·sk·c, constant-time scalar arithmetic.
	z := edwards25519.NewScalar().Multiply(ss.lambda(i), &k.secret)
	z.MultiplyAdd(z, ss.c, &d)
	z.MultiplyAdd(&e, ss.rho[i], z)
	share := &SignatureShare{suite: k.suite, id: k.id}
	share.z.Set(z)
	return share, nil
}

// checkPackage checks that p fits pub: same suite, at least t commitments,
// every signer known.
func checkPackage(pub *PublicKeyPackage, p *SigningPackage) error {
	if pub.suite != p.suite {
		return ErrSuiteMismatch
	}
	if len(p.commitments) < pub.threshold {
		return fmt.Errorf("%w: %d commitments, threshold %d", ErrTooFewSigners, len(p.commitments), pub.threshold)
	}
	for _, c := range p.commitments {
		if _, ok := pub.shares[c.id]; !ok {
			return fmt.Errorf("%w: %d is not a signer of this key", ErrIdentifier, c.id)
		}
	}
	return nil
}

// verifyShare is verify_signature_share (RFC 9591 §5.4):
// z_i·B == D_i + ρ_i·E_i + (c·λ_i)·Y_i.
func verifyShare(pub *PublicKeyPackage, p *SigningPackage, ss *session, i int, z *edwards25519.Scalar) bool {
	c := p.commitments[i]
	cl := edwards25519.NewScalar().Multiply(ss.c, ss.lambda(i))
	rhs := new(edwards25519.Point).VarTimeMultiScalarMult(
		[]*edwards25519.Scalar{scalarFromUint16(1), ss.rho[i], cl},
		[]*edwards25519.Point{c.hiding, c.binding, pub.shares[c.id]})
	lhs := new(edwards25519.Point).ScalarBaseMult(z)
	return pub.suite.cs.equal(lhs, rhs)
}

// VerifySignatureShare checks one signer's share against its commitment
// and verifying share (RFC 9591 §5.4). It returns a *CheaterError naming
// the signer if the share is invalid.
func VerifySignatureShare(pub *PublicKeyPackage, p *SigningPackage, share *SignatureShare) error {
	if err := checkPackage(pub, p); err != nil {
		return err
	}
	if share == nil || share.suite != pub.suite {
		return ErrSuiteMismatch
	}
	i := p.index(share.id)
	if i < 0 {
		return fmt.Errorf("%w: signer %d has no commitment in the package", ErrShares, share.id)
	}
	if !verifyShare(pub, p, newSession(pub.suite, pub.groupKey, p), i, &share.z) {
		return &CheaterError{Identifiers: []uint16{share.id}}
	}
	return nil
}

// Aggregate combines the signature shares into the group signature
// (RFC 9591 §5.3) and verifies it under the group key. There must be
// exactly one share from each signer in p, and p must have at least t
// commitments. If the signature does not verify, every share is verified
// and the error is a *CheaterError (wrapping ErrInvalidShare) naming all
// signers whose shares are invalid. The signature is R || z, 64 bytes; for
// Ed25519 it is an RFC 8032 signature.
func Aggregate(pub *PublicKeyPackage, p *SigningPackage, shares []*SignatureShare) ([]byte, error) {
	if err := checkPackage(pub, p); err != nil {
		return nil, err
	}
	if len(shares) != len(p.commitments) {
		return nil, fmt.Errorf("%w: %d shares for %d commitments", ErrShares, len(shares), len(p.commitments))
	}
	zs := make([]*edwards25519.Scalar, len(p.commitments))
	for _, sh := range shares {
		if sh == nil || sh.suite != pub.suite {
			return nil, ErrSuiteMismatch
		}
		i := p.index(sh.id)
		if i < 0 {
			return nil, fmt.Errorf("%w: share from %d, who has no commitment", ErrShares, sh.id)
		}
		if zs[i] != nil {
			return nil, fmt.Errorf("%w: %d", ErrDuplicate, sh.id)
		}
		zs[i] = &sh.z
	}
	ss := newSession(pub.suite, pub.groupKey, p)
	z := edwards25519.NewScalar()
	for _, zi := range zs {
		z.Add(z, zi)
	}
	sig := append(pub.suite.cs.encodeElement(ss.r), z.Bytes()...)
	if verifyWith(pub.suite, pub.groupKey, ss.r, z, ss.c) {
		return sig, nil
	}
	var bad []uint16
	for i, zi := range zs {
		if !verifyShare(pub, p, ss, i, zi) {
			bad = append(bad, p.commitments[i].id)
		}
	}
	if len(bad) > 0 {
		return nil, &CheaterError{Identifiers: bad}
	}
	return nil, ErrInvalidSignature
}

// verifyWith checks z·B == R + c·PK. All points are in the prime-order
// group, so this is also RFC 8032's cofactored equation.
func verifyWith(s *Suite, pk, r *edwards25519.Point, z, c *edwards25519.Scalar) bool {
	// z·B − c·PK, variable time over public data.
	negC := edwards25519.NewScalar().Negate(c)
	got := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, pk, z)
	return s.cs.equal(got, r)
}

// Verify checks a 64-byte signature R || z on message under the encoded
// group public key (RFC 9591 Appendix B). It returns ErrInvalidSignature
// or ErrEncoding.
func (s *Suite) Verify(groupKey, message, sig []byte) error {
	pk, ok := s.cs.decodeElement(groupKey)
	if !ok {
		return fmt.Errorf("%w: public key", ErrEncoding)
	}
	if len(sig) != signatureSize {
		return fmt.Errorf("%w: signature of %d bytes", ErrEncoding, len(sig))
	}
	r, ok := s.cs.decodeElement(sig[:elementSize])
	if !ok {
		return fmt.Errorf("%w: signature R", ErrEncoding)
	}
	z, ok := decodeScalar(sig[elementSize:])
	if !ok {
		return fmt.Errorf("%w: signature z", ErrEncoding)
	}
	c := s.cs.h2(sig[:elementSize], groupKey, message)
	if !verifyWith(s, pk, r, z, c) {
		return ErrInvalidSignature
	}
	return nil
}
