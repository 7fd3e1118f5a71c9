package maskshare

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBucketedOracle runs bucketed sessions (in-memory tables split into
// buckets) across modes, thresholds, policies and bucket sizes, from one
// bucket to more buckets than rows, and checks every result against the
// plaintext join.
func TestBucketedOracle(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(7, seed))
	for _, mode := range []PSIMode{Keyed, ECDH} {
		for n := 2; n <= 4; n++ {
			for k := 2; k <= n; k++ {
				for _, reveal := range []RevealPolicy{PerRecord, TotalsOnly, CardinalityOnly} {
					for _, rows := range []int{1, 7, 1000} {
						name := fmt.Sprintf("%v/n=%d/k=%d/%v/rows=%d", mode, n, k, reveal, rows)
						sub := rng.Uint64()
						t.Run(name, func(t *testing.T) {
							t.Parallel()
							rng := rand.New(rand.NewPCG(sub, 3))
							params := testParams(n, 1+rng.IntN(3))
							params.Mode, params.Threshold, params.Reveal = mode, k, reveal
							params.CoordinatorSeesResult = rng.IntN(2) == 0
							params.BucketRows = rows
							universe := 20 + rng.IntN(60)
							if mode == ECDH {
								universe = 10 + rng.IntN(20)
							}
							tables := genTables(rng, n, len(params.Columns), universe, 1<<40)
							results, rep := runLocal(t, params, tables)
							checkAgainstOracle(t, params, tables, results, rep)
						})
					}
				}
			}
		}
	}
}
