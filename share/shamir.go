package share

import (
	"fmt"
	"slices"

	"filippo.io/edwards25519"
)

// Deal splits secret into shares at the given indexes (distinct, in
// 1..MaxShares, at least t of them), any t of which recover it, and returns
// them with the commitments, all of the given epoch. The polynomials'
// coefficients come from crypto/rand. A Feldman secret is a signing scalar
// and must not be zero.
func Deal(scheme Scheme, secret *edwards25519.Scalar, t int, indexes []uint32, epoch uint32) ([]Share, *Commitments, error) {
	if secret == nil {
		return nil, nil, fmt.Errorf("%w: nil secret", ErrParams)
	}
	if scheme == Feldman && secret.Equal(edwards25519.NewScalar()) == 1 {
		return nil, nil, fmt.Errorf("%w: a Feldman secret (signing scalar) must not be zero", ErrParams)
	}
	return deal(scheme, secret, false, t, indexes, epoch)
}

// DealZero deals a sharing of zero, with a zero constant term in both
// polynomials so that C_0 is the identity, for a refresh to epoch (the new
// epoch): see [ApplyRefresh].
func DealZero(scheme Scheme, t int, indexes []uint32, epoch uint32) ([]Share, *Commitments, error) {
	return deal(scheme, edwards25519.NewScalar(), true, t, indexes, epoch)
}

// deal deals secret; for a zero-sharing the blind's constant term is zero
// too (so C_0 is the identity), otherwise it is random (so C_0 hides even a
// zero secret).
func deal(scheme Scheme, secret *edwards25519.Scalar, zeroSharing bool, t int, indexes []uint32, epoch uint32) ([]Share, *Commitments, error) {
	if !scheme.valid() {
		return nil, nil, fmt.Errorf("%w: unknown scheme %d", ErrParams, uint8(scheme))
	}
	if t < 1 || t > MaxThreshold {
		return nil, nil, fmt.Errorf("%w: threshold %d out of 1..%d", ErrParams, t, MaxThreshold)
	}
	if err := checkIndexes(indexes, t); err != nil {
		return nil, nil, err
	}
	// f(x) = Σ a_j x^j with a_0 = secret; g(x) = Σ b_j x^j with b_0 random
	// (zero for a zero-sharing) for Pedersen.
	a := make([]edwards25519.Scalar, t)
	b := make([]edwards25519.Scalar, t)
	defer clearScalars(a)
	defer clearScalars(b)
	a[0].Set(secret)
	for j := 1; j < t; j++ {
		a[j].Set(randomScalar())
	}
	// A zero top coefficient would lower the degree (and the threshold).
	for t > 1 && a[t-1].Equal(edwards25519.NewScalar()) == 1 {
		a[t-1].Set(randomScalar())
	}
	if scheme == Pedersen {
		for j := range b {
			if j > 0 || !zeroSharing {
				b[j].Set(randomScalar())
			}
		}
	}

	c := &Commitments{Scheme: scheme, Epoch: epoch, Points: make([]*edwards25519.Point, t)}
	points := make([]edwards25519.Point, t)
	for j := range points {
		c.Points[j] = &points[j]
		if scheme == Feldman {
			points[j].ScalarBaseMult(&a[j])
		} else {
			points[j].MultiScalarMult(
				[]*edwards25519.Scalar{&a[j], &b[j]},
				[]*edwards25519.Point{edwards25519.NewGeneratorPoint(), generatorH})
		}
	}

	shares := make([]Share, len(indexes))
	for i, x := range indexes {
		s := &shares[i]
		s.Scheme, s.Index, s.Epoch = scheme, x, epoch
		xs := indexScalar(x)
		horner(&s.Value, a, xs)
		if scheme == Pedersen {
			horner(&s.Blind, b, xs)
		}
	}
	return shares, c, nil
}

// horner sets v = Σ_j coef[j]·x^j.
func horner(v *edwards25519.Scalar, coef []edwards25519.Scalar, x *edwards25519.Scalar) {
	v.Set(&coef[len(coef)-1])
	for j := len(coef) - 2; j >= 0; j-- {
		v.MultiplyAdd(v, x, &coef[j])
	}
}

func clearScalars(s []edwards25519.Scalar) {
	for i := range s {
		s[i] = edwards25519.Scalar{}
	}
}

// Recover verifies the shares against c and recovers the secret from t of
// the valid ones (the lowest indexes). Shares of another epoch, shares that
// do not verify, and conflicting shares of one index (all of them, unless
// exactly one verifies) are skipped and named in skipped (nil if none);
// identical copies count once. With fewer than t valid shares it returns a
// [*TooFewSharesError] (wrapping [ErrTooFewShares], and the refusals); it
// never returns a secret that does not match the commitments.
func Recover(c *Commitments, shares []Share) (secret *edwards25519.Scalar, skipped *BadSharesError, err error) {
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	bad := &BadSharesError{Epoch: c.Epoch}
	cand := dedupe(c.sortOut(shares, bad))
	ok := make([]bool, len(cand))
	if c.verifyBatch(cand) {
		for i := range ok {
			ok[i] = true
		}
	} else {
		for i, s := range cand {
			ok[i] = c.verifyOne(s)
		}
	}
	// An index is used if exactly one of its (distinct) shares verifies;
	// every index with a share that does not is named.
	valid := make(map[uint32]*Share, len(cand))
	nvalid := make(map[uint32]int, len(cand))
	for i, s := range cand {
		if ok[i] {
			valid[s.Index] = s
			nvalid[s.Index]++
		} else {
			bad.Indexes = append(bad.Indexes, s.Index)
		}
	}
	for x, n := range nvalid {
		if n > 1 { // two different valid shares: only if someone knows log_B H
			delete(valid, x)
			bad.Indexes = append(bad.Indexes, x)
		}
	}
	skipped = bad.sorted()

	t := len(c.Points)
	if len(valid) < t {
		return nil, skipped, &TooFewSharesError{Valid: len(valid), Need: t, Bad: skipped}
	}
	xs := make([]uint32, 0, len(valid))
	for x := range valid {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	xs = xs[:t]
	lambda := lagrange(xs, 0)
	secret = edwards25519.NewScalar()
	var blind edwards25519.Scalar
	for i, x := range xs {
		secret.MultiplyAdd(lambda[i], &valid[x].Value, secret)
		blind.MultiplyAdd(lambda[i], &valid[x].Blind, &blind)
	}
	// t valid shares determine f(0) and g(0), so this holds unless the
	// arithmetic is wrong; checked anyway, as the last line of defence.
	if !equalCofactored(c.Points[0], c.shareSide(secret, &blind)) {
		return nil, skipped, fmt.Errorf("%w: recovered secret does not match C_0", ErrBadShare)
	}
	return secret, skipped, nil
}

// dedupe drops exact copies (same index, value and blind; scheme and epoch
// are equal after precheck), comparing secrets in constant time.
func dedupe(shares []*Share) []*Share {
	byIndex := make(map[uint32][]*Share, len(shares))
	out := shares[:0:0]
	for _, s := range shares {
		dup := false
		for _, o := range byIndex[s.Index] {
			if o.Value.Equal(&s.Value)&o.Blind.Equal(&s.Blind) == 1 {
				dup = true
				break
			}
		}
		if !dup {
			byIndex[s.Index] = append(byIndex[s.Index], s)
			out = append(out, s)
		}
	}
	return out
}

// lagrange returns the Lagrange coefficients λ_i(at) = Π_{j≠i} (at − x_j) /
// (x_i − x_j) for the distinct indexes xs, so that f(at) = Σ λ_i f(x_i) for
// every polynomial of degree < len(xs). The denominators are inverted with
// one field inversion (Montgomery's batch trick). Not constant time in xs
// and at, which are public.
func lagrange(xs []uint32, at uint32) []*edwards25519.Scalar {
	n := len(xs)
	xsc := make([]*edwards25519.Scalar, n)
	for i, x := range xs {
		xsc[i] = indexScalar(x)
	}
	atS := indexScalar(at)
	// Numerators from prefix and suffix products of (at − x_j).
	diff := make([]edwards25519.Scalar, n)
	for i := range diff {
		diff[i].Subtract(atS, xsc[i])
	}
	pre := make([]edwards25519.Scalar, n+1)
	pre[0].Set(indexScalar(1))
	for i := range n {
		pre[i+1].Multiply(&pre[i], &diff[i])
	}
	num := make([]edwards25519.Scalar, n)
	suf := indexScalar(1)
	for i := n - 1; i >= 0; i-- {
		num[i].Multiply(&pre[i], suf)
		suf.Multiply(suf, &diff[i])
	}
	// Denominators Π_{j≠i} (x_i − x_j), and their running products.
	den := make([]edwards25519.Scalar, n)
	var d edwards25519.Scalar
	for i := range n {
		den[i].Set(indexScalar(1))
		for j := range n {
			if j != i {
				den[i].Multiply(&den[i], d.Subtract(xsc[i], xsc[j]))
			}
		}
	}
	run := make([]edwards25519.Scalar, n+1)
	run[0].Set(indexScalar(1))
	for i := range n {
		run[i+1].Multiply(&run[i], &den[i])
	}
	inv := edwards25519.NewScalar().Invert(&run[n])
	out := make([]*edwards25519.Scalar, n)
	for i := n - 1; i >= 0; i-- {
		// inv = 1/(den_0 … den_i); 1/den_i = inv · run_i.
		di := edwards25519.NewScalar().Multiply(inv, &run[i])
		inv.Multiply(inv, &den[i])
		out[i] = di.Multiply(di, &num[i])
	}
	return out
}
