package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/bench"
)

// runBench is `maskshare bench`: it runs sessions on generated data, each
// configuration in a fresh process of its own (this executable, re-run
// with the hidden -child flag), and writes the results as JSON and
// Markdown to -out, printing the Markdown report.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	parties := fs.Int("parties", 3, "number of parties (2 to 50)")
	records := fs.Int("records", 100_000, "records per party")
	overlap := fs.Float64("overlap", 0.5, "share of each party's records common to all parties")
	columns := fs.Int("columns", 4, "number of value columns")
	mode := fs.String("mode", "both", "PSI mode: keyed, ecdh, oprf, both (keyed and ecdh) or all")
	k := fs.Int("k", 0, "threshold: records held by at least k parties (0: all parties)")
	tr := fs.String("transport", bench.TLS, "transport: memory (in-process pipes) or tls (loopback mutual TLS)")
	out := fs.String("out", filepath.Join("bench", "out"), "directory for the JSON, Markdown and SVG outputs")
	scaling := fs.Bool("scaling", false, "run the scaling table (records and parties growing, both modes) and plot it")
	targets := fs.Bool("targets", false, "run the target configurations of the spec, section 5")
	ecdhRecords := fs.Int("ecdh-records", 100_000, "records per party of the ecdh target run, and the most an ecdh scaling run gets")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of each configuration to this file (suffixed -1, -2, … when there are several; with -stream, of each process, suffixed with its role and .pprof)")
	seed := fs.Uint64("seed", bench.DefaultSeed, "seed of the generated data")
	runs := fs.Int("runs", 1, "runs of each configuration; tables show the run with the median wall time")
	floors := fs.Bool("floors", true, "measure the floors (plaintext join, scalar multiplication, AES-CTR) after each session")
	fresh := fs.Bool("fresh", true, "run each configuration in a fresh process, so that its peak RSS is its own")
	memLimit := fs.Int64("memlimit", 0, "soft memory limit in MiB of each session (debug.SetMemoryLimit); 0: the configuration's own (768 for the keyed target, else none), -1: none")
	from := fs.String("report", "", "write the report (and with -scaling the scaling table and plot) from this results JSON file instead of running")
	child := fs.Bool("child", false, "internal: run one configuration read as JSON from stdin, write the result to stdout")
	stream := fs.Bool("stream", false, "run bucketed sessions (issue 15): the coordinator and every party in processes of their own over loopback mutual TLS, each party's table spooled to disk and its records streamed, checked against an external-memory plaintext join run in the same run (files go under $TMPDIR)")
	bucketRows := fs.Int("bucket-rows", bench.DefaultBucketRows, "with -stream: rows per bucket (Params.BucketRows)")
	memory := fs.Int64("memory", bench.DefaultStreamMemory>>20, "with -stream: soft memory limit in MiB of every process (debug.SetMemoryLimit); 0: none")
	gogc := fs.Int("gogc", bucketedGCPercent, "with -stream: every process's debug.SetGCPercent (default: as the CLI's bucketed sessions); 0: GOGC's, -1: off, collecting only near -memory")
	streamChild := fs.Bool("stream-child", false, "internal: run one process of a -stream run")
	scalingStream := fs.Bool("scaling-stream", false, "write the scaling table of bucketed sessions (Markdown, printed and written to -out) and its plot (to -plot) from the stream-*.json files of -stream runs named as arguments, running nothing; a configuration in several files shows its median run")
	plot := fs.String("plot", filepath.Join("docs", "scaling-stream.svg"), "with -scaling-stream: file of the plot")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: maskshare bench [flags]")
		fmt.Fprintln(fs.Output(), "       maskshare bench -scaling-stream [-out dir] [-plot file.svg] stream-result.json...")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name != "child" && f.Name != "stream-child" {
				fmt.Fprintf(fs.Output(), "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	if err := fs.Parse(args); err != nil {
		return badInput(err)
	}
	if *scalingStream {
		if *stream || *targets || *scaling || *from != "" {
			return badInput(errors.New("-scaling-stream reads results: without -stream, -targets, -scaling or -report"))
		}
		return writeStreamScaling(*out, *plot, fs.Args())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("maskshare bench: unexpected arguments %q", fs.Args())
	}
	if *child {
		return withProfile(*cpuprofile, func() error { return bench.ServeChild(ctx, os.Stdin, os.Stdout) })
	}
	if *streamChild {
		return bench.ServeStreamChild(ctx, os.Stdin, os.Stdout)
	}
	if *stream {
		if *targets || *scaling || *from != "" {
			return badInput(errors.New("-stream is a run of its own, without -targets, -scaling or -report"))
		}
		modes, err := parseModes(*mode)
		if err != nil {
			return err
		}
		if *memory < 0 {
			return badInput(fmt.Errorf("-memory %d: want 0 (none) or a size in MiB", *memory))
		}
		var configs []bench.StreamConfig
		for _, m := range modes {
			c := bench.StreamConfig{Parties: *parties, Records: *records, Overlap: *overlap, Columns: *columns,
				Mode: m, K: *k, BucketRows: *bucketRows, Seed: *seed, MemoryLimit: *memory << 20, GCPercent: *gogc}
			if err := c.Validate(); err != nil {
				return badInput(err)
			}
			configs = append(configs, c)
		}
		return runStream(ctx, *out, configs, *cpuprofile)
	}

	if *from != "" {
		shown, err := bench.ReadResults(*from)
		if err != nil {
			return fmt.Errorf("maskshare bench: %w", err)
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("maskshare bench: %w", err)
		}
		return writeReport(*out, "report", *scaling, bench.DefaultScaling(*seed, *ecdhRecords), nil, shown)
	}

	var configs []bench.Config
	var sc bench.Scaling
	switch {
	case *targets && *scaling:
		return errors.New("maskshare bench: -targets and -scaling are separate runs")
	case *targets:
		configs = bench.TargetConfigs(*seed, *ecdhRecords)
	case *scaling:
		sc = bench.DefaultScaling(*seed, *ecdhRecords)
		configs = sc.Configs()
	default:
		modes, err := parseModes(*mode)
		if err != nil {
			return err
		}
		for _, m := range modes {
			configs = append(configs, bench.Config{Parties: *parties, Records: *records, Overlap: *overlap, Columns: *columns,
				Mode: m, K: *k, Transport: *tr, Seed: *seed, Floors: *floors})
		}
	}
	for i := range configs {
		switch {
		case *memLimit < 0:
			configs[i].MemoryLimit = 0
		case *memLimit > 0:
			configs[i].MemoryLimit = *memLimit << 20
		}
		if err := configs[i].Validate(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	exe, err := os.Executable()
	if err != nil && *fresh {
		return fmt.Errorf("maskshare bench: finding this executable to re-run it: %w", err)
	}

	var all, shown []*bench.Result
	for i, cfg := range configs {
		var group []*bench.Result
		for run := range *runs {
			profile := ""
			if *cpuprofile != "" {
				profile = *cpuprofile
				if len(configs)*(*runs) > 1 {
					ext := filepath.Ext(profile)
					profile = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(profile, ext), i*(*runs)+run+1, ext)
				}
			}
			fmt.Fprintf(os.Stderr, "bench: %v (run %d of %d)…\n", &cfg, run+1, *runs)
			var res *bench.Result
			if *fresh {
				argv := []string{exe, "bench", "-child"}
				if profile != "" {
					argv = append(argv, "-cpuprofile", profile)
				}
				res, err = bench.RunChild(ctx, argv, cfg, os.Stderr)
			} else {
				err = withProfile(profile, func() (err error) {
					res, err = bench.Run(ctx, cfg)
					return err
				})
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench:   wall %.3f s, CPU %.2f s, peak heap %d MiB, peak RSS %d MiB, %.1f B/record/party, verified %v\n",
				res.Wall, res.CPU, res.PeakHeap>>20, res.PeakRSS>>20, res.Bytes.PerRecordPerParty, res.Verified)
			group = append(group, res)
		}
		all = append(all, group...)
		shown = append(shown, bench.Median(group))
	}

	name := "results"
	switch {
	case *targets:
		name = "targets"
	case *scaling:
		name = "scaling"
	}
	return writeReport(*out, name, *scaling, sc, all, shown)
}

// runStream runs the streaming configurations, each process of each in a
// fresh process of this executable (the hidden -stream-child flag), and
// writes the results as JSON and Markdown to dir, printing the Markdown.
// With a profile path every child writes a CPU profile next to it.
func runStream(ctx context.Context, dir string, configs []bench.StreamConfig, profile string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("maskshare bench: finding this executable to re-run it: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	var results []*bench.StreamResult
	var failed error
	for i, cfg := range configs {
		fmt.Fprintf(os.Stderr, "bench: %v…\n", &cfg)
		opts := &bench.StreamOptions{Stderr: os.Stderr}
		if profile != "" {
			opts.CPUProfile = profile
			if len(configs) > 1 {
				opts.CPUProfile = fmt.Sprintf("%s-%d", profile, i+1)
			}
		}
		res, err := bench.RunStream(ctx, []string{exe, "bench", "-stream-child"}, cfg, opts)
		if res == nil {
			return err
		}
		if err != nil { // a mismatch: report it with the figures
			failed = err
			results = append(results, res)
			break
		}
		fmt.Fprintf(os.Stderr, "bench:   session %.2f s, join %.2f s (%.2f×), %d buckets, verified %v\n", res.Wall, res.Join.Wall, res.OverJoin, res.Buckets, res.Verified)
		results = append(results, res)
	}
	base := filepath.Join(dir, "stream-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := bench.WriteJSON(base+".json", results); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	report := bench.StreamMarkdown(results)
	if err := os.WriteFile(base+".md", []byte(report), 0o644); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: results written to %s.{json,md}\n", base)
	if _, err := io.WriteString(os.Stdout, report); err != nil {
		return err
	}
	return failed
}

// writeStreamScaling writes the scaling table of the bucketed sessions in
// the result files, as Markdown to dir and to standard output, and their
// plot to the file plot.
func writeStreamScaling(dir, plot string, files []string) error {
	if len(files) == 0 {
		return badInput(errors.New("-scaling-stream: no result files (the stream-*.json of -stream runs)"))
	}
	results, err := bench.ReadStreamResults(files...)
	if err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	for _, r := range results {
		if !r.Verified {
			return fmt.Errorf("maskshare bench: %v did not verify against the join; its figures are not a scaling point", &r.Config)
		}
	}
	var b strings.Builder
	b.WriteString("### Scaling of bucketed sessions\n\n")
	bench.WriteStreamScaling(&b, results)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	md := filepath.Join(dir, "scaling-stream-"+time.Now().UTC().Format("20060102T150405Z")+".md")
	if err := os.WriteFile(md, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	if err := os.WriteFile(plot, bench.StreamScalingSVG(results), 0o644); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: table written to %s, plot to %s\n", md, plot)
	_, err = io.WriteString(os.Stdout, b.String())
	return err
}

// writeReport writes every run as JSON (unless all is nil) and the report
// on the shown runs as Markdown to dir, with the scaling table and plot if
// scaling is set, and prints the report.
func writeReport(dir, name string, scaling bool, sc bench.Scaling, all, shown []*bench.Result) error {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	base := filepath.Join(dir, fmt.Sprintf("%s-%s", name, stamp))
	if all != nil {
		if err := bench.WriteJSON(base+".json", all); err != nil {
			return fmt.Errorf("maskshare bench: %w", err)
		}
	}
	report := bench.Markdown(shown)
	if scaling {
		var b strings.Builder
		b.WriteString("### Scaling\n\n")
		bench.WriteScaling(&b, sc, shown)
		report = b.String() + "\n" + report
		svg := filepath.Join(dir, "scaling.svg")
		if err := os.WriteFile(svg, bench.ScalingSVG(sc, shown), 0o644); err != nil {
			return fmt.Errorf("maskshare bench: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: plot written to %s\n", svg)
	}
	if err := os.WriteFile(base+".md", []byte(report), 0o644); err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: results written to %s.{json,md}\n", base)
	_, err := io.WriteString(os.Stdout, report)
	return err
}

func parseModes(s string) ([]maskshare.PSIMode, error) {
	if s == "both" {
		return []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH}, nil
	}
	if s == "all" {
		return []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH, maskshare.OPRF}, nil
	}
	var m maskshare.PSIMode
	if err := m.UnmarshalText([]byte(s)); err != nil {
		return nil, fmt.Errorf("maskshare bench: -mode %q: want keyed, ecdh, oprf, both or all", s)
	}
	return []maskshare.PSIMode{m}, nil
}

// withProfile runs f, with a CPU profile written to path if path is set.
func withProfile(path string, f func() error) error {
	if path == "" {
		return f()
	}
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("maskshare bench: %w", err)
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		file.Close()
		return fmt.Errorf("maskshare bench: %w", err)
	}
	ferr := f()
	pprof.StopCPUProfile()
	if err := file.Close(); err != nil && ferr == nil {
		ferr = fmt.Errorf("maskshare bench: %w", err)
	}
	return ferr
}
