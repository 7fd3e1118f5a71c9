// Package bench is the benchmark harness of maskshare: it runs whole
// sessions of n parties on generated data, measures them (wall time per
// phase, CPU time, peak memory, bytes per role), checks every result against
// a plaintext join, and measures in the same process the floors the
// project's targets are stated against (docs in BENCHMARKS.md), so that
// every figure it reports is a ratio that holds on any machine.
//
// Run measures one configuration in the calling process. RunChild runs it in
// a fresh process (the CLI re-executes itself), so that the peak resident
// set size, which the kernel keeps per process, is that configuration's own.
package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/internal/netsession"
)

// Transports a configuration can run over.
const (
	Memory = "memory" // in-memory pipes, as maskshare.RunLocal
	TLS    = "tls"    // loopback TCP with mutual TLS, as netsession.RunLoopback
)

// Config is one benchmark configuration.
type Config struct {
	Parties   int               `json:"parties"`
	Records   int               `json:"records"` // per party
	Overlap   float64           `json:"overlap"` // share of each party's records common to all
	Columns   int               `json:"columns"`
	Mode      maskshare.PSIMode `json:"mode"`
	K         int               `json:"k"` // threshold; 0 means all parties
	Transport string            `json:"transport"`
	Seed      uint64            `json:"seed"`
	// Floors asks for the floors of section 5 of the spec to be measured
	// after the session, in the same process.
	Floors bool `json:"floors"`
	// MemoryLimit, if positive, is passed to debug.SetMemoryLimit for the
	// run (a soft limit that makes the GC work harder near it).
	MemoryLimit int64 `json:"memory_limit,omitempty"`
}

// Validate checks the configuration's ranges.
func (c *Config) Validate() error {
	if err := validateData(c.Parties, c.Records, c.Overlap, c.Columns, c.K); err != nil {
		return err
	}
	if c.Transport != Memory && c.Transport != TLS {
		return fmt.Errorf("bench: transport %q, want %q or %q", c.Transport, Memory, TLS)
	}
	return nil
}

// validateData checks the ranges of the generated data and threshold that
// every kind of run shares.
func validateData(parties, records int, overlap float64, columns, k int) error {
	switch {
	case parties < 2 || parties > 50:
		return fmt.Errorf("bench: %d parties, want 2 to 50", parties)
	case records < 1:
		return fmt.Errorf("bench: %d records per party, want at least 1", records)
	case overlap <= 0 || overlap > 1:
		return fmt.Errorf("bench: overlap %v, want more than 0 and at most 1", overlap)
	case columns < 1:
		return fmt.Errorf("bench: %d columns, want at least 1", columns)
	case k != 0 && (k < 2 || k > parties):
		return fmt.Errorf("bench: threshold %d, want 2 to %d", k, parties)
	}
	return nil
}

func (c *Config) String() string {
	k := c.K
	if k == 0 {
		k = c.Parties
	}
	s := fmt.Sprintf("%v/%s/n=%d/records=%d/cols=%d/overlap=%g/k=%d", c.Mode, c.Transport, c.Parties, c.Records, c.Columns, c.Overlap, k)
	if c.MemoryLimit > 0 {
		s += fmt.Sprintf("/memlimit=%dMiB", c.MemoryLimit>>20)
	}
	return s
}

// Params returns the session parameters of c: the demo's columns (balance,
// loans, overdue), then plain integer columns, cut to c.Columns.
func (c *Config) Params() maskshare.Params {
	p := demo.Params(c.Parties, c.Mode, c.K)
	cols := append([]maskshare.Column(nil), demo.Columns...)
	for len(cols) < c.Columns {
		cols = append(cols, maskshare.Column{Name: fmt.Sprintf("value%d", len(cols)), Type: maskshare.Int64})
	}
	p.Columns = cols[:c.Columns]
	return p
}

// Result is the measurement of one run of a configuration. Times are in
// seconds, sizes in bytes.
type Result struct {
	Config Config `json:"config"`
	// Fresh is true when the run had a process of its own, so PeakRSS is
	// the run's; otherwise PeakRSS is the process's peak so far.
	Fresh    bool    `json:"fresh_process"`
	Verified bool    `json:"verified"`
	Size     int     `json:"result_size"`
	Machine  Machine `json:"machine"`

	Wall   float64     `json:"wall_seconds"`
	Phases []PhaseTime `json:"phases"`
	// MaskAggregate is the wall time of masking and aggregation proper:
	// the parties building and masking their vectors (window of the "mask"
	// phase), the coordinator adding them up ("sum"), and the parties
	// removing the output mask ("unmask"). MaskAggregateWindow is the whole
	// stretch from the first party starting "mask" to the last ending
	// "output", which adds moving the vectors over the transport and
	// building the result records.
	MaskAggregate       float64 `json:"mask_aggregate_seconds"`
	MaskAggregateWindow float64 `json:"mask_aggregate_window_seconds"`
	CPU                 float64 `json:"cpu_seconds"` // process user + system time during the session
	CPUUser             float64 `json:"cpu_user_seconds"`
	CPUSys              float64 `json:"cpu_sys_seconds"`
	GCCPU               float64 `json:"gc_cpu_seconds"` // the runtime's estimate of the GC's share of CPU
	GCCycles            uint64  `json:"gc_cycles"`
	PeakHeap            uint64  `json:"peak_heap_bytes"`  // live and unswept heap objects, sampled
	PeakGoMemory        uint64  `json:"peak_go_bytes"`    // memory the Go runtime held from the OS, sampled
	PeakRSS             uint64  `json:"peak_rss_bytes"`   // VmHWM of the process after the session
	InputHeap           uint64  `json:"input_heap_bytes"` // heap in use before the session (the generated tables)
	HeapSamples         int     `json:"heap_samples"`     // number of samples behind PeakHeap
	Bytes               Bytes   `json:"bytes"`

	Floors *Floors `json:"floors,omitempty"`
	Ratios *Ratios `json:"ratios,omitempty"`
}

// PhaseTime is the wall time of one phase. Window is the time from the
// first party starting the phase to the last party ending it; PartyMax the
// longest any party spent in it; Coordinator the coordinator's time in it
// (zero where the role has no such phase).
type PhaseTime struct {
	Phase       string  `json:"phase"`
	Window      float64 `json:"window_seconds"`
	PartyMax    float64 `json:"party_max_seconds"`
	Coordinator float64 `json:"coordinator_seconds"`
	// PeakHeap is the peak heap sampled while this was the phase a party
	// started last.
	PeakHeap uint64 `json:"peak_heap_bytes"`
}

// Bytes are the message bytes each role sent (what the session engine
// produced) and, over TLS, the bytes it put on the wire (framing,
// compression and TLS included).
type Bytes struct {
	PartySent     []int64 `json:"party_sent"`
	PartyWireSent []int64 `json:"party_wire_sent,omitempty"`
	CoordSent     int64   `json:"coordinator_sent"`
	CoordWireSent int64   `json:"coordinator_wire_sent,omitempty"`
	// PerRecordPerParty is the mean over the parties of the message bytes
	// a party sent, divided by its number of records; Wire the same on the
	// wire.
	PerRecordPerParty     float64 `json:"per_record_per_party"`
	PerRecordPerPartyWire float64 `json:"per_record_per_party_wire,omitempty"`
}

// Ratios are the measured figures over their floors: the numbers the
// targets are stated in.
type Ratios struct {
	EndToEndOverJoin      float64 `json:"end_to_end_over_join"`
	EndToEndOverScalarMul float64 `json:"end_to_end_over_scalar_mul_floor,omitempty"`
	MaskAggregateOverAES  float64 `json:"mask_aggregate_over_aes_floor"`
	// MaskWindowOverAES is the whole masking-and-aggregation window (with
	// transport and result building) over the same floor.
	MaskWindowOverAES float64 `json:"mask_window_over_aes_floor"`
}

// Run generates the data of cfg, runs one session on it, checks the result
// and, if cfg.Floors, measures the floors. Everything is measured in this
// process; a session whose result differs from the plaintext join is an
// error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params := cfg.Params()
	tables := demo.Generate(cfg.Seed, cfg.Parties, cfg.Records, cfg.Overlap, cfg.Columns)
	res := &Result{Config: cfg, Machine: ThisMachine()}

	runtime.GC()
	res.InputHeap = heapInUse()
	prevLimit := int64(-1)
	if cfg.MemoryLimit > 0 {
		prevLimit = debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	clock := newPhaseClock()
	sampler := startHeapSampler(5*time.Millisecond, clock.phase)
	cpu0, gc0 := processCPU(), readGC()
	start := time.Now()
	out, err := runSession(ctx, cfg.Transport, params, tables, &maskshare.Config{Progress: clock.progress})
	res.Wall = time.Since(start).Seconds()
	cpu, gc := processCPU().sub(cpu0), readGC()
	res.GCCPU, res.GCCycles = gc.cpu-gc0.cpu, gc.cycles-gc0.cycles
	var heapByPhase map[string]uint64
	res.PeakHeap, res.PeakGoMemory, heapByPhase, res.HeapSamples = sampler.stop()
	res.PeakRSS = peakRSS()
	if prevLimit >= 0 {
		debug.SetMemoryLimit(prevLimit) // the limit is for the session, not the floors
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %v: session: %w", &cfg, err)
	}
	res.CPUUser, res.CPUSys = cpu.user.Seconds(), cpu.sys.Seconds()
	res.CPU = res.CPUUser + res.CPUSys

	if err := demo.Verify(params, tables, out.results); err != nil {
		return nil, fmt.Errorf("bench: %v: wrong result: %w", &cfg, err)
	}
	res.Verified = true
	res.Size = out.results[0].Size
	res.Phases, res.MaskAggregate, res.MaskAggregateWindow = clock.phases(params.Parties, out.results, out.report)
	for i := range res.Phases {
		res.Phases[i].PeakHeap = heapByPhase[res.Phases[i].Phase]
	}
	res.Bytes = bytesOf(out, cfg.Records)

	if cfg.Floors {
		holdings := 0 // qualifying records summed over the parties that hold them
		for _, r := range out.results {
			holdings += len(r.Records)
		}
		f, err := measureFloors(&cfg, params, tables, res.Size, holdings)
		if err != nil {
			return nil, err
		}
		res.Floors = f
		res.Ratios = &Ratios{
			EndToEndOverJoin:     res.Wall / f.Join,
			MaskAggregateOverAES: res.MaskAggregate / f.MaskFloor,
			MaskWindowOverAES:    res.MaskAggregateWindow / f.MaskFloor,
		}
		if f.ScalarMulFloor > 0 {
			res.Ratios.EndToEndOverScalarMul = res.Wall / f.ScalarMulFloor
		}
	}
	return res, nil
}

// sessionOutput is what a session run returns, whatever the transport.
type sessionOutput struct {
	results    []*maskshare.Result
	report     *maskshare.Report
	partyStats []netsession.Stats
	coordStats netsession.Stats
}

func runSession(ctx context.Context, tr string, params maskshare.Params, tables []*maskshare.Table, cfg *maskshare.Config) (*sessionOutput, error) {
	run := netsession.RunMemory
	if tr == TLS {
		run = netsession.RunLoopback
	}
	lb, err := run(ctx, params, tables, cfg)
	if err != nil {
		return nil, err
	}
	return &sessionOutput{results: lb.Results, report: lb.Report, partyStats: lb.PartyStats, coordStats: lb.CoordStats}, nil
}

func bytesOf(out *sessionOutput, records int) Bytes {
	var b Bytes
	var sum, wire int64
	for _, s := range out.partyStats {
		b.PartySent = append(b.PartySent, s.Messages.BytesSent)
		sum += s.Messages.BytesSent
		if s.HasWire {
			b.PartyWireSent = append(b.PartyWireSent, s.Wire.BytesSent)
			wire += s.Wire.BytesSent
		}
	}
	n := float64(len(out.partyStats)) * float64(records)
	b.PerRecordPerParty = float64(sum) / n
	b.CoordSent = out.coordStats.Messages.BytesSent
	if out.coordStats.HasWire {
		b.CoordWireSent = out.coordStats.Wire.BytesSent
		b.PerRecordPerPartyWire = float64(wire) / n
	}
	return b
}
