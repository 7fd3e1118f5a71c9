package mask

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"
)

var bigP = new(big.Int).SetUint64(CheckPrime)

func modP(x *big.Int) uint64 { return new(big.Int).Mod(x, bigP).Uint64() }

func signed(x uint64) *big.Int { return big.NewInt(int64(x)) }

// The check field's arithmetic against math/big, at random and at the
// edges (0, 1, p−1, values whose products carry twice in the reduction).
func TestFieldArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []uint64{0, 1, 2, 58, 59, 60, CheckPrime - 1, CheckPrime - 2, 1 << 63, 1<<63 - 1}
	for i := range 50000 {
		a, b := r.Uint64()%CheckPrime, r.Uint64()%CheckPrime
		if i < len(edges)*len(edges) {
			a, b = edges[i%len(edges)], edges[i/len(edges)]
		}
		A, B := new(big.Int).SetUint64(a), new(big.Int).SetUint64(b)
		if got, want := AddP(a, b), modP(new(big.Int).Add(A, B)); got != want {
			t.Fatalf("%d + %d = %d, want %d", a, b, got, want)
		}
		if got, want := MulP(a, b), modP(new(big.Int).Mul(A, B)); got != want {
			t.Fatalf("%d · %d = %d, want %d", a, b, got, want)
		}
		x := r.Uint64()
		if i < len(edges) {
			x = edges[i] ^ 1<<63
		}
		if got, want := LiftP(x), modP(signed(x)); got != want {
			t.Fatalf("lift(%d) = %d, want %d", int64(x), got, want)
		}
		hi, lo := r.Uint64(), r.Uint64()
		X := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
		if got, want := reduce(hi, lo), modP(X.Add(X, new(big.Int).SetUint64(lo))); got != want {
			t.Fatalf("reduce(%d, %d) = %d, want %d", hi, lo, got, want)
		}
	}
}

// The check words of h contributions (each below p), summed mod 2^64 as
// the coordinator sums them, match their sum in Z_p — whatever the carries
// — and a word that differs does not.
func TestCheckMatchesCarries(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		h := 1 + r.IntN(1024)
		var want, word uint64
		for range h {
			c := r.Uint64() % CheckPrime
			if r.IntN(4) == 0 {
				c = CheckPrime - 1 - uint64(r.IntN(3))
			}
			want = AddP(want, c)
			word += c
		}
		if !CheckMatches(want, word, h) {
			t.Fatalf("%d honest contributions refused", h)
		}
		if CheckMatches(want, word+1, h) || CheckMatches(AddP(want, 1), word, h) {
			t.Fatal("a shifted check word accepted")
		}
	}
}

// A shift of a value by 2^63, which a check over Z_2^64 misses for every
// odd key, changes the check value: the check refuses the shifted value
// whatever the keys. Also a shift by every power of two and by ±1.
func TestCheckValueCatchesShifts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		w := []uint64{r.Uint64() % CheckPrime, r.Uint64() % CheckPrime}
		pad, alpha := r.Uint64()%CheckPrime, 1+r.Uint64()%(CheckPrime-1)
		vals := []uint64{uint64(int64(r.Uint64()) >> 2), uint64(int64(r.Uint64()) >> 2)}
		sum := CheckValue(pad, alpha, w, vals)
		shift := uint64(1) << (i % 64)
		if i%65 == 64 {
			shift = ^uint64(0) // −1
		}
		shifted := []uint64{vals[0] + shift, vals[1]}
		if w[0] != 0 && CheckMatches(CheckValue(pad, alpha, w, shifted), sum, 3) {
			t.Fatalf("a shift by %#x passed with keys %d, %d", shift, alpha, w[0])
		}
	}
}

// refCheckBlock is the definition of the check blocks in docs/PROTOCOL.md
// §6.1, written out with crypto/aes directly.
func refCheckBlock(secret [16]byte, domain byte, size, index uint32, block uint16) (lo, hi uint64) {
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
	return binary.LittleEndian.Uint64(y[:8]), binary.LittleEndian.Uint64(y[8:])
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
		if lo, hi := refCheckBlock(secret, 1, size, index, 0); g != lo || g2 != hi {
			t.Fatal("match keys differ from the definition")
		}
		pad, alpha := m.ValueKeys(secret, size, index)
		if lo, hi := refCheckBlock(secret, 2, size, index, 0); pad != lo%CheckPrime || alpha != hi%CheckPrime {
			t.Fatal("value keys differ from the definition")
		}
		weights := make([]uint64, 5)
		m.ValueWeights(weights, secret, size)
		for c, w := range weights {
			if lo, _ := refCheckBlock(secret, 3, size, 0, uint16(c)); w != lo%CheckPrime {
				t.Fatalf("weight %d differs from the definition", c)
			}
		}
		// No check block is a record mask block.
		mu := make([]uint64, 4)
		m.Mask(mu, secret)
		if mu[0] == g || mu[0] == pad {
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

func BenchmarkCheckValue(b *testing.B) {
	w := []uint64{1, 2, 3, 4}
	v := []uint64{5, 6, 7, 8}
	b.ReportAllocs()
	for i := range b.N {
		v[0] = uint64(i)
		CheckValue(9, 10, w, v)
	}
}
