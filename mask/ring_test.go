package mask

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"testing"
)

func expandN(seed Seed, d Domain, offset uint64, n int) []uint64 {
	out := make([]uint64, n)
	NewPRGAt(seed, d, offset).Read(out)
	return out
}

func randWords(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.Uint64()
	}
	return v
}

// TestMixMatchesSeparate checks Mix(dst, add, sub) == dst + Σ add − Σ sub,
// with every stream expanded on its own and the arithmetic done here.
func TestMixMatchesSeparate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		for _, shape := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {4, 4}, {3, 2}} {
			dst := randWords(r, n)
			want := append([]uint64(nil), dst...)
			var add, sub []*PRG
			for range shape[0] {
				seed, d, off := randSeed(r), randDomain(r), uint64(r.IntN(3000))
				s := expandN(seed, d, off, n)
				for i := range want {
					want[i] += s[i]
				}
				add = append(add, NewPRGAt(seed, d, off))
			}
			for range shape[1] {
				seed, d, off := randSeed(r), randDomain(r), uint64(r.IntN(3000))
				s := expandN(seed, d, off, n)
				for i := range want {
					want[i] -= s[i]
				}
				sub = append(sub, NewPRGAt(seed, d, off))
			}
			Mix(dst, add, sub)
			requireWords(t, fmt.Sprintf("Mix n=%d add=%d sub=%d", n, shape[0], shape[1]), dst, want)
		}
	}
}

// TestMixAdvancesStreams checks that Mix consumes exactly len(dst) words of
// every stream: two Mix calls over the halves equal one over the whole.
func TestMixAdvancesStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{2, 1025, 3000} {
		seeds := []Seed{randSeed(r), randSeed(r), randSeed(r)}
		d := randDomain(r)
		mk := func() ([]*PRG, []*PRG) {
			return []*PRG{NewPRG(seeds[0], d), NewPRG(seeds[1], d)}, []*PRG{NewPRG(seeds[2], d)}
		}
		x := randWords(r, n)
		whole := append([]uint64(nil), x...)
		a, s := mk()
		Mix(whole, a, s)
		split := append([]uint64(nil), x...)
		cut := r.IntN(n)
		a, s = mk()
		Mix(split[:cut], a, s)
		Mix(split[cut:], a, s)
		requireWords(t, fmt.Sprintf("n=%d cut=%d", n, cut), split, whole)
	}
}

// TestReadAddSubExpand checks Read/Add/Sub and Expand/AddExpand/SubExpand
// against each other and against Add/Sub of vectors.
func TestReadAddSubExpand(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		seed, d := randSeed(r), randDomain(r)
		s := make([]uint64, n)
		Expand(s, seed, d)
		x := randWords(r, n)

		got := append([]uint64(nil), x...)
		AddExpand(got, seed, d)
		want := append([]uint64(nil), x...)
		Add(want, s)
		requireWords(t, fmt.Sprintf("AddExpand n=%d", n), got, want)

		got = append([]uint64(nil), x...)
		SubExpand(got, seed, d)
		want = append([]uint64(nil), x...)
		Sub(want, s)
		requireWords(t, fmt.Sprintf("SubExpand n=%d", n), got, want)

		got = append([]uint64(nil), x...)
		NewPRG(seed, d).Add(got)
		NewPRG(seed, d).Sub(got)
		requireWords(t, fmt.Sprintf("Add then Sub n=%d", n), got, x)

		got = append([]uint64(nil), x...)
		NewPRG(seed, d).Read(got)
		requireWords(t, fmt.Sprintf("Read n=%d", n), got, s)
	}
}

func TestZeroSum(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for n := 2; n <= 10; n++ {
		lengths := []int{0, 1, 1024, 1025, 1 + r.IntN(3000), 1 + r.IntN(3000)}
		shares, err := ZeroSum(n)
		if err != nil {
			t.Fatalf("ZeroSum(%d): %v", n, err)
		}
		if len(shares) != n {
			t.Fatalf("ZeroSum(%d): %d shares", n, len(shares))
		}
		// Every seed is used once as Plus and once as Minus, never both in
		// one share, and the seeds are distinct.
		plus := map[Seed]int{}
		minus := map[Seed]int{}
		for j, s := range shares {
			if s.Plus == s.Minus {
				t.Errorf("n=%d share %d: Plus == Minus", n, j)
			}
			if s.Plus == (Seed{}) || s.Minus == (Seed{}) {
				t.Errorf("n=%d share %d: zero seed", n, j)
			}
			plus[s.Plus]++
			minus[s.Minus]++
		}
		if len(plus) != n || len(minus) != n {
			t.Errorf("n=%d: %d distinct Plus and %d distinct Minus seeds", n, len(plus), len(minus))
		}
		for s, c := range plus {
			if c != 1 || minus[s] != 1 {
				t.Errorf("n=%d: a seed is Plus %d times and Minus %d times", n, c, minus[s])
			}
		}
		for _, length := range lengths {
			d := randDomain(r)
			d.Purpose = PurposeMask
			total := make([]uint64, length)
			partial := make([]uint64, length) // all but the last mask
			for j, s := range shares {
				m := make([]uint64, length)
				s.Apply(m, d)
				if length > 0 && isZero(m) {
					t.Errorf("n=%d len=%d: mask %d is all zero", n, length, j)
				}
				Add(total, m)
				if j < n-1 {
					Add(partial, m)
				}
			}
			if !isZero(total) {
				t.Errorf("n=%d len=%d: masks do not sum to zero", n, length)
			}
			if length > 0 && isZero(partial) {
				t.Errorf("n=%d len=%d: the first n-1 masks already sum to zero", n, length)
			}
			// Apply adds to dst: applying to x then summing gives Σx.
			if length > 0 {
				x := randWords(r, length)
				acc := make([]uint64, length)
				for _, s := range shares {
					y := append([]uint64(nil), x...)
					s.Apply(y, d)
					Add(acc, y)
				}
				for i := range acc {
					if acc[i] != x[i]*uint64(n) {
						t.Fatalf("n=%d len=%d: Σ(x+mask_j)[%d] = %d, want n·x = %d", n, length, i, acc[i], x[i]*uint64(n))
					}
				}
			}
		}
	}
	for _, n := range []int{1, 0, -1, math.MinInt} {
		if s, err := ZeroSum(n); err == nil {
			t.Errorf("ZeroSum(%d) = %v, nil; want an error", n, s)
		}
	}
	// Two deals are independent.
	a, _ := ZeroSum(3)
	b, _ := ZeroSum(3)
	if a[0].Plus == b[0].Plus {
		t.Error("two ZeroSum deals share a seed")
	}
}

func isZero(v []uint64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// bitBalance fails the test if some bit position of v is set in a fraction
// of the words further than 6 standard deviations from 1/2.
func bitBalance(t *testing.T, what string, v []uint64) {
	t.Helper()
	var ones [64]int
	for _, x := range v {
		for b := range 64 {
			ones[b] += int(x >> b & 1)
		}
	}
	n := float64(len(v))
	sigma := math.Sqrt(n) / 2
	for b, c := range ones {
		if dev := math.Abs(float64(c) - n/2); dev > 6*sigma {
			t.Errorf("%s: bit %d set in %d of %d words (%.1f sigma)", what, b, c, len(v), dev/sigma)
		}
	}
	// And the test can fail: a constant bit is far outside.
	if math.Abs(n-n/2) <= 6*sigma {
		t.Fatalf("the bound is too loose for %d words", len(v))
	}
}

func TestBitBalance(t *testing.T) {
	const n = 1 << 16
	d := Domain{Session: labelBytes("balance"), Purpose: PurposeMask, Column: 3}
	v := make([]uint64, n)
	Expand(v, Seed(labelBytes("balance seed")), d)
	bitBalance(t, "PRG output", v)

	m := make([]uint64, n)
	MaskSeeds{Plus: Seed(labelBytes("plus")), Minus: Seed(labelBytes("minus"))}.Apply(m, d)
	bitBalance(t, "mask", m)

	// A share's mask is a difference of two streams; the sum of two
	// consecutive shares' masks must look random too (it is PRG(σ_j) − PRG(σ_{j+2})).
	m2 := make([]uint64, n)
	MaskSeeds{Plus: Seed(labelBytes("minus")), Minus: Seed(labelBytes("third"))}.Apply(m2, d)
	Add(m2, m)
	bitBalance(t, "sum of two masks", m2)
}

func TestRingWrapAround(t *testing.T) {
	v := []uint64{math.MaxUint64, 0, 1 << 63, 5}
	Add(v, []uint64{1, math.MaxUint64, 1 << 63, math.MaxUint64 - 4})
	want := []uint64{0, math.MaxUint64, 0, 0}
	requireWords(t, "Add wrap", v, want)

	v = []uint64{0, 1, 1 << 63, 5}
	Sub(v, []uint64{1, 2, 1<<63 + 1, 5})
	want = []uint64{math.MaxUint64, math.MaxUint64, math.MaxUint64, 0}
	requireWords(t, "Sub wrap", v, want)

	if s := Sum([]uint64{math.MaxUint64, 1}); s != 0 {
		t.Errorf("Sum(MaxUint64, 1) = %d", s)
	}
	if s := Sum([]uint64{math.MaxUint64, math.MaxUint64, 3}); s != 1 {
		t.Errorf("Sum(MaxUint64, MaxUint64, 3) = %d", s)
	}
	if s := Sum(nil); s != 0 {
		t.Errorf("Sum(nil) = %d", s)
	}

	// Signed values in two's complement: the ring sum is the true sum when
	// it fits, even if partial sums overflow.
	fixed := [][]int64{
		{math.MaxInt64, 1, -1},
		{math.MinInt64, -1, 1},
		{math.MaxInt64, math.MaxInt64, math.MinInt64, math.MinInt64, 7},
		{-3, -4},
		{math.MinInt64 + 1, math.MaxInt64},
	}
	r := rand.New(rand.NewPCG(19, 20))
	for range 200 {
		k := 1 + r.IntN(50)
		vals := make([]int64, k)
		for i := range vals {
			vals[i] = r.Int64() - r.Int64() // wraps: the full int64 range
		}
		fixed = append(fixed, vals)
	}
	for _, vals := range fixed {
		exact := new(big.Int)
		u := make([]uint64, len(vals))
		for i, x := range vals {
			exact.Add(exact, big.NewInt(x))
			u[i] = uint64(x)
		}
		got := int64(Sum(u))
		if exact.IsInt64() {
			if got != exact.Int64() {
				t.Errorf("Sum%v = %d, want %d", vals, got, exact.Int64())
			}
		} else {
			// Otherwise the ring sum is the true sum mod 2^64.
			m := new(big.Int).Mod(exact, new(big.Int).Lsh(big.NewInt(1), 64))
			if Sum(u) != m.Uint64() {
				t.Errorf("Sum%v = %d, want %s mod 2^64", vals, Sum(u), exact)
			}
		}
		// Add, element by element, agrees with Sum.
		acc := make([]uint64, 1)
		for _, x := range u {
			Add(acc, []uint64{x})
		}
		if acc[0] != Sum(u) {
			t.Errorf("Add chain %d != Sum %d", acc[0], Sum(u))
		}
	}

	// Add and Sub against math/bits, randomly.
	for range 1000 {
		a, b := r.Uint64(), r.Uint64()
		s, _ := bits.Add64(a, b, 0)
		dd, _ := bits.Sub64(a, b, 0)
		x, y := []uint64{a}, []uint64{a}
		Add(x, []uint64{b})
		Sub(y, []uint64{b})
		if x[0] != s || y[0] != dd {
			t.Fatalf("%d ± %d: got %d, %d want %d, %d", a, b, x[0], y[0], s, dd)
		}
	}
}

func TestAddSubPanicOnLengthMismatch(t *testing.T) {
	for name, f := range map[string]func(){
		"Add longer":  func() { Add(make([]uint64, 2), make([]uint64, 3)) },
		"Add shorter": func() { Add(make([]uint64, 3), make([]uint64, 2)) },
		"Sub longer":  func() { Sub(make([]uint64, 2), make([]uint64, 3)) },
		"Sub nil":     func() { Sub(make([]uint64, 1), nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestNewSeed(t *testing.T) {
	seen := map[Seed]bool{}
	for range 100 {
		s := NewSeed()
		if s == (Seed{}) || seen[s] {
			t.Fatal("NewSeed repeated or returned zero")
		}
		seen[s] = true
	}
}
