package psi

import (
	"runtime"
	"sync"
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
