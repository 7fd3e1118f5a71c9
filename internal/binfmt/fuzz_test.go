package binfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzReader reads data as the field sequence ops names (one op a byte)
// and checks the Reader against the format: a sequence that reads
// re-encodes, with the appenders, to exactly the bytes consumed; a failure
// is ErrTruncated or ErrTooLong, zeroes every later read, and happens only
// where the format says (a length over the limit, or fewer bytes left than
// the field needs).
func FuzzReader(f *testing.F) {
	var seed []byte
	seed = binary.BigEndian.AppendUint32(append([]byte{1}, 0, 2), 3)
	seed = AppendBytes32(AppendString8(seed, "abc"), []byte("payload"))
	f.Add([]byte{0, 1, 2, 5, 7}, seed, uint16(16))
	f.Add([]byte{7, 7}, AppendBytes32(nil, make([]byte, 20)), uint16(19))
	f.Add([]byte{3, 6, 4}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 9}, uint16(0))
	f.Add([]byte{8, 8, 0}, []byte{1}, uint16(1))
	f.Fuzz(func(t *testing.T, ops, data []byte, limit uint16) {
		max := int(limit)
		r := NewReader(data)
		var enc []byte
		for _, op := range ops {
			left := r.Len()
			need, prefix := 0, 0 // the bytes the field needs, and the length prefix it has
			var got []byte
			switch op % 9 {
			case 0:
				need, got = 1, []byte{r.U8()}
			case 1:
				need, got = 2, binary.BigEndian.AppendUint16(nil, r.U16())
			case 2:
				need, got = 4, binary.BigEndian.AppendUint32(nil, r.U32())
			case 3:
				need, got = 8, binary.BigEndian.AppendUint64(nil, r.U64())
			case 4:
				need = max % 40
				got = make([]byte, need)
				r.Fill(got)
			case 5:
				prefix = 1
				got = AppendString8(nil, r.String8())
			case 6:
				prefix = 2
				got = AppendBytes16(nil, r.Bytes16(max))
			case 7:
				prefix = 4
				got = AppendBytes32(nil, r.Bytes32(max))
			case 8:
				prefix = 2
				got = AppendString16(nil, r.String16(max))
			}
			if r.Failed() {
				break
			}
			enc = append(enc, got...)
			if prefix > 0 {
				need = len(got)
				if need-prefix > max && prefix > 1 {
					t.Fatalf("op %d: %d bytes read over a limit of %d", op%9, need-prefix, max)
				}
			}
			if left-r.Len() != need {
				t.Fatalf("op %d consumed %d bytes, want %d", op%9, left-r.Len(), need)
			}
		}
		consumed := data[:len(data)-r.Len()]
		if err := r.Err(); err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("error %v", err)
			}
			if r.Len() != 0 || r.U8() != 0 || r.Bytes(0) != nil || r.Done() {
				t.Fatal("the reader went on after a failure")
			}
			// What read before the failure still re-encodes exactly.
			if !bytes.HasPrefix(data, enc) {
				t.Fatalf("fields before the failure re-encode to %x, input %x", enc, data)
			}
			return
		}
		if !bytes.Equal(enc, consumed) {
			t.Fatalf("re-encoded %x, consumed %x", enc, consumed)
		}
		if r.Done() != (len(consumed) == len(data)) {
			t.Fatal("Done disagrees with the bytes left")
		}
	})
}
