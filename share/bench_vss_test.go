package share

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// Benchmarks of this package beside circl's secretsharing (Shamir + Feldman
// over ristretto255, the closest group circl offers to edwards25519), in
// the same run:
//
//	go test ./share -run '^$' -bench VSS -benchtime 200ms
//
// Deal: split into N shares with commitments. Verify: one share. VerifyBatch:
// all N shares (circl has no batch check: N single checks). Recover: from t
// shares; ours verifies them (one batch check) before interpolating, circl's
// does not verify. Refresh: one dealer's zero-sharing for N holders plus one
// holder's update (verify its old share and its delta, add); circl has no
// refresh, so the same steps are built from New, Share, CommitSecret and
// Verify.

var vssSizes = []struct{ t, n int }{{3, 5}, {10, 30}, {50, 200}}

func BenchmarkVSS(b *testing.B) {
	for _, sz := range vssSizes {
		name := fmt.Sprintf("t=%d,n=%d", sz.t, sz.n)
		for _, scheme := range schemes {
			benchOurs(b, scheme, sz.t, sz.n, name)
		}
		benchCircl(b, sz.t, sz.n, name)
	}
}

func benchOurs(b *testing.B, scheme Scheme, t, n int, size string) {
	prefix := fmt.Sprintf("%s/%v", size, scheme)
	xs := seq(n)
	secret := randomScalar()
	shares, c := mustDeal(b, scheme, secret, t, xs, 0)
	b.Run(prefix+"/Deal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Deal(scheme, secret, t, xs, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"/Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Verify(&shares[n-1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"/VerifyBatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.VerifyBatch(shares); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"/Recover", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Recover(c, shares[:t]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"/Refresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			deltas, dc, err := DealZero(scheme, t, xs, 1)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := ApplyRefresh(shares[0], c, deltas[:1], []*Commitments{dc}, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchCircl(b *testing.B, t, n int, size string) {
	prefix := size + "/circl"
	g := group.Ristretto255
	secret := g.RandomScalar(rand.Reader)
	ss := secretsharing.New(rand.Reader, uint(t-1), secret)
	shares := ss.Share(uint(n))
	com := ss.CommitSecret()
	b.Run(prefix+"/Deal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ss := secretsharing.New(rand.Reader, uint(t-1), secret)
			_ = ss.Share(uint(n))
			_ = ss.CommitSecret()
		}
	})
	b.Run(prefix+"/Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !secretsharing.Verify(uint(t-1), shares[n-1], com) {
				b.Fatal("share does not verify")
			}
		}
	})
	b.Run(prefix+"/VerifyBatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range shares {
				if !secretsharing.Verify(uint(t-1), s, com) {
					b.Fatal("share does not verify")
				}
			}
		}
	})
	b.Run(prefix+"/Recover", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := secretsharing.Recover(uint(t-1), shares[:t])
			if err != nil || !got.IsEqual(secret) {
				b.Fatal("recover", err)
			}
		}
	})
	b.Run(prefix+"/Refresh", func(b *testing.B) {
		b.ReportAllocs()
		zero := g.NewScalar()
		for b.Loop() {
			zs := secretsharing.New(rand.Reader, uint(t-1), zero)
			deltas := zs.Share(uint(n))
			dc := zs.CommitSecret()
			if !dc[0].IsIdentity() || !secretsharing.Verify(uint(t-1), shares[0], com) || !secretsharing.Verify(uint(t-1), deltas[0], dc) {
				b.Fatal("refresh")
			}
			newC := make([]group.Element, t)
			for j := range newC {
				newC[j] = g.NewElement().Add(com[j], dc[j])
			}
			_ = g.NewScalar().Add(shares[0].Value, deltas[0].Value)
		}
	})
}
