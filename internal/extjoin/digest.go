package extjoin

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Digest is an order-independent digest of a multiset of records (id,
// holders, sums), so that a party's streamed result can be checked against
// the join without holding either in memory: the SHA-256 of each record's
// canonical encoding, split into four little-endian uint64 lanes, added lane
// by lane modulo 2^64. Two result sets have equal digests if and only if
// they are equal, with overwhelming probability, for data not chosen to
// collide (it is a check, not a commitment). The zero Digest is the empty
// set's.
type Digest [4]uint64

// Add adds one record. The encoding is uvarint(len(id)) ‖ id ‖
// uvarint(holders) ‖ uvarint(len(sums)) ‖ sums as little-endian int64s.
func (d *Digest) Add(id string, holders int, sums []int64) {
	d.Merge(Record(id, holders, sums))
}

// Record returns the digest of the set holding only this record, to be
// merged into several digests (one per holding party) at the cost of one
// hash.
func Record(id string, holders int, sums []int64) Digest {
	var stack [128]byte
	b := binary.AppendUvarint(stack[:0], uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(holders))
	b = binary.AppendUvarint(b, uint64(len(sums)))
	for _, v := range sums {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	h := sha256.Sum256(b)
	var r Digest
	for i := range r {
		r[i] = binary.LittleEndian.Uint64(h[8*i:])
	}
	return r
}

// Merge adds the records of e: the digest of the multiset union.
func (d *Digest) Merge(e Digest) {
	for i := range d {
		d[i] += e[i]
	}
}

// String returns the digest in hex, lanes little-endian as in the hash.
func (d Digest) String() string {
	var b [32]byte
	for i, v := range d {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return hex.EncodeToString(b[:])
}
