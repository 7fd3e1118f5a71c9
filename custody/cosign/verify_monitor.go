package cosign

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/maskshare/maskshare/custody"
)

// bucketMonitor holds a [Monitor]'s last checkpoint per origin.
const bucketMonitor = "cosign/monitor"

// MonitorBuckets are the buckets a [Monitor] keeps in its store.
var MonitorBuckets = []string{bucketMonitor}

// Source is where a [Monitor] gets new checkpoints and proofs: a [Log],
// or a client of the service that serves one.
type Source interface {
	// Checkpoint returns the latest signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// ProveConsistency proves that the tree of size next extends the tree
	// of size old.
	ProveConsistency(ctx context.Context, old, next int64) (ConsistencyProof, error)
}

// Monitor is a client's view of a log: it keeps the last checkpoint it
// verified (in its store, so a restart does not forget it) and accepts a
// new one only if it is signed by the log key and extends the last one. A
// log that rewrites, truncates or forks its history after a client saw a
// checkpoint is caught at the client's next update, with the two signed
// checkpoints as evidence. Safe for concurrent use.
type Monitor struct {
	store  *custody.Store
	v      note.Verifier
	pub    ed25519.PublicKey
	mu     sync.Mutex
	last   Checkpoint
	signed []byte
}

// NewMonitor returns the monitor of the log with verifier key vkey,
// keeping its checkpoint in store (made with [MonitorBuckets]), or only
// in memory if store is nil. It starts from the checkpoint it kept, if
// any, or from the empty tree.
func NewMonitor(store *custody.Store, vkey string) (*Monitor, error) {
	v, pub, err := ParseVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	m := &Monitor{store: store, v: v, pub: pub, last: Checkpoint{Origin: v.Name(), Hash: emptyRoot}}
	if store == nil {
		return m, nil
	}
	signed, err := store.Get(bucketMonitor, []byte(v.Name()))
	if errors.Is(err, custody.ErrNotFound) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := OpenCheckpoint(signed, v)
	if err != nil {
		return nil, fmt.Errorf("cosign: the monitor's stored checkpoint: %w", err)
	}
	m.last, m.signed = c, signed
	return m, nil
}

// Checkpoint returns the last checkpoint the monitor verified and its
// signed note (nil before the first update).
func (m *Monitor) Checkpoint() (Checkpoint, []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, m.signed
}

// Update verifies signed (the log's signature) and that it extends the
// monitor's checkpoint with proof p, then keeps it (durably, before
// returning). A failure leaves the monitor's checkpoint as it was; an
// append-only violation is a *[ConsistencyError].
func (m *Monitor) Update(signed []byte, p ConsistencyProof) (Checkpoint, error) {
	c, err := OpenCheckpoint(signed, m.v)
	if err != nil {
		return Checkpoint{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := CheckConsistency(m.last, c, p); err != nil {
		return Checkpoint{}, err
	}
	if c.Size == m.last.Size && m.signed != nil {
		return c, nil // nothing new
	}
	if m.store != nil {
		if err := m.store.Put(bucketMonitor, []byte(c.Origin), signed); err != nil {
			return Checkpoint{}, err
		}
	}
	m.last, m.signed = c, append([]byte{}, signed...)
	return c, nil
}

// Sync fetches the source's latest checkpoint and a consistency proof
// from the monitor's, and updates.
func (m *Monitor) Sync(ctx context.Context, src Source) (Checkpoint, error) {
	signed, err := src.Checkpoint(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	c, err := OpenCheckpoint(signed, m.v)
	if err != nil {
		return Checkpoint{}, err
	}
	last, _ := m.Checkpoint()
	var p ConsistencyProof
	if c.Size > last.Size {
		if p, err = src.ProveConsistency(ctx, last.Size, c.Size); err != nil {
			return Checkpoint{}, err
		}
	}
	return m.Update(signed, p)
}

// VerifyInclusion checks that entry (an entry's encoding) is in the log
// by proof p, which must be against the monitor's checkpoint (ask the log
// for a proof at that size, or sync first): a proof against a checkpoint
// of the same size with another root is [ErrForked].
func (m *Monitor) VerifyInclusion(p *InclusionProof, entry []byte) error {
	c, err := OpenCheckpoint(p.Checkpoint, m.v)
	if err != nil {
		return err
	}
	last, _ := m.Checkpoint()
	if c.Size != last.Size {
		return fmt.Errorf("%w: proof at size %d, monitor at %d", ErrStale, c.Size, last.Size)
	}
	if c.Hash != last.Hash {
		return &ConsistencyError{Err: ErrForked, Old: last, New: c, Detail: "inclusion proof against another root"}
	}
	return checkInclusion(c, p.Index, p.Hashes, entry)
}

// Compare checks another client's signed checkpoint against this
// monitor's, with a consistency proof between the two sizes (from the
// log): two views of one log always have one; a split view has none, and
// the result is [ErrForked] (see [CompareCheckpoints]).
func (m *Monitor) Compare(other []byte, p ConsistencyProof) error {
	c, err := OpenCheckpoint(other, m.v)
	if err != nil {
		return err
	}
	last, _ := m.Checkpoint()
	return CompareCheckpoints(last, c, p)
}

// VerifyEntry checks an entry a client fetched from the log: that it is
// included by p against the monitor's checkpoint (as VerifyInclusion),
// and that its signature verifies — a service entry with the log key, a
// user's with users at the entry's time. A log that slips in an entry a
// user did not sign is caught here.
func (m *Monitor) VerifyEntry(p *InclusionProof, e *Entry, users UserKeys) error {
	rec, err := e.Marshal()
	if err != nil {
		return err
	}
	if err := m.VerifyInclusion(p, rec); err != nil {
		return err
	}
	var pub ed25519.PublicKey
	switch e.Signer {
	case SignedByService:
		pub = m.pub
	default:
		if users == nil {
			return fmt.Errorf("%w: %q: no user keys given", ErrUnknownUser, e.User)
		}
		if pub, err = users.UserKey(e.User, e.Time); err != nil {
			return fmt.Errorf("cosign: key of %q at %v: %w", e.User, e.Time, err)
		}
	}
	return e.Verify(m.v.Name(), pub)
}
