package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
)

// encodeMessages writes msgs with frames of at most maxFrame bytes.
func encodeMessages(t testing.TB, maxFrame int, compress bool, msgs ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := newMsgWriter(&buf, compress)
	w.maxFrame = maxFrame
	for _, m := range msgs {
		if err := w.writeMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// decodeAll reads messages until an error, which it returns.
func decodeAll(r io.Reader, maxFrame int, maxMsg int64) ([][]byte, error) {
	mr := newMsgReader(r, maxMsg)
	mr.maxFrame = maxFrame
	var msgs [][]byte
	for {
		m, err := mr.next()
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

func frame(flags byte, payload []byte) []byte {
	return append(appendFrameHeader(nil, flags, len(payload)), payload...)
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func TestFrameRoundTrip(t *testing.T) {
	type tc struct {
		maxFrame int
		sizes    []int
	}
	cases := []tc{
		{64, []int{0, 1, 63, 64, 65, 128, 1000, 1024, 5000, 3*64 + 7}},
		// Full-size frames are covered over TLS by TestRoundTripTLS.
		{MaxFrameSize, []int{MaxFrameSize, MaxFrameSize + 1}},
	}
	for _, c := range cases {
		for _, compress := range []bool{false, true} {
			for _, kind := range []string{"random", "ints"} {
				var msgs [][]byte
				for _, n := range c.sizes {
					if kind == "random" {
						msgs = append(msgs, randomBytes(t, n))
					} else {
						msgs = append(msgs, smallInts(t, n))
					}
				}
				wire := encodeMessages(t, c.maxFrame, compress, msgs...)
				got, err := decodeAll(bytes.NewReader(wire), c.maxFrame, DefaultMaxMessageSize)
				if err != io.EOF {
					t.Fatalf("maxFrame %d compress %v %s: %v", c.maxFrame, compress, kind, err)
				}
				if len(got) != len(msgs) {
					t.Fatalf("got %d messages, want %d", len(got), len(msgs))
				}
				for i := range msgs {
					if !bytes.Equal(got[i], msgs[i]) {
						t.Fatalf("maxFrame %d compress %v %s: message %d (%d bytes) differs", c.maxFrame, compress, kind, i, len(msgs[i]))
					}
				}
			}
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	long := appendFrameHeader(nil, 0, MaxFrameSize+1)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short header", []byte{1, 0, 0}, io.ErrUnexpectedEOF},
		{"short payload", []byte{1, 0, 0, 0, 0, 5, 'a'}, io.ErrUnexpectedEOF},
		{"version 0", []byte{0, 0, 0, 0, 0, 0}, ErrBadFrame},
		{"version 2", []byte{2, 0, 0, 0, 0, 0}, ErrBadFrame},
		{"unknown flag", []byte{1, 8, 0, 0, 0, 0}, ErrBadFrame},
		{"high flag", []byte{1, 0x80, 0, 0, 0, 0}, ErrBadFrame},
		{"too long", long, ErrBadFrame},
		{"huge", []byte{1, 0, 0xff, 0xff, 0xff, 0xff}, ErrBadFrame},
	}
	for _, c := range cases {
		_, _, err := readFrame(bytes.NewReader(c.in), MaxFrameSize)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: readFrame: %v, want %v", c.name, err, c.want)
		}
		_, err = decodeAll(bytes.NewReader(c.in), MaxFrameSize, DefaultMaxMessageSize)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: msgReader: %v, want %v", c.name, err, c.want)
		}
	}
	if _, _, err := readFrame(bytes.NewReader(frame(0, make([]byte, 11))), 10); !errors.Is(err, ErrBadFrame) {
		t.Errorf("readFrame beyond its limit: %v", err)
	}
}

func TestMessageErrors(t *testing.T) {
	const maxFrame = 2048
	const maxMsg = 10000
	z := compressAppend(nil, make([]byte, maxFrame))
	zBig := compressAppend(nil, make([]byte, maxFrame+1))
	zNoFCS := compressAppend(nil, make([]byte, 100)) // small inputs get no content size
	concat := append(append([]byte(nil), z...), z...)
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	data := make([]byte, maxFrame)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"declared total over limit", cat(frame(flagMore, u64(maxMsg+1))), ErrMessageTooLarge},
		{"declared total huge", cat(frame(flagMore, u64(1<<62))), ErrMessageTooLarge},
		{"declared total fits one frame", cat(frame(flagMore, u64(maxFrame)), frame(0, data)), ErrBadFrame},
		{"compressed chunk header", cat(frame(flagMore|flagCompressed, u64(maxFrame+100))), ErrBadFrame},
		{"chunk header of 7 bytes", cat(frame(flagMore, make([]byte, 7))), ErrBadFrame},
		{"chunk overrun", cat(frame(flagMore, u64(maxFrame+100)), frame(flagMore, data), frame(0, data)), ErrBadFrame},
		{"chunks past total", cat(frame(flagMore, u64(2*maxFrame)), frame(flagMore, data), frame(flagMore, data)), ErrBadFrame},
		{"message ends early", cat(frame(flagMore, u64(3*maxFrame)), frame(flagMore, data), frame(0, data)), ErrBadFrame},
		{"empty chunk", cat(frame(flagMore, u64(maxFrame+100)), frame(flagMore, nil)), ErrBadFrame},
		{"truncated chunked message", cat(frame(flagMore, u64(maxFrame+100)), frame(flagMore, data)), io.ErrUnexpectedEOF},
		{"compressed garbage", frame(flagCompressed, []byte("not zstd at all")), ErrBadFrame},
		{"compressed empty", frame(flagCompressed, nil), ErrBadFrame},
		{"compressed beyond frame limit", frame(flagCompressed, zBig), ErrBadFrame},
		{"compressed without size", frame(flagCompressed, zNoFCS), ErrBadFrame},
		{"compressed frames concatenated", frame(flagCompressed, concat), ErrBadFrame},
		{"compressed chunk overrun", cat(frame(flagMore, u64(maxFrame+100)), frame(flagMore, data), frame(flagCompressed, z)), ErrBadFrame},
	}
	for _, c := range cases {
		msgs, err := decodeAll(bytes.NewReader(c.in), maxFrame, maxMsg)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if len(msgs) != 0 {
			t.Errorf("%s: got %d messages", c.name, len(msgs))
		}
	}

	// Well-formed controls.
	for _, in := range [][]byte{
		frame(flagCompressed, z),
		cat(frame(flagMore, u64(maxFrame+100)), frame(flagMore|flagCompressed, z), frame(0, data[:100])),
	} {
		if msgs, err := decodeAll(bytes.NewReader(in), maxFrame, maxMsg); err != io.EOF || len(msgs) != 1 {
			t.Errorf("control: %d messages, %v", len(msgs), err)
		}
	}

	// A single frame bigger than MaxMessageSize.
	_, err := decodeAll(bytes.NewReader(frame(0, make([]byte, 10))), maxFrame, 9)
	var se *SizeError
	if !errors.As(err, &se) || se.Size != 10 || se.Limit != 9 {
		t.Errorf("single frame over MaxMessageSize: %v", err)
	}
	// The same for a compressed one, judged by its declared size.
	_, err = decodeAll(bytes.NewReader(frame(flagCompressed, z)), maxFrame, maxFrame-1)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("compressed frame over MaxMessageSize: %v", err)
	}
	// A compressed payload longer than MaxMessageSize is refused by its
	// frame header, before its bytes are read (none are present here).
	head := frame(flagCompressed, make([]byte, 100))[:6]
	if _, err = decodeAll(bytes.NewReader(head), maxFrame, 99); !errors.As(err, &se) || se.Size != 100 {
		t.Errorf("compressed payload over MaxMessageSize: %v", err)
	}
}

// TestOversizeNotAllocated checks that a peer declaring a huge message gets
// an error before anything is allocated for it, and that a declared size
// within the limit does not by itself cause a large allocation either.
func TestOversizeNotAllocated(t *testing.T) {
	measure := func(in []byte, maxMsg int64) (uint64, error) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := decodeAll(bytes.NewReader(in), MaxFrameSize, maxMsg)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, err
	}
	alloc, err := measure(frame(flagMore, u64(1<<40)), DefaultMaxMessageSize)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("1 TiB message: %v", err)
	}
	if alloc > 64<<10 {
		t.Errorf("refusing a 1 TiB message allocated %d bytes", alloc)
	}
	// 2 GiB declared (allowed), then one 1 KiB chunk and the end of the
	// stream: allocation follows the data, not the declaration.
	in := append(frame(flagMore, u64(DefaultMaxMessageSize)), frame(flagMore, make([]byte, 1024))...)
	alloc, err = measure(in, DefaultMaxMessageSize)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated 2 GiB message: %v", err)
	}
	if alloc > 1<<20 {
		t.Errorf("a declared 2 GiB message with 1 KiB of data allocated %d bytes", alloc)
	}
	t.Logf("allocated %d bytes", alloc)
}

// choppyReader returns data in pieces sized by plan, and on every other call
// (if plan says so) a deadline error without data, as a socket read
// interrupted by a context would.
type choppyReader struct {
	data []byte
	plan []byte
	i    int
}

var errTimeout = fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)

func (c *choppyReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	step := byte(0x7f)
	if len(c.plan) > 0 {
		step = c.plan[c.i%len(c.plan)]
	}
	c.i++
	if step&0x80 != 0 && c.i%2 == 0 {
		return 0, errTimeout
	}
	n := min(len(p), int(step&0x7f)+1, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// decodeResuming reads messages like decodeAll, retrying after deadline
// errors as Conn.Recv's caller would after a cancelled context.
func decodeResuming(r io.Reader, maxFrame int, maxMsg int64) ([][]byte, error) {
	mr := newMsgReader(r, maxMsg)
	mr.maxFrame = maxFrame
	var msgs [][]byte
	for {
		m, err := mr.next()
		if isTimeout(err) {
			continue
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

func TestResumableRead(t *testing.T) {
	msgs := [][]byte{nil, []byte("x"), randomBytes(t, 1000), smallInts(t, 5000), randomBytes(t, 300)}
	wire := encodeMessages(t, 256, true, msgs...)
	for _, plan := range [][]byte{{0x80}, {0x83, 0x05}, {0xff}, {0x80, 0x80, 0x85}} {
		got, err := decodeResuming(&choppyReader{data: wire, plan: plan}, 256, DefaultMaxMessageSize)
		if err != io.EOF {
			t.Fatalf("plan %x: %v", plan, err)
		}
		if len(got) != len(msgs) {
			t.Fatalf("plan %x: %d messages", plan, len(got))
		}
		for i := range msgs {
			if !bytes.Equal(got[i], msgs[i]) {
				t.Fatalf("plan %x: message %d differs", plan, i)
			}
		}
	}
}

const fuzzMaxFrame = 2048

func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		nil,
		frame(0, nil),
		frame(0, []byte("hello")),
		encodeMessages(f, fuzzMaxFrame, true, []byte("hello"), make([]byte, 2000)),
		encodeMessages(f, fuzzMaxFrame, true, make([]byte, 5000)),
		encodeMessages(f, fuzzMaxFrame, false, bytes.Repeat([]byte("abc"), 300)),
		frame(flagCompressed, compressAppend(nil, make([]byte, 100))),
		frame(flagMore, u64(1<<40)),
		{1, 3, 0, 0, 0, 8},
		frame(flagClose, []byte("superseded by a newer connection")),
		append(frame(0, []byte("hello")), frame(flagClose, []byte("session busy"))...),
	}
	return seeds
}

// FuzzReadFrame feeds arbitrary bytes to the frame parser and to the message
// decoder: they must not panic, must allocate only within their limits, and
// whatever they accept must be well formed.
func FuzzReadFrame(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, payload, err := readFrame(bytes.NewReader(data), MaxFrameSize)
		if err == nil {
			if data[0] != ProtocolVersion || flags&^knownFlags != 0 || data[1] != flags {
				t.Fatalf("accepted header %x", data[:FrameHeaderSize])
			}
			if !bytes.Equal(frame(flags, payload), data[:FrameHeaderSize+len(payload)]) {
				t.Fatal("frame does not re-encode to its input")
			}
		}
		const maxMsg = 16 << 10
		msgs, err := decodeAll(bytes.NewReader(data), fuzzMaxFrame, maxMsg)
		if err == nil {
			t.Fatal("decodeAll ended without error")
		}
		for _, m := range msgs {
			if len(m) > maxMsg {
				t.Fatalf("message of %d bytes exceeds the limit", len(m))
			}
		}
		// What was accepted survives a round trip.
		if len(msgs) > 0 {
			again, err := decodeAll(bytes.NewReader(encodeMessages(t, fuzzMaxFrame, true, msgs...)), fuzzMaxFrame, maxMsg)
			if err != io.EOF || len(again) != len(msgs) {
				t.Fatalf("re-encoded messages: %d, %v", len(again), err)
			}
			for i := range msgs {
				if !bytes.Equal(again[i], msgs[i]) {
					t.Fatalf("message %d changed in a round trip", i)
				}
			}
		}
	})
}

// FuzzReadMessageResume checks that reading interrupted by deadlines at
// arbitrary points gives exactly what an uninterrupted read gives.
func FuzzReadMessageResume(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, []byte{byte(i) | 0x80, byte(i * 7)})
	}
	f.Fuzz(func(t *testing.T, data, plan []byte) {
		const maxMsg = 16 << 10
		want, wantErr := decodeAll(bytes.NewReader(data), fuzzMaxFrame, maxMsg)
		got, gotErr := decodeResuming(&choppyReader{data: data, plan: plan}, fuzzMaxFrame, maxMsg)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d messages, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}

// FuzzRoundTrip checks that any message survives encoding and decoding, with
// and without compression, with small frames.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), true, uint8(0))
	f.Add(bytes.Repeat([]byte{0, 0, 0, 7}, 600), true, uint8(3))
	f.Fuzz(func(t *testing.T, msg []byte, compress bool, frameShift uint8) {
		maxFrame := 16 << (frameShift % 8)
		got, err := decodeAll(bytes.NewReader(encodeMessages(t, maxFrame, compress, msg, msg)), maxFrame, int64(len(msg)))
		if err != io.EOF || len(got) != 2 || !bytes.Equal(got[0], msg) || !bytes.Equal(got[1], msg) {
			t.Fatalf("round trip of %d bytes with %d-byte frames: %d messages, %v", len(msg), maxFrame, len(got), err)
		}
	})
}

// TestCloseFrame checks the close frame: between messages it ends the stream
// with the sender's reason, sanitised; inside a message, with other flags or
// longer than a reason may be, it is a malformed frame.
func TestCloseFrame(t *testing.T) {
	stream := append(frame(0, []byte("msg")), frame(flagClose, []byte("superseded\x1b[2J"))...)
	msgs, err := decodeAll(bytes.NewReader(stream), MaxFrameSize, 1<<20)
	var ce *ClosedError
	if len(msgs) != 1 || !errors.As(err, &ce) || !errors.Is(err, ErrClosed) || ce.Reason != "superseded?[2J" {
		t.Fatalf("decodeAll = %d messages, %v", len(msgs), err)
	}
	for name, s := range map[string][]byte{
		"inside a message": append(frame(flagMore, u64(MaxFrameSize+1)), frame(flagClose, []byte("x"))...),
		"with more":        frame(flagClose|flagMore, []byte("x")),
		"too long":         frame(flagClose, bytes.Repeat([]byte("x"), maxReasonLen+1)),
	} {
		if _, err := decodeAll(bytes.NewReader(s), MaxFrameSize, 1<<30); !errors.Is(err, ErrBadFrame) {
			t.Errorf("close frame %s: %v, want ErrBadFrame", name, err)
		}
	}
}
