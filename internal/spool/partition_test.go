package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeInputs splits rows over k row files and returns their paths.
func writeInputs(t testing.TB, dir string, cols int, rows []testRow, k int) []string {
	t.Helper()
	var paths []string
	for i := range k {
		p := filepath.Join(dir, fmt.Sprintf("in-%d", i))
		writeRows(t, p, cols, rows[i*len(rows)/k:(i+1)*len(rows)/k])
		paths = append(paths, p)
	}
	return paths
}

// randomBucketOf is a keyed hash of the id, as the engine's will be.
func randomBucketOf(buckets int) func(string) int {
	seed := maphash.MakeSeed()
	return func(id string) int { return int(maphash.String(seed, id) % uint64(buckets)) }
}

// openNow counts this process's open file descriptors, or returns -1
// where /proc/self/fd does not exist.
func openNow() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// countingFiles wraps bucketOf to record, every 97 calls, how many more
// files are open than when it was made (Partition's peak is while it
// copies rows, which is when bucketOf runs).
func countingFiles(t *testing.T, bucketOf func(string) int) (func(string) int, *int) {
	base := openNow()
	if base < 0 {
		t.Log("no /proc/self/fd: open files not counted")
	}
	peak, calls := 0, 0
	return func(id string) int {
		if calls++; base >= 0 && calls%97 == 1 {
			peak = max(peak, openNow()-base)
		}
		return bucketOf(id)
	}, &peak
}

// checkPartition compares every bucket, read both with Open and with
// Load, against the rows of that bucket in input order.
func checkPartition(t *testing.T, b *Buckets, cols int, rows []testRow, bucketOf func(string) int) {
	t.Helper()
	want := make([][]testRow, b.Count())
	for _, r := range rows {
		k := bucketOf(r.id)
		want[k] = append(want[k], r)
	}
	if b.TotalRows() != int64(len(rows)) {
		t.Fatalf("TotalRows() = %d, want %d", b.TotalRows(), len(rows))
	}
	for k := range want {
		if b.Rows(k) != int64(len(want[k])) {
			t.Fatalf("Rows(%d) = %d, want %d", k, b.Rows(k), len(want[k]))
		}
		r, err := b.Open(k)
		if err != nil {
			t.Fatal(err)
		}
		var got []testRow
		for {
			row, id, vs, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, testRow{row, id, append([]int64(nil), vs...)})
		}
		r.Close()
		if err := equalRows(got, want[k]); err != nil {
			t.Fatalf("bucket %d: %v", k, err)
		}
		rs, ids, values, err := b.Load(k)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(want[k]) || len(ids) != len(want[k]) || len(values) != cols {
			t.Fatalf("Load(%d): %d rows, %d ids, %d columns", k, len(rs), len(ids), len(values))
		}
		for i, w := range want[k] {
			if rs[i] != w.row || ids[i] != w.id {
				t.Fatalf("Load(%d) row %d = %d %q, want %d %q", k, i, rs[i], ids[i], w.row, w.id)
			}
			for c := range cols {
				if values[c][i] != w.values[c] {
					t.Fatalf("Load(%d) row %d column %d = %d, want %d", k, i, c, values[c][i], w.values[c])
				}
			}
		}
	}
}

// TestPartition: for 1, 7, 256, 300 and 4096 buckets and a keyed hash,
// the buckets hold exactly the rows of an in-memory partition, in input
// order, across several input files; at most min(buckets, fanout())+1 files
// are open at once; the temporary directory is gone and no intermediate
// file is left in dir.
func TestPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, buckets := range []int{1, 7, 256, 300, 4096} {
		t.Run(fmt.Sprint(buckets), func(t *testing.T) {
			dir := t.TempDir()
			cols := 1 + rng.IntN(3)
			rows := randomRows(rng, 3*buckets+500, cols, 24)
			// Repeat some ids so a bucket's order is visible.
			for i := 0; i+1 < len(rows); i += 5 {
				rows[i+1].id = rows[i].id
			}
			inputs := writeInputs(t, dir, cols, rows, 3)
			bucketOf := randomBucketOf(buckets)
			counted, peak := countingFiles(t, bucketOf)
			out := filepath.Join(dir, "parts")
			b, err := Partition(context.Background(), inputs, cols, buckets, counted, out)
			if err != nil {
				t.Fatal(err)
			}
			if *peak > min(buckets, fanout())+1 {
				t.Fatalf("%d files open at once", *peak)
			}
			t.Logf("at most %d files open", *peak)
			checkPartition(t, b, cols, rows, bucketOf)
			ents, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != buckets+1 {
				t.Fatalf("%d files in the partition, want %d buckets and the manifest", len(ents), buckets)
			}
			if _, err := os.Stat(tempDir(out)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary directory left: %v", err)
			}
			reopened, err := OpenBuckets(out)
			if err != nil {
				t.Fatal(err)
			}
			checkPartition(t, reopened, cols, rows, bucketOf)
		})
	}
}

// TestPartitionLevels: with a small fan-out the same rows go through two
// and three levels of intermediate files and land as with one level;
// open files never exceed the fan-out plus the one being read.
func TestPartitionLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rows := randomRows(rng, 3000, 2, 16)
	for _, tc := range []struct{ buckets, fan int }{{50, 7}, {200, 7}, {343, 7}, {344, 7}, {1000, 3}} {
		dir := t.TempDir()
		inputs := writeInputs(t, dir, 2, rows, 2)
		bucketOf := randomBucketOf(tc.buckets)
		out := filepath.Join(dir, "parts")
		counted, peak := countingFiles(t, bucketOf)
		b, err := partition(context.Background(), inputs, 2, tc.buckets, counted, out, tc.fan)
		if err != nil {
			t.Fatal(err)
		}
		if *peak > tc.fan+1 {
			t.Fatalf("%d buckets, fan-out %d: %d files open at once", tc.buckets, tc.fan, *peak)
		}
		checkPartition(t, b, 2, rows, bucketOf)
	}
}

// TestPartitionCancel: cancelling ctx midway (from inside bucketOf, after
// some rows, in a pass that writes intermediate files) fails with
// context.Canceled and leaves neither dir nor the temporary directory;
// a leftover temporary directory (as after a crash) is removed by the
// next call, which succeeds.
func TestPartitionCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	dir := t.TempDir()
	rows := randomRows(rng, 20000, 1, 16)
	inputs := writeInputs(t, dir, 1, rows, 2)
	out := filepath.Join(dir, "parts")
	// Cancel in the only pass, in the first of two, and in the second.
	for _, tc := range []struct{ buckets, at int }{{16, 15000}, {600, 15000}, {600, 30000}} {
		ctx, cancel := context.WithCancel(context.Background())
		inner := randomBucketOf(tc.buckets)
		calls := 0
		bucketOf := func(id string) int {
			if calls++; calls == tc.at {
				cancel()
			}
			return inner(id)
		}
		_, err := partition(ctx, inputs, 1, tc.buckets, bucketOf, out, 255) // 600 buckets: two passes
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%+v: %v, want context.Canceled", tc, err)
		}
		if calls > tc.at+ctxEvery {
			t.Fatalf("%+v: %d calls after the cancel", tc, calls-tc.at)
		}
		for _, p := range []string{out, tempDir(out)} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left after cancel: %v", p, err)
			}
		}
	}
	// A crashed Partition leaves its temporary directory behind.
	if err := os.MkdirAll(filepath.Join(tempDir(out), "junk"), 0o700); err != nil {
		t.Fatal(err)
	}
	bucketOf := randomBucketOf(5)
	b, err := Partition(context.Background(), inputs, 1, 5, bucketOf, out)
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, b, 1, rows, bucketOf)
	if _, err := Partition(context.Background(), inputs, 1, 5, bucketOf, out); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Partition over an existing dir: %v", err)
	}
}

// TestPartitionRefuses: bad arguments, a bucket function out of range or
// not deterministic, and a corrupt input fail and leave no dir.
func TestPartitionRefuses(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(13, 14)), 2000, 1, 16)
	inputs := writeInputs(t, dir, 1, rows, 1)
	out := filepath.Join(dir, "parts")
	calls := 0
	flaky := func(id string) int {
		calls++
		return calls % 300
	}
	bad := filepath.Join(dir, "bad")
	raw, _ := os.ReadFile(inputs[0])
	raw[len(raw)/2] ^= 1
	os.WriteFile(bad, raw, 0o600)
	for name, run := range map[string]func() error{
		"0 buckets": func() error {
			_, err := Partition(context.Background(), inputs, 1, 0, randomBucketOf(1), out)
			return err
		},
		"too many": func() error {
			_, err := Partition(context.Background(), inputs, 1, MaxBuckets+1, randomBucketOf(1), out)
			return err
		},
		"nil func": func() error { _, err := Partition(context.Background(), inputs, 1, 4, nil, out); return err },
		"wrong columns": func() error {
			_, err := Partition(context.Background(), inputs, 2, 4, randomBucketOf(4), out)
			return err
		},
		"out of range": func() error {
			_, err := Partition(context.Background(), inputs, 1, 4, randomBucketOf(5), out)
			return err
		},
		"negative": func() error {
			_, err := Partition(context.Background(), inputs, 1, 4, func(string) int { return -1 }, out)
			return err
		},
		"flaky": func() error { _, err := partition(context.Background(), inputs, 1, 300, flaky, out, 255); return err },
		"corrupt input": func() error {
			_, err := Partition(context.Background(), []string{bad}, 1, 4, randomBucketOf(4), out)
			return err
		},
		"missing input": func() error {
			_, err := Partition(context.Background(), []string{bad + "x"}, 1, 4, randomBucketOf(4), out)
			return err
		},
	} {
		if err := run(); err == nil {
			t.Errorf("%s: Partition succeeded", name)
		}
		for _, p := range []string{out, tempDir(out)} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s: %s left: %v", name, p, err)
			}
		}
	}
}

// TestOpenBucketsRefuses: a manifest that does not match the files (a
// bucket file grown, shrunk, replaced by one with another row count, or
// missing; the manifest altered, truncated or extended) is refused with
// ErrCorrupt, by OpenBuckets or by Open of that bucket.
func TestOpenBucketsRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	base := t.TempDir()
	rows := randomRows(rng, 500, 1, 16)
	inputs := writeInputs(t, base, 1, rows, 1)
	newParts := func() string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "parts")
		if _, err := Partition(context.Background(), inputs, 1, 4, randomBucketOf(4), out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	manifest := func(dir string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, manifestName))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resealed := func(m []byte) []byte {
		m = m[:len(m)-4]
		return binary.BigEndian.AppendUint32(m, crc32.Checksum(m, castagnoli))
	}
	for name, spoil := range map[string]func(dir string){
		"bucket grown": func(dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, bucketName(1)), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0})
			f.Close()
		},
		"bucket shrunk": func(dir string) {
			p := filepath.Join(dir, bucketName(2))
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-1)
		},
		"bucket missing": func(dir string) { os.Remove(filepath.Join(dir, bucketName(3))) },
		"manifest bit": func(dir string) {
			m := manifest(dir)
			m[20] ^= 4
			os.WriteFile(filepath.Join(dir, manifestName), m, 0o600)
		},
		"manifest short": func(dir string) {
			m := manifest(dir)
			os.WriteFile(filepath.Join(dir, manifestName), m[:len(m)-1], 0o600)
		},
		"manifest long": func(dir string) {
			m := manifest(dir)
			os.WriteFile(filepath.Join(dir, manifestName), append(m, 0), 0o600)
		},
		"manifest missing": func(dir string) { os.Remove(filepath.Join(dir, manifestName)) },
		"manifest huge count": func(dir string) {
			m := manifest(dir)
			binary.BigEndian.PutUint32(m[8:], MaxBuckets+1)
			os.WriteFile(filepath.Join(dir, manifestName), resealed(m), 0o600)
		},
		"rows moved between buckets": func(dir string) {
			// Same sizes, consistent checksum, but row counts that do
			// not match the files.
			m := manifest(dir)
			r0 := binary.BigEndian.Uint64(m[16:])
			r1 := binary.BigEndian.Uint64(m[32:])
			binary.BigEndian.PutUint64(m[16:], r0+1)
			binary.BigEndian.PutUint64(m[32:], r1-1)
			os.WriteFile(filepath.Join(dir, manifestName), resealed(m), 0o600)
		},
	} {
		dir := newParts()
		spoil(dir)
		b, err := OpenBuckets(dir)
		if err == nil {
			for k := range b.Count() {
				if _, _, _, err = b.Load(k); err != nil {
					break
				}
			}
		}
		if err == nil || (name != "manifest missing" && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := OpenBuckets(newParts()); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Buckets{rows: []int64{0}}).Open(1); err == nil || strings.Contains(err.Error(), "panic") {
		t.Fatal("Open of a bucket out of range succeeded")
	}
}
