package share

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// bigPoint decodes an edwards25519 point encoding with math/big (RFC 8032
// §5.1.3, accepting y ≥ p as edwards25519 SetBytes does), or returns ok =
// false. With double and encode it is an oracle independent of the
// edwards25519 package for the derivation of H.
func bigPoint(b []byte) (x, y *big.Int, ok bool) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665)).Mod(d, p)
	le := slices.Clone(b)
	sign := le[31] >> 7
	le[31] &= 0x7f
	slices.Reverse(le)
	y = new(big.Int).SetBytes(le)
	y.Mod(y, p)
	yy := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(yy, big.NewInt(1))
	v := new(big.Int).Mul(d, yy)
	v.Add(v, big.NewInt(1)).Mod(v, p)
	w := new(big.Int).Mul(u, v.ModInverse(v, p))
	w.Mod(w, p)
	x = new(big.Int).ModSqrt(w, p)
	if x == nil {
		return nil, nil, false
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(p, x).Mod(x, p)
	}
	return x, y, true
}

// bigDouble doubles (x, y) on −x² + y² = 1 + d x² y².
func bigDouble(x, y *big.Int) (*big.Int, *big.Int) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).ModInverse(big.NewInt(121666), p)
	d.Mul(d, big.NewInt(-121665)).Mod(d, p)
	xx := new(big.Int).Mul(x, x)
	yy := new(big.Int).Mul(y, y)
	dxy := new(big.Int).Mul(d, xx)
	dxy.Mul(dxy, yy).Mod(dxy, p)
	den1 := new(big.Int).Add(big.NewInt(1), dxy)
	den2 := new(big.Int).Sub(big.NewInt(1), dxy)
	den2.Mod(den2, p)
	x3 := new(big.Int).Mul(big.NewInt(2), x)
	x3.Mul(x3, y).Mul(x3, den1.ModInverse(den1, p)).Mod(x3, p)
	y3 := new(big.Int).Add(yy, xx)
	y3.Mul(y3, den2.ModInverse(den2, p)).Mod(y3, p)
	return x3, y3
}

func bigEncode(x, y *big.Int) []byte {
	b := y.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	b[31] |= byte(x.Bit(0)) << 7
	return b
}

// TestGeneratorHVector recomputes H with math/big (try-and-increment,
// decompression, three doublings) and compares it with testdata and with
// the package's H; H is in the prime-order subgroup and is neither the
// identity nor B.
func TestGeneratorHVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/pedersen_h.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Domain  string
		Counter uint32
		H       string
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Domain != pedersenHDomain {
		t.Fatalf("domain %q", v.Domain)
	}
	var got []byte
	var ctr uint32
	for ctr = 0; ; ctr++ {
		sum := sha512.Sum512(binary.BigEndian.AppendUint32([]byte(v.Domain), ctr))
		x, y, ok := bigPoint(sum[:32])
		if !ok {
			continue
		}
		for range 3 {
			x, y = bigDouble(x, y)
		}
		if x.Sign() == 0 && y.Cmp(big.NewInt(1)) == 0 {
			continue // identity
		}
		got = bigEncode(x, y)
		break
	}
	if ctr != v.Counter || hex.EncodeToString(got) != v.H {
		t.Fatalf("oracle: counter %d H %x; testdata: %d %s", ctr, got, v.Counter, v.H)
	}
	if generatorHCounter != v.Counter || hex.EncodeToString(GeneratorH().Bytes()) != v.H {
		t.Fatalf("package H %x (counter %d) differs from testdata", GeneratorH().Bytes(), generatorHCounter)
	}
	h := GeneratorH()
	if !primeOrder(h) || h.Equal(edwards25519.NewIdentityPoint()) == 1 || h.Equal(edwards25519.NewGeneratorPoint()) == 1 {
		t.Fatal("H is not a generator of the prime-order subgroup other than B")
	}
}

// TestEncodeRoundTrip: shares, commitments, pieces and sums of both
// schemes decode to what was encoded, with the documented lengths.
func TestEncodeRoundTrip(t *testing.T) {
	for _, scheme := range schemes {
		shares, c := mustDeal(t, scheme, randomScalar(), 5, []uint32{1, 9, MaxShares, 77, 300}, 0xdeadbeef)
		for i := range shares {
			b, err := shares[i].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != withBlind(ShareLen, scheme) {
				t.Fatalf("share length %d", len(b))
			}
			var d Share
			if err := d.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if d.Scheme != scheme || d.Index != shares[i].Index || d.Epoch != shares[i].Epoch || d.Value.Equal(&shares[i].Value) != 1 || d.Blind.Equal(&shares[i].Blind) != 1 {
				t.Fatal("share round trip")
			}
		}
		b, err := c.MarshalBinary()
		if err != nil || len(b) != CommitmentsLen(5) {
			t.Fatal(err, len(b))
		}
		var d Commitments
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if d.Hash() != c.Hash() || d.Scheme != scheme || d.Epoch != c.Epoch {
			t.Fatal("commitments round trip")
		}
		if err := d.VerifyBatch(shares); err != nil {
			t.Fatal(err)
		}
		pieces, err := RepairSplit(c, &shares[0], []uint32{9, 1, 77, 300, MaxShares}, 2)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := pieces[0].MarshalBinary()
		if err != nil || len(pb) != withBlind(pieceLen, scheme) {
			t.Fatal(err)
		}
		var dp RepairPiece
		if err := dp.UnmarshalBinary(pb); err != nil || dp != pieces[0] {
			t.Fatal("piece round trip", err)
		}
		sum := RepairSum{Scheme: scheme, Target: 2, From: 9, Epoch: 3, Value: pieces[1].Value, Blind: pieces[1].Blind}
		sb, err := sum.MarshalBinary()
		if err != nil || len(sb) != withBlind(sumLen, scheme) {
			t.Fatal(err)
		}
		var ds RepairSum
		if err := ds.UnmarshalBinary(sb); err != nil || ds != sum {
			t.Fatal("sum round trip", err)
		}
	}
}

// TestDecodeRefuses: each strictness rule of the decoders rejects the
// encoding that breaks it with ErrFormat, and leaves the receiver alone.
func TestDecodeRefuses(t *testing.T) {
	shares, c := mustDeal(t, Pedersen, randomScalar(), 3, seq(3), 1)
	sb, _ := shares[0].MarshalBinary()
	cb, _ := c.MarshalBinary()
	lBytes := slices.Clone(groupOrderBytes()) // l itself: not canonical
	mod := func(b []byte, f func(b []byte) []byte) []byte { return f(slices.Clone(b)) }
	nonCanonical := mod(cb, func(b []byte) []byte {
		// The identity (0, 1) written as y = p + 1 encodes a valid point
		// non-canonically; it is C_0 here, where the identity would pass.
		enc := make([]byte, 32)
		enc[0] = 0xee
		for i := 1; i < 31; i++ {
			enc[i] = 0xff
		}
		enc[31] = 0x7f
		copy(b[commitmentsHeaderLen:], enc)
		return b
	})
	torsion := mod(cb, func(b []byte) []byte {
		enc := make([]byte, 32) // (0, −1), of order 2
		enc[0] = 0xec
		for i := 1; i < 31; i++ {
			enc[i] = 0xff
		}
		enc[31] = 0x7f
		copy(b[commitmentsHeaderLen+32:], enc)
		return b
	})
	shareCases := map[string][]byte{
		"empty":           nil,
		"version":         mod(sb, func(b []byte) []byte { b[0] = 2; return b }),
		"scheme":          mod(sb, func(b []byte) []byte { b[1] = 0; return b }),
		"short":           sb[:len(sb)-1],
		"long":            append(slices.Clone(sb), 0),
		"Feldman length":  mod(sb, func(b []byte) []byte { b[1] = byte(Feldman); return b }),
		"index 0":         mod(sb, func(b []byte) []byte { copy(b[2:], []byte{0, 0, 0, 0}); return b }),
		"index too large": mod(sb, func(b []byte) []byte { binary.BigEndian.PutUint32(b[2:], MaxShares+1); return b }),
		"value ≥ l":       mod(sb, func(b []byte) []byte { copy(b[10:], lBytes); return b }),
		"blind ≥ l":       mod(sb, func(b []byte) []byte { copy(b[42:], lBytes); return b }),
	}
	for name, b := range shareCases {
		d := shares[1]
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("share %s: %v", name, err)
		}
		if d != shares[1] {
			t.Errorf("share %s: receiver changed", name)
		}
	}
	commitCases := map[string][]byte{
		"empty":         nil,
		"version":       mod(cb, func(b []byte) []byte { b[0] = 0; return b }),
		"scheme":        mod(cb, func(b []byte) []byte { b[1] = 3; return b }),
		"t=0":           mod(cb, func(b []byte) []byte { b[6], b[7] = 0, 0; return b[:commitmentsHeaderLen] }),
		"t>max":         mod(cb, func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], MaxThreshold+1); return b }),
		"length":        cb[:len(cb)-1],
		"not a point":   mod(cb, func(b []byte) []byte { copy(b[commitmentsHeaderLen:], notAPoint(t)); return b }),
		"non-canonical": nonCanonical,
		"torsion":       torsion,
		"top identity": mod(cb, func(b []byte) []byte {
			copy(b[len(b)-32:], edwards25519.NewIdentityPoint().Bytes())
			return b
		}),
	}
	for name, b := range commitCases {
		d := *c
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("commitments %s: %v", name, err)
		}
		if d.Hash() != c.Hash() {
			t.Errorf("commitments %s: receiver changed", name)
		}
	}
	pieces, _ := RepairSplit(c, &shares[0], []uint32{1, 2, 3}, 4)
	pb, _ := pieces[1].MarshalBinary()
	for name, b := range map[string][]byte{
		"target is from": mod(pb, func(b []byte) []byte { copy(b[2:6], b[6:10]); return b }),
		"to 0":           mod(pb, func(b []byte) []byte { copy(b[10:14], []byte{0, 0, 0, 0}); return b }),
		"value ≥ l":      mod(pb, func(b []byte) []byte { copy(b[18:], lBytes); return b }),
	} {
		var d RepairPiece
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("piece %s: %v", name, err)
		}
	}
	sum := RepairSum{Scheme: Feldman, Target: 4, From: 1}
	sumb, _ := sum.MarshalBinary()
	for name, b := range map[string][]byte{
		"target is from": mod(sumb, func(b []byte) []byte { copy(b[2:6], b[6:10]); return b }),
		"from too large": mod(sumb, func(b []byte) []byte { binary.BigEndian.PutUint32(b[6:], MaxShares+1); return b }),
		"value ≥ l":      mod(sumb, func(b []byte) []byte { copy(b[14:], lBytes); return b }),
	} {
		var d RepairSum
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrFormat) {
			t.Errorf("sum %s: %v", name, err)
		}
	}
	// Encoders refuse what decoders would: a Feldman record with a blind
	// (it would be lost), indexes out of range, a target among the helpers.
	for name, enc := range map[string]interface{ MarshalBinary() ([]byte, error) }{
		"Feldman share with blind": &Share{Scheme: Feldman, Index: 1, Blind: *indexScalar(1)},
		"share index 0":            &Share{Scheme: Pedersen},
		"piece to > MaxShares":     &RepairPiece{Scheme: Feldman, Target: 1, From: 2, To: MaxShares + 1},
		"piece target is to":       &RepairPiece{Scheme: Pedersen, Target: 1, From: 2, To: 1},
		"Feldman piece with blind": &RepairPiece{Scheme: Feldman, Target: 1, From: 2, To: 3, Blind: *indexScalar(1)},
		"sum target is from":       &RepairSum{Scheme: Feldman, Target: 2, From: 2},
		"sum scheme":               &RepairSum{Target: 1, From: 2},
	} {
		if _, err := enc.MarshalBinary(); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// notAPoint returns the encoding of the least y for which no x is on the curve.
func notAPoint(t *testing.T) []byte {
	for y := byte(2); y < 255; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err != nil {
			if _, _, ok := bigPoint(enc); ok {
				t.Fatal("oracle and edwards25519 disagree on a point")
			}
			return enc
		}
	}
	t.Fatal("no invalid encoding found")
	return nil
}

// groupOrderBytes is l, little-endian.
func groupOrderBytes() []byte {
	b := groupOrder.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	return b
}

// fuzzAllocs bounds the allocations of one decode: a handful, whatever the
// input (the commitments' points are one allocation of t ≤ MaxThreshold).
const fuzzAllocs = 8

func checkAllocs(t *testing.T, name string, f func()) {
	if n := testing.AllocsPerRun(1, f); n > fuzzAllocs {
		t.Fatalf("%s: %v allocations", name, n)
	}
}

func FuzzShareUnmarshal(f *testing.F) {
	for _, scheme := range schemes {
		shares, _ := mustDeal(f, scheme, randomScalar(), 2, []uint32{1, MaxShares}, 7)
		for i := range shares {
			b, _ := shares[i].MarshalBinary()
			f.Add(b)
		}
	}
	f.Add([]byte{EncodingVersion, byte(Feldman)})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Share
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			return
		}
		b, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding %x: %x, %v", data, b, err)
		}
		checkAllocs(t, "share", func() { _ = new(Share).UnmarshalBinary(data) })
	})
}

func FuzzCommitmentsUnmarshal(f *testing.F) {
	for _, scheme := range schemes {
		for _, th := range []int{1, 2, 5} {
			_, c := mustDeal(f, scheme, randomScalar(), th, seq(th), 3)
			b, _ := c.MarshalBinary()
			f.Add(b)
		}
	}
	_, z := mustDeal(f, Pedersen, randomScalar(), 1, seq(1), 0)
	zb, _ := z.MarshalBinary()
	f.Add(append(zb[:commitmentsHeaderLen:commitmentsHeaderLen], edwards25519.NewIdentityPoint().Bytes()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Commitments
		if err := c.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			return
		}
		b, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding %x: %x, %v", data, b, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		checkAllocs(t, "commitments", func() { _ = new(Commitments).UnmarshalBinary(data) })
	})
}

func FuzzRepairPieceUnmarshal(f *testing.F) {
	for _, scheme := range schemes {
		shares, c := mustDeal(f, scheme, randomScalar(), 2, seq(3), 1)
		pieces, err := RepairSplit(c, &shares[0], []uint32{1, 2}, 3)
		if err != nil {
			f.Fatal(err)
		}
		for i := range pieces {
			b, _ := pieces[i].MarshalBinary()
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p RepairPiece
		if err := p.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			return
		}
		b, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding %x: %x, %v", data, b, err)
		}
		checkAllocs(t, "piece", func() { _ = new(RepairPiece).UnmarshalBinary(data) })
	})
}

func FuzzRepairSumUnmarshal(f *testing.F) {
	for _, scheme := range schemes {
		s := RepairSum{Scheme: scheme, Target: 3, From: 1, Epoch: 2, Value: *randomScalar()}
		if scheme == Pedersen {
			s.Blind = *randomScalar()
		}
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s RepairSum
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatal(err)
			}
			return
		}
		b, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding %x: %x, %v", data, b, err)
		}
		checkAllocs(t, "sum", func() { _ = new(RepairSum).UnmarshalBinary(data) })
	})
}
