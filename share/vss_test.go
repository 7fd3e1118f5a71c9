package share

import (
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

var schemes = []Scheme{Feldman, Pedersen}

// groupOrder is l = 2^252 + 27742317777372353535851937790883648493.
var groupOrder = func() *big.Int {
	l, ok := new(big.Int).SetString("27742317777372353535851937790883648493", 10)
	if !ok {
		panic("bad l")
	}
	return l.Add(l, new(big.Int).Lsh(big.NewInt(1), 252))
}()

func toBig(s *edwards25519.Scalar) *big.Int {
	b := s.Bytes()
	slices.Reverse(b)
	return new(big.Int).SetBytes(b)
}

// bigLagrange interpolates the points (xs[i], ys[i]) at `at` modulo l with
// math/big: an oracle independent of lagrange and of edwards25519.Scalar.
func bigLagrange(xs []uint32, ys []*big.Int, at int64) *big.Int {
	l := groupOrder
	sum := new(big.Int)
	for i := range xs {
		num, den := big.NewInt(1), big.NewInt(1)
		for j := range xs {
			if j == i {
				continue
			}
			num.Mul(num, big.NewInt(at-int64(xs[j])))
			den.Mul(den, big.NewInt(int64(xs[i])-int64(xs[j])))
		}
		num.Mod(num, l)
		den.Mod(den, l)
		term := num.Mul(num, den.ModInverse(den, l))
		term.Mul(term, ys[i])
		sum.Add(sum, term)
	}
	return sum.Mod(sum, l)
}

// randIndexes returns n distinct indexes in 1..MaxShares.
func randIndexes(r *mrand.Rand, n int) []uint32 {
	seen := map[uint32]bool{}
	out := make([]uint32, 0, n)
	for len(out) < n {
		x := uint32(1 + r.IntN(MaxShares))
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func mustDeal(t testing.TB, scheme Scheme, secret *edwards25519.Scalar, th int, xs []uint32, epoch uint32) ([]Share, *Commitments) {
	t.Helper()
	shares, c, err := Deal(scheme, secret, th, xs, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return shares, c
}

func seq(n int) []uint32 {
	xs := make([]uint32, n)
	for i := range xs {
		xs[i] = uint32(i + 1)
	}
	return xs
}

func shuffled(r *mrand.Rand, s []Share) []Share {
	s = slices.Clone(s)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// TestRecoverWeighted: over random t, N and holder weights, every set of
// holders with total weight ≥ t recovers the secret (compared with the
// math/big oracle too), and every set with weight < t gets ErrTooFewShares.
func TestRecoverWeighted(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for iter := range 40 {
		scheme := schemes[iter%2]
		th := 1 + r.IntN(12)
		n := th + r.IntN(2*th+4)
		xs := randIndexes(r, n)
		secret := randomScalar()
		shares, c := mustDeal(t, scheme, secret, th, xs, uint32(r.IntN(5)))
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		// Holders: consecutive runs of shares, weight 1..4 each.
		var holders [][]Share
		for rest := shares; len(rest) > 0; {
			w := min(1+r.IntN(4), len(rest))
			holders = append(holders, rest[:w])
			rest = rest[w:]
		}
		for range 6 {
			var got []Share
			for _, h := range holders {
				if r.IntN(2) == 0 {
					got = append(got, h...)
				}
			}
			name := fmt.Sprintf("%v t=%d n=%d with %d shares", scheme, th, n, len(got))
			s, skipped, err := Recover(c, shuffled(r, got))
			if skipped != nil {
				t.Fatalf("%s: skipped %v", name, skipped)
			}
			if len(got) < th {
				var tf *TooFewSharesError
				if !errors.Is(err, ErrTooFewShares) || !errors.As(err, &tf) || tf.Valid != len(got) || tf.Need != th || s != nil {
					t.Fatalf("%s: got %v, %v; want ErrTooFewShares", name, s, err)
				}
				continue
			}
			if err != nil || s.Equal(secret) != 1 {
				t.Fatalf("%s: recovered wrong secret, err %v", name, err)
			}
			// Oracle over the first t shares by index, as Recover picks them.
			sorted := slices.SortedFunc(slices.Values(got), func(a, b Share) int { return int(a.Index) - int(b.Index) })[:th]
			var oxs []uint32
			var oys []*big.Int
			for _, sh := range sorted {
				oxs = append(oxs, sh.Index)
				oys = append(oys, toBig(&sh.Value))
			}
			if bigLagrange(oxs, oys, 0).Cmp(toBig(secret)) != 0 {
				t.Fatalf("%s: math/big oracle disagrees", name)
			}
		}
	}
}

// TestLagrangeOracle compares lagrange at several points with math/big.
func TestLagrangeOracle(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 30 {
		n := 1 + r.IntN(20)
		xs := randIndexes(r, n+1)
		at, xs := xs[n], xs[:n]
		if r.IntN(3) == 0 {
			at = 0
		}
		lambda := lagrange(xs, at)
		// λ_i(at) is the interpolation of the indicator of i.
		for i := range xs {
			ys := make([]*big.Int, n)
			for j := range ys {
				ys[j] = new(big.Int)
			}
			ys[i].SetInt64(1)
			if want := bigLagrange(xs, ys, int64(at)); want.Cmp(toBig(lambda[i])) != 0 {
				t.Fatalf("λ_%d(%d) over %v: got %v want %v", xs[i], at, xs, toBig(lambda[i]), want)
			}
		}
	}
}

// TestTMinusOneUndetermined: t−1 shares are consistent with every secret.
// For a random other secret s', the polynomial through (0, s') and the t−1
// shares, expanded to coefficients with math/big, has degree < t, constant
// term s', and takes the shares' values at their indexes; so the shares do
// not single out the dealt secret. Recover refuses them.
func TestTMinusOneUndetermined(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	l := groupOrder
	for range 20 {
		th := 2 + r.IntN(10)
		xs := randIndexes(r, th+3)
		secret := randomScalar()
		shares, c := mustDeal(t, Feldman, secret, th, xs, 0)
		known := shares[:th-1]
		other := toBig(randomScalar())
		px := []int64{0}
		py := []*big.Int{other}
		for _, s := range known {
			px = append(px, int64(s.Index))
			py = append(py, toBig(&s.Value))
		}
		coef := bigInterpolate(px, py)
		if len(coef) > th {
			t.Fatalf("degree %d ≥ t = %d", len(coef)-1, th)
		}
		if coef[0].Cmp(other) != 0 {
			t.Fatal("constant term is not the other secret")
		}
		for i, x := range px {
			v := new(big.Int)
			for j := len(coef) - 1; j >= 0; j-- {
				v.Mul(v, big.NewInt(x)).Add(v, coef[j]).Mod(v, l)
			}
			if v.Cmp(py[i]) != 0 {
				t.Fatalf("polynomial misses point %d", x)
			}
		}
		if _, _, err := Recover(c, known); !errors.Is(err, ErrTooFewShares) {
			t.Fatalf("t−1 shares: %v", err)
		}
	}
}

// bigInterpolate returns the coefficients (lowest first) of the polynomial
// of degree < len(xs) through the points, modulo l.
func bigInterpolate(xs []int64, ys []*big.Int) []*big.Int {
	l := groupOrder
	n := len(xs)
	coef := make([]*big.Int, n)
	for i := range coef {
		coef[i] = new(big.Int)
	}
	for i := range xs {
		// basis = Π_{j≠i} (X − x_j) / (x_i − x_j), expanded.
		basis := []*big.Int{big.NewInt(1)}
		den := big.NewInt(1)
		for j := range xs {
			if j == i {
				continue
			}
			next := make([]*big.Int, len(basis)+1)
			for k := range next {
				next[k] = new(big.Int)
			}
			for k, b := range basis {
				next[k+1].Add(next[k+1], b)
				next[k].Sub(next[k], new(big.Int).Mul(b, big.NewInt(xs[j])))
			}
			basis = next
			den.Mul(den, big.NewInt(xs[i]-xs[j]))
		}
		f := new(big.Int).Mod(den, l)
		f.ModInverse(f, l).Mul(f, ys[i])
		for k, b := range basis {
			coef[k].Add(coef[k], new(big.Int).Mul(b, f)).Mod(coef[k], l)
		}
	}
	for len(coef) > 1 && coef[len(coef)-1].Sign() == 0 {
		coef = coef[:len(coef)-1]
	}
	return coef
}

// TestFeldmanPublicKey: C_0 is secret·B, and the recovered scalar gives it.
func TestFeldmanPublicKey(t *testing.T) {
	secret := randomScalar()
	shares, c := mustDeal(t, Feldman, secret, 3, seq(5), 0)
	got, _, err := Recover(c, shares[2:])
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if pk.Equal(new(edwards25519.Point).ScalarBaseMult(got)) != 1 {
		t.Fatal("C_0 ≠ recovered·B")
	}
	_, pc := mustDeal(t, Pedersen, secret, 3, seq(5), 0)
	if _, err := pc.PublicKey(); !errors.Is(err, ErrParams) {
		t.Fatalf("Pedersen public key: %v", err)
	}
	if pc.Points[0].Equal(pk) == 1 {
		t.Fatal("Pedersen C_0 reveals secret·B")
	}
}

// tamper returns a copy of s changed in one way.
func tamper(s Share, how string) Share {
	one := indexScalar(1)
	switch how {
	case "value":
		s.Value.Add(&s.Value, one)
	case "blind":
		s.Blind.Add(&s.Blind, one)
	case "index":
		s.Index = s.Index%MaxShares + 1
	case "scheme":
		s.Scheme = 3 - s.Scheme
	}
	return s
}

// TestVerifyTampered: an honest share verifies singly and in batch; a share
// with its value, blind (Pedersen; a Feldman share with a blind is refused
// too), index or scheme changed fails with ErrBadShare naming it, and the
// batch names exactly the bad ones.
func TestVerifyTampered(t *testing.T) {
	r := mrand.New(mrand.NewPCG(7, 8))
	for _, scheme := range schemes {
		for _, how := range []string{"value", "blind", "index", "scheme"} {
			th, n := 4, 9
			shares, c := mustDeal(t, scheme, randomScalar(), th, seq(n), 2)
			if err := c.VerifyBatch(shares); err != nil {
				t.Fatal(err)
			}
			for i := range shares {
				if err := c.Verify(&shares[i]); err != nil {
					t.Fatal(err)
				}
			}
			bad := []int{r.IntN(n), r.IntN(n)}
			var want []uint32
			for _, i := range bad {
				shares[i] = tamper(shares[i], how)
				want = append(want, shares[i].Index)
				var e *BadSharesError
				if err := c.Verify(&shares[i]); !errors.Is(err, ErrBadShare) || !errors.As(err, &e) || !slices.Equal(e.Indexes, []uint32{shares[i].Index}) {
					t.Fatalf("%v %s: Verify = %v", scheme, how, err)
				}
			}
			slices.Sort(want)
			want = slices.Compact(want)
			var e *BadSharesError
			err := c.VerifyBatch(shares)
			if !errors.As(err, &e) || !errors.Is(err, ErrBadShare) || !slices.Equal(e.Indexes, want) || len(e.Stale) != 0 {
				t.Fatalf("%v %s: VerifyBatch = %v, want bad %v", scheme, how, err, want)
			}
			// Recover skips them and still gets the secret from the rest
			// (n − 2 ≥ t), naming them.
			s, skipped, err := Recover(c, shares)
			if err != nil || skipped == nil || !slices.Equal(skipped.Indexes, want) {
				t.Fatalf("%v %s: Recover = %v, %v", scheme, how, skipped, err)
			}
			if pk := c.Points[0]; scheme == Feldman && pk.Equal(new(edwards25519.Point).ScalarBaseMult(s)) != 1 {
				t.Fatal("wrong secret")
			}
		}
	}
}

// TestVerifyBatchCancelling: two shares tampered by +d and −d pass an
// unweighted sum of the share equations (for Feldman at the constant term,
// Σ v_k·B is unchanged and so is Σ_k Σ_j x_k^j C_j) but not the randomly
// weighted batch, which names both.
func TestVerifyBatchCancelling(t *testing.T) {
	for _, scheme := range schemes {
		shares, c := mustDeal(t, scheme, randomScalar(), 3, seq(4), 0)
		d := randomScalar()
		shares[0].Value.Add(&shares[0].Value, d)
		shares[2].Value.Subtract(&shares[2].Value, d)
		var e *BadSharesError
		if err := c.VerifyBatch(shares); !errors.As(err, &e) || !slices.Equal(e.Indexes, []uint32{1, 3}) {
			t.Fatalf("%v: %v", scheme, err)
		}
		// An unweighted batch would pass: Σ_k (v_k·B + b_k·H) equals
		// Σ_j (Σ_k x_k^j)·C_j for the tampered shares.
		var v, bl edwards25519.Scalar
		coef := make([]*edwards25519.Scalar, 3)
		for j := range coef {
			coef[j] = edwards25519.NewScalar()
		}
		for i := range shares {
			v.Add(&v, &shares[i].Value)
			bl.Add(&bl, &shares[i].Blind)
			p, x := indexScalar(1), indexScalar(shares[i].Index)
			for j := range coef {
				coef[j].Add(coef[j], p)
				p.Multiply(p, x)
			}
		}
		lhs := new(edwards25519.Point).VarTimeMultiScalarMult(coef, c.Points)
		if lhs.Equal(c.shareSide(&v, &bl)) != 1 {
			t.Fatal("the cancelling tamper does not cancel in an unweighted sum")
		}
	}
}

// TestRecoverNeverWrong: with random subsets of tampered shares, Recover
// returns either the dealt secret or an error, never another secret.
func TestRecoverNeverWrong(t *testing.T) {
	r := mrand.New(mrand.NewPCG(9, 10))
	hows := []string{"value", "blind", "index", "scheme"}
	for iter := range 60 {
		scheme := schemes[iter%2]
		th := 1 + r.IntN(6)
		n := th + r.IntN(6)
		secret := randomScalar()
		shares, c := mustDeal(t, scheme, secret, th, seq(n), 0)
		nbad := 0
		for i := range shares {
			if r.IntN(3) == 0 {
				shares[i] = tamper(shares[i], hows[r.IntN(len(hows))])
				nbad++
			}
		}
		s, _, err := Recover(c, shuffled(r, shares))
		if err == nil && s.Equal(secret) != 1 {
			t.Fatalf("t=%d n=%d: wrong secret without error", th, n)
		}
		if err != nil && !errors.Is(err, ErrTooFewShares) {
			t.Fatalf("unexpected error %v", err)
		}
		if nbad == 0 && err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecoverDuplicates: identical copies count once; conflicting copies of
// an index are named bad, the index is used if exactly one copy verifies.
func TestRecoverDuplicates(t *testing.T) {
	for _, scheme := range schemes {
		secret := randomScalar()
		shares, c := mustDeal(t, scheme, secret, 3, seq(5), 0)

		// Three copies of share 1 and one of share 2: only 2 distinct.
		_, _, err := Recover(c, []Share{shares[0], shares[0], shares[0], shares[1]})
		var tf *TooFewSharesError
		if !errors.As(err, &tf) || tf.Valid != 2 || tf.Need != 3 || tf.Bad != nil {
			t.Fatalf("%v copies: %v", scheme, err)
		}
		s, skipped, err := Recover(c, []Share{shares[0], shares[1], shares[1], shares[2]})
		if err != nil || skipped != nil || s.Equal(secret) != 1 {
			t.Fatalf("%v copies with t distinct: %v %v", scheme, skipped, err)
		}

		// A conflicting copy of share 2: named; share 2 still used.
		forged := tamper(shares[1], "value")
		s, skipped, err = Recover(c, []Share{forged, shares[0], shares[1], shares[2]})
		if err != nil || s.Equal(secret) != 1 || skipped == nil || !slices.Equal(skipped.Indexes, []uint32{2}) {
			t.Fatalf("%v conflict: %v %v", scheme, skipped, err)
		}
		// Two conflicting copies, neither valid: index 2 is lost.
		forged2 := tamper(forged, "value")
		_, _, err = Recover(c, []Share{forged, forged2, shares[0], shares[2]})
		var bad *BadSharesError
		if !errors.As(err, &tf) || tf.Valid != 2 || !errors.As(err, &bad) || !slices.Equal(bad.Indexes, []uint32{2}) || !errors.Is(err, ErrBadShare) {
			t.Fatalf("%v two forged: %v", scheme, err)
		}
	}
}

// TestEpochRefused: a share of another epoch is refused with ErrEpoch,
// singly, in a batch and in Recover (named as stale).
func TestEpochRefused(t *testing.T) {
	for _, scheme := range schemes {
		shares, c := mustDeal(t, scheme, randomScalar(), 2, seq(3), 7)
		old := shares[0]
		old.Epoch = 6
		err := c.Verify(&old)
		var e *BadSharesError
		if !errors.Is(err, ErrEpoch) || errors.Is(err, ErrBadShare) || !errors.As(err, &e) || !slices.Equal(e.Stale, []uint32{1}) || e.Epoch != 7 {
			t.Fatalf("%v: %v", scheme, err)
		}
		if err := c.VerifyBatch([]Share{shares[1], old}); !errors.Is(err, ErrEpoch) {
			t.Fatalf("%v batch: %v", scheme, err)
		}
		_, _, err = Recover(c, []Share{old, shares[1]})
		if !errors.Is(err, ErrTooFewShares) || !errors.Is(err, ErrEpoch) {
			t.Fatalf("%v recover: %v", scheme, err)
		}
		t.Log(err)
	}
}

// TestDealParams: Deal refuses bad thresholds, indexes and schemes, and a
// zero Feldman secret.
func TestDealParams(t *testing.T) {
	s := randomScalar()
	cases := []struct {
		name   string
		scheme Scheme
		secret *edwards25519.Scalar
		t      int
		xs     []uint32
	}{
		{"t=0", Feldman, s, 0, seq(3)},
		{"t>N", Feldman, s, 4, seq(3)},
		{"t>Max", Pedersen, s, MaxThreshold + 1, seq(MaxThreshold + 1)},
		{"N>Max", Pedersen, s, 2, seq(MaxShares + 1)},
		{"index 0", Feldman, s, 2, []uint32{0, 1, 2}},
		{"index>Max", Feldman, s, 2, []uint32{1, MaxShares + 1}},
		{"repeated", Pedersen, s, 2, []uint32{1, 2, 1}},
		{"scheme", Scheme(0), s, 2, seq(3)},
		{"zero Feldman secret", Feldman, edwards25519.NewScalar(), 2, seq(3)},
		{"nil secret", Pedersen, nil, 2, seq(3)},
	}
	for _, c := range cases {
		if _, _, err := Deal(c.scheme, c.secret, c.t, c.xs, 0); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Zero is a valid Pedersen secret, and t = 1 and t = N work.
	for _, th := range []int{1, 3} {
		sh, c, err := Deal(Pedersen, edwards25519.NewScalar(), th, seq(3), 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Recover(c, sh[:th])
		if err != nil || got.Equal(edwards25519.NewScalar()) != 1 {
			t.Fatal(err)
		}
		// Hiding: a Pedersen C_0 does not show that the secret is zero.
		if c.Points[0].Equal(edwards25519.NewIdentityPoint()) == 1 {
			t.Fatal("Pedersen commitment to a zero secret is the identity")
		}
	}
}

// TestValidate: hand-made commitments with a small-order component, an
// identity top coefficient, nil points or a bad scheme are refused.
func TestValidate(t *testing.T) {
	_, c := mustDeal(t, Feldman, randomScalar(), 3, seq(3), 0)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// A point of order 2: (0, −1).
	var enc [32]byte
	enc[0] = 0xec
	for i := 1; i < 31; i++ {
		enc[i] = 0xff
	}
	enc[31] = 0x7f
	t2, err := new(edwards25519.Point).SetBytes(enc[:])
	if err != nil {
		t.Fatal(err)
	}
	bad := func(mod func(c *Commitments)) *Commitments {
		d := &Commitments{Scheme: c.Scheme, Epoch: c.Epoch, Points: slices.Clone(c.Points)}
		mod(d)
		return d
	}
	cases := map[string]*Commitments{
		"torsion": bad(func(d *Commitments) { d.Points[1] = new(edwards25519.Point).Add(d.Points[1], t2) }),
		"top identity": bad(func(d *Commitments) {
			d.Points[2] = edwards25519.NewIdentityPoint()
		}),
		"nil point": bad(func(d *Commitments) { d.Points[0] = nil }),
		"scheme":    bad(func(d *Commitments) { d.Scheme = 9 }),
		"empty":     bad(func(d *Commitments) { d.Points = nil }),
	}
	for name, d := range cases {
		if err := d.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (*Commitments)(nil).Verify(&Share{}); !errors.Is(err, ErrParams) {
		t.Errorf("nil commitments: %v", err)
	}
	if h := cases["nil point"].Hash(); h != [32]byte{} {
		t.Error("hash of invalid commitments is not zero")
	}
}

// TestHashBinds: the hash changes with the epoch, the scheme and any point.
func TestHashBinds(t *testing.T) {
	_, c := mustDeal(t, Feldman, randomScalar(), 2, seq(2), 0)
	h := c.Hash()
	if h != c.Hash() {
		t.Fatal("hash not deterministic")
	}
	d := *c
	d.Epoch++
	if d.Hash() == h {
		t.Fatal("epoch not bound")
	}
	d = *c
	d.Scheme = Pedersen
	if d.Hash() == h {
		t.Fatal("scheme not bound")
	}
	d = *c
	d.Points = []*edwards25519.Point{c.Points[0], c.Points[0]}
	if d.Hash() == h {
		t.Fatal("points not bound")
	}
}

// TestLimits: a sharing at the limits (t = MaxThreshold, N = MaxShares)
// deals, batch-verifies, recovers and round-trips its commitments; one
// more share or a higher threshold is refused.
func TestLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("about half a second")
	}
	secret := randomScalar()
	shares, c := mustDeal(t, Feldman, secret, MaxThreshold, seq(MaxShares), 0)
	if err := c.VerifyBatch(shares); err != nil {
		t.Fatal(err)
	}
	got, _, err := Recover(c, shares[MaxShares-MaxThreshold:])
	if err != nil || got.Equal(secret) != 1 {
		t.Fatal(err)
	}
	b, err := c.MarshalBinary()
	if err != nil || len(b) != CommitmentsLen(MaxThreshold) {
		t.Fatal(err)
	}
	var d Commitments
	if err := d.UnmarshalBinary(b); err != nil || d.Hash() != c.Hash() {
		t.Fatal(err)
	}
	if _, _, err := Deal(Feldman, secret, MaxThreshold, append(seq(MaxShares), MaxShares+1), 0); !errors.Is(err, ErrParams) {
		t.Fatal(err)
	}
}
