package frost

import (
	"encoding/binary"
	"fmt"
	"slices"

	"filippo.io/edwards25519"
)

// Repair and enrolment (the repairable threshold scheme of Laing and
// Stinson, eprint 2017/1155; ZcashFoundation/frost "repairable"): at least
// t helpers rebuild the share of identifier r — a lost share of an
// existing signer, or the first share of a new one — without anyone
// learning the key or another helper's share:
//
//  1. [RepairSplit]: helper i computes δ_i = λ_i(r)·s_i (λ_i(r) evaluates
//     at r from the helpers' identifiers) and splits it into one random
//     piece per helper; it sends each other helper its piece, sealed.
//  2. [RepairCombine]: helper j adds the pieces it received into σ_j and
//     sends σ_j to the new holder, sealed.
//  3. [RepairFinish]: the new holder adds the σ_j, Σ σ_j = f(r), and checks
//     the result against r's verifying share: the stored one for a repair,
//     or for an enrolment Σ λ_i(r)·Y_i from the helpers' verifying shares
//     ([EnrolPublicKey], which every signer can compute for itself).
//
// share.RepairSplit and friends do the same for key slicing but verify
// against coefficient commitments, which a FROST key does not keep; here
// the verifying shares play that role. A tampered piece or sum makes the
// final check fail (it cannot say which helper tampered: pieces are
// uniformly random by design).

const (
	kindRepairPiece byte = 'Q'
	kindRepairSum   byte = 'q'
)

// RepairPiece is what helper From sends helper To in step 1 of repairing
// Target. It is secret.
type RepairPiece struct {
	suite    *Suite
	target   uint16
	from, to uint16
	value    edwards25519.Scalar
}

// RepairSum is what helper From sends the new holder of Target in step 2.
// It is secret.
type RepairSum struct {
	suite  *Suite
	target uint16
	from   uint16
	value  edwards25519.Scalar
}

// From returns the sender's identifier.
func (p *RepairPiece) From() uint16 { return p.from }

// To returns the recipient helper's identifier.
func (p *RepairPiece) To() uint16 { return p.to }

// From returns the sender's identifier.
func (s *RepairSum) From() uint16 { return s.from }

func checkHelpers(t int, helpers []uint16, target uint16) error {
	if len(helpers) < t || len(helpers) > MaxSigners {
		return fmt.Errorf("%w: %d repair helpers, need %d", ErrTooFewSigners, len(helpers), t)
	}
	seen := make(map[uint16]bool, len(helpers))
	for _, h := range helpers {
		if h == 0 || seen[h] {
			return fmt.Errorf("%w: helper %d zero or repeated", ErrDuplicate, h)
		}
		seen[h] = true
	}
	if target == 0 || seen[target] {
		return fmt.Errorf("%w: repair target %d is zero or a helper", ErrIdentifier, target)
	}
	return nil
}

func helperScalars(helpers []uint16) []*edwards25519.Scalar {
	xs := make([]*edwards25519.Scalar, len(helpers))
	for i, h := range helpers {
		xs[i] = scalarFromUint16(h)
	}
	return xs
}

// RepairSplit is step 1 for the helper holding k, one of helpers (at least
// t distinct identifiers, not target): one piece per helper, in the order
// of helpers, its own included (for its own RepairCombine).
func RepairSplit(k *KeyShare, helpers []uint16, target uint16) ([]*RepairPiece, error) {
	if err := checkHelpers(k.threshold, helpers, target); err != nil {
		return nil, err
	}
	self := slices.Index(helpers, k.id)
	if self < 0 {
		return nil, fmt.Errorf("%w: %d is not one of the repair helpers", ErrIdentifier, k.id)
	}
	lambda := lagrangeOne(scalarFromUint16(target), helperScalars(helpers), self)
	delta := edwards25519.NewScalar().Multiply(lambda, &k.secret)
	defer delta.Set(edwards25519.NewScalar())
	pieces := make([]*RepairPiece, len(helpers))
	for i, h := range helpers {
		pieces[i] = &RepairPiece{suite: k.suite, target: target, from: k.id, to: h}
		if i != self {
			pieces[i].value.Set(randomScalar())
			delta.Subtract(delta, &pieces[i].value)
		}
	}
	pieces[self].value.Set(delta)
	return pieces, nil
}

// RepairCombine is step 2 for helper self: given exactly one piece from
// each helper (its own included), addressed to self for target, it returns
// their sum for the new holder.
func RepairCombine(s *Suite, self uint16, helpers []uint16, target uint16, pieces []*RepairPiece) (*RepairSum, error) {
	if err := checkHelpers(1, helpers, target); err != nil {
		return nil, err
	}
	if !slices.Contains(helpers, self) || len(pieces) != len(helpers) {
		return nil, fmt.Errorf("%w: helper %d with %d pieces for %d helpers", ErrShares, self, len(pieces), len(helpers))
	}
	sum := &RepairSum{suite: s, target: target, from: self}
	seen := make(map[uint16]bool, len(pieces))
	for _, p := range pieces {
		if p == nil || p.suite != s || p.target != target || p.to != self || !slices.Contains(helpers, p.from) || seen[p.from] {
			return nil, fmt.Errorf("%w: repair piece for another target, recipient or suite, or repeated", ErrShares)
		}
		seen[p.from] = true
		sum.value.Add(&sum.value, &p.value)
	}
	return sum, nil
}

// EnrolPublicKey returns pub with a verifying share for the new identifier
// target, Σ λ_i(target)·Y_i over the helpers' verifying shares. Public:
// every signer computes it to accept the new holder.
func EnrolPublicKey(pub *PublicKeyPackage, helpers []uint16, target uint16) (*PublicKeyPackage, error) {
	if err := checkHelpers(pub.threshold, helpers, target); err != nil {
		return nil, err
	}
	if _, ok := pub.shares[target]; ok {
		return nil, fmt.Errorf("%w: %d is already a signer", ErrDuplicate, target)
	}
	pts := make([]*edwards25519.Point, len(helpers))
	for i, h := range helpers {
		if pts[i] = pub.shares[h]; pts[i] == nil {
			return nil, fmt.Errorf("%w: helper %d is not a signer", ErrIdentifier, h)
		}
	}
	y := new(edwards25519.Point).VarTimeMultiScalarMult(lagrangeAll(scalarFromUint16(target), helperScalars(helpers)), pts)
	enc := make(map[uint16][]byte, len(pub.ids)+1)
	for _, id := range pub.ids {
		enc[id] = pub.suite.cs.encodeElement(pub.shares[id])
	}
	enc[target] = pub.suite.cs.encodeElement(y)
	return NewPublicKeyPackage(pub.suite, pub.threshold, pub.GroupKey(), enc)
}

// RepairFinish is step 3 for the new holder of target: given exactly one
// sum from each helper, it returns target's key share and the public key
// package it belongs to — pub itself for a repair (target is a signer of
// pub), or pub extended by EnrolPublicKey for an enrolment. A tampered
// piece or sum gives an error wrapping ErrInconsistentKey.
func RepairFinish(pub *PublicKeyPackage, helpers []uint16, target uint16, sums []*RepairSum) (*KeyShare, *PublicKeyPackage, error) {
	if err := checkHelpers(pub.threshold, helpers, target); err != nil {
		return nil, nil, err
	}
	if len(sums) != len(helpers) {
		return nil, nil, fmt.Errorf("%w: %d repair sums for %d helpers", ErrShares, len(sums), len(helpers))
	}
	for _, h := range helpers {
		if pub.shares[h] == nil {
			return nil, nil, fmt.Errorf("%w: helper %d is not a signer", ErrIdentifier, h)
		}
	}
	x := edwards25519.NewScalar()
	defer x.Set(edwards25519.NewScalar())
	seen := make(map[uint16]bool, len(sums))
	for _, sm := range sums {
		if sm == nil || sm.suite != pub.suite || sm.target != target || !slices.Contains(helpers, sm.from) || seen[sm.from] {
			return nil, nil, fmt.Errorf("%w: repair sum for another target or suite, or repeated", ErrShares)
		}
		seen[sm.from] = true
		x.Add(x, &sm.value)
	}
	out := pub
	if _, ok := pub.shares[target]; !ok {
		var err error
		if out, err = EnrolPublicKey(pub, helpers, target); err != nil {
			return nil, nil, err
		}
	}
	sk := x.Bytes()
	defer clear(sk)
	ks, err := NewKeyShare(out, target, sk)
	if err != nil {
		return nil, nil, fmt.Errorf("frost: repaired share of %d (a piece or sum was altered): %w", target, err)
	}
	return ks, out, nil
}

// Marshal encodes the piece: header, target, from, to (uint16 each),
// value. The result is secret.
func (p *RepairPiece) Marshal() []byte {
	b := binary.BigEndian.AppendUint16(header(p.suite, kindRepairPiece), p.target)
	b = binary.BigEndian.AppendUint16(b, p.from)
	b = binary.BigEndian.AppendUint16(b, p.to)
	return append(b, p.value.Bytes()...)
}

// UnmarshalRepairPiece decodes a piece (canonical scalar, non-zero
// identifiers).
func UnmarshalRepairPiece(b []byte) (*RepairPiece, error) {
	s, err := readHeader(b, kindRepairPiece)
	if err != nil {
		return nil, err
	}
	if len(b) != headerSize+6+scalarSize {
		return nil, fmt.Errorf("%w: repair piece of %d bytes", ErrEncoding, len(b))
	}
	p := &RepairPiece{suite: s, target: binary.BigEndian.Uint16(b[headerSize:]),
		from: binary.BigEndian.Uint16(b[headerSize+2:]), to: binary.BigEndian.Uint16(b[headerSize+4:])}
	v, ok := decodeScalar(b[headerSize+6:])
	if !ok || p.target == 0 || p.from == 0 || p.to == 0 {
		return nil, fmt.Errorf("%w: repair piece", ErrEncoding)
	}
	p.value.Set(v)
	return p, nil
}

// Marshal encodes the sum: header, target, from (uint16 each), value. The
// result is secret.
func (s *RepairSum) Marshal() []byte {
	b := binary.BigEndian.AppendUint16(header(s.suite, kindRepairSum), s.target)
	b = binary.BigEndian.AppendUint16(b, s.from)
	return append(b, s.value.Bytes()...)
}

// UnmarshalRepairSum decodes a sum (canonical scalar, non-zero identifiers).
func UnmarshalRepairSum(b []byte) (*RepairSum, error) {
	s, err := readHeader(b, kindRepairSum)
	if err != nil {
		return nil, err
	}
	if len(b) != headerSize+4+scalarSize {
		return nil, fmt.Errorf("%w: repair sum of %d bytes", ErrEncoding, len(b))
	}
	sm := &RepairSum{suite: s, target: binary.BigEndian.Uint16(b[headerSize:]), from: binary.BigEndian.Uint16(b[headerSize+2:])}
	v, ok := decodeScalar(b[headerSize+4:])
	if !ok || sm.target == 0 || sm.from == 0 {
		return nil, fmt.Errorf("%w: repair sum", ErrEncoding)
	}
	sm.value.Set(v)
	return sm, nil
}
