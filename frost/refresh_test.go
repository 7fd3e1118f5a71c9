package frost

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
)

// refreshAll runs a refresh in which every signer deals, over the wire
// encodings, and returns each signer's result.
func refreshAll(tb testing.TB, ks []*KeyShare, pub *PublicKeyPackage, epoch uint32) []*RefreshResult {
	tb.Helper()
	var commits []*RefreshCommitment
	inbox := make(map[uint16][]*RefreshShare)
	for _, k := range ks {
		c, shares, err := NewRefresh(k, pub, epoch)
		if err != nil {
			tb.Fatal(err)
		}
		commits = append(commits, wire(tb, c, UnmarshalRefreshCommitment))
		for _, sh := range shares {
			inbox[sh.to] = append(inbox[sh.to], wire(tb, sh, UnmarshalRefreshShare))
		}
	}
	out := make([]*RefreshResult, len(ks))
	for i, k := range ks {
		var err error
		if out[i], err = ApplyRefresh(k, pub, epoch, commits, inbox[k.id]); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// TestRefresh: after a refresh of a DKG key every signer has the same new
// public key package with the same group key, every share and verifying
// share changed, the new shares sign (crypto/ed25519 verifies), the old key
// share and package are untouched, and mixing an old share with new ones
// fails with the old signer named.
func TestRefresh(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	for _, s := range []*Suite{Ed25519, Ristretto255} {
		for _, sz := range dkgSizes {
			t.Run(fmt.Sprintf("%s/%d-of-%d", s, sz[0], sz[1]), func(t *testing.T) {
				ks, pub := results(newDKGSession(t, s, sz[0], sz[1]).run(t))
				oldPub, oldK0 := pub.Marshal(), ks[0].Marshal()
				rs := refreshAll(t, ks, pub, 1)
				newKs := make([]*KeyShare, len(rs))
				for i, r := range rs {
					newKs[i] = r.KeyShare
					if r.Epoch != 1 || !bytes.Equal(r.PublicKey.Marshal(), rs[0].PublicKey.Marshal()) {
						t.Fatalf("signer %d: another epoch or public key package", i+1)
					}
					if r.KeyShare.secret.Equal(&ks[i].secret) == 1 || bytes.Equal(r.KeyShare.VerifyingShare(), ks[i].VerifyingShare()) {
						t.Fatalf("signer %d: share unchanged", i+1)
					}
				}
				newPub := rs[0].PublicKey
				if !bytes.Equal(newPub.GroupKey(), pub.GroupKey()) {
					t.Fatal("refresh changed the group key")
				}
				if !bytes.Equal(pub.Marshal(), oldPub) || !bytes.Equal(ks[0].Marshal(), oldK0) {
					t.Fatal("refresh modified the old key material")
				}
				checkSigns(t, newPub, newKs, rng)
				mixed := append([]*KeyShare{ks[0]}, newKs[1:sz[0]]...)
				_, err := groupSign(t, newPub, mixed, []byte("mixed"))
				var ce *CheaterError
				if !errors.As(err, &ce) || !slices.Equal(ce.Identifiers, []uint16{1}) {
					t.Fatalf("old share 1 with new shares: got %v, want signer 1 named", err)
				}
			})
		}
	}
}

// TestRefreshTwice: two refreshes in a row keep the key; signing with the
// second epoch's shares verifies with crypto/ed25519.
func TestRefreshTwice(t *testing.T) {
	pub, ks, err := Deal(Ed25519, nil, 2, []uint16{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	rs := refreshAll(t, ks, pub, 1)
	ks2 := []*KeyShare{rs[0].KeyShare, rs[1].KeyShare, rs[2].KeyShare}
	rs = refreshAll(t, ks2, rs[0].PublicKey, 2)
	sig, err := groupSign(t, rs[0].PublicKey, []*KeyShare{rs[2].KeyShare, rs[0].KeyShare}, []byte("epoch 2"))
	if err != nil || !ed25519.Verify(pub.GroupKey(), []byte("epoch 2"), sig) {
		t.Fatalf("epoch 2 signature: %v", err)
	}
}

// TestRefreshCheater: a delta share off its dealer's commitment is blamed
// on the dealer; shares and commitments of another epoch or recipient are
// refused.
func TestRefreshCheater(t *testing.T) {
	pub, ks, _ := Deal(Ristretto255, nil, 3, []uint16{1, 2, 3, 4, 5})
	var commits []*RefreshCommitment
	var mine []*RefreshShare
	for _, k := range ks {
		c, shares, err := NewRefresh(k, pub, 7)
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c)
		mine = append(mine, shares[1]) // for signer 2
	}
	mine[3].value.Add(&mine[3].value, scalarFromUint16(1))
	var be *DKGBlameError
	if _, err := ApplyRefresh(ks[1], pub, 7, commits, mine); !errors.As(err, &be) || be.Participant != 4 || be.Reason != BlameShare {
		t.Fatalf("tampered delta from 4: %v", err)
	}
	mine[3].value.Subtract(&mine[3].value, scalarFromUint16(1))
	if _, err := ApplyRefresh(ks[1], pub, 8, commits, mine); err == nil {
		t.Fatal("accepted commitments of another epoch")
	}
	if _, err := ApplyRefresh(ks[0], pub, 7, commits, mine); err == nil {
		t.Fatal("signer 1 accepted signer 2's delta shares")
	}
	if _, err := ApplyRefresh(ks[1], pub, 7, commits, mine); err != nil {
		t.Fatal(err)
	}
}

// TestRepair: a lost share is rebuilt equal to the original by any t
// helpers; a new identifier is enrolled, its share signs with the others
// (crypto/ed25519 verifies) and every signer derives the same extended
// package; a tampered piece or sum is caught.
func TestRepair(t *testing.T) {
	for _, s := range []*Suite{Ed25519, Ristretto255} {
		for _, sz := range dkgSizes {
			t.Run(fmt.Sprintf("%s/%d-of-%d", s, sz[0], sz[1]), func(t *testing.T) {
				ks, pub := results(newDKGSession(t, s, sz[0], sz[1]).run(t))
				th, n := sz[0], sz[1]
				helpers := make([]uint16, th)
				for i := range helpers {
					helpers[i] = uint16(n - i) // the last t
				}
				got, gotPub := repair(t, pub, ks, helpers, 1)
				if gotPub != pub || !bytes.Equal(got.Marshal(), ks[0].Marshal()) {
					t.Fatal("repaired share differs from the lost one")
				}
				newID := uint16(n + 1)
				enrolled, extPub := repair(t, pub, ks, helpers, newID)
				viaSigner, err := EnrolPublicKey(pub, helpers, newID)
				if err != nil || !bytes.Equal(viaSigner.Marshal(), extPub.Marshal()) {
					t.Fatalf("signers derive another extended package: %v", err)
				}
				signers := append([]*KeyShare{enrolled}, ks[:th-1]...)
				msg := []byte("signed with an enrolled share")
				sig, err := groupSign(t, extPub, signers, msg)
				if err != nil {
					t.Fatal(err)
				}
				if s == Ed25519 && !ed25519.Verify(pub.GroupKey(), msg, sig) {
					t.Fatal("crypto/ed25519 rejects the signature")
				}
				for _, where := range []string{"piece", "sum"} {
					_, _, err := repairErr(t, pub, ks, helpers, 1, where)
					if !errors.Is(err, ErrInconsistentKey) {
						t.Fatalf("tampered %s: %v", where, err)
					}
				}
			})
		}
	}
}

func repair(t *testing.T, pub *PublicKeyPackage, ks []*KeyShare, helpers []uint16, target uint16) (*KeyShare, *PublicKeyPackage) {
	k, p, err := repairErr(t, pub, ks, helpers, target, "")
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

// repairErr runs the three steps over the wire encodings; tamper names a
// message to alter ("piece" or "sum").
func repairErr(t *testing.T, pub *PublicKeyPackage, ks []*KeyShare, helpers []uint16, target uint16, tamper string) (*KeyShare, *PublicKeyPackage, error) {
	t.Helper()
	inbox := make(map[uint16][]*RepairPiece)
	for _, h := range helpers {
		pieces, err := RepairSplit(ks[h-1], helpers, target)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pieces {
			inbox[p.to] = append(inbox[p.to], wire(t, p, UnmarshalRepairPiece))
		}
	}
	if tamper == "piece" {
		p := inbox[helpers[0]][1]
		p.value.Add(&p.value, scalarFromUint16(1))
	}
	var sums []*RepairSum
	for _, h := range helpers {
		sm, err := RepairCombine(pub.Suite(), h, helpers, target, inbox[h])
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, wire(t, sm, UnmarshalRepairSum))
	}
	if tamper == "sum" {
		sums[0].value.Subtract(&sums[0].value, scalarFromUint16(2))
	}
	return RepairFinish(pub, helpers, target, sums)
}

// TestRepairParams refuses too few helpers, a helper as target, repeated
// helpers and a target already present for EnrolPublicKey.
func TestRepairParams(t *testing.T) {
	pub, ks, _ := Deal(Ed25519, nil, 3, []uint16{1, 2, 3, 4})
	if _, err := RepairSplit(ks[0], []uint16{1, 2}, 4); !errors.Is(err, ErrTooFewSigners) {
		t.Fatalf("2 helpers for t = 3: %v", err)
	}
	if _, err := RepairSplit(ks[0], []uint16{1, 2, 3}, 3); err == nil {
		t.Fatal("target among the helpers")
	}
	if _, err := RepairSplit(ks[0], []uint16{1, 1, 2}, 4); err == nil {
		t.Fatal("repeated helper")
	}
	if _, err := RepairSplit(ks[3], []uint16{1, 2, 3}, 5); err == nil {
		t.Fatal("a non-helper split")
	}
	if _, err := EnrolPublicKey(pub, []uint16{1, 2, 3}, 4); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("enrol an existing signer: %v", err)
	}
}
