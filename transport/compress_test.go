package transport

import (
	"bytes"
	"testing"
)

// wireSize encodes msg as the connection would and returns the bytes on the
// wire (frames included) and whether the first data frame is compressed.
func wireSize(t testing.TB, msg []byte, compress bool) (int, bool) {
	wire := encodeMessages(t, MaxFrameSize, compress, msg)
	first := wire
	if len(msg) > MaxFrameSize {
		first = wire[FrameHeaderSize+chunkHeaderSize:] // skip the length frame
	}
	return len(wire), first[1]&flagCompressed != 0
}

func TestCompressionDecision(t *testing.T) {
	const n = 1 << 20
	cases := []struct {
		name     string
		msg      []byte
		compress bool
	}{
		{"random 1 MiB", randomBytes(t, n), false},
		{"small uint32s 1 MiB", smallInts(t, n), true},
		{"zeros 1 MiB", make([]byte, n), true},
		{"small uint32s 1 KiB - 4", smallInts(t, 1<<10-4), false}, // below the threshold
		{"small uint32s 1 KiB", smallInts(t, 1<<10), true},
		{"random 9 MiB", randomBytes(t, 9<<20), false},
		{"small uint32s 9 MiB", smallInts(t, 9<<20), true},
	}
	for _, c := range cases {
		size, compressed := wireSize(t, c.msg, true)
		if compressed != c.compress {
			t.Errorf("%s: compressed = %v, want %v", c.name, compressed, c.compress)
		}
		ratio := float64(size) / float64(len(c.msg))
		if c.compress && ratio > 0.9 {
			t.Errorf("%s: ratio %.3f", c.name, ratio)
		}
		t.Logf("%-22s %9d -> %9d bytes on the wire (ratio %.3f)", c.name, len(c.msg), size, ratio)
		// Compression off: always raw.
		if _, compressed := wireSize(t, c.msg, false); compressed {
			t.Errorf("%s: compressed with compression disabled", c.name)
		}
	}
}

// TestCompressionTrialReliable checks the trial on many random samples: lists
// of small integers are always compressed, random bytes never.
func TestCompressionTrialReliable(t *testing.T) {
	for _, n := range []int{1 << 10, 4 << 10, compressSampleSize} {
		for range 100 {
			if _, compressed := wireSize(t, smallInts(t, n), true); !compressed {
				t.Fatalf("a %d-byte list of small integers was not compressed", n)
			}
			if _, compressed := wireSize(t, randomBytes(t, n), true); compressed {
				t.Fatalf("%d random bytes were compressed", n)
			}
		}
	}
}

// TestCompressionMixed checks that a message whose prefix compresses but whose
// later chunks do not sends those chunks raw.
func TestCompressionMixed(t *testing.T) {
	msg := append(make([]byte, MaxFrameSize), randomBytes(t, MaxFrameSize)...)
	wire := encodeMessages(t, MaxFrameSize, true, msg)
	msgs, err := decodeAll(bytes.NewReader(wire), MaxFrameSize, DefaultMaxMessageSize)
	if err == nil || len(msgs) != 1 || !bytes.Equal(msgs[0], msg) {
		t.Fatalf("round trip: %d messages, %v", len(msgs), err)
	}
	// length frame, compressed zeros, raw random data
	if want := FrameHeaderSize + chunkHeaderSize + 2*FrameHeaderSize + MaxFrameSize; len(wire) < want || len(wire) > want+1000 {
		t.Fatalf("wire size %d, want about %d", len(wire), want)
	}
}

// BenchmarkCompression measures the send-side cost and the ratio of 1 MiB
// messages: random (sent raw after a 16 KiB trial) and small integers
// (compressed).
func BenchmarkCompression(b *testing.B) {
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"random", randomBytes(b, 1<<20)},
		{"smallints", smallInts(b, 1<<20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			w := newMsgWriter(&buf, true)
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := w.writeMessage(c.msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/float64(len(c.msg)), "wire/msg")
		})
	}
}
