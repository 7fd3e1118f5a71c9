package custody

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (or an
// I/O error) so that callers can test them with errors.Is.
var (
	// ErrUnsupportedSuite reports an HPKE suite not in [Suites].
	ErrUnsupportedSuite = errors.New("custody: unsupported HPKE suite")
	// ErrBadKey reports a key encoding that does not decode.
	ErrBadKey = errors.New("custody: invalid key")
	// ErrBadEnvelope reports an envelope whose framing is invalid.
	ErrBadEnvelope = errors.New("custody: malformed envelope")
	// ErrOpen reports an envelope that does not open with the given key
	// and info: sealed to another key, bound to another context, or
	// modified.
	ErrOpen = errors.New("custody: envelope does not open")

	// ErrNotFound reports a key absent from a [Store] bucket.
	ErrNotFound = errors.New("custody: not found")
	// ErrStoreClosed reports use of a closed [Store].
	ErrStoreClosed = errors.New("custody: store closed")

	// ErrBadAuthorization reports an authorisation that does not decode.
	ErrBadAuthorization = errors.New("custody: malformed authorisation")
	// ErrUnauthorized is wrapped by every refusal of an authorisation
	// that decodes: the finer reasons below wrap it too.
	ErrUnauthorized = errors.New("custody: not authorised")
	// ErrUntrustedIssuer reports an authorisation signed by a key that is
	// not a configured institution key.
	ErrUntrustedIssuer = fmt.Errorf("%w: issuer is not a trusted institution", ErrUnauthorized)
	// ErrBadSignature reports an authorisation whose signature fails.
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthorized)
	// ErrExpired reports an authorisation past its expiry.
	ErrExpired = fmt.Errorf("%w: expired", ErrUnauthorized)
	// ErrReplay reports an authorisation whose nonce this node has
	// already accepted.
	ErrReplay = fmt.Errorf("%w: nonce already used", ErrUnauthorized)
	// ErrWrongSubject reports an authorisation for another user, key,
	// epoch or node.
	ErrWrongSubject = fmt.Errorf("%w: authorisation is for something else", ErrUnauthorized)
)

// AuthorizationError is a refused authorisation: Err is the reason (one of
// the sentinels wrapping [ErrUnauthorized]), Detail says what differed.
type AuthorizationError struct {
	UserID, KeyID string
	Err           error
	Detail        string
}

func (e *AuthorizationError) Error() string {
	s := fmt.Sprintf("%v (user %q, key %q)", e.Err, e.UserID, e.KeyID)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *AuthorizationError) Unwrap() error { return e.Err }
