package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestPrimitives: the field codecs are big-endian and fixed-width, words are
// little-endian, and a short read sticks as an error that wraps ErrMalformed.
func TestPrimitives(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for range 200 {
		a8, a16, a32, a64 := uint8(r.Uint32()), uint16(r.Uint32()), r.Uint32(), r.Uint64()
		ws := randWords(r, r.IntN(4))
		w := newWriter(TypeAbort, 0)
		w.u8(a8)
		w.u16(a16)
		w.u32(a32)
		w.u64(a64)
		w.words(ws)
		want := []byte{Version, byte(TypeAbort), a8, byte(a16 >> 8), byte(a16), byte(a32 >> 24), byte(a32 >> 16), byte(a32 >> 8), byte(a32)}
		for i := 7; i >= 0; i-- {
			want = append(want, byte(a64>>(8*i)))
		}
		for _, x := range ws {
			for i := range 8 {
				want = append(want, byte(x>>(8*i)))
			}
		}
		if !bytes.Equal(w.b, want) {
			t.Fatalf("encoding %x, want %x", w.b, want)
		}
		rd := newReader(w.b, TypeAbort)
		if g8, g16, g32, g64 := rd.u8(), rd.u16(), rd.u32(), rd.u64(); g8 != a8 || g16 != a16 || g32 != a32 || g64 != a64 {
			t.Fatalf("read %d %d %d %d, want %d %d %d %d", g8, g16, g32, g64, a8, a16, a32, a64)
		}
		got := rd.words(len(ws))
		for i := range ws {
			if got[i] != ws[i] {
				t.Fatalf("word %d = %x, want %x", i, got[i], ws[i])
			}
		}
		if err := rd.done(); err != nil {
			t.Fatal(err)
		}
	}
	rd := newReader([]byte{Version, byte(TypeAbort), 1, 2, 3}, TypeAbort)
	if v := rd.u64(); v != 0 || !errors.Is(rd.err, ErrMalformed) {
		t.Fatalf("short u64 = %d, %v", v, rd.err)
	}
	if v := rd.u8(); v != 0 || rd.done() == nil {
		t.Fatal("a read after an error succeeded")
	}
}
