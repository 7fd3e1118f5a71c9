package maskshare_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
)

type countWriter struct{ n int64 }

func (w *countWriter) WriteRecord(*maskshare.Record) error { w.n++; return nil }

// BenchmarkBucketedSession runs a keyed bucketed session of three spooled
// parties in one process (MASKSHARE_BENCH_RECORDS rows each, default
// 200,000; MASKSHARE_BENCH_BUCKET rows per bucket, default 2^16). The
// tables are spooled once, outside the timing. Whole-system figures, with
// each participant in its own process, come from maskshare bench -stream.
func BenchmarkBucketedSession(b *testing.B) {
	records := envInt("MASKSHARE_BENCH_RECORDS", 200_000)
	params := maskshare.Params{
		Parties:    []string{"bank-a", "bank-b", "bank-c"},
		Columns:    []maskshare.Column{{Name: "balance", Type: maskshare.Int64}},
		BucketRows: envInt("MASKSHARE_BENCH_BUCKET", 1<<16),
	}
	spools := make([]*maskshare.Spool, 3)
	for i := range spools {
		var err error
		if spools[i], err = maskshare.SpoolTable(context.Background(), b.TempDir(), demo.Stream(1, i, 3, records, 0.5, 1), 1); err != nil {
			b.Fatal(err)
		}
	}
	cfg := &maskshare.Config{InsecureNoIdentities: true}
	b.SetBytes(int64(3 * records))
	b.ReportAllocs()
	for b.Loop() {
		coord, err := maskshare.NewCoordinator(params, cfg)
		if err != nil {
			b.Fatal(err)
		}
		coordEnds := make([]transport.Conn, 3)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range 3 {
			var end transport.Conn
			coordEnds[i], end = transport.Pipe()
			p, err := maskshare.NewSpooledParty(params.Parties[i], params, spools[i], &countWriter{}, cfg)
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() { _, errs[i] = p.Run(context.Background(), end) })
		}
		_, errs[3] = coord.Run(context.Background(), coordEnds)
		wg.Wait()
		if err := maskshare.Cause(errs...); err != nil {
			b.Fatal(err)
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
