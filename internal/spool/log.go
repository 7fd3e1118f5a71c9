package spool

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

const (
	logMagic     = "msspLOG1"
	logSaltLen   = 32
	logHeaderLen = 8 + logSaltLen + 32
	recHeaderLen = 4 + 4 // be32(n) ‖ be32(crc32c(be32(n)))
	nonceLen     = 12
	tagLen       = 16
	maxSealedLen = nonceLen + MaxRecordLen + tagLen

	logAEADInfo  = "maskshare/spool log v1 aead"
	logCheckInfo = "maskshare/spool log v1 check"
	logADPrefix  = "maskshare/spool log v1 record\x00"
)

// Log is a sealed, append-only log of records (checkpoints); see the
// package comment for its format. Its methods are safe for concurrent
// use.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
	aead cipher.AEAD
	salt [logSaltLen]byte
	seq  uint64
	err  error // sticky: after a failed Append the file's tail is unknown
}

// logKeys derives the AEAD key and the check value from the caller's key
// and the log's salt.
func logKeys(key *[32]byte, salt []byte) (cipher.AEAD, []byte, error) {
	k, err := hkdf.Key(sha256.New, key[:], salt, logAEADInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	check, err := hkdf.Key(sha256.New, key[:], salt, logCheckInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	return aead, check, nil
}

func (l *Log) ad(seq uint64) []byte {
	ad := make([]byte, 0, len(logADPrefix)+logSaltLen+8)
	ad = append(ad, logADPrefix...)
	ad = append(ad, l.salt[:]...)
	return binary.BigEndian.AppendUint64(ad, seq)
}

// OpenLog opens the log at path under key, creating it if it does not
// exist, and returns the records it holds in order. A torn last record
// (the file ends inside its length or its body, as after a crash during
// Append) is cut off and the file truncated to the last whole record;
// that is not an error. Any other record that fails to open, a wrong
// key, or a malformed header is an error wrapping ErrCorrupt.
func OpenLog(path string, key [32]byte) (*Log, [][]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		l, err := createLog(path, &key)
		return l, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	l, records, err := readLog(f, path, &key)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return l, records, nil
}

// createLog writes the header to a temporary file and renames it into
// place, so that a log exists whole or not at all.
func createLog(path string, key *[32]byte) (*Log, error) {
	l := &Log{path: path}
	if _, err := rand.Read(l.salt[:]); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	aead, check, err := logKeys(key, l.salt[:])
	if err != nil {
		return nil, err
	}
	l.aead = aead
	h := make([]byte, 0, logHeaderLen)
	h = append(h, logMagic...)
	h = append(h, l.salt[:]...)
	h = append(h, check...)

	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	_, err = f.Write(h)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(parentDir(path))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("spool: create log %s: %w", path, err)
	}
	l.f = f
	return l, nil
}

func readLog(f *os.File, path string, key *[32]byte) (*Log, [][]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	size := st.Size()
	br := bufio.NewReaderSize(f, 64<<10)
	var h [logHeaderLen]byte
	if size < logHeaderLen {
		return nil, nil, corrupt(path, "log of %d bytes has no header", size)
	}
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, nil, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if string(h[:8]) != logMagic {
		return nil, nil, corrupt(path, "not a log")
	}
	l := &Log{f: f, path: path}
	copy(l.salt[:], h[8:])
	aead, check, err := logKeys(key, l.salt[:])
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare(check, h[8+logSaltLen:]) != 1 {
		return nil, nil, corrupt(path, "wrong key")
	}
	l.aead = aead

	var records [][]byte
	off := int64(logHeaderLen)
	var lenBuf [recHeaderLen]byte
	for off < size {
		left := size - off
		if left < recHeaderLen {
			break // torn length
		}
		if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
			return nil, nil, fmt.Errorf("spool: read %s: %w", path, err)
		}
		// The length's checksum keeps an altered length from passing for
		// a torn record, which would cut the records after it.
		if crc32.Checksum(lenBuf[:4], castagnoli) != binary.BigEndian.Uint32(lenBuf[4:]) {
			return nil, nil, corrupt(path, "record %d has a bad length", l.seq)
		}
		n := int64(binary.BigEndian.Uint32(lenBuf[:]))
		if n < nonceLen+tagLen || n > maxSealedLen {
			return nil, nil, corrupt(path, "record %d has length %d", l.seq, n)
		}
		if left-recHeaderLen < n {
			break // torn body
		}
		sealed := make([]byte, n)
		if _, err := io.ReadFull(br, sealed); err != nil {
			return nil, nil, fmt.Errorf("spool: read %s: %w", path, err)
		}
		rec, err := l.aead.Open(sealed[nonceLen:nonceLen], sealed[:nonceLen], sealed[nonceLen:], l.ad(l.seq))
		if err != nil {
			return nil, nil, corrupt(path, "record %d does not open", l.seq)
		}
		records = append(records, rec)
		l.seq++
		off += recHeaderLen + n
	}
	if off != size {
		if err := f.Truncate(off); err != nil {
			return nil, nil, fmt.Errorf("spool: cut torn record of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, nil, fmt.Errorf("spool: %w", err)
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	return l, records, nil
}

// Append seals record (at most MaxRecordLen bytes) as the log's next
// record, writes it and fsyncs the file before returning. After a failed
// Append the log refuses further appends; reopening it cuts a partly
// written record.
func (l *Log) Append(record []byte) error {
	if len(record) > MaxRecordLen {
		return fmt.Errorf("spool: record of %d bytes, limit %d", len(record), MaxRecordLen)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	n := nonceLen + len(record) + tagLen
	b := make([]byte, recHeaderLen+nonceLen, recHeaderLen+n)
	binary.BigEndian.PutUint32(b, uint32(n))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[:4], castagnoli))
	nonce := b[recHeaderLen:]
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	b = l.aead.Seal(b, nonce, record, l.ad(l.seq))
	_, err := l.f.Write(b)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		l.err = fmt.Errorf("spool: append to %s: %w", l.path, err)
		return l.err
	}
	l.seq++
	return nil
}

// Close closes the log's file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if l.err == nil {
		l.err = errors.New("spool: log closed")
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
