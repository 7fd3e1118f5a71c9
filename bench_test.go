package maskshare

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSession runs whole sessions of 3 parties × 100,000 records
// (4 columns, 50% of each party's records common to all) in one process
// over in-memory pipes, and reports the wall time of each phase as
// measured by party 0 (ms/phase) next to the total.
func BenchmarkSession(b *testing.B) {
	for _, mode := range []PSIMode{Keyed, ECDH} {
		for _, records := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%v/records=%d", mode, records), func(b *testing.B) {
				params := testParams(3, 4)
				params.Mode = mode
				tables := benchTables(3, records, 4)
				b.SetBytes(int64(3 * records * (8*4 + 16)))
				b.ReportAllocs()
				b.ResetTimer()
				var res []*Result
				for b.Loop() {
					var err error
					res, _, err = RunLocal(context.Background(), params, tables, nil)
					if err != nil {
						b.Fatal(err)
					}
				}
				for _, p := range res[0].Phases {
					b.ReportMetric(float64(p.Duration.Microseconds())/1000, "ms-"+p.Phase)
				}
			})
		}
	}
}

// benchTables makes n tables of `records` rows, the first half of each
// common to all.
func benchTables(n, records, cols int) []*Table {
	rng := rand.New(rand.NewPCG(42, 42))
	tables := make([]*Table, n)
	for i := range tables {
		t := NewTable(cols)
		vals := make([]int64, cols)
		for r := range records {
			id := fmt.Sprintf("common-%09d", r)
			if r >= records/2 {
				id = fmt.Sprintf("own-%d-%09d", i, r)
			}
			for c := range vals {
				vals[c] = rng.Int64N(1 << 32)
			}
			t.AddRow(id, vals...)
		}
		tables[i] = t
	}
	return tables
}
