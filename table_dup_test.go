package maskshare

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestFirstDuplicate compares firstDuplicate with the obvious map-based
// search: the first row repeating an earlier identifier, and the first row
// that held it.
func TestFirstDuplicate(t *testing.T) {
	want := func(ids []string) (int, int) {
		first := map[string]int{}
		for r, id := range ids {
			if prev, ok := first[id]; ok {
				return r, prev
			}
			first[id] = r
		}
		return -1, -1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := rng.IntN(300)
		ids := make([]string, n)
		for r := range ids {
			ids[r] = fmt.Sprint(rng.IntN(4 * n * (1 + trial%3)))
		}
		r, p := firstDuplicate(ids)
		wr, wp := want(ids)
		if r != wr || p != wp {
			t.Fatalf("%q: got %d, %d; want %d, %d", ids, r, p, wr, wp)
		}
	}
	if r, p := firstDuplicate([]string{"a", "b", "b", "a", "a"}); r != 2 || p != 1 {
		t.Errorf("got %d, %d; want 2, 1", r, p)
	}
}

// BenchmarkFirstDuplicate compares firstDuplicate with a map of the
// identifiers, on a million distinct identifiers.
func BenchmarkFirstDuplicate(b *testing.B) {
	ids := make([]string, 1_000_000)
	for r := range ids {
		ids[r] = fmt.Sprintf("DE10-CUST-%08d", r*7919%len(ids))
	}
	b.Run("sort", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			firstDuplicate(ids)
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			first := make(map[string]int, len(ids))
			for r, id := range ids {
				if _, dup := first[id]; dup {
					b.Fatal("duplicate")
				}
				first[id] = r
			}
		}
	})
}
