package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Machine describes where a result was measured.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"` // runtime.NumCPU
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// ThisMachine describes the machine running the harness. The CPU model is
// read from /proc/cpuinfo where there is one.
func ThisMachine() Machine {
	return Machine{
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// peakRSS returns the process's peak resident set size (VmHWM in
// /proc/self/status), or 0 where there is no such file.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// The runtime/metrics samples the heap sampler reads. Reading them does not
// stop the world, unlike runtime.ReadMemStats.
const (
	metricHeapObjects  = "/memory/classes/heap/objects:bytes"
	metricTotal        = "/memory/classes/total:bytes"
	metricHeapReleased = "/memory/classes/heap/released:bytes"
)

func readMemory(s []metrics.Sample) (heap, held uint64) {
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64() - s[2].Value.Uint64()
}

func newMemorySamples() []metrics.Sample {
	return []metrics.Sample{{Name: metricHeapObjects}, {Name: metricTotal}, {Name: metricHeapReleased}}
}

// heapInUse returns the bytes of heap objects now.
func heapInUse() uint64 {
	h, _ := readMemory(newMemorySamples())
	return h
}

// heapSampler records the peak of the heap and of the memory the runtime
// holds, sampling them on a goroutine of its own, and the peak of the heap
// in each phase that phase() names.
type heapSampler struct {
	done       chan struct{}
	wg         sync.WaitGroup
	phase      func() string
	heap, held uint64
	byPhase    map[string]uint64
	n          int
}

func startHeapSampler(every time.Duration, phase func() string) *heapSampler {
	h := &heapSampler{done: make(chan struct{}), phase: phase, byPhase: map[string]uint64{}}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		s := newMemorySamples()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			h.sample(s)
			select {
			case <-h.done:
				h.sample(s)
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) sample(s []metrics.Sample) {
	heap, held := readMemory(s)
	h.heap, h.held, h.n = max(h.heap, heap), max(h.held, held), h.n+1
	if p := h.phase(); p != "" {
		h.byPhase[p] = max(h.byPhase[p], heap)
	}
}

// stop ends the sampling after a last sample and returns the peaks, the
// peak heap per phase and the number of samples.
func (h *heapSampler) stop() (heap, held uint64, byPhase map[string]uint64, samples int) {
	close(h.done)
	h.wg.Wait()
	return h.heap, h.held, h.byPhase, h.n
}

// cpuTimes are a process's user and system CPU time.
type cpuTimes struct{ user, sys time.Duration }

func (a cpuTimes) sub(b cpuTimes) cpuTimes { return cpuTimes{a.user - b.user, a.sys - b.sys} }

// gcStats are the garbage collector's cumulative CPU time (an estimate by
// the runtime) and cycle count.
type gcStats struct {
	cpu    float64
	cycles uint64
}

func readGC() gcStats {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return gcStats{cpu: s[0].Value.Float64(), cycles: s[1].Value.Uint64()}
}
