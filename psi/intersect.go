package psi

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

const (
	// MaxLists is the largest number of lists Intersect accepts: Match.Holders
	// counts lists in 16 bits.
	MaxLists = math.MaxUint16

	// maxItems bounds the number of items of all lists together, so that
	// positions and canonical indices fit in a Match's 32-bit fields.
	maxItems = math.MaxUint32
)

// ErrDuplicateItem is returned (wrapped) by Intersect when one list holds the
// same item twice. A duplicate would make holder counts wrong; parties avoid
// it by deduplicating their identifiers after Normalize.
var ErrDuplicateItem = errors.New("psi: duplicate item in a party's list")

// A Match says that the item at position Pos of a party's list, as sent, is
// the qualifying item with canonical index Index, and that Holders of the
// lists hold it.
type Match struct {
	Pos     uint32
	Index   uint32
	Holders uint16
}

// Intersect finds the items that occur in at least k of the lists, where
// 2 ≤ len(lists) ≤ MaxLists and 1 ≤ k ≤ len(lists). It is run by the
// coordinator over the tags or fully blinded elements the parties sent.
//
// The qualifying items, size of them, are numbered 0 to size-1 in ascending
// byte order of the item, so the numbering depends only on which items
// qualify, not on the order of the lists or of their items. On success
// len(matches) == len(lists), and matches[i] lists the qualifying items of
// lists[i] in ascending Pos order.
//
// A list that holds an item twice makes Intersect fail with an error wrapping
// ErrDuplicateItem that names the list and both positions. The lists together
// may hold at most 2³²−1 items.
//
// Intersect sorts a copy of all items on GOMAXPROCS goroutines; besides the
// result it needs about len(T)+12 bytes of scratch memory per item. It takes
// about 0.15 s of CPU time for three lists of 10⁶ tags.
func Intersect[T Tag | Element](lists [][]T, k int) (size int, matches [][]Match, err error) {
	n := len(lists)
	if n < 2 || n > MaxLists {
		return 0, nil, fmt.Errorf("psi: cannot intersect %d lists, need 2 to %d", n, MaxLists)
	}
	if k < 1 || k > n {
		return 0, nil, fmt.Errorf("psi: threshold %d out of range 1 to %d", k, n)
	}
	total := uint64(0)
	for _, l := range lists {
		total += uint64(len(l))
	}
	if total > maxItems {
		return 0, nil, fmt.Errorf("psi: %d items to intersect, at most %d allowed", total, uint64(maxItems))
	}

	// off[i] is where list i starts in the concatenation of the lists.
	off := make([]int, n+1)
	for i, l := range lists {
		off[i+1] = off[i] + len(l)
	}
	recs := sortItems(lists, off)

	// mark[off[i]+pos] is 1 + the canonical index of lists[i][pos], or 0 if
	// that item does not qualify. Marking and then walking each list gives
	// the matches in Pos order without sorting them again.
	mark := make([]uint32, total)
	count := make([]int, n)
	var holders []uint16
	for g := 0; g < len(recs); {
		h := g + 1
		for h < len(recs) && recs[h].v == recs[g].v {
			if a, b := recs[h-1].ref, recs[h].ref; a>>32 == b>>32 {
				return 0, nil, fmt.Errorf("%w: list %d holds the same item at positions %d and %d",
					ErrDuplicateItem, a>>32, uint32(a), uint32(b))
			}
			h++
		}
		if h-g >= k {
			holders = append(holders, uint16(h-g))
			for _, r := range recs[g:h] {
				list := int(r.ref >> 32)
				mark[off[list]+int(uint32(r.ref))] = uint32(len(holders))
				count[list]++
			}
		}
		g = h
	}

	matches = make([][]Match, n)
	for i := range lists {
		ms := make([]Match, 0, count[i])
		for pos, m := range mark[off[i]:off[i+1]] {
			if m != 0 {
				ms = append(ms, Match{Pos: uint32(pos), Index: m - 1, Holders: holders[m-1]})
			}
		}
		matches[i] = ms
	}
	return len(holders), matches, nil
}

const (
	// sortChunk is the smallest number of items per goroutine when sorting;
	// fewer take less time to handle than a goroutine takes to start.
	sortChunk = 1 << 13

	// smallBucket is the largest bucket sorted by insertion sort alone.
	smallBucket = 16

	// maxRadixBucket is the largest first-pass bucket that gets a second
	// radix pass. Larger buckets come from items sharing their first byte
	// far beyond chance, or from more than about 2.7·10⁸ items; sorting them
	// directly bounds the scratch memory of the second pass.
	maxRadixBucket = 1 << 20
)

// record is one item of one list: ref holds the list number in its high 32
// bits and the position in the list in its low 32 bits, so that ordering by
// ref orders by list and then by position.
type record[T Tag | Element] struct {
	v   T
	ref uint64
}

// sortItems returns the items of all lists as records sorted by item and
// then by ref; off[i] is the number of items in lists before list i, and
// off[len(lists)] the total.
//
// Tags and fully blinded elements are close to uniformly distributed, so
// this is an MSD radix sort: a first pass distributes the records by their
// first byte (256 output streams keep the scattered writes cache friendly),
// then each of those buckets, small enough to stay in cache, is distributed
// by the next bits and its sub-buckets of a few records each are sorted by
// insertion sort. Both passes run on GOMAXPROCS goroutines. Inputs crafted
// to share long prefixes end up in few, large sub-buckets, which are
// comparison sorted in O(m log m).
func sortItems[T Tag | Element](lists [][]T, off []int) []record[T] {
	total := off[len(lists)]
	recs := make([]record[T], total)

	// Pass 1: each goroutine counts, then scatters, a contiguous range of
	// the concatenated lists, into its own slots of each bucket.
	w := numWorkers(total, sortChunk)
	cursor := make([][256]int, w)
	runChunks(total, w, func(c, lo, hi int) {
		h := &cursor[c]
		eachRange(lists, off, lo, hi, func(_ int, l []T, a, b int) {
			for j := a; j < b; j++ {
				h[l[j][0]]++
			}
		})
	})
	var start [257]int
	for b := range 256 {
		start[b+1] = start[b]
		for c := range cursor {
			n := cursor[c][b]
			cursor[c][b] = start[b+1]
			start[b+1] += n
		}
	}
	runChunks(total, w, func(c, lo, hi int) {
		next := &cursor[c]
		eachRange(lists, off, lo, hi, func(i int, l []T, a, b int) {
			for j := a; j < b; j++ {
				d := l[j][0]
				recs[next[d]] = record[T]{v: l[j], ref: uint64(i)<<32 | uint64(j)}
				next[d]++
			}
		})
	})

	// Pass 2: sort the buckets, spread over goroutines by bucket count.
	forChunks(256, 256*sortChunk/max(total, 1), func(lo, hi int) {
		var sc sortScratch[T]
		for b := lo; b < hi; b++ {
			sc.sortBucket(recs[start[b]:start[b+1]])
		}
	})
	return recs
}

// eachRange calls fn(i, lists[i], a, b) for every list i that overlaps the
// range [lo, hi) of the concatenated lists, where [a, b) is the overlap in
// positions of lists[i].
func eachRange[T Tag | Element](lists [][]T, off []int, lo, hi int, fn func(i int, l []T, a, b int)) {
	for i, l := range lists {
		if off[i+1] <= lo || len(l) == 0 {
			continue
		}
		if off[i] >= hi {
			return
		}
		fn(i, l, max(lo-off[i], 0), min(hi-off[i], len(l)))
	}
}

// sortScratch is the reusable memory of one goroutine in pass 2.
type sortScratch[T Tag | Element] struct {
	tmp   []record[T]
	count []int
}

// sortBucket sorts bk, whose records share their first byte.
func (sc *sortScratch[T]) sortBucket(bk []record[T]) {
	m := len(bk)
	if m <= smallBucket {
		insertionSort(bk)
		return
	}
	if m > maxRadixBucket {
		slices.SortFunc(bk, compareRecords[T])
		return
	}
	// Distribute by the sb bits after the first byte, aiming at four
	// records per sub-bucket.
	sb := min(max(bits.Len(uint(m/4)), 1), 16)
	shift := 16 - sb
	mask := uint32(1)<<sb - 1
	if cap(sc.count) < 1<<sb+1 {
		sc.count = make([]int, 1<<16+1)
	}
	count := sc.count[:1<<sb+1]
	clear(count)
	for j := range bk {
		count[prefix24(&bk[j].v)>>shift&mask+1]++
	}
	for d := 1; d < len(count); d++ {
		count[d] += count[d-1]
	}
	if cap(sc.tmp) < m {
		sc.tmp = make([]record[T], m, max(m, 2*cap(sc.tmp)))
	}
	tmp := sc.tmp[:m]
	for j := range bk {
		d := prefix24(&bk[j].v) >> shift & mask
		tmp[count[d]] = bk[j]
		count[d]++
	}
	// count[d] is now the end of sub-bucket d.
	lo := 0
	for _, hi := range count[:len(count)-1] {
		if sub := tmp[lo:hi]; len(sub) <= smallBucket {
			insertionSort(sub)
		} else {
			slices.SortFunc(sub, compareRecords[T])
		}
		lo = hi
	}
	copy(bk, tmp)
}

// prefix24 returns the first three bytes of v as a big-endian integer.
func prefix24[T Tag | Element](v *T) uint32 {
	return uint32((*v)[0])<<16 | uint32((*v)[1])<<8 | uint32((*v)[2])
}

// compareRecords orders records by item bytes and then by ref.
func compareRecords[T Tag | Element](a, b record[T]) int {
	return compareRecordPtrs(&a, &b)
}

func compareRecordPtrs[T Tag | Element](a, b *record[T]) int {
	// Compare 64-bit big-endian words: the byte loads fuse into one load
	// per word, and random items differ in the first word.
	for i := 0; i < len(a.v); i += 8 {
		if x, y := be64(&a.v, i), be64(&b.v, i); x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(a.ref, b.ref)
}

// be64 returns bytes i to i+7 of v as a big-endian integer.
func be64[T Tag | Element](v *T, i int) uint64 {
	return uint64((*v)[i])<<56 | uint64((*v)[i+1])<<48 | uint64((*v)[i+2])<<40 | uint64((*v)[i+3])<<32 |
		uint64((*v)[i+4])<<24 | uint64((*v)[i+5])<<16 | uint64((*v)[i+6])<<8 | uint64((*v)[i+7])
}

// insertionSort sorts a few records; for those it beats the generic sort,
// whose comparisons are indirect calls. The first words are compared inline
// because they decide for all but equal or adversarial items.
func insertionSort[T Tag | Element](bk []record[T]) {
	for i := 1; i < len(bk); i++ {
		r := bk[i]
		kr := be64(&r.v, 0)
		j := i
		for ; j > 0; j-- {
			kp := be64(&bk[j-1].v, 0)
			if kp < kr || kp == kr && compareRecordPtrs(&bk[j-1], &r) < 0 {
				break
			}
			bk[j] = bk[j-1]
		}
		bk[j] = r
	}
}
