package frost

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// Run: go test ./frost/ -run '^$' -bench . -benchmem
// The ZF frost figures in docs/CUSTODY.md are per participant for rounds
// one and two, and for the whole t-signer aggregation.

var benchSizes = [][2]int{{2, 3}, {3, 5}, {7, 10}}

func BenchmarkFROST(b *testing.B) {
	msg := []byte("benchmark message of a typical transaction hash size")
	for _, tn := range benchSizes {
		th, n := tn[0], tn[1]
		name := fmt.Sprintf("Ed25519/%d-of-%d", th, n)
		b.Run(name+"/keygen", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Deal(Ed25519, nil, th, idsUpTo(n)); err != nil {
					b.Fatal(err)
				}
			}
		})
		pub, keys, _ := Deal(Ed25519, nil, th, idsUpTo(n))
		who := make([]int, th)
		for i := range who {
			who[i] = i
		}
		b.Run(name+"/round1", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Commit(keys[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		comms := make([]*SigningCommitments, th)
		for i := range comms {
			_, comms[i], _ = Commit(keys[i])
		}
		p, _ := NewSigningPackage(msg, comms)
		b.Run(name+"/round2", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				// Fresh nonces matching the package's commitment each time.
				n, c, _ := Commit(keys[0])
				comms[0] = c
				q, _ := NewSigningPackage(msg, comms)
				b.StartTimer()
				if _, err := Sign(keys[0], n, q); err != nil {
					b.Fatal(err)
				}
			}
		})
		p, shares := signWith(b, keys, who, msg)
		b.Run(name+"/aggregate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Aggregate(pub, p, shares); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	b.Run("crypto-ed25519-Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}
