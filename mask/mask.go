// Package mask implements the arithmetic of maskshare: vectors over the ring
// Z_2^64 (uint64 with wrap-around addition), the PRG that expands a 32-byte
// seed into such a vector, and zero-sum mask sets.
//
// The PRG is AES-256 in counter mode, keyed by HKDF-SHA256 (RFC 5869) from the
// seed with domain separation by session, purpose and column; its exact
// definition, with known-answer vectors in testdata/prg.json, is in
// docs/PROTOCOL.md. Signed values live in the ring in two's complement, so
// ring sums of int64 values are exact whenever the true sum fits in an int64.
//
// Everything in this package runs in time that depends only on vector
// lengths, never on the values.
package mask

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// SeedSize is the size of a PRG seed in bytes.
const SeedSize = 32

// Seed is the secret input of the PRG.
type Seed [SeedSize]byte

// NewSeed returns a fresh seed from crypto/rand.
func NewSeed() Seed {
	var s Seed
	rand.Read(s[:]) // never fails (crypto/rand panics on an unusable source)
	return s
}

// Purpose separates the PRG streams used for different things in one session.
type Purpose uint8

// The purposes defined by the protocol. Each value is part of the PRG's input
// (docs/PROTOCOL.md); never renumber them.
const (
	PurposeMask   Purpose = 1 // zero-sum masks dealt by the coordinator
	PurposePart   Purpose = 2 // additive parts sent from one party to another
	PurposeOutput Purpose = 3 // the output mask that hides aggregates from the coordinator
)

// Domain names one PRG stream: the same seed in two different domains gives
// independent streams.
type Domain struct {
	Session [32]byte
	Purpose Purpose
	Column  uint32
}

// prgSalt is the HKDF salt of the PRG; it versions the construction.
const prgSalt = "maskshare prg v1"

// keyAndIV derives the AES-256 key and the initial counter block of a stream.
func keyAndIV(seed Seed, d Domain) (key [32]byte, iv [16]byte) {
	var info [32 + 1 + 4]byte
	copy(info[:32], d.Session[:])
	info[32] = byte(d.Purpose)
	binary.BigEndian.PutUint32(info[33:], d.Column)
	okm, err := hkdf.Key(sha256.New, seed[:], []byte(prgSalt), string(info[:]), 48)
	if err != nil {
		panic("mask: hkdf: " + err.Error()) // only for lengths over 255*32
	}
	copy(key[:], okm[:32])
	copy(iv[:], okm[32:])
	return key, iv
}

// chunkWords is how many words the PRG produces per AES call; 8 KiB keeps the
// buffer in L1 and amortises the call.
const chunkWords = 1024

var zeroChunk [chunkWords * 8]byte

// PRG is one keystream. It is not safe for concurrent use.
type PRG struct {
	stream cipher.Stream
	buf    [chunkWords * 8]byte
}

// NewPRG returns the stream of seed in domain d, positioned at word 0.
func NewPRG(seed Seed, d Domain) *PRG { return NewPRGAt(seed, d, 0) }

// NewPRGAt returns the stream of seed in domain d, positioned at word offset,
// so that a long vector can be expanded in independent pieces.
func NewPRGAt(seed Seed, d Domain, offset uint64) *PRG {
	key, iv := keyAndIV(seed, d)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("mask: " + err.Error()) // unreachable: the key is 32 bytes
	}
	// Two words per AES block: word offset o starts in block o/2. Add o/2 to
	// the 128-bit big-endian counter, as CTR mode increments it.
	lo := binary.BigEndian.Uint64(iv[8:])
	hi := binary.BigEndian.Uint64(iv[:8])
	nlo := lo + offset/2
	if nlo < lo {
		hi++
	}
	binary.BigEndian.PutUint64(iv[:8], hi)
	binary.BigEndian.PutUint64(iv[8:], nlo)
	p := &PRG{stream: cipher.NewCTR(block, iv[:])}
	if offset%2 == 1 {
		var skip [8]byte
		p.stream.XORKeyStream(skip[:], zeroChunk[:8])
	}
	return p
}

// Read overwrites dst with the next len(dst) words of the stream.
func (p *PRG) Read(dst []uint64) { p.apply(dst, opSet) }

// Add adds the next len(dst) words of the stream to dst.
func (p *PRG) Add(dst []uint64) { p.apply(dst, opAdd) }

// Sub subtracts the next len(dst) words of the stream from dst.
func (p *PRG) Sub(dst []uint64) { p.apply(dst, opSub) }

type op int

const (
	opSet op = iota
	opAdd
	opSub
)

func (p *PRG) apply(dst []uint64, o op) {
	for len(dst) > 0 {
		n := min(len(dst), chunkWords)
		b := p.buf[:n*8]
		p.stream.XORKeyStream(b, zeroChunk[:n*8])
		d := dst[:n]
		switch o {
		case opSet:
			for i := range d {
				d[i] = binary.LittleEndian.Uint64(b[i*8:])
			}
		case opAdd:
			for i := range d {
				d[i] += binary.LittleEndian.Uint64(b[i*8:])
			}
		case opSub:
			for i := range d {
				d[i] -= binary.LittleEndian.Uint64(b[i*8:])
			}
		}
		dst = dst[n:]
	}
}

// Expand overwrites dst with the first len(dst) words of seed's stream in d.
func Expand(dst []uint64, seed Seed, d Domain) { NewPRG(seed, d).Read(dst) }

// AddExpand adds the first len(dst) words of seed's stream in d to dst.
func AddExpand(dst []uint64, seed Seed, d Domain) { NewPRG(seed, d).Add(dst) }

// SubExpand subtracts the first len(dst) words of seed's stream in d from dst.
func SubExpand(dst []uint64, seed Seed, d Domain) { NewPRG(seed, d).Sub(dst) }

// Add sets dst[i] += a[i] in Z_2^64. It panics if the lengths differ.
func Add(dst, a []uint64) {
	mustSameLen(dst, a)
	a = a[:len(dst)]
	for i := range dst {
		dst[i] += a[i]
	}
}

// Sub sets dst[i] -= a[i] in Z_2^64. It panics if the lengths differ.
func Sub(dst, a []uint64) {
	mustSameLen(dst, a)
	a = a[:len(dst)]
	for i := range dst {
		dst[i] -= a[i]
	}
}

// AddLE sets dst[i] += the i-th little-endian word of src, the encoding of
// vectors on the wire. It panics unless len(src) is 8·len(dst).
func AddLE(dst []uint64, src []byte) {
	if len(src) != 8*len(dst) {
		panic(fmt.Sprintf("mask: %d bytes for %d words", len(src), len(dst)))
	}
	for i := range dst {
		dst[i] += binary.LittleEndian.Uint64(src[8*i:])
	}
}

// Sum returns the ring sum of v.
func Sum(v []uint64) uint64 {
	var s uint64
	for _, x := range v {
		s += x
	}
	return s
}

func mustSameLen(a, b []uint64) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("mask: vector lengths differ: %d and %d", len(a), len(b)))
	}
}

// MaskSeeds is one party's share of a zero-sum mask set: its mask is
// PRG(Plus) − PRG(Minus), element by element.
type MaskSeeds struct {
	Plus, Minus Seed
}

// ZeroSum deals a zero-sum mask set for n ≥ 2 parties as seeds only: with
// fresh seeds σ_0..σ_{n−1}, share j is (σ_j, σ_{j+1 mod n}). Every seed is added
// by one share and subtracted by the next, so the n masks sum to zero in every
// element, while any n−1 of them are jointly uniform. The caller assigns the
// shares to parties (at random, in maskshare).
func ZeroSum(n int) ([]MaskSeeds, error) {
	if n < 2 {
		return nil, fmt.Errorf("mask: a zero-sum set needs at least 2 parties, got %d", n)
	}
	sigma := make([]Seed, n)
	for i := range sigma {
		sigma[i] = NewSeed()
	}
	out := make([]MaskSeeds, n)
	for j := range out {
		out[j] = MaskSeeds{Plus: sigma[j], Minus: sigma[(j+1)%n]}
	}
	return out, nil
}

// Apply adds this share's mask for domain d to dst. d.Purpose should be
// PurposeMask.
func (m MaskSeeds) Apply(dst []uint64, d Domain) {
	AddExpand(dst, m.Plus, d)
	SubExpand(dst, m.Minus, d)
}

// Mix adds the next len(dst) words of every stream in add to dst and
// subtracts those of every stream in sub, in one pass: dst is walked in
// chunks small enough to stay in cache while all the streams are applied,
// and an added and a subtracted stream are applied together, halving the
// loads and stores of dst.
func Mix(dst []uint64, add, sub []*PRG) {
	pairs := min(len(add), len(sub))
	for len(dst) > 0 {
		n := min(len(dst), chunkWords)
		d := dst[:n]
		for k := range pairs {
			a, b := add[k].next(n), sub[k].next(n)
			for i := range d {
				d[i] += binary.LittleEndian.Uint64(a[8*i:]) - binary.LittleEndian.Uint64(b[8*i:])
			}
		}
		for _, p := range add[pairs:] {
			p.Add(d)
		}
		for _, p := range sub[pairs:] {
			p.Sub(d)
		}
		dst = dst[n:]
	}
}

// next returns the next n ≤ chunkWords words of key stream, as bytes in the
// PRG's buffer.
func (p *PRG) next(n int) []byte {
	b := p.buf[:n*8]
	p.stream.XORKeyStream(b, zeroChunk[:n*8])
	return b
}
