package transport

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the admission exchange.
const (
	// MaxSessionLen bounds a session name, in bytes.
	MaxSessionLen = 128

	// maxReasonLen bounds the reason of a refusal, in bytes.
	maxReasonLen = 200

	// writeBufferSize is the buffer that gathers frame headers and small
	// payloads into TLS records.
	writeBufferSize = 64 << 10
)

// Reply status bytes.
const (
	statusAdmitted byte = 0
	statusRefused  byte = 1
)

// ValidSession reports whether s can name a session: 1 to [MaxSessionLen]
// bytes of printable UTF-8 (letters, marks, numbers, punctuation, symbols and
// the ASCII space).
func ValidSession(s string) bool {
	if len(s) == 0 || len(s) > MaxSessionLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func checkSession(s string) error {
	if !ValidSession(s) {
		return fmt.Errorf("%w: session %q", ErrBadName, s)
	}
	return nil
}

// sanitize makes a peer-supplied reason safe to print.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, strings.ToValidUTF8(s, "?"))
	return s
}

// WireMeter is implemented by connections that know how much traffic they
// cause on the network. The connections made by [Dial] and [Listener]
// implement it: their Stats count messages, and the bytes that crossed the
// TCP connection (TLS records, handshake and framing included, after
// compression).
type WireMeter interface {
	WireStats() Stats
}

// countingConn counts the bytes that cross a net.Conn.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// tcpConn is a Conn over TLS over TCP.
type tcpConn struct {
	tc   *tls.Conn
	raw  *countingConn
	cfg  *config
	log  *slog.Logger
	peer string
	key  ed25519.PublicKey

	wmu  sync.Mutex
	bw   *bufio.Writer
	mw   *msgWriter
	werr error // sticky; under wmu
	// offered is set (under wmu) once the coordinator has told the party
	// it is admitted: from then on, the party reads messages.
	offered bool

	rmu sync.Mutex
	mr  *msgReader
	// early is a message read by the watch of an admitted connection
	// (watchHangup with keep); Recv returns it first. Under rmu.
	early []byte

	admitted  atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}

	msgsSent, msgsRecv atomic.Int64
}

func newTCPConn(tc *tls.Conn, raw *countingConn, cfg *config, peer string, key ed25519.PublicKey) *tcpConn {
	c := &tcpConn{
		tc: tc, raw: raw, cfg: cfg, peer: peer, key: key,
		log:    cfg.log.With("peer", peer),
		closed: make(chan struct{}),
	}
	c.bw = bufio.NewWriterSize(tc, writeBufferSize)
	c.mw = newMsgWriter(c.bw, cfg.compress)
	c.mr = newMsgReader(tc, cfg.maxMessageSize)
	return c
}

func (c *tcpConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// aLongTimeAgo is a deadline in the past, used to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// watch turns ctx into a deadline set by set, for the duration of one
// operation: ctx's deadline becomes the deadline and cancelling ctx moves the
// deadline to the past, which interrupts the operation. The returned function
// ends the watch and clears the deadline; after it returns, the watch can no
// longer touch the deadline.
func watch(ctx context.Context, set func(time.Time) error) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	if d, ok := ctx.Deadline(); ok {
		_ = set(d)
	}
	var mu sync.Mutex
	stopped := false
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			_ = set(aLongTimeAgo)
		}
	})
	return func() {
		stopAfter()
		mu.Lock()
		stopped = true
		mu.Unlock()
		_ = set(time.Time{})
	}
}

// ctxError explains a deadline error of an operation watched with ctx.
func ctxError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The socket deadline (ctx's deadline) fired a moment before ctx's
	// own timer.
	return context.DeadlineExceeded
}

// Send implements [Conn]. If ctx ends after part of msg has been written, the
// connection is closed (the rest can no longer be delivered in order) and Send
// returns the context's error.
func (c *tcpConn) Send(ctx context.Context, msg []byte) error {
	if int64(len(msg)) > c.cfg.maxMessageSize {
		return &SizeError{Size: uint64(len(msg)), Limit: c.cfg.maxMessageSize}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(ctx); err != nil {
		return err
	}
	stop := watch(ctx, c.tc.SetWriteDeadline)
	err := c.mw.writeMessage(msg)
	if err == nil {
		err = c.bw.Flush()
	}
	stop()
	if err != nil {
		return c.writeFailed(ctx, err)
	}
	c.msgsSent.Add(1)
	return nil
}

func (c *tcpConn) writable(ctx context.Context) error {
	if c.isClosed() {
		return ErrClosed
	}
	if c.werr != nil {
		return c.werr
	}
	return ctx.Err()
}

// writeFailed records a write error (under wmu). A TLS connection cannot write
// again after a failed write, and the peer would wait for the rest of the
// message, so the connection is closed.
func (c *tcpConn) writeFailed(ctx context.Context, err error) error {
	switch {
	case c.isClosed():
		err = ErrClosed
	case isTimeout(err):
		err = fmt.Errorf("transport: send interrupted, connection closed: %w", ctxError(ctx))
	default:
		err = fmt.Errorf("%w: send: %w", ErrClosed, err)
	}
	c.werr = err
	c.Close()
	return err
}

// Recv implements [Conn]. A Recv interrupted by ctx loses nothing: the next
// Recv continues with the partly received message.
func (c *tcpConn) Recv(ctx context.Context) ([]byte, error) {
	return c.RecvLimit(ctx, 0)
}

// RecvLimit implements [LimitedReceiver]: a message that announces more
// than max bytes (in its first frame header) is refused before anything is
// allocated for it, with a [*SizeError], and the connection is closed. A
// max of zero or less means [Config.MaxMessageSize]. A message whose
// reception an earlier call started, and its context interrupted, was
// checked against that call's limit.
func (c *tcpConn) RecvLimit(ctx context.Context, max int64) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.isClosed() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if msg := c.early; msg != nil {
		c.early = nil
		c.msgsRecv.Add(1)
		return msg, nil
	}
	stop := watch(ctx, c.tc.SetReadDeadline)
	c.mr.limit = max
	msg, err := c.mr.next()
	c.mr.limit = 0
	stop()
	if err != nil {
		return nil, c.readFailed(ctx, err)
	}
	c.msgsRecv.Add(1)
	return msg, nil
}

func (c *tcpConn) readFailed(ctx context.Context, err error) error {
	switch {
	case c.isClosed():
		return ErrClosed
	case isTimeout(err):
		return fmt.Errorf("transport: receive: %w", ctxError(ctx))
	case errors.As(err, new(*ClosedError)):
		c.Close()
		return err
	case errors.Is(err, ErrBadFrame), errors.Is(err, ErrMessageTooLarge):
		// (Checked first: a FrameError may wrap a decoder's io error.)
		c.log.Warn("transport: protocol violation; closing", "err", err)
		c.Close()
		return err
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w by peer: %w", ErrClosed, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w by peer in mid-message: %w", ErrClosed, err)
	default:
		return fmt.Errorf("%w: receive: %w", ErrClosed, err)
	}
}

// Close implements [Conn]. It sends a TLS close_notify (unless a Send is in
// progress, which it interrupts), so the peer's Recv ends with an error
// wrapping [ErrClosed] and io.EOF. The connection is closed even if the alert
// cannot be sent, so Close always returns nil.
func (c *tcpConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.tc.Close()
	})
	return nil
}

// WireStats implements [WireMeter].
func (c *tcpConn) WireStats() Stats {
	return Stats{
		MsgsSent:  c.msgsSent.Load(),
		MsgsRecv:  c.msgsRecv.Load(),
		BytesSent: c.raw.written.Load(),
		BytesRecv: c.raw.read.Load(),
	}
}

// writeControl writes one frame of the admission exchange, bounded by ctx and
// the handshake timeout.
func (c *tcpConn) writeControl(ctx context.Context, payload []byte) error {
	return c.writeFrame(ctx, 0, payload)
}

// writeFrame writes one frame with flags, bounded by ctx and the handshake
// timeout.
func (c *tcpConn) writeFrame(ctx context.Context, flags byte, payload []byte) error {
	return c.writeFrameWith(ctx, func() (byte, []byte) { return flags, payload })
}

// writeFrameWith writes the frame that choose returns, chosen under the write
// lock (so after any frame written before it), bounded by ctx and the
// handshake timeout.
func (c *tcpConn) writeFrameWith(ctx context.Context, choose func() (flags byte, payload []byte)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.handshakeTimeout)
	defer cancel()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(ctx); err != nil {
		return err
	}
	flags, payload := choose()
	stop := watch(ctx, c.tc.SetWriteDeadline)
	err := c.mw.writeFrame(flags, payload)
	if err == nil {
		err = c.bw.Flush()
	}
	stop()
	if err != nil {
		return c.writeFailed(ctx, err)
	}
	return nil
}

// readControl reads one frame of the admission exchange of at most max bytes,
// bounded by ctx. It must be called before the first Recv.
func (c *tcpConn) readControl(ctx context.Context, max int) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	stop := watch(ctx, c.tc.SetReadDeadline)
	flags, payload, err := readFrame(c.tc, max)
	stop()
	if err != nil {
		if isTimeout(err) {
			return nil, ctxError(ctx)
		}
		return nil, err
	}
	if flags != 0 {
		return nil, frameErrorf("control frame with flags %#02x", flags)
	}
	return payload, nil
}

// watchHangup reads from a connection that is not yet admitted, in the
// background, to notice a party that hangs up while it waits (its Dial gave
// up, say); the party sends nothing before it is admitted, so anything read
// means it is gone (or broke the protocol). Then watchHangup closes the
// connection and calls gone. The returned function ends the watch and reports
// whether the connection is still usable; it may be called more than once.
// Ending the watch interrupts the background read with a deadline, which
// loses nothing (see msgReader).
//
// With keep (an admitted connection, whose party may speak), a message read
// is kept for the next Recv instead, the watch ends (the party is there) and
// spoke is called; a connection that already holds such a message is not
// read again.
func (c *tcpConn) watchHangup(gone func(error), keep bool, spoke func()) (stop func() bool) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	alive := false
	go func() {
		defer close(done)
		c.rmu.Lock()
		if keep && c.early != nil {
			c.rmu.Unlock()
			alive = true
			return
		}
		stopWatch := watch(ctx, c.tc.SetReadDeadline)
		msg, err := c.mr.next()
		stopWatch()
		if keep && err == nil {
			c.early = msg
			c.rmu.Unlock()
			alive = true
			spoke()
			return
		}
		c.rmu.Unlock()
		if isTimeout(err) && ctx.Err() != nil {
			alive = true
			return
		}
		if err == nil {
			err = frameErrorf("message before admission")
		}
		wasClosed := c.isClosed()
		c.Close()
		if !wasClosed {
			gone(err)
		}
	}()
	var once sync.Once
	return func() bool {
		once.Do(func() {
			cancel()
			<-done
		})
		return alive
	}
}

// admit tells the party it is admitted and waits for its confirmation, so
// that a party that has hung up meanwhile is not taken for present. The
// coordinator calls it once, before handing the connection to its user.
func (c *tcpConn) admit(ctx context.Context) error {
	if err := c.offer(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.handshakeTimeout)
	defer cancel()
	confirm, err := c.readControl(ctx, 1)
	if err != nil {
		return fmt.Errorf("transport: waiting for the party's confirmation: %w", err)
	}
	if len(confirm) != 1 || confirm[0] != statusAdmitted {
		return frameErrorf("malformed admission confirmation")
	}
	c.admitted.Store(true)
	return nil
}

// offer tells the party it is admitted: the first half of admit.
func (c *tcpConn) offer(ctx context.Context) error {
	return c.writeFrameWith(ctx, func() (byte, []byte) {
		c.offered = true // the write fails only if the connection does
		return 0, []byte{statusAdmitted}
	})
}

// refuse tells a party why its connection is dropped, and closes the
// connection: a party not yet told it is admitted gets a refusal; one that
// was (whose admission may still be completing) a close frame, which its
// Recv returns as a [*ClosedError].
func (c *tcpConn) refuse(reason string) {
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	_ = c.writeFrameWith(context.Background(), func() (byte, []byte) {
		if c.offered {
			return flagClose, []byte(reason)
		}
		return 0, append([]byte{statusRefused}, reason...)
	})
	c.Close()
}
