// Package binfmt reads and writes the fields the custody wire formats are
// made of (docs/CUSTODY.md: "Integers are big-endian"): u8, u16, u32 and
// u64 integers, fixed-size byte strings, and byte strings behind a u8, u16
// or u32 length.
//
// A [Reader] checks every length against the bytes present and against the
// caller's maximum before it returns anything, so nothing a peer sends can
// make a decoder allocate more than the message's size. Its first error
// sticks: later reads return zero values, and the caller checks once, at
// the end, with [Reader.Done] or [Reader.Err]. The packages that use it say
// what was wrong in their own errors, wrapping their own sentinels; the
// errors here are plain sentinels, so that refusing input costs no
// allocation.
package binfmt

import (
	"encoding/binary"
	"errors"
)

var (
	// ErrTruncated reports a read past the end of the input.
	ErrTruncated = errors.New("binfmt: truncated")
	// ErrTooLong reports a length prefix above the caller's maximum.
	ErrTooLong = errors.New("binfmt: length over the limit")
)

// Reader consumes a byte string field by field. The zero Reader reads an
// empty input.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b. The byte slices it returns alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes r read b from the start, with no error.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Failed reports whether a read or [Reader.Fail] has failed.
func (r *Reader) Failed() bool { return r.err != nil }

// Fail records err, unless an error is already recorded, and drops the
// rest of the input. Decoders call it when a field reads but is invalid, so
// that the one check at the end sees it.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Len returns the number of bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

// Done reports whether every read succeeded and the input is used up: no
// trailing bytes.
func (r *Reader) Done() bool { return r.err == nil && len(r.b) == 0 }

// Bytes reads n bytes. It returns nil if it fails (n < 0 or fewer than n
// bytes left) or an error is recorded. The result aliases the input, with
// its capacity clipped so that appending to it cannot overwrite the input.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Fail(ErrTruncated)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Fill reads len(dst) bytes into dst, typically a fixed-size array
// (r.Fill(a[:])). On failure dst is left as it was.
func (r *Reader) Fill(dst []byte) { copy(dst, r.Bytes(len(dst))) }

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if v := r.Bytes(1); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16() uint16 {
	if v := r.Bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	if v := r.Bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64() uint64 {
	if v := r.Bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Bytes8 reads u8 len || bytes. The length byte bounds it at 255.
func (r *Reader) Bytes8() []byte { return r.Bytes(int(r.U8())) }

// Bytes16 reads u16 len || bytes, with len ≤ max.
func (r *Reader) Bytes16(max int) []byte { return r.prefixed(uint64(r.U16()), max) }

// Bytes32 reads u32 len || bytes, with len ≤ max.
func (r *Reader) Bytes32(max int) []byte { return r.prefixed(uint64(r.U32()), max) }

// String8 reads u8 len || bytes as a string.
func (r *Reader) String8() string { return string(r.Bytes8()) }

// String16 reads u16 len || bytes, with len ≤ max, as a string.
func (r *Reader) String16(max int) string { return string(r.Bytes16(max)) }

func (r *Reader) prefixed(n uint64, max int) []byte {
	if r.err != nil {
		return nil
	}
	// In uint64, so that a u32 length cannot wrap where int is 32 bits.
	if max < 0 || n > uint64(max) {
		r.Fail(ErrTooLong)
		return nil
	}
	return r.Bytes(int(n))
}

// The appenders below write the length prefix as the low bits of len(v):
// callers check their fields' limits before they encode, as their decoders
// check them after.

// AppendString8 appends u8 len || s.
func AppendString8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// AppendBytes16 appends u16 len || v.
func AppendBytes16(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...)
}

// AppendString16 appends u16 len || s.
func AppendString16(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// AppendBytes32 appends u32 len || v.
func AppendBytes32(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}
