package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/extjoin"
)

// TestRunStream runs small streaming sessions through real child processes
// (the test binary re-run) and checks that every party's streamed records
// match the plaintext join's share of that party, record for record by
// digest, and that each participant measured itself in its own process.
func TestRunStream(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	t.Setenv(streamChildEnv, "1")
	for _, cfg := range []StreamConfig{
		{Parties: 3, Records: 20_000, Overlap: 0.3, Columns: 3, Mode: maskshare.Keyed, BucketRows: 2_000, Seed: 5, MemoryLimit: DefaultStreamMemory},
		{Parties: 3, Records: 3_000, Overlap: 0.4, Columns: 2, Mode: maskshare.ECDH, K: 2, BucketRows: 500, Seed: 6},
	} {
		t.Run(cfg.Mode.String(), func(t *testing.T) {
			res, err := RunStream(context.Background(), []string{os.Args[0]}, cfg, &StreamOptions{Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				b, _ := json.MarshalIndent(res, "", " ")
				t.Logf("%s", b)
			}
			if !res.Verified {
				t.Fatal("not verified")
			}
			// Several buckets, a power of two of them.
			if res.Buckets < 2 || res.Buckets&(res.Buckets-1) != 0 {
				t.Errorf("%d buckets", res.Buckets)
			}
			if res.Size == 0 || res.Size >= cfg.Records {
				t.Errorf("result size %d for %d records per party", res.Size, cfg.Records)
			}
			var zero extjoin.Digest
			for i, p := range res.Parties {
				if p.Records == 0 || p.Records != res.Join.Counts[i] || p.Digest == zero.String() {
					t.Errorf("%s: %d records, digest %s", p.Role, p.Records, p.Digest)
				}
				if p.Spool <= 0 || p.Wall <= 0 || p.Stats.Messages.BytesSent == 0 {
					t.Errorf("%s: spool %v s, wall %v s, %d bytes sent", p.Role, p.Spool, p.Wall, p.Stats.Messages.BytesSent)
				}
			}
			if res.Machine.OS == "linux" {
				for _, p := range append(res.Parties, res.Coordinator) {
					if p.PeakRSS == 0 || p.RusageMaxRSS == 0 {
						t.Errorf("%s: peak RSS %d, rusage %d", p.Role, p.PeakRSS, p.RusageMaxRSS)
					}
				}
				if res.Join.PeakRSS == 0 {
					t.Error("no peak RSS for the join")
				}
			}
			if res.Join.Wall <= 0 || res.OverJoin <= 0 || res.CPUOverJoin <= 0 || res.BytesPerRecord <= 0 {
				t.Errorf("join %v s, ratio %v, %v B/record", res.Join.Wall, res.OverJoin, res.BytesPerRecord)
			}
		})
	}
}

// TestRunStreamMismatch runs a streaming session whose join child reads data
// generated from another seed: the run must fail as a mismatch, so a
// session that streamed wrong records would not pass.
func TestRunStreamMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	t.Setenv(streamChildEnv, skewJoin)
	cfg := StreamConfig{Parties: 2, Records: 2_000, Overlap: 0.5, Columns: 2, Mode: maskshare.Keyed, BucketRows: 256, Seed: 7}
	res, err := RunStream(context.Background(), []string{os.Args[0]}, cfg, &StreamOptions{Stderr: os.Stderr})
	if !errors.Is(err, ErrStreamMismatch) {
		t.Fatalf("got %v, want a mismatch", err)
	}
	if res == nil || res.Verified {
		t.Errorf("result %+v", res)
	}
}

// TestStreamVerify checks that a session whose records differ from the
// join's in any way the harness can see is reported as a mismatch.
func TestStreamVerify(t *testing.T) {
	var d extjoin.Digest
	d.Add("DE10-CUST-000000001", 3, []int64{1, 2})
	good := func() *StreamResult {
		return &StreamResult{
			Coordinator: Participant{Size: 1},
			Parties: []Participant{
				{Role: "bank-a", Size: 1, Records: 1, Digest: d.String(), Totals: []int64{1, 2}},
				{Role: "bank-b", Size: 1, Records: 1, Digest: d.String(), Totals: []int64{1, 2}},
			},
			Join: JoinRun{Size: 1, Totals: []int64{1, 2}, Digests: []string{d.String(), d.String()}, Counts: []int64{1, 1}},
		}
	}
	if err := good().verify(); err != nil {
		t.Fatal(err)
	}
	var other extjoin.Digest
	other.Add("DE10-CUST-000000001", 3, []int64{1, 3})
	for name, spoil := range map[string]func(r *StreamResult){
		"digest":      func(r *StreamResult) { r.Parties[1].Digest = other.String() },
		"count":       func(r *StreamResult) { r.Parties[0].Records = 2 },
		"size":        func(r *StreamResult) { r.Parties[1].Size = 2 },
		"coordinator": func(r *StreamResult) { r.Coordinator.Size = 0 },
		"totals":      func(r *StreamResult) { r.Parties[0].Totals = []int64{1, 3} },
		"parties":     func(r *StreamResult) { r.Join.Digests = r.Join.Digests[:1] },
	} {
		r := good()
		spoil(r)
		if err := r.verify(); !errors.Is(err, ErrStreamMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStreamConfigValidate(t *testing.T) {
	good := StreamConfig{Parties: 3, Records: 10, Overlap: 0.5, Columns: 2, Mode: maskshare.Keyed, BucketRows: 4}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func(c *StreamConfig){
		"oprf k": func(c *StreamConfig) { c.Mode, c.K = maskshare.OPRF, 2 },
		"oprf bucket": func(c *StreamConfig) {
			c.Mode, c.BucketRows = maskshare.OPRF, maskshare.MaxOPRFBucketRows+1
		},
		"buckets": func(c *StreamConfig) { c.BucketRows = 0 },
		"parties": func(c *StreamConfig) { c.Parties = 1 },
		"k":       func(c *StreamConfig) { c.K = 4 },
		"gogc":    func(c *StreamConfig) { c.GCPercent = -2 },
		"gc off":  func(c *StreamConfig) { c.GCPercent = -1 },
	} {
		c := good
		bad(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
