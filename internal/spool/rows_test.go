package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testRow struct {
	row    int64
	id     string
	values []int64
}

// randomRows makes n rows with ids of 1 to maxID bytes and values drawn
// to cover every varint length, both signs and the extremes.
func randomRows(rng *rand.Rand, n, cols, maxID int) []testRow {
	rows := make([]testRow, n)
	for i := range rows {
		id := make([]byte, 1+rng.IntN(maxID))
		for j := range id {
			id[j] = byte(rng.UintN(256))
		}
		vs := make([]int64, cols)
		for c := range vs {
			switch rng.IntN(4) {
			case 0:
				vs[c] = math.MinInt64 + rng.Int64N(3)
			case 1:
				vs[c] = math.MaxInt64 - rng.Int64N(3)
			default:
				vs[c] = rng.Int64() >> rng.UintN(64)
				if rng.IntN(2) == 0 {
					vs[c] = -vs[c]
				}
			}
		}
		rows[i] = testRow{row: rng.Int64() >> rng.UintN(64), id: string(id), values: vs}
	}
	return rows
}

func writeRows(t testing.TB, path string, cols int, rows []testRow) {
	t.Helper()
	w, err := Create(path, cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Append(r.row, r.id, r.values); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRows reads a whole row file, copying the values (which Next reuses).
func readRows(path string, cols int) ([]testRow, error) {
	r, err := Open(path, cols)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []testRow
	for {
		row, id, vs, err := r.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, testRow{row, id, append([]int64(nil), vs...)})
	}
}

func equalRows(a, b []testRow) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d rows, want %d", len(a), len(b))
	}
	for i := range a {
		if a[i].row != b[i].row || a[i].id != b[i].id || !slicesEqual(a[i].values, b[i].values) {
			return fmt.Errorf("row %d = %v, want %v", i, a[i], b[i])
		}
	}
	return nil
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRoundTrip: random rows (ids up to MaxIDLen, extreme values, 0 to
// MaxColumns columns, enough rows to refill the buffers many times) read
// back exactly, in order, ending in io.EOF.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for _, tc := range []struct{ n, cols, maxID int }{
		{0, 0, 1}, {1, 0, 1}, {1000, 1, 20}, {300, 3, MaxIDLen}, {50, MaxColumns, 100}, {20000, 2, 40},
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d-%d-%d", tc.n, tc.cols, tc.maxID))
		rows := randomRows(rng, tc.n, tc.cols, tc.maxID)
		writeRows(t, path, tc.cols, rows)
		got, err := readRows(path, tc.cols)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := equalRows(got, rows); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, err := Open(path, tc.cols)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rows() != int64(tc.n) {
			t.Fatalf("Reader.Rows() = %d, want %d", r.Rows(), tc.n)
		}
		r.Close()
	}
}

// TestAppendRefuses: Append refuses an empty id, an id over MaxIDLen, a
// negative row number and a wrong number of values, and writes nothing
// for them; Create refuses an existing path and bad column counts.
func TestAppendRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	w, err := Create(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"empty id":   w.Append(1, "", []int64{1, 2}),
		"long id":    w.Append(1, strings.Repeat("x", MaxIDLen+1), []int64{1, 2}),
		"negative":   w.Append(-1, "a", []int64{1, 2}),
		"few values": w.Append(1, "a", []int64{1}),
		"many":       w.Append(1, "a", []int64{1, 2, 3}),
	} {
		if err == nil {
			t.Errorf("%s: Append accepted", name)
		}
	}
	if err := w.Append(7, strings.Repeat("y", MaxIDLen), []int64{-1, 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readRows(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := equalRows(got, []testRow{{7, strings.Repeat("y", MaxIDLen), []int64{-1, 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, 2); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	for _, cols := range []int{-1, MaxColumns + 1} {
		if _, err := Create(filepath.Join(dir, "g"), cols); err == nil {
			t.Fatalf("Create with %d columns accepted", cols)
		}
		if _, err := Open(path, cols); err == nil {
			t.Fatalf("Open with %d columns accepted", cols)
		}
	}
	if _, err := Open(path, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with the wrong column count: %v", err)
	}
}

// readAll reads a file and returns the first error other than io.EOF.
func readAll(path string, cols int) (int, error) {
	r, err := Open(path, cols)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	for {
		_, _, _, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// TestTruncated: every proper prefix of a file (including those ending
// at a row boundary, and the header alone) is refused with ErrCorrupt,
// at Open or before Next reports io.EOF.
func TestTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "full")
	rows := randomRows(rand.New(rand.NewPCG(3, 4)), 40, 2, 12)
	writeRows(t, path, 2, rows)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(full) {
		p := filepath.Join(dir, fmt.Sprintf("prefix-%d", n))
		if err := os.WriteFile(p, full[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(p, 2); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d of %d bytes: %v, want ErrCorrupt", n, len(full), err)
		}
		os.Remove(p)
	}
}

// TestCorrupt: flipping any single bit of a file, dropping a row from
// the middle, or duplicating one is detected with ErrCorrupt.
func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "full")
	rows := randomRows(rand.New(rand.NewPCG(5, 6)), 30, 1, 10)
	writeRows(t, path, 1, rows)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bad")
	check := func(what string, b []byte) {
		t.Helper()
		os.Remove(p)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(p, 1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v, want ErrCorrupt", what, err)
		}
	}
	for i := range full {
		for bit := range 8 {
			b := bytes.Clone(full)
			b[i] ^= 1 << bit
			check(fmt.Sprintf("bit %d of byte %d", bit, i), b)
		}
	}
	// Re-encode the same rows without row 10 and with row 10 twice,
	// keeping the original trailer.
	enc := func(rs []testRow) []byte {
		q := filepath.Join(dir, "enc")
		os.Remove(q)
		writeRows(t, q, 1, rs)
		b, _ := os.ReadFile(q)
		return b
	}
	trailer := full[len(full)-trailerLen:]
	dropped := enc(append(append([]testRow(nil), rows[:10]...), rows[11:]...))
	check("row dropped", append(dropped[:len(dropped)-trailerLen:len(dropped)-trailerLen], trailer...))
	doubled := enc(append(append([]testRow(nil), rows[:11]...), rows[10:]...))
	check("row duplicated", append(doubled[:len(doubled)-trailerLen:len(doubled)-trailerLen], trailer...))
}

// TestReaderAllocs: after Open, Next allocates only the id string.
func TestReaderAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	rows := make([]testRow, 5000)
	for i := range rows {
		rows[i] = testRow{int64(i), fmt.Sprintf("DE10-CUST-%09d", i), []int64{int64(i) * 1000}}
	}
	writeRows(t, path, 1, rows)
	r, err := Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	allocs := testing.AllocsPerRun(4000, func() {
		if _, _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Next allocates %.2f times per row, want at most 1 (the id)", allocs)
	}
}
