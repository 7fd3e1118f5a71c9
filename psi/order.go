package psi

// Sort returns items in ascending byte order, and where each came from:
// sorted[i] == items[order[i]]. Equal items, which a party's deduplicated
// identifiers do not produce, keep their relative order. Parties send their
// tags or elements sorted, so that the order reveals nothing about their
// tables' row order. Like Intersect it is a radix sort on GOMAXPROCS
// goroutines, and needs about len(T)+8 bytes of scratch memory per item.
// It panics if items holds more than 2³²−1 elements.
func Sort[T Tag | Element](items []T) (sorted []T, order []int32) {
	if uint64(len(items)) > maxItems {
		panic("psi: Sort of more than 2³²−1 items")
	}
	recs := sortItems([][]T{items}, []int{0, len(items)})
	sorted = make([]T, len(recs))
	order = make([]int32, len(recs))
	forChunks(len(recs), sortChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sorted[i], order[i] = recs[i].v, int32(uint32(recs[i].ref))
		}
	})
	return sorted, order
}
