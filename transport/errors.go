package transport

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of these (or
// [ErrClosed], or a context error) so callers can test them with errors.Is.
var (
	// ErrMessageTooLarge reports a message larger than the configured
	// [Config.MaxMessageSize], on either the sending or the receiving side.
	ErrMessageTooLarge = errors.New("transport: message too large")

	// ErrBadFrame reports a frame or message that violates the wire format:
	// an unknown version or flag, an oversize frame, a malformed compressed
	// chunk, chunks that disagree with the declared message length. The
	// connection is closed, since the stream can no longer be trusted.
	ErrBadFrame = errors.New("transport: malformed frame")

	// ErrRefused reports that the coordinator authenticated the party but
	// refused to admit it to the requested session.
	ErrRefused = errors.New("transport: refused by coordinator")

	// ErrPeerNotAllowed reports a certificate that names a peer that is not
	// on the allow-list or, with pinned keys, has no pin.
	ErrPeerNotAllowed = errors.New("transport: peer not allowed")

	// ErrAuthentication reports a failed mutual authentication: the peer's
	// certificate does not chain to the trusted CA, does not hold the
	// pinned key or names the wrong peer, or the peer rejected ours (a TLS
	// alert). Retrying will not help.
	ErrAuthentication = errors.New("transport: authentication failed")

	// ErrPinMismatch reports a peer whose certificate holds another key
	// than the one pinned for its name.
	ErrPinMismatch = errors.New("transport: peer key is not the pinned key")

	// ErrBadPublicKey reports a public key that is not a well-formed
	// Ed25519 key, or a string that [ParsePublicKey] does not accept.
	ErrBadPublicKey = errors.New("transport: invalid public key")

	// ErrNoTrust reports a [Trust] with neither roots nor pinned keys.
	ErrNoTrust = errors.New("transport: no trusted roots or pinned keys")

	// ErrBadRequest reports a certificate request that a [CA] does not
	// sign: a bad signature, an invalid name, or names beyond it.
	ErrBadRequest = errors.New("transport: invalid certificate request")

	// ErrBadName reports an invalid identity, peer or session name.
	ErrBadName = errors.New("transport: invalid name")

	// ErrSessionBusy reports a [Router.Expect] for a session that another
	// Expect call is already waiting for.
	ErrSessionBusy = errors.New("transport: session already expected")

	// ErrSpokeEarly reports that an admitted peer sent a message while
	// [Router.Gather] was still waiting for others.
	ErrSpokeEarly = errors.New("transport: a peer spoke before its session was complete")

	// ErrArrivalTimeout reports that the peers of a [Router.Gather] did not
	// all arrive within its bound.
	ErrArrivalTimeout = errors.New("transport: not every peer arrived in time")
)

// FrameError is a violation of the wire format. It wraps [ErrBadFrame] and, if
// the violation was found by a lower layer (the zstd decoder), that error.
type FrameError struct {
	Reason string
	Err    error // underlying cause, may be nil
}

func (e *FrameError) Error() string {
	if e.Err != nil {
		return ErrBadFrame.Error() + ": " + e.Reason + ": " + e.Err.Error()
	}
	return ErrBadFrame.Error() + ": " + e.Reason
}

func (e *FrameError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadFrame, e.Err}
	}
	return []error{ErrBadFrame}
}

func frameErrorf(format string, args ...any) error {
	return &FrameError{Reason: fmt.Sprintf(format, args...)}
}

// SizeError reports a message whose size exceeds a limit. It wraps
// [ErrMessageTooLarge].
type SizeError struct {
	Size  uint64 // size of the message, as sent or as declared by the peer
	Limit int64  // the limit it exceeds
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s: %d bytes exceeds the limit of %d", ErrMessageTooLarge, e.Size, e.Limit)
}

func (e *SizeError) Unwrap() error { return ErrMessageTooLarge }

// RefusedError is returned by [Dial] when the coordinator refuses to admit the
// party to the session. It wraps [ErrRefused].
type RefusedError struct {
	Session string
	Reason  string // the coordinator's explanation, sanitised for printing
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: session %q: %s", ErrRefused, e.Session, e.Reason)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// ClosedError is returned by Recv when the peer closed the connection and
// said why (a coordinator does, for instance, when a newer connection of the
// same party supersedes this one). It wraps [ErrClosed].
type ClosedError struct {
	Reason string // the peer's explanation, sanitised for printing
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("%s by peer: %s", ErrClosed, e.Reason)
}

func (e *ClosedError) Unwrap() error { return ErrClosed }

// DialError is returned by [Dial] when it gives up connecting: Err is why it
// stopped (usually the context's error) and Last is the error of the last
// failed attempt, if any. It wraps both.
type DialError struct {
	Addr     string
	Attempts int
	Err      error
	Last     error
}

func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "transport: dial %s: %v after %d attempt(s)", e.Addr, e.Err, e.Attempts)
	if e.Last != nil {
		fmt.Fprintf(&b, " (last error: %v)", e.Last)
	}
	return b.String()
}

func (e *DialError) Unwrap() []error {
	if e.Last != nil {
		return []error{e.Err, e.Last}
	}
	return []error{e.Err}
}

// ExpectError is returned by [Router.Expect] when the session could not be
// assembled: Missing lists the peers that had not connected, Err is why
// Expect stopped waiting (a context error or [ErrClosed]).
type ExpectError struct {
	Session string
	Missing []string
	Err     error
	// Arrived holds, for [Router.Gather] only, the open connections of the
	// peers that had been admitted; the caller must close them.
	Arrived map[string]Conn
	// Spoke is the peer whose message ended a [Router.Gather] early.
	Spoke string
}

func (e *ExpectError) Error() string {
	return fmt.Sprintf("transport: session %q: still waiting for %s: %v",
		e.Session, strings.Join(e.Missing, ", "), e.Err)
}

func (e *ExpectError) Unwrap() error { return e.Err }
