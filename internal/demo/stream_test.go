package demo

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
)

type row struct {
	id   string
	vals []int64
}

func drain(t testing.TB, src maskshare.Source) []row {
	t.Helper()
	var rows []row
	for {
		id, vals, err := src.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{id, slices.Clone(vals)})
	}
}

func TestStreamDeterministic(t *testing.T) {
	a := drain(t, Stream(7, 1, 3, 1000, 0.3, 3))
	b := drain(t, Stream(7, 1, 3, 1000, 0.3, 3))
	if len(a) != 1000 || !slices.EqualFunc(a, b, func(x, y row) bool { return x.id == y.id && slices.Equal(x.vals, y.vals) }) {
		t.Fatal("the same seed gave different rows")
	}
	c := drain(t, Stream(8, 1, 3, 1000, 0.3, 3))
	d := drain(t, Stream(7, 2, 3, 1000, 0.3, 3))
	same := func(x, y []row) int {
		n := 0
		for i := range x {
			if x[i].id == y[i].id && slices.Equal(x[i].vals, y[i].vals) {
				n++
			}
		}
		return n
	}
	// Common identifiers are shared in order; the values and the private
	// identifiers must differ with the seed and with the bank.
	if n := same(a, c); n > 10 {
		t.Errorf("seeds 7 and 8 agree on %d rows", n)
	}
	if n := same(a, d); n > 10 {
		t.Errorf("banks 1 and 2 agree on %d rows", n)
	}
	// Private identifiers come from a pool of 2100: two independent
	// permutations agree at a position with probability 1/2100.
	n := 0
	for i, r := range a[300:] {
		if r.id == c[300+i].id {
			n++
		}
	}
	if n > 5 {
		t.Errorf("seeds 7 and 8 give the same private identifier at %d of 700 rows", n)
	}
}

// TestStreamShape checks the identifiers (unique within a bank, the common
// share, the format), the value ranges, and that holder counts across banks
// include 1, 2 and all banks in about the proportions 1/banks predicts.
func TestStreamShape(t *testing.T) {
	const banks, customers, overlap = 3, 30000, 0.25
	common := int(customers * overlap)
	holders := map[string]int{}
	for b := range banks {
		seen := map[string]bool{}
		rows := drain(t, Stream(42, b, banks, customers, overlap, 4))
		if len(rows) != customers {
			t.Fatalf("bank %d: %d rows, want %d", b, len(rows), customers)
		}
		nCommon := 0
		for _, r := range rows {
			if seen[r.id] {
				t.Fatalf("bank %d: identifier %s twice", b, r.id)
			}
			seen[r.id] = true
			holders[r.id]++
			if len(r.id) != 19 || (!strings.HasPrefix(r.id, "DE10-CUST-") && !strings.HasPrefix(r.id, "DE20-CUST-")) {
				t.Fatalf("bank %d: identifier %q", b, r.id)
			}
			if strings.HasPrefix(r.id, "DE10-") {
				nCommon++
			} else if r.id >= "DE20-CUST-000090000" { // pool of (customers − common)·banks
				t.Fatalf("bank %d: private identifier %s outside the pool", b, r.id)
			}
			v := r.vals
			if v[0] < 0 || v[0] >= 50_000_000 || v[1] < 1 || v[1] > 4 || (v[2] != 0 && v[2] != 1) || v[3] < 0 || v[3] >= 1_000_000 {
				t.Fatalf("bank %d: values %v out of range", b, v)
			}
		}
		if nCommon != common {
			t.Errorf("bank %d: %d common identifiers, want %d", b, nCommon, common)
		}
	}
	count := make([]int, banks+1)
	for id, h := range holders {
		if strings.HasPrefix(id, "DE20-") {
			count[h]++
		} else if h != banks {
			t.Errorf("common identifier %s held by %d banks", id, h)
		}
	}
	// Each of the 67,500 private identifiers is held by each bank with
	// probability 1/3: expected 30000, 15000 and 2500 held by 1, 2, 3 banks.
	want := []float64{0, 30000, 15000, 2500}
	for h := 1; h <= banks; h++ {
		if d := float64(count[h]) - want[h]; d*d > 0.05*0.05*want[h]*want[h] {
			t.Errorf("%d private identifiers held by %d banks, expected about %.0f", count[h], h, want[h])
		}
	}
}

func TestFeistelPermutes(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 7, 1000, 4097, 65536} {
		f := newFeistel(n, 99, 3)
		seen := make([]bool, n)
		for x := range n {
			y := f.permute(x)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: π(%d)=%d repeats or is out of range", n, x, y)
			}
			seen[y] = true
		}
	}
}

func TestStreamInvalid(t *testing.T) {
	for _, s := range []maskshare.Source{
		Stream(1, 3, 3, 10, 0.5, 3),
		Stream(1, -1, 3, 10, 0.5, 3),
		Stream(1, 0, 3, 10, 1.5, 3),
		Stream(1, 0, 3, -1, 0.5, 3),
		Stream(1, 0, 3, 700_000_000, 0.5, 3),
	} {
		if _, _, err := s.Next(); err == nil || errors.Is(err, io.EOF) {
			t.Errorf("invalid arguments gave %v", err)
		}
	}
	if _, _, err := Stream(1, 0, 3, 0, 0.5, 3).Next(); err != io.EOF {
		t.Errorf("no customers: %v, want io.EOF", err)
	}
}

func BenchmarkStream(b *testing.B) {
	// No overlap: every row takes the slower path through the permutation.
	src := Stream(1, 0, 3, 300_000_000, 0, 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := src.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
