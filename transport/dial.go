package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// Dial connects a party to the coordinator at addr ("host:port") and asks to
// join session. It returns once the coordinator has authenticated the party
// and admitted it to the session, which may include waiting for the
// coordinator to open the session (see [Config.HoldTimeout]).
//
// While the coordinator cannot be reached (nothing listening yet, network
// down), Dial keeps trying with exponential backoff ([Config.DialBackoff])
// until ctx ends, so parties may start before the coordinator. Failures that
// retrying cannot fix end Dial at once: a malformed address, a failed TLS
// handshake (untrusted or unexpected coordinator certificate or key, or the
// coordinator rejecting ours), and a refusal by the coordinator
// ([RefusedError]).
//
// cfg.TLS is required; see [ClientConfig].
func Dial(ctx context.Context, addr string, session string, cfg *Config) (Conn, error) {
	c, err := cfg.resolve(false)
	if err != nil {
		return nil, err
	}
	if err := checkSession(session); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("transport: dial: %w", err)
	}
	d := net.Dialer{KeepAlive: c.keepAlive}
	backoff := c.dialBackoff
	for attempt := 1; ; attempt++ {
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return handshakeClient(ctx, raw, addr, session, c)
		}
		if ctx.Err() != nil {
			return nil, &DialError{Addr: addr, Attempts: attempt, Err: ctx.Err(), Last: err}
		}
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) {
			return nil, &DialError{Addr: addr, Attempts: attempt, Err: err}
		}
		wait := jitter(backoff)
		c.log.Debug("transport: coordinator not reachable; retrying",
			"addr", addr, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, &DialError{Addr: addr, Attempts: attempt, Err: ctx.Err(), Last: err}
		}
		backoff = min(2*backoff, max(MaxDialBackoff, c.dialBackoff))
	}
}

// jitter returns d plus up to 25% at random.
func jitter(d time.Duration) time.Duration {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil || d <= 0 {
		return d
	}
	return d + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(d/4+1))
}

// handshakeClient runs the TLS handshake on raw, then asks to join session and
// waits for the coordinator's answer.
func handshakeClient(ctx context.Context, raw net.Conn, addr, session string, cfg *config) (Conn, error) {
	cc := &countingConn{Conn: raw}
	tc := tls.Client(cc, cfg.tls)
	hctx, cancel := context.WithTimeout(ctx, cfg.handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, handshakeError(addr, err)
	}
	cs := tc.ConnectionState()
	peer, key, err := cfg.verify.peer(cs)
	if err == nil && cs.NegotiatedProtocol != ALPN {
		err = fmt.Errorf("transport: %s did not negotiate protocol %q", addr, ALPN)
	}
	if err != nil {
		tc.Close()
		return nil, err
	}
	c := newTCPConn(tc, cc, cfg, peer, key)
	if err := c.writeControl(hctx, []byte(session)); err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: sending hello to %s: %w", addr, err)
	}
	// With TLS 1.3 the server checks our certificate after our side of
	// the handshake is done: a rejection arrives here, as an alert.
	reply, err := c.readControl(ctx, 1+maxReasonLen)
	if err != nil {
		c.Close()
		if isRemoteAlert(err) {
			return nil, handshakeError(addr, err)
		}
		return nil, fmt.Errorf("transport: waiting for admission by %s (%s): %w", peer, addr, err)
	}
	switch {
	case len(reply) == 1 && reply[0] == statusAdmitted:
		// Confirm, even if ctx has just ended: the coordinator now
		// counts this party as present.
		if err := c.writeControl(context.Background(), []byte{statusAdmitted}); err != nil {
			c.Close()
			return nil, fmt.Errorf("transport: confirming admission to %s: %w", addr, err)
		}
		c.admitted.Store(true)
		cfg.log.Debug("transport: admitted", "coordinator", peer, "addr", addr, "session", session)
		return c, nil
	case len(reply) >= 1 && reply[0] == statusRefused:
		c.Close()
		return nil, &RefusedError{Session: session, Reason: sanitize(string(reply[1:]))}
	default:
		c.Close()
		return nil, frameErrorf("malformed admission reply")
	}
}

// handshakeError explains a failed TLS handshake, marking authentication
// failures with ErrAuthentication.
func handshakeError(addr string, err error) error {
	var verr *tls.CertificateVerificationError
	switch {
	case isRemoteAlert(err):
		return fmt.Errorf("%w: %s rejected this party's certificate: %w", ErrAuthentication, addr, err)
	case errors.As(err, &verr), errors.Is(err, ErrPeerNotAllowed), errors.Is(err, ErrPinMismatch),
		errors.Is(err, ErrBadName), errors.Is(err, errNotVerified):
		return fmt.Errorf("%w: %s: %w", ErrAuthentication, addr, err)
	default:
		return fmt.Errorf("transport: TLS handshake with %s: %w", addr, err)
	}
}

// isRemoteAlert reports whether err is a TLS alert sent by the peer (as
// crypto/tls reports it over TCP).
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
