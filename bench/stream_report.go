package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteStream writes the table of streaming runs, then every participant's
// figures per run.
func WriteStream(w io.Writer, results []*StreamResult) {
	fmt.Fprintln(w, "| mode | parties | records/party | k | buckets | rows/bucket | result | session s | join s | × join (≤ 3) | × join with spool | spool s (max) | peak RSS MiB: coordinator / parties (max) / join | < 1 GiB each | msg B/record/party | CPU s: coordinator / parties / join | CPU × join | load avg before | verified |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|---|")
	for _, r := range results {
		c := r.Config
		var spool, partyCPU float64
		var partyRSS uint64
		met := r.Coordinator.PeakRSS < TargetKeyedPeakRSS
		for _, p := range r.Parties {
			spool = max(spool, p.Spool)
			partyCPU += p.CPUUser + p.CPUSys
			partyRSS = max(partyRSS, p.PeakRSS)
			met = met && p.PeakRSS < TargetKeyedPeakRSS
		}
		fmt.Fprintf(w, "| %v | %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f× | %.2f× | %.2f | %s / %s / %s | %s | %.1f | %.1f / %.1f / %.1f | %.2f× | %.2f | %v |\n",
			c.Mode, c.Parties, c.Records, c.threshold(), r.Buckets, c.BucketRows, r.Size, r.Wall, r.Join.Wall,
			r.OverJoin, r.WithSpoolOverJoin, spool, mib(r.Coordinator.PeakRSS), mib(partyRSS), mib(r.Join.PeakRSS), yes(met),
			r.BytesPerRecord, r.Coordinator.CPUUser+r.Coordinator.CPUSys, partyCPU, r.Join.CPUUser+r.Join.CPUSys,
			r.CPUOverJoin, r.LoadBefore[0], r.Verified)
	}
	for _, r := range results {
		m := r.Machine
		fmt.Fprintf(w, "\n%s — %s, %d cores (GOMAXPROCS %d), %s; load average %.2f %.2f %.2f before, %.2f %.2f %.2f after; GC soft limit %s MiB per process%s\n\n",
			&r.Config, m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, r.LoadBefore[0], r.LoadBefore[1], r.LoadBefore[2],
			r.LoadAfter[0], r.LoadAfter[1], r.LoadAfter[2], orDash(float64(r.Config.MemoryLimit>>20), "%.0f"), gcPercent(r.Config.GCPercent))
		fmt.Fprintln(w, "| process | spool s | session s | CPU user s | CPU sys s | GC CPU s | peak RSS MiB | msg sent MiB | msg received MiB | records | phases s |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
		for _, p := range append([]Participant{r.Coordinator}, r.Parties...) {
			var ph []string
			for _, x := range p.Phases {
				ph = append(ph, fmt.Sprintf("%s %.2f", x.Phase, x.Seconds))
			}
			fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %d | %s |\n", p.Role, orDash(p.Spool, "%.2f"), p.Wall,
				p.CPUUser, p.CPUSys, p.GCCPU, mib(p.PeakRSS), mib(uint64(p.Stats.Messages.BytesSent)), mib(uint64(p.Stats.Messages.BytesRecv)),
				p.Records, strings.Join(ph, ", "))
		}
		j := &r.Join
		fmt.Fprintf(w, "| join | — | %.2f | %.2f | %.2f | — | %s | — | — | %d | %s |\n", j.Wall, j.CPUUser, j.CPUSys, mib(j.PeakRSS), j.Size, j.Method)
	}
}

// StreamMarkdown returns the report of streaming runs.
func StreamMarkdown(results []*StreamResult) string {
	var b strings.Builder
	b.WriteString("### Streaming runs (issue 15)\n\n")
	b.WriteString("Each participant is a process of its own (peak RSS its own); the session runs over loopback mutual TLS after the parties spooled their tables; the plaintext join (extjoin, external memory) runs after it in its own process on the same generated data. Verified: every party's streamed records (count and digest), result size and totals equal the join's.\n\n")
	WriteStream(&b, results)
	return b.String()
}

func gcPercent(p int) string {
	switch p {
	case 0:
		return ""
	case -1:
		return ", GOGC off"
	}
	return fmt.Sprintf(", GOGC %d", p)
}
