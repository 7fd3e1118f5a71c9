package slicing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// Files of a key node's data directory.
const (
	// NodeKeyFile holds the node's HPKE private key (mode 0600).
	NodeKeyFile = "node.hpke"
	// NodeStoreFile is the node's bbolt database.
	NodeStoreFile = "keynode.db"
)

// Buckets of a key node's store.
const (
	keysBucket        = "slicing.keys"        // key prefix -> meta
	slicesBucket      = "slicing.slices"      // key prefix || u32 epoch || u32 index -> sealed slice
	commitmentsBucket = "slicing.commitments" // key prefix || u32 epoch -> commitments
)

// Key node limits.
const (
	// MaxConnections bounds the connections a key node serves at once.
	MaxConnections = 64
	// IdleTimeout is how long a key node waits for the next request on a
	// connection before closing it.
	IdleTimeout = 30 * time.Second
)

// KeyNodeConfig configures a key node. Name and Institutions are required;
// the other fields may be left zero.
type KeyNodeConfig struct {
	// Name is the node's name, as in its certificate; authorisations that
	// list nodes must list it. Required.
	Name string
	// Institutions are the Ed25519 public keys of the trusted
	// institutions: the keys that may sign release authorisations, and
	// the peers (by their TLS key) that may refresh, list and repair any
	// user's slices. Required (at least one).
	Institutions []ed25519.PublicKey
	// AnyRegistrant lets any authenticated peer register a (user, key)
	// the node does not hold yet. By default only a peer whose
	// certificate name is the user id (the user's own device, certified
	// for that name) or an institution may, so that nobody can squat a
	// user's key at a node before the user registers.
	AnyRegistrant bool
	// Logger receives request events; nil means none. Shares and
	// authorisations are never logged.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// KeyNode keeps sealed slices for users and releases them, re-sealed, to
// the requesters that an institution authorised. Every slice it accepts
// opens with its key for its header and holds a share that verifies
// against the sharing's commitments (package share), which it keeps with
// the slices.
//
// Who may do what: any authenticated peer may ask for the status (the
// node's HPKE key). The user (the peer whose certificate name is the user
// id) or an institution registers a (user, key) at the node (any peer, with
// [KeyNodeConfig.AnyRegistrant]); the first to store slices of it becomes
// its owner, by its TLS key: only the owner may store more slices of it at
// the current epoch; the owner or an institution may refresh it to a newer
// epoch (with a fresh deal, or by applying the deltas of a zero sharing)
// and list what the node holds. Only institutions may run a repair (see
// [RepairSlice]). Release needs an authorisation signed by an institution
// (custody.Verifier), whoever the peer is: the re-sealed slices open only
// with the requester key the authorisation names.
type KeyNode struct {
	store  *custody.Store
	key    *custody.PrivateKey
	name   string
	inst   []ed25519.PublicKey
	ver    *custody.Verifier
	log    *slog.Logger
	owned  bool // close store on Close
	anyReg bool

	srv custody.Server // connection handling; Close waits for it
}

// NewKeyNode makes a key node on an open store (which must have been
// opened with [KeyNodeBuckets]) and its HPKE private key.
func NewKeyNode(store *custody.Store, key *custody.PrivateKey, cfg *KeyNodeConfig) (*KeyNode, error) {
	if store == nil || key == nil {
		return nil, errors.New("slicing: key node needs a store and a key")
	}
	if cfg == nil || !transport.ValidName(cfg.Name) {
		return nil, errors.New("slicing: key node needs a valid name (its certificate name)")
	}
	if len(cfg.Institutions) == 0 {
		return nil, errors.New("slicing: key node needs at least one institution key")
	}
	for _, k := range cfg.Institutions {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("slicing: institution key of %d bytes", len(k))
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &KeyNode{
		store: store, key: key, name: cfg.Name,
		inst:   slices.Clone(cfg.Institutions),
		log:    log.With("node", cfg.Name),
		anyReg: cfg.AnyRegistrant,
	}
	n.ver = &custody.Verifier{Institutions: n.inst, Node: cfg.Name, Store: store, Now: cfg.Now}
	n.srv = custody.Server{Session: SessionName, MaxConnections: MaxConnections, MaxRequestSize: MaxRequestSize,
		IdleTimeout: IdleTimeout, Handle: n.Handle, Logger: n.log, Name: "slicing"}
	if err := n.sweep(); err != nil {
		return nil, err
	}
	return n, nil
}

// KeyNodeBuckets are the buckets a key node's store needs.
var KeyNodeBuckets = []string{keysBucket, slicesBucket, commitmentsBucket, custody.NonceBucket, custody.NonceExpiryBucket}

// OpenKeyNode opens the key node whose data live in dir: its HPKE key
// ([NodeKeyFile], made on first start) and its store ([NodeStoreFile]).
// Close closes the store.
func OpenKeyNode(dir string, cfg *KeyNodeConfig) (*KeyNode, error) {
	key, _, err := custody.LoadOrCreateKey(filepath.Join(dir, NodeKeyFile), custody.DefaultSuite)
	if err != nil {
		return nil, err
	}
	st, err := custody.OpenStore(filepath.Join(dir, NodeStoreFile), &custody.StoreConfig{Buckets: KeyNodeBuckets})
	if err != nil {
		return nil, err
	}
	n, err := NewKeyNode(st, key, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	n.owned = true
	return n, nil
}

// Close waits for the connections [KeyNode.Serve] was serving and, for a
// node from [OpenKeyNode], closes its store. Call it after Serve has
// returned.
func (n *KeyNode) Close() error {
	n.srv.Wait()
	if n.owned {
		return n.store.Close()
	}
	return nil
}

// PublicKey returns the node's HPKE public key.
func (n *KeyNode) PublicKey() *custody.PublicKey { return n.key.Public() }

// Serve accepts connections on l and answers their requests until ctx
// ends, then closes l. Each connection may carry any number of requests,
// one at a time; it is closed after [IdleTimeout] without one.
func (n *KeyNode) Serve(ctx context.Context, l *transport.Listener) error {
	return n.srv.Serve(ctx, l)
}

// Peer is the authenticated peer of a request.
type Peer = custody.Peer

// Handle answers one encoded request from peer, as [KeyNode.Serve] does for
// each request it receives. A response is sent only after what it
// acknowledges is durable in the store.
func (n *KeyNode) Handle(peer Peer, req []byte) []byte {
	q, err := parseRequest(req)
	if err != nil {
		n.log.Info("slicing: bad request", "peer", peer.Name, "err", err)
		return custody.ErrorResponse(uint8(codeOf(err)), err.Error())
	}
	var body []byte
	switch q.op {
	case opStatus:
		body, err = n.status()
	case opStore:
		err = n.storeSlices(peer, q.commitments, q.slices, false)
	case opRefresh:
		err = n.storeSlices(peer, q.commitments, q.slices, true)
	case opApplyRefresh:
		body, err = n.applyRefresh(peer, q.commitments, q.slices)
	case opRepairSplit:
		body, err = n.repairSplit(peer, q.repair)
	case opRepairCombine:
		body, err = n.repairCombine(peer, q.repair)
	case opRepairFinish:
		err = n.repairFinish(peer, q.repair)
	case opRelease:
		body, err = n.release(q)
	case opList:
		body, err = n.list(peer, q.user, q.key)
	}
	if err != nil {
		c := codeOf(err)
		n.log.Info("slicing: request refused", "peer", peer.Name, "op", q.op, "err", err)
		text := err.Error()
		if c == codeInternal {
			text = ErrNodeInternal.Error() // details stay in the log
		}
		return custody.ErrorResponse(uint8(c), text)
	}
	n.log.Debug("slicing: request served", "peer", peer.Name, "op", q.op)
	return custody.OKResponse(body)
}

// keyPrefix names a (user, key) in the store; length prefixes make it
// prefix-free, so one user key's records are one prefix range.
func keyPrefix(user, key string) []byte {
	return binfmt.AppendString8(binfmt.AppendString8(nil, user), key)
}

// epochKey is prefix || u32 epoch: the key of an epoch's commitments, and
// the prefix of its slices.
func epochKey(prefix []byte, epoch uint32) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(prefix), epoch)
}

func sliceKey(prefix []byte, epoch, index uint32) []byte {
	return binary.BigEndian.AppendUint32(epochKey(prefix, epoch), index)
}

// keyMeta is what a node records per (user, key): version (1) || u32
// current epoch || owner's Ed25519 key (32).
type keyMeta struct {
	epoch uint32
	owner ed25519.PublicKey
}

func (m *keyMeta) marshal() []byte {
	b := binary.BigEndian.AppendUint32([]byte{1}, m.epoch)
	return append(b, m.owner...)
}

func parseKeyMeta(b []byte) (*keyMeta, error) {
	if len(b) != 1+4+ed25519.PublicKeySize || b[0] != 1 {
		return nil, fmt.Errorf("slicing: corrupt key record of %d bytes", len(b))
	}
	return &keyMeta{epoch: binary.BigEndian.Uint32(b[1:]), owner: ed25519.PublicKey(b[5:])}, nil
}

func getMeta(tx *custody.Tx, prefix []byte) (*keyMeta, error) {
	b, err := tx.Get(keysBucket, prefix)
	if err != nil {
		return nil, err
	}
	return parseKeyMeta(b)
}

func getCommitments(tx *custody.Tx, prefix []byte, epoch uint32) (*share.Commitments, error) {
	b, err := tx.Get(commitmentsBucket, epochKey(prefix, epoch))
	if err != nil {
		return nil, err
	}
	c := new(share.Commitments)
	if err := c.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("slicing: corrupt stored commitments: %w", err)
	}
	return c, nil
}

// getSlices returns the stored slices of prefix at epoch.
func getSlices(tx *custody.Tx, prefix []byte, epoch uint32) ([]*SealedSlice, error) {
	var out []*SealedSlice
	err := tx.ForEachPrefix(slicesBucket, epochKey(prefix, epoch), func(_, v []byte) error {
		ss, err := ParseSealedSlice(v)
		if err != nil {
			return fmt.Errorf("slicing: corrupt stored slice: %w", err)
		}
		out = append(out, ss)
		return nil
	})
	return out, err
}

func (n *KeyNode) isInstitution(k ed25519.PublicKey) bool {
	ok := false
	for _, i := range n.inst {
		if len(k) == len(i) && subtle.ConstantTimeCompare(k, i) == 1 {
			ok = true
		}
	}
	return ok
}

func samePeer(a, b ed25519.PublicKey) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

func (n *KeyNode) status() ([]byte, error) {
	var keys uint64
	err := n.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(keysBucket, nil, func(_, _ []byte) error { keys++; return nil })
	})
	if err != nil {
		return nil, err
	}
	return marshalStatus(&NodeStatus{PublicKey: n.key.Public(), Keys: keys}), nil
}

// openShare opens a sealed slice with the node's key and decodes its share,
// checking that the share's index and epoch are the slice's. The caller
// clears the share when done.
func (n *KeyNode) openShare(ss *SealedSlice) (*share.Share, error) {
	s, err := ss.Open(n.key)
	if err != nil {
		return nil, fmt.Errorf("%w: not sealed to this node for its header", err)
	}
	defer clear(s.Share)
	sh := new(share.Share)
	if err := sh.UnmarshalBinary(s.Share); err != nil {
		return nil, fmt.Errorf("%w: slice %d: %w", ErrBadSlice, ss.Index, err)
	}
	if sh.Index != ss.Index || sh.Epoch != ss.Epoch {
		clearShare(sh)
		return nil, fmt.Errorf("%w: slice %d of epoch %d holds share %d of epoch %d", ErrBadSlice, ss.Index, ss.Epoch, sh.Index, sh.Epoch)
	}
	return sh, nil
}

func clearShare(s *share.Share) { *s = share.Share{} }

// sealShare seals a share to the node itself, bound to c.
func (n *KeyNode) sealShare(user, key string, sh *share.Share, c *share.Commitments) (*SealedSlice, error) {
	b, err := sh.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return SealSlice(n.key.Public(), &Slice{UserID: user, KeyID: key, Epoch: sh.Epoch, Index: sh.Index, Commitment: c.Hash(), Share: b})
}

// storeSlices stores a batch (checked by the decoder: one user, key and
// epoch, distinct indexes, bound to c). Each slice must open with the
// node's key, which proves that it was sealed to this node for exactly its
// header, and hold a share that verifies against c.
//
// A store adds slices at the current epoch (or registers a new key); a
// refresh moves to a newer epoch: its batch must hold every slice this node
// is to keep, since the older epoch's slices are then deleted. The new
// slices and the epoch change commit (with fsync) in one transaction, so a
// node refuses the old epoch from the moment it has the new one; the old
// slices are deleted in a second transaction only after that commit, and
// [NewKeyNode] finishes a deletion a crash interrupted.
func (n *KeyNode) storeSlices(peer Peer, c *share.Commitments, batch []*SealedSlice, refresh bool) error {
	for _, ss := range batch {
		sh, err := n.openShare(ss)
		if err != nil {
			return err
		}
		err = c.Verify(sh)
		clearShare(sh)
		if err != nil {
			return fmt.Errorf("slicing: slice %d: %w", ss.Index, err)
		}
	}
	f := batch[0]
	return n.commit(peer, c, batch, func(meta *keyMeta, exists bool) error {
		switch {
		case !exists && refresh:
			return fmt.Errorf("%w: refresh of user %q key %q, which this node does not hold", ErrSliceNotFound, f.UserID, f.KeyID)
		case !exists:
			return nil
		case f.Epoch < meta.epoch || (refresh && f.Epoch == meta.epoch):
			return fmt.Errorf("%w: epoch %d, the node holds epoch %d", ErrStaleEpoch, f.Epoch, meta.epoch)
		case !refresh && f.Epoch > meta.epoch:
			return fmt.Errorf("%w: store at epoch %d over epoch %d (use refresh)", ErrStaleEpoch, f.Epoch, meta.epoch)
		}
		return nil
	}, refresh)
}

// commit writes a checked batch and its commitments in one transaction:
// check says whether the batch may go on top of the key's record (exists
// false: none yet). A new key is owned by peer; an existing one accepts
// writes from its owner and, for refresh, from institutions. If the batch
// moves the key to a newer epoch, the older epochs are deleted after the
// commit.
func (n *KeyNode) commit(peer Peer, c *share.Commitments, batch []*SealedSlice, check func(meta *keyMeta, exists bool) error, refresh bool) error {
	f := batch[0]
	prefix := keyPrefix(f.UserID, f.KeyID)
	cenc, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	var oldEpoch uint32
	moved := false
	err = n.store.Update(func(tx *custody.Tx) error {
		meta, err := getMeta(tx, prefix)
		exists := err == nil
		if err != nil && !errors.Is(err, custody.ErrNotFound) {
			return err
		}
		if exists && !samePeer(peer.Key, meta.owner) && !(refresh && n.isInstitution(peer.Key)) {
			return fmt.Errorf("%w: user %q key %q was registered by another peer", ErrForbidden, f.UserID, f.KeyID)
		}
		if !exists && !n.anyReg && peer.Name != f.UserID && !n.isInstitution(peer.Key) {
			return fmt.Errorf("%w: %s may not register a key of user %q (only the user's own certificate or an institution)", ErrForbidden, peer.Name, f.UserID)
		}
		if err := check(meta, exists); err != nil {
			return err
		}
		switch {
		case !exists:
			meta = &keyMeta{epoch: f.Epoch, owner: peer.Key}
		case f.Epoch > meta.epoch:
			oldEpoch, moved = meta.epoch, true
			meta.epoch = f.Epoch
		}
		if err := tx.Put(keysBucket, prefix, meta.marshal()); err != nil {
			return err
		}
		// One sharing per epoch: commitments, once stored, never change.
		if old, err := tx.Get(commitmentsBucket, epochKey(prefix, f.Epoch)); err == nil {
			if !bytes.Equal(old, cenc) {
				return fmt.Errorf("%w: user %q key %q has other commitments at epoch %d", ErrConflict, f.UserID, f.KeyID, f.Epoch)
			}
		} else if !errors.Is(err, custody.ErrNotFound) {
			return err
		} else if err := tx.Put(commitmentsBucket, epochKey(prefix, f.Epoch), cenc); err != nil {
			return err
		}
		held := 0
		err = tx.ForEachPrefix(slicesBucket, epochKey(prefix, f.Epoch), func(k, _ []byte) error {
			x := binary.BigEndian.Uint32(k[len(k)-4:])
			if !slices.ContainsFunc(batch, func(ss *SealedSlice) bool { return ss.Index == x }) {
				held++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if held+len(batch) > MaxBatch {
			return fmt.Errorf("%w: a node holds at most %d slices of one key", ErrBadMessage, MaxBatch)
		}
		for _, ss := range batch {
			enc, err := ss.MarshalBinary()
			if err != nil {
				return err
			}
			k := sliceKey(prefix, ss.Epoch, ss.Index)
			old, err := tx.Get(slicesBucket, k)
			if err == nil {
				if !bytes.Equal(old, enc) {
					return fmt.Errorf("%w: user %q key %q epoch %d index %d", ErrConflict, ss.UserID, ss.KeyID, ss.Epoch, ss.Index)
				}
				continue // the same slice again: a retried store
			} else if !errors.Is(err, custody.ErrNotFound) {
				return err
			}
			if err := tx.Put(slicesBucket, k, enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || !moved {
		return err
	}
	n.log.Info("slicing: refreshed", "user", f.UserID, "key", f.KeyID, "from", oldEpoch, "to", f.Epoch)
	return n.store.Update(func(tx *custody.Tx) error { return deleteOld(tx, prefix, f.Epoch) })
}

// applyRefresh moves the node's slices of a key to the next epoch by adding
// the delta shares of a zero sharing (package share's proactive refresh):
// the node opens its current shares and the deltas, checks both against
// their commitments, and keeps the sums, sealed to itself, with the new
// commitments, which it returns. Nobody learns the secret; the dealer of
// the deltas learns nothing about the shares.
func (n *KeyNode) applyRefresh(peer Peer, deltaC *share.Commitments, deltas []*SealedSlice) ([]byte, error) {
	f := deltas[0]
	prefix := keyPrefix(f.UserID, f.KeyID)
	var oldC *share.Commitments
	var held []*SealedSlice
	err := n.store.View(func(tx *custody.Tx) error {
		meta, err := getMeta(tx, prefix)
		if errors.Is(err, custody.ErrNotFound) {
			return fmt.Errorf("%w: user %q key %q", ErrSliceNotFound, f.UserID, f.KeyID)
		}
		if err != nil {
			return err
		}
		if !samePeer(peer.Key, meta.owner) && !n.isInstitution(peer.Key) {
			return fmt.Errorf("%w: refresh of user %q key %q", ErrForbidden, f.UserID, f.KeyID)
		}
		if meta.epoch == math.MaxUint32 || f.Epoch != meta.epoch+1 {
			return fmt.Errorf("%w: deltas for epoch %d, the node holds epoch %d", ErrStaleEpoch, f.Epoch, meta.epoch)
		}
		if oldC, err = getCommitments(tx, prefix, meta.epoch); err != nil {
			return err
		}
		held, err = getSlices(tx, prefix, meta.epoch)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(held) != len(deltas) {
		return nil, fmt.Errorf("%w: %d deltas for the %d slices this node holds", ErrBadMessage, len(deltas), len(held))
	}
	var newC *share.Commitments
	fresh := make([]*SealedSlice, len(held))
	for i, ss := range held {
		k := slices.IndexFunc(deltas, func(d *SealedSlice) bool { return d.Index == ss.Index })
		if k < 0 {
			return nil, fmt.Errorf("%w: no delta for index %d", ErrBadMessage, ss.Index)
		}
		old, err := n.openShare(ss)
		if err != nil {
			return nil, fmt.Errorf("slicing: stored slice: %w", err)
		}
		delta, err := n.openShare(deltas[k])
		if err != nil {
			clearShare(old)
			return nil, err
		}
		sum, c, err := share.ApplyRefresh(*old, oldC, []share.Share{*delta}, []*share.Commitments{deltaC}, f.Epoch)
		clearShare(old)
		clearShare(delta)
		if err != nil {
			return nil, err
		}
		newC = c
		fresh[i], err = n.sealShare(f.UserID, f.KeyID, &sum, newC)
		clearShare(&sum)
		if err != nil {
			return nil, err
		}
	}
	err = n.commit(peer, newC, fresh, func(meta *keyMeta, exists bool) error {
		if !exists || meta.epoch != oldC.Epoch {
			return fmt.Errorf("%w: the key moved on during the refresh", ErrStaleEpoch)
		}
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return appendCommitments(nil, newC)
}

// deleteOld deletes the slices and commitments of prefix older than epoch.
func deleteOld(tx *custody.Tx, prefix []byte, epoch uint32) error {
	for _, b := range []struct {
		name string
		klen int
	}{{slicesBucket, len(prefix) + 8}, {commitmentsBucket, len(prefix) + 4}} {
		var old [][]byte
		err := tx.ForEachPrefix(b.name, prefix, func(k, _ []byte) error {
			if len(k) == b.klen && binary.BigEndian.Uint32(k[len(prefix):]) < epoch {
				old = append(old, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := tx.Delete(b.name, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweep deletes slices that a refresh made obsolete, in case the node
// stopped between a refresh's two transactions.
func (n *KeyNode) sweep() error {
	return n.store.Update(func(tx *custody.Tx) error {
		type rec struct {
			prefix []byte
			epoch  uint32
		}
		var keys []rec
		err := tx.ForEachPrefix(keysBucket, nil, func(k, v []byte) error {
			m, err := parseKeyMeta(v)
			if err != nil {
				return err
			}
			keys = append(keys, rec{k, m.epoch})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range keys {
			if err := deleteOld(tx, r.prefix, r.epoch); err != nil {
				return err
			}
		}
		return nil
	})
}

// release checks the authorisation, opens the node's slices of the
// authorised user key and epoch and re-seals each to the requester's key.
func (n *KeyNode) release(q *request) ([]byte, error) {
	a, err := n.ver.Verify(q.auth, custody.Subject{UserID: q.user, KeyID: q.key, Epoch: uint64(q.epoch)})
	if err != nil {
		return nil, err
	}
	prefix := keyPrefix(q.user, q.key)
	var stored []*SealedSlice
	var c *share.Commitments
	err = n.store.View(func(tx *custody.Tx) error {
		meta, err := getMeta(tx, prefix)
		if err != nil {
			return err
		}
		if q.epoch < meta.epoch {
			return fmt.Errorf("%w: epoch %d asked, the node holds epoch %d", ErrStaleEpoch, q.epoch, meta.epoch)
		}
		if q.epoch > meta.epoch {
			return custody.ErrNotFound
		}
		if c, err = getCommitments(tx, prefix, q.epoch); err != nil {
			return err
		}
		stored, err = getSlices(tx, prefix, q.epoch)
		return err
	})
	if errors.Is(err, custody.ErrNotFound) || (err == nil && len(stored) == 0) {
		return nil, fmt.Errorf("%w: user %q key %q epoch %d", ErrSliceNotFound, q.user, q.key, q.epoch)
	}
	if err != nil {
		return nil, err
	}
	out := make([]*SealedSlice, 0, len(stored))
	for _, ss := range stored {
		s, err := ss.Open(n.key)
		if err != nil {
			return nil, fmt.Errorf("slicing: stored slice does not open: %w", err)
		}
		re, err := SealSlice(a.Requester, s)
		clear(s.Share)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	n.log.Info("slicing: released", "user", q.user, "key", q.key, "epoch", q.epoch, "slices", len(out))
	b, err := appendCommitments(nil, c)
	if err != nil {
		return nil, err
	}
	return appendBatch(b, out)
}

func (n *KeyNode) list(peer Peer, user, key string) ([]byte, error) {
	prefix := keyPrefix(user, key)
	l := &KeyListing{}
	err := n.store.View(func(tx *custody.Tx) error {
		meta, err := getMeta(tx, prefix)
		if errors.Is(err, custody.ErrNotFound) {
			return fmt.Errorf("%w: user %q key %q", ErrSliceNotFound, user, key)
		}
		if err != nil {
			return err
		}
		if !samePeer(peer.Key, meta.owner) && !n.isInstitution(peer.Key) {
			return fmt.Errorf("%w: list of user %q key %q", ErrForbidden, user, key)
		}
		if l.Commitments, err = getCommitments(tx, prefix, meta.epoch); err != nil {
			return err
		}
		held, err := getSlices(tx, prefix, meta.epoch)
		for _, ss := range held {
			l.Indexes = append(l.Indexes, ss.Index)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return marshalListing(l)
}
