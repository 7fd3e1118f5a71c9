package cosign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// benchEntries returns n signed entries by alice.
func benchEntries(b *testing.B, n int) []*Entry {
	es := make([]*Entry, n)
	now := time.Now()
	for i := range es {
		es[i] = &Entry{Kind: KindKeyUse, Signer: SignedByUser, Time: now, User: "alice",
			Payload: fmt.Appendf(nil, "request %d doc sha256:0123456789abcdef0123456789abcdef", i)}
		if err := es[i].Sign(testOrigin, aliceKey); err != nil {
			b.Fatal(err)
		}
	}
	return es
}

// BenchmarkAppend measures durable appends: each Append verifies the
// entries' signatures, writes them with their tree hashes and a newly
// signed checkpoint, and commits with fsync. entries/s is the throughput.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l := newLog(b, testOrigin, logKey)
			es := benchEntries(b, b.N*batch)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := l.Append(ctx, es[i*batch:(i+1)*batch]...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// benchLog returns a log of n entries (signatures not checked: the
// proofs do not depend on them), built in large batches, with a
// checkpoint at n/2.
func benchLog(b *testing.B, n int) *Log {
	l := newLog(b, testOrigin, logKey)
	e := &Entry{Kind: KindKeyUse, Signer: SignedByUser, Time: time.Unix(1_800_000_000, 0), User: "alice", Signature: make([]byte, 64)}
	for done := 0; done < n; {
		end := n
		if done < n/2 {
			end = n / 2
		}
		k := min(MaxBatch, end-done)
		recs := make([][]byte, k)
		for i := range recs {
			e.Payload = fmt.Appendf(e.Payload[:0], "request %d", done+i)
			recs[i], _ = e.Marshal()
		}
		err := l.store.Update(func(tx *custody.Tx) error {
			_, _, err := l.appendRecords(tx, recs)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		done += k
	}
	return l
}

// BenchmarkProof measures making and checking inclusion and consistency
// proofs in logs of 10^3 and 10^5 entries (the checks include the
// checkpoint's signature).
func BenchmarkProof(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1_000, 100_000} {
		l := benchLog(b, n)
		v := logVerifier(b, l)
		idx := int64(n / 3)
		e, _ := l.Entry(ctx, idx)
		rec, _ := e.Marshal()
		signed, _ := l.Checkpoint(ctx)
		c, _ := OpenCheckpoint(signed, v)
		old := int64(n / 2)
		oldSigned, err := l.CheckpointAt(ctx, old)
		if err != nil {
			b.Fatal(err)
		}
		oc, _ := OpenCheckpoint(oldSigned, v)
		b.Run(fmt.Sprintf("inclusion/prove/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := l.ProveInclusion(ctx, idx, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
		p, _ := l.ProveInclusion(ctx, idx, -1)
		b.Run(fmt.Sprintf("inclusion/verify/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := p.Verify(rec, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("consistency/prove/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := l.ProveConsistency(ctx, oc.Size, c.Size); err != nil {
					b.Fatal(err)
				}
			}
		})
		cp, _ := l.ProveConsistency(ctx, oc.Size, c.Size)
		b.Run(fmt.Sprintf("consistency/verify/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				// What a monitor does: open the new checkpoint, check the proof.
				nc, err := OpenCheckpoint(signed, v)
				if err != nil {
					b.Fatal(err)
				}
				if err := CheckConsistency(oc, nc, cp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
