package mpcsign

import (
	"errors"
	"fmt"
	"slices"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// Repair rebuilds share target of an account's current epoch — lost or
// unreadable in the holder's store — from t other shares, by package
// frost's repairable threshold scheme (Laing–Stinson): each helper share
// splits its Lagrange-weighted value at target into random pieces
// (frost.RepairSplit), each helper adds the pieces addressed to it
// (frost.RepairCombine), and the sums make the share (frost.RepairFinish),
// checked against its verifying share in the account record. The key is
// never rebuilt. The repaired share is sealed to the holder and stored; it
// returns the helpers used.
func (h *Holder) Repair(account string, target uint16) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var helpers []uint16
	err := h.store.Update(func(tx *custody.Tx) error {
		ha, err := h.account(tx, account)
		if err != nil {
			return err
		}
		rec := ha.record
		if !slices.Contains(rec.Shares(), target) {
			return fmt.Errorf("mpcsign: account %s has no share %d (enrolling new identifiers is not supported)", account, target)
		}
		if k, err := h.openShare(tx, rec, target); err == nil {
			k.Erase()
			return fmt.Errorf("%w: share %d of %s is intact", ErrConflict, target, account)
		}
		var keys []*frost.KeyShare
		defer func() { eraseAll(keys) }()
		for _, id := range rec.Shares() {
			if id == target || len(keys) == rec.Threshold() {
				continue
			}
			if k, err := h.openShare(tx, rec, id); err == nil {
				keys = append(keys, k)
				helpers = append(helpers, id)
			}
		}
		if len(keys) < rec.Threshold() {
			return &TooFewError{Healthy: len(keys), Need: rec.Threshold()}
		}
		pieces := make([][]*frost.RepairPiece, len(keys)) // pieces[from][to]
		for i, k := range keys {
			if pieces[i], err = frost.RepairSplit(k, helpers, target); err != nil {
				return err
			}
		}
		sums := make([]*frost.RepairSum, len(keys))
		for j, self := range helpers {
			mine := make([]*frost.RepairPiece, len(keys))
			for i := range keys {
				mine[i] = pieces[i][j]
			}
			if sums[j], err = frost.RepairCombine(frost.Ed25519, self, helpers, target, mine); err != nil {
				return err
			}
		}
		k, pub, err := frost.RepairFinish(rec.Key, helpers, target, sums)
		if err != nil {
			return err
		}
		defer k.Erase()
		if pub != rec.Key {
			return errors.New("mpcsign: repair changed the public key package")
		}
		return h.putShares(tx, account, rec.Epoch, []*frost.KeyShare{k})
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("mpcsign: share repaired", "account", account, "share", target, "helpers", helpers)
	return helpers, nil
}
