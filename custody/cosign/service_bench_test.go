package cosign

import (
	"context"
	"crypto"
	"fmt"
	"testing"
	"time"
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

// BenchmarkCosignParts times the pieces of one request apart: the
// FROST 2-of-2 co-signature of its two entries (both sides, in one
// process, with the service's share opened from its envelope), the
// user's certificate check, and one signature by the sealed organisation
// key (HPKE open, sign, wipe). The rest of a request is the durable log
// append (BenchmarkAppend/batch=1, one fsync'd commit) and the transport.
func BenchmarkCosignParts(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	cred := e.enrol(b, "alice")
	u := e.svc.user("alice")
	q := &Request{Org: testOrg, Document: doc("x"), ID: NewRequestID()}
	payload, _ := q.Marshal()
	p := &Proposal{Action: ActionUse, User: "alice", Time: time.Now(), Payload: payload}
	b.Run("frost-2of2-two-entries", func(b *testing.B) {
		cl := e.client("alice")
		b.ReportAllocs()
		for range b.N {
			if _, err := cl.cosignatures(ctx, cred, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("certificate-check", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := VerifyCert(u.cert, e.svc.roots, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sealed-org-key-sign", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := e.svc.orgKey.Sign(nil, DocumentMessage(q.Document), crypto.Hash(0)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
