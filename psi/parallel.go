package psi

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// numWorkers returns how many goroutines should share n items so that each
// gets at least minChunk of them, at most GOMAXPROCS.
func numWorkers(n, minChunk int) int {
	w := runtime.GOMAXPROCS(0)
	if m := n / max(minChunk, 1); m < w {
		w = m
	}
	return max(w, 1)
}

// runChunks splits [0, n) into w contiguous chunks of near-equal size and
// calls fn(c, lo, hi) for the c-th chunk [lo, hi), concurrently. The calling
// goroutine takes chunk 0, so w = 1 costs no goroutine at all.
func runChunks(n, w int, fn func(c, lo, hi int)) {
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for c := 1; c < w; c++ {
		lo, hi := c*n/w, (c+1)*n/w
		go func() {
			defer wg.Done()
			fn(c, lo, hi)
		}()
	}
	fn(0, 0, n/w)
	wg.Wait()
}

// forChunks calls fn on the chunks of [0, n) chosen by numWorkers.
func forChunks(n, minChunk int, fn func(lo, hi int)) {
	runChunks(n, numWorkers(n, minChunk), func(_, lo, hi int) { fn(lo, hi) })
}

// runDynamic hands out consecutive chunks of [0, n) of at most chunk items
// to GOMAXPROCS goroutines, each taking the next chunk when done with one:
// it runs work(g, next) on goroutines g = 0, 1, … (fewer than GOMAXPROCS),
// which keep state of their own (keys, buckets), and next hands out the
// chunks, reporting false when none is left. Unlike forChunks, whose
// goroutines get equal shares up front, the goroutines then end within a
// chunk of each other even when they do not get equal shares of the CPU:
// with several parties blinding at once in one process, a share left to
// one goroutine at the end would leave cores idle.
func runDynamic(n, chunk int, work func(g int, next func() (lo, hi int, ok bool))) {
	chunks := (n + chunk - 1) / chunk
	var taken atomic.Int64
	next := func() (int, int, bool) {
		c := int(taken.Add(1) - 1)
		if c >= chunks {
			return 0, 0, false
		}
		return c * chunk, min((c+1)*chunk, n), true
	}
	runChunks(chunks, min(runtime.GOMAXPROCS(0), chunks), func(g, _, _ int) { work(g, next) })
}
