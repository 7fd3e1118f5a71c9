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
	for _, mode := range []PSIMode{Keyed, ECDH, OPRF} {
		for n := 2; n <= 4; n++ {
			for k := 2; k <= n; k++ {
				if mode == OPRF && k < n {
					continue // the oprf mode needs k = n
				}
				for _, reveal := range []RevealPolicy{PerRecord, TotalsOnly, CardinalityOnly} {
					for _, rows := range []int{1, 7, 1000} {
						name := fmt.Sprintf("%v/n=%d/k=%d/%v/rows=%d", mode, n, k, reveal, rows)
						twoPass := rows == 7 || reveal == PerRecord && rows == 1
						sub := rng.Uint64()
						t.Run(name, func(t *testing.T) {
							t.Parallel()
							rng := rand.New(rand.NewPCG(sub, 3))
							params := testParams(n, 1+rng.IntN(3))
							params.Mode, params.Threshold, params.Reveal = mode, k, reveal
							params.CoordinatorSeesResult = rng.IntN(2) == 0
							params.BucketRows = rows
							universe := 20 + rng.IntN(60)
							if mode != Keyed {
								universe = 10 + rng.IntN(20)
							}
							tables := genTables(rng, n, len(params.Columns), universe, 1<<40)
							if twoPass {
								// A minimum result size makes two passes;
								// one record every party holds meets it.
								params.MinResultSize = 1
								addCommon(t, tables)
							}
							results, rep := runLocal(t, params, tables)
							checkAgainstOracle(t, params, tables, results, rep)
						})
					}
				}
			}
		}
	}
}

// addCommon gives every table a row of an identifier all of them hold.
func addCommon(t *testing.T, tables []*Table) {
	t.Helper()
	for i, tb := range tables {
		vals := make([]int64, len(tb.Values))
		for c := range vals {
			vals[c] = int64(i + c)
		}
		if err := tb.AddRow("held by every party", vals...); err != nil {
			t.Fatal(err)
		}
	}
}
