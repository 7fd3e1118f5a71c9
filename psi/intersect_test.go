package psi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oracleIntersect computes the expected result of Intersect from the
// identifiers behind the items: holder counts come from a map of the
// identifiers themselves, and itemOf gives each identifier's item only to
// fix the canonical order.
func oracleIntersect[T Tag | Element](ids [][]string, k int, itemOf func(string) T) (int, [][]Match) {
	holders := make(map[string]int)
	for _, l := range ids {
		for _, id := range l {
			holders[id]++
		}
	}
	var qual []string
	for id, h := range holders {
		if h >= k {
			qual = append(qual, id)
		}
	}
	key := make(map[string][]byte, len(qual))
	for _, id := range qual {
		key[id] = bytesOf(itemOf(id))
	}
	slices.SortFunc(qual, func(a, b string) int { return bytes.Compare(key[a], key[b]) })
	index := make(map[string]int)
	for i, id := range qual {
		index[id] = i
	}
	matches := make([][]Match, len(ids))
	for i, l := range ids {
		matches[i] = []Match{}
		for pos, id := range l {
			if j, ok := index[id]; ok {
				matches[i] = append(matches[i], Match{Pos: uint32(pos), Index: uint32(j), Holders: uint16(holders[id])})
			}
		}
	}
	return len(qual), matches
}

// bytesOf returns the bytes of an item; a type parameter cannot be sliced.
func bytesOf[T Tag | Element](x T) []byte {
	switch v := any(x).(type) {
	case Tag:
		return v[:]
	case Element:
		return v[:]
	}
	panic("unreachable")
}

// checkIntersect runs Intersect over the items of ids and compares it with
// the oracle, then checks the documented invariants directly.
func checkIntersect[T Tag | Element](t *testing.T, ids [][]string, k int, itemOf func(string) T) {
	t.Helper()
	lists := make([][]T, len(ids))
	for i, l := range ids {
		lists[i] = make([]T, len(l))
		for j, id := range l {
			lists[i][j] = itemOf(id)
		}
	}
	size, matches, err := Intersect(lists, k)
	require.NoError(t, err)
	wantSize, wantMatches := oracleIntersect(ids, k, itemOf)
	require.Equal(t, wantSize, size, "size (n=%d, k=%d)", len(ids), k)
	// Report the first difference only: a full diff of large match lists
	// takes testify minutes.
	require.Len(t, matches, len(wantMatches))
	for i := range wantMatches {
		if !slices.Equal(wantMatches[i], matches[i]) || matches[i] == nil {
			j := 0
			for j < min(len(matches[i]), len(wantMatches[i])) && matches[i][j] == wantMatches[i][j] {
				j++
			}
			t.Fatalf("n=%d, k=%d: list %d has %d matches, want %d; first difference at %d: got %v, want %v",
				len(ids), k, i, len(matches[i]), len(wantMatches[i]), j, matches[i][j:min(j+1, len(matches[i]))],
				wantMatches[i][j:min(j+1, len(wantMatches[i]))])
		}
	}

	// Invariants: indices cover 0..size-1, one item per index, in ascending
	// byte order, with holder counts equal to the number of lists naming it.
	// Plain comparisons: testify is slow in loops this hot.
	byIndex := make([]*T, size)
	count := make([]int, size)
	for i, ms := range matches {
		for j, m := range ms {
			if j > 0 && ms[j-1].Pos >= m.Pos {
				t.Fatalf("list %d: matches not in ascending Pos order at %d", i, j)
			}
			if int(m.Index) >= size {
				t.Fatalf("list %d: index %d out of range (size %d)", i, m.Index, size)
			}
			it := &lists[i][m.Pos]
			if byIndex[m.Index] == nil {
				byIndex[m.Index] = it
			} else if *byIndex[m.Index] != *it {
				t.Fatalf("index %d names two items", m.Index)
			}
			count[m.Index]++
		}
	}
	for j := range size {
		if byIndex[j] == nil {
			t.Fatalf("index %d unused", j)
		}
		if j > 0 && bytes.Compare(bytesOf(*byIndex[j-1]), bytesOf(*byIndex[j])) >= 0 {
			t.Fatalf("indices %d and %d out of byte order", j-1, j)
		}
		if count[j] < k {
			t.Fatalf("index %d held by %d < k = %d lists", j, count[j], k)
		}
	}
	for i, ms := range matches {
		for _, m := range ms {
			if count[m.Index] != int(m.Holders) {
				t.Fatalf("list %d: index %d has Holders %d, named by %d lists", i, m.Index, m.Holders, count[m.Index])
			}
		}
	}
}

// randomIDLists draws n lists from a universe of u identifiers; list i
// holds each identifier with probability p[i], in random order.
func randomIDLists(rng *rand.Rand, u int, p []float64) [][]string {
	ids := make([][]string, len(p))
	for i := range p {
		ids[i] = []string{}
		for x := range u {
			if rng.Float64() < p[i] {
				ids[i] = append(ids[i], fmt.Sprintf("id-%d", x))
			}
		}
		rng.Shuffle(len(ids[i]), func(a, b int) { ids[i][a], ids[i][b] = ids[i][b], ids[i][a] })
	}
	return ids
}

func TestIntersectOracleTags(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tg := newTestTagger(t)
	for n := 2; n <= 7; n++ {
		for trial := range 6 {
			u := 1 + rng.IntN(400)
			p := make([]float64, n)
			for i := range p {
				p[i] = rng.Float64()
			}
			ids := randomIDLists(rng, u, p)
			for k := 1; k <= n; k++ {
				t.Run(fmt.Sprintf("n=%d/trial=%d/k=%d", n, trial, k), func(t *testing.T) {
					checkIntersect(t, ids, k, tg.tagOnly)
				})
			}
		}
	}
}

func TestIntersectSpecialCases(t *testing.T) {
	tg := newTestTagger(t)
	rng := rand.New(rand.NewPCG(3, 4))
	all := randomIDLists(rng, 300, []float64{1, 1, 1, 1})
	cases := map[string][][]string{
		"disjoint":        {{"a", "b"}, {"c"}, {"d", "e", "f"}},
		"all common":      all,
		"one item":        {{"a"}, {"b", "a", "c"}, {"a", "c"}},
		"one item alone":  {{"z"}, {"b", "a", "c"}},
		"an empty list":   {{"a", "b"}, {}, {"b", "c"}},
		"all empty":       {{}, {}, {}},
		"two equal lists": {{"x", "y", "z"}, {"z", "y", "x"}},
	}
	for name, ids := range cases {
		for k := 1; k <= len(ids); k++ {
			t.Run(fmt.Sprintf("%s/k=%d", name, k), func(t *testing.T) {
				checkIntersect(t, ids, k, tg.tagOnly)
			})
		}
	}

	// Spot-check the oracle itself on a case worked by hand.
	size, matches, err := Intersect([][]Tag{{{3}, {1}, {2}}, {{2}, {4}}, {{1}, {2}}}, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, size)
	assert.Equal(t, [][]Match{
		{{Pos: 1, Index: 0, Holders: 2}, {Pos: 2, Index: 1, Holders: 3}},
		{{Pos: 0, Index: 1, Holders: 3}},
		{{Pos: 0, Index: 0, Holders: 2}, {Pos: 1, Index: 1, Holders: 3}},
	}, matches)
}

func TestIntersectSharedPrefixes(t *testing.T) {
	// Items agreeing on their leading bytes all land in one radix bucket
	// and are ordered by the comparison sort alone.
	for _, shared := range []int{0, 2, 3, 8, TagSize - 2} {
		t.Run(fmt.Sprintf("shared=%d", shared), func(t *testing.T) {
			itemOf := func(id string) Tag {
				var x int
				_, err := fmt.Sscanf(id, "id-%d", &x)
				if err != nil {
					panic(err)
				}
				var tg Tag
				tg[shared] = byte(x >> 8)
				tg[TagSize-1] = byte(x)
				for i := range shared {
					tg[i] = 0xa5
				}
				return tg
			}
			ids := randomIDLists(rand.New(rand.NewPCG(5, uint64(shared))), 3000, []float64{0.5, 0.7, 0.3})
			for k := 1; k <= 3; k++ {
				checkIntersect(t, ids, k, itemOf)
			}
		})
	}
}

func TestIntersectLarge(t *testing.T) {
	// Enough items for several sort goroutines and many buckets.
	tg := newTestTagger(t)
	ids := randomIDLists(rand.New(rand.NewPCG(6, 7)), 60000, []float64{0.6, 0.5, 0.9})
	checkIntersect(t, ids, 2, tg.tagOnly)
}

func TestIntersectElements(t *testing.T) {
	// The full ECDH pipeline: each party hashes and blinds its own list and
	// the others blind it in turn; the coordinator intersects.
	rng := rand.New(rand.NewPCG(8, 9))
	session := randomSession(t)
	keys := []*Key{newTestKey(t), newTestKey(t), newTestKey(t)}
	ids := randomIDLists(rng, 120, []float64{0.5, 0.6, 0.7})
	fully := make(map[string]Element)
	for i, l := range ids {
		elems := make([]Element, len(l))
		keys[i].HashAndBlind(elems, l, session)
		for j := 1; j < len(keys); j++ {
			require.NoError(t, keys[(i+j)%len(keys)].Blind(elems, elems))
		}
		for j, id := range l {
			if prev, ok := fully[id]; ok {
				require.Equal(t, prev, elems[j], "parties disagree on %q", id)
			}
			fully[id] = elems[j]
		}
	}
	for k := 1; k <= 3; k++ {
		checkIntersect(t, ids, k, func(id string) Element { return fully[id] })
	}
}

func TestIntersectDuplicates(t *testing.T) {
	a, b, c := Tag{1}, Tag{2}, Tag{3}
	tests := []struct {
		lists [][]Tag
		msg   string
	}{
		{[][]Tag{{a, b}, {c, a, b, c}}, "list 1 holds the same item at positions 0 and 3"},
		{[][]Tag{{a, a}, {b}}, "list 0 holds the same item at positions 0 and 1"},
		{[][]Tag{{b}, {c}, {a, b, c, a}}, "list 2 holds the same item at positions 0 and 3"},
		{[][]Tag{{a, b, b, b}, {b}}, "list 0 holds the same item at positions 1 and 2"},
	}
	for _, tt := range tests {
		for k := 1; k <= len(tt.lists); k++ {
			size, matches, err := Intersect(tt.lists, k)
			require.ErrorIs(t, err, ErrDuplicateItem)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Zero(t, size)
			assert.Nil(t, matches)
		}
	}
	_, _, err := Intersect([][]Element{{{9}, {8}, {9}}, {}}, 1)
	assert.ErrorIs(t, err, ErrDuplicateItem)
}

func TestIntersectArguments(t *testing.T) {
	two := [][]Tag{{{1}}, {{1}}}
	for _, k := range []int{-1, 0, 3} {
		_, _, err := Intersect(two, k)
		assert.Error(t, err, "k=%d", k)
	}
	for _, n := range []int{0, 1, MaxLists + 1} {
		_, _, err := Intersect(make([][]Tag, n), 1)
		assert.Error(t, err, "%d lists", n)
	}
	size, matches, err := Intersect(make([][]Tag, MaxLists), MaxLists)
	require.NoError(t, err)
	assert.Zero(t, size)
	assert.Len(t, matches, MaxLists)
}

func TestSortItemsSkewed(t *testing.T) {
	if testing.Short() {
		t.Skip("sorts over 10⁶ records")
	}
	// All items share their first byte, so the single first-pass bucket is
	// too large for the second radix pass and is comparison sorted.
	rng := rand.New(rand.NewPCG(10, 11))
	lists := make([][]Tag, 2)
	for i := range lists {
		lists[i] = make([]Tag, maxRadixBucket/2+1000)
		for j := range lists[i] {
			x := rng.Uint64()
			lists[i][j] = Tag{0x42, 1: byte(x), 2: byte(x >> 8), 3: byte(x >> 16)}
		}
	}
	off := []int{0, len(lists[0]), len(lists[0]) + len(lists[1])}
	recs := sortItems(lists, off)
	require.Len(t, recs, off[2])
	seen := make([]bool, off[2])
	for j, r := range recs {
		if j > 0 && compareRecords(recs[j-1], r) >= 0 {
			t.Fatalf("records %d and %d out of order", j-1, j)
		}
		i, pos := int(r.ref>>32), int(uint32(r.ref))
		if lists[i][pos] != r.v || seen[off[i]+pos] {
			t.Fatalf("record %d does not match its ref, or repeats it", j)
		}
		seen[off[i]+pos] = true
	}
}
