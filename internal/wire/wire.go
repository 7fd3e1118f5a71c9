// Package wire encodes and decodes the messages of the maskshare session
// protocol (docs/PROTOCOL.md, "Messages").
//
// Every message starts with the protocol version and a type byte. Integers are
// big-endian except ring vectors, which are little-endian 64-bit words. A
// decoder checks every length against the bytes actually present before it
// allocates, so a peer cannot make it allocate more than the message's size.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Version is the protocol version carried by every message.
const Version = 5

// Limits of the protocol. They bound what a decoder accepts.
const (
	MaxParties    = 1024    // parties in one session
	MaxColumns    = 256     // value columns
	MaxNameLen    = 256     // bytes in a party or column name
	MaxReasonLen  = 1024    // bytes in an abort reason
	MaxRecords    = 1 << 30 // records in one list or vector
	MaxSigLen     = 256     // bytes in an identity signature
	MaxSealedSize = 1024    // bytes in one sealed box
	KeySize       = 32      // X25519 public keys, seeds, digests
	TagSize       = 16      // keyed-mode tags
	ElementSize   = 32      // ecdh-mode group elements
	ProofSize     = 64      // ecdh-mode blinding proofs
	MaxBuckets    = 1 << 16 // buckets of a bucketed session
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wire: malformed message")

// Type identifies a message.
type Type uint8

// Message types, in the order they appear in a session.
const (
	TypeOpen      Type = 1  // coordinator → party: session id and parameters
	TypeHello     Type = 2  // party → coordinator: ephemeral key
	TypePeers     Type = 3  // coordinator → party: everyone's keys, mask seeds
	TypeSealed    Type = 4  // both ways: sealed boxes between parties
	TypeTags      Type = 5  // party → coordinator: keyed-mode tags
	TypeElements  Type = 6  // both ways: ecdh-mode element lists
	TypeMatch     Type = 7  // coordinator → party: result size and matches
	TypeMasked    Type = 8  // party → coordinator: masked vector
	TypeReveal    Type = 9  // coordinator → party: masked aggregates
	TypeConfirm   Type = 10 // party → coordinator: transcript MAC
	TypeDone      Type = 11 // coordinator → party: everyone's MACs
	TypeAbort     Type = 12 // both ways: the session ends
	TypePairwise  Type = 13 // both ways: oprf-mode OPRF messages, sealed between two parties
	TypePairTags  Type = 14 // party → coordinator: oprf-mode candidate tags
	TypeSecrets   Type = 15 // both ways: oprf-mode record secrets, sealed between two parties
	TypeSizes     Type = 16 // coordinator → party: a bucketed session's result size per bucket
	TypeRejoin    Type = 17 // party → coordinator: a suspended session's progress, in place of a Hello
	TypeResume    Type = 18 // coordinator → party: where a suspended session resumes
	TypeAck       Type = 19 // coordinator → party: a bucketed session's bucket intersected
	maxType            = TypeAck
	coordinatorID      = 0xFFFF
)

func (t Type) String() string {
	names := [...]string{"", "open", "hello", "peers", "sealed", "tags", "elements", "match", "masked", "reveal", "confirm", "done", "abort", "pairwise", "pair tags", "secrets", "sizes", "rejoin", "resume", "ack"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Coordinator is the sender index of messages that come from the coordinator.
const Coordinator = coordinatorID

// Peek returns the type of an encoded message after checking its version.
func Peek(msg []byte) (Type, error) {
	if len(msg) < 2 {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(msg))
	}
	if msg[0] != Version {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrMalformed, msg[0], Version)
	}
	t := Type(msg[1])
	if t == 0 || t > maxType {
		return 0, fmt.Errorf("%w: unknown type %d", ErrMalformed, msg[1])
	}
	return t, nil
}

// writer appends big-endian fields to a message.
type writer struct{ b []byte }

func newWriter(t Type, sizeHint int) *writer {
	w := &writer{b: make([]byte, 0, 2+sizeHint)}
	w.b = append(w.b, Version, byte(t))
	return w
}

func (w *writer) u8(v uint8)       { w.b = append(w.b, v) }
func (w *writer) u16(v uint16)     { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32)     { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)     { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(p []byte)     { w.b = append(w.b, p...) }
func (w *writer) str16(s string)   { w.u16(uint16(len(s))); w.b = append(w.b, s...) }
func (w *writer) bytes16(p []byte) { w.u16(uint16(len(p))); w.b = append(w.b, p...) }
func (w *writer) zeros(n int) {
	if n > 0 {
		w.b = append(w.b, make([]byte, n)...)
	}
}
func (w *writer) words(v []uint64) {
	for _, x := range v {
		w.b = binary.LittleEndian.AppendUint64(w.b, x)
	}
}

// reader consumes fields; the first error sticks and later reads return zero.
type reader struct {
	b   []byte
	err error
}

func newReader(msg []byte, want Type) *reader {
	t, err := Peek(msg)
	if err == nil && t != want {
		err = fmt.Errorf("%w: got %v, want %v", ErrMalformed, t, want)
	}
	if err != nil {
		return &reader{err: err}
	}
	return &reader{b: msg[2:]}
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	r.b = nil
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() uint8 {
	p := r.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) u16() uint16 {
	p := r.take(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (r *reader) u32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *reader) u64() uint64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (r *reader) key() (k [KeySize]byte) {
	copy(k[:], r.take(KeySize))
	return k
}

// count reads a uint32 count of items of size each, checks it against max and
// against the bytes left, so the caller can allocate count items safely.
func (r *reader) count(max, size int, what string) int {
	n := uint64(r.u32())
	if r.err != nil {
		return 0
	}
	if n > uint64(max) {
		r.fail("%d %s exceeds the limit of %d", n, what, max)
		return 0
	}
	// In uint64, so that the product cannot wrap where int is 32 bits.
	if n*uint64(size) > uint64(len(r.b)) {
		r.fail("%d %s need %d bytes, have %d", n, what, n*uint64(size), len(r.b))
		return 0
	}
	return int(n)
}

// fits reports whether words 64-bit words are exactly the bytes left,
// computing in uint64 so that the product cannot wrap.
func (r *reader) fits(words uint64) bool {
	return words <= uint64(len(r.b))/8 && words*8 == uint64(len(r.b))
}

func (r *reader) str16(max int, what string) string {
	n := int(r.u16())
	if r.err == nil && n > max {
		r.fail("%s of %d bytes exceeds %d", what, n, max)
	}
	p := r.take(n)
	if r.err == nil && !utf8.Valid(p) {
		r.fail("%s is not UTF-8", what)
	}
	return string(p)
}

func (r *reader) bytes16(max int, what string) []byte {
	n := int(r.u16())
	if r.err == nil && n > max {
		r.fail("%s of %d bytes exceeds %d", what, n, max)
	}
	p := r.take(n)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *reader) words(n int) []uint64 {
	p := r.take(n * 8)
	if r.err != nil {
		return nil
	}
	v := make([]uint64, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
	return v
}

// padding consumes the rest of the message, which must be zero bytes.
func (r *reader) padding() {
	p := r.take(len(r.b))
	for _, b := range p {
		if b != 0 {
			r.fail("non-zero padding")
			return
		}
	}
}

// index reads a party index below n (or the coordinator's, if allowed).
func (r *reader) index(n int, what string) int {
	i := int(r.u16())
	if r.err == nil && i >= n {
		r.fail("%s %d out of range for %d parties", what, i, n)
	}
	return i
}

// done reports the sticky error, or an error if bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}
