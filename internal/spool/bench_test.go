package spool

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchRows is the shape the issue names: ("DE10-CUST-000123456", 1 value).
const benchRows = 1 << 20

func benchID(i int) string { return fmt.Sprintf("DE10-CUST-%09d", i) }

func writeBench(b *testing.B, path string, ids []string) int64 {
	w, err := Create(path, 1)
	if err != nil {
		b.Fatal(err)
	}
	vs := []int64{0}
	for i, id := range ids {
		vs[0] = int64(i) * 1237
		if err := w.Append(int64(i), id, vs); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

func benchIDs() []string {
	ids := make([]string, benchRows)
	for i := range ids {
		ids[i] = benchID(i)
	}
	return ids
}

// BenchmarkWrite: MB/s is bytes of file written (including fsync at
// Close) per second; one op is a file of 2^20 rows.
func BenchmarkWrite(b *testing.B) {
	ids := benchIDs()
	dir := b.TempDir()
	b.ReportAllocs()
	var size int64
	for i := 0; b.Loop(); i++ {
		size = writeBench(b, filepath.Join(dir, fmt.Sprint(i)), ids)
	}
	b.SetBytes(size)
	b.ReportMetric(float64(size)/benchRows, "B/row")
}

// BenchmarkRead: MB/s is bytes of file read and checked per second; one
// op reads a file of 2^20 rows to io.EOF.
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "f")
	size := writeBench(b, path, benchIDs())
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(path, 1)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != benchRows {
			b.Fatalf("%d rows", n)
		}
	}
}

// BenchmarkPartition: MB/s is bytes of input partitioned per second into
// 64 and into 1024 buckets (two passes).
func BenchmarkPartition(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "in")
	size := writeBench(b, in, benchIDs())
	for _, buckets := range []int{64, 1024} {
		b.Run(fmt.Sprint(buckets), func(b *testing.B) {
			bucketOf := randomBucketOf(buckets)
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				out := filepath.Join(dir, fmt.Sprintf("p%d-%d", buckets, i))
				if _, err := Partition(context.Background(), []string{in}, 1, buckets, bucketOf, out); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(out)
				b.StartTimer()
			}
		})
	}
}
