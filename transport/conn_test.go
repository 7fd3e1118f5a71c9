package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestRoundTripTLS sends messages of every size both ways, with compression
// opted in on both ends (TestMeteredTLS checks that it is off by default).
func TestRoundTripTLS(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	scfg, ccfg := p.serverConfig(t, "bank-1"), p.clientConfig(t, "bank-1")
	scfg.Compress, ccfg.Compress = true, true
	l := listenLoopback(t, scfg)
	client, in := connect(t, l, "bank-1", "s1", ccfg)
	server := in.Conn
	ctx := testContext(t)

	if in.Peer != "bank-1" || in.Session != "s1" || !in.PeerKey.Equal(p.ids["bank-1"].PublicKey()) {
		t.Fatalf("incoming: peer %q session %q", in.Peer, in.Session)
	}
	sizes := []int{0, 1, MaxFrameSize - 1, MaxFrameSize, 3*MaxFrameSize + 7}
	for _, kind := range []string{"random", "smallints"} {
		for _, n := range sizes {
			msg := randomBytes(t, n)
			if kind == "smallints" {
				msg = smallInts(t, n)
			}
			for _, dir := range []struct {
				name     string
				from, to Conn
			}{{"party→coordinator", client, server}, {"coordinator→party", server, client}} {
				before := dir.from.(WireMeter).WireStats()
				errc := make(chan error, 1)
				go func() { errc <- dir.from.Send(ctx, msg) }()
				got, err := dir.to.Recv(ctx)
				if err != nil {
					t.Fatalf("%s %s %d: Recv: %v", kind, dir.name, n, err)
				}
				if err := <-errc; err != nil {
					t.Fatalf("%s %s %d: Send: %v", kind, dir.name, n, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("%s %s %d: message differs", kind, dir.name, n)
				}
				after := dir.from.(WireMeter).WireStats()
				wire := after.BytesSent - before.BytesSent
				if after.MsgsSent != before.MsgsSent+1 {
					t.Fatalf("MsgsSent %d -> %d", before.MsgsSent, after.MsgsSent)
				}
				if n >= 1<<20 && kind == "smallints" && wire > int64(n)*6/10 {
					t.Errorf("%s %s %d: %d bytes on the wire", kind, dir.name, n, wire)
				}
				if n >= 1<<20 && kind == "random" && wire < int64(n) {
					t.Errorf("%s %s %d: only %d bytes on the wire", kind, dir.name, n, wire)
				}
			}
		}
	}
}

func TestConcurrentSendRecv(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	client, in := connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
	ctx := testContext(t)

	const n = 40
	message := func(from string, i int) []byte {
		size := []int{0, 10, 5000, 70000, MaxFrameSize + 3}[i%5]
		b := bytes.Repeat([]byte(fmt.Sprintf("%s %d;", from, i)), size/8+1)
		if i%2 == 0 {
			copy(b, randomBytes(t, size))
		}
		return b[:size]
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, end := range []struct {
		name     string
		c        Conn
		peerName string
	}{{"party", client, "coordinator"}, {"coordinator", in.Conn, "party"}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := end.c.Send(ctx, message(end.name, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range n {
				got, err := end.c.Recv(ctx)
				if err != nil {
					errs <- err
					return
				}
				if want := message(end.peerName, i); len(got) != len(want) || (i%2 == 1 && !bytes.Equal(got, want)) {
					errs <- fmt.Errorf("%s: message %d: got %d bytes, want %d", end.name, i, len(got), len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClientFromOtherCARefused(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	other := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, AnyPeer))
	ctx := testContext(t)

	// The intruder trusts the coordinator's CA but its own certificate
	// comes from another CA.
	cfg, err := ClientConfig(other.ids["bank-1"], Trust{Roots: p.pool}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(ctx, l.Addr().String(), "s1", cfg)
	if err == nil {
		t.Fatal("Dial succeeded with a certificate from another CA")
	}
	t.Logf("Dial: %v", err)
	if !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Dial: %v, want ErrAuthentication", err)
	}
	// Nothing reaches Accept.
	actx, cancel := context.WithCancel(ctx)
	cancel()
	if in, err := l.Accept(actx); err == nil {
		t.Fatalf("Accept returned %q", in.Peer)
	}
}

func TestCoordinatorFromOtherCARefused(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	other := newTestPKI(t)
	// A coordinator certified by another CA, listening for p's parties.
	scfg, err := ServerConfig(other.coord, Trust{Roots: p.pool}, []string{AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	l := listenLoopback(t, scfg)
	_, err = Dial(testContext(t), l.Addr().String(), "s1", p.clientConfig(t, "bank-1"))
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) || !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Dial: %v, want x509.UnknownAuthorityError", err)
	}
	t.Logf("Dial: %v", err)
}

func TestNameNotAllowed(t *testing.T) {
	p := newTestPKI(t, "bank-1", "mallory")
	ctx := testContext(t)
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	if _, err := Dial(ctx, l.Addr().String(), "s1", p.clientConfig(t, "mallory")); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Dial for a peer not on the allow-list: %v", err)
	} else {
		t.Logf("Dial: %v", err)
	}
	// The allowed peer still gets in.
	connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))

	// A party refuses a server certified by the right CA under another name.
	imposter, err := p.ca.Issue("imposter")
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := ServerConfig(imposter, Trust{Roots: p.pool}, []string{AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	l2 := listenLoopback(t, scfg)
	_, err = Dial(ctx, l2.Addr().String(), "s1", p.clientConfig(t, "bank-1"))
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) || !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Dial to an imposter: %v", err)
	}
	t.Logf("Dial: %v", err)
}

func TestDialBeforeListen(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	ctx := testContext(t)
	// Find a free port, and release it.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	type res struct {
		c   Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := Dial(ctx, addr, "s1", p.clientConfig(t, "bank-1"))
		ch <- res{c, err}
	}()
	time.Sleep(200 * time.Millisecond) // the coordinator starts late
	l, err := Listen(addr, p.serverConfig(t, "bank-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	in, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Conn.Close()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if err := r.c.Send(ctx, []byte("late but fine")); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Conn.Recv(ctx); err != nil || string(got) != "late but fine" {
		t.Fatalf("Recv: %q, %v", got, err)
	}
}

func TestDialGivesUp(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, addr, "s1", p.clientConfig(t, "bank-1"))
	var de *DialError
	if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) || de.Attempts < 1 {
		t.Fatalf("Dial: %v", err)
	}
	t.Logf("Dial: %v", err)
	if _, err := Dial(ctx, "no-port", "s1", p.clientConfig(t, "bank-1")); err == nil {
		t.Fatal("Dial accepted an address without port")
	}
	if _, err := Dial(ctx, addr, "bad\nsession", p.clientConfig(t, "bank-1")); !errors.Is(err, ErrBadName) {
		t.Fatalf("Dial with a bad session name: %v", err)
	}
	if _, err := Dial(ctx, addr, "s1", nil); err == nil {
		t.Fatal("Dial with nil config")
	}
}

func TestRecvCancel(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	client, in := connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
	ctx := testContext(t)

	// Cancellation unblocks a pending Recv.
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := in.Conn.Recv(rctx)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv after cancel: %v", err)
	}
	// A deadline too.
	dctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := in.Conn.Recv(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv past deadline: %v", err)
	}
	// The connection still works, in both directions.
	msg := smallInts(t, 3*MaxFrameSize)
	go func() { errc <- client.Send(ctx, msg) }()
	if got, err := in.Conn.Recv(ctx); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Recv after cancel: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := in.Conn.Send(ctx, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if got, err := client.Recv(ctx); err != nil || string(got) != "ok" {
		t.Fatalf("Recv: %q %v", got, err)
	}
	// An already cancelled context fails at once.
	cctx, cancel3 := context.WithCancel(ctx)
	cancel3()
	if _, err := client.Recv(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv with cancelled ctx: %v", err)
	}
	if err := client.Send(cctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with cancelled ctx: %v", err)
	}
}

// TestRecvInterruptedMidMessage cancels a Recv while a large message is in
// flight: the next Recv gets the whole message.
func TestRecvInterruptedMidMessage(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	client, in := connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
	ctx := testContext(t)
	msg := randomBytes(t, 16<<20)
	errc := make(chan error, 1)
	go func() { errc <- client.Send(ctx, msg) }()
	interrupted := 0
	var got []byte
	for i := 0; ; i++ {
		rctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		m, err := in.Conn.Recv(rctx)
		cancel()
		if err == nil {
			got = m
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv: %v", err)
		}
		interrupted++
		if i > 100000 {
			t.Fatal("no progress")
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("message corrupted by interrupted receives")
	}
	t.Logf("%d interrupted Recv calls", interrupted)
}

func TestClose(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	ctx := testContext(t)

	// Closing one end makes the other's pending Recv fail.
	client, in := connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
	errc := make(chan error, 1)
	go func() {
		_, err := client.Recv(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := in.Conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) || !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after the peer closed: %v", err)
	}
	if err := in.Conn.Send(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := in.Conn.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Closing an end unblocks its own pending Recv.
	client2, in2 := connect(t, l, "bank-1", "s2", p.clientConfig(t, "bank-1"))
	go func() {
		_, err := in2.Conn.Recv(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	in2.Conn.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after own Close: %v", err)
	}
	if _, err := client2.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("peer Recv: %v", err)
	}
}

// TestSendInterrupted checks that a Send cut short by its context closes the
// connection, so the receiver fails instead of waiting for the rest.
func TestSendInterrupted(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, "bank-1"))
	client, in := connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
	ctx := testContext(t)
	msg := randomBytes(t, 64<<20)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	// Nobody reads yet: 64 MiB cannot fit in the socket buffers.
	err := client.Send(sctx, msg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v", err)
	}
	if err := client.Send(ctx, []byte("x")); err == nil {
		t.Fatal("Send after an interrupted Send succeeded")
	}
	if _, err := in.Conn.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv of a truncated message: %v", err)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	scfg := p.serverConfig(t, "bank-1")
	scfg.MaxMessageSize = 1 << 20
	l := listenLoopback(t, scfg)
	ccfg := p.clientConfig(t, "bank-1")
	ccfg.MaxMessageSize = 1 << 20
	client, in := connect(t, l, "bank-1", "s1", ccfg)
	ctx := testContext(t)

	// The sender refuses at once.
	if err := client.Send(ctx, make([]byte, 1<<20+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("Send: %v", err)
	}
	if err := client.Send(ctx, make([]byte, 1<<20)); err != nil {
		t.Fatalf("Send at the limit: %v", err)
	}
	if _, err := in.Conn.Recv(ctx); err != nil {
		t.Fatal(err)
	}

	// A sender with a higher limit: the receiver refuses the declared size.
	ccfg2 := p.clientConfig(t, "bank-1")
	client2, in2 := connect(t, l, "bank-1", "s2", ccfg2)
	go client2.Send(ctx, randomBytes(t, 5<<20))
	_, err := in2.Conn.Recv(ctx)
	var se *SizeError
	if !errors.As(err, &se) || se.Size != 5<<20 {
		t.Fatalf("Recv: %v", err)
	}
	// The receiver has closed the connection.
	if _, err := client2.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("sender's Recv after refusal: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	if _, err := Listen("127.0.0.1:0", nil); err == nil {
		t.Error("Listen(nil config)")
	}
	if _, err := Listen("127.0.0.1:0", &Config{TLS: &tls.Config{Certificates: []tls.Certificate{p.coord.TLSCertificate()}}}); err == nil {
		t.Error("Listen without client authentication")
	}
	cfg := p.serverConfig(t, "bank-1")
	cfg.MaxMessageSize = -1
	if _, err := Listen("127.0.0.1:0", cfg); err == nil {
		t.Error("Listen with negative MaxMessageSize")
	}
	if _, err := ServerConfig(p.coord, Trust{Roots: p.pool}, nil); err == nil {
		t.Error("ServerConfig with an empty allow-list")
	}
	if _, err := ServerConfig(p.coord, Trust{Roots: p.pool}, []string{AnyPeer, "bank-1"}); err == nil {
		t.Error("ServerConfig with AnyPeer and a name")
	}
	if _, err := ClientConfig(p.ids["bank-1"], Trust{Roots: p.pool}, "not a name"); err == nil {
		t.Error("ClientConfig with an invalid coordinator name")
	}
}

// TestRecvLimitRefusesHeader checks that a message announcing more than the
// receiver's per-receive limit is refused on the word of its frame header:
// nothing is allocated for it (the payload is never even sent).
func TestRecvLimitRefusesHeader(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			pki := newTestPKI(t, "alice")
			l := listenLoopback(t, pki.serverConfig(t))
			party, in := connect(t, l, "alice", "s", pki.clientConfig(t, "alice"))
			pc := party.(*tcpConn)
			pc.wmu.Lock()
			var err error
			if chunked {
				var n [chunkHeaderSize]byte
				binary.BigEndian.PutUint64(n[:], 1<<30)
				err = pc.mw.writeFrame(flagMore, n[:])
			} else {
				// A header announcing a full frame, without its payload.
				_, err = pc.bw.Write(appendFrameHeader(nil, 0, MaxFrameSize))
			}
			if err == nil {
				err = pc.bw.Flush()
			}
			pc.wmu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			msg, err := RecvLimit(testContext(t), in.Conn, 1024)
			runtime.ReadMemStats(&after)
			var se *SizeError
			if !errors.As(err, &se) || se.Limit != 1024 {
				t.Fatalf("RecvLimit = %d bytes, %v; want a SizeError with limit 1024", len(msg), err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("refusing the message allocated %d bytes", grew)
			}
			// The stream can no longer be trusted: the connection is closed.
			if _, err := in.Conn.Recv(testContext(t)); !errors.Is(err, ErrClosed) {
				t.Errorf("Recv after the refusal: %v, want ErrClosed", err)
			}
		})
	}
}

// TestRecvLimitAcceptsWithin checks that a message within the per-receive
// limit, on a network connection, a Pipe and a MeteredConn, is delivered.
func TestRecvLimitAcceptsWithin(t *testing.T) {
	pki := newTestPKI(t, "alice")
	l := listenLoopback(t, pki.serverConfig(t))
	party, in := connect(t, l, "alice", "s", pki.clientConfig(t, "alice"))
	a, b := Pipe()
	for name, pair := range map[string][2]Conn{"tcp": {party, in.Conn}, "pipe": {a, b}, "metered": {Metered(a), Metered(b)}} {
		ctx := testContext(t)
		msg := randomBytes(t, 100)
		if err := pair[0].Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		got, err := RecvLimit(ctx, pair[1], 100)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: RecvLimit = %v, %v", name, len(got), err)
		}
		if err := pair[0].Send(ctx, append(msg, 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := RecvLimit(ctx, pair[1], 100); !errors.Is(err, ErrMessageTooLarge) {
			t.Errorf("%s: RecvLimit of 101 bytes with a limit of 100: %v", name, err)
		}
	}
}
