package transport

import (
	"bytes"
	"testing"
)

func TestMeteredPipe(t *testing.T) {
	ctx := testContext(t)
	a, b := Pipe()
	ma, mb := Metered(a), Metered(b)
	for _, m := range []string{"", "x", "hello"} {
		if err := ma.Send(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := mb.Send(ctx, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := ma.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	want := Stats{MsgsSent: 3, MsgsRecv: 1, BytesSent: 6, BytesRecv: 100}
	if got := ma.Stats(); got != want {
		t.Errorf("a: %+v, want %+v", got, want)
	}
	if got := mb.Stats(); got != (Stats{MsgsSent: 1, MsgsRecv: 3, BytesSent: 100, BytesRecv: 6}) {
		t.Errorf("b: %+v", got)
	}
	if got := ma.Stats().Add(mb.Stats()); got != (Stats{4, 4, 106, 106}) {
		t.Errorf("sum: %+v", got)
	}
	if _, ok := ma.Wire(); ok {
		t.Error("a Pipe has wire statistics")
	}
	if ma.Unwrap() != a {
		t.Error("Unwrap")
	}
	ma.Close()
	if err := ma.Send(ctx, nil); err == nil {
		t.Error("Send after Close")
	}
	if got := ma.Stats(); got != want {
		t.Errorf("failed Send was counted: %+v", got)
	}
}

// TestMeteredTLS counts the wire bytes of a compressible and a random
// megabyte: by default both travel raw; with Config.Compress the compressible
// one shrinks, and the receiver takes it without opting in.
func TestMeteredTLS(t *testing.T) {
	for _, compress := range []bool{false, true} {
		p := newTestPKI(t, "bank-1")
		l := listenLoopback(t, p.serverConfig(t, "bank-1"))
		ccfg := p.clientConfig(t, "bank-1")
		ccfg.Compress = compress
		client, in := connect(t, l, "bank-1", "s1", ccfg)
		ctx := testContext(t)
		mc, ms := Metered(client), Metered(in.Conn)
		msgs := [][]byte{smallInts(t, 1<<20), randomBytes(t, 1<<20)}
		for _, m := range msgs {
			errc := make(chan error, 1)
			go func() { errc <- mc.Send(ctx, m) }()
			got, err := ms.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, m) {
				t.Fatal("message differs")
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		sent := mc.Stats()
		wire, ok := mc.Wire()
		if !ok {
			t.Fatal("no wire statistics")
		}
		recvWire, _ := ms.Wire()
		t.Logf("compress %v: message bytes %d, wire bytes sent %d (received by the coordinator %d)", compress, sent.BytesSent, wire.BytesSent, recvWire.BytesRecv)
		if sent.BytesSent != 2<<20 || sent.MsgsSent != 2 || wire.MsgsSent != 2 {
			t.Errorf("stats %+v, wire %+v", sent, wire)
		}
		if compress {
			// The compressible megabyte shrinks; handshake and
			// framing are small.
			if wire.BytesSent >= sent.BytesSent || wire.BytesSent < sent.BytesSent/2 {
				t.Errorf("compress: wire bytes %d for %d message bytes", wire.BytesSent, sent.BytesSent)
			}
		} else if wire.BytesSent < sent.BytesSent {
			t.Errorf("no compression: wire bytes %d for %d message bytes", wire.BytesSent, sent.BytesSent)
		}
		if recvWire.BytesRecv != wire.BytesSent {
			t.Errorf("coordinator read %d bytes, party wrote %d", recvWire.BytesRecv, wire.BytesSent)
		}
	}
}
