package psi

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/group"
	"github.com/stretchr/testify/require"
)

// naiveSum is Σ coef[i]·elems[i] by one scalar multiplication each, in
// circl: an implementation independent of the one under test.
func naiveSum(t testing.TB, elems []Element, coef []uint64) Element {
	t.Helper()
	g := group.Ristretto255
	total := g.Identity()
	s := g.NewScalar()
	p := g.NewElement()
	for i := range elems {
		require.NoError(t, p.UnmarshalBinary(elems[i][:]))
		s.SetUint64(coef[i])
		total.Add(total, p.Mul(p, s))
	}
	return circlEncode(t, total)
}

func decodedPoints(t testing.TB, elems []Element) []*edwards25519.Point {
	t.Helper()
	out := make([]*edwards25519.Point, len(elems))
	for i := range elems {
		out[i] = new(edwards25519.Point)
		require.NoError(t, decodeElement(out[i], &elems[i]))
	}
	return out
}

func encoded(p *edwards25519.Point) Element {
	var e Element
	encodeElement(&e, p)
	return e
}

// scalarOf returns c as an edwards25519 scalar.
func scalarOf(c uint64) *edwards25519.Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], c)
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}

// testCoefs returns n coefficients, random but with the edge cases (0, 1,
// all ones, single high bits, window-sized runs) at the front.
func testCoefs(r *rand.Rand, n int) []uint64 {
	edge := []uint64{0, 1, 2, math.MaxUint64, 1 << 63, 1<<63 - 1, 0xffff, 1 << 13, 1<<13 - 1, 0x8000_0000_0000_0001}
	c := make([]uint64, n)
	for i := range c {
		if i < len(edge) {
			c[i] = edge[i]
		} else {
			c[i] = r.Uint64()
		}
	}
	r.Shuffle(n, func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

func TestMultiScalarMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	elems := randomElements(t, 5000)
	all := decodedPoints(t, elems)
	for _, n := range []int{0, 1, 2, 3, 17, 300, msmChunk + 1, 5000} {
		coef := testCoefs(r, n)
		want := naiveSum(t, elems[:n], coef)
		got := multiScalarMul(all[:n], coef)
		require.Equal(t, want, encoded(got), "n = %d", n)
	}
}

// Every window width, including ones that do not divide 64, gives the
// same sum; repeated points (one bucket hit twice) too.
func TestMSMWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	elems := randomElements(t, 200)
	elems = append(elems, elems[:20]...)
	points := decodedPoints(t, elems)
	coef := testCoefs(r, len(points))
	want := naiveSum(t, elems, coef)
	for b := uint(1); b <= maxWindow+3; b++ {
		acc := newMSMAccWindow(b)
		for i, p := range points {
			acc.add(p, coef[i])
		}
		require.Equal(t, want, encoded(acc.sum()), "window %d", b)
	}
}

func TestBestWindow(t *testing.T) {
	prev := uint(0)
	for _, n := range []int{0, 1, 100, 1e4, 1e5, 1e6, 1e8} {
		b := bestWindow(n)
		require.GreaterOrEqual(t, b, prev, "n = %d", n)
		require.LessOrEqual(t, b, uint(maxWindow))
		prev = b
	}
	require.Equal(t, uint(maxWindow), bestWindow(1e8))
}

// HashAndBlindSum and BlindSum give the outputs of HashAndBlind and Blind
// and the weighted sums of, respectively, the outputs and the inputs.
func TestBlindSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, ecChunk + 1, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			k := newTestKey(t)
			session := randomSession(t)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprint("id-", i)
			}
			coef := testCoefs(r, n)
			plain := make([]Element, n)
			k.HashAndBlind(plain, ids, session)
			got := make([]Element, n)
			sum := k.HashAndBlindSum(got, ids, session, coef)
			require.Equal(t, plain, got)
			require.Equal(t, naiveSum(t, got, coef), sum)

			k2 := newTestKey(t)
			blinded := make([]Element, n)
			require.NoError(t, k2.Blind(blinded, got))
			in := append([]Element(nil), got...)
			sum2, err := k2.BlindSum(in, in, coef)
			require.NoError(t, err)
			require.Equal(t, blinded, in)
			require.Equal(t, naiveSum(t, got, coef), sum2)

			// A bad element fails BlindSum like Blind, leaving dst alone.
			bad := append([]Element(nil), got...)
			bad[n/2] = Element{}
			before := append([]Element(nil), bad...)
			_, err = k2.BlindSum(bad, bad, coef)
			require.ErrorIs(t, err, ErrInvalidElement)
			require.Contains(t, err.Error(), fmt.Sprintf("index %d", n/2))
			require.Equal(t, before, bad)
		})
	}
}

// BenchmarkMultiScalarMul is the owner's check sum on its own (the session
// computes it on points it decodes anyway): per element, against a 64-bit
// scalar multiplication per element (BenchmarkNaiveSum) and against
// edwards25519's VarTimeMultiScalarMult (BenchmarkVarTimeMultiScalarMult).
func BenchmarkMultiScalarMul(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			points, coef := benchPoints(b, n)
			b.ReportAllocs()
			for b.Loop() {
				multiScalarMul(points, coef)
			}
			reportPerItem(b, n)
		})
	}
}

func BenchmarkNaiveSum(b *testing.B) {
	const n = 2000
	points, coef := benchPoints(b, n)
	b.ReportAllocs()
	for b.Loop() {
		total, t := edwards25519.NewIdentityPoint(), new(edwards25519.Point)
		for i, p := range points {
			total.Add(total, t.ScalarMult(scalarOf(coef[i]), p))
		}
	}
	reportPerItem(b, n)
}

// BenchmarkVarTimeMultiScalarMult is the alternative to multiScalarMul
// that filippo.io/edwards25519 offers (Straus, with a table per point and
// 253 doublings whatever the coefficients' size), on one core.
func BenchmarkVarTimeMultiScalarMult(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			points, coef := benchPoints(b, n)
			scalars := make([]*edwards25519.Scalar, n)
			for i, c := range coef {
				scalars[i] = scalarOf(c)
			}
			b.ReportAllocs()
			for b.Loop() {
				new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
			}
			reportPerItem(b, n)
		})
	}
}

func benchPoints(b *testing.B, n int) ([]*edwards25519.Point, []uint64) {
	points := decodedPoints(b, randomElements(b, n))
	coef := make([]uint64, n)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(n))
	r := rand.New(rand.NewChaCha8(seed))
	for i := range coef {
		coef[i] = r.Uint64()
	}
	return points, coef
}
