package psi

import (
	"bytes"
	"slices"
	"testing"
)

func TestSort(t *testing.T) {
	for _, n := range []int{0, 1, 17, 5000, 70_000} {
		items := benchLists[Tag](t, 2, 2*n)[0][:n] // random items, in no order
		if n > 3 {
			items[3] = items[1] // one repeat: ties keep their order
		}
		sorted, order := Sort(items)
		if len(sorted) != n || len(order) != n {
			t.Fatalf("n=%d: %d sorted, %d order", n, len(sorted), len(order))
		}
		seen := make([]bool, n)
		for i := range sorted {
			if sorted[i] != items[order[i]] || seen[order[i]] {
				t.Fatalf("n=%d: sorted[%d] is not items[order[%d]] or order repeats", n, i, i)
			}
			seen[order[i]] = true
			if i > 0 {
				c := bytes.Compare(sorted[i-1][:], sorted[i][:])
				if c > 0 || c == 0 && order[i-1] > order[i] {
					t.Fatalf("n=%d: not sorted at %d", n, i)
				}
			}
		}
		if !slices.IsSortedFunc(sorted, func(a, b Tag) int { return bytes.Compare(a[:], b[:]) }) {
			t.Fatalf("n=%d: not sorted", n)
		}
	}
}

// BenchmarkSort sorts a million tags with Sort, and for reference with a
// comparison sort of their positions, as parties did before Sort.
func BenchmarkSort(b *testing.B) {
	tags := benchLists[Tag](b, 1, 1_000_000)[0]
	b.Run("radix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sort(tags)
		}
	})
	b.Run("comparison", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			order := make([]int32, len(tags))
			for i := range order {
				order[i] = int32(i)
			}
			slices.SortFunc(order, func(x, y int32) int { return bytes.Compare(tags[x][:], tags[y][:]) })
			sorted := make([]Tag, len(tags))
			for i, r := range order {
				sorted[i] = tags[r]
			}
		}
	})
}
