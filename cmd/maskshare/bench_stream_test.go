package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/bench"
)

// TestBenchStream runs `maskshare bench -stream` as a user would, on small
// sizes in both modes: the binary re-runs itself for the coordinator, every
// party and the join, and the run must verify every party's streamed records
// against the join and report them, each process with its own peak RSS.
func TestBenchStream(t *testing.T) {
	for _, c := range []struct {
		mode, records, bucketRows string
	}{
		{"keyed", "20000", "2000"},
		{"ecdh", "3000", "500"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			out := t.TempDir()
			report := run(t, "", "bench", "-stream", "-mode", c.mode, "-records", c.records, "-parties", "3",
				"-bucket-rows", c.bucketRows, "-columns", "3", "-overlap", "0.4", "-seed", "11", "-memory", "256", "-out", out)
			row := "| " + c.mode + " | 3 | " + c.records + " | 3 |"
			if !strings.Contains(report, row) || !strings.Contains(report, "| true |") {
				t.Errorf("report has no verified row %q:\n%s", row, report)
			}
			files, err := filepath.Glob(filepath.Join(out, "stream-*.json"))
			if err != nil || len(files) != 1 {
				t.Fatalf("JSON files %v, %v", files, err)
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			var results []*bench.StreamResult
			if err := json.Unmarshal(b, &results); err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			r := results[0]
			if !r.Verified || r.Config.Mode.String() != c.mode || r.Config.MemoryLimit != 256<<20 || len(r.Parties) != 3 {
				t.Fatalf("result %+v", r)
			}
			for i, p := range r.Parties {
				if p.Records == 0 || p.Records != r.Join.Counts[i] || p.Digest != r.Join.Digests[i] {
					t.Errorf("%s: %d records, digest %s; the join's %d, %s", p.Role, p.Records, p.Digest, r.Join.Counts[i], r.Join.Digests[i])
				}
			}
			if r.Machine.OS == "linux" {
				for _, p := range append(r.Parties, r.Coordinator) {
					if p.PeakRSS == 0 || p.RusageMaxRSS == 0 {
						t.Errorf("%s: peak RSS %d, from getrusage %d", p.Role, p.PeakRSS, p.RusageMaxRSS)
					}
				}
			}
		})
	}
}

// TestBenchStreamFlags checks that -stream refuses what it cannot run.
func TestBenchStreamFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "oprf"}, "bucketed sessions run in the keyed and ecdh modes"},
		{[]string{"-bucket-rows", "0"}, "0 rows per bucket"},
		{[]string{"-memory", "-1"}, "-memory -1"},
		{[]string{"-parties", "1"}, "1 parties"},
		{[]string{"-scaling"}, "-stream is a run of its own"},
	} {
		out := runFail(t, "", append([]string{"bench", "-stream", "-out", t.TempDir()}, c.args...)...)
		if !strings.Contains(out, c.want) {
			t.Errorf("%v: output lacks %q:\n%s", c.args, c.want, out)
		}
	}
}
