package mpcsign

import (
	"bytes"
	"fmt"

	"github.com/maskshare/maskshare/frost"
)

// refreshKey returns new shares of the same key for the next epoch by
// package frost's proactive refresh: every share deals a Feldman sharing
// of zero (frost.NewRefresh) and every share applies all the deltas
// addressed to it, each verified against its dealer's commitment
// (frost.ApplyRefresh). The holder runs every dealer, since it keeps every
// share; it never combines them. The group key cannot move (every
// commitment's C_0 is the identity) and all shares must agree on the new
// public key package.
func refreshKey(old *frost.PublicKeyPackage, shares []*frost.KeyShare, epoch uint32) (*frost.PublicKeyPackage, []*frost.KeyShare, error) {
	n := len(shares)
	commits := make([]*frost.RefreshCommitment, n)
	deltas := make([][]*frost.RefreshShare, n) // deltas[dealer][recipient]
	for i, k := range shares {
		var err error
		if commits[i], deltas[i], err = frost.NewRefresh(k, old, epoch); err != nil {
			return nil, nil, err
		}
	}
	ids := old.Identifiers()
	out := make([]*frost.KeyShare, n)
	var pub *frost.PublicKeyPackage
	for i, k := range shares {
		j := slicesIndex(ids, k.Identifier())
		mine := make([]*frost.RefreshShare, n)
		for d := range n {
			mine[d] = deltas[d][j]
		}
		res, err := frost.ApplyRefresh(k, old, epoch, commits, mine)
		if err != nil {
			eraseAll(out)
			return nil, nil, err
		}
		if pub != nil && !bytes.Equal(pub.Marshal(), res.PublicKey.Marshal()) {
			eraseAll(out)
			return nil, nil, fmt.Errorf("mpcsign: refreshed shares disagree on the public key package")
		}
		pub, out[i] = res.PublicKey, res.KeyShare
	}
	if !bytes.Equal(pub.GroupKey(), old.GroupKey()) {
		eraseAll(out)
		return nil, nil, fmt.Errorf("mpcsign: refresh moved the group key")
	}
	return pub, out, nil
}

func slicesIndex(ids []uint16, id uint16) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}
