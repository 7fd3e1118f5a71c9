package mask

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"
)

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

func bigU128(a U128) *big.Int {
	x := new(big.Int).SetUint64(a.Hi)
	x.Lsh(x, 64)
	return x.Add(x, new(big.Int).SetUint64(a.Lo))
}

func fromBig(x *big.Int) U128 {
	x = new(big.Int).Mod(x, two128)
	lo := new(big.Int).And(x, new(big.Int).SetUint64(^uint64(0)))
	return U128{Lo: lo.Uint64(), Hi: new(big.Int).Rsh(x, 64).Uint64()}
}

func randU128(r *rand.Rand) U128 { return U128{r.Uint64(), r.Uint64()} }

// The check ring's arithmetic against math/big: sums and products mod
// 2^128, with 64-bit values taken as signed.
func TestU128Arithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []uint64{0, 1, 1 << 63, 1<<63 - 1, ^uint64(0), 2}
	for i := range 20000 {
		a, b := randU128(r), randU128(r)
		x := r.Uint64()
		if i < len(edges)*len(edges) {
			a = U128{edges[i%len(edges)], edges[i/len(edges)]}
			x = edges[i%len(edges)]
		}
		if got, want := a.Add(b), fromBig(new(big.Int).Add(bigU128(a), bigU128(b))); got != want {
			t.Fatalf("%v + %v = %v, want %v", a, b, got, want)
		}
		if got, want := a.MulInt64(x), fromBig(new(big.Int).Mul(bigU128(a), big.NewInt(int64(x)))); got != want {
			t.Fatalf("%v · %d = %v, want %v", a, int64(x), got, want)
		}
		if got, want := a.Mul(b), fromBig(new(big.Int).Mul(bigU128(a), bigU128(b))); got != want {
			t.Fatalf("%v · %v = %v, want %v", a, b, got, want)
		}
		k := uint64(r.IntN(1 << 16))
		if got, want := a.MulSmall(k), fromBig(new(big.Int).Mul(bigU128(a), new(big.Int).SetUint64(k))); got != want {
			t.Fatalf("%v · %d = %v, want %v", a, k, got, want)
		}
	}
}

// The check words of h contributions, summed word by word mod 2^64 as the
// coordinator sums them, match their Z_2^128 sum, and nothing else in the
// same low word.
func TestCheckMatchesCarries(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		h := 1 + r.IntN(50)
		var want U128
		var lo, hi uint64
		for range h {
			c := randU128(r)
			if r.IntN(4) == 0 {
				c.Lo = ^uint64(0) - uint64(r.IntN(3)) // carries out of the low word
			}
			want = want.Add(c)
			lo += c.Lo
			hi += c.Hi
		}
		if !CheckMatches(want, lo, hi, h) {
			t.Fatalf("%d honest contributions refused", h)
		}
		// The high word may fall short of want's by up to h−1 (an unknown
		// carry), no more, and never exceed it.
		carry := want.Hi - hi
		if CheckMatches(want, lo+1, hi, h) || CheckMatches(want, lo, hi-(uint64(h)-carry), h) || CheckMatches(want, lo, hi+carry+1, h) {
			t.Fatal("shifted check words accepted")
		}
	}
}

// A shift of a value by 2^63, which a check in Z_2^64 would miss for every
// odd key, moves the check value: the check must refuse the shifted value
// whatever the keys.
func TestCheckValueCatchesHighShift(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		w := []U128{randU128(r), randU128(r)}
		pad, alpha := randU128(r), randU128(r)
		vals := []uint64{r.Uint64() >> 2, r.Uint64() >> 2}
		sum := CheckValue(pad, alpha, w, vals)
		shifted := []uint64{vals[0] + 1<<63, vals[1]}
		if CheckMatches(CheckValue(pad, alpha, w, shifted), sum.Lo, sum.Hi, 3) {
			t.Fatalf("a shift by 2^63 passed with keys %v, %v", alpha, w[0])
		}
	}
}

// refCheckBlock is the definition of the check blocks in docs/PROTOCOL.md
// §6.1, written out with crypto/aes directly.
func refCheckBlock(secret [16]byte, domain byte, size, index uint32, block uint16) U128 {
	key := sha256.Sum256([]byte("maskshare record mask v2"))
	c, _ := aes.NewCipher(key[:16])
	var off, x, y [16]byte
	off[0] = domain
	binary.BigEndian.PutUint32(off[4:], size)
	binary.BigEndian.PutUint32(off[8:], index)
	binary.BigEndian.PutUint16(off[14:], block)
	for i := range x {
		x[i] = secret[i] ^ off[i]
	}
	c.Encrypt(y[:], x[:])
	for i := range y {
		y[i] ^= x[i]
	}
	return U128{binary.LittleEndian.Uint64(y[:8]), binary.LittleEndian.Uint64(y[8:])}
}

func TestCheckKeysDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var m RecordMasker
	for range 200 {
		var secret [16]byte
		for i := range secret {
			secret[i] = byte(r.Uint32())
		}
		size, index := r.Uint32(), r.Uint32()
		g, g2 := m.MatchKeys(secret, size, index)
		if want := refCheckBlock(secret, 1, size, index, 0); g != want.Lo || g2 != want.Hi {
			t.Fatal("match keys differ from the definition")
		}
		pad, alpha := m.ValueKeys(secret, size, index)
		if pad != refCheckBlock(secret, 2, size, index, 0) || alpha != refCheckBlock(secret, 2, size, index, 1) {
			t.Fatal("value keys differ from the definition")
		}
		weights := make([]U128, 5)
		m.ValueWeights(weights, secret, size)
		for c, w := range weights {
			if w != refCheckBlock(secret, 3, size, 0, uint16(c)) {
				t.Fatalf("weight %d differs from the definition", c)
			}
		}
		// No check block is a record mask block.
		mu := make([]uint64, 4)
		m.Mask(mu, secret)
		if mu[0] == g || mu[0] == pad.Lo {
			t.Fatal("a check key equals a record mask")
		}
	}
}

func BenchmarkValueKeys(b *testing.B) {
	var m RecordMasker
	var secret [16]byte
	b.ReportAllocs()
	for i := range b.N {
		m.ValueKeys(secret, 1000, uint32(i))
	}
}
