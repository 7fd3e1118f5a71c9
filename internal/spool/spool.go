// Package spool keeps a party's table on disk for bucketed sessions
// (docs/PROTOCOL.md "Bucketed sessions", issue 15): rows in append-only
// files, partitioned into buckets by a caller's function, and a sealed,
// append-only checkpoint log. It is the disk layer only; the session
// engine decides what the rows and the checkpoints mean.
//
// Everything read back is validated before use: a corrupt or truncated
// file is an error wrapping [ErrCorrupt], never a panic, and no
// allocation is sized by a field that has not been checked against the
// limits below and against the file's size.
//
// # Row files
//
// A row file ([Create], [Open]) holds rows (row number in the source,
// identifier, one int64 per column). All integers in the header and
// trailer are big-endian.
//
//	header   "msspool1" ‖ be32(cols)                                  12 B
//	row      uvarint(row) ‖ uvarint(len(id)) ‖ id ‖ varint(v_0) … varint(v_{cols-1})
//	trailer  "msspend1" ‖ be64(rows) ‖ be32(crc)                      20 B
//
// varint is the zigzag encoding of encoding/binary. row ≥ 0,
// 1 ≤ len(id) ≤ [MaxIDLen], 0 ≤ cols ≤ [MaxColumns]. crc is CRC-32C
// (Castagnoli) of the header, the body and be64(rows). [Writer.Close]
// writes the trailer, so a file whose writer did not finish has no valid
// trailer; the reader takes the body to be everything between header and
// trailer (from the file's size), checks the trailer's magic and that the
// row count fits the body before reading, and checks the count and the
// CRC at the end. A truncated file, at a row boundary or not, is
// therefore detected.
//
// # Partitions
//
// [Partition] writes a directory holding one row file per bucket, named
// by the bucket number in five decimal digits ("00000", "00001", …), and
// a file "MANIFEST":
//
//	"msspman1" ‖ be32(buckets) ‖ be32(cols) ‖ (be64(rows_i) ‖ be64(bytes_i)) for each bucket i ‖ be32(crc)
//
// where bytes_i is the size of bucket file i and crc the CRC-32C of
// everything before it. [OpenBuckets] checks the manifest against the
// files' sizes; [Buckets.Open] also checks the row count in the file's
// trailer against the manifest.
//
// # Checkpoint logs
//
// A log ([OpenLog]) is
//
//	header   "msspLOG1" ‖ salt[32] ‖ check[32]                        72 B
//	record   be32(n) ‖ be32(crc(be32(n))) ‖ nonce[12] ‖ AES-256-GCM(k, nonce, record, ad)
//
// where n = 12 + len(record) + 16, crc is CRC-32C,
// k = HKDF-SHA256(key, salt, "maskshare/spool log v1 aead") and
// check = HKDF-SHA256(key, salt, "maskshare/spool log v1 check"), both
// 32 bytes, and ad = "maskshare/spool log v1 record" ‖ 0x00 ‖ salt ‖
// be64(seq), seq counting records from 0. The salt is random per log and
// the nonce random per record. The check value lets [OpenLog] refuse a
// wrong key even when the log has no records yet. The header is written
// to a temporary file and renamed into place, so a log exists whole or
// not at all.
//
// A log ending inside a record's 8-byte length or inside its body is a
// torn Append, and is cut; the length's checksum keeps an altered length
// from passing for a torn record (which would cut the records after it).
// The log detects altered, reordered, dropped-from-the-middle and
// transplanted records, but not the loss of whole records at its end:
// that looks like a crash before the Append. A caller that must detect
// it keeps the expected count elsewhere.
package spool

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/maskshare/maskshare/internal/durable"
)

// Limits, checked on write and on read.
const (
	MaxIDLen     = 4096    // bytes of one identifier
	MaxColumns   = 256     // int64 values per row
	MaxBuckets   = 1 << 16 // buckets of one partition
	MaxRecordLen = 1 << 20 // bytes of one checkpoint record
)

// ErrCorrupt is wrapped by every error that reports a file whose contents
// are not what this package writes (or were written under another key).
var ErrCorrupt = errors.New("spool: corrupt file")

// corrupt reports a malformed file.
func corrupt(path, format string, args ...any) error {
	return fmt.Errorf("spool: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrCorrupt)
}

// syncDir makes a directory's entries (a created, renamed or removed
// file) durable.
func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("spool: sync %s: %w", dir, err)
	}
	return nil
}

// parentDir is the directory holding path.
func parentDir(path string) string { return filepath.Dir(filepath.Clean(path)) }
