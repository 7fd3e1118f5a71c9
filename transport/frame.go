package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// Wire format.
//
// A connection carries frames. Each frame is
//
//	version (1 byte) | flags (1 byte) | payload length (uint32, big-endian) | payload
//
// The version is 1. The flags are a set of 0x01, "compressed" (the payload is
// one zstd frame, declaring its content size, whose content is the data), and
// 0x02, "more" (more frames of the same message follow). Any other version or
// flag bit, or a payload longer than [MaxFrameSize], is an error.
//
// A message of at most MaxFrameSize bytes travels as one frame with "more"
// clear. A larger message of n bytes travels as a header frame ("more" set,
// not compressed, an 8-byte big-endian payload n) followed by data frames,
// each carrying 1 to MaxFrameSize bytes of the message (before compression),
// with "more" set on all but the last. The receiver checks n against its
// [Config.MaxMessageSize] before reading any data, checks that the data frames
// add up to exactly n, and never allocates more than about twice the data
// received so far (after decompression) plus one frame.
//
// A frame with the flag 0x04, "close", alone, between messages, ends the
// stream: its payload (at most 200 bytes of UTF-8) says why the sender is
// closing the connection, and the receiver's Recv returns that reason (a
// [*ClosedError]). A coordinator sends one to an admitted party whose
// connection it drops, superseded by a newer one.
//
// Messages are preceded by the admission exchange: the party's hello (payload:
// the session name), the coordinator's reply (payload: a status byte, 0 for
// admitted, 1 for refused followed by a short UTF-8 reason) and, if admitted,
// the party's confirmation (payload: a 0 byte), which tells the coordinator
// that the party is still there. All three are single uncompressed frames, read
// with small limits.
const (
	// ProtocolVersion is the version byte of every frame.
	ProtocolVersion = 1

	// FrameHeaderSize is the size of a frame header.
	FrameHeaderSize = 6

	// MaxFrameSize bounds a frame's payload, and the data a compressed
	// frame may decompress to: 4 MiB. It is the most a receiver allocates
	// on the word of a single frame header, and the granularity at which
	// large messages are sent.
	MaxFrameSize = 4 << 20
)

const (
	flagCompressed byte = 1 << 0
	flagMore       byte = 1 << 1
	flagClose      byte = 1 << 2
	knownFlags          = flagCompressed | flagMore | flagClose

	// chunkHeaderSize is the payload size of the header frame of a
	// chunked message.
	chunkHeaderSize = 8

	// maxEmptyReads bounds consecutive (0, nil) reads before giving up, as
	// bufio does.
	maxEmptyReads = 100
)

type frameHeader struct {
	flags  byte
	length int
}

// parseFrameHeader validates a frame header against a payload limit.
func parseFrameHeader(b *[FrameHeaderSize]byte, maxPayload int) (frameHeader, error) {
	if b[0] != ProtocolVersion {
		return frameHeader{}, frameErrorf("unsupported version %d", b[0])
	}
	if b[1]&^knownFlags != 0 {
		return frameHeader{}, frameErrorf("unknown flags %#02x", b[1])
	}
	n := binary.BigEndian.Uint32(b[2:])
	if uint64(n) > uint64(maxPayload) {
		return frameHeader{}, frameErrorf("payload of %d bytes exceeds the frame limit of %d", n, maxPayload)
	}
	return frameHeader{flags: b[1], length: int(n)}, nil
}

func appendFrameHeader(dst []byte, flags byte, n int) []byte {
	dst = append(dst, ProtocolVersion, flags)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// readFrame reads one frame whose payload may be at most maxPayload bytes
// (and at most MaxFrameSize). It validates the header first, and then
// allocates as the payload arrives, not on the header's word. A clean end of
// stream before the frame is io.EOF; inside it, io.ErrUnexpectedEOF.
func readFrame(r io.Reader, maxPayload int) (flags byte, payload []byte, err error) {
	var hdr [FrameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	h, err := parseFrameHeader(&hdr, min(maxPayload, MaxFrameSize))
	if err != nil {
		return 0, nil, err
	}
	var buf bytes.Buffer
	buf.Grow(min(h.length, 4<<10))
	if _, err := io.CopyN(&buf, r, int64(h.length)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h.flags, buf.Bytes(), nil
}

// isTimeout reports whether err is a deadline expiry, after which a read can
// be resumed.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// msgReader reassembles messages from the frames read from r.
//
// It is resumable: when a read fails with a deadline error (see isTimeout), the
// partial frame and message are kept and the next call to next continues
// where the previous one stopped, so a Recv interrupted by its context does
// not lose data. Any other error is sticky.
type msgReader struct {
	r        io.Reader
	maxMsg   int64 // message size limit
	maxFrame int   // frame payload limit; MaxFrameSize except in tests
	// limit, when positive, is a tighter bound on the message being read,
	// set by its caller for that one message; it is checked, as maxMsg is,
	// on the word of the first frame header, before anything is allocated.
	limit int64

	err error // sticky

	// Current frame.
	hdr       [FrameHeaderSize]byte
	hdrN      int
	h         frameHeader
	inPayload bool   // h is valid and its payload is being read into dst
	dst       []byte // where the payload goes
	dstN      int

	// Current message.
	msg      []byte
	total    int64 // declared length of a chunked message; 0 between messages
	chunkLen [chunkHeaderSize]byte
	scratch  *[]byte // the compressed payload being read (from scratchPool)
}

func newMsgReader(r io.Reader, maxMsg int64) *msgReader {
	return &msgReader{r: r, maxMsg: maxMsg, maxFrame: MaxFrameSize}
}

// next returns the next message. At a clean end of stream between messages
// it returns io.EOF; inside a message, io.ErrUnexpectedEOF.
func (m *msgReader) next() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	for {
		if !m.inPayload {
			if err := m.fill(m.hdr[:], &m.hdrN); err != nil {
				return nil, m.readFailed(err, m.hdrN == 0 && m.total == 0)
			}
			m.hdrN = 0
			h, err := parseFrameHeader(&m.hdr, m.maxFrame)
			if err != nil {
				return nil, m.fail(err)
			}
			if err := m.begin(h); err != nil {
				return nil, m.fail(err)
			}
			m.h, m.inPayload, m.dstN = h, true, 0
		}
		if err := m.fill(m.dst, &m.dstN); err != nil {
			return nil, m.readFailed(err, false)
		}
		m.inPayload = false
		msg, done, err := m.end()
		if err != nil {
			return nil, m.fail(err)
		}
		if done {
			return msg, nil
		}
	}
}

// fill reads into b[*n:] until b is full, advancing *n as it goes.
func (m *msgReader) fill(b []byte, n *int) error {
	empty := 0
	for *n < len(b) {
		k, err := m.r.Read(b[*n:])
		*n += k
		if err != nil {
			if *n == len(b) {
				return nil // a repeatable error (EOF) shows up on the next read
			}
			return err
		}
		if k > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			return io.ErrNoProgress
		}
	}
	return nil
}

func (m *msgReader) fail(err error) error {
	m.err = err
	m.msg, m.dst = nil, nil
	m.releaseScratch()
	return err
}

func (m *msgReader) readFailed(err error, atBoundary bool) error {
	if isTimeout(err) {
		return err // resumable
	}
	if err == io.EOF && !atBoundary {
		err = io.ErrUnexpectedEOF
	}
	return m.fail(err)
}

// msgLimit is the bound on the message being read: maxMsg, or the caller's
// tighter limit.
func (m *msgReader) msgLimit() int64 {
	if m.limit > 0 && m.limit < m.maxMsg {
		return m.limit
	}
	return m.maxMsg
}

// begin validates a frame header against the message being assembled, before
// anything is allocated for it, and sets dst to receive its payload.
func (m *msgReader) begin(h frameHeader) error {
	compressed := h.flags&flagCompressed != 0
	more := h.flags&flagMore != 0
	if m.total == 0 { // first frame of a message
		limit := m.msgLimit()
		switch {
		case h.flags&flagClose != 0:
			if h.flags != flagClose || h.length > maxReasonLen {
				return frameErrorf("close frame with flags %#02x and %d bytes", h.flags, h.length)
			}
			m.msg = make([]byte, h.length)
			m.dst = m.msg
		case more:
			if compressed || h.length != chunkHeaderSize {
				return frameErrorf("chunked message header must be %d uncompressed bytes", chunkHeaderSize)
			}
			m.dst = m.chunkLen[:]
		case compressed:
			// A sender compresses only what shrinks, so a compressed
			// payload above the message limit is refused before it is
			// read, as an uncompressed one is.
			if int64(h.length) > limit {
				return &SizeError{Size: uint64(h.length), Limit: limit}
			}
			m.dst = m.scratchBuf(h.length)
		default:
			if int64(h.length) > limit {
				return &SizeError{Size: uint64(h.length), Limit: limit}
			}
			m.msg = make([]byte, h.length)
			m.dst = m.msg
		}
		return nil
	}
	// A data frame of a chunked message.
	if h.flags&flagClose != 0 {
		return frameErrorf("close frame inside a message")
	}
	if h.length == 0 {
		return frameErrorf("empty chunk")
	}
	if compressed {
		if remaining := m.total - int64(len(m.msg)); int64(h.length) > remaining {
			return frameErrorf("compressed chunk of %d bytes exceeds the %d bytes left of the message", h.length, remaining)
		}
		m.dst = m.scratchBuf(h.length)
		return nil
	}
	if remaining := m.total - int64(len(m.msg)); int64(h.length) > remaining {
		return frameErrorf("chunk of %d bytes overruns the declared length (%d bytes left)", h.length, remaining)
	}
	m.grow(h.length)
	m.dst = m.msg[len(m.msg) : len(m.msg)+h.length]
	return nil
}

// end processes a frame whose payload has been read. It reports whether a
// message is complete.
func (m *msgReader) end() ([]byte, bool, error) {
	compressed := m.h.flags&flagCompressed != 0
	more := m.h.flags&flagMore != 0
	if m.total == 0 {
		switch {
		case m.h.flags&flagClose != 0:
			reason := sanitize(string(m.msg))
			m.msg, m.dst = nil, nil
			return nil, false, &ClosedError{Reason: reason}
		case more:
			n := binary.BigEndian.Uint64(m.chunkLen[:])
			if limit := m.msgLimit(); n > uint64(limit) {
				return nil, false, &SizeError{Size: n, Limit: limit}
			}
			if n <= uint64(m.maxFrame) {
				return nil, false, frameErrorf("message of %d bytes must be sent as a single frame", n)
			}
			m.total, m.msg = int64(n), nil
			return nil, false, nil
		case compressed:
			n, err := decompressedSize(m.dst, int64(m.maxFrame))
			if err != nil {
				return nil, false, err
			}
			if limit := m.msgLimit(); int64(n) > limit {
				return nil, false, &SizeError{Size: uint64(n), Limit: limit}
			}
			msg, err := decompressInto(m.dst, make([]byte, 0, n))
			m.dst = nil
			m.releaseScratch()
			return msg, err == nil, err
		default:
			msg := m.msg
			m.msg, m.dst = nil, nil
			return msg, true, nil
		}
	}

	if compressed {
		remaining := m.total - int64(len(m.msg))
		n, err := decompressedSize(m.dst, min(int64(m.maxFrame), remaining))
		if err != nil {
			return nil, false, err
		}
		m.grow(n)
		cur := len(m.msg)
		if _, err := decompressInto(m.dst, m.msg[cur:cur:cur+n]); err != nil {
			return nil, false, err
		}
		m.msg = m.msg[:cur+n]
		m.releaseScratch()
	} else {
		m.msg = m.msg[:len(m.msg)+m.h.length]
	}
	m.dst = nil
	got := int64(len(m.msg))
	if more {
		if got == m.total {
			return nil, false, frameErrorf("chunks continue past the declared length of %d bytes", m.total)
		}
		return nil, false, nil
	}
	if got != m.total {
		return nil, false, frameErrorf("message ended after %d of %d declared bytes", got, m.total)
	}
	msg := m.msg
	m.msg, m.total = nil, 0
	return msg, true, nil
}

// grow makes room for n more bytes of the current chunked message. Capacity
// at least quadruples, so copying is amortised (a 100 MB message is copied
// a third of its size again, where doubling copied all of it), but never
// exceeds the declared total, nor four times what has been received plus
// the frame at hand: a peer makes the reader hold at most four bytes for
// each byte it sends.
func (m *msgReader) grow(n int) {
	need := len(m.msg) + n
	if need <= cap(m.msg) {
		return
	}
	c := int(min(m.total, int64(max(4*cap(m.msg), 4*need))))
	b := make([]byte, len(m.msg), c)
	copy(b, m.msg)
	m.msg = b
}

// scratchBuf returns a buffer for a compressed payload of n bytes.
func (m *msgReader) scratchBuf(n int) []byte {
	m.scratch = getScratch(n)
	return *m.scratch
}

func (m *msgReader) releaseScratch() {
	putScratch(m.scratch)
	m.scratch = nil
}

// msgWriter splits messages into frames, compressing where it pays.
type msgWriter struct {
	w        io.Writer // buffered by the caller
	compress bool
	maxFrame int     // MaxFrameSize except in tests
	hdr      []byte  // scratch for frame headers
	zbuf     *[]byte // compressed payloads, from scratchPool during writeMessage
}

func newMsgWriter(w io.Writer, compress bool) *msgWriter {
	return &msgWriter{w: w, compress: compress, maxFrame: MaxFrameSize}
}

// writeMessage writes msg as one or more frames. The caller flushes.
func (w *msgWriter) writeMessage(msg []byte) error {
	compress := false
	if w.compress && len(msg) >= compressMinSize {
		w.zbuf = getScratch(0)
		defer func() {
			putScratch(w.zbuf)
			w.zbuf = nil
		}()
		sample := msg[:min(len(msg), compressSampleSize)]
		z := w.compressChunk(sample)
		if pays(len(sample), len(z)) {
			if len(sample) == len(msg) && len(msg) <= w.maxFrame {
				return w.writeFrame(flagCompressed, z) // the trial was the whole message
			}
			compress = true
		}
	}
	if len(msg) <= w.maxFrame {
		return w.writeChunk(msg, 0, compress)
	}
	var n [chunkHeaderSize]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(msg)))
	if err := w.writeFrame(flagMore, n[:]); err != nil {
		return err
	}
	for off := 0; off < len(msg); off += w.maxFrame {
		end := min(off+w.maxFrame, len(msg))
		var flags byte
		if end < len(msg) {
			flags = flagMore
		}
		if err := w.writeChunk(msg[off:end], flags, compress); err != nil {
			return err
		}
	}
	return nil
}

// writeChunk writes one frame of at most maxFrame message bytes, compressed
// if asked and if that saves enough. A chunk under compressMinSize is sent
// raw: besides saving little, the zstd encoder omits the content size of
// inputs under 256 bytes, and the receiver requires it.
func (w *msgWriter) writeChunk(p []byte, flags byte, compress bool) error {
	if compress && len(p) >= compressMinSize {
		if z := w.compressChunk(p); pays(len(p), len(z)) {
			return w.writeFrame(flags|flagCompressed, z)
		}
	}
	return w.writeFrame(flags, p)
}

// compressChunk compresses p into w.zbuf.
func (w *msgWriter) compressChunk(p []byte) []byte {
	*w.zbuf = compressAppend((*w.zbuf)[:0], p)
	return *w.zbuf
}

func (w *msgWriter) writeFrame(flags byte, payload []byte) error {
	w.hdr = appendFrameHeader(w.hdr[:0], flags, len(payload))
	if _, err := w.w.Write(w.hdr); err != nil {
		return err
	}
	_, err := w.w.Write(payload)
	return err
}
