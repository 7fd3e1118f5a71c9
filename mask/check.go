package mask

import (
	"encoding/binary"
	"math/bits"
)

// CheckPrime is p = 2^64 − 59, the largest prime below 2^64: the integrity
// checks' value words live in Z_p (docs/PROTOCOL.md §6.1). A shift of a
// 64-bit aggregate by any non-zero amount changes its signed value by some
// Δ with 0 < |Δ| < 2^64, which is not a multiple of p as long as the
// aggregate stays 59 away from the int64 limits (the overflow bound, §8,
// keeps it so); a random key in Z_p turns Δ into an unpredictable change
// of the check word. The shift by 2^63, which a check over Z_2^64 misses
// for every odd key, is caught like any other.
const CheckPrime = 1<<64 - 59

// checkGap is 2^64 mod p: a carry out of a 64-bit word is worth this much
// in Z_p.
const checkGap = 59

// reduce returns hi·2^64 + lo mod p.
func reduce(hi, lo uint64) uint64 {
	// 2^64 ≡ 59: fold the high word in twice (59·hi < 2^70, then < 2^64).
	h, l := bits.Mul64(hi, checkGap)
	l, c := bits.Add64(l, lo, 0)
	h += c
	h2, l2 := bits.Mul64(h, checkGap) // h ≤ 59: h2 = 0
	l, c = bits.Add64(l, l2, 0)
	l += (h2 + c) * checkGap // at most one more carry, and then l < 59·60
	if l >= CheckPrime {
		l -= CheckPrime
	}
	return l
}

// AddP returns a + b mod p for a, b < p.
func AddP(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c == 1 || s >= CheckPrime {
		s -= CheckPrime // with a carry, s + 2^64 − p = s + 59, which wraps to this
	}
	return s
}

// MulP returns a · b mod p for a, b < p.
func MulP(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return reduce(hi, lo)
}

// LiftP returns x, a signed 64-bit value in two's complement, as an
// element of Z_p.
func LiftP(x uint64) uint64 {
	if int64(x) < 0 {
		return x - checkGap // x − 2^64 + p
	}
	return x
}

// Check input domains: byte 0 of the block offset, so that no check block
// is ever a record mask block (whose offsets are zero there).
const (
	checkMatch   = 0x01 // the match check: g and g2
	checkValue   = 0x02 // the value check of a record: F and α
	checkWeights = 0x03 // the value check's column weights γ_c (session-wide)
	checkCount   = 0x04 // the match check's index keys g_M(r) (session-wide)
)

// MatchKeys returns the two words of a record's match check at canonical
// index `index` of a result of `size` records (docs/PROTOCOL.md §6.1):
// every holder adds g, the designated holder also g2, so that the sum at
// the index is h·g + g2 exactly when the h holders told so, and only they,
// sit there. Derived like RecordMask, from the record's secret, with the
// size and the index in the block.
func (m *RecordMasker) MatchKeys(secret [RecordSecretSize]byte, size, index uint32) (g, g2 uint64) {
	return m.checkBlock(secret, checkMatch, size, index, 0)
}

// ValueKeys returns the keys of a record's value check at canonical index
// `index` of a result of `size` records, in Z_p: the pad F the designated
// holder adds and the multiplier α. The holders' check words add up to
// F + α·Σ_c γ_c·X_c mod p, X_c the record's aggregate in column c and γ_c
// the session's column weights (ValueWeights).
func (m *RecordMasker) ValueKeys(secret [RecordSecretSize]byte, size, index uint32) (pad, alpha uint64) {
	lo, hi := m.checkBlock(secret, checkValue, size, index, 0)
	return reduce(0, lo), reduce(0, hi)
}

// ValueWeights sets weights[c] to the column weight γ_c in Z_p of the value
// checks of a session, derived from secret (the parties' K_check), which
// the coordinator does not know.
func (m *RecordMasker) ValueWeights(weights []uint64, secret [RecordSecretSize]byte, size uint32) {
	for c := range weights {
		lo, _ := m.checkBlock(secret, checkWeights, size, 0, uint16(c))
		weights[c] = reduce(0, lo)
	}
}

// CountKey returns the word g_M(index) that the designated holder of the
// record at canonical index `index` of a result of `size` records adds to
// the match check's total word, derived from secret (the parties'
// K_check). The total then holds one different key per index that has a
// designated holder, so that b designated holders at one index do not
// stand for b − 1 indexes that nobody holds, as b copies of one key would.
func (m *RecordMasker) CountKey(secret [RecordSecretSize]byte, size, index uint32) uint64 {
	lo, _ := m.checkBlock(secret, checkCount, size, index, 0)
	return lo
}

// checkBlock is π(x) ⊕ x for x = secret ⊕ (domain ‖ 0³ ‖ be32(size) ‖
// be32(index) ‖ 0² ‖ be16(block)), π the record masks' fixed AES
// permutation: a PRF of (domain, size, index, block) keyed by the secret,
// as argued at RecordMask. It returns the little-endian halves.
func (m *RecordMasker) checkBlock(secret [RecordSecretSize]byte, domain byte, size, index uint32, block uint16) (lo, hi uint64) {
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
	return binary.LittleEndian.Uint64(y) ^ binary.LittleEndian.Uint64(x),
		binary.LittleEndian.Uint64(y[8:]) ^ binary.LittleEndian.Uint64(x[8:])
}

// WeightedSum returns Σ_c weights[c]·values[c] mod p, values taken as
// signed 64-bit integers.
func WeightedSum(weights []uint64, values []uint64) uint64 {
	var acc uint64
	for c, w := range weights {
		acc = AddP(acc, MulP(w, LiftP(values[c])))
	}
	return acc
}

// CheckValue returns pad + alpha·Σ_c weights[c]·values[c] mod p: what the
// holders' check words at a record add up to when its aggregates are
// values (and what a holder contributes for its own values, with pad zero
// unless it is the designated holder).
func CheckValue(pad, alpha uint64, weights []uint64, values []uint64) uint64 {
	return AddP(pad, MulP(alpha, WeightedSum(weights, values)))
}

// CheckMatches reports whether word, the mod-2^64 sum of up to `terms`
// check words (each below p), can be the sum of words adding up to want in
// Z_p: the integer sum is word + 2^64·w for the w < terms carries the
// 64-bit sum lost, each worth 59 in Z_p.
func CheckMatches(want, word uint64, terms int) bool {
	d := want - reduce(0, word) // want − word mod p
	if want < reduce(0, word) {
		d += CheckPrime
	}
	return d%checkGap == 0 && d/checkGap < uint64(terms)
}
