package spool

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func testKey(b byte) [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func openLog(t *testing.T, path string, key [32]byte) (*Log, [][]byte) {
	t.Helper()
	l, recs, err := OpenLog(path, key)
	if err != nil {
		t.Fatal(err)
	}
	return l, recs
}

func equalRecords(a, b [][]byte) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d records, want %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return fmt.Errorf("record %d = %x, want %x", i, a[i], b[i])
		}
	}
	return nil
}

// writeLog creates a log holding recs and returns its bytes.
func writeLog(t *testing.T, path string, key [32]byte, recs [][]byte) []byte {
	t.Helper()
	l, got := openLog(t, path, key)
	if len(got) != 0 {
		t.Fatalf("new log has %d records", len(got))
	}
	for _, r := range recs {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleRecords() [][]byte {
	recs := [][]byte{{}, []byte("bucket 0 done"), make([]byte, 5000), bytes.Repeat([]byte{0xAB}, MaxRecordLen)}
	rand.Read(recs[2])
	return recs
}

// TestLogRoundTrip: records appended (empty, small, random, MaxRecordLen)
// come back in order on reopen, over several sessions of appends; the
// file holds no record in the clear; a record over MaxRecordLen is
// refused.
func TestLogRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	key := testKey(1)
	recs := sampleRecords()
	raw := writeLog(t, path, key, recs[:2])
	if bytes.Contains(raw, recs[1]) {
		t.Fatal("record stored in the clear")
	}
	l, got := openLog(t, path, key)
	if err := equalRecords(got, recs[:2]); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[2:] {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(make([]byte, MaxRecordLen+1)); err == nil {
		t.Fatal("Append of a record over MaxRecordLen accepted")
	}
	l.Close()
	l, got = openLog(t, path, key)
	defer l.Close()
	if err := equalRecords(got, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
}

// TestLogTorn: every cut of the last record (inside its length or its
// body) is removed on open without error, the file is truncated to the
// last whole record, and later appends are read back after the earlier
// records with the right sequence numbers.
func TestLogTorn(t *testing.T) {
	dir := t.TempDir()
	key := testKey(2)
	recs := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	full := writeLog(t, filepath.Join(dir, "full"), key, recs)
	last := len(full) - (recHeaderLen + nonceLen + len(recs[2]) + tagLen)
	for cut := last + 1; cut < len(full); cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut-%d", cut))
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		l, got := openLog(t, path, key)
		if err := equalRecords(got, recs[:2]); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if st, _ := os.Stat(path); st.Size() != int64(last) {
			t.Fatalf("cut at %d: file is %d bytes, want %d", cut, st.Size(), last)
		}
		if err := l.Append([]byte("four")); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l, got = openLog(t, path, key)
		l.Close()
		if err := equalRecords(got, [][]byte{recs[0], recs[1], []byte("four")}); err != nil {
			t.Fatalf("cut at %d, after append: %v", cut, err)
		}
	}
}

// expectCorrupt writes b to a fresh file and checks OpenLog refuses it
// with ErrCorrupt.
func expectCorrupt(t *testing.T, dir, what string, b []byte, key [32]byte) {
	t.Helper()
	path := filepath.Join(dir, "bad")
	os.Remove(path)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenLog(path, key); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: %v, want ErrCorrupt", what, err)
	}
}

// TestLogCorrupt: flipping any bit of the header or of any record
// (length, its checksum, nonce, ciphertext, tag) is ErrCorrupt, never
// read as a torn record; so are a wrong key (even
// on an empty log), swapped records, a record moved from another log
// under the same key, and a header cut short.
func TestLogCorrupt(t *testing.T) {
	dir := t.TempDir()
	key := testKey(3)
	recs := [][]byte{[]byte("alpha"), []byte("beta"), []byte("gamma")}
	full := writeLog(t, filepath.Join(dir, "full"), key, recs)
	recLen := recHeaderLen + nonceLen + 5 + tagLen // alpha and gamma; beta is 4
	lastStart := len(full) - recLen
	for i := range full {
		for bit := range 8 {
			b := bytes.Clone(full)
			b[i] ^= 1 << bit
			expectCorrupt(t, dir, fmt.Sprintf("bit %d of byte %d", bit, i), b, key)
		}
	}
	expectCorrupt(t, dir, "wrong key", full, testKey(4))
	empty := writeLog(t, filepath.Join(dir, "empty"), key, nil)
	expectCorrupt(t, dir, "wrong key, empty log", empty, testKey(4))
	expectCorrupt(t, dir, "short header", full[:logHeaderLen-1], key)

	// Swap records 0 and 2 (same length).
	r0 := full[logHeaderLen : logHeaderLen+recLen]
	r1 := full[logHeaderLen+recLen : lastStart]
	r2 := full[lastStart:]
	swapped := append(append(append(append([]byte(nil), full[:logHeaderLen]...), r2...), r1...), r0...)
	expectCorrupt(t, dir, "records swapped", swapped, key)
	// Drop record 1 from the middle.
	dropped := append(append(append([]byte(nil), full[:logHeaderLen]...), r0...), r2...)
	expectCorrupt(t, dir, "record dropped", dropped, key)
	// A record sealed in another log under the same key.
	other := writeLog(t, filepath.Join(dir, "other"), key, recs)
	moved := append(append(append(append([]byte(nil), full[:logHeaderLen]...), other[logHeaderLen:logHeaderLen+recLen]...), r1...), r2...)
	expectCorrupt(t, dir, "record from another log", moved, key)
}

// TestLogAppendAfterClose: a closed log refuses appends.
func TestLogAppendAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, _ := openLog(t, path, testKey(5))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("x")); err == nil {
		t.Fatal("Append after Close accepted")
	}
}
