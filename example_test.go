package maskshare_test

import (
	"context"
	"fmt"
	"log"

	"github.com/maskshare/maskshare"
)

// Three banks find the customers they all have and what those customers
// borrow in total, without showing each other their lists or balances.
func ExampleRunLocal() {
	params := maskshare.Params{
		Parties: []string{"bank-a", "bank-b", "bank-c"},
		Columns: []maskshare.Column{
			{Name: "balance", Type: maskshare.Decimal, Scale: 2},
			{Name: "loans", Type: maskshare.Int64},
		},
	}
	tables := make([]*maskshare.Table, 3)
	for i := range tables {
		tables[i] = maskshare.NewTable(2)
	}
	tables[0].AddRow("alice", 1000_00, 1)
	tables[0].AddRow("bob", 250_50, 2)
	tables[1].AddRow("bob", 99_50, 1)
	tables[1].AddRow("alice", 10_00, 1)
	tables[1].AddRow("carol", 5_00, 1)
	tables[2].AddRow("alice", 1_00, 3)
	tables[2].AddRow("dave", 7_00, 1)

	results, _, err := maskshare.RunLocal(context.Background(), params, tables, nil)
	if err != nil {
		log.Fatal(err)
	}
	res := results[1] // what bank-b learns
	for _, r := range res.Records {
		fmt.Printf("%s: balance %s, loans %d, held by %d banks\n",
			r.ID, maskshare.FormatDecimal(r.Values[0], 2), r.Values[1], r.Holders)
	}
	fmt.Println("common customers:", res.Size)
	// Output:
	// alice: balance 1011.00, loans 5, held by 3 banks
	// common customers: 1
}

// With a threshold below the number of parties, each bank learns, for its
// own customers held by at least k banks, how many banks hold them.
func ExampleParams_threshold() {
	params := maskshare.Params{
		Parties:   []string{"a", "b", "c"},
		Columns:   []maskshare.Column{{Name: "overdue"}},
		Threshold: 2,
		Reveal:    maskshare.TotalsOnly,
	}
	tables := []*maskshare.Table{maskshare.NewTable(1), maskshare.NewTable(1), maskshare.NewTable(1)}
	tables[0].AddRow("x", 1)
	tables[0].AddRow("y", 1)
	tables[1].AddRow("x", 0)
	tables[2].AddRow("y", 2)
	tables[2].AddRow("z", 5)
	results, _, err := maskshare.RunLocal(context.Background(), params, tables, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results[2].Records {
		fmt.Println(r.ID, "held by", r.Holders)
	}
	fmt.Println("total overdue over", results[2].Size, "records:", results[2].Totals[0])
	// Output:
	// y held by 2
	// total overdue over 2 records: 4
}

func ExampleParseDecimal() {
	v, err := maskshare.ParseDecimal("-1234.5", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v, maskshare.FormatDecimal(v, 2))
	// Output: -123450 -1234.50
}
