package share

import (
	"crypto/sha256"
	"fmt"

	"filippo.io/edwards25519"
)

// commitmentsHashDomain separates Commitments.Hash from other SHA-256 uses.
const commitmentsHashDomain = "maskshare/share v1 commitments hash\x00"

// Threshold returns t, the number of shares that recover the secret.
func (c *Commitments) Threshold() int { return len(c.Points) }

// PublicKey returns a copy of C_0 = secret·B of a Feldman sharing: the
// public key of the shared signing scalar. Pedersen commitments hide the
// secret and have none.
func (c *Commitments) PublicKey() (*edwards25519.Point, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Scheme != Feldman {
		return nil, fmt.Errorf("%w: %v commitments have no public key", ErrParams, c.Scheme)
	}
	return new(edwards25519.Point).Set(c.Points[0]), nil
}

// Hash returns SHA-256 of a domain string and the binary encoding of c, for
// binding the commitments (scheme, epoch and points) into other messages.
// Commitments that cannot be encoded (nil points, bad scheme or length) hash
// to the zero array.
func (c *Commitments) Hash() [32]byte {
	b, err := c.AppendBinary([]byte(commitmentsHashDomain))
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// check is the cheap structural check done before every use.
func (c *Commitments) check() error {
	if c == nil {
		return fmt.Errorf("%w: nil commitments", ErrParams)
	}
	if !c.Scheme.valid() {
		return fmt.Errorf("%w: unknown scheme %d", ErrParams, uint8(c.Scheme))
	}
	if len(c.Points) < 1 || len(c.Points) > MaxThreshold {
		return fmt.Errorf("%w: threshold %d out of 1..%d", ErrParams, len(c.Points), MaxThreshold)
	}
	for j, p := range c.Points {
		if p == nil {
			return fmt.Errorf("%w: commitment %d is nil", ErrParams, j)
		}
	}
	return nil
}

// Validate checks c fully: a known scheme, 1 ≤ t ≤ MaxThreshold, every point
// in the prime-order subgroup (no small-order component, which would make
// PublicKey wrong and the encoding malleable), and for t ≥ 2 a top
// commitment that is not the identity (the polynomial has the degree t−1 it
// claims, so t−1 shares do not suffice).
func (c *Commitments) Validate() error {
	if err := c.check(); err != nil {
		return err
	}
	for j, p := range c.Points {
		if !primeOrder(p) {
			return fmt.Errorf("%w: commitment %d is not in the prime-order subgroup", ErrParams, j)
		}
	}
	if t := len(c.Points); t >= 2 && c.Points[t-1].Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: top commitment is the identity (degree below t−1)", ErrParams)
	}
	return nil
}

// minusOne is l−1.
var minusOne = edwards25519.NewScalar().Subtract(edwards25519.NewScalar(), indexScalar(1))

// primeOrder reports whether l·p is the identity, computed as (l−1)·p + p.
// Variable time: p is public.
func primeOrder(p *edwards25519.Point) bool {
	var q edwards25519.Point
	q.VarTimeDoubleScalarBaseMult(minusOne, p, edwards25519.NewScalar())
	q.Add(&q, p)
	return q.Equal(edwards25519.NewIdentityPoint()) == 1
}

// precheck sorts out, without arithmetic, shares that cannot verify: it
// returns stale for another epoch, bad for another scheme, an index out of
// range or a Feldman share with a blind.
func (c *Commitments) precheck(s *Share) (stale, bad bool) {
	if s.Epoch != c.Epoch {
		return true, false
	}
	if s.Scheme != c.Scheme || !validIndex(s.Index) {
		return false, true
	}
	if c.Scheme == Feldman && s.Blind.Equal(edwards25519.NewScalar()) != 1 {
		return false, true
	}
	return false, false
}

// shareSide returns v·B + b·H (b·H for Pedersen only), in constant time.
func (c *Commitments) shareSide(v, b *edwards25519.Scalar) *edwards25519.Point {
	if c.Scheme == Feldman {
		return new(edwards25519.Point).ScalarBaseMult(v)
	}
	return new(edwards25519.Point).MultiScalarMult(
		[]*edwards25519.Scalar{v, b},
		[]*edwards25519.Point{edwards25519.NewGeneratorPoint(), generatorH})
}

// equalCofactored reports whether 8·p = 8·q. Multiplying by the cofactor
// makes the single and the batch checks agree even on commitments with
// small-order components that were never validated.
func equalCofactored(p, q *edwards25519.Point) bool {
	d := new(edwards25519.Point).Subtract(p, q)
	d.MultByCofactor(d)
	return d.Equal(edwards25519.NewIdentityPoint()) == 1
}

// verifyOne checks Σ_j x^j·C_j = v·B + b·H for a share that passed precheck.
func (c *Commitments) verifyOne(s *Share) bool {
	x := indexScalar(s.Index)
	powers := make([]*edwards25519.Scalar, len(c.Points))
	p := indexScalar(1)
	for j := range powers {
		powers[j] = edwards25519.NewScalar().Set(p)
		p.Multiply(p, x)
	}
	want := new(edwards25519.Point).VarTimeMultiScalarMult(powers, c.Points)
	return equalCofactored(want, c.shareSide(&s.Value, &s.Blind))
}

// verifyBatch checks the shares (which passed precheck) at once: with fresh
// random weights ρ_k, Σ_j (Σ_k ρ_k x_k^j)·C_j = (Σ_k ρ_k v_k)·B +
// (Σ_k ρ_k b_k)·H, which holds for a bad share with probability 1/l. The
// left side is one variable-time multi-scalar multiplication over public
// points with scalars that depend only on the public indexes and the
// weights; the right side, which depends on the shares, is constant time.
func (c *Commitments) verifyBatch(shares []*Share) bool {
	switch len(shares) {
	case 0:
		return true
	case 1:
		return c.verifyOne(shares[0])
	}
	t := len(c.Points)
	coef := make([]edwards25519.Scalar, t)
	var v, b, p edwards25519.Scalar
	for _, s := range shares {
		rho := randomScalar()
		v.MultiplyAdd(rho, &s.Value, &v)
		if c.Scheme == Pedersen {
			b.MultiplyAdd(rho, &s.Blind, &b)
		}
		x := indexScalar(s.Index)
		p.Set(rho)
		for j := range coef {
			coef[j].Add(&coef[j], &p)
			p.Multiply(&p, x)
		}
	}
	scalars := make([]*edwards25519.Scalar, t)
	for j := range coef {
		scalars[j] = &coef[j]
	}
	want := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, c.Points)
	return equalCofactored(want, c.shareSide(&v, &b))
}

// Verify checks s against the commitments: same epoch (else a
// [*BadSharesError] wrapping [ErrEpoch]), same scheme, an index in
// 1..MaxShares and Σ_j Index^j·C_j = Value·B (+ Blind·H for Pedersen) (else
// a [*BadSharesError] wrapping [ErrBadShare]).
func (c *Commitments) Verify(s *Share) error {
	if err := c.check(); err != nil {
		return err
	}
	if s == nil {
		return fmt.Errorf("%w: nil share", ErrParams)
	}
	stale, bad := c.precheck(s)
	if !stale && !bad {
		bad = !c.verifyOne(s)
	}
	e := &BadSharesError{Epoch: c.Epoch}
	if stale {
		e.Stale = []uint32{s.Index}
	}
	if bad {
		e.Indexes = []uint32{s.Index}
	}
	if e := e.sorted(); e != nil {
		return e
	}
	return nil
}

// VerifyBatch checks every share as [Commitments.Verify] does, with one
// multi-scalar multiplication for all; if that fails, it checks them one by
// one to name the bad ones in a [*BadSharesError].
func (c *Commitments) VerifyBatch(shares []Share) error {
	if err := c.check(); err != nil {
		return err
	}
	e := &BadSharesError{Epoch: c.Epoch}
	good := c.sortOut(shares, e)
	if !c.verifyBatch(good) {
		for _, s := range good {
			if !c.verifyOne(s) {
				e.Indexes = append(e.Indexes, s.Index)
			}
		}
	}
	if e := e.sorted(); e != nil {
		return e
	}
	return nil
}

// sortOut records in e the shares that fail precheck and returns the others.
func (c *Commitments) sortOut(shares []Share, e *BadSharesError) []*Share {
	good := make([]*Share, 0, len(shares))
	for i := range shares {
		switch stale, bad := c.precheck(&shares[i]); {
		case stale:
			e.Stale = append(e.Stale, shares[i].Index)
		case bad:
			e.Indexes = append(e.Indexes, shares[i].Index)
		default:
			good = append(good, &shares[i])
		}
	}
	return good
}
