package mpcsign

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
)

// The pool's costs over loopback mutual TLS, every node in this process:
// a signing request (device authorisation, re-sealing t shares with
// X-Wing HPKE, two FROST rounds, aggregation, crypto/ed25519 check), an
// account's creation (COCKTAIL-DKG among n nodes, enrolment at every node
// of a pool of n+2), a refresh (frost refresh, n acknowledgements) and the
// repair of a share lost from the holder's store (with the store's delete).
// crypto/ed25519.Sign is measured beside them.

var poolSizes = []struct{ t, n int }{{2, 3}, {3, 5}, {7, 10}}

func BenchmarkPool(b *testing.B) {
	for _, sz := range poolSizes {
		var names []string
		for i := range sz.n + 2 {
			names = append(names, fmt.Sprintf("n%d", i+1))
		}
		b.Run(fmt.Sprintf("Sign/%d-of-%d", sz.t, sz.n), func(b *testing.B) {
			p := newTestPool(b, names...)
			p.create(sz.t, sz.n)
			set := names[:sz.t]
			msg := []byte("benchmark message")
			b.ResetTimer()
			for b.Loop() {
				p.nextStep()
				if _, err := p.sign(msg, set); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Create/%d-of-%d", sz.t, sz.n), func(b *testing.B) {
			p := newTestPool(b, names...)
			i := 0
			for b.Loop() {
				i++
				_, _, err := p.holder.CreateAccount(context.Background(), fmt.Sprintf("acct-%d", i), p.device.Public().(ed25519.PublicKey),
					&CreateOptions{Threshold: sz.t, Shares: sz.n})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Refresh/%d-of-%d", sz.t, sz.n), func(b *testing.B) {
			p := newTestPool(b, names...)
			p.create(sz.t, sz.n)
			for b.Loop() {
				if _, err := p.holder.Refresh(context.Background(), "acct"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Repair/%d-of-%d", sz.t, sz.n), func(b *testing.B) {
			p := newTestPool(b, names...)
			acct := p.create(sz.t, sz.n)
			for b.Loop() {
				if err := p.holder.store.Delete(holderShares, shareKey("acct", acct.Epoch, 1)); err != nil {
					b.Fatal(err)
				}
				if _, err := p.holder.Repair("acct", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("crypto/ed25519.Sign", func(b *testing.B) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := []byte("benchmark message")
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}
