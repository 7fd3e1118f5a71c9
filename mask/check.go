package mask

import (
	"encoding/binary"
	"math/bits"
)

// U128 is an element of Z_2^128, the ring of the integrity checks' words
// (docs/PROTOCOL.md §6.1): wide enough that a shift of a 64-bit value by
// any non-zero amount, 2^63 included, moves a check word by a multiple of
// a random key that the shifter cannot predict.
type U128 struct{ Lo, Hi uint64 }

// Add returns a + b mod 2^128.
func (a U128) Add(b U128) U128 {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, _ := bits.Add64(a.Hi, b.Hi, carry)
	return U128{lo, hi}
}

// MulInt64 returns a · x mod 2^128, x taken as the signed integer it
// encodes in two's complement (sign-extended to 128 bits).
func (a U128) MulInt64(x uint64) U128 {
	hi, lo := bits.Mul64(a.Lo, x)
	xhi := uint64(int64(x) >> 63) // 0 or all ones
	hi += a.Lo*xhi + a.Hi*x
	return U128{lo, hi}
}

// Mul returns a · b mod 2^128.
func (a U128) Mul(b U128) U128 {
	hi, lo := bits.Mul64(a.Lo, b.Lo)
	return U128{lo, hi + a.Lo*b.Hi + a.Hi*b.Lo}
}

// MulSmall returns a · k mod 2^128 for a small non-negative k.
func (a U128) MulSmall(k uint64) U128 {
	hi, lo := bits.Mul64(a.Lo, k)
	return U128{lo, hi + a.Hi*k}
}

// Check input domains: byte 0 of the block offset, so that no check block
// is ever a record mask block (whose offsets are zero there).
const (
	checkMatch   = 0x01 // the match check: g and g2
	checkValue   = 0x02 // the value check of a record: F, then α
	checkWeights = 0x03 // the value check's column weights γ_c (session-wide)
)

// MatchKeys returns the two words of a record's match check at canonical
// index `index` of a result of `size` records (docs/PROTOCOL.md §6.1):
// every holder adds g, the designated holder also g2, so that the sum at
// the index is h·g + g2 exactly when the h holders told so, and only they,
// sit there. Derived like RecordMask, from the record's secret, with the
// size and the index in the block.
func (m *RecordMasker) MatchKeys(secret [RecordSecretSize]byte, size, index uint32) (g, g2 uint64) {
	y := m.checkBlock(secret, checkMatch, size, index, 0)
	return y.Lo, y.Hi
}

// ValueKeys returns the keys of a record's value check at canonical index
// `index` of a result of `size` records: the pad F the designated holder
// adds and the multiplier α. The holders' check words add up to
// F + α·Σ_c γ_c·X_c, X_c the record's aggregate in column c and γ_c the
// session's column weights (ValueWeights).
func (m *RecordMasker) ValueKeys(secret [RecordSecretSize]byte, size, index uint32) (pad, alpha U128) {
	return m.checkBlock(secret, checkValue, size, index, 0), m.checkBlock(secret, checkValue, size, index, 1)
}

// ValueWeights sets weights[c] to the column weight γ_c of the value
// checks of a session, derived from secret (the parties' K_check), which
// the coordinator does not know.
func (m *RecordMasker) ValueWeights(weights []U128, secret [RecordSecretSize]byte, size uint32) {
	for c := range weights {
		weights[c] = m.checkBlock(secret, checkWeights, size, 0, uint16(c))
	}
}

// checkBlock is π(x) ⊕ x for x = secret ⊕ (domain ‖ 0³ ‖ be32(size) ‖
// be32(index) ‖ 0² ‖ be16(block)), π the record masks' fixed AES
// permutation: a PRF of (domain, size, index, block) keyed by the secret,
// as argued at RecordMask.
func (m *RecordMasker) checkBlock(secret [RecordSecretSize]byte, domain byte, size, index uint32, block uint16) U128 {
	x, y := m.x[:], m.y[:]
	copy(x, secret[:])
	x[0] ^= domain
	var off [12]byte
	binary.BigEndian.PutUint32(off[0:], size)
	binary.BigEndian.PutUint32(off[4:], index)
	binary.BigEndian.PutUint16(off[10:], block)
	for i, b := range off {
		x[4+i] ^= b
	}
	recordCipher.Encrypt(y, x)
	return U128{
		Lo: binary.LittleEndian.Uint64(y) ^ binary.LittleEndian.Uint64(x),
		Hi: binary.LittleEndian.Uint64(y[8:]) ^ binary.LittleEndian.Uint64(x[8:]),
	}
}

// CheckValue returns pad + alpha·Σ_c weights[c]·values[c] mod 2^128,
// values taken as signed 64-bit integers: what the holders' check words at
// a record add up to when its aggregates are values (and what a holder
// contributes for its own values, with pad zero unless it is the
// designated holder).
func CheckValue(pad, alpha U128, weights []U128, values []uint64) U128 {
	var acc U128
	for c, w := range weights {
		acc = acc.Add(w.MulInt64(values[c]))
	}
	return pad.Add(alpha.Mul(acc))
}

// CheckMatches reports whether the check words (lo, hi) that arrived,
// each the mod-2^64 sum of up to `terms` contributions, can be the sum of
// contributions adding up to want in Z_2^128: the low words must be equal
// and the high word short of want's by the carry out of the low words,
// which lies in [0, terms). Equality is tested without branching on the
// values.
func CheckMatches(want U128, lo, hi uint64, terms int) bool {
	carry := want.Hi - hi
	eq := want.Lo ^ lo
	// carry < terms, computed without a data-dependent branch.
	_, borrow := bits.Sub64(carry, uint64(terms), 0)
	return eq == 0 && borrow == 1
}
