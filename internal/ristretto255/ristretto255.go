// Package ristretto255 implements the ristretto255 prime-order group of
// RFC 9496 on filippo.io/edwards25519: encoding (§4.3.2), decoding
// (§4.3.1), equality (§4.3.3), element derivation from uniform bytes
// (§4.3.4), and hash_to_ristretto255 of RFC 9380 (Appendix B) with
// expand_message_xmd and SHA-512 (§5.3.1).
//
// An element is held as one of its edwards25519 representatives, so the
// group law and scalar multiplication are edwards25519's (Point.Add,
// Point.ScalarMult, Scalar); only encoding, decoding, equality and hashing
// differ. Two representatives of one element need not be equal as
// edwards25519 points: compare with Equal, never with Point.Equal.
//
// Constant time: AppendEncoding, Equal, FromUniformBytes and HashToElement
// run in time independent of their inputs' values (HashToElement depends on
// the lengths of msg and dst only). Decode is constant time on encodings it
// accepts and returns early on ones it rejects, which are public.
//
// github.com/gtank/ristretto255 was not used: it carries its own copy of the
// curve arithmetic rather than filippo.io/edwards25519.
package ristretto255

import (
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"math/big"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// EncodingSize is the size in bytes of an encoded element.
const EncodingSize = 32

// UniformSize is the size in bytes of the input of FromUniformBytes.
const UniformSize = 64

// ErrInvalidEncoding is returned by Decode for a string that is not the
// canonical encoding of an element.
var ErrInvalidEncoding = errors.New("ristretto255: invalid encoding")

// Field constants of RFC 9496 §4.1.
var (
	feOne            = new(field.Element).One()
	feMinusOne       = new(field.Element).Negate(feOne)
	feD              = feFromDecimal("37095705934669439343138083508754565189542113879843219016388785533085940283555")
	feSqrtM1         = feFromDecimal("19681161376707505956807079304988542015446066515923890162744021073123829784752")
	feSqrtADMinusOne = feFromDecimal("25063068953384623474111414158702152701244531502492656460079210482610430750235")
	feInvSqrtAMinusD = feFromDecimal("54469307008909316920995813868745141605393597292927456921205312896311721017578")
	feOneMinusDSq    = feFromDecimal("1159843021668779879193775521855586647937357759715417654439879720876111806838")
	feDMinusOneSq    = feFromDecimal("40440834346308536858101042469323190826248399146238708352240133220865137265952")
	identity         = edwards25519.NewIdentityPoint()
)

// Panic messages: each marks a programming error, never bad input data.
const (
	errBadFieldConst  = "ristretto255: bad field constant"
	errExpandTooLong  = "ristretto255: expand_message_xmd output longer than 255 blocks"
	errUniformLength  = "ristretto255: FromUniformBytes needs 64 bytes"
	errMapOffTheCurve = "ristretto255: one-way map left the curve"
)

func feFromDecimal(s string) *field.Element {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(errBadFieldConst)
	}
	le := make([]byte, 32)
	n.FillBytes(le)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	fe, err := new(field.Element).SetBytes(le)
	if err != nil || subtle.ConstantTimeCompare(fe.Bytes(), le) != 1 {
		panic(errBadFieldConst)
	}
	return fe
}

// AppendEncoding appends the canonical 32-byte encoding of p (RFC 9496
// §4.3.2) to b and returns the extended slice. Constant time.
func AppendEncoding(b []byte, p *edwards25519.Point) []byte {
	x0, y0, z0, t0 := p.ExtendedCoordinates()
	var u1, u2, v, invsqrt, den1, den2, zInv, ix0, iy0, enchanted, x, y, denInv, negY, s field.Element
	u1.Add(z0, y0)
	u1.Multiply(&u1, v.Subtract(z0, y0))
	u2.Multiply(x0, y0)
	v.Square(&u2)
	v.Multiply(&v, &u1)
	invsqrt.SqrtRatio(feOne, &v)
	den1.Multiply(&invsqrt, &u1)
	den2.Multiply(&invsqrt, &u2)
	zInv.Multiply(&den1, &den2)
	zInv.Multiply(&zInv, t0)
	ix0.Multiply(x0, feSqrtM1)
	iy0.Multiply(y0, feSqrtM1)
	enchanted.Multiply(&den1, feInvSqrtAMinusD)
	rotate := s.Multiply(t0, &zInv).IsNegative()
	x.Select(&iy0, x0, rotate)
	y.Select(&ix0, y0, rotate)
	denInv.Select(&enchanted, &den2, rotate)
	negY.Negate(&y)
	y.Select(&negY, &y, s.Multiply(&x, &zInv).IsNegative())
	s.Subtract(z0, &y)
	s.Multiply(&s, &denInv)
	s.Absolute(&s)
	return append(b, s.Bytes()...)
}

// Decode sets p to the element encoded as b (RFC 9496 §4.3.1). It returns
// ErrInvalidEncoding, leaving p unchanged, if b is not 32 bytes, is a
// non-canonical field element, is negative, or is not the encoding of an
// element. The identity (32 zero bytes) is accepted: callers that must
// refuse it check Equal(p, Identity()).
func Decode(p *edwards25519.Point, b []byte) error {
	if len(b) != EncodingSize {
		return ErrInvalidEncoding
	}
	var s field.Element
	if _, err := s.SetBytes(b); err != nil || subtle.ConstantTimeCompare(s.Bytes(), b) != 1 || s.IsNegative() == 1 {
		return ErrInvalidEncoding
	}
	var ss, u1, u2, u2sq, v, invsqrt, denX, denY, x, y, t, z field.Element
	ss.Square(&s)
	u1.Subtract(feOne, &ss)
	u2.Add(feOne, &ss)
	u2sq.Square(&u2)
	v.Square(&u1)
	v.Multiply(&v, feD)
	v.Negate(&v)
	v.Subtract(&v, &u2sq)
	_, wasSquare := invsqrt.SqrtRatio(feOne, t.Multiply(&v, &u2sq))
	denX.Multiply(&invsqrt, &u2)
	denY.Multiply(&invsqrt, &denX)
	denY.Multiply(&denY, &v)
	x.Multiply(&s, &denX)
	x.Add(&x, &x)
	x.Absolute(&x)
	y.Multiply(&u1, &denY)
	t.Multiply(&x, &y)
	if wasSquare == 0 || t.IsNegative() == 1 || y.Equal(z.Zero()) == 1 {
		return ErrInvalidEncoding
	}
	if _, err := p.SetExtendedCoordinates(&x, &y, z.One(), &t); err != nil {
		return ErrInvalidEncoding // unreachable: the formulas give a curve point
	}
	return nil
}

// Equal reports whether p and q represent the same element (RFC 9496
// §4.3.3). Constant time.
func Equal(p, q *edwards25519.Point) bool {
	x1, y1, _, _ := p.ExtendedCoordinates()
	x2, y2, _, _ := q.ExtendedCoordinates()
	var a, b, c, d field.Element
	a.Multiply(x1, y2)
	b.Multiply(y1, x2)
	c.Multiply(y1, y2)
	d.Multiply(x1, x2)
	return a.Equal(&b)|c.Equal(&d) == 1
}

// Identity returns a new point representing the identity element.
func Identity() *edwards25519.Point { return edwards25519.NewIdentityPoint() }

// IsIdentity reports whether p represents the identity element. Constant
// time.
func IsIdentity(p *edwards25519.Point) bool { return Equal(p, identity) }

// FromUniformBytes sets p to the element derived from 64 uniformly random
// bytes (RFC 9496 §4.3.4): the sum of the one-way map of each half, each
// read as a field element with its top bit cleared. It panics if b is not
// 64 bytes. Constant time.
func FromUniformBytes(p *edwards25519.Point, b []byte) *edwards25519.Point {
	if len(b) != UniformSize {
		panic(errUniformLength)
	}
	var q edwards25519.Point
	mapToPoint(p, b[:32])
	mapToPoint(&q, b[32:])
	return p.Add(p, &q)
}

// mapToPoint is MAP of RFC 9496 §4.3.4 on the 32 bytes b, top bit masked.
func mapToPoint(p *edwards25519.Point, b []byte) {
	var t field.Element
	if _, err := t.SetBytes(b); err != nil {
		panic(errUniformLength) // unreachable: b is 32 bytes
	}
	var r, u, v, tmp, s, sPrime, c, n, w0, w1, w2, w3 field.Element
	r.Square(&t)
	r.Multiply(&r, feSqrtM1)
	u.Add(&r, feOne)
	u.Multiply(&u, feOneMinusDSq)
	v.Multiply(&r, feD)
	v.Subtract(feMinusOne, &v)
	tmp.Add(&r, feD)
	v.Multiply(&v, &tmp)
	_, wasSquare := s.SqrtRatio(&u, &v)
	sPrime.Multiply(&s, &t)
	sPrime.Absolute(&sPrime)
	sPrime.Negate(&sPrime)
	s.Select(&s, &sPrime, wasSquare)
	c.Select(feMinusOne, &r, wasSquare)
	n.Subtract(&r, feOne)
	n.Multiply(&n, &c)
	n.Multiply(&n, feDMinusOneSq)
	n.Subtract(&n, &v)
	w0.Add(&s, &s)
	w0.Multiply(&w0, &v)
	w1.Multiply(&n, feSqrtADMinusOne)
	tmp.Square(&s)
	w2.Subtract(feOne, &tmp)
	w3.Add(feOne, &tmp)
	var x, y, z field.Element
	x.Multiply(&w0, &w3)
	y.Multiply(&w2, &w1)
	z.Multiply(&w1, &w3)
	t.Multiply(&w0, &w2)
	if _, err := p.SetExtendedCoordinates(&x, &y, &z, &t); err != nil {
		panic(errMapOffTheCurve) // unreachable: MAP gives a curve point
	}
}

// HashToElement sets p to hash_to_ristretto255(msg, dst) (RFC 9380,
// Appendix B; RFC 9496 §4.3.4): FromUniformBytes of 64 bytes of
// expand_message_xmd with SHA-512. A dst longer than 255 bytes is first
// hashed as RFC 9380 §5.3.3 prescribes. Constant time in the values of
// msg and dst.
func HashToElement(p *edwards25519.Point, msg, dst []byte) *edwards25519.Point {
	var u [UniformSize]byte
	expandMessageXMD(u[:], msg, dst)
	return FromUniformBytes(p, u[:])
}

// expandMessageXMD fills out with expand_message_xmd(msg, dst, len(out))
// with SHA-512 (RFC 9380 §5.3.1). It panics if out is longer than 255
// SHA-512 blocks.
func expandMessageXMD(out, msg, dst []byte) {
	const bLen, sLen = sha512.Size, sha512.BlockSize
	ell := (len(out) + bLen - 1) / bLen
	if ell > 255 || len(out) > 0xffff {
		panic(errExpandTooLong)
	}
	var dstHash [sha512.Size]byte
	if len(dst) > 255 {
		h := sha512.New()
		h.Write([]byte("H2C-OVERSIZE-DST-"))
		h.Write(dst)
		dst = h.Sum(dstHash[:0])
	}
	dstLen := []byte{byte(len(dst))}
	h := sha512.New()
	var zPad [sLen]byte
	h.Write(zPad[:])
	h.Write(msg)
	h.Write([]byte{byte(len(out) >> 8), byte(len(out)), 0})
	h.Write(dst)
	h.Write(dstLen)
	var b0, bi [bLen]byte
	h.Sum(b0[:0])
	for i := 1; i <= ell; i++ {
		for j := range bi {
			bi[j] ^= b0[j] // b_1 hashes b_0 itself: bi starts at zero
		}
		h.Reset()
		h.Write(bi[:])
		h.Write([]byte{byte(i)})
		h.Write(dst)
		h.Write(dstLen)
		h.Sum(bi[:0])
		copy(out[(i-1)*bLen:], bi[:])
	}
}
