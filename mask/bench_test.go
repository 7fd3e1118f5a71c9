package mask

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"
)

const benchWords = 1 << 20

func benchSeed(i int) Seed {
	var s Seed
	s[0], s[1] = byte(i), 0x5a
	return s
}

var benchDomain = Domain{Purpose: PurposeMask, Column: 1}

// BenchmarkExpand: one stream into 1<<20 words; bytes = 8 MiB per op.
func BenchmarkExpand(b *testing.B) {
	dst := make([]uint64, benchWords)
	p := NewPRG(benchSeed(0), benchDomain)
	b.SetBytes(8 * benchWords)
	b.ReportAllocs()
	for b.Loop() {
		p.Read(dst)
	}
}

// BenchmarkMix: 4 streams added and 4 subtracted over 1<<20 words; bytes =
// 8 MiB × 8 streams per op.
func BenchmarkMix(b *testing.B) {
	dst := make([]uint64, benchWords)
	var add, sub []*PRG
	for i := range 4 {
		add = append(add, NewPRG(benchSeed(i), benchDomain))
		sub = append(sub, NewPRG(benchSeed(4+i), benchDomain))
	}
	b.SetBytes(8 * benchWords * 8)
	b.ReportAllocs()
	for b.Loop() {
		Mix(dst, add, sub)
	}
}

// BenchmarkAESCTRFloor is what Expand and Mix cannot beat with
// crypto/cipher: raw AES-256-CTR keystream over the same byte count, made
// in the same 8 KiB pieces (so it stays in cache, as in Mix), plus one plain
// uint64 add loop per stream and piece over dst, with no byte decoding. Its
// ns/word is the floor for Expand (streams=1) and Mix (streams=8).
func BenchmarkAESCTRFloor(b *testing.B) {
	for _, streams := range []int{1, 8} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			var key [32]byte
			var iv [16]byte
			block, err := aes.NewCipher(key[:])
			if err != nil {
				b.Fatal(err)
			}
			ctrs := make([]cipher.Stream, streams)
			for i := range ctrs {
				iv[0] = byte(i)
				ctrs[i] = cipher.NewCTR(block, iv[:])
			}
			buf := make([]byte, 8*chunkWords)
			src := make([]uint64, chunkWords)
			dst := make([]uint64, benchWords)
			b.SetBytes(int64(8 * benchWords * streams))
			b.ReportAllocs()
			for b.Loop() {
				for off := 0; off < len(dst); off += chunkWords {
					d := dst[off : off+chunkWords]
					for _, c := range ctrs {
						c.XORKeyStream(buf, buf)
						for i := range d {
							d[i] += src[i]
						}
					}
				}
			}
		})
	}
}
