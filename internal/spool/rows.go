package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

const (
	rowMagic     = "msspool1"
	trailerMagic = "msspend1"
	headerLen    = 8 + 4
	trailerLen   = 8 + 8 + 4

	// maxRowLen bounds one encoded row: uvarint row, uvarint id length
	// (MaxIDLen needs two bytes), id, and up to ten bytes per value.
	maxRowLen = binary.MaxVarintLen64 + 2 + MaxIDLen + binary.MaxVarintLen64*MaxColumns

	writeBuf = 64 << 10 // Create's buffer
	readBuf  = 64 << 10 // Open's buffer; must exceed maxRowLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minRowLen is the shortest encoding of a row with cols columns.
func minRowLen(cols int) int64 { return int64(3 + cols) }

func checkCols(cols int) error {
	if cols < 0 || cols > MaxColumns {
		return fmt.Errorf("spool: %d columns, want 0 to %d", cols, MaxColumns)
	}
	return nil
}

// A Writer appends rows to a new row file. It is not safe for
// concurrent use.
type Writer struct {
	f     *os.File
	path  string
	cols  int
	buf   []byte
	crc   uint32
	rows  int64
	size  int64 // bytes written to f so far
	err   error // sticky
	limit int   // flush when len(buf) would pass this
}

// Create creates a row file for rows of cols values. It fails if path
// exists.
func Create(path string, cols int) (*Writer, error) {
	return create(path, cols, writeBuf)
}

func create(path string, cols, bufSize int) (*Writer, error) {
	if err := checkCols(cols); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if bufSize < 2*maxRowLen {
		bufSize = 2 * maxRowLen
	}
	w := &Writer{f: f, path: path, cols: cols, buf: make([]byte, 0, bufSize), limit: bufSize}
	w.buf = append(w.buf, rowMagic...)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(cols))
	return w, nil
}

// Append adds a row. row must not be negative, id must have 1 to
// MaxIDLen bytes and values exactly the file's number of columns.
func (w *Writer) Append(row int64, id string, values []int64) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case row < 0:
		return fmt.Errorf("spool: negative row number %d", row)
	case len(id) == 0:
		return errors.New("spool: empty identifier")
	case len(id) > MaxIDLen:
		return fmt.Errorf("spool: identifier of %d bytes, limit %d", len(id), MaxIDLen)
	case len(values) != w.cols:
		return fmt.Errorf("spool: %d values for %d columns", len(values), w.cols)
	}
	if len(w.buf)+maxRowLen > w.limit {
		if err := w.flush(); err != nil {
			return err
		}
	}
	b := binary.AppendUvarint(w.buf, uint64(row))
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	for _, v := range values {
		b = binary.AppendVarint(b, v)
	}
	w.buf = b
	w.rows++
	return nil
}

// Rows is the number of rows appended so far.
func (w *Writer) Rows() int64 { return w.rows }

// size after Close: the file's length in bytes.
func (w *Writer) bytes() int64 { return w.size }

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.crc = crc32.Update(w.crc, castagnoli, w.buf)
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("spool: write %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// Close writes the trailer, flushes, fsyncs the file and its directory,
// and closes the file. The file is complete only if Close returns nil.
func (w *Writer) Close() error {
	if err := w.finish(true); err != nil {
		return err
	}
	return syncDir(parentDir(w.path))
}

// finish writes the trailer and closes the file, fsyncing it if sync.
func (w *Writer) finish(sync bool) error {
	if w.f == nil {
		if w.err != nil {
			return w.err
		}
		return errors.New("spool: writer already closed")
	}
	if w.err == nil {
		w.flush()
	}
	f := w.f
	w.f = nil
	if w.err != nil {
		f.Close()
		return w.err
	}
	var t [trailerLen]byte
	copy(t[:], trailerMagic)
	binary.BigEndian.PutUint64(t[8:], uint64(w.rows))
	w.crc = crc32.Update(w.crc, castagnoli, t[8:16])
	binary.BigEndian.PutUint32(t[16:], w.crc)
	w.buf = append(w.buf, t[:]...)
	n, err := f.Write(w.buf)
	w.size += int64(n)
	w.buf = nil
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.err = fmt.Errorf("spool: close %s: %w", w.path, err)
		return w.err
	}
	w.err = errors.New("spool: writer already closed")
	return nil
}

// abort closes the file of a writer that will not be finished.
func (w *Writer) abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// A Reader streams a row file's rows back. It is not safe for
// concurrent use.
type Reader struct {
	f      *os.File
	path   string
	cols   int
	rows   int64 // from the trailer
	want   uint32
	crc    uint32
	read   int64 // rows returned
	left   int64 // body bytes not yet in buf
	buf    []byte
	pos    int
	end    int
	values []int64
	err    error // sticky
}

// Open opens a row file written by a Writer for cols columns. It checks
// the header and the trailer; the rows and the checksum are checked as
// Next reads them.
func Open(path string, cols int) (*Reader, error) {
	if err := checkCols(cols); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	r, err := newReader(f, path, cols)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newReader(f *os.File, path string, cols int) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	size := st.Size()
	if size < headerLen+trailerLen {
		return nil, corrupt(path, "%d bytes, shorter than header and trailer", size)
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if string(h[:8]) != rowMagic {
		return nil, corrupt(path, "not a row file")
	}
	if c := binary.BigEndian.Uint32(h[8:]); c != uint32(cols) {
		return nil, corrupt(path, "file has %d columns, want %d", c, cols)
	}
	var t [trailerLen]byte
	if _, err := f.ReadAt(t[:], size-trailerLen); err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if string(t[:8]) != trailerMagic {
		return nil, corrupt(path, "no trailer (truncated or unfinished)")
	}
	body := size - headerLen - trailerLen
	rows := binary.BigEndian.Uint64(t[8:])
	if rows > math.MaxInt64 || int64(rows) > body/minRowLen(cols) || (rows == 0) != (body == 0) {
		return nil, corrupt(path, "trailer says %d rows in %d bytes", rows, body)
	}
	r := &Reader{
		f: f, path: path, cols: cols,
		rows: int64(rows), want: binary.BigEndian.Uint32(t[16:]),
		left:   body,
		crc:    crc32.Update(0, castagnoli, h[:]),
		buf:    make([]byte, min(readBuf, body)), // a small file needs no more
		values: make([]int64, cols),
	}
	return r, nil
}

// Rows is the number of rows the file's trailer announces.
func (r *Reader) Rows() int64 { return r.rows }

// fill moves the unread bytes to the front of buf and reads more of the
// body after them.
func (r *Reader) fill() error {
	n := copy(r.buf, r.buf[r.pos:r.end])
	r.pos, r.end = 0, n
	want := int64(len(r.buf) - n)
	if want > r.left {
		want = r.left
	}
	m, err := io.ReadFull(r.f, r.buf[n:n+int(want)])
	r.crc = crc32.Update(r.crc, castagnoli, r.buf[n:n+m])
	r.end += m
	r.left -= int64(m)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", r.path, err)
	}
	return nil
}

// Next returns the next row, or io.EOF after the last one (once the row
// count and checksum have been checked). values is reused by the next
// call.
func (r *Reader) Next() (row int64, id string, values []int64, err error) {
	if r.err != nil {
		return 0, "", nil, r.err
	}
	if r.end-r.pos < maxRowLen && r.left > 0 {
		if err := r.fill(); err != nil {
			r.err = err
			return 0, "", nil, err
		}
	}
	if r.pos == r.end {
		r.err = r.atEnd()
		return 0, "", nil, r.err
	}
	if r.read == r.rows {
		r.err = corrupt(r.path, "more rows than the trailer's %d", r.rows)
		return 0, "", nil, r.err
	}
	b := r.buf[r.pos:r.end]
	u, n := binary.Uvarint(b)
	if n <= 0 || u > math.MaxInt64 {
		r.err = corrupt(r.path, "bad row number in row %d", r.read)
		return 0, "", nil, r.err
	}
	off := n
	l, n := binary.Uvarint(b[off:])
	if n <= 0 || l == 0 || l > MaxIDLen || uint64(len(b)-off-n) < l {
		r.err = corrupt(r.path, "bad identifier in row %d", r.read)
		return 0, "", nil, r.err
	}
	off += n
	id = string(b[off : off+int(l)])
	off += int(l)
	for c := range r.values {
		v, n := binary.Varint(b[off:])
		if n <= 0 {
			r.err = corrupt(r.path, "bad value in row %d", r.read)
			return 0, "", nil, r.err
		}
		r.values[c] = v
		off += n
	}
	r.pos += off
	r.read++
	return int64(u), id, r.values, nil
}

// atEnd checks the row count and the checksum once the body is read.
func (r *Reader) atEnd() error {
	if r.read != r.rows {
		return corrupt(r.path, "%d rows, trailer says %d", r.read, r.rows)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.rows))
	if crc32.Update(r.crc, castagnoli, n[:]) != r.want {
		return corrupt(r.path, "checksum mismatch")
	}
	return io.EOF
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if r.err == nil {
		r.err = errors.New("spool: reader closed")
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
