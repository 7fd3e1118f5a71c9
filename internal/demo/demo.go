// Package demo generates the multi-bank demo's data and checks a session's
// results against a plaintext join of the same tables. The example, the CLI's
// demo command and the benchmark harness share it.
package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/maskshare/maskshare"
)

// Columns are the demo's value columns: a loan balance in cents, a number of
// loans, and an overdue flag.
var Columns = []maskshare.Column{
	{Name: "balance", Type: maskshare.Decimal, Scale: 2},
	{Name: "loans", Type: maskshare.Int64},
	{Name: "overdue", Type: maskshare.Int64},
}

// Params returns the demo session's parameters for banks named bank-a,
// bank-b, … (bank-27 and so on past 26).
func Params(banks int, mode maskshare.PSIMode, k int) maskshare.Params {
	p := maskshare.Params{Columns: Columns, Mode: mode, Threshold: k}
	for i := range banks {
		p.Parties = append(p.Parties, BankName(i))
	}
	return p
}

// BankName names bank i.
func BankName(i int) string {
	if i < 26 {
		return "bank-" + string(rune('a'+i))
	}
	return fmt.Sprintf("bank-%d", i+1)
}

// Generate makes the banks' tables from seed: each bank has `customers`
// customers, a share `overlap` of them from a pool common to all banks, the
// rest drawn at random from a larger pool, so some of them are held by a few
// banks (multi-lender customers) and most by one. Balances are in cents.
func Generate(seed uint64, banks, customers int, overlap float64, cols int) []*maskshare.Table {
	rng := rand.New(rand.NewPCG(seed, 0x6d61736b))
	common := int(float64(customers) * overlap)
	rest := customers - common
	pool := make([]int, rest*banks)
	for i := range pool {
		pool[i] = i
	}
	tables := make([]*maskshare.Table, banks)
	vals := make([]int64, cols)
	for b := range tables {
		t := maskshare.NewTable(cols)
		// A partial Fisher–Yates shuffle picks this bank's own customers.
		for i := range rest {
			j := i + rng.IntN(len(pool)-i)
			pool[i], pool[j] = pool[j], pool[i]
		}
		for c := range customers {
			id := fmt.Sprintf("DE10-CUST-%08d", c)
			if c >= common {
				id = fmt.Sprintf("DE20-CUST-%08d", pool[c-common])
			}
			for v := range vals {
				switch v {
				case 0:
					vals[v] = rng.Int64N(50_000_000) // up to 500,000.00
				case 1:
					vals[v] = 1 + rng.Int64N(4)
				case 2:
					vals[v] = int64(rng.IntN(10) / 9)
				default:
					vals[v] = rng.Int64N(1_000_000)
				}
			}
			t.AddRow(id, vals...)
		}
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

// Aggregate is one record of the plaintext join: how many tables hold the
// identifier and the sum of each column over them.
type Aggregate struct {
	Holders int
	Sums    []int64
}

// Join joins the tables on the (trimmed) identifier in plaintext.
func Join(tables []*maskshare.Table) map[string]*Aggregate {
	join := map[string]*Aggregate{}
	for _, t := range tables {
		for r, id := range t.IDs {
			id = strings.TrimSpace(id)
			a := join[id]
			if a == nil {
				a = &Aggregate{Sums: make([]int64, len(t.Values))}
				join[id] = a
			}
			a.Holders++
			for c, col := range t.Values {
				a.Sums[c] += col[r]
			}
		}
	}
	return join
}

// Verify recomputes the session's result with a plaintext join and sum and
// compares every party's result with it.
func Verify(params maskshare.Params, tables []*maskshare.Table, results []*maskshare.Result) error {
	k := params.Threshold
	if k == 0 {
		k = len(tables)
	}
	join := Join(tables)
	totals := make([]int64, len(params.Columns))
	size := 0
	for _, a := range join {
		if a.Holders >= k {
			size++
			for c := range totals {
				totals[c] += a.Sums[c]
			}
		}
	}
	for i, res := range results {
		if res.Size != size {
			return fmt.Errorf("%s: result size %d, plaintext join %d", params.Parties[i], res.Size, size)
		}
		if params.Reveal == maskshare.CardinalityOnly {
			continue
		}
		if !slices.Equal(res.Totals, totals) {
			return fmt.Errorf("%s: totals %v, plaintext join %v", params.Parties[i], res.Totals, totals)
		}
		held := 0
		for _, id := range tables[i].IDs {
			if join[strings.TrimSpace(id)].Holders >= k {
				held++
			}
		}
		if len(res.Records) != held {
			return fmt.Errorf("%s: %d qualifying records, plaintext join %d", params.Parties[i], len(res.Records), held)
		}
		for _, r := range res.Records {
			a := join[strings.TrimSpace(r.ID)]
			if a == nil || a.Holders < k || a.Holders != r.Holders {
				return fmt.Errorf("%s: record %s should not qualify or has the wrong holder count", params.Parties[i], r.ID)
			}
			if params.Reveal == maskshare.PerRecord && !slices.Equal(a.Sums, r.Values) {
				return fmt.Errorf("%s: record %s sums %v, plaintext join %v", params.Parties[i], r.ID, r.Values, a.Sums)
			}
		}
	}
	return nil
}

// Options describe a demo run; Register binds them to command-line flags.
type Options struct {
	Banks, Customers, K int
	Overlap             float64
	Mode                string
	Seed                uint64
}

// Register defines the demo's flags on fs.
func (o *Options) Register(fs *flag.FlagSet) {
	fs.IntVar(&o.Banks, "banks", 3, "number of banks")
	fs.IntVar(&o.Customers, "customers", 20000, "customers per bank")
	fs.Float64Var(&o.Overlap, "overlap", 0.5, "share of each bank's customers that all banks have")
	fs.StringVar(&o.Mode, "mode", "keyed", "PSI mode: keyed, ecdh or oprf (oprf: all banks, k = 0)")
	fs.IntVar(&o.K, "k", 0, "keep customers held by at least k banks (0: all banks)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the generated data")
}

// Setup checks the options and returns the session parameters and the
// generated tables.
func (o *Options) Setup() (maskshare.Params, []*maskshare.Table, error) {
	if o.Banks < 2 || o.Customers < 1 || o.Overlap < 0 || o.Overlap > 1 {
		return maskshare.Params{}, nil, errors.New("demo: need at least 2 banks and 1 customer, and overlap in [0, 1]")
	}
	var mode maskshare.PSIMode
	if err := mode.UnmarshalText([]byte(o.Mode)); err != nil {
		return maskshare.Params{}, nil, err
	}
	params := Params(o.Banks, mode, o.K)
	return params, Generate(o.Seed, o.Banks, o.Customers, o.Overlap, len(params.Columns)), nil
}

// Summary prints what the banks learned.
func Summary(w io.Writer, params maskshare.Params, tables []*maskshare.Table, results []*maskshare.Result, rep *maskshare.Report, elapsed time.Duration) {
	k := params.Threshold
	if k == 0 {
		k = len(tables)
	}
	fmt.Fprintf(w, "maskshare demo: %d banks, %v mode, records held by at least %d banks\n", len(tables), params.Mode, k)
	for i, t := range tables {
		fmt.Fprintf(w, "  %s holds %d customers; %d of them qualify\n", params.Parties[i], t.Len(), len(results[i].Records))
	}
	res := results[0]
	fmt.Fprintf(w, "common dataset: %d customers (session took %v)\n", res.Size, elapsed.Round(time.Millisecond))
	if res.Totals != nil {
		fmt.Fprintf(w, "  total balance across banks: %s\n", maskshare.FormatDecimal(res.Totals[0], 2))
		fmt.Fprintf(w, "  total loans: %d, overdue: %d\n", res.Totals[1], res.Totals[2])
	}
	if len(res.Records) > 0 && res.Records[0].Values != nil {
		fmt.Fprintf(w, "  first records as %s sees them:\n", params.Parties[0])
		for _, r := range res.Records[:min(5, len(res.Records))] {
			fmt.Fprintf(w, "    %-18s balance %14s  loans %2d  overdue %d  banks %d\n", r.ID,
				maskshare.FormatDecimal(r.Values[0], 2), r.Values[1], r.Values[2], r.Holders)
		}
	}
	if rep != nil {
		fmt.Fprintf(w, "  the coordinator saw set sizes %v and the result size %d: no identifier, no figure\n", rep.SetSizes, rep.Size)
	}
}
