package kkrt

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"github.com/cloudflare/circl/group"
)

func benchIDs(n int, prefix string) [][]byte {
	ids := make([][]byte, n)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%s%020d", prefix, i) // IBAN-sized
	}
	return ids
}

// BenchmarkSession runs a full two-party session per iteration, both
// roles in this process, messages passed in memory: the receiver's
// ElementOf and NewReceiver, and the sender's NewSender, Finish and
// ElementOf and Candidates for each of its m elements (what a PSI needs
// from it). Half the sets overlap. Each role hashes its set once, as the
// engine does per session for all its pairs: here, with one pair, that is
// once per OPRF session, which is what version 1 did inside the package.
func BenchmarkSession(b *testing.B) {
	for _, m := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			recv := benchIDs(m, "DE")
			send := append(benchIDs(m/2, "DE"), benchIDs(m-m/2, "FR")...)
			var session [32]byte
			var tSend, tRecv time.Duration
			var b0, b1 int
			b.ReportAllocs()
			for b.Loop() {
				rand.Read(session[:])
				t0 := time.Now()
				s, msg0, err := NewSender(session, nil)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				elems := make([]Element, m)
				for i, x := range recv {
					elems[i] = ElementOf(&session, x)
				}
				_, msg1, err := NewReceiver(session, elems, msg0, nil)
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := s.Finish(msg1); err != nil {
					b.Fatal(err)
				}
				dst := make([]Value, 0, MaxCandidates)
				for _, y := range send {
					if _, err := s.Candidates(dst[:0], ElementOf(&session, y)); err != nil {
						b.Fatal(err)
					}
				}
				t3 := time.Now()
				tSend += t1.Sub(t0) + t3.Sub(t2)
				tRecv += t2.Sub(t1)
				b0, b1 = len(msg0), len(msg1)
			}
			n := float64(b.N) * float64(m)
			b.ReportMetric(float64(tRecv.Nanoseconds())/n, "recv-ns/item")
			b.ReportMetric(float64(tSend.Nanoseconds())/n, "send-ns/item")
			b.ReportMetric(float64(b0)/float64(m), "B/item-to-recv")
			b.ReportMetric(float64(b1)/float64(m), "B/item-to-send")
		})
	}
}

// BenchmarkRistrettoMul is one circl ristretto255 variable-base scalar
// multiplication: the ecdh mode's per-item, per-party floor.
func BenchmarkRistrettoMul(b *testing.B) {
	g := group.Ristretto255
	k := g.RandomNonZeroScalar(rand.Reader)
	p := g.RandomElement(rand.Reader)
	q := g.NewElement()
	b.ReportAllocs()
	for b.Loop() {
		q.Mul(p, k)
	}
}

// BenchmarkCandidates is the sender's Candidates for one element, against
// a receiver's table of 1000 elements (which fits in cache).
func BenchmarkCandidates(b *testing.B) {
	var session [32]byte
	s, _, _, _ := runSession(b, session, benchIDs(1000, "DE"), nil)
	e := el([]byte("DE00000000000000000001"))
	dst := make([]Value, 0, MaxCandidates)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Candidates(dst[:0], e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCandidatesLarge is Candidates over 2^16 different elements
// against a receiver's table of 10^6 (98 MB), so the rows come from
// memory rather than cache, as in a large session.
func BenchmarkCandidatesLarge(b *testing.B) {
	var session [32]byte
	s, _, _, _ := runSession(b, session, benchIDs(1_000_000, "DE"), nil)
	elems := elementsOf(benchIDs(1<<16, "FR"))
	dst := make([]Value, 0, MaxCandidates)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Candidates(dst[:0], elems[i&(1<<16-1)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkElementOf hashes an IBAN-sized identifier to its element.
func BenchmarkElementOf(b *testing.B) {
	var key [32]byte
	x := []byte("DE00000000000000000001")
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		ElementOf(&key, x)
	}
}

func BenchmarkTranspose64(b *testing.B) {
	var a [64]uint64
	b.SetBytes(512)
	for b.Loop() {
		transpose64(&a)
	}
}

// BenchmarkEdwards25519Mul is filippo.io/edwards25519's variable-base
// scalar multiplication, which main's ecdh mode now blinds with (the
// ristretto255 encoding around it costs little more).
func BenchmarkEdwards25519Mul(b *testing.B) {
	var buf [64]byte
	rand.Read(buf[:])
	k, err := edwards25519.NewScalar().SetUniformBytes(buf[:])
	if err != nil {
		b.Fatal(err)
	}
	p := edwards25519.NewGeneratorPoint()
	q := new(edwards25519.Point)
	b.ReportAllocs()
	for b.Loop() {
		q.ScalarMult(k, p)
	}
}

// BenchmarkAppendCandidatesLarge is BenchmarkCandidatesLarge through
// AppendCandidates, 64 elements a call (the engine's batches); per element.
func BenchmarkAppendCandidatesLarge(b *testing.B) {
	var session [32]byte
	s, _, _, _ := runSession(b, session, benchIDs(1_000_000, "DE"), nil)
	elems := elementsOf(benchIDs(1<<16, "FR"))
	dst := make([]Value, 0, 64*MaxCandidates)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.AppendCandidates(dst[:0], elems[i&(1<<16-1):][:64]); err != nil {
			b.Fatal(err)
		}
		i += 64
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(64*b.N), "ns/element")
}
