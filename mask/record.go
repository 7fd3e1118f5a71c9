package mask

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// RecordSecretSize is the size of the secret a record's output mask is
// derived from (psi.SecretSize).
const RecordSecretSize = 16

// recordMaskLabel versions the record mask construction; its hash is the
// construction's fixed, public AES key.
const recordMaskLabel = "maskshare record mask v2"

// recordCipher is AES-128 under the public key
// SHA-256("maskshare record mask v2")[0:16]: a fixed permutation π.
var recordCipher = func() cipher.Block {
	key := sha256.Sum256([]byte(recordMaskLabel))
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		panic("mask: " + err.Error()) // unreachable: the key is 16 bytes
	}
	return b
}()

// RecordMask sets dst[c] to the output mask of column c of one record, for
// every c: words 2b and 2b+1 are the little-endian halves of
//
//	π(x) ⊕ x,  x = secret ⊕ be128(b)
//
// for block b = 0, 1, …, where π is AES-128 under a fixed public key
// (recordCipher). secret is the record's secret, which only the parties
// that hold the record know (docs/PROTOCOL.md §3). π(x) ⊕ x is the
// Matyas–Meyer–Oseas construction; with x = secret ⊕ b it is the
// single-key Even–Mansour cipher keyed by the secret, plus a feed-forward:
// a pseudorandom function of b for anyone who does not know the secret,
// with advantage about q·p/2^128 for q blocks and p evaluations of π by the
// attacker, in the ideal-permutation model. Knowing some of a record's
// masks does not give away the others, nor the secret. It costs one AES
// block per two columns, about four times less than a SHA-256 block.
func RecordMask(dst []uint64, secret [RecordSecretSize]byte) {
	new(RecordMasker).Mask(dst, secret)
}

// A RecordMasker computes record masks with scratch space of its own, so
// that masking many records allocates nothing. It is not safe for
// concurrent use.
type RecordMasker struct {
	x, y [16]byte // the cipher's input and output; they escape through it
}

// Mask is RecordMask.
func (m *RecordMasker) Mask(dst []uint64, secret [RecordSecretSize]byte) {
	x, y := m.x[:], m.y[:]
	for b := 0; 2*b < len(dst); b++ {
		copy(x, secret[:])
		x[15] ^= byte(b)
		x[14] ^= byte(b >> 8) // up to 2^16 blocks: more than MaxColumns/2
		recordCipher.Encrypt(y, x)
		lo := binary.LittleEndian.Uint64(y) ^ binary.LittleEndian.Uint64(x)
		hi := binary.LittleEndian.Uint64(y[8:]) ^ binary.LittleEndian.Uint64(x[8:])
		dst[2*b] = lo
		if 2*b+1 < len(dst) {
			dst[2*b+1] = hi
		}
	}
}
