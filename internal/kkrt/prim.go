package kkrt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// Domain-separation labels; every hash in the package starts with one.
const (
	labelSID     = "maskshare/kkrt/v2 sid\x00"
	labelKey     = "maskshare/kkrt/v2 key\x00"
	labelElement = "maskshare/kkrt/v2 element\x00"
	labelOutput  = "maskshare/kkrt/v2 output\x00"
	labelOTHash  = "maskshare/kkrt/v2 ot hash" // hash_to_ristretto255 DST
	labelOTKey   = "maskshare/kkrt/v2 ot key\x00"
	labelRun     = "maskshare/kkrt/v2 run\x00"
)

// Element is an input compressed to one AES block: ElementOf(key, x). A
// caller that runs several sessions on one set computes its elements
// once and passes them to each.
type Element [16]byte

// Value is an OPRF output.
type Value [ValueSize]byte

// keys are the session's public, deterministic parts, all derived from sid.
type keys struct {
	sid    [32]byte
	code   [4]cipher.Block // C(e) = AES_code0(e) ‖ … ‖ AES_code3(e)
	cuckoo cipher.Block    // hash functions, see bins
	walk   [32]byte        // seed of the cuckoo insertion's random walk
}

// deriveSID binds the caller's session identifier and the sender's fresh
// seed: SHA-256(labelSID ‖ session ‖ seed).
func deriveSID(session, seed *[32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelSID))
	h.Write(session[:])
	h.Write(seed[:])
	var sid [32]byte
	h.Sum(sid[:0])
	return sid
}

// subkey is SHA-256(labelKey ‖ sid ‖ name).
func subkey(sid *[32]byte, name string) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelKey))
	h.Write(sid[:])
	h.Write([]byte(name))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func newKeys(sid [32]byte) *keys {
	k := &keys{sid: sid}
	for i := range k.code {
		sk := subkey(&sid, "code"+string(rune('0'+i)))
		k.code[i] = mustAES(sk[:16])
	}
	ck := subkey(&sid, "cuckoo")
	k.cuckoo = mustAES(ck[:16])
	k.walk = subkey(&sid, "walk")
	return k
}

func mustAES(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("kkrt: " + err.Error()) // unreachable: keys are 16 bytes
	}
	return b
}

// ElementOf is the element of input x under key: SHA-256(labelElement ‖
// key ‖ x)[:16]. Both parties of a session must use the same key (the
// engine's session identifier). Elements are 128 bits: collisions among
// honest sets are below m²·2^-129, and a party choosing its inputs after
// learning the key needs some 2^64 work to find one. The code, the cuckoo
// hash functions and every output stay keyed by the kkrt session's own
// sid, so the key only compresses the input. It does not allocate for x
// up to 128 bytes.
func ElementOf(key *[32]byte, x []byte) Element {
	var e Element
	// Identifiers are short: hash them from the stack, without allocating.
	var buf [len(labelElement) + 32 + 128]byte
	if n := len(labelElement) + 32 + len(x); n <= len(buf) {
		copy(buf[copy(buf[:], labelElement):], key[:])
		copy(buf[len(labelElement)+32:], x)
		sum := sha256.Sum256(buf[:n])
		copy(e[:], sum[:])
		return e
	}
	h := sha256.New()
	h.Write([]byte(labelElement))
	h.Write(key[:])
	h.Write(x)
	var sum [32]byte
	copy(e[:], h.Sum(sum[:0]))
	return e
}

// scratch is the AES input and output of one element's codeword and bins.
// Slices passed to a cipher.Block (an interface) escape to the heap, so
// callers reuse a scratch (one per goroutine, or from scratchPool) rather
// than a fresh one per element.
type scratch struct {
	in  [elemBytes]byte
	out [rowBytes + 16]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// encode writes the codeword C(e) as rowWords little-endian words.
func (k *keys) encode(dst *[rowWords]uint64, e *Element, sc *scratch) {
	sc.in = *e
	for i, b := range k.code {
		b.Encrypt(sc.out[16*i:16*i+16], sc.in[:])
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(sc.out[8*i:])
	}
}

// bins returns the element's HashCount candidate bins in [0, nbins): three
// 42-bit slices of AES_cuckoo(e), each scaled by nbins (Lemire's
// multiply-shift; bias below nbins/2^42 < 2^-20).
func (k *keys) bins(e *Element, nbins int, sc *scratch) [HashCount]int {
	sc.in = *e
	buf := sc.out[rowBytes:]
	k.cuckoo.Encrypt(buf, sc.in[:])
	lo := binary.LittleEndian.Uint64(buf[:8])
	hi := binary.LittleEndian.Uint64(buf[8:])
	const mask = 1<<42 - 1
	v := [HashCount]uint64{lo & mask, (lo>>42 | hi<<22) & mask, hi >> 20 & mask}
	var b [HashCount]int
	for i := range v {
		b[i] = int(v[i] * uint64(nbins) >> 42)
	}
	return b
}

// output is the random oracle H of KKRT16: SHA-256(labelOutput ‖
// sid[:16] ‖ be32(index) ‖ row), the row as 64 little-endian bytes. Half
// the sid (128 bits, ample to separate sessions) keeps the input at 109
// bytes, two SHA-256 blocks instead of three.
func (k *keys) output(index int, row *[rowWords]uint64) Value {
	var buf [len(labelOutput) + 16 + 4 + rowBytes]byte
	n := copy(buf[:], labelOutput)
	n += copy(buf[n:], k.sid[:16])
	binary.BigEndian.PutUint32(buf[n:], uint32(index))
	n += 4
	for i, w := range row {
		binary.LittleEndian.PutUint64(buf[n+8*i:], w)
	}
	return sha256.Sum256(buf[:])
}

// prg expands a base-OT seed into a column of the OT-extension matrix:
// AES-128-CTR under the seed from a zero counter (each seed keys one
// column of one session, so the counter never repeats under a key).
func prg(seed *[16]byte) cipher.Stream {
	return cipher.NewCTR(mustAES(seed[:]), make([]byte, aes.BlockSize))
}

// transpose64 transposes a 64×64 bit matrix in place: bit j of a[i]
// becomes bit i of a[j]. Recursive block swap (Warren, Hacker's Delight
// §7-3), branch-free and independent of the data; each stage is written
// out over fixed-size sub-arrays, so it runs without bounds checks (1.7×
// the generic loop's speed, BenchmarkTranspose64).
func transpose64(a *[64]uint64) {
	for i := 0; i < 32; i++ {
		t := (a[i]>>32 ^ a[i+32]) & 0x00000000FFFFFFFF
		a[i+32] ^= t
		a[i] ^= t << 32
	}
	for k := 0; k < 64; k += 32 {
		b := (*[32]uint64)(a[k : k+32])
		for i := 0; i < 16; i++ {
			t := (b[i]>>16 ^ b[i+16]) & 0x0000FFFF0000FFFF
			b[i+16] ^= t
			b[i] ^= t << 16
		}
	}
	for k := 0; k < 64; k += 16 {
		b := (*[16]uint64)(a[k : k+16])
		for i := 0; i < 8; i++ {
			t := (b[i]>>8 ^ b[i+8]) & 0x00FF00FF00FF00FF
			b[i+8] ^= t
			b[i] ^= t << 8
		}
	}
	for k := 0; k < 64; k += 8 {
		b := (*[8]uint64)(a[k : k+8])
		for i := 0; i < 4; i++ {
			t := (b[i]>>4 ^ b[i+4]) & 0x0F0F0F0F0F0F0F0F
			b[i+4] ^= t
			b[i] ^= t << 4
		}
	}
	for k := 0; k < 64; k += 4 {
		b := (*[4]uint64)(a[k : k+4])
		for i := 0; i < 2; i++ {
			t := (b[i]>>2 ^ b[i+2]) & 0x3333333333333333
			b[i+2] ^= t
			b[i] ^= t << 2
		}
	}
	for k := 0; k < 64; k += 2 {
		b := (*[2]uint64)(a[k : k+2])
		t := (b[0]>>1 ^ b[1]) & 0x5555555555555555
		b[1] ^= t
		b[0] ^= t << 1
	}
}

// chunk is the number of instances expanded and transposed at a time: it
// keeps the working set (2·CodeWidth·chunk/8 bytes) in cache.
const chunk = 1024

// columns holds one chunk of the w column streams, transposed into rows.
type columns struct {
	streams []cipher.Stream
	buf     []byte // CodeWidth × chunk/8 bytes, column-major
}

func newColumns(seeds [][16]byte) *columns {
	c := &columns{streams: make([]cipher.Stream, len(seeds)), buf: make([]byte, CodeWidth*chunk/8)}
	for i := range seeds {
		c.streams[i] = prg(&seeds[i])
	}
	return c
}

// next expands the next n instances (n a multiple of 64, ≤ chunk) of every
// column and writes them as rows into rows[0:n].
func (c *columns) next(rows [][rowWords]uint64, n int) {
	nb := n / 8
	for i, s := range c.streams {
		col := c.buf[i*chunk/8 : i*chunk/8+nb]
		clear(col)
		s.XORKeyStream(col, col)
	}
	var blk [64]uint64
	for jw := 0; jw < n/64; jw++ {
		for iw := 0; iw < rowWords; iw++ {
			for k := 0; k < 64; k++ {
				off := (64*iw+k)*chunk/8 + 8*jw
				blk[k] = binary.LittleEndian.Uint64(c.buf[off:])
			}
			transpose64(&blk)
			for l := 0; l < 64; l++ {
				rows[64*jw+l][iw] = blk[l]
			}
		}
	}
}
