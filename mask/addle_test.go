package mask

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAddLE(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 7, 1000} {
		dst, src := make([]uint64, n), make([]uint64, n)
		for i := range dst {
			dst[i], src[i] = rng.Uint64(), rng.Uint64()
		}
		var b []byte
		for _, w := range src {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		want := slices.Clone(dst)
		Add(want, src)
		AddLE(dst, b)
		if !slices.Equal(dst, want) {
			t.Fatalf("n=%d: AddLE differs from Add", n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AddLE accepted 7 bytes for 1 word")
		}
	}()
	AddLE(make([]uint64, 1), make([]byte, 7))
}
