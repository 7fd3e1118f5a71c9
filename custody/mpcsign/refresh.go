package mpcsign

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// RefreshResult says what a refresh did.
type RefreshResult struct {
	Epoch uint32            // the new epoch
	Acks  map[uint16]string // share identifier -> node that acknowledged it
}

// Refresh replaces an account's shares by new shares of the same key at
// the next epoch (frost's proactive refresh, see refreshKey), in three
// durable steps:
//
//  1. the new shares, sealed to the holder, and the new record are stored
//     as pending, beside the current ones;
//  2. each new share is re-sealed to a pool node, which opens it, checks
//     it against the new record (same group key, its verifying share) and
//     erases it; its reply — epoch, identifier, verifying share — is the
//     acknowledgement, recorded in the store;
//  3. with acknowledgements of at least t new shares, one transaction
//     makes the new epoch current, records the time of this refresh (the
//     account's [Schedule] counts from it) and deletes the old shares.
//
// A crash before step 3 leaves the old epoch current with all its shares
// (the pending ones are discarded by the next Refresh); after it, the new
// epoch is current with all n new shares, at least t of them checked by a
// node. With fewer than t acknowledgements Refresh fails with
// ErrRefreshIncomplete and keeps the old shares. Nodes move to the new
// epoch when they first see it in a signing request, and refuse older
// shares from then on.
func (h *Holder) Refresh(ctx context.Context, account string) (*RefreshResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ha *holderAccount
	var next *Account
	var nextRaw []byte
	err := h.store.Update(func(tx *custody.Tx) error {
		var err error
		if ha, err = h.account(tx, account); err != nil {
			return err
		}
		rec := ha.record
		if rec.Epoch == ^uint32(0) {
			return fmt.Errorf("%w: epoch would wrap", ErrEpoch)
		}
		if err := discardPending(tx, account, rec.Epoch+1); err != nil {
			return err
		}
		old := make([]*frost.KeyShare, 0, len(rec.Shares()))
		defer func() { eraseAll(old) }()
		for _, id := range rec.Shares() {
			k, err := h.openShare(tx, rec, id)
			if err != nil {
				return err
			}
			old = append(old, k)
		}
		pub, shares, err := refreshKey(rec.Key, old, rec.Epoch+1)
		if err != nil {
			return err
		}
		defer eraseAll(shares)
		next = &Account{ID: rec.ID, Device: rec.Device, Digits: rec.Digits, Period: rec.Period, Epoch: rec.Epoch + 1, Key: pub}
		nextRaw = next.Marshal()
		if err := tx.Put(holderPending, []byte(account), nextRaw); err != nil {
			return err
		}
		return h.putShares(tx, account, next.Epoch, shares)
	})
	if err != nil {
		return nil, err
	}
	res := &RefreshResult{Epoch: next.Epoch, Acks: make(map[uint16]string)}
	// Acknowledgements: share j goes to the healthy nodes in turn.
	up := make([]bool, len(ha.nodes))
	var wg sync.WaitGroup
	for i, n := range ha.nodes {
		wg.Go(func() { _, err := h.status(ctx, n, false); up[i] = err == nil })
	}
	wg.Wait()
	var healthy []string
	for i, n := range ha.nodes {
		if up[i] {
			healthy = append(healthy, n)
		}
	}
	if len(healthy) == 0 {
		return nil, fmt.Errorf("%w: no node answers", ErrRefreshIncomplete)
	}
	var errs []error
	for i, id := range next.Shares() {
		node := healthy[i%len(healthy)]
		if err := h.ack(ctx, next, nextRaw, id, node); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Acks[id] = node
	}
	if len(res.Acks) < next.Threshold() {
		return nil, fmt.Errorf("%w: %d of %d needed: %w", ErrRefreshIncomplete, len(res.Acks), next.Threshold(), errors.Join(errs...))
	}
	err = h.store.Update(func(tx *custody.Tx) error {
		p, err := tx.Get(holderPending, []byte(account))
		if err != nil || !bytes.Equal(p, nextRaw) {
			return fmt.Errorf("mpcsign: pending refresh of %s changed", account)
		}
		n := 0
		if err := tx.ForEachPrefix(holderAcks, epochPrefix(account, next.Epoch), func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n < next.Threshold() {
			return fmt.Errorf("%w: %d recorded", ErrRefreshIncomplete, n)
		}
		// Re-read: the schedule may have changed since the first step.
		cur, err := h.account(tx, account)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.raw, ha.raw) {
			return fmt.Errorf("mpcsign: account %s changed during its refresh", account)
		}
		old := cur.record.Epoch
		// The epoch switch and the time of this refresh, the schedule's
		// reference, are one write.
		cur.record, cur.raw, cur.last = next, nextRaw, h.cfg.Now()
		if err := tx.Put(holderAccounts, []byte(account), cur.marshal()); err != nil {
			return err
		}
		if err := tx.Delete(holderPending, []byte(account)); err != nil {
			return err
		}
		if err := deletePrefix(tx, holderAcks, epochPrefix(account, next.Epoch)); err != nil {
			return err
		}
		return deletePrefix(tx, holderShares, epochPrefix(account, old))
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("mpcsign: account refreshed", "account", account, "epoch", next.Epoch, "acks", len(res.Acks))
	return res, nil
}

// discardPending removes an unfinished refresh to epoch: its shares,
// acknowledgements and record.
func discardPending(tx *custody.Tx, account string, epoch uint32) error {
	if err := deletePrefix(tx, holderShares, epochPrefix(account, epoch)); err != nil {
		return err
	}
	if err := deletePrefix(tx, holderAcks, epochPrefix(account, epoch)); err != nil {
		return err
	}
	return tx.Delete(holderPending, []byte(account))
}

// ack has node check new share id and records its acknowledgement.
func (h *Holder) ack(ctx context.Context, next *Account, raw []byte, id uint16, node string) error {
	var sealed []byte
	err := h.store.View(func(tx *custody.Tx) error {
		pk, err := h.nodeKey(tx, node)
		if err != nil {
			return err
		}
		k, err := h.openShare(tx, next, id)
		if err != nil {
			return err
		}
		pt := k.Marshal()
		k.Erase()
		sealed, err = custody.Seal(pk, checkInfo(next.ID, next.Epoch, id, node), pt)
		clear(pt)
		return err
	})
	if err != nil {
		return err
	}
	nc, err := h.dial(ctx, node)
	if err != nil {
		return err
	}
	defer nc.conn.Close()
	b, err := nc.roundTrip(ctx, &request{op: opCheck, record: raw, id: id, sealed: sealed})
	if err != nil {
		return err
	}
	vs, _ := next.Key.VerifyingShare(id)
	want := binary.BigEndian.AppendUint32(nil, next.Epoch)
	want = binary.BigEndian.AppendUint16(want, id)
	if !bytes.Equal(b, append(want, vs...)) {
		return fmt.Errorf("%w: node %s: acknowledgement does not match share %d", ErrBadMessage, node, id)
	}
	return h.store.Put(holderAcks, shareKey(next.ID, next.Epoch, id), []byte(node))
}

// usableShares counts the shares of account's current epoch that open and
// match its record (for tests and status).
func (h *Holder) usableShares(account string) (epoch uint32, ids []uint16, err error) {
	err = h.store.View(func(tx *custody.Tx) error {
		ha, err := h.account(tx, account)
		if err != nil {
			return err
		}
		epoch = ha.record.Epoch
		for _, id := range ha.record.Shares() {
			k, err := h.openShare(tx, ha.record, id)
			if err != nil {
				continue
			}
			k.Erase()
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return nil
	})
	return epoch, ids, err
}
