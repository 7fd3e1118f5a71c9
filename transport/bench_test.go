package transport

import (
	"context"
	"testing"
)

// BenchmarkTLSThroughput sends 8 MiB messages over loopback TLS, one way,
// with compression opted in: random data (sent raw) and small integers
// (compressed).
func BenchmarkTLSThroughput(b *testing.B) {
	p := newTestPKI(b, "bank-1")
	l := listenLoopback(b, p.serverConfig(b, "bank-1"))
	ccfg := p.clientConfig(b, "bank-1")
	ccfg.Compress = true
	client, in := connect(b, l, "bank-1", "s1", ccfg)
	ctx := context.Background()
	const size = 8 << 20
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"random", randomBytes(b, size)},
		{"smallints", smallInts(b, size)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			before := client.(WireMeter).WireStats()
			done := make(chan error, 1)
			go func() {
				for range b.N {
					if _, err := in.Conn.Recv(ctx); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			b.ResetTimer()
			for range b.N {
				if err := client.Send(ctx, c.msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			after := client.(WireMeter).WireStats()
			b.ReportMetric(float64(after.BytesSent-before.BytesSent)/float64(b.N*size), "wire/msg")
		})
	}
}

// BenchmarkPipe is the in-memory baseline.
func BenchmarkPipe(b *testing.B) {
	a, c := Pipe()
	ctx := context.Background()
	msg := make([]byte, 8<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
