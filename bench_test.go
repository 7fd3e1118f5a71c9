package maskshare

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/share"
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

// BenchmarkMaskAggregate measures masking and aggregation on their own,
// through the engine's own code: every party builds and masks its vector
// (maskedVector), the coordinator adds the vectors as they arrive on the
// wire (AddLE), every party removes the output mask (unmask). Parties run
// one after another, each on all cores, as they would on machines of their
// own. In the same run it measures the floor the target is stated against:
// AES-256-CTR key stream plus one addition for every word the protocol
// expands, on all cores. x-floor is the ratio (target: ≤ 2).
func BenchmarkMaskAggregate(b *testing.B) {
	const n, cols = 3, 4
	for _, size := range []int{100_000, 555_653} {
		b.Run(fmt.Sprintf("n=%d/cols=%d/records=%d", n, cols, size), func(b *testing.B) {
			parties := maskBenchParties(n, cols, size)
			// Words the protocol expands: each party 2(n−1) part streams
			// and 2 mask streams per column, over a word per record and
			// one for the total; and the record masks (an AES block per
			// two words, like the streams), derived by every holder to
			// remove them and by the designated holder to add them.
			words := int64(n*(2*(n-1)+2))*cols*int64(size+1) + cols*int64(n*size+size)
			b.SetBytes(words * 8)
			b.ReportAllocs()
			sum := make([]uint64, cols*(size+1))
			reveal := &wire.Reveal{Totals: make([]uint64, cols), Count: uint32(size), Values: make([]uint64, cols*size)}
			// elapsed adds up the masking and aggregation work only, not
			// the wire encoding between them (the transport's cost).
			var elapsed time.Duration
			for b.Loop() {
				clear(sum)
				for _, s := range parties {
					start := time.Now()
					v := s.maskedVector()
					elapsed += time.Since(start)
					enc := (&wire.Masked{Columns: cols, Size: uint32(size + 1), Words: v}).Encode()
					_, _, body, err := wire.MaskedWords(enc)
					if err != nil {
						b.Fatal(err)
					}
					start = time.Now()
					mask.AddLE(sum, body)
					elapsed += time.Since(start)
				}
				start := time.Now()
				for _, s := range parties {
					s.unmask(reveal)
				}
				elapsed += time.Since(start)
			}
			perWord := float64(elapsed.Nanoseconds()) / float64(int64(b.N)*words)
			floor := aesAddFloor(words)
			for range 2 { // the fastest of three: the floor is what the machine can do
				floor = min(floor, aesAddFloor(words))
			}
			b.ReportMetric(perWord, "ns/word")
			b.ReportMetric(floor, "floor-ns/word")
			b.ReportMetric(perWord/floor, "x-floor")
		})
	}
}

// maskBenchParties returns n party sessions of a k = n session whose
// qualifying records are the first size rows of each party's table.
func maskBenchParties(n, cols, size int) []*partySession {
	params := testParams(n, cols)
	sid := [32]byte{1, 2, 3}
	parties := make([]*partySession, n)
	for i := range parties {
		t := NewTable(cols)
		for c := range t.Values {
			t.Values[c] = make([]int64, size)
		}
		s := &partySession{Party: &Party{index: i, params: params, table: t}, sid: sid, n: n, cols: cols, size: size}
		s.partsOut, _ = share.NewSeeds(n, i)
		s.partsIn, _ = share.NewSeeds(n, i)
		s.maskSeeds = mask.MaskSeeds{Plus: mask.NewSeed(), Minus: mask.NewSeed()}
		// As in a session: positions (tag order) and canonical indexes
		// are random against each other and against table rows.
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		s.order = make([]int32, size)
		s.matches = make([]wire.MatchEntry, size)
		s.posOf = make([]int32, size)
		s.rows = make([]int32, size)
		for r := range size {
			s.order[r] = int32(r)
			s.posOf[r] = int32(r)
		}
		rng.Shuffle(size, func(a, b int) { s.order[a], s.order[b] = s.order[b], s.order[a] })
		rng.Shuffle(size, func(a, b int) { s.posOf[a], s.posOf[b] = s.posOf[b], s.posOf[a] })
		// posOf[j] doubles as the place in the Match (sorted by position).
		s.qualified = make([]psi.Secret, size)
		for j := range size {
			pos := s.posOf[j]
			s.matches[j] = wire.MatchEntry{Pos: uint32(pos), Index: uint32(j), Holders: uint16(n), Designated: j%n == i}
			s.rows[j] = s.order[pos]
			s.qualified[pos][0] = byte(pos)
		}
		parties[i] = s
	}
	return parties
}

// aesAddFloor returns the time per word, on all cores, of producing
// AES-256-CTR key stream and adding it into a vector: the floor of
// masking. It expands `words` words, split over the cores.
func aesAddFloor(words int64) float64 {
	cores := runtime.GOMAXPROCS(0)
	per := int(words) / cores
	start := time.Now()
	var wg sync.WaitGroup
	for range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block, _ := aes.NewCipher(make([]byte, 32))
			ctr := cipher.NewCTR(block, make([]byte, 16))
			var zero, buf [8192]byte
			dst := make([]uint64, 1024)
			for done := 0; done < per; done += len(dst) {
				ctr.XORKeyStream(buf[:], zero[:])
				for i := range dst {
					dst[i] += binary.LittleEndian.Uint64(buf[8*i:])
				}
			}
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(per*cores)
}
