package maskshare

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// gather permutes in place as a copy would.
func TestGatherInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 3, 63, 64, 65, 1000} {
		for trial := range 5 {
			order := make([]int32, n)
			for i := range order {
				order[i] = int32(i)
			}
			if trial > 0 { // trial 0 is the identity
				rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
			}
			v := make([]int, n)
			for i := range v {
				v[i] = 1000 + i
			}
			want := make([]int, n)
			for i, k := range order {
				want[i] = v[k]
			}
			gather(v, order)
			if !slices.Equal(v, want) {
				t.Fatalf("n=%d trial %d: %v, want %v", n, trial, v, want)
			}
		}
	}
}
