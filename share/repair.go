package share

import (
	"fmt"
	"slices"

	"filippo.io/edwards25519"
)

// Repair of a lost share (the repairable threshold scheme of Laing and
// Stinson, eprint 2017/1155, §5; ZcashFoundation/frost "repairable"). The
// share at index r is rebuilt by a set of at least t helpers holding valid
// shares, without anyone learning the secret or another helper's share:
//
//  1. [RepairSplit]: helper i computes δ_i = λ_i(r)·s_i, where λ_i(r) is
//     the Lagrange coefficient that evaluates at r from the helpers' indexes,
//     and splits it into one piece per helper: the pieces for the others are
//     fresh uniform scalars, its own is δ_i minus them. It sends each other
//     helper its piece, sealed.
//  2. [RepairCombine]: helper j adds the pieces it received and its own into
//     σ_j and sends σ_j to the new holder, sealed.
//  3. [RepairFinish]: the new holder adds the σ_j: Σ_j σ_j = Σ_i δ_i = f(r),
//     and verifies the result against the commitments.
//
// For Pedersen the blind g(r) is repaired the same way alongside. A piece is
// uniform and independent of the secret and of the sender's share; a sum
// σ_j is uniform given everything but the other sums; only the total is
// f(r). A tampered piece or sum makes the final verification fail
// ([ErrBadShare]). A holder of several indexes runs steps 1 and 2 once per
// index.

// RepairPiece is what helper From sends helper To in step 1 of repairing
// index Target. Value and Blind are secret.
type RepairPiece struct {
	Scheme   Scheme
	Target   uint32
	From, To uint32
	Epoch    uint32
	Value    edwards25519.Scalar
	Blind    edwards25519.Scalar // Pedersen only
}

// RepairSum is what helper From sends the new holder of index Target in
// step 2. Value and Blind are secret.
type RepairSum struct {
	Scheme Scheme
	Target uint32
	From   uint32
	Epoch  uint32
	Value  edwards25519.Scalar
	Blind  edwards25519.Scalar // Pedersen only
}

// checkRepair checks the helper set and target against c.
func checkRepair(c *Commitments, helpers []uint32, target uint32) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := checkIndexes(helpers, len(c.Points)); err != nil {
		return fmt.Errorf("repair helpers: %w", err)
	}
	if !validIndex(target) {
		return fmt.Errorf("%w: repair target %d out of 1..%d", ErrParams, target, MaxShares)
	}
	if slices.Contains(helpers, target) {
		return fmt.Errorf("%w: repair target %d is a helper", ErrParams, target)
	}
	return nil
}

// RepairSplit is step 1 for the helper holding own, one of helpers (at
// least t distinct indexes, not target): it verifies own against c and
// returns one piece per helper, in the order of helpers, the one for own
// included (to be passed to its own RepairCombine).
func RepairSplit(c *Commitments, own *Share, helpers []uint32, target uint32) ([]RepairPiece, error) {
	if err := checkRepair(c, helpers, target); err != nil {
		return nil, err
	}
	self := slices.Index(helpers, own.Index)
	if self < 0 {
		return nil, fmt.Errorf("%w: share %d is not one of the repair helpers", ErrParams, own.Index)
	}
	if err := c.Verify(own); err != nil {
		return nil, fmt.Errorf("share: repair helper %d: %w", own.Index, err)
	}
	lambda := lagrange(helpers, target)[self]
	var delta, deltaB edwards25519.Scalar
	delta.Multiply(lambda, &own.Value)
	deltaB.Multiply(lambda, &own.Blind)

	pieces := make([]RepairPiece, len(helpers))
	for k, h := range helpers {
		p := &pieces[k]
		p.Scheme, p.Target, p.From, p.To, p.Epoch = c.Scheme, target, own.Index, h, c.Epoch
		if k == self {
			continue
		}
		p.Value.Set(randomScalar())
		delta.Subtract(&delta, &p.Value)
		if c.Scheme == Pedersen {
			p.Blind.Set(randomScalar())
			deltaB.Subtract(&deltaB, &p.Blind)
		}
	}
	pieces[self].Value.Set(&delta)
	pieces[self].Blind.Set(&deltaB)
	delta, deltaB = edwards25519.Scalar{}, edwards25519.Scalar{}
	return pieces, nil
}

// RepairCombine is step 2 for helper self: given exactly one piece from
// each helper (its own included), addressed to self for target and of c's
// scheme and epoch, it returns their sum for the new holder.
func RepairCombine(c *Commitments, self uint32, helpers []uint32, target uint32, pieces []RepairPiece) (RepairSum, error) {
	if err := checkRepair(c, helpers, target); err != nil {
		return RepairSum{}, err
	}
	if !slices.Contains(helpers, self) {
		return RepairSum{}, fmt.Errorf("%w: %d is not one of the repair helpers", ErrParams, self)
	}
	if len(pieces) != len(helpers) {
		return RepairSum{}, fmt.Errorf("%w: %d repair pieces for %d helpers", ErrParams, len(pieces), len(helpers))
	}
	sum := RepairSum{Scheme: c.Scheme, Target: target, From: self, Epoch: c.Epoch}
	seen := make(map[uint32]bool, len(pieces))
	for k := range pieces {
		p := &pieces[k]
		switch {
		case p.Scheme != c.Scheme || p.Epoch != c.Epoch || p.Target != target || p.To != self:
			return RepairSum{}, fmt.Errorf("%w: repair piece from %d is for (%v, epoch %d, target %d, to %d), want (%v, %d, %d, %d)",
				ErrParams, p.From, p.Scheme, p.Epoch, p.Target, p.To, c.Scheme, c.Epoch, target, self)
		case !slices.Contains(helpers, p.From) || seen[p.From]:
			return RepairSum{}, fmt.Errorf("%w: repair piece from %d is not from a helper or repeated", ErrParams, p.From)
		}
		seen[p.From] = true
		sum.Value.Add(&sum.Value, &p.Value)
		sum.Blind.Add(&sum.Blind, &p.Blind)
	}
	return sum, nil
}

// RepairFinish is step 3 for the new holder of target: given exactly one
// sum from each helper, it returns the repaired share after verifying it
// against c; a tampered piece or sum gives a [*BadSharesError] wrapping
// [ErrBadShare].
func RepairFinish(c *Commitments, target uint32, helpers []uint32, sums []RepairSum) (Share, error) {
	if err := checkRepair(c, helpers, target); err != nil {
		return Share{}, err
	}
	if len(sums) != len(helpers) {
		return Share{}, fmt.Errorf("%w: %d repair sums for %d helpers", ErrParams, len(sums), len(helpers))
	}
	s := Share{Scheme: c.Scheme, Index: target, Epoch: c.Epoch}
	seen := make(map[uint32]bool, len(sums))
	for k := range sums {
		p := &sums[k]
		switch {
		case p.Scheme != c.Scheme || p.Epoch != c.Epoch || p.Target != target:
			return Share{}, fmt.Errorf("%w: repair sum from %d is for (%v, epoch %d, target %d), want (%v, %d, %d)",
				ErrParams, p.From, p.Scheme, p.Epoch, p.Target, c.Scheme, c.Epoch, target)
		case !slices.Contains(helpers, p.From) || seen[p.From]:
			return Share{}, fmt.Errorf("%w: repair sum from %d is not from a helper or repeated", ErrParams, p.From)
		}
		seen[p.From] = true
		s.Value.Add(&s.Value, &p.Value)
		s.Blind.Add(&s.Blind, &p.Blind)
	}
	if err := c.Verify(&s); err != nil {
		return Share{}, fmt.Errorf("share: repaired share %d: %w", target, err)
	}
	return s, nil
}

// String describes p without its secret value and blind.
func (p RepairPiece) String() string {
	return fmt.Sprintf("share.RepairPiece{%v, target %d, %d→%d, epoch %d}", p.Scheme, p.Target, p.From, p.To, p.Epoch)
}

// GoString is String, so that %#v does not print the secret either.
func (p RepairPiece) GoString() string { return p.String() }

// String describes s without its secret value and blind.
func (s RepairSum) String() string {
	return fmt.Sprintf("share.RepairSum{%v, target %d, from %d, epoch %d}", s.Scheme, s.Target, s.From, s.Epoch)
}

// GoString is String, so that %#v does not print the secret either.
func (s RepairSum) GoString() string { return s.String() }
