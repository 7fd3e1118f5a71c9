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
	"bytes"
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
	// is meant to hold; PartitionsFor chooses the count from it. Joining a
	// partition of 2^20 rows of 3 columns keeps about 120 MB live (the file,
	// a regrouped copy and 24 bytes a row); 3 × 3·10^7 rows peaked at
	// 278 MB RSS.
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
// outcome; they hold identifiers and figures in plaintext, so dir must be
// private to the caller (the new directory is 0700). emit may be nil; the
// sums slice is valid only during the call. Records are emitted partition
// by partition, in no meaningful order.
//
// Memory: the write buffers, 64 MiB at most in all, while partitioning;
// about three times the largest partition file while joining.
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
		"each split again in memory into cache-sized hash tables", n, partitions, st.PartitionBytes>>20, st.MaxPartitionRows)
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

// joiner joins one partition at a time, reusing its buffers so that memory
// stays at about three times the largest partition file. A partition of
// 2^20 rows does not fit in the processor's caches, so it is split again in
// memory by another hash into sub-buckets of about subBucketRows rows, each
// joined in a small open-addressing hash table whose entries point into the
// partition's bytes: a radix-partitioned hash join, with no allocation per
// row.
type joiner struct {
	cols, k int
	emit    func(string, uint64, []int64) error
	st      *Stats
	seed    maphash.Seed

	raw     []byte   // the partition file
	grouped []byte   // its records, grouped by sub-bucket
	offs    []int    // record offsets in raw
	hashes  []uint64 // record hashes, in raw's order then in grouped's
	grpHash []uint64
	slots   []int32 // hash table: entry index + 1, or 0 if free

	// Entries of the current sub-bucket.
	idOff []int // offset of the identifier in grouped
	idLen []int
	hash  []uint64
	held  []uint64
	sums  []int64
}

const (
	subBucketRows = 1 << 13
	maxSubBuckets = 1 << 12
)

func (j *joiner) join(name string, inputs int) error {
	var err error
	if j.raw, err = readFile(name, j.raw[:0]); err != nil {
		return err
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("extjoin: %w", err)
	}
	data, cols := j.raw, j.cols
	// Pass 1: validate every record, note where it starts, hash its
	// identifier and count the bytes of each sub-bucket.
	j.offs = j.offs[:0]
	if err := decode(data, inputs, cols, func(off int) { j.offs = append(j.offs, off) }); err != nil {
		return err
	}
	nr := len(j.offs)
	nb := 1
	for nb*subBucketRows < nr && nb < maxSubBuckets {
		nb *= 2
	}
	j.hashes = slices.Grow(j.hashes[:0], nr)[:nr]
	start := make([]int, nb+1) // byte offsets of the sub-buckets in grouped
	first := make([]int, nb+1) // record indices of the sub-buckets
	for r, off := range j.offs {
		_, id, _, end := record(data, off, cols)
		h := maphash.Bytes(j.seed, id)
		j.hashes[r] = h
		b := h & uint64(nb-1)
		start[b+1] += end - off
		first[b+1]++
	}
	for b := range nb {
		start[b+1] += start[b]
		first[b+1] += first[b]
	}
	// Pass 2: copy the records into grouped, sub-bucket after sub-bucket.
	j.grouped = slices.Grow(j.grouped[:0], len(data))[:len(data)]
	j.grpHash = slices.Grow(j.grpHash[:0], nr)[:nr]
	nextByte, nextRec := slices.Clone(start[:nb]), slices.Clone(first[:nb])
	for r, off := range j.offs {
		end := len(data)
		if r+1 < nr {
			end = j.offs[r+1]
		}
		b := j.hashes[r] & uint64(nb-1)
		nextByte[b] += copy(j.grouped[nextByte[b]:], data[off:end])
		j.grpHash[nextRec[b]] = j.hashes[r]
		nextRec[b]++
	}
	// Pass 3: join each sub-bucket.
	g := j.grouped
	for b := range nb {
		size := 1
		for size < 2*(first[b+1]-first[b]) {
			size *= 2
		}
		j.slots = slices.Grow(j.slots[:0], size)[:size]
		clear(j.slots)
		mask := uint64(size - 1)
		j.idOff, j.idLen, j.hash, j.held, j.sums = j.idOff[:0], j.idLen[:0], j.hash[:0], j.held[:0], j.sums[:0]
		r := first[b]
		for off := start[b]; off < start[b+1]; r++ {
			input, id, vals, next := record(g, off, cols)
			idOff := next - 8*cols - len(id)
			off = next
			h := j.grpHash[r]
			// The low bits chose the sub-bucket; the next ones choose the slot.
			s := (h >> 16) & mask
			e := -1
			for ; j.slots[s] != 0; s = (s + 1) & mask {
				c := int(j.slots[s] - 1)
				if j.hash[c] == h && bytes.Equal(g[j.idOff[c]:j.idOff[c]+j.idLen[c]], id) {
					e = c
					break
				}
			}
			if e < 0 {
				e = len(j.hash)
				j.slots[s] = int32(e + 1)
				j.idOff = append(j.idOff, idOff)
				j.idLen = append(j.idLen, len(id))
				j.hash = append(j.hash, h)
				j.held = append(j.held, 0)
				j.sums = append(j.sums, make([]int64, cols)...)
			}
			bit := uint64(1) << input
			if j.held[e]&bit != 0 {
				return fmt.Errorf("%w: input %d", ErrDuplicate, input)
			}
			j.held[e] |= bit
			sum := j.sums[e*cols : (e+1)*cols]
			for c := range sum {
				sum[c] += int64(binary.LittleEndian.Uint64(vals[8*c:]))
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
	for e, held := range j.held {
		if bits.OnesCount64(held) < j.k {
			continue
		}
		s := j.sums[e*cols : (e+1)*cols]
		j.st.Size++
		for c, v := range s {
			j.st.Totals[c] += v
		}
		if j.emit != nil {
			if err := j.emit(string(j.grouped[j.idOff[e]:j.idOff[e]+j.idLen[e]]), held, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// readFile reads a file into buf, reusing its capacity.
func readFile(name string, buf []byte) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("extjoin: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("extjoin: %w", err)
	}
	buf = slices.Grow(buf[:0], int(fi.Size()))[:fi.Size()]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("extjoin: %w", err)
	}
	return buf, nil
}

// decode validates a partition file and calls fn with the offset of each
// record: input indices below inputs and never decreasing, lengths within
// the data. record can then read the records at those offsets.
func decode(data []byte, inputs, cols int, fn func(off int)) error {
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
func record(data []byte, off, cols int) (input int, id, vals []byte, next int) {
	in, n := uvarint(data[off:])
	off += n
	idLen, n := uvarint(data[off:])
	off += n
	id = data[off : off+int(idLen)]
	off += int(idLen)
	return int(in), id, data[off : off+8*cols], off + 8*cols
}

// uvarint is binary.Uvarint, refusing non-minimal encodings.
func uvarint(s []byte) (uint64, int) {
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
