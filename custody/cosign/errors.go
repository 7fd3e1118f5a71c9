package cosign

import (
	"errors"
	"fmt"
)

// Sentinel errors of the co-signing service and its clients. A refusal
// sent over the network arrives as a *[RemoteError] wrapping one of them.
var (
	// ErrBadMessage reports a protocol message that does not decode.
	ErrBadMessage = errors.New("cosign: malformed message")
	// ErrBadRequest reports a request the service will not serve: another
	// organisation, a time too far from the service's clock, a field out
	// of its limits.
	ErrBadRequest = errors.New("cosign: bad request")
	// ErrForbidden reports a peer acting for another user, or an
	// administrative request from a peer that is not an administrator.
	ErrForbidden = errors.New("cosign: forbidden")
	// ErrNotEnrolled reports a user without an enrolled key.
	ErrNotEnrolled = errors.New("cosign: user not enrolled")
	// ErrRevoked reports a user whose certificate was revoked.
	ErrRevoked = errors.New("cosign: user revoked")
	// ErrReplay reports a request id that was used before.
	ErrReplay = errors.New("cosign: request id already used")
	// ErrSignature reports a co-signature that does not verify with the
	// user's certificate: not made by the user's split key, or over
	// another request.
	ErrSignature = errors.New("cosign: user signature does not verify")
	// ErrCertificate reports a certificate that does not verify against
	// the registration authority, is expired or not yet valid, or is not
	// for signing.
	ErrCertificate = errors.New("cosign: bad certificate")
	// ErrSession reports an enrolment step for a session the service does
	// not hold (expired, finished, or never started).
	ErrSession = errors.New("cosign: unknown or expired session")
	// ErrInternal reports a failure inside the service; its details stay
	// in the service's log.
	ErrInternal = errors.New("cosign: service internal error")
)

// RemoteError is a refusal the service returned: Err is the sentinel of
// its code, Text the service's message, sanitised.
type RemoteError struct {
	Err  error
	Text string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("cosign service: %s", e.Text) }

func (e *RemoteError) Unwrap() error { return e.Err }
