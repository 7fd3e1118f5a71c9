package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
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
		{[]string{"-mode", "oprf", "-k", "2"}, "the oprf mode needs k = 3"},
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

// streamResult is a synthetic result of a -stream run at records per
// party, with the given session and join wall times.
func streamResult(mode maskshare.PSIMode, records int, wall, join float64) *bench.StreamResult {
	r := &bench.StreamResult{
		Config: bench.StreamConfig{Parties: 2, Records: records, Overlap: 0.5, Columns: 2, Mode: mode,
			BucketRows: bench.DefaultBucketRows, Seed: 1},
		Wall: wall, Buckets: 4, Size: records / 2, Verified: true, OverJoin: wall / join,
		Coordinator: bench.Participant{Role: "coordinator", PeakRSS: 100 << 20},
		Join:        bench.JoinRun{Wall: join, PeakRSS: 90 << 20},
	}
	for _, name := range []string{"bank0", "bank1"} {
		r.Parties = append(r.Parties, bench.Participant{Role: name, PeakRSS: 300 << 20})
	}
	return r
}

// TestBenchScalingStream runs `maskshare bench -scaling-stream` on result
// files as the lead would after -stream runs: it must run nothing, print
// and write the table (a row per run, by records) and write the plot as
// well-formed SVG to -plot.
func TestBenchScalingStream(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "stream-a.json"), filepath.Join(dir, "stream-b.json")
	if err := bench.WriteJSON(a, []*bench.StreamResult{streamResult(maskshare.Keyed, 10_000_000, 120, 60)}); err != nil {
		t.Fatal(err)
	}
	if err := bench.WriteJSON(b, []*bench.StreamResult{streamResult(maskshare.ECDH, 3_000_000, 900, 20), streamResult(maskshare.Keyed, 1_000_000, 11, 6)}); err != nil {
		t.Fatal(err)
	}
	out, plot := filepath.Join(dir, "out"), filepath.Join(dir, "plot.svg")
	report := run(t, "", "bench", "-scaling-stream", "-out", out, "-plot", plot, a, b)
	var rows []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "| keyed") || strings.HasPrefix(l, "| ecdh") {
			rows = append(rows, l)
		}
	}
	if !strings.HasPrefix(report, "### Scaling of bucketed sessions\n") || len(rows) != 3 ||
		!strings.HasPrefix(rows[0], "| keyed | 2 | 1000000 |") || !strings.HasPrefix(rows[1], "| ecdh | 2 | 3000000 |") ||
		!strings.HasPrefix(rows[2], "| keyed | 2 | 10000000 | 4 | 5000000 | 120.00 | 60.00 | 2.00× | 100 / 300 / 90 |") {
		t.Errorf("report:\n%s", report)
	}
	mds, err := filepath.Glob(filepath.Join(out, "scaling-stream-*.md"))
	if err != nil || len(mds) != 1 {
		t.Fatalf("Markdown files %v, %v", mds, err)
	}
	if md, err := os.ReadFile(mds[0]); err != nil || string(md) != report {
		t.Errorf("the Markdown file differs from the printed report (%v)", err)
	}
	svg, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	var texts []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot is not well-formed XML: %v", err)
		}
		if c, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(c))
		}
	}
	for _, want := range []string{"1 GiB", "keyed (2 parties) session", "ecdh (2 parties) largest party", "10M"} {
		if !slices.Contains(texts, want) {
			t.Errorf("plot has no text %q", want)
		}
	}
}

// TestBenchScalingStreamRefuses checks that -scaling-stream refuses what it
// cannot plot: no files, an unverified run, an invalid file, a run asked
// for at the same time.
func TestBenchScalingStreamRefuses(t *testing.T) {
	dir := t.TempDir()
	unverified := streamResult(maskshare.Keyed, 1000, 1, 1)
	unverified.Verified = false
	bad := streamResult(maskshare.Keyed, 1000, 1, 1)
	bad.Parties = bad.Parties[:1]
	good := filepath.Join(dir, "good.json")
	if err := bench.WriteJSON(good, []*bench.StreamResult{streamResult(maskshare.Keyed, 1000, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	files := map[string]*bench.StreamResult{"unverified.json": unverified, "bad.json": bad}
	for name, r := range files {
		if err := bench.WriteJSON(filepath.Join(dir, name), []*bench.StreamResult{r}); err != nil {
			t.Fatal(err)
		}
	}
	plot := filepath.Join(dir, "plot.svg")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no result files"},
		{[]string{filepath.Join(dir, "unverified.json")}, "did not verify"},
		{[]string{filepath.Join(dir, "bad.json")}, "1 party measurements for 2 parties"},
		{[]string{"-stream", good}, "-scaling-stream reads results"},
	} {
		args := append([]string{"bench", "-scaling-stream", "-out", dir, "-plot", plot}, c.args...)
		if out := runFail(t, "", args...); !strings.Contains(out, c.want) {
			t.Errorf("%v: output lacks %q:\n%s", c.args, c.want, out)
		}
	}
	if _, err := os.Stat(plot); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run wrote the plot (%v)", err)
	}
}
