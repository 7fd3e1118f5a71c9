// Command multibank runs maskshare's demo in one process: several banks with
// generated customer tables find the customers they have in common and what
// those customers owe across all banks, without showing one another their
// customer lists or figures. It prints the common dataset's summary and
// checks every bank's result against a plaintext join of the same tables.
//
//	go run ./examples/multibank [-banks 3] [-customers 20000] [-mode keyed|ecdh] [-k 0]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
)

func main() {
	banks := flag.Int("banks", 3, "number of banks")
	customers := flag.Int("customers", 20000, "customers per bank")
	overlap := flag.Float64("overlap", 0.5, "share of each bank's customers that all banks have")
	modeName := flag.String("mode", "keyed", "PSI mode: keyed or ecdh")
	k := flag.Int("k", 0, "keep customers held by at least k banks (0: all banks)")
	seed := flag.Uint64("seed", 1, "seed of the generated data")
	flag.Parse()
	if *banks < 2 || *customers < 1 || *overlap < 0 || *overlap > 1 {
		fmt.Fprintln(os.Stderr, "multibank: need at least 2 banks and 1 customer, and overlap in [0, 1]")
		os.Exit(2)
	}
	var mode maskshare.PSIMode
	if err := mode.UnmarshalText([]byte(*modeName)); err != nil {
		log.Fatal(err)
	}

	params := demo.Params(*banks, mode, *k)
	tables := demo.Generate(*seed, *banks, *customers, *overlap, len(params.Columns))

	start := time.Now()
	results, report, err := maskshare.RunLocal(context.Background(), params, tables, nil)
	if err != nil {
		log.Fatalf("multibank: %v", err)
	}
	demo.Summary(os.Stdout, params, tables, results, report, time.Since(start))

	if err := demo.Verify(params, tables, results); err != nil {
		fmt.Fprintln(os.Stderr, "multibank: verification against the plaintext join FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("verified: every bank's result equals the plaintext join and sum")
}
