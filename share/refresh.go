package share

import (
	"fmt"
	"math"

	"filippo.io/edwards25519"
)

// Proactive refresh (Herzberg et al. 1995). To move a sharing from epoch e
// to e+1 without anyone learning the secret, one or more dealers (each
// holder, or a dealer that knows no share) call DealZero(scheme, t,
// indexes, e+1) and send each holder its delta share, sealed, and everyone
// the delta commitments. Each holder checks that every delta commitment
// commits to zero (C_0 is the identity: a_0 = 0, and for Pedersen b_0 = 0
// too, unless the dealer knows log_B H) and that its delta shares verify,
// then adds them to its share ([ApplyRefresh]); the new commitments are the
// point-wise sums ([RefreshCommitments]). The secret is unchanged, every
// share changes, and the new commitments refuse the old shares (ErrEpoch,
// or ErrBadShare if an old share is relabelled). All holders must apply the
// same delta commitments, in any order; comparing Commitments.Hash shows it.
//
// The new epoch must be exactly the old one plus 1: holders then agree on
// the epoch without further messages, a refresh applied twice or skipped
// shows as an epoch mismatch, and the epoch never wraps (refresh from epoch
// 2^32−1 is refused).

// RefreshCommitments returns the commitments of epoch newEpoch = old.Epoch+1:
// old plus the delta commitments, point by point. Each delta must have the
// scheme and threshold of old, the epoch newEpoch and C_0 the identity.
// Deltas should come from [DealZero] or UnmarshalBinary, which validate them.
func RefreshCommitments(old *Commitments, deltas []*Commitments, newEpoch uint32) (*Commitments, error) {
	if err := old.check(); err != nil {
		return nil, err
	}
	if old.Epoch == math.MaxUint32 || newEpoch != old.Epoch+1 {
		return nil, fmt.Errorf("%w: refresh from epoch %d to %d, want %d+1", ErrParams, old.Epoch, newEpoch, old.Epoch)
	}
	if len(deltas) < 1 || len(deltas) > MaxShares {
		return nil, fmt.Errorf("%w: %d refresh deltas, want 1..%d", ErrParams, len(deltas), MaxShares)
	}
	t := len(old.Points)
	points := make([]edwards25519.Point, t)
	for j := range points {
		points[j].Set(old.Points[j])
	}
	identity := edwards25519.NewIdentityPoint()
	for k, d := range deltas {
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("refresh delta %d: %w", k, err)
		}
		switch {
		case d.Scheme != old.Scheme:
			return nil, fmt.Errorf("%w: refresh delta %d is %v, want %v", ErrParams, k, d.Scheme, old.Scheme)
		case len(d.Points) != t:
			return nil, fmt.Errorf("%w: refresh delta %d has threshold %d, want %d", ErrParams, k, len(d.Points), t)
		case d.Epoch != newEpoch:
			return nil, fmt.Errorf("%w: refresh delta %d has epoch %d, want %d", ErrParams, k, d.Epoch, newEpoch)
		case d.Points[0].Equal(identity) != 1:
			return nil, fmt.Errorf("%w: refresh delta %d does not share zero (C_0 is not the identity)", ErrParams, k)
		}
		for j := range points {
			points[j].Add(&points[j], d.Points[j])
		}
	}
	if t >= 2 && points[t-1].Equal(identity) == 1 {
		return nil, fmt.Errorf("%w: refreshed top commitment is the identity (degree below t−1)", ErrParams)
	}
	c := &Commitments{Scheme: old.Scheme, Epoch: newEpoch, Points: make([]*edwards25519.Point, t)}
	for j := range points {
		c.Points[j] = &points[j]
	}
	return c, nil
}

// ApplyRefresh returns the holder's share of epoch newEpoch = oldC.Epoch+1,
// old plus its delta shares (deltas[k] from the sharing of deltaCs[k]), with
// the new commitments (see [RefreshCommitments]). It verifies old against
// oldC and each delta share against its commitments first; a delta share
// that does not verify gives an error naming the delta and wrapping
// [ErrBadShare].
func ApplyRefresh(old Share, oldC *Commitments, deltas []Share, deltaCs []*Commitments, newEpoch uint32) (Share, *Commitments, error) {
	newC, err := RefreshCommitments(oldC, deltaCs, newEpoch)
	if err != nil {
		return Share{}, nil, err
	}
	if len(deltas) != len(deltaCs) {
		return Share{}, nil, fmt.Errorf("%w: %d delta shares for %d delta commitments", ErrParams, len(deltas), len(deltaCs))
	}
	if err := oldC.Verify(&old); err != nil {
		return Share{}, nil, fmt.Errorf("share: refresh of share %d: %w", old.Index, err)
	}
	s := old
	s.Epoch = newEpoch
	for k := range deltas {
		d := &deltas[k]
		if d.Index != old.Index {
			return Share{}, nil, fmt.Errorf("%w: refresh delta %d is for index %d, not %d", ErrParams, k, d.Index, old.Index)
		}
		if err := deltaCs[k].Verify(d); err != nil {
			return Share{}, nil, fmt.Errorf("share: refresh delta %d: %w", k, err)
		}
		s.Value.Add(&s.Value, &d.Value)
		s.Blind.Add(&s.Blind, &d.Blind)
	}
	return s, newC, nil
}
