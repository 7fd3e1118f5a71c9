package psi

import (
	"runtime"

	"filippo.io/edwards25519"
)

// Multi-scalar multiplication Σ c_i·P_i with 64-bit coefficients, by
// Pippenger's bucket method: the coefficients are cut into windows of b
// bits; a point goes into one bucket per window, the one of its digit
// there, at the cost of one addition; each window's buckets are then summed
// with their digits as weights (Σ_d d·B_d as a running sum, 2^(b+1)
// additions), and the windows combined by doubling. A point costs
// ⌈64/b⌉ additions instead of the ~64 doublings and ~16 additions of a
// scalar multiplication.
//
// It is not constant time: which bucket a point goes into, and whether a
// bucket is empty, depend on the coefficients. It is meant for the
// coefficients of the ecdh blinding check, which never leave their owner's
// machine (docs/PROTOCOL.md §10).

const coefBits = 64

// maxWindow bounds the buckets of one accumulator: ⌈64/13⌉·2^13 = 40960
// points, about 8 MB; larger windows save little beyond 10^6 points.
const maxWindow = 13

// msmAcc accumulates Σ c_i·P_i one point at a time, so that points can be
// added as they are computed or decoded, without keeping them. It is not
// safe for concurrent use: each goroutine has its own, and their sums are
// added at the end.
type msmAcc struct {
	window  uint
	windows int
	buckets []*edwards25519.Point // buckets[w<<window | d-1] holds the points with digit d ≥ 1 in window w; nil while empty
}

// bestWindow returns the window width that minimises the additions of an
// accumulator that takes count points: a bucket addition per point and
// window, and 2^(b+1) additions per window to sum the buckets.
func bestWindow(count int) uint {
	best, bestCost := uint(1), uint64(0)
	for b := uint(1); b <= maxWindow; b++ {
		windows := uint64((coefBits + b - 1) / b)
		cost := windows * (uint64(count) + 1<<(b+1))
		if b == 1 || cost < bestCost {
			best, bestCost = b, cost
		}
	}
	return best
}

// newMSMAcc returns an accumulator with the window suited to count points.
func newMSMAcc(count int) *msmAcc {
	return newMSMAccWindow(bestWindow(count))
}

func newMSMAccWindow(b uint) *msmAcc {
	windows := (coefBits + int(b) - 1) / int(b)
	return &msmAcc{
		window:  b,
		windows: windows,
		buckets: make([]*edwards25519.Point, windows<<b),
	}
}

// add adds c·p to the sum. p is not kept: the caller may reuse it.
func (a *msmAcc) add(p *edwards25519.Point, c uint64) {
	mask := uint64(1)<<a.window - 1
	for w := 0; c != 0; w++ {
		if d := c & mask; d != 0 {
			i := w<<a.window | int(d-1)
			if b := a.buckets[i]; b == nil {
				a.buckets[i] = new(edwards25519.Point).Set(p)
			} else {
				b.Add(b, p)
			}
		}
		c >>= a.window
	}
}

// sum returns Σ c_i·P_i over the points added so far.
func (a *msmAcc) sum() *edwards25519.Point {
	total := edwards25519.NewIdentityPoint()
	running, win := new(edwards25519.Point), new(edwards25519.Point)
	for w := a.windows - 1; w >= 0; w-- {
		for range a.window {
			total.Add(total, total)
		}
		// Σ_d d·B_d = Σ_d (B_d + B_{d+1} + … ): add the running sum of
		// the buckets from the top digit down.
		running.Set(edwards25519.NewIdentityPoint())
		win.Set(running)
		bs := a.buckets[w<<a.window : (w+1)<<a.window]
		top := len(bs) - 1
		for top >= 0 && bs[top] == nil {
			top--
		}
		for d := top; d >= 0; d-- {
			if bs[d] != nil {
				running.Add(running, bs[d])
			}
			win.Add(win, running)
		}
		total.Add(total, win)
	}
	return total
}

// merge adds the sums of accumulators (nil ones are skipped).
func mergeSums(sums []*edwards25519.Point) *edwards25519.Point {
	total := edwards25519.NewIdentityPoint()
	for _, s := range sums {
		if s != nil {
			total.Add(total, s)
		}
	}
	return total
}

// msmChunk is the fewest points a goroutine of multiScalarMul takes: below
// it the extra buckets to sum cost more than the cores save.
const msmChunk = 1 << 11

// multiScalarMul returns Σ coef[i]·points[i], the points split over
// GOMAXPROCS goroutines, each with its own buckets. It panics if the
// lengths differ.
func multiScalarMul(points []*edwards25519.Point, coef []uint64) *edwards25519.Point {
	if len(points) != len(coef) {
		panic("psi: multiScalarMul with mismatched lengths")
	}
	w := numWorkers(len(points), msmChunk)
	sums := make([]*edwards25519.Point, w)
	runChunks(len(points), w, func(c, lo, hi int) {
		acc := newMSMAcc(hi - lo)
		for i := lo; i < hi; i++ {
			acc.add(points[i], coef[i])
		}
		sums[c] = acc.sum()
	})
	return mergeSums(sums)
}

// perWorker is how many of n points one of the GOMAXPROCS goroutines that
// share them gets, about: what its accumulator's window is chosen for.
func perWorker(n int) int {
	return n/runtime.GOMAXPROCS(0) + 1
}
