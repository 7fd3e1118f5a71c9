package bench

import (
	"fmt"
	"io"
	"strings"

	"github.com/maskshare/maskshare"
)

// Target thresholds of section 5 of the spec.
const (
	TargetKeyedOverJoin    = 3.0
	TargetKeyedPeakRSS     = 1 << 30
	TargetECDHOverFloor    = 1.3
	TargetMaskOverAESFloor = 2.0
)

// WriteResults writes a table of results, one row per run: the
// configuration, times, memory, bytes and, where measured, the ratios.
func WriteResults(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| mode | transport | parties | records/party | k | result | wall s | CPU s | mask+agg s | peak heap MiB | peak RSS MiB | msg B/record/party | wire B/record/party | × join | × scalar-mul floor | mask × AES floor | verified |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range results {
		c := r.Config
		k := c.K
		if k == 0 {
			k = c.Parties
		}
		rss := mib(r.PeakRSS)
		if !r.Fresh {
			rss += " (process)"
		}
		fmt.Fprintf(w, "| %v | %s | %d | %d | %d | %d | %.3f | %.2f | %.3f | %s | %s | %.1f | %s | %s | %s | %s | %v |\n",
			c.Mode, c.Transport, c.Parties, c.Records, k, r.Size, r.Wall, r.CPU, r.MaskAggregate,
			mib(r.PeakHeap), rss, r.Bytes.PerRecordPerParty, orDash(r.Bytes.PerRecordPerPartyWire, "%.1f"),
			ratio(r, func(x *Ratios) float64 { return x.EndToEndOverJoin }),
			ratio(r, func(x *Ratios) float64 { return x.EndToEndOverScalarMul }),
			ratio(r, func(x *Ratios) float64 { return x.MaskAggregateOverAES }),
			r.Verified)
	}
}

// WritePhases writes the wall time of every phase of each run: the longest
// over the parties, and the coordinator's.
func WritePhases(w io.Writer, results []*Result) {
	for _, r := range results {
		fmt.Fprintf(w, "\n%s — wall %.3f s, CPU %.2f s (user %.2f, sys %.2f; GC about %.2f in %d cycles), peak heap %s MiB\n\n",
			&r.Config, r.Wall, r.CPU, r.CPUUser, r.CPUSys, r.GCCPU, r.GCCycles, mib(r.PeakHeap))
		fmt.Fprintln(w, "| phase | window s (first party in to last out) | slowest party s | coordinator s | peak heap MiB |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
		for _, p := range r.Phases {
			fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %s |\n", p.Phase, p.Window, p.PartyMax, p.Coordinator, mib(p.PeakHeap))
		}
	}
}

// WriteTargets writes the target table of the target runs: each target
// with its measured figure, its floor, the ratio and whether it is met.
func WriteTargets(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| target | configuration | measured | floor | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|---|")
	for _, r := range results {
		if r.Floors == nil {
			continue
		}
		f, x := r.Floors, r.Ratios
		cfg := fmt.Sprintf("%v, %d × %d, %s", r.Config.Mode, r.Config.Parties, r.Config.Records, r.Config.Transport)
		switch r.Config.Mode {
		case maskshare.Keyed:
			row(w, "end to end vs plaintext join", cfg, secs(r.Wall), secs(f.Join), x.EndToEndOverJoin, TargetKeyedOverJoin)
			met := r.PeakRSS < TargetKeyedPeakRSS
			note := ""
			if !r.Fresh {
				note += " (process-wide)"
			}
			if l := r.Config.MemoryLimit; l > 0 {
				note += fmt.Sprintf(" (GC soft limit %d MiB)", l>>20)
			}
			fmt.Fprintf(w, "| peak memory (RSS) | %s | %s MiB%s | — | — | < 1024 MiB | %s |\n", cfg, mib(r.PeakRSS), note, yes(met))
		case maskshare.ECDH:
			row(w, "end to end vs scalar-mul floor", cfg, secs(r.Wall), secs(f.ScalarMulFloor), x.EndToEndOverScalarMul, TargetECDHOverFloor)
		}
		row(w, "masking + aggregation vs AES-CTR+add floor", cfg, secs(r.MaskAggregate), secs(f.MaskFloor), x.MaskAggregateOverAES, TargetMaskOverAESFloor)
		fmt.Fprintf(w, "| the same, whole window with transport and results | %s | %s | %s | %.2f× | reported | — |\n",
			cfg, secs(r.MaskAggregateWindow), secs(f.MaskFloor), x.MaskWindowOverAES)
		fmt.Fprintf(w, "| bytes per record per party (messages / wire) | %s | %.1f / %s | — | — | reported | — |\n",
			cfg, r.Bytes.PerRecordPerParty, orDash(r.Bytes.PerRecordPerPartyWire, "%.1f"))
	}
}

// WriteFloors writes the measured floors of each run.
func WriteFloors(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| configuration | join s | scalar mul µs (1 core) | hash+blind µs (1 core) | scalar muls | scalar-mul floor s | AES-CTR+add ns/word (1 core) | mask words | AES floor s | cores |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		f := r.Floors
		if f == nil {
			continue
		}
		fmt.Fprintf(w, "| %s | %.3f | %s | %s | %s | %s | %.3f | %d | %.4f | %d |\n", &r.Config, f.Join,
			orDash(f.ScalarMul*1e6, "%.1f"), orDash(f.HashAndBlind*1e6, "%.1f"), orDash(float64(f.ScalarMuls), "%.0f"),
			orDash(f.ScalarMulFloor, "%.2f"), f.AESWord*1e9, f.MaskWords, f.MaskFloor, f.Cores)
	}
}

func row(w io.Writer, what, cfg, measured, floor string, ratio, target float64) {
	fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f× | ≤ %.1f× | %s |\n", what, cfg, measured, floor, ratio, target, yes(ratio <= target))
}

func ratio(r *Result, f func(*Ratios) float64) string {
	if r.Ratios == nil {
		return "—"
	}
	return orDash(f(r.Ratios), "%.2f")
}

func orDash(v float64, format string) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func secs(s float64) string { return fmt.Sprintf("%.3f s", s) }

func mib(b uint64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Markdown returns the full report of a set of runs.
func Markdown(results []*Result) string {
	var b strings.Builder
	if len(results) > 0 {
		m := results[0].Machine
		fmt.Fprintf(&b, "Machine: %s, %d cores (GOMAXPROCS %d), %s %s/%s\n\n", m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch)
	}
	if hasFloors(results) {
		b.WriteString("### Targets\n\n")
		WriteTargets(&b, results)
		b.WriteString("\n### Floors\n\n")
		WriteFloors(&b, results)
	}
	b.WriteString("\n### Runs\n\n")
	WriteResults(&b, results)
	b.WriteString("\n### Phases\n")
	WritePhases(&b, results)
	return b.String()
}

func hasFloors(results []*Result) bool {
	for _, r := range results {
		if r.Floors != nil {
			return true
		}
	}
	return false
}
