package extjoin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/bench"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/internal/extjoin"
)

// tableSource yields a Table's rows.
type tableSource struct {
	t    *maskshare.Table
	row  int
	vals []int64
}

func newTableSource(t *maskshare.Table) *tableSource {
	return &tableSource{t: t, vals: make([]int64, len(t.Values))}
}

func (s *tableSource) Next() (string, []int64, error) {
	if s.row >= s.t.Len() {
		return "", nil, io.EOF
	}
	for c := range s.vals {
		s.vals[c] = s.t.Values[c][s.row]
	}
	s.row++
	return s.t.IDs[s.row-1], s.vals, nil
}

func sources(tables []*maskshare.Table) []maskshare.Source {
	srcs := make([]maskshare.Source, len(tables))
	for i, t := range tables {
		srcs[i] = newTableSource(t)
	}
	return srcs
}

type record struct {
	held uint64
	sums []int64
}

// collect runs JoinHeld and returns its records by identifier, failing on an
// identifier emitted twice.
func collect(t *testing.T, dir string, srcs []maskshare.Source, cols, k, partitions int) (map[string]record, *extjoin.Stats) {
	t.Helper()
	got := map[string]record{}
	st, err := extjoin.JoinHeld(context.Background(), dir, srcs, cols, k, partitions, func(id string, held uint64, sums []int64) error {
		if _, dup := got[id]; dup {
			return fmt.Errorf("%q emitted twice", id)
		}
		got[id] = record{held, slices.Clone(sums)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("files left in %s: %v", dir, left)
	}
}

// TestJoinAgrees compares the join, record by record, with demo.Join and
// its size and totals with bench.PlaintextJoin, over random tables, k from 1
// to n, one and several partitions, with and without spaces around
// identifiers; and checks that every partition file is gone afterwards.
func TestJoinAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 12 {
		n := 2 + rng.IntN(4)
		customers := 1 + rng.IntN(400)
		overlap := rng.Float64()
		tables := demo.Generate(uint64(trial), n, customers, overlap, 3)
		padded := trial%3 == 2
		if padded {
			for _, tb := range tables {
				for r := range tb.IDs {
					tb.IDs[r] = strings.Repeat(" ", rng.IntN(3)) + tb.IDs[r] + strings.Repeat("\t", rng.IntN(2))
				}
			}
		}
		want := demo.Join(tables)
		for k := 1; k <= n; k++ {
			for _, partitions := range []int{1, 7, 0} {
				dir := t.TempDir()
				got, st := collect(t, dir, sources(tables), 3, k, partitions)
				assertEmpty(t, dir)
				name := fmt.Sprintf("trial %d (n=%d, %d customers, padded %v), k=%d, %d partitions", trial, n, customers, padded, k, partitions)
				size, totals := 0, make([]int64, 3)
				for id, a := range want {
					if a.Holders < k {
						continue
					}
					size++
					for c := range totals {
						totals[c] += a.Sums[c]
					}
					r, ok := got[id]
					if !ok {
						t.Fatalf("%s: %q missing", name, id)
					}
					var held uint64
					for i, tb := range tables {
						for _, x := range tb.IDs {
							if strings.TrimSpace(x) == id {
								held |= 1 << i
							}
						}
					}
					if r.held != held || !slices.Equal(r.sums, a.Sums) {
						t.Fatalf("%s: %q held %b sums %v, demo.Join %b %v", name, id, r.held, r.sums, held, a.Sums)
					}
				}
				if len(got) != size || st.Size != int64(size) || !slices.Equal(st.Totals, totals) {
					t.Fatalf("%s: %d records (stats %d, totals %v), demo.Join %d (%v)", name, len(got), st.Size, st.Totals, size, totals)
				}
				for i, tb := range tables {
					if st.Rows[i] != int64(tb.Len()) {
						t.Fatalf("%s: input %d read %d rows of %d", name, i, st.Rows[i], tb.Len())
					}
				}
				if !padded {
					psize, psums := bench.PlaintextJoin(tables, k)
					ptotals := make([]int64, 3)
					for r := range psize {
						for c := range ptotals {
							ptotals[c] += psums[r*3+c]
						}
					}
					if int64(psize) != st.Size || !slices.Equal(ptotals, st.Totals) {
						t.Fatalf("%s: size %d totals %v, bench.PlaintextJoin %d %v", name, st.Size, st.Totals, psize, ptotals)
					}
				}
			}
		}
	}
}

// TestJoinStream joins demo.Stream sources (partition count chosen from
// their lengths) and compares with demo.Join over the same rows read into
// tables; the sums wrap around like the in-memory join's.
func TestJoinStream(t *testing.T) {
	const banks, customers, cols = 4, 5000, 3
	streams := make([]maskshare.Source, banks)
	tables := make([]*maskshare.Table, banks)
	for b := range banks {
		streams[b] = demo.Stream(9, b, banks, customers, 0.2, cols)
		var err error
		if tables[b], err = maskshare.ReadTable(context.Background(), demo.Stream(9, b, banks, customers, 0.2, cols), cols); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var digest extjoin.Digest
	st, err := extjoin.Join(context.Background(), dir, streams, cols, 2, 0, func(id string, holders int, sums []int64) error {
		digest.Add(id, holders, sums)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, dir)
	var want extjoin.Digest
	size := 0
	for id, a := range demo.Join(tables) {
		if a.Holders >= 2 {
			want.Add(id, a.Holders, a.Sums)
			size++
		}
	}
	if st.Size != int64(size) || digest != want {
		t.Fatalf("stream join: %d records, digest %v; demo.Join %d, %v", st.Size, digest, size, want)
	}
	if st.Partitions != 1 || st.Method == "" {
		t.Errorf("20,000 rows: %d partitions, method %q", st.Partitions, st.Method)
	}
}

func TestJoinDuplicate(t *testing.T) {
	for _, ids := range [][]string{{"a", "b", "a"}, {"x", " x"}} {
		tb := maskshare.NewTable(1)
		for _, id := range ids {
			tb.AddRow(id, 1)
		}
		other := maskshare.NewTable(1)
		other.AddRow("b", 2)
		dir := t.TempDir()
		_, err := extjoin.Join(context.Background(), dir, sources([]*maskshare.Table{other, tb}), 1, 1, 3, nil)
		if !errors.Is(err, extjoin.ErrDuplicate) {
			t.Errorf("%q: %v, want ErrDuplicate", ids, err)
		}
		assertEmpty(t, dir)
	}
}

// cancelSource cancels ctx after `after` rows.
type cancelSource struct {
	maskshare.Source
	after  int
	cancel context.CancelFunc
}

func (s *cancelSource) Next() (string, []int64, error) {
	if s.after--; s.after == 0 {
		s.cancel()
	}
	return s.Source.Next()
}

// TestJoinCancel cancels while partitioning and while joining: Join returns
// the context's error and leaves no file behind.
func TestJoinCancel(t *testing.T) {
	tables := demo.Generate(3, 3, 20000, 0.5, 3)
	ctx, cancel := context.WithCancel(context.Background())
	srcs := sources(tables)
	srcs[1] = &cancelSource{srcs[1], 10000, cancel}
	dir := t.TempDir()
	if _, err := extjoin.Join(ctx, dir, srcs, 3, 2, 16, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while partitioning: %v", err)
	}
	assertEmpty(t, dir)

	ctx, cancel = context.WithCancel(context.Background())
	emitted := 0
	_, err := extjoin.Join(ctx, dir, sources(tables), 3, 2, 16, func(string, int, []int64) error {
		emitted++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while joining: %v", err)
	}
	assertEmpty(t, dir)
	if emitted == 0 {
		t.Error("nothing emitted before the cancellation")
	}
}

type failSource struct{}

func (failSource) Next() (string, []int64, error) { return "", nil, errors.New("disk on fire") }

func TestJoinErrors(t *testing.T) {
	tables := demo.Generate(4, 2, 10, 0.5, 3)
	dir := t.TempDir()
	for _, c := range []struct {
		srcs          []maskshare.Source
		cols, k, part int
	}{
		{nil, 3, 1, 1},
		{sources(tables), 3, 0, 1},
		{sources(tables), -1, 1, 1},
		{sources(tables), 3, 1, extjoin.MaxPartitions + 1},
		{make([]maskshare.Source, extjoin.MaxInputs+1), 3, 1, 1},
	} {
		if _, err := extjoin.Join(context.Background(), dir, c.srcs, c.cols, c.k, c.part, nil); !errors.Is(err, extjoin.ErrArgs) {
			t.Errorf("%d inputs, cols %d, k %d, %d partitions: %v", len(c.srcs), c.cols, c.k, c.part, err)
		}
	}
	if _, err := extjoin.Join(context.Background(), dir, sources(tables), 2, 1, 1, nil); !errors.Is(err, extjoin.ErrArgs) {
		t.Errorf("rows of 3 values for 2 columns: %v", err)
	}
	if _, err := extjoin.Join(context.Background(), dir, []maskshare.Source{newTableSource(tables[0]), failSource{}}, 3, 1, 1, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("failing source: %v", err)
	}
	stop := errors.New("stop")
	if _, err := extjoin.Join(context.Background(), dir, sources(tables), 3, 1, 2, func(string, int, []int64) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("emit's error: %v", err)
	}
	assertEmpty(t, dir)
}

func TestPartitionsFor(t *testing.T) {
	for _, c := range []struct {
		rows int64
		want int
	}{{0, 1}, {1, 1}, {1 << 20, 1}, {1<<20 + 1, 2}, {9e8, 859}, {1 << 40, extjoin.MaxPartitions}} {
		if got := extjoin.PartitionsFor(c.rows); got != c.want {
			t.Errorf("PartitionsFor(%d) = %d, want %d", c.rows, got, c.want)
		}
	}
}

func TestDigest(t *testing.T) {
	type rec struct {
		id      string
		holders int
		sums    []int64
	}
	recs := []rec{{"a", 2, []int64{1, 2}}, {"b", 3, []int64{-5, 0}}, {"c", 2, []int64{0, 0}}, {"", 1, nil}}
	digest := func(rs []rec) extjoin.Digest {
		var d extjoin.Digest
		for _, r := range rs {
			d.Add(r.id, r.holders, r.sums)
		}
		return d
	}
	d := digest(recs)
	if d == (extjoin.Digest{}) {
		t.Fatal("zero digest of four records")
	}
	rev := slices.Clone(recs)
	slices.Reverse(rev)
	if digest(rev) != d {
		t.Error("the digest depends on the order")
	}
	var merged extjoin.Digest
	for _, r := range recs {
		merged.Merge(extjoin.Record(r.id, r.holders, r.sums))
	}
	if merged != d {
		t.Error("Merge of Records differs from Add")
	}
	for name, changed := range map[string][]rec{
		"id":          {{"a ", 2, []int64{1, 2}}, recs[1], recs[2], recs[3]},
		"holders":     {{"a", 3, []int64{1, 2}}, recs[1], recs[2], recs[3]},
		"sum":         {{"a", 2, []int64{1, 3}}, recs[1], recs[2], recs[3]},
		"columns":     {{"a", 2, []int64{1, 2, 0}}, recs[1], recs[2], recs[3]},
		"dropped":     recs[:3],
		"duplicated":  append(slices.Clone(recs), recs[0]),
		"id and sums": {{"a\x01", 2, []int64{2}}, recs[1], recs[2], recs[3]},
	} {
		if digest(changed) == d {
			t.Errorf("changing the %s leaves the digest unchanged", name)
		}
	}
	if len(d.String()) != 64 {
		t.Errorf("String() = %q", d.String())
	}
}

func ExampleJoin() {
	a, b, c := maskshare.NewTable(1), maskshare.NewTable(1), maskshare.NewTable(1)
	a.AddRow("alice", 10)
	a.AddRow("bob", 20)
	b.AddRow(" alice", 1)
	b.AddRow("carol", 2)
	c.AddRow("alice", 100)
	c.AddRow("carol", 200)
	c.AddRow("dave", 300)
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	st, err := extjoin.Join(context.Background(), dir, sources([]*maskshare.Table{a, b, c}), 1, 2, 1, func(id string, holders int, sums []int64) error {
		fmt.Println(id, holders, sums)
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("records:", st.Size, "totals:", st.Totals, "rows:", st.Rows)
	// Output:
	// alice 3 [111]
	// carol 2 [202]
	// records: 2 totals: [313] rows: [2 2 3]
}

// BenchmarkJoin joins 3 generated inputs of 2 × 10^6 rows each (3 columns,
// half of each bank common) into PartitionsFor's count of partitions,
// generation included; rows/s counts rows read.
func BenchmarkJoin(b *testing.B) {
	const banks, customers = 3, 2_000_000
	dir := b.TempDir()
	var st *extjoin.Stats
	for b.Loop() {
		srcs := make([]maskshare.Source, banks)
		for i := range srcs {
			srcs[i] = demo.Stream(1, i, banks, customers, 0.5, 3)
		}
		var err error
		if st, err = extjoin.Join(context.Background(), dir, srcs, 3, 2, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*banks*customers/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(st.Partitions), "partitions")
	b.ReportMetric(float64(st.Size), "records")
}

func BenchmarkDigest(b *testing.B) {
	var d extjoin.Digest
	sums := []int64{12345678, 3, 1}
	for b.Loop() {
		d.Add("DE20-CUST-000123456", 2, sums)
	}
}
