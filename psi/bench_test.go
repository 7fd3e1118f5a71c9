package psi

import (
	"crypto/rand"
	"fmt"
	"testing"
)

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("DE%020d", i) // IBAN-sized
	}
	return ids
}

// reportPerItem adds the wall-clock time per item across all cores.
func reportPerItem(b *testing.B, items int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(items), "ns/item")
}

func BenchmarkTag(b *testing.B) {
	tg := newTestTagger(b)
	id := benchIDs(1)[0]
	b.SetBytes(int64(len(id)))
	b.ReportAllocs()
	for b.Loop() {
		tg.Tag(id)
	}
}

func BenchmarkTagAll(b *testing.B) {
	const n = 100_000
	tg := newTestTagger(b)
	ids := benchIDs(n)
	dst := make([]Tag, n)
	secrets := make([]Secret, n)
	b.SetBytes(int64(n * len(ids[0])))
	b.ReportAllocs()
	for b.Loop() {
		tg.TagAll(dst, secrets, ids)
	}
	reportPerItem(b, n)
}

func BenchmarkHashAndBlind(b *testing.B) {
	const n = 10_000
	k := newTestKey(b)
	ids := benchIDs(n)
	dst := make([]Element, n)
	session := randomSession(b)
	b.SetBytes(int64(n * len(ids[0])))
	b.ReportAllocs()
	for b.Loop() {
		k.HashAndBlind(dst, ids, session)
	}
	reportPerItem(b, n)
}

func BenchmarkBlind(b *testing.B) {
	const n = 10_000
	k := newTestKey(b)
	src := randomElements(b, n)
	dst := make([]Element, n)
	b.SetBytes(n * ElementSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Blind(dst, src); err != nil {
			b.Fatal(err)
		}
	}
	reportPerItem(b, n)
}

// benchLists returns n lists of size random items of which the first half
// is common to all lists, each list in its own order.
func benchLists[T Tag | Element](b testing.TB, n, size int) [][]T {
	common := make([]T, size/2)
	for i := range common {
		common[i] = randomItem[T](b)
	}
	lists := make([][]T, n)
	for i := range lists {
		l := make([]T, size)
		copy(l, common)
		for j := len(common); j < size; j++ {
			l[j] = randomItem[T](b)
		}
		for j := len(l) - 1; j > 0; j-- { // any fixed permutation will do
			r := (j*7919 + i*104729) % (j + 1)
			l[j], l[r] = l[r], l[j]
		}
		lists[i] = l
	}
	return lists
}

func randomItem[T Tag | Element](b testing.TB) T {
	var x T
	switch p := any(&x).(type) {
	case *Tag:
		_, _ = rand.Read(p[:])
	case *Element:
		_, _ = rand.Read(p[:])
	}
	return x
}

func benchIntersect[T Tag | Element](b *testing.B, n, size int) {
	lists := benchLists[T](b, n, size)
	var x T
	b.SetBytes(int64(n * size * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := Intersect(lists, n)
		if err != nil || got != size/2 {
			b.Fatalf("Intersect = %d, %v; want %d", got, err, size/2)
		}
	}
	reportPerItem(b, n*size)
}

func BenchmarkIntersect(b *testing.B) {
	b.Run("tags/3x1e5", func(b *testing.B) { benchIntersect[Tag](b, 3, 100_000) })
	b.Run("elements/3x1e5", func(b *testing.B) { benchIntersect[Element](b, 3, 100_000) })
	b.Run("tags/3x1e6", func(b *testing.B) { benchIntersect[Tag](b, 3, 1_000_000) })
}
