package transport

import (
	"container/list"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on the connections a Listener handles at once, so that clients
// that connect and say nothing cannot lock out the parties.
const (
	// maxPendingHandshakes bounds the connections not yet authenticated
	// (in or before their TLS handshake). When it is reached, or
	// maxHandshakesPerIP for the new connection's address, the oldest such
	// connection (from that address) is closed to make room: a party's
	// handshake takes a round trip or two, an idle connection holds its
	// slot until the handshake timeout, so the oldest is the likeliest to
	// be idle, and a party that loses its slot retries ([Dial]).
	maxPendingHandshakes = 128
	// 64 per address: one machine may run many parties at once (the bench
	// runs up to 50 from loopback), and one address still cannot hold more
	// than half the slots.
	maxHandshakesPerIP = 64

	// maxPendingAuthenticated bounds the authenticated connections
	// between their handshake and delivery to Accept (or a Router):
	// reading the hello, or waiting to be accepted. A connection that
	// finds no room within the handshake timeout is refused.
	maxPendingAuthenticated = 128
)

// handshakeSlot is a connection in or before its TLS handshake.
type handshakeSlot struct {
	raw  net.Conn
	ip   string
	elem *list.Element // in Listener.unauth; nil once released or evicted
}

// Incoming is a party's connection accepted by a [Listener].
type Incoming struct {
	// Conn is the connection.
	Conn Conn
	// Peer is the party's name, from its authenticated certificate (never
	// from anything the party declares).
	Peer string
	// PeerKey is the party's Ed25519 public key, from the same certificate.
	PeerKey ed25519.PublicKey
	// Session is the session the party asked to join.
	Session string
	// RemoteAddr is the party's network address.
	RemoteAddr net.Addr

	c *tcpConn
}

// Listener accepts parties' connections for a coordinator. Each connection is
// authenticated (TLS 1.3 with client certificates) and announces its session
// before [Listener.Accept] returns it. Handshakes run concurrently in the
// background, bounded by [Config.HandshakeTimeout], so a slow or hostile
// client cannot stall others; at most 128 connections (32 from one address)
// may be in or before their handshake, and a new one past either bound
// closes the oldest, so clients that connect and say nothing cannot lock
// the parties out (a party whose handshake is closed retries: [Dial]).
type Listener struct {
	ln  net.Listener
	cfg *config

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	ready  chan *Incoming
	authed chan struct{} // semaphore of maxPendingAuthenticated
	wg     sync.WaitGroup

	mu     sync.Mutex
	unauth *list.List     // of *handshakeSlot, oldest first
	perIP  map[string]int // unauth by address
	once   sync.Once
	routed atomic.Bool
}

// Listen listens for parties on the TCP address addr (for instance ":7000",
// or "127.0.0.1:0" for a free loopback port). cfg.TLS is required; see
// [ServerConfig].
func Listen(addr string, cfg *Config) (*Listener, error) {
	c, err := cfg.resolve(true)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{KeepAlive: c.keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		ln: ln, cfg: c, ctx: ctx, cancel: cancel,
		ready:  make(chan *Incoming),
		authed: make(chan struct{}, maxPendingAuthenticated),
		unauth: list.New(),
		perIP:  make(map[string]int),
	}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

// Addr returns the address the listener listens on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening and closes the connections not yet accepted. It does
// not close connections already returned by Accept.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.ln.Close()
		l.wg.Wait()
	})
	return err
}

// Accept returns the next authenticated connection, admitting the party to the
// session it asked for (which takes one round trip, bounded by
// [Config.HandshakeTimeout]: the party confirms it is still there). Accept
// must not be used on a Listener given to a [Router].
func (l *Listener) Accept(ctx context.Context) (*Incoming, error) {
	if l.routed.Load() {
		return nil, errors.New("transport: Accept on a Listener owned by a Router")
	}
	for {
		in, err := l.next(ctx)
		if err != nil {
			return nil, err
		}
		if err := in.c.admit(ctx); err != nil {
			l.cfg.log.Info("transport: admission failed", "peer", in.Peer, "remote", in.RemoteAddr, "err", err)
			in.c.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		return in, nil
	}
}

// next returns the next authenticated connection, not yet admitted.
func (l *Listener) next(ctx context.Context) (*Incoming, error) {
	select {
	case in := <-l.ready:
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.ctx.Done():
		return nil, fmt.Errorf("%w: listener closed", ErrClosed)
	}
}

func (l *Listener) serve() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as
			// net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.cfg.log.Warn("transport: accept failed; retrying", "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		slot := l.track(raw)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handshake(raw, slot)
		}()
	}
}

// track counts a new connection among those not yet authenticated, first
// closing the oldest one from the same address if that address has
// maxHandshakesPerIP of them, and the oldest of all if there are
// maxPendingHandshakes.
func (l *Listener) track(raw net.Conn) *handshakeSlot {
	ip := raw.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	slot := &handshakeSlot{raw: raw, ip: ip}
	var evict []*handshakeSlot
	l.mu.Lock()
	if l.perIP[ip] >= maxHandshakesPerIP {
		for e := l.unauth.Front(); e != nil; e = e.Next() {
			if old := e.Value.(*handshakeSlot); old.ip == ip {
				l.untrack(old)
				evict = append(evict, old)
				break
			}
		}
	}
	if l.unauth.Len() >= maxPendingHandshakes {
		old := l.unauth.Front().Value.(*handshakeSlot)
		l.untrack(old)
		evict = append(evict, old)
	}
	slot.elem = l.unauth.PushBack(slot)
	l.perIP[ip]++
	l.mu.Unlock()
	for _, old := range evict {
		l.cfg.log.Info("transport: too many connections in their handshake; closing the oldest",
			"remote", old.raw.RemoteAddr().String(), "new", raw.RemoteAddr().String())
		old.raw.Close()
	}
	return slot
}

// untrack removes slot from the connections not yet authenticated (under
// l.mu), reporting whether it was there (not evicted meanwhile).
func (l *Listener) untrack(slot *handshakeSlot) bool {
	if slot.elem == nil {
		return false
	}
	l.unauth.Remove(slot.elem)
	slot.elem = nil
	if l.perIP[slot.ip]--; l.perIP[slot.ip] <= 0 {
		delete(l.perIP, slot.ip)
	}
	return true
}

// release ends slot's handshake, reporting whether it still held its slot:
// false means it was closed to make room for newer connections.
func (l *Listener) release(slot *handshakeSlot) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.untrack(slot)
}

// handshake authenticates a new connection, reads its hello and hands it to
// next.
func (l *Listener) handshake(raw net.Conn, slot *handshakeSlot) {
	log := l.cfg.log.With("remote", raw.RemoteAddr().String())
	cc := &countingConn{Conn: raw}
	tc := tls.Server(cc, l.cfg.tls)
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.handshakeTimeout)
	defer cancel()
	err := tc.HandshakeContext(ctx)
	if !l.release(slot) && err == nil {
		err = errors.New("closed to make room for newer connections")
	}
	if err != nil {
		// Includes clients from another CA, keys not pinned and names
		// not allowed.
		log.Info("transport: handshake failed", "err", err)
		raw.Close()
		return
	}
	cs := tc.ConnectionState()
	peer, key, err := l.cfg.verify.peer(cs)
	if err == nil && cs.NegotiatedProtocol != ALPN {
		err = fmt.Errorf("transport: client did not negotiate protocol %q", ALPN)
	}
	if err != nil {
		log.Info("transport: handshake failed", "err", err)
		tc.Close()
		return
	}
	c := newTCPConn(tc, cc, l.cfg, peer, key)
	select {
	case l.authed <- struct{}{}:
		defer func() { <-l.authed }()
	case <-ctx.Done():
		log.Info("transport: too many authenticated connections waiting", "peer", peer)
		c.refuse("coordinator busy")
		return
	}
	hello, err := c.readControl(ctx, MaxSessionLen)
	if err != nil {
		log.Info("transport: no valid hello", "peer", peer, "err", err)
		c.refuse("invalid hello")
		return
	}
	session := string(hello)
	if !ValidSession(session) {
		log.Info("transport: invalid session name", "peer", peer)
		c.refuse("invalid session name")
		return
	}
	log.Debug("transport: authenticated", "peer", peer, "session", session)
	in := &Incoming{Conn: c, Peer: peer, PeerKey: key, Session: session, RemoteAddr: raw.RemoteAddr(), c: c}
	select {
	case l.ready <- in:
	case <-l.ctx.Done():
		c.refuse("coordinator shutting down")
	}
}
