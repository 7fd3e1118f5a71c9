package idpay

import (
	"errors"
	"fmt"
)

// Sentinel errors; errors returned by this package wrap one of them.
var (
	// ErrMalformed reports an encoding that does not decode.
	ErrMalformed = errors.New("idpay: malformed encoding")
	// ErrInvalid reports an argument out of range (an ID, amount,
	// currency or validity period).
	ErrInvalid = errors.New("idpay: invalid argument")

	// ErrRefused is wrapped by every refusal of an object that decodes;
	// the finer reasons below wrap it too.
	ErrRefused = errors.New("idpay: refused")
	// ErrUntrustedIssuer reports a certificate or revocation list whose
	// issuer is not the configured issuer of its sub-domain.
	ErrUntrustedIssuer = fmt.Errorf("%w: issuer is not trusted", ErrRefused)
	// ErrWrongSubdomain reports a certificate signed by the issuer of
	// another sub-domain, or for a sub-domain other than the expected one.
	ErrWrongSubdomain = fmt.Errorf("%w: wrong sub-domain", ErrRefused)
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrRefused)
	// ErrNotYetValid reports a certificate used before its not-before
	// (beyond the clock-skew tolerance).
	ErrNotYetValid = fmt.Errorf("%w: certificate not yet valid", ErrRefused)
	// ErrExpired reports a certificate used after its not-after (beyond
	// the clock-skew tolerance).
	ErrExpired = fmt.Errorf("%w: certificate expired", ErrRefused)
	// ErrRevoked reports a certificate whose serial is on its issuer's
	// revocation list.
	ErrRevoked = fmt.Errorf("%w: certificate revoked", ErrRefused)
	// ErrStaleList reports a revocation list past its next-update, or
	// older than one already accepted.
	ErrStaleList = fmt.Errorf("%w: stale revocation list", ErrRefused)
	// ErrStale reports a request, acceptance or challenge outside its
	// time window.
	ErrStale = fmt.Errorf("%w: outside its time window", ErrRefused)
	// ErrMismatch reports an object that belongs to another transaction,
	// payee or challenge than the one it is presented with.
	ErrMismatch = fmt.Errorf("%w: does not match", ErrRefused)
	// ErrDeclined reports a payment its payer's user declined.
	ErrDeclined = fmt.Errorf("%w: declined by the payer", ErrRefused)
	// ErrReplay reports a challenge or transaction ID already used, or a
	// challenge the back end never issued.
	ErrReplay = fmt.Errorf("%w: replay", ErrRefused)
	// ErrDoubleSpend reports an offline receipt that reuses the
	// transaction ID or payer nonce of another, different receipt.
	ErrDoubleSpend = fmt.Errorf("%w: double spend", ErrRefused)
	// ErrDuplicateReceipt reports a receipt already settled (submitted by
	// the other side, or again): it is not settled twice.
	ErrDuplicateReceipt = fmt.Errorf("%w: receipt already settled", ErrRefused)
)

// CertificateError is a refused certificate: Err is the reason (a sentinel
// wrapping [ErrRefused]).
type CertificateError struct {
	Role      string // "payee" or "payer", or "" outside a payment
	Subdomain string
	User      string
	Serial    uint64
	Err       error
}

func (e *CertificateError) Error() string {
	s := "idpay: certificate"
	if e.Role != "" {
		s = "idpay: " + e.Role + " certificate"
	}
	return fmt.Sprintf("%s %q/%q serial %d: %v", s, e.Subdomain, e.User, e.Serial, e.Err)
}

func (e *CertificateError) Unwrap() error { return e.Err }
