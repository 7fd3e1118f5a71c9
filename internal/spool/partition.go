package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

const (
	manifestName  = "MANIFEST"
	manifestMagic = "msspman1"

	// maxFanout is the most files one pass of Partition writes at once:
	// 4095 buckets, at 16 KiB of buffer each 64 MiB, in one pass. Fewer
	// when the process may open fewer files (openFiles).
	maxFanout = 4095
	// bucketBuf is the buffer of each file Partition writes.
	bucketBuf = 16 << 10
	// ctxEvery is how many rows Partition reads between checks of ctx.
	ctxEvery = 4096
)

func bucketName(b int) string { return fmt.Sprintf("%05d", b) }

// tempDir is where Partition builds dir before renaming it into place.
func tempDir(dir string) string {
	dir = filepath.Clean(dir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".partial")
}

// Partition reads the rows of the files in inputs (in order; each a row
// file of cols columns) and writes them into dir as buckets bucket
// files, each row into bucket bucketOf(id), keeping the order of rows
// within each bucket. bucketOf must be deterministic and return a value
// in [0, buckets).
//
// Partition is atomic: it builds the partition in a temporary directory
// beside dir (".<name>.partial"), fsyncs every file, writes the manifest
// and renames the directory to dir, which must not exist. An interrupted
// Partition leaves no dir; a leftover temporary directory is removed by
// the next call for the same dir. Two calls for the same dir must not run
// at once.
//
// It writes at most 4095 files at once, fewer if the process may open
// fewer (leaving 64 descriptors for the rest of the process): with more
// buckets than that, it splits the rows into ranges of buckets and then
// each range in turn (two passes up to 4095² buckets). Every row is read
// and written once per pass, so one pass is the fastest. Memory is bounded
// independently of the number of rows (16 KiB of buffer per file
// written). ctx is checked every 4096 rows.
func Partition(ctx context.Context, inputs []string, cols, buckets int, bucketOf func(id string) int, dir string) (*Buckets, error) {
	return partition(ctx, inputs, cols, buckets, bucketOf, dir, fanout())
}

// fanout is how many files a pass writes at once: maxFanout, or what the
// limit on open files leaves, at least 15.
func fanout() int {
	if n := openFiles(); n > 0 {
		return max(min(maxFanout, n-64), 15)
	}
	return 255
}

func partition(ctx context.Context, inputs []string, cols, buckets int, bucketOf func(id string) int, dir string, fan int) (b *Buckets, err error) {
	if err := checkCols(cols); err != nil {
		return nil, err
	}
	if buckets < 1 || buckets > MaxBuckets {
		return nil, fmt.Errorf("spool: %d buckets, want 1 to %d", buckets, MaxBuckets)
	}
	if bucketOf == nil {
		return nil, errors.New("spool: nil bucket function")
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("spool: partition %s: %w", dir, os.ErrExist)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("spool: %w", err)
	}
	tmp := tempDir(dir)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("spool: remove leftover %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	p := &partitioner{
		ctx: ctx, cols: cols, bucketOf: bucketOf, tmp: tmp, fan: fan,
		rows: make([]int64, buckets), bytes: make([]int64, buckets),
	}
	if err := p.split(inputs, 0, buckets, 0); err != nil {
		return nil, err
	}
	if err := syncFiles(tmp, buckets); err != nil {
		return nil, err
	}
	if err := writeManifest(filepath.Join(tmp, manifestName), cols, p.rows, p.bytes); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(parentDir(dir)); err != nil {
		return nil, err
	}
	return OpenBuckets(dir)
}

type partitioner struct {
	ctx         context.Context
	cols        int
	bucketOf    func(string) int
	tmp         string
	fan         int
	rows, bytes []int64 // per final bucket
	seen        int64   // rows read, for the ctx checks
}

// split distributes the rows of inputs, whose buckets all lie in
// [lo, hi), into the bucket files lo…hi-1, through intermediate files for
// ranges of buckets if there are more than p.fan of them.
func (p *partitioner) split(inputs []string, lo, hi, level int) error {
	n := hi - lo
	width := 1
	if n > p.fan {
		width = (n + p.fan - 1) / p.fan
	}
	k := (n + width - 1) / width
	final := width == 1
	names := make([]string, k)
	ws := make([]*Writer, 0, k)
	defer func() {
		for _, w := range ws {
			w.abort()
		}
	}()
	for i := range names {
		if final {
			names[i] = filepath.Join(p.tmp, bucketName(lo+i))
		} else {
			names[i] = filepath.Join(p.tmp, fmt.Sprintf("range-%d-%d", level, lo+i*width))
		}
		w, err := create(names[i], p.cols, bucketBuf)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	for _, in := range inputs {
		if err := p.copyRows(in, ws, lo, hi, width); err != nil {
			return err
		}
	}
	for i, w := range ws {
		// Bucket files are fsynced together by syncFiles; intermediate
		// files are removed before the partition is published.
		if err := w.finish(false); err != nil {
			return err
		}
		if final {
			p.rows[lo+i] = w.Rows()
			p.bytes[lo+i] = w.bytes()
		}
	}
	ws = ws[:0]
	if final {
		return nil
	}
	for i, name := range names {
		if err := p.split([]string{name}, lo+i*width, min(lo+(i+1)*width, hi), level+1); err != nil {
			return err
		}
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

func (p *partitioner) copyRows(path string, ws []*Writer, lo, hi, width int) error {
	r, err := Open(path, p.cols)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if p.seen%ctxEvery == 0 {
			if err := p.ctx.Err(); err != nil {
				return fmt.Errorf("spool: partition: %w", err)
			}
		}
		row, id, values, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p.seen++
		b := p.bucketOf(id)
		if b < lo || b >= hi {
			if lo == 0 && hi == len(p.rows) {
				return fmt.Errorf("spool: bucket function returned %d for %d buckets", b, hi)
			}
			return fmt.Errorf("spool: bucket function not deterministic: %d, before in [%d, %d)", b, lo, hi)
		}
		if err := ws[(b-lo)/width].Append(row, id, values); err != nil {
			return err
		}
	}
}

// syncFiles fsyncs the bucket files in dir, several at once: a journaling
// file system commits concurrent fsyncs together, which makes thousands
// of small files much faster to sync than one after another.
func syncFiles(dir string, buckets int) error {
	const workers = 16
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for b := range next {
				if first != nil {
					continue
				}
				f, err := os.Open(filepath.Join(dir, bucketName(b)))
				if err == nil {
					err = f.Sync()
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					first = fmt.Errorf("spool: sync bucket %d: %w", b, err)
				}
			}
			errs <- first
		}()
	}
	for b := range buckets {
		next <- b
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func writeManifest(path string, cols int, rows, bytes []int64) error {
	m := make([]byte, 0, 8+4+4+16*len(rows)+4)
	m = append(m, manifestMagic...)
	m = binary.BigEndian.AppendUint32(m, uint32(len(rows)))
	m = binary.BigEndian.AppendUint32(m, uint32(cols))
	for i := range rows {
		m = binary.BigEndian.AppendUint64(m, uint64(rows[i]))
		m = binary.BigEndian.AppendUint64(m, uint64(bytes[i]))
	}
	m = binary.BigEndian.AppendUint32(m, crc32.Checksum(m, castagnoli))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, err = f.Write(m)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: write %s: %w", path, err)
	}
	return nil
}

// Buckets is a partitioned table written by Partition.
type Buckets struct {
	dir   string
	cols  int
	rows  []int64
	total int64
}

// OpenBuckets opens a partition: it reads and checks the manifest and
// that every bucket file has the size the manifest records.
func OpenBuckets(dir string) (*Buckets, error) {
	path := filepath.Join(dir, manifestName)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var h [16]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return nil, corrupt(path, "short manifest")
	}
	if string(h[:8]) != manifestMagic {
		return nil, corrupt(path, "not a manifest")
	}
	buckets := binary.BigEndian.Uint32(h[8:])
	cols := binary.BigEndian.Uint32(h[12:])
	if buckets < 1 || buckets > MaxBuckets || cols > MaxColumns {
		return nil, corrupt(path, "%d buckets of %d columns", buckets, cols)
	}
	size := 16 + 16*int64(buckets) + 4
	if st.Size() != size {
		return nil, corrupt(path, "%d bytes, want %d", st.Size(), size)
	}
	m := make([]byte, size)
	copy(m, h[:])
	if _, err := io.ReadFull(f, m[16:]); err != nil {
		return nil, corrupt(path, "short manifest")
	}
	if crc32.Checksum(m[:size-4], castagnoli) != binary.BigEndian.Uint32(m[size-4:]) {
		return nil, corrupt(path, "checksum mismatch")
	}
	b := &Buckets{dir: dir, cols: int(cols), rows: make([]int64, buckets)}
	for i := range b.rows {
		e := m[16+16*i:]
		rows, n := binary.BigEndian.Uint64(e), binary.BigEndian.Uint64(e[8:])
		name := filepath.Join(dir, bucketName(i))
		st, err := os.Stat(name)
		if err != nil {
			return nil, corrupt(path, "bucket %d: %v", i, err)
		}
		if uint64(st.Size()) != n {
			return nil, corrupt(path, "bucket %d has %d bytes, manifest says %d", i, st.Size(), n)
		}
		body := st.Size() - headerLen - trailerLen
		if body < 0 || rows > uint64(body/minRowLen(b.cols)) {
			return nil, corrupt(path, "bucket %d: %d rows in %d bytes", i, rows, st.Size())
		}
		b.rows[i] = int64(rows)
		b.total += int64(rows)
	}
	return b, nil
}

// Count is the number of buckets.
func (b *Buckets) Count() int { return len(b.rows) }

// Columns is the number of values per row.
func (b *Buckets) Columns() int { return b.cols }

// Rows is the number of rows in one bucket, from the manifest.
func (b *Buckets) Rows(bucket int) int64 { return b.rows[bucket] }

// TotalRows is the number of rows in all buckets.
func (b *Buckets) TotalRows() int64 { return b.total }

// Open opens one bucket's file, checking its row count against the
// manifest.
func (b *Buckets) Open(bucket int) (*Reader, error) {
	if bucket < 0 || bucket >= len(b.rows) {
		return nil, fmt.Errorf("spool: bucket %d of %d", bucket, len(b.rows))
	}
	r, err := Open(filepath.Join(b.dir, bucketName(bucket)), b.cols)
	if err != nil {
		return nil, err
	}
	if r.Rows() != b.rows[bucket] {
		r.Close()
		return nil, corrupt(r.path, "%d rows, manifest says %d", r.Rows(), b.rows[bucket])
	}
	return r, nil
}

// Load reads a whole bucket into columnar slices: rows[i] and ids[i] are
// row i's number in the source and identifier, values[c][i] its column
// c. Its memory is proportional to the bucket's file.
func (b *Buckets) Load(bucket int) (rows []int64, ids []string, values [][]int64, err error) {
	r, err := b.Open(bucket)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	n := r.Rows()
	rows = make([]int64, 0, n)
	ids = make([]string, 0, n)
	values = make([][]int64, b.cols)
	for c := range values {
		values[c] = make([]int64, 0, n)
	}
	for {
		row, id, vs, err := r.Next()
		if err == io.EOF {
			return rows, ids, values, nil
		}
		if err != nil {
			return nil, nil, nil, err
		}
		rows = append(rows, row)
		ids = append(ids, id)
		for c, v := range vs {
			values[c] = append(values[c], v)
		}
	}
}
