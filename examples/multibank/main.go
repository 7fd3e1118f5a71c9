// Command multibank runs maskshare's demo: several banks with generated
// customer tables find the customers they all have and the total of their
// loans across banks, without showing one another their customer lists or
// figures. It prints the common dataset's summary and checks it against a
// plaintext join of the same tables.
//
//	go run ./examples/multibank [-banks 3] [-customers 20000] [-mode keyed|ecdh] [-k 0]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/maskshare/maskshare"
)

func main() {
	banks := flag.Int("banks", 3, "number of banks (2 to 26)")
	customers := flag.Int("customers", 20000, "customers per bank")
	overlap := flag.Float64("overlap", 0.5, "share of a bank's customers drawn from the common pool")
	modeName := flag.String("mode", "keyed", "PSI mode: keyed or ecdh")
	k := flag.Int("k", 0, "threshold: customers at at least k banks (0 means all banks)")
	seed := flag.Uint64("seed", 1, "seed of the generated data")
	flag.Parse()
	if *banks < 2 || *banks > 26 || *customers < 1 || *overlap < 0 || *overlap > 1 {
		fmt.Fprintln(os.Stderr, "multibank: need 2 to 26 banks, at least one customer, overlap in [0, 1]")
		os.Exit(2)
	}
	var mode maskshare.PSIMode
	if err := mode.UnmarshalText([]byte(*modeName)); err != nil {
		log.Fatal(err)
	}

	params := maskshare.Params{
		Columns: []maskshare.Column{
			{Name: "balance", Type: maskshare.Decimal, Scale: 2}, // cents
			{Name: "loans", Type: maskshare.Int64},
			{Name: "overdue", Type: maskshare.Int64},
		},
		Mode:      mode,
		Threshold: *k,
	}
	for i := range *banks {
		params.Parties = append(params.Parties, "bank-"+string(rune('a'+i)))
	}
	tables := generate(*seed, *banks, *customers, *overlap)

	start := time.Now()
	results, report, err := maskshare.RunLocal(context.Background(), params, tables, nil)
	if err != nil {
		log.Fatalf("multibank: %v", err)
	}
	elapsed := time.Since(start)

	kk := *k
	if kk == 0 {
		kk = *banks
	}
	fmt.Printf("maskshare demo: %d banks, %d customers each, %v mode, k=%d\n", *banks, *customers, mode, kk)
	for i, t := range tables {
		fmt.Printf("  %s holds %d customers; %d of them qualify\n", params.Parties[i], t.Len(), len(results[i].Records))
	}
	res := results[0]
	fmt.Printf("common dataset: %d customers (computed in %v)\n", res.Size, elapsed.Round(time.Millisecond))
	fmt.Printf("  total balance across banks: %s\n", maskshare.FormatDecimal(res.Totals[0], 2))
	fmt.Printf("  total loans: %d, overdue: %d\n", res.Totals[1], res.Totals[2])
	fmt.Printf("  first records as %s sees them:\n", params.Parties[0])
	for _, r := range res.Records[:min(5, len(res.Records))] {
		fmt.Printf("    %-14s balance %14s  loans %2d  overdue %d  banks %d\n", r.ID,
			maskshare.FormatDecimal(r.Values[0], 2), r.Values[1], r.Values[2], r.Holders)
	}
	fmt.Printf("  the coordinator saw set sizes %v and the result size %d, no identifier and no figure\n", report.SetSizes, report.Size)

	if err := verify(params, tables, results); err != nil {
		fmt.Fprintln(os.Stderr, "multibank: verification against the plaintext join FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("verified: every bank's result equals the plaintext join-and-sum")
}

// generate makes the banks' tables: a pool of common customers each bank
// draws from, plus customers of its own.
func generate(seed uint64, banks, customers int, overlap float64) []*maskshare.Table {
	rng := rand.New(rand.NewPCG(seed, 0x6d61736b))
	common := int(float64(customers) * overlap)
	tables := make([]*maskshare.Table, banks)
	for b := range tables {
		t := maskshare.NewTable(3)
		for c := range customers {
			var id string
			if c < common {
				id = fmt.Sprintf("DE%02d-CUST-%07d", 10, c) // in every bank's pool
			} else {
				id = fmt.Sprintf("DE%02d-CUST-%07d", 11+b, c)
			}
			balance := rng.Int64N(50_000_000) // up to 500,000.00 in cents
			loans := 1 + rng.Int64N(4)
			overdue := int64(0)
			if rng.IntN(10) == 0 {
				overdue = 1
			}
			t.AddRow(id, balance, loans, overdue)
		}
		// A bank's table is in no particular order.
		rng.Shuffle(t.Len(), func(i, j int) {
			t.IDs[i], t.IDs[j] = t.IDs[j], t.IDs[i]
			for _, col := range t.Values {
				col[i], col[j] = col[j], col[i]
			}
		})
		tables[b] = t
	}
	return tables
}

// verify recomputes the result with a plaintext join and compares.
func verify(params maskshare.Params, tables []*maskshare.Table, results []*maskshare.Result) error {
	k := params.Threshold
	if k == 0 {
		k = len(tables)
	}
	type agg struct {
		holders int
		sums    []int64
	}
	join := map[string]*agg{}
	for _, t := range tables {
		for r, id := range t.IDs {
			a := join[id]
			if a == nil {
				a = &agg{sums: make([]int64, len(t.Values))}
				join[id] = a
			}
			a.holders++
			for c, col := range t.Values {
				a.sums[c] += col[r]
			}
		}
	}
	totals := make([]int64, len(params.Columns))
	size := 0
	for _, a := range join {
		if a.holders >= k {
			size++
			for c := range totals {
				totals[c] += a.sums[c]
			}
		}
	}
	for i, res := range results {
		if res.Size != size || !slices.Equal(res.Totals, totals) {
			return fmt.Errorf("%s: size %d totals %v, plaintext %d %v", params.Parties[i], res.Size, res.Totals, size, totals)
		}
		for _, r := range res.Records {
			a := join[strings.TrimSpace(r.ID)]
			if a == nil || a.holders < k || a.holders != r.Holders || !slices.Equal(a.sums, r.Values) {
				return fmt.Errorf("%s: record %s differs from the plaintext join", params.Parties[i], r.ID)
			}
		}
	}
	return nil
}
