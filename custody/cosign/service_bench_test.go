package cosign

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCosign is one signing request end to end: the client's and the
// service's FROST 2-of-2 co-signatures of the authorisation and key-use
// entries (the service opening its sealed share), the certificate checks,
// the organisation's signature (its sealed key opened), and the durable
// log append with the spent request id, in one process and over loopback
// mutual TLS.
func BenchmarkCosign(b *testing.B) {
	for _, net := range []bool{false, true} {
		name := "in-process"
		if net {
			name = "tls-loopback"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			cl := e.client("alice")
			if net {
				cl = e.dial(b, e.serve(b), "alice")
			}
			ctx := context.Background()
			cred, _, err := cl.Enrol(ctx, "alice", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := cl.Sign(ctx, cred, doc(fmt.Sprint(i)), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// BenchmarkEnrol is one enrolment: two-party DKG, certificate, co-signed
// enrolment entry.
func BenchmarkEnrol(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		user := fmt.Sprint("u", i)
		if _, _, err := e.client(user).Enrol(ctx, user, nil); err != nil {
			b.Fatal(err)
		}
	}
}
