package share

import (
	"errors"
	"math"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// refreshAll refreshes every share with k zero-sharings dealt by k dealers.
func refreshAll(t *testing.T, shares []Share, c *Commitments, k int) ([]Share, *Commitments) {
	t.Helper()
	xs := make([]uint32, len(shares))
	for i, s := range shares {
		xs[i] = s.Index
	}
	newEpoch := c.Epoch + 1
	deltas := make([][]Share, k)
	deltaCs := make([]*Commitments, k)
	for d := range k {
		var err error
		deltas[d], deltaCs[d], err = DealZero(c.Scheme, c.Threshold(), xs, newEpoch)
		if err != nil {
			t.Fatal(err)
		}
		if deltaCs[d].Points[0].Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatal("zero-sharing C_0 is not the identity")
		}
		if err := deltaCs[d].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]Share, len(shares))
	var newC *Commitments
	for i, s := range shares {
		mine := make([]Share, k)
		for d := range k {
			mine[d] = deltas[d][i]
		}
		var nc *Commitments
		var err error
		out[i], nc, err = ApplyRefresh(s, c, mine, deltaCs, newEpoch)
		if err != nil {
			t.Fatal(err)
		}
		if newC != nil && nc.Hash() != newC.Hash() {
			t.Fatal("holders disagree on the new commitments")
		}
		newC = nc
	}
	return out, newC
}

// TestRefresh: after a refresh by several dealers the secret and (Feldman)
// public key are unchanged, every share changed, the new shares verify, the
// old shares are refused by the new commitments (ErrEpoch, or ErrBadShare
// when relabelled with the new epoch), and mixing old and new shares below
// t fails with an error naming the stale ones.
func TestRefresh(t *testing.T) {
	r := mrand.New(mrand.NewPCG(11, 12))
	for iter := range 8 {
		scheme := schemes[iter%2]
		th := 1 + r.IntN(6)
		n := th + r.IntN(5)
		secret := randomScalar()
		old, c := mustDeal(t, scheme, secret, th, randIndexes(r, n), 3)
		shares, newC := refreshAll(t, old, c, 1+r.IntN(3))
		if newC.Epoch != 4 {
			t.Fatalf("new epoch %d", newC.Epoch)
		}
		if err := newC.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := newC.VerifyBatch(shares); err != nil {
			t.Fatal(err)
		}
		if scheme == Feldman && newC.Points[0].Equal(c.Points[0]) != 1 {
			t.Fatal("public key changed")
		}
		for i := range shares {
			// For t = 1 every share is the secret and a zero-sharing is 0.
			if th > 1 && shares[i].Value.Equal(&old[i].Value) == 1 {
				t.Fatal("share unchanged by refresh")
			}
		}
		got, _, err := Recover(newC, shuffled(r, shares)[:th])
		if err != nil || got.Equal(secret) != 1 {
			t.Fatalf("secret changed: %v", err)
		}
		// Old shares under the new commitments.
		var e *BadSharesError
		if err := newC.VerifyBatch(old); !errors.As(err, &e) || len(e.Stale) != len(old) || len(e.Indexes) != 0 {
			t.Fatalf("old shares: %v", err)
		}
		relabelled := slices.Clone(old)
		for i := range relabelled {
			relabelled[i].Epoch = newC.Epoch
		}
		if th > 1 {
			if err := newC.VerifyBatch(relabelled); !errors.Is(err, ErrBadShare) {
				t.Fatalf("relabelled old shares: %v", err)
			}
		}
		// Mixing: t−1 new shares and the old shares of the others.
		mixed := append(slices.Clone(shares[:th-1]), old[th-1:]...)
		_, _, err = Recover(newC, mixed)
		if !errors.Is(err, ErrTooFewShares) || !errors.Is(err, ErrEpoch) || !errors.As(err, &e) || !slices.Equal(e.Stale, sortedIndexes(old[th-1:])) {
			t.Fatalf("mixed: %v", err)
		}
	}
}

func sortedIndexes(s []Share) []uint32 {
	var xs []uint32
	for _, x := range s {
		xs = append(xs, x.Index)
	}
	slices.Sort(xs)
	return xs
}

// TestRefreshRefused: refresh refuses a non-zero delta, a wrong epoch (not
// old+1, or wrapping), a different threshold or scheme, and a delta share
// that does not verify (naming the delta).
func TestRefreshRefused(t *testing.T) {
	xs := seq(4)
	old, c := mustDeal(t, Feldman, randomScalar(), 3, xs, 5)
	zero, zc, err := DealZero(Feldman, 3, xs, 6)
	if err != nil {
		t.Fatal(err)
	}
	nonzero, nzc := mustDeal(t, Feldman, randomScalar(), 3, xs, 6)
	if _, _, err := ApplyRefresh(old[0], c, nonzero[:1], []*Commitments{nzc}, 6); !errors.Is(err, ErrParams) {
		t.Errorf("non-zero delta: %v", err)
	}
	if _, _, err := ApplyRefresh(old[0], c, zero[:1], []*Commitments{zc}, 7); !errors.Is(err, ErrParams) {
		t.Errorf("epoch +2: %v", err)
	}
	if _, _, err := ApplyRefresh(old[0], c, zero[:1], []*Commitments{zc}, 5); !errors.Is(err, ErrParams) {
		t.Errorf("same epoch: %v", err)
	}
	_, zc2, _ := DealZero(Feldman, 2, xs, 6)
	if _, _, err := ApplyRefresh(old[0], c, zero[:1], []*Commitments{zc2}, 6); !errors.Is(err, ErrParams) {
		t.Errorf("threshold: %v", err)
	}
	_, pzc, _ := DealZero(Pedersen, 3, xs, 6)
	if _, _, err := ApplyRefresh(old[0], c, zero[:1], []*Commitments{pzc}, 6); !errors.Is(err, ErrParams) {
		t.Errorf("scheme: %v", err)
	}
	if _, _, err := ApplyRefresh(old[0], c, zero[1:2], []*Commitments{zc}, 6); !errors.Is(err, ErrParams) {
		t.Errorf("delta of another index: %v", err)
	}
	forged := tamper(zero[0], "value")
	if _, _, err := ApplyRefresh(old[0], c, []Share{forged}, []*Commitments{zc}, 6); !errors.Is(err, ErrBadShare) {
		t.Errorf("forged delta: %v", err)
	}
	if _, _, err := ApplyRefresh(tamper(old[0], "value"), c, zero[:1], []*Commitments{zc}, 6); !errors.Is(err, ErrBadShare) {
		t.Errorf("bad old share: %v", err)
	}
	top := &Commitments{Scheme: Feldman, Epoch: math.MaxUint32, Points: c.Points}
	if _, err := RefreshCommitments(top, []*Commitments{zc}, 0); !errors.Is(err, ErrParams) {
		t.Errorf("wrapping epoch: %v", err)
	}
}
