package frost

import (
	"fmt"
	"testing"
)

// Run: go test ./frost/ -run '^$' -bench 'DKG|Refresh|Repair' -benchmem
// Each iteration is the whole protocol for all participants in one process
// (no network, no encodings); ns/participant divides by n for DKG and
// refresh (every participant does the same work) and is not reported for
// repair (t helpers and one new holder).

func BenchmarkDKG(b *testing.B) {
	for _, tn := range benchSizes {
		th, n := tn[0], tn[1]
		b.Run(fmt.Sprintf("Ed25519/%d-of-%d", th, n), func(b *testing.B) {
			b.ReportAllocs()
			ds := newDKGSession(b, Ed25519, th, n)
			for b.Loop() {
				coord, _ := NewDKGCoordinator(ds.cfg)
				parts := make([]*DKGParticipant, n)
				for i := range parts {
					parts[i], _ = NewDKGParticipant(ds.cfg, uint16(i+1), ds.keys[i])
					m, err := parts[i].Round1()
					if err != nil {
						b.Fatal(err)
					}
					if err := coord.AddRound1(m); err != nil {
						b.Fatal(err)
					}
				}
				r2, _ := coord.Round2()
				for i, p := range parts {
					sig, err := p.Round2(r2[i])
					if err != nil {
						b.Fatal(err)
					}
					coord.AddSignature(sig)
				}
				sigs, _ := coord.Signatures()
				for _, p := range parts {
					if _, err := p.Finish(sigs); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
		})
	}
}

func BenchmarkRefresh(b *testing.B) {
	for _, tn := range benchSizes {
		th, n := tn[0], tn[1]
		b.Run(fmt.Sprintf("Ed25519/%d-of-%d", th, n), func(b *testing.B) {
			b.ReportAllocs()
			pub, ks, _ := Deal(Ed25519, nil, th, idsUpTo(n))
			for b.Loop() {
				refreshAll(b, ks, pub, 1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
		})
	}
}

func BenchmarkRepair(b *testing.B) {
	for _, tn := range benchSizes {
		th, n := tn[0], tn[1]
		b.Run(fmt.Sprintf("Ed25519/%d-of-%d", th, n), func(b *testing.B) {
			b.ReportAllocs()
			pub, ks, _ := Deal(Ed25519, nil, th, idsUpTo(n))
			helpers := idsUpTo(n)[1 : th+1] // repair 1 from 2..t+1
			for b.Loop() {
				inbox := make(map[uint16][]*RepairPiece)
				for _, h := range helpers {
					pieces, err := RepairSplit(ks[h-1], helpers, 1)
					if err != nil {
						b.Fatal(err)
					}
					for _, p := range pieces {
						inbox[p.to] = append(inbox[p.to], p)
					}
				}
				sums := make([]*RepairSum, len(helpers))
				for i, h := range helpers {
					sums[i], _ = RepairCombine(Ed25519, h, helpers, 1, inbox[h])
				}
				if _, _, err := RepairFinish(pub, helpers, 1, sums); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
