package frost

import (
	"crypto/subtle"
	"math/big"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// ristretto255 (RFC 9496) on filippo.io/edwards25519: an element is kept as
// one of its edwards25519 representatives, so the group law and the scalar
// multiplications are edwards25519's; only encoding, decoding and equality
// differ. github.com/gtank/ristretto255 v0.1.2 was not used because it carries
// its own copy of the curve arithmetic (internal/edwards25519, radix51)
// rather than filippo.io/edwards25519, which the spec names.

var (
	feOne          = new(field.Element).One()
	feD            = feFromDecimal("37095705934669439343138083508754565189542113879843219016388785533085940283555")
	feSqrtM1       = feFromDecimal("19681161376707505956807079304988542015446066515923890162744021073123829784752")
	feInvSqrtAMinD = feFromDecimal("54469307008909316920995813868745141605393597292927456921205312896311721017578")
)

func feFromDecimal(s string) *field.Element {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("frost: bad field constant")
	}
	le := make([]byte, 32)
	n.FillBytes(le)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	fe, err := new(field.Element).SetBytes(le)
	if err != nil {
		panic(err)
	}
	return fe
}

// ristrettoEncode is RFC 9496 §4.3.2. Constant time.
func ristrettoEncode(p *edwards25519.Point) []byte {
	x0, y0, z0, t0 := p.ExtendedCoordinates()
	u1 := new(field.Element).Add(z0, y0)
	u1.Multiply(u1, new(field.Element).Subtract(z0, y0))
	u2 := new(field.Element).Multiply(x0, y0)
	v := new(field.Element).Square(u2)
	v.Multiply(v, u1)
	invsqrt, _ := new(field.Element).SqrtRatio(feOne, v)
	den1 := new(field.Element).Multiply(invsqrt, u1)
	den2 := new(field.Element).Multiply(invsqrt, u2)
	zInv := new(field.Element).Multiply(den1, den2)
	zInv.Multiply(zInv, t0)
	ix0 := new(field.Element).Multiply(x0, feSqrtM1)
	iy0 := new(field.Element).Multiply(y0, feSqrtM1)
	enchanted := new(field.Element).Multiply(den1, feInvSqrtAMinD)
	rotate := new(field.Element).Multiply(t0, zInv).IsNegative()
	x := new(field.Element).Select(iy0, x0, rotate)
	y := new(field.Element).Select(ix0, y0, rotate)
	denInv := new(field.Element).Select(enchanted, den2, rotate)
	negY := new(field.Element).Negate(y)
	y.Select(negY, y, new(field.Element).Multiply(x, zInv).IsNegative())
	s := new(field.Element).Subtract(z0, y)
	s.Multiply(s, denInv)
	s.Absolute(s)
	return s.Bytes()
}

// ristrettoDecode is RFC 9496 §4.3.1: it refuses non-canonical encodings,
// negative s and strings that are not the encoding of an element.
func ristrettoDecode(b []byte) (*edwards25519.Point, bool) {
	if len(b) != 32 {
		return nil, false
	}
	s, err := new(field.Element).SetBytes(b)
	if err != nil || subtle.ConstantTimeCompare(s.Bytes(), b) != 1 || s.IsNegative() == 1 {
		return nil, false
	}
	ss := new(field.Element).Square(s)
	u1 := new(field.Element).Subtract(feOne, ss)
	u2 := new(field.Element).Add(feOne, ss)
	u2sq := new(field.Element).Square(u2)
	v := new(field.Element).Square(u1)
	v.Multiply(v, feD)
	v.Negate(v)
	v.Subtract(v, u2sq)
	invsqrt, wasSquare := new(field.Element).SqrtRatio(feOne, new(field.Element).Multiply(v, u2sq))
	denX := new(field.Element).Multiply(invsqrt, u2)
	denY := new(field.Element).Multiply(invsqrt, denX)
	denY.Multiply(denY, v)
	x := new(field.Element).Multiply(s, denX)
	x.Add(x, x)
	x.Absolute(x)
	y := new(field.Element).Multiply(u1, denY)
	t := new(field.Element).Multiply(x, y)
	zero := new(field.Element).Zero()
	if wasSquare == 0 || t.IsNegative() == 1 || y.Equal(zero) == 1 {
		return nil, false
	}
	p, err := new(edwards25519.Point).SetExtendedCoordinates(x, y, new(field.Element).One(), t)
	if err != nil {
		return nil, false
	}
	return p, true
}

// ristrettoEqual is RFC 9496 §4.3.3.
func ristrettoEqual(p, q *edwards25519.Point) bool {
	x1, y1, _, _ := p.ExtendedCoordinates()
	x2, y2, _, _ := q.ExtendedCoordinates()
	a := new(field.Element).Multiply(x1, y2)
	b := new(field.Element).Multiply(y1, x2)
	c := new(field.Element).Multiply(y1, y2)
	d := new(field.Element).Multiply(x1, x2)
	return a.Equal(b)|c.Equal(d) == 1
}
