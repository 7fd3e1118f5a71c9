package extjoin

import (
	"encoding/binary"
	"testing"
)

// encode is the partition writer's record encoding.
func encode(b []byte, input int, id string, vals []int64) []byte {
	b = binary.AppendUvarint(b, uint64(input))
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// FuzzDecode feeds arbitrary partition files to the decoder: it must not
// panic, must reject what the writer cannot produce (input indices out of
// range or decreasing, lengths beyond the data), and what it accepts must
// encode back to the same bytes.
func FuzzDecode(f *testing.F) {
	valid := encode(encode(encode(nil, 0, "DE10-CUST-000000001", []int64{5, -1}), 0, "b", []int64{1 << 62, 0}), 2, "", []int64{7, 8})
	f.Add(valid, 3, 2)
	f.Add(valid, 2, 2)
	f.Add(valid[:len(valid)-1], 3, 2)
	f.Add(encode(encode(nil, 1, "a", nil), 0, "a", nil), 2, 0)
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 1, 0)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'}, 1, 0)
	f.Fuzz(func(t *testing.T, data []byte, inputs, cols int) {
		if inputs < 1 || inputs > MaxInputs || cols < 0 || cols > 8 {
			return
		}
		var re []byte
		last := 0
		next := 0
		err := decode(data, inputs, cols, func(off int) {
			if off != next {
				t.Fatalf("record at %d, the previous one ended at %d", off, next)
			}
			input, id, vals, end := record(data, off, cols)
			if input < last || input >= inputs || len(vals) != 8*cols {
				t.Fatalf("decode yielded input %d after %d of %d, %d value bytes", input, last, inputs, len(vals))
			}
			last, next = input, end
			v := make([]int64, cols)
			for c := range v {
				v[c] = int64(binary.LittleEndian.Uint64(vals[8*c:]))
			}
			re = encode(re, input, string(id), v)
		})
		if err == nil && string(re) != string(data) {
			t.Fatalf("decoded %x, re-encoded %x", data, re)
		}
	})
}
