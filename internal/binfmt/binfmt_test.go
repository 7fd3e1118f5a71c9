package binfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestReaderFields(t *testing.T) {
	var b []byte
	b = append(b, 0xa1)
	b = binary.BigEndian.AppendUint16(b, 0xa1b2)
	b = binary.BigEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.BigEndian.AppendUint64(b, 0xa1b2c3d4e5f60718)
	b = append(b, "fixed"...)
	b = AppendString8(b, "eight")
	b = AppendString16(b, "sixteen")
	b = AppendBytes16(b, []byte{1, 2})
	b = AppendBytes32(b, []byte("thirty-two"))

	r := NewReader(b)
	var fixed [5]byte
	u8, u16, u32, u64 := r.U8(), r.U16(), r.U32(), r.U64()
	r.Fill(fixed[:])
	s8, s16, b16, b32 := r.String8(), r.String16(7), r.Bytes16(2), r.Bytes32(10)
	if !r.Done() || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("Done %v, Err %v, Len %d", r.Done(), r.Err(), r.Len())
	}
	if u8 != 0xa1 || u16 != 0xa1b2 || u32 != 0xa1b2c3d4 || u64 != 0xa1b2c3d4e5f60718 {
		t.Errorf("integers %#x %#x %#x %#x", u8, u16, u32, u64)
	}
	if string(fixed[:]) != "fixed" || s8 != "eight" || s16 != "sixteen" || !bytes.Equal(b16, []byte{1, 2}) || string(b32) != "thirty-two" {
		t.Errorf("strings %q %q %q %x %q", fixed, s8, s16, b16, b32)
	}
}

func TestReaderTrailing(t *testing.T) {
	r := NewReader([]byte{1, 2, 3})
	if r.U16() != 0x0102 || r.Done() || r.Err() != nil || r.Len() != 1 {
		t.Fatalf("after reading 2 of 3 bytes: Done %v, Err %v, Len %d", r.Done(), r.Err(), r.Len())
	}
}

// Every read past the end fails, returns the zero value and makes the
// error stick, even for later reads that would fit.
func TestReaderTruncatedSticks(t *testing.T) {
	reads := map[string]func(r *Reader) bool{
		"U16":     func(r *Reader) bool { return r.U16() == 0 },
		"U32":     func(r *Reader) bool { return r.U32() == 0 },
		"U64":     func(r *Reader) bool { return r.U64() == 0 },
		"Bytes":   func(r *Reader) bool { return r.Bytes(2) == nil },
		"Bytes8":  func(r *Reader) bool { return r.Bytes8() == nil },
		"Bytes16": func(r *Reader) bool { return r.Bytes16(100) == nil },
		"Bytes32": func(r *Reader) bool { return r.Bytes32(100) == nil },
		"String8": func(r *Reader) bool { return r.String8() == "" },
		"Fill":    func(r *Reader) bool { var a [2]byte; r.Fill(a[:]); return a == [2]byte{} },
	}
	for name, read := range reads {
		// One byte is short for every read above (the length prefix 9
		// promises more than there is for the 8-bit one).
		r := NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 9})
		r.U8()
		r.Bytes(6) // one byte left
		if !read(r) {
			t.Errorf("%s: non-zero result past the end", name)
		}
		if !errors.Is(r.Err(), ErrTruncated) || !r.Failed() || r.Done() {
			t.Errorf("%s: Err %v, Failed %v, Done %v", name, r.Err(), r.Failed(), r.Done())
		}
		if r.U8() != 0 || r.Bytes(0) != nil || r.Len() != 0 {
			t.Errorf("%s: a read after the failure succeeded", name)
		}
	}
	if NewReader(nil).Bytes(-1) != nil {
		t.Error("Bytes(-1) succeeded")
	}
}

// A length over the caller's maximum fails before anything is read or
// allocated, even when the bytes are there.
func TestReaderLimit(t *testing.T) {
	b := AppendBytes32(nil, make([]byte, 100))
	r := NewReader(b)
	if r.Bytes32(99) != nil || !errors.Is(r.Err(), ErrTooLong) {
		t.Fatalf("100 bytes read under a limit of 99: %v", r.Err())
	}
	if r.Len() != 0 || r.U8() != 0 || !errors.Is(r.Err(), ErrTooLong) {
		t.Fatal("the reader went on after a refused length")
	}
	if v := NewReader(b).Bytes32(100); len(v) != 100 {
		t.Fatalf("100 bytes under a limit of 100: %d", len(v))
	}
	if NewReader(AppendString16(nil, "abc")).String16(2) != "" {
		t.Fatal("String16 ignored its limit")
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	if allocs := testing.AllocsPerRun(100, func() { NewReader(huge).Bytes32(math.MaxInt32) }); allocs != 0 {
		t.Fatalf("%v allocations to refuse a 4 GiB length prefix", allocs)
	}
	if NewReader(huge).Bytes32(math.MaxInt) != nil {
		t.Fatal("a 4 GiB length prefix read from 4 bytes")
	}
}

func TestReaderFail(t *testing.T) {
	errBad := errors.New("test: bad field")
	r := NewReader([]byte{1, 2, 3})
	r.U8()
	r.Fail(errBad)
	r.Fail(ErrTruncated)
	if r.Err() != errBad || r.U8() != 0 || r.Done() {
		t.Fatalf("after Fail: Err %v", r.Err())
	}
	r.Reset([]byte{7})
	if r.Err() != nil || r.U8() != 7 || !r.Done() {
		t.Fatal("Reset did not clear the error")
	}
	var zero Reader
	if !zero.Done() || zero.U8() != 0 || !errors.Is(zero.Err(), ErrTruncated) {
		t.Fatal("the zero Reader is not an empty input")
	}
}

// The slices a Reader returns alias its input but cannot grow into it.
func TestReaderAliasCapacity(t *testing.T) {
	b := []byte{1, 2, 3, 4}
	r := NewReader(b)
	v := r.Bytes(2)
	if cap(v) != 2 {
		t.Fatalf("capacity %d, want 2", cap(v))
	}
	_ = append(v, 9, 9)
	if !bytes.Equal(b, []byte{1, 2, 3, 4}) || r.U16() != 0x0304 {
		t.Fatalf("appending to a read field changed the input: %v", b)
	}
}

func TestAppendExact(t *testing.T) {
	for _, c := range []struct{ got, want []byte }{
		{AppendString8([]byte{0xee}, "ab"), []byte{0xee, 2, 'a', 'b'}},
		{AppendString16(nil, "ab"), []byte{0, 2, 'a', 'b'}},
		{AppendBytes16(nil, []byte{7}), []byte{0, 1, 7}},
		{AppendBytes32(nil, []byte{7}), []byte{0, 0, 0, 1, 7}},
		{AppendBytes32(nil, nil), []byte{0, 0, 0, 0}},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("got %x, want %x", c.got, c.want)
		}
	}
}
