package mask

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
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
		if lo, _ := refCheckBlock(secret, 4, size, index, 0); m.CountKey(secret, size, index) != lo {
			t.Fatal("count key differs from the definition")
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

const checkVectorFile = "../testdata/record_check.json"

type checkVector struct {
	Secret string   `json:"secret"`
	Size   uint32   `json:"size"`
	Index  uint32   `json:"index"`
	Match  []string `json:"match"`   // g, g2
	Value  []string `json:"value"`   // F, α (mod p)
	Gamma  []string `json:"weights"` // γ_0..γ_3 (mod p), with the secret as K_check
	Count  string   `json:"count"`   // g_M(index), with the secret as K_check
	Values []string `json:"values"`  // four signed values, two's complement
	Check  string   `json:"check"`   // F + α·Σ γ_c·x_c mod p
}

type checkVectorsFile struct {
	Comment string        `json:"comment"`
	Vectors []checkVector `json:"vectors"`
}

// refCheckVector computes a vector from the definitions (refCheckBlock and
// math/big), independent of the package's arithmetic.
func refCheckVector(secret [16]byte, size, index uint32, values []uint64) checkVector {
	v := checkVector{Secret: fmt.Sprintf("%x", secret), Size: size, Index: index}
	g, g2 := refCheckBlock(secret, 1, size, index, 0)
	v.Match = hexWords([]uint64{g, g2})
	lo, hi := refCheckBlock(secret, 2, size, index, 0)
	pad, alpha := new(big.Int).Mod(new(big.Int).SetUint64(lo), bigP), new(big.Int).Mod(new(big.Int).SetUint64(hi), bigP)
	v.Value = hexWords([]uint64{pad.Uint64(), alpha.Uint64()})
	sum := new(big.Int)
	for c, x := range values {
		w, _ := refCheckBlock(secret, 3, size, 0, uint16(c))
		gamma := new(big.Int).Mod(new(big.Int).SetUint64(w), bigP)
		v.Gamma = append(v.Gamma, hexWords([]uint64{gamma.Uint64()})...)
		sum.Add(sum, new(big.Int).Mul(gamma, signed(x)))
	}
	v.Values = hexWords(values)
	count, _ := refCheckBlock(secret, 4, size, index, 0)
	v.Count = hexWords([]uint64{count})[0]
	check := new(big.Int).Add(pad, new(big.Int).Mul(alpha, sum))
	v.Check = hexWords([]uint64{modP(check)})[0]
	return v
}

// The check keys and check value against known answers (testdata/
// record_check.json, generated from the definitions with -update).
func TestCheckVectors(t *testing.T) {
	inputs := []struct {
		secret      string
		size, index uint32
		values      []uint64
	}{
		{"00000000000000000000000000000000", 1, 0, []uint64{0, 0, 0, 0}},
		{"000102030405060708090a0b0c0d0e0f", 1000, 999, []uint64{1, ^uint64(0), 1 << 62, 12345}},
		{"ffffffffffffffffffffffffffffffff", 1 << 30, 1<<30 - 1, []uint64{1<<63 - 64, -(1<<63 - 64) & (1<<64 - 1), 7, 0}},
	}
	if *update {
		f := checkVectorsFile{Comment: "maskshare check keys (docs/PROTOCOL.md §6.1): C(s, d, M, r, b) = AES-128_K(x) xor x, x = s xor (u8 d || 0^3 || be32 M || be32 r || 0^2 || be16 b), K = SHA-256(\"maskshare record mask v2\")[0:16]; match = halves of C(s,1,M,r,0); value = halves of C(s,2,M,r,0) mod p; weights = low half of C(s,3,M,0,c) mod p; count = low half of C(s,4,M,r,0); check = F + alpha*sum(gamma_c*x_c) mod p, p = 2^64 - 59, x_c signed. Words are 64-bit numbers in hex. Generated by go test ./mask -run TestCheckVectors -update from refCheckVector in mask/check_test.go."}
		for _, in := range inputs {
			var secret [16]byte
			hex.Decode(secret[:], []byte(in.secret))
			f.Vectors = append(f.Vectors, refCheckVector(secret, in.size, in.index, in.values))
		}
		out, _ := json.MarshalIndent(f, "", "  ")
		if err := os.WriteFile(checkVectorFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(checkVectorFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	var f checkVectorsFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != len(inputs) {
		t.Fatalf("%d vectors, want %d", len(f.Vectors), len(inputs))
	}
	var m RecordMasker
	for _, v := range f.Vectors {
		var secret [16]byte
		if _, err := hex.Decode(secret[:], []byte(v.Secret)); err != nil {
			t.Fatal(err)
		}
		g, g2 := m.MatchKeys(secret, v.Size, v.Index)
		pad, alpha := m.ValueKeys(secret, v.Size, v.Index)
		gamma := make([]uint64, len(v.Gamma))
		m.ValueWeights(gamma, secret, v.Size)
		values := make([]uint64, len(v.Values))
		for i, w := range v.Values {
			if values[i], err = strconv.ParseUint(w, 16, 64); err != nil {
				t.Fatal(err)
			}
		}
		got := checkVector{Secret: v.Secret, Size: v.Size, Index: v.Index,
			Match: hexWords([]uint64{g, g2}), Value: hexWords([]uint64{pad, alpha}),
			Gamma: hexWords(gamma), Count: hexWords([]uint64{m.CountKey(secret, v.Size, v.Index)})[0], Values: v.Values,
			Check: hexWords([]uint64{CheckValue(pad, alpha, gamma, values)})[0]}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("secret %s: got %+v, want %+v", v.Secret, got, v)
		}
	}
}
