// Command multibank runs maskshare's demo in one process: several banks with
// generated customer tables find the customers they have in common and what
// those customers owe across all banks, without showing one another their
// customer lists or figures. It prints the common dataset's summary and
// checks every bank's result against a plaintext join of the same tables.
//
//	go run ./examples/multibank [-banks 3] [-customers 20000] [-mode keyed|ecdh|oprf] [-k 0]
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
	var opts demo.Options
	opts.Register(flag.CommandLine)
	flag.Parse()
	params, tables, err := opts.Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "multibank:", err)
		os.Exit(2)
	}

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
