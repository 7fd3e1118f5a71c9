package slicing

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/share"
)

// Repair of a lost slice at the nodes (package share's repairable
// threshold scheme): helper nodes holding at least t indexes rebuild the
// share of a target index for a new holder node without anyone, the
// coordinator included, learning the secret or another helper's share. The
// coordinator (the key's owner or an institution) relays three rounds:
//
//  1. repair-split: each helper node splits, for each of its helper
//     indexes, its Lagrange-weighted share into one piece per helper index,
//     each sealed to the node holding that index.
//  2. repair-combine: each helper node opens the pieces addressed to its
//     indexes and returns one sum per index, sealed to the new holder.
//  3. repair-finish: the new holder opens the sums, adds them, verifies the
//     share against the commitments and stores it, sealed to itself.
//
// Pieces and sums are bound to (user, key, epoch, target, from, to,
// commitment hash) in their HPKE info, so the coordinator cannot move them.

// MaxRepairHelpers bounds the helper indexes of one repair; a repair needs
// t of them, and each costs every helper one sealed piece per index it
// holds.
const MaxRepairHelpers = 64

// repairOps continue the op list of wire.go.
const (
	// Body: head || u8 nkeys || public key × nkeys || helpers with key numbers.
	// Reply: parcels (pieces).
	opRepairSplit op = 7
	// Body: head || target's public key || parcels (pieces to this node).
	// Reply: parcels (sums, sealed to the target's key).
	opRepairCombine op = 8
	// Body: commitments || head || parcels (sums to this node). Reply: empty.
	opRepairFinish op = 9
)

// maxParcels bounds the parcels of one message: the pieces one node makes
// (its helper indexes times the helpers) or receives. A node may hold up
// to 1024/helpers helper indexes of one repair (16 with the most helpers).
const maxParcels = 1024

// maxParcelSize bounds one sealed piece or sum.
const maxParcelSize = custody.EnvelopeOverhead + 128

// repairHead is what every repair message names: the user key, its epoch,
// the target index and the helper indexes (sorted, distinct).
type repairHead struct {
	user, key string
	epoch     uint32
	target    uint32
	helpers   []uint32
}

func (h *repairHead) append(b []byte) []byte {
	b = binfmt.AppendString8(b, h.user)
	b = binfmt.AppendString8(b, h.key)
	b = binary.BigEndian.AppendUint32(b, h.epoch)
	b = binary.BigEndian.AppendUint32(b, h.target)
	b = append(b, byte(len(h.helpers)))
	for _, x := range h.helpers {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func (r *wireReader) repairHead() (*repairHead, error) {
	h := &repairHead{user: r.String8(), key: r.String8(), epoch: r.U32(), target: r.U32()}
	n := r.U8()
	if n > MaxRepairHelpers {
		return nil, fmt.Errorf("%w: %d repair helpers, more than %d", ErrBadMessage, n, MaxRepairHelpers)
	}
	for range n {
		h.helpers = append(h.helpers, r.U32())
	}
	if r.Failed() {
		return nil, fmt.Errorf("%w: truncated repair request", ErrBadMessage)
	}
	if !custody.ValidID(h.user) || !custody.ValidID(h.key) || h.target == 0 || len(h.helpers) == 0 ||
		slices.Contains(h.helpers, 0) || slices.Contains(h.helpers, h.target) ||
		!slices.IsSorted(h.helpers) || len(slices.Compact(slices.Clone(h.helpers))) != len(h.helpers) {
		return nil, fmt.Errorf("%w: invalid repair head", ErrBadMessage)
	}
	return h, nil
}

// parcel is a sealed repair piece (from, to: helper indexes) or sum (from:
// helper index, to: the target). Parcels travel through the coordinator
// sealed end to end.
type parcel struct {
	from, to uint32
	env      []byte
}

func appendParcels(b []byte, ps []parcel) ([]byte, error) {
	if len(ps) > maxParcels {
		return nil, fmt.Errorf("%w: %d repair parcels", ErrBadMessage, len(ps))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(ps)))
	for _, p := range ps {
		if len(p.env) > maxParcelSize {
			return nil, fmt.Errorf("%w: repair parcel of %d bytes", ErrBadMessage, len(p.env))
		}
		b = binary.BigEndian.AppendUint32(b, p.from)
		b = binary.BigEndian.AppendUint32(b, p.to)
		b = binfmt.AppendBytes16(b, p.env)
	}
	return b, nil
}

func (r *wireReader) parcels() ([]parcel, error) {
	n := r.U16()
	if n > maxParcels {
		return nil, fmt.Errorf("%w: %d repair parcels", ErrBadMessage, n)
	}
	var ps []parcel
	for range n {
		p := parcel{from: r.U32(), to: r.U32()}
		l := r.U16()
		if l > maxParcelSize {
			return nil, fmt.Errorf("%w: repair parcel of %d bytes", ErrBadMessage, l)
		}
		p.env = r.Bytes(int(l))
		if r.Failed() {
			return nil, fmt.Errorf("%w: truncated repair parcels", ErrBadMessage)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// repairRequest is a decoded repair request.
type repairRequest struct {
	op          op
	head        *repairHead
	keys        []*custody.PublicKey // split: the helpers' nodes' keys
	keyOf       []uint8              // split: helpers[i]'s node is keys[keyOf[i]]
	targetKey   *custody.PublicKey   // combine
	parcels     []parcel             // combine, finish
	commitments *share.Commitments   // finish
}

func (q *repairRequest) marshal() ([]byte, error) {
	b := []byte{wireVersion, byte(q.op)}
	var err error
	if q.op == opRepairFinish {
		if b, err = appendCommitments(b, q.commitments); err != nil {
			return nil, err
		}
	}
	b = q.head.append(b)
	switch q.op {
	case opRepairSplit:
		if len(q.keys) > MaxRepairHelpers || len(q.keyOf) != len(q.head.helpers) {
			return nil, fmt.Errorf("%w: repair keys", ErrBadMessage)
		}
		b = append(b, byte(len(q.keys)))
		for _, k := range q.keys {
			b = append(b, k.Bytes()...)
		}
		b = append(b, q.keyOf...)
	case opRepairCombine:
		b = append(b, q.targetKey.Bytes()...)
		b, err = appendParcels(b, q.parcels)
	case opRepairFinish:
		b, err = appendParcels(b, q.parcels)
	}
	return b, err
}

// parseRepairRequest decodes the body of a repair request (after version
// and op).
func parseRepairRequest(o op, r *wireReader) (*repairRequest, error) {
	q := &repairRequest{op: o}
	var err error
	if o == opRepairFinish {
		if q.commitments, err = r.commitments(); err != nil {
			return nil, err
		}
	}
	if q.head, err = r.repairHead(); err != nil {
		return nil, err
	}
	switch o {
	case opRepairSplit:
		n := r.U8()
		if n == 0 || n > MaxRepairHelpers {
			return nil, fmt.Errorf("%w: %d repair node keys", ErrBadMessage, n)
		}
		for range n {
			k, err := custody.ParsePublicKey(r.Bytes(custody.PublicKeySize))
			if r.Failed() {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%w: repair node key: %w", ErrBadMessage, err)
			}
			q.keys = append(q.keys, k)
		}
		q.keyOf = r.Bytes(len(q.head.helpers))
		for _, k := range q.keyOf {
			if int(k) >= len(q.keys) {
				return nil, fmt.Errorf("%w: repair key number %d of %d", ErrBadMessage, k, len(q.keys))
			}
		}
	case opRepairCombine:
		if q.targetKey, err = custody.ParsePublicKey(r.Bytes(custody.PublicKeySize)); err != nil && !r.Failed() {
			return nil, fmt.Errorf("%w: repair target key: %w", ErrBadMessage, err)
		}
		if q.parcels, err = r.parcels(); err != nil {
			return nil, err
		}
	case opRepairFinish:
		if q.parcels, err = r.parcels(); err != nil {
			return nil, err
		}
		if q.commitments.Epoch != q.head.epoch {
			return nil, fmt.Errorf("%w: commitments of epoch %d for a repair at epoch %d", ErrBadMessage, q.commitments.Epoch, q.head.epoch)
		}
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, o)
	}
	return q, nil
}

func pieceInfo(h *repairHead, from, to uint32, commitment [CommitmentSize]byte) []byte {
	return custody.Info("slicing/repair-piece", []byte(h.user), []byte(h.key),
		binary.BigEndian.AppendUint32(nil, h.epoch), binary.BigEndian.AppendUint32(nil, h.target),
		binary.BigEndian.AppendUint32(nil, from), binary.BigEndian.AppendUint32(nil, to), commitment[:])
}

func sumInfo(h *repairHead, from uint32, commitment [CommitmentSize]byte) []byte {
	return custody.Info("slicing/repair-sum", []byte(h.user), []byte(h.key),
		binary.BigEndian.AppendUint32(nil, h.epoch), binary.BigEndian.AppendUint32(nil, h.target),
		binary.BigEndian.AppendUint32(nil, from), commitment[:])
}

// repairState loads what a helper node holds for a repair: the commitments
// of the repair's epoch (which must be current) and its slices among the
// helper indexes.
//
// Only institutions (by their TLS key) may drive a repair: whoever relays
// it chooses the keys the pieces and sums are sealed to, so it could obtain
// a share, as an institution can by authorising a release. The key's owner
// may not: a stolen device's TLS key must not be enough to collect t
// shares.
func (n *KeyNode) repairState(peer Peer, h *repairHead) (*share.Commitments, []*SealedSlice, error) {
	prefix := keyPrefix(h.user, h.key)
	var c *share.Commitments
	var mine []*SealedSlice
	err := n.store.View(func(tx *custody.Tx) error {
		meta, err := getMeta(tx, prefix)
		if errors.Is(err, custody.ErrNotFound) {
			return fmt.Errorf("%w: user %q key %q", ErrSliceNotFound, h.user, h.key)
		}
		if err != nil {
			return err
		}
		if !n.isInstitution(peer.Key) {
			return fmt.Errorf("%w: repair of user %q key %q (institutions only)", ErrForbidden, h.user, h.key)
		}
		if meta.epoch != h.epoch {
			return fmt.Errorf("%w: repair at epoch %d, the node holds epoch %d", ErrStaleEpoch, h.epoch, meta.epoch)
		}
		if c, err = getCommitments(tx, prefix, meta.epoch); err != nil {
			return err
		}
		held, err := getSlices(tx, prefix, meta.epoch)
		for _, ss := range held {
			if slices.Contains(h.helpers, ss.Index) {
				mine = append(mine, ss)
			}
		}
		return err
	})
	if err == nil && len(mine) == 0 {
		err = fmt.Errorf("%w: this node holds none of the helper indexes", ErrSliceNotFound)
	}
	return c, mine, err
}

// repairSplit is round 1 at a helper node.
func (n *KeyNode) repairSplit(peer Peer, q *repairRequest) ([]byte, error) {
	h := q.head
	c, mine, err := n.repairState(peer, h)
	if err != nil {
		return nil, err
	}
	ch := c.Hash()
	var out []parcel
	for _, ss := range mine {
		sh, err := n.openShare(ss)
		if err != nil {
			return nil, fmt.Errorf("slicing: stored slice: %w", err)
		}
		pieces, err := share.RepairSplit(c, sh, h.helpers, h.target)
		clearShare(sh)
		if err != nil {
			return nil, err
		}
		for i := range pieces {
			p := &pieces[i]
			from, to := p.From, p.To
			b, err := p.MarshalBinary()
			*p = share.RepairPiece{}
			if err != nil {
				return nil, err
			}
			env, err := custody.Seal(q.keys[q.keyOf[i]], pieceInfo(h, from, to, ch), b)
			clear(b)
			if err != nil {
				return nil, err
			}
			out = append(out, parcel{from: ss.Index, to: h.helpers[i], env: env})
		}
	}
	n.log.Info("slicing: repair split", "user", h.user, "key", h.key, "target", h.target, "pieces", len(out))
	return appendParcels(nil, out)
}

// repairCombine is round 2 at a helper node.
func (n *KeyNode) repairCombine(peer Peer, q *repairRequest) ([]byte, error) {
	h := q.head
	c, mine, err := n.repairState(peer, h)
	if err != nil {
		return nil, err
	}
	ch := c.Hash()
	var out []parcel
	for _, ss := range mine {
		var pieces []share.RepairPiece
		for _, p := range q.parcels {
			if p.to != ss.Index {
				continue
			}
			b, err := custody.Open(n.key, pieceInfo(h, p.from, p.to, ch), p.env)
			if err != nil {
				return nil, fmt.Errorf("%w: repair piece from %d to %d: %w", ErrBadMessage, p.from, p.to, err)
			}
			var rp share.RepairPiece
			err = rp.UnmarshalBinary(b)
			clear(b)
			if err != nil {
				return nil, fmt.Errorf("%w: repair piece from %d: %w", ErrBadMessage, p.from, err)
			}
			if rp.From != p.from || rp.To != p.to {
				return nil, fmt.Errorf("%w: repair piece labelled %d→%d holds %d→%d", ErrBadMessage, p.from, p.to, rp.From, rp.To)
			}
			pieces = append(pieces, rp)
		}
		sum, err := share.RepairCombine(c, ss.Index, h.helpers, h.target, pieces)
		for i := range pieces {
			pieces[i] = share.RepairPiece{}
		}
		if err != nil {
			return nil, err
		}
		b, err := sum.MarshalBinary()
		sum = share.RepairSum{}
		if err != nil {
			return nil, err
		}
		env, err := custody.Seal(q.targetKey, sumInfo(h, ss.Index, ch), b)
		clear(b)
		if err != nil {
			return nil, err
		}
		out = append(out, parcel{from: ss.Index, to: h.target, env: env})
	}
	n.log.Info("slicing: repair combine", "user", h.user, "key", h.key, "target", h.target, "sums", len(out))
	return appendParcels(nil, out)
}

// repairFinish is round 3 at the new holder: it adds the sums, verifies the
// repaired share against the commitments and stores it like a store at the
// key's current epoch (a node new to the key takes it at the commitments'
// epoch, owned by the institution that relayed the repair; a node that
// missed a refresh moves to the repair's newer epoch).
func (n *KeyNode) repairFinish(peer Peer, q *repairRequest) error {
	h, c := q.head, q.commitments
	if !n.isInstitution(peer.Key) {
		return fmt.Errorf("%w: repair of user %q key %q (institutions only)", ErrForbidden, h.user, h.key)
	}
	ch := c.Hash()
	sums := make([]share.RepairSum, 0, len(q.parcels))
	defer func() {
		for i := range sums {
			sums[i] = share.RepairSum{}
		}
	}()
	for _, p := range q.parcels {
		if p.to != h.target {
			return fmt.Errorf("%w: repair sum for %d, target %d", ErrBadMessage, p.to, h.target)
		}
		b, err := custody.Open(n.key, sumInfo(h, p.from, ch), p.env)
		if err != nil {
			return fmt.Errorf("%w: repair sum from %d: %w", ErrBadMessage, p.from, err)
		}
		var s share.RepairSum
		err = s.UnmarshalBinary(b)
		clear(b)
		if err != nil {
			return fmt.Errorf("%w: repair sum from %d: %w", ErrBadMessage, p.from, err)
		}
		if s.From != p.from {
			return fmt.Errorf("%w: repair sum labelled %d holds %d", ErrBadMessage, p.from, s.From)
		}
		sums = append(sums, s)
	}
	sh, err := share.RepairFinish(c, h.target, h.helpers, sums)
	if err != nil {
		return err
	}
	ss, err := n.sealShare(h.user, h.key, &sh, c)
	clearShare(&sh)
	if err != nil {
		return err
	}
	// A node that missed a refresh takes the repaired share of the newer
	// epoch, which moves it there (its older slices are useless).
	err = n.commit(peer, c, []*SealedSlice{ss}, func(meta *keyMeta, exists bool) error {
		if exists && h.epoch < meta.epoch {
			return fmt.Errorf("%w: repair at epoch %d, the node holds epoch %d", ErrStaleEpoch, h.epoch, meta.epoch)
		}
		return nil
	}, true)
	if err == nil {
		n.log.Info("slicing: repaired", "user", h.user, "key", h.key, "index", h.target, "epoch", h.epoch)
	}
	return err
}

// RepairSlice rebuilds the share of index target for the node to, from
// helpers holding at least t indexes of the current sharing c, without
// anyone learning the secret (see the comment at the top of repair.go). The
// caller must be an institution. to may be new to the key (it then records
// the institution as the key's owner there) or hold other indexes of it at
// the same epoch.
func RepairSlice(ctx context.Context, cl *NodeClient, user, key string, c *share.Commitments, helpers []Holding, target uint32, to NodeAddr) error {
	h := &repairHead{user: user, key: key, epoch: c.Epoch, target: target}
	nodeOf := map[uint32]int{}
	for i, hd := range helpers {
		for _, x := range hd.Indexes {
			if _, dup := nodeOf[x]; dup {
				return fmt.Errorf("slicing: repair: index %d at two helpers", x)
			}
			nodeOf[x] = i
			h.helpers = append(h.helpers, x)
		}
	}
	slices.Sort(h.helpers)
	if len(h.helpers) > MaxRepairHelpers {
		return fmt.Errorf("slicing: repair: %d helper indexes, more than %d", len(h.helpers), MaxRepairHelpers)
	}
	conns := make([]*NodeConn, len(helpers))
	keys := make([]*custody.PublicKey, len(helpers))
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	if err := eachNode(ctx, len(helpers), func(ctx context.Context, i int) (string, error) {
		nc, err := cl.Dial(ctx, helpers[i].Node)
		if err != nil {
			return helpers[i].Node.Name, err
		}
		conns[i] = nc
		st, err := nc.Status(ctx)
		if err == nil {
			keys[i] = st.PublicKey
		}
		return helpers[i].Node.Name, err
	}); err != nil {
		return err
	}
	tc, err := cl.Dial(ctx, to)
	if err != nil {
		return err
	}
	defer tc.Close()
	tst, err := tc.Status(ctx)
	if err != nil {
		return err
	}

	// Round 1: pieces, sealed to the node of their destination index.
	keyOf := make([]uint8, len(h.helpers))
	for i, x := range h.helpers {
		keyOf[i] = uint8(nodeOf[x])
	}
	pieces := make([][]parcel, len(helpers))
	if err := eachNode(ctx, len(helpers), func(ctx context.Context, i int) (string, error) {
		r, err := conns[i].roundTripRaw(ctx, &repairRequest{op: opRepairSplit, head: h, keys: keys, keyOf: keyOf})
		if err == nil {
			pieces[i], err = r.parcels()
		}
		return helpers[i].Node.Name, err
	}); err != nil {
		return err
	}
	// Round 2: each helper node gets the pieces for its indexes.
	toNode := make([][]parcel, len(helpers))
	for i, ps := range pieces {
		for _, p := range ps {
			k, ok := nodeOf[p.to]
			if !ok || !slices.Contains(helpers[i].Indexes, p.from) {
				return fmt.Errorf("%w: key node %s sent a piece %d→%d", ErrBadMessage, helpers[i].Node.Name, p.from, p.to)
			}
			toNode[k] = append(toNode[k], p)
		}
	}
	sums := make([][]parcel, len(helpers))
	if err := eachNode(ctx, len(helpers), func(ctx context.Context, i int) (string, error) {
		r, err := conns[i].roundTripRaw(ctx, &repairRequest{op: opRepairCombine, head: h, targetKey: tst.PublicKey, parcels: toNode[i]})
		if err == nil {
			sums[i], err = r.parcels()
		}
		return helpers[i].Node.Name, err
	}); err != nil {
		return err
	}
	// Round 3: the new holder adds the sums.
	var all []parcel
	for _, s := range sums {
		all = append(all, s...)
	}
	r, err := tc.roundTripRaw(ctx, &repairRequest{op: opRepairFinish, head: h, commitments: c, parcels: all})
	if err != nil {
		return err
	}
	if !r.Done() {
		return fmt.Errorf("%w: repair-finish response with a body", ErrBadMessage)
	}
	return nil
}

// roundTripRaw sends a repair request and returns the response body.
func (nc *NodeConn) roundTripRaw(ctx context.Context, q *repairRequest) (*wireReader, error) {
	b, err := q.marshal()
	if err != nil {
		return nil, err
	}
	return nc.exchange(ctx, q.op, b)
}
