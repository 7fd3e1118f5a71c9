package cosign

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (or an
// I/O or store error), for errors.Is.
var (
	// ErrMalformed reports an entry, checkpoint, proof or export that does
	// not decode, or fields out of their limits.
	ErrMalformed = errors.New("cosign: malformed")
	// ErrEntrySignature reports an entry whose signature does not verify
	// with its signer's key.
	ErrEntrySignature = errors.New("cosign: entry signature does not verify")
	// ErrUnknownUser is for [UserKeys] implementations: no key for the
	// user at the entry's time (not enrolled, or revoked).
	ErrUnknownUser = errors.New("cosign: no key for user")
	// ErrClockSkew reports an entry whose time is too far from the log's
	// clock ([LogConfig.MaxSkew]).
	ErrClockSkew = errors.New("cosign: entry time too far from the log's clock")
	// ErrDuplicate reports an entry already in the log (the same bytes):
	// a replay.
	ErrDuplicate = errors.New("cosign: entry already logged")
	// ErrNotFound reports an entry index or checkpoint size the log does
	// not have.
	ErrNotFound = errors.New("cosign: not in the log")

	// ErrCheckpointSignature reports a checkpoint without a valid
	// signature by the log key, or of another origin.
	ErrCheckpointSignature = errors.New("cosign: checkpoint not signed by the log")
	// ErrInclusion reports an entry that is not in the tree of a
	// checkpoint: its inclusion proof fails, or the entries of an export
	// do not hash to its checkpoint.
	ErrInclusion = errors.New("cosign: entry not included in the checkpoint")
	// ErrStale reports a proof against a checkpoint that a [Monitor] does
	// not hold: sync first.
	ErrStale = errors.New("cosign: proof is not against the monitor's checkpoint")

	// ErrInconsistent is wrapped by every failure of the append-only
	// property: a checkpoint that does not extend an earlier one (the
	// history was rewritten: an entry edited, deleted or reordered).
	ErrInconsistent = errors.New("cosign: log is inconsistent with an earlier checkpoint")
	// ErrTruncated reports a checkpoint smaller than one seen before.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrInconsistent)
	// ErrForked reports two checkpoints that cannot both be views of one
	// log: the same size with different roots, or two clients' views for
	// which no consistency proof exists (a split view).
	ErrForked = fmt.Errorf("%w: forked", ErrInconsistent)
)

// ConsistencyError is a failed append-only check between two signed
// checkpoints, which together are evidence of the log's misbehaviour. Err
// is [ErrInconsistent], [ErrTruncated] or [ErrForked].
type ConsistencyError struct {
	Err      error
	Old, New Checkpoint
	Detail   string
}

func (e *ConsistencyError) Error() string {
	s := fmt.Sprintf("%v: %s size %d (%s) then size %d (%s)", e.Err, e.Old.Origin,
		e.Old.Size, e.Old.Hash, e.New.Size, e.New.Hash)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *ConsistencyError) Unwrap() error { return e.Err }
