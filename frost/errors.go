package frost

import (
	"errors"
	"fmt"
)

var (
	// ErrEncoding: a byte string is not a valid encoding (length, version,
	// suite, non-canonical scalar, invalid or identity element, bounds).
	ErrEncoding = errors.New("frost: invalid encoding")
	// ErrSuiteMismatch: values of two different ciphersuites were mixed.
	ErrSuiteMismatch = errors.New("frost: ciphersuite mismatch")
	// ErrIdentifier: an identifier is 0 or not among the known signers.
	ErrIdentifier = errors.New("frost: invalid identifier")
	// ErrThreshold: threshold outside 1..n, or n outside 1..MaxSigners.
	ErrThreshold = errors.New("frost: invalid threshold")
	// ErrDuplicate: an identifier appears twice.
	ErrDuplicate = errors.New("frost: duplicate identifier")
	// ErrUnsorted: the commitment list is not sorted by identifier.
	ErrUnsorted = errors.New("frost: commitments not sorted by identifier")
	// ErrTooFewSigners: fewer signers than the threshold.
	ErrTooFewSigners = errors.New("frost: fewer signers than the threshold")
	// ErrNonceUsed: the nonces were already given to Sign once.
	ErrNonceUsed = errors.New("frost: signing nonces already used")
	// ErrCommitment: the signer's commitment is missing from the signing
	// package or differs from its nonces'.
	ErrCommitment = errors.New("frost: own commitment missing or altered")
	// ErrShares: the signature shares do not match the signing package
	// (missing, extra or repeated signers).
	ErrShares = errors.New("frost: signature shares do not match the commitments")
	// ErrInconsistentKey: key material does not fit together (secret·B is
	// not the verifying share, or the verifying shares do not lie on one
	// polynomial of degree threshold−1 through the group key).
	ErrInconsistentKey = errors.New("frost: inconsistent key material")
	// ErrInvalidShare: a signature share does not verify; see CheaterError.
	ErrInvalidShare = errors.New("frost: invalid signature share")
	// ErrInvalidSignature: a signature does not verify.
	ErrInvalidSignature = errors.New("frost: invalid signature")
)

// CheaterError names every signer whose signature share failed
// verification (RFC 9591 §5.4), in increasing order. It wraps
// ErrInvalidShare.
type CheaterError struct {
	Identifiers []uint16
}

func (e *CheaterError) Error() string {
	return fmt.Sprintf("frost: invalid signature shares from signers %v", e.Identifiers)
}

func (e *CheaterError) Unwrap() error { return ErrInvalidShare }
