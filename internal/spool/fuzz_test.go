package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// wrapBody frames body as a row file with a valid header and trailer
// (so that the fuzzer reaches the row parser past the checksum).
func wrapBody(cols int, body []byte, rows uint64) []byte {
	b := []byte(rowMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(cols))
	b = append(b, body...)
	crc := crc32.Update(0, castagnoli, b)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], rows)
	crc = crc32.Update(crc, castagnoli, n[:])
	b = append(b, trailerMagic...)
	b = append(b, n[:]...)
	return binary.BigEndian.AppendUint32(b, crc)
}

// FuzzReader: arbitrary bytes, as a file or as the body of a well-framed
// file, never panic; Open's buffers stay within their bounds; rows come
// back with 1 to MaxIDLen byte ids and cols values, never more than the
// trailer announces; the only errors are ErrCorrupt (and the end is
// io.EOF); and a file read to a clean EOF re-encodes to rows that read
// back the same.
func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	rng := rand.New(rand.NewPCG(21, 22))
	for i, cols := range []int{0, 1, 3} {
		p := filepath.Join(dir, "seed"+string(rune('a'+i)))
		writeRows(f, p, cols, randomRows(rng, 5, cols, 10))
		b, _ := os.ReadFile(p)
		f.Add(b, uint16(cols), false, uint64(0))
		f.Add(b[:len(b)-3], uint16(cols), false, uint64(0))
		f.Add(b[headerLen:len(b)-trailerLen], uint16(cols), true, uint64(5))
	}
	f.Add([]byte{}, uint16(1), false, uint64(0))
	f.Add([]byte{0x01, 0x80, 0x40}, uint16(1), true, uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, cols16 uint16, wrap bool, rows uint64) {
		cols := int(cols16 % (MaxColumns + 1))
		if wrap {
			data = wrapBody(cols, data, rows)
		}
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, cols)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		defer r.Close()
		if len(r.buf) > readBuf || len(r.values) != cols {
			t.Fatalf("buffers of %d bytes and %d values", len(r.buf), len(r.values))
		}
		var got []testRow
		for {
			row, id, vs, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: %v", err)
				}
				return
			}
			if row < 0 || len(id) == 0 || len(id) > MaxIDLen || len(vs) != cols || int64(len(got)) >= r.Rows() {
				t.Fatalf("row %d: %d, %d-byte id, %d values (trailer: %d rows)", len(got), row, len(id), len(vs), r.Rows())
			}
			got = append(got, testRow{row, id, append([]int64(nil), vs...)})
		}
		if int64(len(got)) != r.Rows() {
			t.Fatalf("EOF after %d rows, trailer says %d", len(got), r.Rows())
		}
		again := filepath.Join(t.TempDir(), "again")
		writeRows(t, again, cols, got)
		back, err := readRows(again, cols)
		if err != nil {
			t.Fatal(err)
		}
		if err := equalRows(back, got); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpenLog: arbitrary bytes as a log never panic; the only errors are
// ErrCorrupt; an accepted log's records are within MaxRecordLen, reopen
// to the same records (cutting a torn tail is idempotent), and take a
// further Append that reads back after them.
func FuzzOpenLog(f *testing.F) {
	key := testKey(9)
	dir := f.TempDir()
	for i, recs := range [][][]byte{nil, {[]byte("a")}, {[]byte("one"), {}, []byte("three")}} {
		p := filepath.Join(dir, "seed"+string(rune('a'+i)))
		l, _, err := OpenLog(p, key)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range recs {
			l.Append(r)
		}
		l.Close()
		b, _ := os.ReadFile(p)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(bytes.Clone(b), 0, 0, 0))
	}
	f.Add([]byte(logMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, recs, err := OpenLog(path, key)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenLog: %v", err)
			}
			return
		}
		for i, r := range recs {
			if len(r) > MaxRecordLen {
				t.Fatalf("record %d of %d bytes", i, len(r))
			}
		}
		l.Close()
		l, again, err := OpenLog(path, key)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if err := equalRecords(again, recs); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if err := l.Append([]byte("next")); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l, again, err = OpenLog(path, key)
		if err != nil {
			t.Fatalf("reopen after append: %v", err)
		}
		l.Close()
		if err := equalRecords(again, append(recs, []byte("next"))); err != nil {
			t.Fatalf("reopen after append: %v", err)
		}
	})
}
