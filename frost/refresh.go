package frost

import (
	"encoding/binary"
	"fmt"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/share"
)

// Proactive refresh (Herzberg, Jarecki, Krawczyk, Yung, CRYPTO 1995): every
// dealer — each signer, or any subset agreed on — deals a Feldman sharing of
// zero over the signers' identifiers ([NewRefresh], share.DealZero), sends
// each signer its delta share (sealed: the caller's transport) and everyone
// the commitment. Each signer verifies its delta shares against the
// commitments and adds them to its share ([ApplyRefresh]); the verifying
// shares move by the commitments evaluated at each identifier. The group
// key is unchanged (every C_0 is the identity), every share changes, and a
// signature share from an old share no longer verifies against the new
// verifying shares, so old and new shares do not combine. All signers must
// apply the same commitments; comparing the new PublicKeyPackage's
// encoding shows it. The result is kept apart from the old share until the
// caller commits it (after enough acknowledgements) and erases the old one.

const (
	kindRefreshCommitment byte = 'F'
	kindRefreshShare      byte = 'f'
)

// RefreshCommitment is dealer From's public commitment to its zero sharing
// for epoch Epoch: C_1..C_{t-1} (C_0 is the identity and is not sent).
type RefreshCommitment struct {
	suite  *Suite
	epoch  uint32
	from   uint16
	points []*edwards25519.Point // C_1..C_{t-1}
}

// From returns the dealer's identifier.
func (c *RefreshCommitment) From() uint16 { return c.from }

// Epoch returns the epoch the refresh moves to.
func (c *RefreshCommitment) Epoch() uint32 { return c.epoch }

// RefreshShare is dealer From's delta share for signer To. It is secret:
// seal it to To.
type RefreshShare struct {
	suite    *Suite
	epoch    uint32
	from, to uint16
	value    edwards25519.Scalar
}

// From returns the dealer's identifier.
func (s *RefreshShare) From() uint16 { return s.from }

// To returns the recipient's identifier.
func (s *RefreshShare) To() uint16 { return s.to }

// NewRefresh deals k's signer's zero sharing for the move to epoch: a
// commitment for everyone and one delta share per signer of pub (its own
// included), in pub.Identifiers() order.
func NewRefresh(k *KeyShare, pub *PublicKeyPackage, epoch uint32) (*RefreshCommitment, []*RefreshShare, error) {
	if k == nil || pub == nil || k.suite != pub.suite {
		return nil, nil, fmt.Errorf("%w: key share and public key of different suites", ErrSuiteMismatch)
	}
	if _, ok := pub.shares[k.id]; !ok || !pub.suite.cs.equal(pub.groupKey, k.groupKey) {
		return nil, nil, fmt.Errorf("%w: key share %d is not of this key", ErrIdentifier, k.id)
	}
	if err := refreshable(pub); err != nil {
		return nil, nil, err
	}
	idx := make([]uint32, len(pub.ids))
	for i, id := range pub.ids {
		idx[i] = uint32(id)
	}
	deltas, c, err := share.DealZero(share.Feldman, pub.threshold, idx, epoch)
	if err != nil {
		return nil, nil, err
	}
	rc := &RefreshCommitment{suite: pub.suite, epoch: epoch, from: k.id, points: c.Points[1:]}
	out := make([]*RefreshShare, len(deltas))
	for i := range deltas {
		out[i] = &RefreshShare{suite: pub.suite, epoch: epoch, from: k.id, to: pub.ids[i]}
		out[i].value.Set(&deltas[i].Value)
		deltas[i].Value = edwards25519.Scalar{}
	}
	return rc, out, nil
}

// refreshable reports whether share's zero sharing covers pub's
// identifiers: it takes indexes up to share.MaxShares.
func refreshable(pub *PublicKeyPackage) error {
	if last := pub.ids[len(pub.ids)-1]; int(last) > share.MaxShares {
		return fmt.Errorf("%w: refresh needs identifiers up to %d, key has %d", ErrIdentifier, share.MaxShares, last)
	}
	return nil
}

// commitments returns c as share.Commitments of a sharing of zero.
func (c *RefreshCommitment) commitments() *share.Commitments {
	pts := append([]*edwards25519.Point{edwards25519.NewIdentityPoint()}, c.points...)
	return &share.Commitments{Scheme: share.Feldman, Epoch: c.epoch, Points: pts}
}

// RefreshResult is a signer's refreshed key material for Epoch. KeyShare
// replaces the old key share only once the caller commits the refresh.
type RefreshResult struct {
	Epoch     uint32
	KeyShare  *KeyShare
	PublicKey *PublicKeyPackage
}

// ApplyRefresh verifies the delta shares addressed to k's signer against
// their dealers' commitments (one commitment and one share per dealer,
// dealers distinct signers of pub, all for epoch) and returns the new key
// share and public key package; k and pub are not changed. A delta share
// that does not match its commitment names the dealer in a
// [*DKGBlameError].
func ApplyRefresh(k *KeyShare, pub *PublicKeyPackage, epoch uint32, commits []*RefreshCommitment, shares []*RefreshShare) (*RefreshResult, error) {
	if k == nil || pub == nil || k.suite != pub.suite {
		return nil, fmt.Errorf("%w: key share and public key of different suites", ErrSuiteMismatch)
	}
	s, t := pub.suite, pub.threshold
	if err := refreshable(pub); err != nil {
		return nil, err
	}
	if len(commits) == 0 || len(commits) != len(shares) || len(commits) > len(pub.ids) {
		return nil, fmt.Errorf("%w: %d refresh commitments and %d shares for %d signers", ErrShares, len(commits), len(shares), len(pub.ids))
	}
	byDealer := make(map[uint16]*RefreshShare, len(shares))
	for _, sh := range shares {
		if sh == nil || sh.suite != s || sh.epoch != epoch || sh.to != k.id || byDealer[sh.from] != nil {
			return nil, fmt.Errorf("%w: refresh share for another signer, epoch or suite, or repeated", ErrShares)
		}
		byDealer[sh.from] = sh
	}
	newSecret := edwards25519.NewScalar().Set(&k.secret)
	newShares := make(map[uint16]*edwards25519.Point, len(pub.ids))
	for _, id := range pub.ids {
		newShares[id] = new(edwards25519.Point).Set(pub.shares[id])
	}
	agg := make([]*edwards25519.Point, t)
	for k := range agg {
		agg[k] = edwards25519.NewIdentityPoint()
	}
	seen := make(map[uint16]bool, len(commits))
	for _, c := range commits {
		switch {
		case c == nil || c.suite != s || c.epoch != epoch:
			return nil, fmt.Errorf("%w: refresh commitment for another epoch or suite", ErrShares)
		case seen[c.from] || pub.shares[c.from] == nil:
			return nil, fmt.Errorf("%w: refresh dealer %d repeated or not a signer", ErrShares, c.from)
		case len(c.points) != t-1:
			return nil, &DKGBlameError{Participant: c.from, Reason: BlameCommitmentLength}
		}
		seen[c.from] = true
		sh := byDealer[c.from]
		if sh == nil {
			return nil, fmt.Errorf("%w: no refresh share from dealer %d", ErrShares, c.from)
		}
		cm := c.commitments()
		d := share.Share{Scheme: share.Feldman, Index: uint32(k.id), Epoch: epoch, Value: sh.value}
		if err := cm.Verify(&d); err != nil {
			return nil, &DKGBlameError{Participant: c.from, Reason: BlameShare, Share: sh.value.Bytes()}
		}
		newSecret.Add(newSecret, &sh.value)
		for k := range agg {
			agg[k].Add(agg[k], cm.Points[k])
		}
	}
	// Y'_m = Y_m + Σ_j Δ_j(m), evaluated once on the summed commitments.
	for _, id := range pub.ids {
		newShares[id].Add(newShares[id], evalCommitment(agg, scalarFromUint16(id)))
	}
	enc := make(map[uint16][]byte, len(newShares))
	for id, y := range newShares {
		enc[id] = s.cs.encodeElement(y)
	}
	newPub, err := NewPublicKeyPackage(s, t, pub.GroupKey(), enc)
	if err != nil {
		return nil, err
	}
	sk := newSecret.Bytes()
	defer clear(sk)
	newSecret.Set(edwards25519.NewScalar())
	ks, err := NewKeyShare(newPub, k.id, sk)
	if err != nil {
		return nil, err
	}
	return &RefreshResult{Epoch: epoch, KeyShare: ks, PublicKey: newPub}, nil
}

// Marshal encodes the commitment: header, epoch (uint32), from, t (uint16
// each), then C_1..C_{t-1}.
func (c *RefreshCommitment) Marshal() []byte {
	b := binary.BigEndian.AppendUint32(header(c.suite, kindRefreshCommitment), c.epoch)
	b = binary.BigEndian.AppendUint16(b, c.from)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.points)+1))
	for _, p := range c.points {
		b = append(b, c.suite.cs.encodeElement(p)...)
	}
	return b
}

// UnmarshalRefreshCommitment decodes a refresh commitment: 1 ≤ t ≤
// MaxSigners, t−1 valid non-identity elements.
func UnmarshalRefreshCommitment(b []byte) (*RefreshCommitment, error) {
	s, err := readHeader(b, kindRefreshCommitment)
	if err != nil {
		return nil, err
	}
	const fixed = headerSize + 4 + 2 + 2
	if len(b) < fixed {
		return nil, fmt.Errorf("%w: short refresh commitment", ErrEncoding)
	}
	c := &RefreshCommitment{suite: s, epoch: binary.BigEndian.Uint32(b[headerSize:]), from: binary.BigEndian.Uint16(b[headerSize+4:])}
	t := int(binary.BigEndian.Uint16(b[headerSize+6:]))
	if c.from == 0 || t < 1 || t > MaxSigners || len(b) != fixed+(t-1)*elementSize {
		return nil, fmt.Errorf("%w: refresh commitment from %d, t = %d, %d bytes", ErrEncoding, c.from, t, len(b))
	}
	for k := range t - 1 {
		p, err := s.decodeElementErr(b[fixed+k*elementSize:fixed+(k+1)*elementSize], "refresh commitment")
		if err != nil {
			return nil, err
		}
		c.points = append(c.points, p)
	}
	return c, nil
}

// Marshal encodes the delta share: header, epoch (uint32), from, to (uint16
// each), value. The result is secret.
func (s *RefreshShare) Marshal() []byte {
	b := binary.BigEndian.AppendUint32(header(s.suite, kindRefreshShare), s.epoch)
	b = binary.BigEndian.AppendUint16(b, s.from)
	b = binary.BigEndian.AppendUint16(b, s.to)
	return append(b, s.value.Bytes()...)
}

// UnmarshalRefreshShare decodes a delta share (canonical scalar, non-zero
// identifiers).
func UnmarshalRefreshShare(b []byte) (*RefreshShare, error) {
	s, err := readHeader(b, kindRefreshShare)
	if err != nil {
		return nil, err
	}
	const size = headerSize + 4 + 2 + 2 + scalarSize
	if len(b) != size {
		return nil, fmt.Errorf("%w: refresh share of %d bytes", ErrEncoding, len(b))
	}
	sh := &RefreshShare{suite: s, epoch: binary.BigEndian.Uint32(b[headerSize:]),
		from: binary.BigEndian.Uint16(b[headerSize+4:]), to: binary.BigEndian.Uint16(b[headerSize+6:])}
	v, ok := decodeScalar(b[headerSize+8:])
	if !ok || sh.from == 0 || sh.to == 0 {
		return nil, fmt.Errorf("%w: refresh share", ErrEncoding)
	}
	sh.value.Set(v)
	return sh, nil
}
