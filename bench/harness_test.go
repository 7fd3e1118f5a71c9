package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
)

// TestHarnessSmoke runs the harness at tiny sizes in both modes over both
// transports, so that it cannot rot: every run must verify against the
// plaintext join and fill in the report. No timing is asserted.
func TestHarnessSmoke(t *testing.T) {
	var results []*Result
	for _, mode := range []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH} {
		for _, tr := range []string{Memory, TLS} {
			cfg := Config{Parties: 3, Records: 200, Overlap: 0.5, Columns: 4, Mode: mode, Transport: tr, Seed: 1, Floors: true}
			if mode == maskshare.ECDH && tr == Memory {
				cfg.Parties, cfg.K = 2, 2
			}
			t.Run(cfg.String(), func(t *testing.T) {
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, res)
				results = append(results, res)
			})
		}
	}
	if t.Failed() {
		return
	}

	// The outputs: JSON round trip, Markdown tables, the scaling plot.
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	var back []*Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(results) || back[0].Config != results[0].Config {
		t.Errorf("JSON round trip changed the results")
	}
	md := Markdown(results)
	for _, want := range []string{"### Targets", "### Floors", "### Runs", "### Phases", "end to end vs plaintext join", "end to end vs scalar-mul floor"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	sc := Scaling{Records: []int{200}, Parties: []int{2, 3}, PartyRecords: 200, ECDHMaxRecords: 200}
	svg := ScalingSVG(sc, results)
	if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("<polyline")) || !bytes.Contains(svg, []byte("ecdh")) {
		t.Errorf("scaling plot has no lines:\n%s", svg)
	}
	var table strings.Builder
	WriteScaling(&table, sc, results)
	if got := strings.Count(table.String(), "\n"); got != 2+len(results) {
		t.Errorf("scaling table has %d lines, want %d", got, 2+len(results))
	}
}

func checkResult(t *testing.T, r *Result) {
	t.Helper()
	c := r.Config
	if !r.Verified || r.Size == 0 {
		t.Errorf("verified %v, result size %d", r.Verified, r.Size)
	}
	if r.Wall <= 0 || r.MaskAggregate <= 0 || r.MaskAggregate > r.MaskAggregateWindow || r.MaskAggregateWindow > r.Wall {
		t.Errorf("wall %v s, masking and aggregation %v s", r.Wall, r.MaskAggregate)
	}
	phases := map[string]bool{}
	for _, p := range r.Phases {
		phases[p.Phase] = true
		if p.Window < 0 || p.PartyMax < 0 || p.Coordinator < 0 {
			t.Errorf("phase %+v has a negative time", p)
		}
	}
	for _, want := range []string{"prepare", "keys", "intersect", "mask", "aggregate", "sum", "reveal", "unmask", "output", "confirm"} {
		if !phases[want] {
			t.Errorf("no phase %q in %+v", want, r.Phases)
		}
	}
	if r.PeakHeap == 0 || r.HeapSamples == 0 || r.Machine.GOMAXPROCS == 0 {
		t.Errorf("peak heap %d from %d samples, GOMAXPROCS %d", r.PeakHeap, r.HeapSamples, r.Machine.GOMAXPROCS)
	}
	if r.Fresh {
		t.Errorf("an in-process run claims a fresh process")
	}
	b := r.Bytes
	if len(b.PartySent) != c.Parties || b.CoordSent == 0 || b.PerRecordPerParty <= 0 {
		t.Errorf("bytes %+v", b)
	}
	if wire := c.Transport == TLS; wire != (len(b.PartyWireSent) == c.Parties && b.PerRecordPerPartyWire > 0) {
		t.Errorf("%s transport, wire bytes %+v", c.Transport, b)
	}
	f, x := r.Floors, r.Ratios
	if f == nil || x == nil {
		t.Fatalf("no floors or ratios")
	}
	if f.Join <= 0 || f.JoinSize != r.Size || f.AESWord <= 0 || f.MaskFloor <= 0 || f.Cores < 1 {
		t.Errorf("floors %+v", f)
	}
	holdings := c.Parties * r.Size // k = n: every party holds every record
	if want := MaskWords(c.Parties, c.Columns, r.Size, true) + RecordMaskWords(c.Columns, r.Size, holdings); f.MaskWords != want {
		t.Errorf("%d mask words, want %d", f.MaskWords, want)
	}
	if ecdh := c.Mode == maskshare.ECDH; ecdh != (f.ScalarMul > 0 && f.ScalarMulFloor > 0 && x.EndToEndOverScalarMul > 0) {
		t.Errorf("%v mode, scalar-mul floor %+v, ratios %+v", c.Mode, f, x)
	}
	if x.EndToEndOverJoin <= 0 || x.MaskAggregateOverAES <= 0 {
		t.Errorf("ratios %+v", x)
	}
}

func TestPlaintextJoin(t *testing.T) {
	a, b := maskshare.NewTable(2), maskshare.NewTable(2)
	a.AddRow("x", 1, 2)
	a.AddRow("y", 3, 4)
	b.AddRow("y", 10, 20)
	b.AddRow("z", 5, 6)
	size, sums := PlaintextJoin([]*maskshare.Table{a, b}, 2)
	if size != 1 || len(sums) != 2 || sums[0] != 13 || sums[1] != 24 {
		t.Errorf("join of k=2: size %d, sums %v; want 1, [13 24]", size, sums)
	}
	if size, _ := PlaintextJoin([]*maskshare.Table{a, b}, 1); size != 3 {
		t.Errorf("join of k=1: size %d, want 3", size)
	}
}

func TestMaskWords(t *testing.T) {
	// 3 parties: each 2·2 part streams + 2 mask streams, over 4 value
	// columns and the check column of 10 records and a total.
	if got, want := MaskWords(3, 4, 10, true), int64(3*6*(4+1)*11); got != want {
		t.Errorf("MaskWords = %d, want %d", got, want)
	}
	// Totals only: the streams cover the total word alone.
	if got, want := MaskWords(2, 1, 5, false), int64(2*4*(1+1)); got != want {
		t.Errorf("MaskWords without records = %d, want %d", got, want)
	}
}

func TestScalingConfigs(t *testing.T) {
	s := DefaultScaling(1, 100_000)
	cs := s.Configs()
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if c.Mode == maskshare.ECDH && c.Records > 100_000 {
			t.Errorf("%v exceeds the ecdh cap", &c)
		}
	}
	// keyed: 3 record sizes + 4 more party counts; ecdh: 2 + 4.
	if len(cs) != 7+6 {
		t.Errorf("%d configurations, want 13", len(cs))
	}
}
