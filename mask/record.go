package mask

import (
	"crypto/sha256"
	"encoding/binary"
)

// RecordSecretSize is the size of the secret a record's output mask is
// derived from (psi.SecretSize).
const RecordSecretSize = 16

// recordMaskLabel versions the record mask construction.
const recordMaskLabel = "maskshare record mask v2"

// RecordMask sets dst[c] to the output mask of column c of one record, for
// every c. The words are the little-endian 64-bit words of the blocks
//
//	SHA-256("maskshare record mask v2" || secret || be32(block))
//
// for block = 0, 1, …, four words a block. secret is the record's secret,
// which only the parties that hold the record know (docs/PROTOCOL.md §6),
// so the mask is uniform to anyone else. One hash block covers four
// columns: a few tens of nanoseconds per record and column with SHA-NI.
func RecordMask(dst []uint64, secret [RecordSecretSize]byte) {
	var msg [len(recordMaskLabel) + RecordSecretSize + 4]byte
	copy(msg[:], recordMaskLabel)
	copy(msg[len(recordMaskLabel):], secret[:])
	for block := 0; 4*block < len(dst); block++ {
		binary.BigEndian.PutUint32(msg[len(msg)-4:], uint32(block))
		sum := sha256.Sum256(msg[:])
		for i := 0; i < 4 && 4*block+i < len(dst); i++ {
			dst[4*block+i] = binary.LittleEndian.Uint64(sum[8*i:])
		}
	}
}
