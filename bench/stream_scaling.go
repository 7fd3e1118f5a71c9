package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/maskshare/maskshare"
)

// ReadStreamResults reads the results that streaming runs wrote with
// WriteJSON (one list per file) and returns, for each configuration in order
// of first appearance across the files, the run with the median session
// wall time. Every result is checked before use.
func ReadStreamResults(paths ...string) ([]*StreamResult, error) {
	var all []*StreamResult
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		rs, err := decodeStreamResults(b)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		all = append(all, rs...)
	}
	return medians(all, func(r *StreamResult) StreamConfig { return r.Config }), nil
}

// decodeStreamResults parses a list of results and checks what the tables
// and plots rely on: a valid configuration, a measurement of every party,
// no negative time or ratio.
func decodeStreamResults(b []byte) ([]*StreamResult, error) {
	var rs []*StreamResult
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, err
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("result %d is null", i)
		}
		if err := r.Config.Validate(); err != nil {
			return nil, fmt.Errorf("result %d: %w", i, err)
		}
		if len(r.Parties) != r.Config.Parties {
			return nil, fmt.Errorf("result %d: %d party measurements for %d parties", i, len(r.Parties), r.Config.Parties)
		}
		if r.Wall < 0 || r.Join.Wall < 0 || r.OverJoin < 0 || r.BytesPerRecord < 0 || r.Buckets < 0 || r.Size < 0 {
			return nil, fmt.Errorf("result %d: a negative measurement", i)
		}
	}
	return rs, nil
}

// byRecords returns the results ordered by records per party, then mode
// and parties.
func byRecords(results []*StreamResult) []*StreamResult {
	s := slices.Clone(results)
	slices.SortStableFunc(s, func(a, b *StreamResult) int {
		return cmp.Or(cmp.Compare(a.Config.Records, b.Config.Records),
			cmp.Compare(a.Config.Mode, b.Config.Mode), cmp.Compare(a.Config.Parties, b.Config.Parties))
	})
	return s
}

// maxPartyRSS is the largest peak RSS among a run's parties.
func (r *StreamResult) maxPartyRSS() uint64 {
	var m uint64
	for _, p := range r.Parties {
		m = max(m, p.PeakRSS)
	}
	return m
}

// sessionCPU is the CPU time of the coordinator and the parties in the
// session, spooling excluded.
func (r *StreamResult) sessionCPU() float64 {
	cpu := r.Coordinator.CPUUser + r.Coordinator.CPUSys
	for _, p := range r.Parties {
		cpu += p.CPUUser + p.CPUSys
	}
	return cpu
}

// WriteStreamScaling writes the scaling table of bucketed sessions, one row
// per result ordered by records per party: times against the join of the
// same run, each process's peak RSS and the bytes moved.
func WriteStreamScaling(w io.Writer, results []*StreamResult) {
	fmt.Fprintln(w, "| mode | parties | records/party | buckets | result | session s | join s | × join | peak RSS MiB: coordinator / parties (max) / join | msg B/record/party | CPU s: session / join |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range byRecords(results) {
		c := r.Config
		fmt.Fprintf(w, "| %v | %d | %d | %d | %d | %.2f | %.2f | %.2f× | %s / %s / %s | %.1f | %.1f / %.1f |\n",
			c.Mode, c.Parties, c.Records, r.Buckets, r.Size, r.Wall, r.Join.Wall, r.OverJoin,
			mib(r.Coordinator.PeakRSS), mib(r.maxPartyRSS()), mib(r.Join.PeakRSS), r.BytesPerRecord,
			r.sessionCPU(), r.Join.CPUUser+r.Join.CPUSys)
	}
}

// StreamScalingSVG draws the bucketed sessions as an SVG image of two plots
// against records per party: the session's and the join's wall time, and
// the peak RSS of the coordinator and of the largest party with the 1 GiB
// target; one colour per PSI mode (and a line per party count), log-scale
// axes.
func StreamScalingSVG(results []*StreamResult) []byte {
	times := panel{title: "Session and join wall time (bucketed)", xlabel: "records per party", ylabel: "seconds"}
	rss := panel{title: "Peak RSS per process (bucketed)", xlabel: "records per party", ylabel: "MiB",
		rules: []rule{{y: TargetKeyedPeakRSS >> 20, label: "1 GiB"}}}
	type line struct {
		mode    maskshare.PSIMode
		parties int
	}
	var lines []line
	for _, r := range byRecords(results) {
		if l := (line{r.Config.Mode, r.Config.Parties}); !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	slices.SortFunc(lines, func(a, b line) int { return cmp.Or(cmp.Compare(a.mode, b.mode), cmp.Compare(a.parties, b.parties)) })
	for _, l := range lines {
		name := fmt.Sprintf("%v (%d parties)", l.mode, l.parties)
		color := modeColors[l.mode]
		session := series{name: name + " session", color: color}
		join := series{name: name + " join", color: color, dash: "6,3"}
		coord := series{name: name + " coordinator", color: color}
		party := series{name: name + " largest party", color: color, dash: "6,3"}
		for _, r := range byRecords(results) {
			if r.Config.Mode != l.mode || r.Config.Parties != l.parties {
				continue
			}
			x := float64(r.Config.Records)
			session.points = append(session.points, point{x, r.Wall})
			join.points = append(join.points, point{x, r.Join.Wall})
			coord.points = append(coord.points, point{x, float64(r.Coordinator.PeakRSS) / (1 << 20)})
			party.points = append(party.points, point{x, float64(r.maxPartyRSS()) / (1 << 20)})
		}
		times.series = append(times.series, session, join)
		rss.series = append(rss.series, coord, party)
	}
	return svgPanels(times, rss)
}
