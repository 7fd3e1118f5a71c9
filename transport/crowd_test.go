package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestIdleConnectionsDoNotLockOut checks that clients that connect and send
// nothing cannot lock a party out: with 300 idle TCP connections open (more
// than the listener's handshake slots), a party still connects, within its
// own handshake timeout (the listener closes the oldest idle connections to
// make room).
func TestIdleConnectionsDoNotLockOut(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t))
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for range 300 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	connect(t, l, "bank-1", "s1", p.clientConfig(t, "bank-1"))
}

// TestIdleConnectionsEvictedOldestFirst checks that the listener holds at
// most maxHandshakesPerIP unauthenticated connections from one address,
// closing the oldest first.
func TestIdleConnectionsEvictedOldestFirst(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t))
	ctx := testContext(t)
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for range maxHandshakesPerIP + 5 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// The first five are closed by the listener: a read sees the end.
	for i, c := range idle[:5] {
		c.SetReadDeadline(deadline(ctx))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("idle connection %d: read %v, want it closed", i, err)
		}
	}
	// The rest are still open, waiting for their handshake.
	for i, c := range idle[5:] {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Errorf("idle connection %d: read %v, want it still open", 5+i, err)
		}
	}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// flakyProxy forwards connections to addr, except the first drop ones, which
// it closes after reading the start of the client's handshake.
func flakyProxy(t *testing.T, addr string, drop int32) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if n.Add(1) <= drop {
				c.Read(make([]byte, 16))
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
	return ln.Addr().String(), &n
}

// TestDialRetriesBrokenHandshake checks that Dial tries again when the
// coordinator closes the connection in the middle of the TLS handshake (as
// a crowded listener does), rather than failing at once.
func TestDialRetriesBrokenHandshake(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t))
	addr, attempts := flakyProxy(t, l.Addr().String(), 2)
	ctx := testContext(t)
	go func() {
		if in, err := l.Accept(ctx); err == nil {
			t.Cleanup(func() { in.Conn.Close() })
		}
	}()
	c, err := Dial(ctx, addr, "s1", p.clientConfig(t, "bank-1"))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	if got := attempts.Load(); got != 3 {
		t.Errorf("%d connections, want 3", got)
	}
}

// TestDialHandshakeTimeoutReported checks that a coordinator that never
// answers the handshake is retried, and reported as a timeout, not as a
// rejection.
func TestDialHandshakeTimeoutReported(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	cfg := p.clientConfig(t, "bank-1")
	cfg.HandshakeTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, ln.Addr().String(), "s1", cfg)
	var de *DialError
	if !errors.As(err, &de) || errors.Is(err, ErrAuthentication) || !strings.Contains(de.Last.Error(), "timed out") {
		t.Fatalf("Dial: %v, want a DialError whose last attempt timed out", err)
	}
	if de.Attempts < 2 {
		t.Errorf("Dial made %d attempts, want it to retry", de.Attempts)
	}
	t.Logf("Dial: %v", err)
}

// TestDialReportsAlert checks that a TLS alert that is not about the
// party's certificate is reported as what it is: a coordinator that speaks
// only TLS 1.2 answers "protocol version", which is not an authentication
// failure, and Dial does not call it a certificate rejection.
func TestDialReportsAlert(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	old := &tls.Config{Certificates: []tls.Certificate{p.coord.TLSCertificate()}, MaxVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", old)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	_, err = Dial(testContext(t), ln.Addr().String(), "s1", p.clientConfig(t, "bank-1"))
	if err == nil || errors.Is(err, ErrAuthentication) || strings.Contains(err.Error(), "certificate") ||
		!strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("Dial: %v, want a protocol version alert, not an authentication failure", err)
	}
	t.Logf("Dial: %v", err)
}

// TestDialReportsCertificateAlert checks that the coordinator's rejection
// of the party's certificate names the alert it sent.
func TestDialReportsCertificateAlert(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	other := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t, AnyPeer))
	cfg, err := ClientConfig(other.ids["bank-1"], Trust{Roots: p.pool}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(testContext(t), l.Addr().String(), "s1", cfg)
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), `"unknown certificate authority"`) {
		t.Fatalf("Dial: %v, want ErrAuthentication naming the alert", err)
	}
}

// TestIdleConnectionsBoundedOverall checks that the listener holds at most
// maxPendingHandshakes unauthenticated connections in all, from however many
// addresses, closing the oldest first.
func TestIdleConnectionsBoundedOverall(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	l := listenLoopback(t, p.serverConfig(t))
	ctx := testContext(t)
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	const perAddr = maxHandshakesPerIP - 2 // under the per-address bound
	addrs := maxPendingHandshakes/perAddr + 1
	for a := range addrs {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+a))}}
		for range perAddr {
			c, err := d.DialContext(ctx, "tcp", l.Addr().String())
			if err != nil {
				t.Skipf("cannot connect from 127.0.0.%d: %v", 2+a, err)
			}
			idle = append(idle, c)
		}
	}
	over := len(idle) - maxPendingHandshakes
	if over <= 0 {
		t.Fatalf("%d connections do not exceed the bound", len(idle))
	}
	// The oldest are closed by the listener.
	for i, c := range idle[:over] {
		c.SetReadDeadline(deadline(ctx))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("idle connection %d: read %v, want it closed", i, err)
		}
	}
	// The newest are still open, waiting for their handshake.
	for i, c := range idle[over:] {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Errorf("idle connection %d: read %v, want it still open", over+i, err)
		}
	}
}
