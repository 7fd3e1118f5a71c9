// Package extjoin joins tables on their identifiers in plaintext with memory
// bounded independently of their size: the baseline the bucketed sessions of
// issue 15 are measured against, and their oracle at sizes that do not fit in
// memory.
//
// Method (a Grace hash join): hash-partition every input into P partition
// files under a fresh directory (one sequential pass per input, buffered
// writes), then join partition by partition in memory, each split again
// by another hash into cache-sized hash maps, emitting the records held by at least k inputs and deleting each file once
// read. It agrees with internal/demo.Join: identifiers are compared after
// strings.TrimSpace and column sums wrap around modulo 2^64.
package extjoin

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/maskshare/maskshare"
)

// Limits and sizes.
const (
	// RowsPerPartition is the number of rows (over all inputs) a partition
	// is meant to hold; PartitionsFor chooses the count from it. A partition
	// of 2^20 rows of 3 columns takes about 120 MiB to join.
	RowsPerPartition = 1 << 20
	// MaxPartitions bounds the open files and write buffers.
	MaxPartitions = 4096
	// MaxInputs is the number of inputs a join takes: holders are kept as
	// a 64-bit set.
	MaxInputs = 64
	// DefaultPartitions is used when partitions ≤ 0 and some input does not
	// tell its length (see Sizer): enough for 2.7 × 10^8 rows.
	DefaultPartitions = 256

	// writeBuffers bounds all partition write buffers together; each is
	// between 4 KiB and 64 KiB.
	writeBuffers = 64 << 20
)

var (
	// ErrDuplicate reports an identifier that appears twice in one input
	// (after trimming spaces).
	ErrDuplicate = errors.New("extjoin: identifier appears twice in one input")
	// ErrCorrupt reports a partition file that does not decode.
	ErrCorrupt = errors.New("extjoin: corrupt partition file")
	// ErrArgs reports invalid arguments.
	ErrArgs = errors.New("extjoin: invalid arguments")
)

// Sizer is implemented by sources that know how many rows they will yield
// (internal/demo.Stream's do); Join uses it to choose the partition count.
type Sizer interface {
	Len() int64
}

// Stats describe a join.
type Stats struct {
	Size             int64   // qualifying records
	Totals           []int64 // per column, sums over qualifying records, wrapping around
	Rows             []int64 // rows read per input
	Partitions       int
	PartitionBytes   int64 // bytes written to partition files
	MaxPartitionRows int64 // rows in the largest partition: what memory the join phase needed
	Method           string
}

// PartitionsFor returns the number of partitions for rows rows in all, so
// that each holds about RowsPerPartition rows: at least 1, at most
// MaxPartitions.
func PartitionsFor(rows int64) int {
	p := (rows + RowsPerPartition - 1) / RowsPerPartition
	return int(max(1, min(p, MaxPartitions)))
}

// Join joins inputs, each with cols value columns, and calls emit for every
// identifier held by at least k of them with its number of holders and its
// column sums. partitions ≤ 0 chooses the count with PartitionsFor when every
// input is a Sizer, DefaultPartitions otherwise. Partition files are written
// in a new directory under dir, removed when Join returns, whatever the
// outcome. emit may be nil; the sums slice is valid only during the call.
// Records are emitted partition by partition, in no meaningful order.
func Join(ctx context.Context, dir string, inputs []maskshare.Source, cols, k, partitions int, emit func(id string, holders int, sums []int64) error) (*Stats, error) {
	var held func(string, uint64, []int64) error
	if emit != nil {
		held = func(id string, set uint64, sums []int64) error { return emit(id, bits.OnesCount64(set), sums) }
	}
	return JoinHeld(ctx, dir, inputs, cols, k, partitions, held)
}

// JoinHeld is Join whose emit learns which inputs hold each record: bit i of
// held is set if input i does. A party's share of the result (the records it
// holds) can be checked with it, for instance by digest.
func JoinHeld(ctx context.Context, dir string, inputs []maskshare.Source, cols, k, partitions int, emit func(id string, held uint64, sums []int64) error) (_ *Stats, err error) {
	n := len(inputs)
	if n < 1 || n > MaxInputs || cols < 0 || k < 1 || partitions > MaxPartitions {
		return nil, fmt.Errorf("%w: %d inputs (1 to %d), %d columns, k = %d, %d partitions (at most %d)", ErrArgs, n, MaxInputs, cols, k, partitions, MaxPartitions)
	}
	if partitions <= 0 {
		partitions = DefaultPartitions
		var rows int64
		sized := true
		for _, in := range inputs {
			s, ok := in.(Sizer)
			if !ok {
				sized = false
				break
			}
			rows += s.Len()
		}
		if sized {
			partitions = PartitionsFor(rows)
		}
	}
	work, err := os.MkdirTemp(dir, "extjoin-")
	if err != nil {
		return nil, fmt.Errorf("extjoin: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(work); rerr != nil && err == nil {
			err = fmt.Errorf("extjoin: %w", rerr)
		}
	}()
	st := &Stats{Totals: make([]int64, cols), Rows: make([]int64, n), Partitions: partitions}
	counts, err := partition(ctx, work, inputs, cols, st)
	if err != nil {
		return nil, err
	}
	j := joiner{cols: cols, k: k, emit: emit, st: st, seed: maphash.MakeSeed()}
	for p := range partitions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st.MaxPartitionRows = max(st.MaxPartitionRows, counts[p])
		if err := j.join(partName(work, p), n); err != nil {
			return nil, err
		}
	}
	st.Method = fmt.Sprintf("Grace hash join: %d inputs hash-partitioned (maphash) into %d files (%d MiB written, largest %d rows), "+
		"each joined in memory in cache-sized hash maps after a second, in-memory radix split", n, partitions, st.PartitionBytes>>20, st.MaxPartitionRows)
	return st, nil
}

func partName(dir string, p int) string { return filepath.Join(dir, fmt.Sprintf("p%04d", p)) }

// A partition file is a sequence of records, inputs in increasing order:
//
//	uvarint input | uvarint len(id) | id | cols × int64, little-endian
//
// partition writes them and returns the row count of each partition.
func partition(ctx context.Context, dir string, inputs []maskshare.Source, cols int, st *Stats) (_ []int64, err error) {
	P := st.Partitions
	files := make([]*os.File, P)
	defer func() {
		for _, f := range files {
			if f != nil {
				if cerr := f.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("extjoin: %w", cerr)
				}
			}
		}
	}()
	bufSize := max(4<<10, min(64<<10, writeBuffers/P))
	ws := make([]*bufio.Writer, P)
	for p := range files {
		f, err := os.Create(partName(dir, p))
		if err != nil {
			return nil, fmt.Errorf("extjoin: %w", err)
		}
		files[p] = f
		ws[p] = bufio.NewWriterSize(f, bufSize)
	}
	counts := make([]int64, P)
	seed := maphash.MakeSeed()
	var rec []byte
	for i, in := range inputs {
		for row := int64(0); ; row++ {
			if row%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			id, vals, err := in.Next()
			if err == io.EOF {
				st.Rows[i] = row
				break
			}
			if err != nil {
				return nil, fmt.Errorf("extjoin: input %d, row %d: %w", i, row, err)
			}
			if len(vals) != cols {
				return nil, fmt.Errorf("%w: input %d, row %d has %d values, want %d", ErrArgs, i, row, len(vals), cols)
			}
			id = strings.TrimSpace(id)
			p, _ := bits.Mul64(maphash.String(seed, id), uint64(P))
			rec = binary.AppendUvarint(rec[:0], uint64(i))
			rec = binary.AppendUvarint(rec, uint64(len(id)))
			rec = append(rec, id...)
			for _, v := range vals {
				rec = binary.LittleEndian.AppendUint64(rec, uint64(v))
			}
			if _, err := ws[p].Write(rec); err != nil {
				return nil, fmt.Errorf("extjoin: %w", err)
			}
			counts[p]++
			st.PartitionBytes += int64(len(rec))
		}
	}
	for _, w := range ws {
		if err := w.Flush(); err != nil {
			return nil, fmt.Errorf("extjoin: %w", err)
		}
	}
	return counts, nil
}

// joiner joins one partition at a time, reusing its map and slices. A
// partition of 2^20 rows does not fit in the processor's caches, so it is
// split again in memory by another hash into sub-buckets of about
// subBucketRows rows, each joined in a small map: a radix-partitioned hash
// join, which took 30% less CPU than one large map in BenchmarkJoin.
type joiner struct {
	cols, k int
	emit    func(string, uint64, []int64) error
	st      *Stats
	seed    maphash.Seed

	offs   []int    // record offsets, in file order
	bucket []uint16 // sub-bucket of each record
	index  map[string]int32
	ids    []string
	held   []uint64
	sums   []int64
}

const (
	subBucketRows = 1 << 13
	maxSubBuckets = 1 << 12
)

func (j *joiner) join(name string, inputs int) error {
	data, err := readString(name)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("extjoin: %w", err)
	}
	cols := j.cols
	// Pass 1: validate every record and note where it starts.
	j.offs = j.offs[:0]
	if err := decode(data, inputs, cols, func(off int) { j.offs = append(j.offs, off) }); err != nil {
		return err
	}
	// Group the records by sub-bucket: a counting sort that copies them,
	// so that each sub-bucket is then read sequentially.
	nb := 1
	for nb*subBucketRows < len(j.offs) && nb < maxSubBuckets {
		nb *= 2
	}
	j.bucket = slices.Grow(j.bucket[:0], len(j.offs))[:len(j.offs)]
	start := make([]int, nb+1)
	for r, off := range j.offs {
		_, id, _, end := record(data, off, cols)
		b := uint16(maphash.String(j.seed, id) & uint64(nb-1))
		j.bucket[r] = b
		start[b+1] += end - off
	}
	for b := range nb {
		start[b+1] += start[b]
	}
	grouped := make([]byte, len(data))
	next := slices.Clone(start[:nb])
	for r, off := range j.offs {
		end := len(data)
		if r+1 < len(j.offs) {
			end = j.offs[r+1]
		}
		next[j.bucket[r]] += copy(grouped[next[j.bucket[r]]:], data[off:end])
	}
	data = string(grouped) // identifiers are substrings of it
	grouped = nil
	if j.index == nil {
		j.index = make(map[string]int32, 2*subBucketRows)
	}
	for b := range nb {
		clear(j.index)
		j.ids, j.held, j.sums = j.ids[:0], j.held[:0], j.sums[:0]
		for off := start[b]; off < start[b+1]; {
			var input int
			var id, vals string
			input, id, vals, off = record(data, off, cols)
			r, ok := j.index[id]
			if !ok {
				r = int32(len(j.ids))
				j.index[id] = r
				j.ids = append(j.ids, id)
				j.held = append(j.held, 0)
				j.sums = append(j.sums, make([]int64, cols)...)
			}
			bit := uint64(1) << input
			if j.held[r]&bit != 0 {
				return fmt.Errorf("%w: input %d", ErrDuplicate, input)
			}
			j.held[r] |= bit
			s := j.sums[int(r)*cols : int(r+1)*cols]
			for c := range s {
				s[c] += int64(le64(vals[8*c:]))
			}
		}
		if err := j.flush(); err != nil {
			return err
		}
	}
	return nil
}

// flush emits the qualifying records of the current sub-bucket.
func (j *joiner) flush() error {
	cols := j.cols
	for r, id := range j.ids {
		if bits.OnesCount64(j.held[r]) < j.k {
			continue
		}
		s := j.sums[r*cols : (r+1)*cols]
		j.st.Size++
		for c, v := range s {
			j.st.Totals[c] += v
		}
		if j.emit != nil {
			if err := j.emit(id, j.held[r], s); err != nil {
				return err
			}
		}
	}
	return nil
}

// readString reads a file into one string, so that identifiers can be
// substrings of it rather than one allocation each.
func readString(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("extjoin: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("extjoin: %w", err)
	}
	var b strings.Builder
	b.Grow(int(fi.Size()))
	if _, err := io.Copy(&b, f); err != nil {
		return "", fmt.Errorf("extjoin: %w", err)
	}
	return b.String(), nil
}

// decode validates a partition file and calls fn with the offset of each
// record: input indices below inputs and never decreasing, lengths within
// the data. record can then read the records at those offsets.
func decode(data string, inputs, cols int, fn func(off int)) error {
	last := 0
	for off := 0; off < len(data); {
		in, n := uvarint(data[off:])
		if n <= 0 || in >= uint64(inputs) || int(in) < last {
			return fmt.Errorf("%w: bad input index at byte %d", ErrCorrupt, off)
		}
		idLen, m := uvarint(data[off+n:])
		if m <= 0 || idLen > uint64(len(data)-off-n-m) {
			return fmt.Errorf("%w: bad identifier length at byte %d", ErrCorrupt, off+n)
		}
		end := off + n + m + int(idLen)
		if len(data)-end < 8*cols {
			return fmt.Errorf("%w: truncated values at byte %d", ErrCorrupt, end)
		}
		last = int(in)
		fn(off)
		off = end + 8*cols
	}
	return nil
}

// record reads the record at off of data that decode has validated: its
// input, identifier, values (cols little-endian int64s) and the offset of the
// next record.
func record(data string, off, cols int) (input int, id, vals string, next int) {
	in, n := uvarint(data[off:])
	off += n
	idLen, n := uvarint(data[off:])
	off += n
	id = data[off : off+int(idLen)]
	off += int(idLen)
	return int(in), id, data[off : off+8*cols], off + 8*cols
}

// le64 is binary.LittleEndian.Uint64 on a string.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// uvarint is binary.Uvarint on a string, refusing non-minimal encodings.
func uvarint(s string) (uint64, int) {
	var x uint64
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if (i == binary.MaxVarintLen64-1 && b > 1) || (i > 0 && b == 0) {
				return 0, -1 // overflow, or not minimal: the writer never produces it
			}
			return x | uint64(b)<<(7*i), i + 1
		}
		x |= uint64(b&0x7f) << (7 * i)
	}
	return 0, 0
}
