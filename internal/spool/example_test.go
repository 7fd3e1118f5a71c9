package spool_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/internal/spool"
)

// A party spools its table once, partitions it into buckets, and loads
// one bucket at a time.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	table := filepath.Join(dir, "table")
	w, err := spool.Create(table, 1)
	if err != nil {
		log.Fatal(err)
	}
	for i, id := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if err := w.Append(int64(i), id, []int64{int64(100 * (i + 1))}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// The engine uses a keyed hash; a checksum keeps the example's
	// output fixed.
	bucketOf := func(id string) int { return int(crc32.ChecksumIEEE([]byte(id)) % 2) }
	b, err := spool.Partition(context.Background(), []string{table}, 1, 2, bucketOf, filepath.Join(dir, "buckets"))
	if err != nil {
		log.Fatal(err)
	}
	for k := range b.Count() {
		rows, ids, values, err := b.Load(k)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("bucket", k, rows, ids, values[0])
	}
	fmt.Println("total", b.TotalRows())
	// Output:
	// bucket 0 [1 3 4] [bob dave erin] [200 400 500]
	// bucket 1 [0 2] [alice carol] [100 300]
	// total 5
}

// A participant records its progress in a sealed log and finds it again
// after a restart.
func ExampleOpenLog() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var key [32]byte // in a session: derived from the session's shared key
	if _, err := rand.Read(key[:]); err != nil {
		log.Fatal(err)
	}

	path := filepath.Join(dir, "checkpoints")
	l, _, err := spool.OpenLog(path, key)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range []string{"bucket 0 done", "bucket 1 done"} {
		if err := l.Append([]byte(r)); err != nil {
			log.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	l, records, err := spool.OpenLog(path, key)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for _, r := range records {
		fmt.Printf("%s\n", r)
	}
	// Output:
	// bucket 0 done
	// bucket 1 done
}
