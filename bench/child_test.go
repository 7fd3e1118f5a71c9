package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
)

// childEnv makes the test binary act as a harness child process, so that
// RunChild can be tested without the CLI.
const childEnv = "MASKSHARE_BENCH_CHILD"

// streamChildEnv makes it act as a child of a streaming run (RunStream).
const streamChildEnv = "MASKSHARE_BENCH_STREAM_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if v := os.Getenv(streamChildEnv); v != "" {
		var in io.Reader = os.Stdin
		if v == skewJoin {
			in = skewedJoinTask(os.Stdin)
		}
		if err := ServeStreamChild(context.Background(), in, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// skewJoin, as the value of streamChildEnv, makes the join's child join
// data generated from another seed than the session's.
const skewJoin = "skew-join"

// skewedJoinTask returns r with the seed of a join's task changed.
func skewedJoinTask(r io.Reader) io.Reader {
	dec := json.NewDecoder(r)
	var t streamTask
	if err := dec.Decode(&t); err != nil {
		return strings.NewReader("not a task")
	}
	if t.Role == roleJoin {
		t.Config.Seed++
	}
	b, _ := json.Marshal(t)
	return io.MultiReader(bytes.NewReader(b), dec.Buffered(), r)
}

func TestRunChild(t *testing.T) {
	t.Setenv(childEnv, "1")
	cfg := Config{Parties: 2, Records: 100, Overlap: 0.5, Columns: 2, Mode: maskshare.Keyed, Transport: Memory, Seed: 3}
	res, err := RunChild(context.Background(), []string{os.Args[0]}, cfg, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fresh || !res.Verified || res.Config != cfg || res.Floors != nil {
		t.Errorf("fresh %v, verified %v, config %+v, floors %+v", res.Fresh, res.Verified, res.Config, res.Floors)
	}
	if res.PeakRSS == 0 && res.Machine.OS == "linux" {
		t.Errorf("no peak RSS from the child")
	}

	cfg.Parties = 1
	if _, err := RunChild(context.Background(), []string{os.Args[0]}, cfg, nil); err == nil {
		t.Errorf("a child given an invalid configuration succeeded")
	}
}
