package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Dial connects a party to the coordinator at addr ("host:port") and asks to
// join session. It returns once the coordinator has authenticated the party
// and admitted it to the session, which may include waiting for the
// coordinator to open the session (see [Config.HoldTimeout]).
//
// While the coordinator cannot be reached (nothing listening yet, network
// down) or its TLS handshake breaks off or times out (a busy coordinator
// closes the oldest handshakes to make room), Dial keeps trying with
// exponential backoff ([Config.DialBackoff]) until ctx ends, so parties may
// start before the coordinator. Failures that retrying cannot fix end Dial
// at once: a malformed address, a rejected TLS handshake (untrusted or
// unexpected coordinator certificate or key, the coordinator rejecting ours,
// or any other TLS alert), and a refusal by the coordinator
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
			conn, herr := handshakeClient(ctx, raw, addr, session, c)
			if herr == nil || !retryable(herr) {
				return conn, herr
			}
			err = herr
		} else {
			var addrErr *net.AddrError
			if errors.As(err, &addrErr) {
				return nil, &DialError{Addr: addr, Attempts: attempt, Err: err}
			}
		}
		if ctx.Err() != nil {
			return nil, &DialError{Addr: addr, Attempts: attempt, Err: ctx.Err(), Last: err}
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

// retryError marks a failed connection attempt that another attempt may
// fix: the TLS handshake broke off (the connection was closed or reset,
// as a busy coordinator does to make room) or timed out, without either
// side rejecting the other.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var r *retryError
	return errors.As(err, &r)
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
		return nil, handshakeError(addr, err, cfg.handshakeTimeout)
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
			return nil, handshakeError(addr, err, cfg.handshakeTimeout)
		}
		err = fmt.Errorf("transport: waiting for admission by %s (%s): %w", peer, addr, err)
		if brokenOff(err) {
			// Closed without an answer, as a busy coordinator closes
			// the handshakes it has not finished: try again.
			err = &retryError{err}
		}
		return nil, err
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
// failures with ErrAuthentication and failures another attempt may fix
// (the connection broke off or timed out) as retryable. A TLS alert from
// the coordinator is reported as what it says: a rejected certificate
// (bad, unknown CA, expired, ...) is an authentication failure, another
// alert (protocol version, no common protocol, ...) is not, and neither is
// retried.
func handshakeError(addr string, err error, timeout time.Duration) error {
	var verr *tls.CertificateVerificationError
	if alert, ok := remoteAlert(err); ok {
		if certAlerts[alert] {
			return fmt.Errorf("%w: %s rejected this party's certificate (TLS alert %q)", ErrAuthentication, addr, alert)
		}
		return fmt.Errorf("transport: %s refused the TLS handshake (TLS alert %q)", addr, alert)
	}
	switch {
	case errors.As(err, &verr), errors.Is(err, ErrPeerNotAllowed), errors.Is(err, ErrPinMismatch),
		errors.Is(err, ErrBadName), errors.Is(err, errNotVerified):
		return fmt.Errorf("%w: %s: %w", ErrAuthentication, addr, err)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &retryError{fmt.Errorf("transport: TLS handshake with %s timed out (handshake timeout %v): %w", addr, timeout, context.DeadlineExceeded)}
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("transport: TLS handshake with %s: %w", addr, err)
	case brokenOff(err):
		return &retryError{fmt.Errorf("transport: %s closed the connection during the TLS handshake: %w", addr, err)}
	default:
		return fmt.Errorf("transport: TLS handshake with %s: %w", addr, err)
	}
}

// brokenOff reports whether err is a connection closed or reset by the peer.
func brokenOff(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// certAlerts are the TLS alerts by which a peer rejects a certificate, as
// crypto/tls names them.
var certAlerts = map[string]bool{
	"bad certificate":               true,
	"unsupported certificate":       true,
	"revoked certificate":           true,
	"expired certificate":           true,
	"unknown certificate":           true,
	"unknown certificate authority": true,
	"access denied":                 true,
	"certificate required":          true,
	"bad certificate hash value":    true,
	"certificate unobtainable":      true,
}

// remoteAlert reports whether err is a TLS alert sent by the peer (as
// crypto/tls reports it over TCP), and which: the alert's name as
// crypto/tls gives it, sanitised.
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return "", false
	}
	return sanitize(strings.TrimPrefix(op.Err.Error(), "tls: ")), true
}

// isRemoteAlert reports whether err is a TLS alert sent by the peer.
func isRemoteAlert(err error) bool {
	_, ok := remoteAlert(err)
	return ok
}
