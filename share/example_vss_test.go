package share_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/maskshare/maskshare/share"
)

func randomScalar() *edwards25519.Scalar {
	var b [64]byte
	rand.Read(b[:])
	s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	return s
}

// A signing key is split 3-of-5 with Feldman commitments; a holder of two
// indexes (4 and 5) and the holder of index 1 recover it, and C_0 is its
// public key.
func ExampleDeal() {
	key := randomScalar()
	shares, c, err := share.Deal(share.Feldman, key, 3, []uint32{1, 2, 3, 4, 5}, 0)
	if err != nil {
		panic(err)
	}
	got, skipped, err := share.Recover(c, []share.Share{shares[0], shares[3], shares[4]})
	if err != nil {
		panic(err)
	}
	pk, _ := c.PublicKey()
	fmt.Println("recovered:", got.Equal(key) == 1, "skipped:", skipped)
	fmt.Println("public key:", pk.Equal(new(edwards25519.Point).ScalarBaseMult(got)) == 1)
	// Output:
	// recovered: true skipped: <nil>
	// public key: true
}

// A tampered share is named and skipped; the others still recover the
// secret.
func ExampleRecover() {
	secret := randomScalar()
	shares, c, _ := share.Deal(share.Pedersen, secret, 2, []uint32{1, 2, 3}, 0)
	shares[1].Value.Add(&shares[1].Value, &shares[0].Value) // tampered
	got, skipped, err := share.Recover(c, shares)
	fmt.Println("recovered:", err == nil && got.Equal(secret) == 1)
	fmt.Println(skipped)
	_, _, err = share.Recover(c, shares[1:])
	fmt.Println(errors.Is(err, share.ErrTooFewShares), errors.Is(err, share.ErrBadShare))
	fmt.Println(err)
	// Output:
	// recovered: true
	// share: 1 share (index 2) does not match the commitments
	// true true
	// share: 1 valid share of the 2 needed (1 share (index 2) does not match the commitments)
}

// Two dealers refresh a 2-of-3 sharing from epoch 0 to 1: the secret stays,
// the old shares are refused.
func ExampleApplyRefresh() {
	secret := randomScalar()
	xs := []uint32{1, 2, 3}
	old, c, _ := share.Deal(share.Pedersen, secret, 2, xs, 0)
	d1, c1, _ := share.DealZero(share.Pedersen, 2, xs, 1)
	d2, c2, _ := share.DealZero(share.Pedersen, 2, xs, 1)
	var shares []share.Share
	var newC *share.Commitments
	for i := range old {
		s, nc, err := share.ApplyRefresh(old[i], c, []share.Share{d1[i], d2[i]}, []*share.Commitments{c1, c2}, 1)
		if err != nil {
			panic(err)
		}
		shares, newC = append(shares, s), nc
	}
	got, _, _ := share.Recover(newC, shares[1:])
	fmt.Println("secret unchanged:", got.Equal(secret) == 1)
	fmt.Println("old share refused:", errors.Is(newC.Verify(&old[0]), share.ErrEpoch))
	// Output:
	// secret unchanged: true
	// old share refused: true
}

// Helpers 1, 2 and 3 of a 3-of-5 sharing rebuild lost share 5; each sees
// only its own share, the pieces sent to it and nothing of the result.
func ExampleRepairSplit() {
	shares, c, _ := share.Deal(share.Feldman, randomScalar(), 3, []uint32{1, 2, 3, 4, 5}, 0)
	helpers := []uint32{1, 2, 3}
	const lost = 5
	var sent [][]share.RepairPiece // sent[i][j]: from helper i to helper j
	for i := range helpers {
		pieces, err := share.RepairSplit(c, &shares[i], helpers, lost)
		if err != nil {
			panic(err)
		}
		sent = append(sent, pieces)
	}
	var sums []share.RepairSum
	for j, self := range helpers {
		var inbox []share.RepairPiece
		for i := range helpers {
			inbox = append(inbox, sent[i][j])
		}
		sum, err := share.RepairCombine(c, self, helpers, lost, inbox)
		if err != nil {
			panic(err)
		}
		sums = append(sums, sum)
	}
	repaired, err := share.RepairFinish(c, lost, helpers, sums)
	fmt.Println("verifies:", err == nil)
	fmt.Println("equals the lost share:", repaired.Value.Equal(&shares[4].Value) == 1)
	// Output:
	// verifies: true
	// equals the lost share: true
}
