package frost

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"slices"

	"filippo.io/edwards25519"
)

// MaxSigners bounds n, the number of verifying shares in a
// PublicKeyPackage and of commitments in a SigningPackage. It bounds what a
// decoder allocates and the O(n·t) consistency check of
// NewPublicKeyPackage. Identifiers themselves may be any of 1..65535.
const MaxSigners = 1024

// PublicKeyPackage is the public key material of a t-of-n key: the group
// public key, every signer's verifying share (secret share · B) and the
// threshold t. The coordinator needs it to aggregate and to identify
// cheaters. It is immutable.
type PublicKeyPackage struct {
	suite     *Suite
	threshold int
	groupKey  *edwards25519.Point
	ids       []uint16 // sorted
	shares    map[uint16]*edwards25519.Point
}

// NewPublicKeyPackage builds the public key package from encoded elements,
// e.g. the output of a DKG or a refresh. It refuses identity or invalid
// elements, a threshold outside 1..len(verifyingShares), more than
// MaxSigners shares, identifier 0, and verifying shares that are not the
// values at their identifiers of one polynomial (in the exponent) of degree
// threshold−1 whose value at 0 is the group key.
func NewPublicKeyPackage(s *Suite, threshold int, groupKey []byte, verifyingShares map[uint16][]byte) (*PublicKeyPackage, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil suite", ErrSuiteMismatch)
	}
	n := len(verifyingShares)
	if n == 0 || n > MaxSigners || threshold < 1 || threshold > n {
		return nil, fmt.Errorf("%w: t = %d, n = %d", ErrThreshold, threshold, n)
	}
	gk, ok := s.cs.decodeElement(groupKey)
	if !ok {
		return nil, fmt.Errorf("%w: group key", ErrEncoding)
	}
	shares := make(map[uint16]*edwards25519.Point, n)
	for id, enc := range verifyingShares {
		if id == 0 {
			return nil, fmt.Errorf("%w: 0", ErrIdentifier)
		}
		p, ok := s.cs.decodeElement(enc)
		if !ok {
			return nil, fmt.Errorf("%w: verifying share of signer %d", ErrEncoding, id)
		}
		shares[id] = p
	}
	pub := newPublicKeyPackage(s, threshold, gk, shares)
	if err := pub.checkConsistent(); err != nil {
		return nil, err
	}
	return pub, nil
}

func newPublicKeyPackage(s *Suite, threshold int, gk *edwards25519.Point, shares map[uint16]*edwards25519.Point) *PublicKeyPackage {
	ids := make([]uint16, 0, len(shares))
	for id := range shares {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return &PublicKeyPackage{suite: s, threshold: threshold, groupKey: gk, ids: ids, shares: shares}
}

// checkConsistent interpolates, in the exponent, the first t verifying
// shares at 0 (must give the group key) and at every other identifier (must
// give that signer's verifying share). Public data: variable time.
func (p *PublicKeyPackage) checkConsistent() error {
	base := p.ids[:p.threshold]
	xs := make([]*edwards25519.Scalar, len(base))
	pts := make([]*edwards25519.Point, len(base))
	for i, id := range base {
		xs[i] = scalarFromUint16(id)
		pts[i] = p.shares[id]
	}
	check := func(x *edwards25519.Scalar, want *edwards25519.Point) bool {
		got := new(edwards25519.Point).VarTimeMultiScalarMult(lagrangeAll(x, xs), pts)
		return p.suite.cs.equal(got, want)
	}
	if !check(edwards25519.NewScalar(), p.groupKey) {
		return fmt.Errorf("%w: verifying shares do not interpolate to the group key", ErrInconsistentKey)
	}
	for _, id := range p.ids[p.threshold:] {
		if !check(scalarFromUint16(id), p.shares[id]) {
			return fmt.Errorf("%w: verifying share of signer %d is off the polynomial", ErrInconsistentKey, id)
		}
	}
	return nil
}

// Suite returns the ciphersuite of the key.
func (p *PublicKeyPackage) Suite() *Suite { return p.suite }

// Threshold returns t, the number of signers needed to sign.
func (p *PublicKeyPackage) Threshold() int { return p.threshold }

// GroupKey returns the encoded group public key. For Ed25519 it is an RFC
// 8032 public key (crypto/ed25519.PublicKey).
func (p *PublicKeyPackage) GroupKey() []byte { return p.suite.cs.encodeElement(p.groupKey) }

// Identifiers returns the signers' identifiers in increasing order.
func (p *PublicKeyPackage) Identifiers() []uint16 { return slices.Clone(p.ids) }

// VerifyingShare returns the encoded verifying share of signer id.
func (p *PublicKeyPackage) VerifyingShare(id uint16) ([]byte, bool) {
	y, ok := p.shares[id]
	if !ok {
		return nil, false
	}
	return p.suite.cs.encodeElement(y), true
}

// Verify checks a group signature on message under the group key.
func (p *PublicKeyPackage) Verify(message, sig []byte) error {
	return p.suite.Verify(p.GroupKey(), message, sig)
}

// KeyShare is one signer's key material: its identifier, secret share,
// verifying share, the group public key and the threshold. Treat it as a
// secret; Erase clears it.
type KeyShare struct {
	suite     *Suite
	id        uint16
	threshold int
	secret    edwards25519.Scalar
	verifying *edwards25519.Point
	groupKey  *edwards25519.Point
}

// NewKeyShare builds signer id's key share from its encoded secret share
// (a canonical little-endian scalar) and the public key package it belongs
// to. It refuses a zero or non-canonical secret, an id that is not in pub,
// and a secret whose secret·B is not pub's verifying share for id — the
// check every holder makes on a share it receives from a dealer, a DKG or a
// refresh.
func NewKeyShare(pub *PublicKeyPackage, id uint16, secret []byte) (*KeyShare, error) {
	sk, ok := decodeScalar(secret)
	if !ok || isZeroScalar(sk) {
		return nil, fmt.Errorf("%w: secret share", ErrEncoding)
	}
	y, ok := pub.shares[id]
	if !ok {
		return nil, fmt.Errorf("%w: %d is not a signer of this key", ErrIdentifier, id)
	}
	return newKeyShare(pub.suite, id, pub.threshold, sk, y, pub.groupKey)
}

func newKeyShare(s *Suite, id uint16, t int, sk *edwards25519.Scalar, y, gk *edwards25519.Point) (*KeyShare, error) {
	if !s.cs.equal(new(edwards25519.Point).ScalarBaseMult(sk), y) {
		return nil, fmt.Errorf("%w: secret share of signer %d does not match its verifying share", ErrInconsistentKey, id)
	}
	k := &KeyShare{suite: s, id: id, threshold: t, verifying: y, groupKey: gk}
	k.secret.Set(sk)
	return k, nil
}

// Suite returns the ciphersuite of the key.
func (k *KeyShare) Suite() *Suite { return k.suite }

// Identifier returns the signer's identifier.
func (k *KeyShare) Identifier() uint16 { return k.id }

// Threshold returns t.
func (k *KeyShare) Threshold() int { return k.threshold }

// GroupKey returns the encoded group public key.
func (k *KeyShare) GroupKey() []byte { return k.suite.cs.encodeElement(k.groupKey) }

// VerifyingShare returns the encoded verifying share (secret share · B).
func (k *KeyShare) VerifyingShare() []byte { return k.suite.cs.encodeElement(k.verifying) }

// Erase overwrites the secret share with zero; the key share can no longer
// sign.
func (k *KeyShare) Erase() { k.secret = *edwards25519.NewScalar() }

// Deal is RFC 9591 Appendix C's trusted dealer: it splits secret (a
// canonical scalar; nil for a fresh random one) into a t-of-len(ids) key
// with Shamir sharing and Feldman (vss_commit) commitments, checks every
// share against the commitments (vss_verify), and derives the group key and
// verifying shares from them (derive_group_info). For tests and for
// migrating an existing key; the dealer sees the whole key.
func Deal(s *Suite, secret []byte, threshold int, ids []uint16) (*PublicKeyPackage, []*KeyShare, error) {
	var sk *edwards25519.Scalar
	if secret == nil {
		sk = randomScalar()
	} else {
		var ok bool
		if sk, ok = decodeScalar(secret); !ok {
			return nil, nil, fmt.Errorf("%w: secret", ErrEncoding)
		}
	}
	if isZeroScalar(sk) {
		return nil, nil, fmt.Errorf("%w: zero secret", ErrEncoding)
	}
	if threshold < 1 || threshold > len(ids) || len(ids) > MaxSigners {
		return nil, nil, fmt.Errorf("%w: t = %d, n = %d", ErrThreshold, threshold, len(ids))
	}
	coeffs := make([]*edwards25519.Scalar, threshold-1)
	for i := range coeffs {
		coeffs[i] = randomScalar()
	}
	return dealWithCoefficients(s, sk, coeffs, threshold, ids)
}

func dealWithCoefficients(s *Suite, sk *edwards25519.Scalar, coeffs []*edwards25519.Scalar, t int, ids []uint16) (*PublicKeyPackage, []*KeyShare, error) {
	seen := make(map[uint16]bool, len(ids))
	for _, id := range ids {
		if id == 0 {
			return nil, nil, fmt.Errorf("%w: 0", ErrIdentifier)
		}
		if seen[id] {
			return nil, nil, fmt.Errorf("%w: %d", ErrDuplicate, id)
		}
		seen[id] = true
	}
	poly := append([]*edwards25519.Scalar{sk}, coeffs...)
	// vss_commit: C_j = a_j·B (constant time: a_j are secret).
	commit := make([]*edwards25519.Point, len(poly))
	for j, a := range poly {
		commit[j] = new(edwards25519.Point).ScalarBaseMult(a)
	}
	shares := make(map[uint16]*edwards25519.Point, len(ids))
	keys := make([]*KeyShare, len(ids))
	for i, id := range ids {
		x := scalarFromUint16(id)
		y := evalCommitment(commit, x) // derive_group_info
		shares[id] = y
		// vss_verify: share·B must equal the commitment evaluated at x.
		k, err := newKeyShare(s, id, t, evalPolynomial(poly, x), y, commit[0])
		if err != nil {
			return nil, nil, err
		}
		keys[i] = k
	}
	for _, a := range poly[1:] {
		a.Set(edwards25519.NewScalar())
	}
	return newPublicKeyPackage(s, t, commit[0], shares), keys, nil
}

// evalPolynomial is Horner's rule in constant-time scalar arithmetic.
func evalPolynomial(poly []*edwards25519.Scalar, x *edwards25519.Scalar) *edwards25519.Scalar {
	r := edwards25519.NewScalar()
	for j := len(poly) - 1; j >= 0; j-- {
		r.MultiplyAdd(r, x, poly[j])
	}
	return r
}

// evalCommitment is Σ C_j·x^j over public points and public x.
func evalCommitment(c []*edwards25519.Point, x *edwards25519.Scalar) *edwards25519.Point {
	pow := make([]*edwards25519.Scalar, len(c))
	acc := scalarFromUint16(1)
	for j := range c {
		pow[j] = edwards25519.NewScalar().Set(acc)
		acc.Multiply(acc, x)
	}
	return new(edwards25519.Point).VarTimeMultiScalarMult(pow, c)
}

// lagrangeAll returns λ_i(x) = Π_{j≠i} (x − x_j)/(x_i − x_j) for every i,
// with one inversion per coefficient. The xs are distinct and public.
func lagrangeAll(x *edwards25519.Scalar, xs []*edwards25519.Scalar) []*edwards25519.Scalar {
	out := make([]*edwards25519.Scalar, len(xs))
	for i := range xs {
		out[i] = lagrangeOne(x, xs, i)
	}
	return out
}

// lagrangeOne is λ_i(x) alone.
func lagrangeOne(x *edwards25519.Scalar, xs []*edwards25519.Scalar, i int) *edwards25519.Scalar {
	num, den := scalarFromUint16(1), scalarFromUint16(1)
	d := edwards25519.NewScalar()
	for j := range xs {
		if j == i {
			continue
		}
		num.Multiply(num, d.Subtract(x, xs[j]))
		den.Multiply(den, d.Subtract(xs[i], xs[j]))
	}
	return num.Multiply(num, den.Invert(den))
}

func randomScalar() *edwards25519.Scalar {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail
	}
	s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	return s
}

// Ed25519Secret returns the signing scalar of an RFC 8032 private key (the
// clamped first half of SHA-512(seed), reduced mod l), to give to Deal with
// Ed25519 when an existing key is migrated to threshold custody: the group
// key is then priv's public key. The result is secret.
func Ed25519Secret(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key of %d bytes", ErrEncoding, len(priv))
	}
	h := sha512.Sum512(priv.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	clear(h[:])
	if err != nil {
		return nil, err
	}
	return s.Bytes(), nil
}
