package transport

import (
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Compression policy. Masked vectors, tags and ciphertexts are random and do
// not compress; lists of small integers (indices, counts) do. A trial on a
// prefix tells them apart cheaply.
const (
	// compressMinSize is the smallest message worth a compression trial.
	compressMinSize = 1 << 10

	// compressSampleSize is the prefix compressed as a trial: a message
	// is compressed only if its first compressSampleSize bytes shrink by
	// at least a tenth (see pays). Each chunk of a compressed message is
	// then sent compressed only if it too shrinks by a tenth.
	compressSampleSize = 16 << 10
)

// pays reports whether compressing raw bytes to compressed bytes saves at
// least 10%.
func pays(raw, compressed int) bool { return compressed <= raw-raw/10 }

// zstdEncoder uses the fastest level: on lists of small integers it compresses
// as well as the default level (ratio ~0.44 for uint32s below 1000) at about
// 1.5 times the speed, and speed is what a transport needs. Entropy coding of
// literals is forced on: without it the fastest level often leaves small
// inputs with a skewed byte distribution but few matches uncompressed (about
// half of 1 KiB lists of small integers, 2% of 16 KiB ones), which would make
// the trial on a message's prefix unreliable.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(false), // TLS already authenticates the data
		zstd.WithWindowSize(MaxFrameSize),
	)
	if err != nil {
		panic("transport: zstd encoder: " + err.Error()) // constant options
	}
	return e
})

// zstdDecoder decodes whole chunks only (DecodeAll), into buffers sized
// beforehand: it refuses to produce more than the destination's capacity, and
// never more than MaxFrameSize, whatever the compressed data claims.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxFrameSize),
		zstd.WithDecoderMaxWindow(MaxFrameSize),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		panic("transport: zstd decoder: " + err.Error()) // constant options
	}
	return d
})

// scratchPool recycles the buffers that hold compressed chunks, on both the
// sending and the receiving side, so that an idle connection holds none: a
// coordinator may have many connections, and each buffer is up to
// MaxFrameSize.
var scratchPool sync.Pool // of *[]byte

// maxPooled bounds the buffers kept in scratchPool (the compression of a
// MaxFrameSize chunk that does not shrink is a little larger than the chunk).
const maxPooled = MaxFrameSize + MaxFrameSize/64

// getScratch returns a buffer of length n from the pool.
func getScratch(n int) *[]byte {
	if b, _ := scratchPool.Get().(*[]byte); b != nil && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func putScratch(b *[]byte) {
	if b != nil && cap(*b) <= maxPooled {
		scratchPool.Put(b)
	}
}

// compressAppend appends the zstd compression of src (one frame, with its
// content size) to dst.
func compressAppend(dst, src []byte) []byte { return zstdEncoder().EncodeAll(src, dst) }

// decompressedSize validates the header of a compressed chunk and returns the
// size it declares, which is then checked by the caller and used to size the
// output: one zstd frame, without dictionary, declaring a non-zero content
// size no larger than limit.
func decompressedSize(p []byte, limit int64) (int, error) {
	var h zstd.Header
	if err := h.Decode(p); err != nil {
		return 0, &FrameError{Reason: "compressed chunk", Err: err}
	}
	if h.Skippable || h.DictionaryID != 0 || !h.HasFCS {
		return 0, frameErrorf("compressed chunk must be a zstd frame with content size and no dictionary")
	}
	if h.FrameContentSize == 0 {
		return 0, frameErrorf("empty compressed chunk")
	}
	if h.FrameContentSize > uint64(limit) {
		return 0, frameErrorf("compressed chunk declares %d bytes, more than the %d allowed", h.FrameContentSize, limit)
	}
	return int(h.FrameContentSize), nil
}

// decompressInto decompresses p into dst, which must have length 0 and
// capacity exactly the size p declares (see decompressedSize).
func decompressInto(p, dst []byte) ([]byte, error) {
	want := cap(dst)
	out, err := zstdDecoder().DecodeAll(p, dst)
	if err != nil {
		return nil, &FrameError{Reason: "decompressing chunk", Err: err}
	}
	if len(out) != want {
		return nil, frameErrorf("compressed chunk produced %d bytes, declared %d", len(out), want)
	}
	if want > 0 && &out[0] != &dst[:1][0] {
		// Cannot happen with WithDecodeAllCapLimit; make sure.
		return nil, frameErrorf("compressed chunk outgrew its buffer")
	}
	return out, nil
}
