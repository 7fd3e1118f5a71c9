package maskshare

import (
	"bytes"
	"testing"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
)

// FuzzCheckpointRecords feeds arbitrary bytes to the decoders of
// checkpoint records: they must refuse or decode without panicking, and
// what they decode must encode back to the same bytes.
func FuzzCheckpointRecords(f *testing.F) {
	step := &stepRecord{step: 7, attempt: 2, mark: 99, carry: []uint64{1, 2}, chain: bytes.Repeat([]byte{3}, 32), sizes: []uint32{4, 5}, lists: []uint32{6, 7, 8}}
	f.Add(step.encode(), uint8(3))
	hellos := []wire.Hello{{Bound: 8}, {Bound: 16}, {Bound: 4}}
	keys := &partyKeys{bound: 8, hellos: hellos, partsOut: make([]mask.Seed, 3), partsIn: make([]mask.Seed, 3), listTo: make([][]byte, 3), listFrom: [][]byte{nil, make([]byte, 32), nil},
		oprfTo: [][]byte{make([]byte, 32), nil, make([]byte, 32)}, oprfFrom: make([][]byte, 3), blindKey: make([]byte, 32)}
	f.Add(keys.encode(), uint8(3))
	f.Add(coordSessionRecord([32]byte{1}, hellos), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		if s, err := decodeStep(b); err == nil && !bytes.Equal(s.encode(), b) {
			t.Fatalf("step record %x decodes to %+v, which encodes to %x", b, s, s.encode())
		}
		if n < 2 || n > 32 {
			return
		}
		if k, err := decodePartyKeys(b, int(n)); err == nil {
			if len(k.hellos) != int(n) || len(k.partsOut) != int(n) || len(k.listTo) != int(n) || len(k.oprfTo) != int(n) {
				t.Fatalf("keys of %d parties decode to %d hellos", n, len(k.hellos))
			}
		}
		if _, hs, err := decodeCoordSession(b, int(n)); err == nil && len(hs) != int(n) {
			t.Fatalf("session of %d parties decodes to %d hellos", n, len(hs))
		}
	})
}
