package slicing

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// DefaultDialTimeout is the default [NodeClient.DialTimeout].
const DefaultDialTimeout = 10 * time.Second

// maxParallel bounds the nodes a client talks to at once.
const maxParallel = 32

// ErrNotEnough reports a recovery that gathered fewer valid distinct
// slices of one sharing than its threshold.
var ErrNotEnough = errors.New("slicing: not enough slices")

// NodeAddr names a key node (the name in its certificate) and its address.
type NodeAddr struct {
	Name, Addr string
}

// NodeClient connects to key nodes as one identity, over the mutual-TLS
// transport: a user's device, an institution, a recovering user.
type NodeClient struct {
	// Identity is the client's TLS identity. Required.
	Identity *transport.Identity
	// Trust says how the nodes are authenticated (a CA, pinned keys).
	Trust transport.Trust
	// DialTimeout bounds the connection to one node (Dial retries while
	// the node is unreachable); zero means [DefaultDialTimeout].
	DialTimeout time.Duration
	// Logger receives the transport's connection events; nil means none.
	Logger *slog.Logger
}

// NodeConn is a connection to one key node. Its methods must not be called
// concurrently.
type NodeConn struct {
	name string
	conn transport.Conn
}

// Dial connects to a key node.
func (c *NodeClient) Dial(ctx context.Context, node NodeAddr) (*NodeConn, error) {
	cfg, err := transport.ClientConfig(c.Identity, c.Trust, node.Name)
	if err != nil {
		return nil, err
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	cfg.Logger = c.Logger
	d := c.DialTimeout
	if d <= 0 {
		d = DefaultDialTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn, err := transport.Dial(dctx, node.Addr, SessionName, cfg)
	if err != nil {
		return nil, fmt.Errorf("slicing: key node %s: %w", node.Name, err)
	}
	return &NodeConn{name: node.Name, conn: conn}, nil
}

// Close closes the connection.
func (nc *NodeConn) Close() error { return nc.conn.Close() }

func (nc *NodeConn) roundTrip(ctx context.Context, q *request) (*wireReader, error) {
	b, err := q.marshal()
	if err != nil {
		return nil, err
	}
	return nc.exchange(ctx, q.op, b)
}

func (nc *NodeConn) exchange(ctx context.Context, o op, b []byte) (*wireReader, error) {
	if err := nc.conn.Send(ctx, b); err != nil {
		return nil, fmt.Errorf("slicing: key node %s: %v: %w", nc.name, o, err)
	}
	resp, err := transport.RecvLimit(ctx, nc.conn, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("slicing: key node %s: %v: %w", nc.name, o, err)
	}
	return parseResponse(nc.name, o, resp)
}

// Status asks the node for its HPKE public key and the number of keys it
// holds.
func (nc *NodeConn) Status(ctx context.Context) (*NodeStatus, error) {
	r, err := nc.roundTrip(ctx, &request{op: opStatus})
	if err != nil {
		return nil, err
	}
	return parseStatus(r)
}

func (nc *NodeConn) store(ctx context.Context, o op, c *share.Commitments, batch []*SealedSlice) error {
	r, err := nc.roundTrip(ctx, &request{op: o, commitments: c, slices: batch})
	if err != nil {
		return err
	}
	if !r.Done() {
		return fmt.Errorf("%w: %v response with a body", ErrBadMessage, o)
	}
	return nil
}

// Store stores slices of one user key and epoch, sealed to this node and
// bound to c, the sharing's commitments (the node verifies every share
// against them). It returns nil only once the node has them on disk.
func (nc *NodeConn) Store(ctx context.Context, c *share.Commitments, batch []*SealedSlice) error {
	return nc.store(ctx, opStore, c, batch)
}

// Refresh replaces the node's slices of a user key by those of a newer
// epoch, dealt afresh by whoever knows the secret: batch must hold every
// slice of the new epoch this node keeps.
func (nc *NodeConn) Refresh(ctx context.Context, c *share.Commitments, batch []*SealedSlice) error {
	return nc.store(ctx, opRefresh, c, batch)
}

// ApplyRefresh sends the node its delta shares of a zero sharing for the
// next epoch (share.DealZero; deltaC are its commitments), one per slice the
// node holds, sealed to the node. The node adds them to its shares and
// returns the new commitments.
func (nc *NodeConn) ApplyRefresh(ctx context.Context, deltaC *share.Commitments, deltas []*SealedSlice) (*share.Commitments, error) {
	r, err := nc.roundTrip(ctx, &request{op: opApplyRefresh, commitments: deltaC, slices: deltas})
	if err != nil {
		return nil, err
	}
	c, err := r.commitments()
	if err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: apply-refresh response with trailing bytes", ErrBadMessage)
	}
	return c, nil
}

// Release asks the node for its slices of (user, key) at epoch, with an
// institution's authorisation; they come back sealed to the authorisation's
// requester key, with the commitments the node holds for that epoch.
func (nc *NodeConn) Release(ctx context.Context, user, key string, epoch uint32, auth []byte) (*share.Commitments, []*SealedSlice, error) {
	r, err := nc.roundTrip(ctx, &request{op: opRelease, user: user, key: key, epoch: epoch, auth: auth})
	if err != nil {
		return nil, nil, err
	}
	c, err := r.commitments()
	if err != nil {
		return nil, nil, err
	}
	batch, err := r.batch()
	if err != nil {
		return nil, nil, err
	}
	if !r.Done() {
		return nil, nil, fmt.Errorf("%w: release response with trailing bytes", ErrBadMessage)
	}
	if err := checkCommitments(c, batch); err != nil {
		return nil, nil, err
	}
	for _, ss := range batch {
		if ss.UserID != user || ss.KeyID != key || ss.Epoch != epoch {
			return nil, nil, fmt.Errorf("%w: key node %s released a slice of another user key or epoch", ErrBadSlice, nc.name)
		}
	}
	return c, batch, nil
}

// List asks what the node holds of (user, key): the commitments of its
// current epoch and its indexes. Only the key's owner and institutions may
// ask.
func (nc *NodeConn) List(ctx context.Context, user, key string) (*KeyListing, error) {
	r, err := nc.roundTrip(ctx, &request{op: opList, user: user, key: key})
	if err != nil {
		return nil, err
	}
	return parseListing(r)
}

// NodeErrors collects the failures of a multi-node operation by node name.
type NodeErrors map[string]error

func (e NodeErrors) Error() string {
	names := slices.Sorted(maps.Keys(e))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %v", n, e[n])
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the nodes' errors, for errors.Is and errors.As.
func (e NodeErrors) Unwrap() []error {
	out := make([]error, 0, len(e))
	for _, n := range slices.Sorted(maps.Keys(e)) {
		out = append(out, e[n])
	}
	return out
}

// SliceAssignment is the slices one node is to keep.
type SliceAssignment struct {
	Node   NodeAddr
	Slices []*Slice
}

// NewSecret returns a uniformly random scalar to share: a user key made on
// the user's device.
func NewSecret() (*edwards25519.Scalar, error) {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	defer clear(b[:])
	return edwards25519.NewScalar().SetUniformBytes(b[:])
}

// DealSlices splits secret into slices with package share (Shamir t-of-N
// with scheme's commitments) and assigns them to nodes: node i gets
// weights[i] consecutive indexes, N is the sum of the weights. It runs on
// the user's device; the slices it returns are secret until
// [Register] seals them.
func DealSlices(user, key string, scheme share.Scheme, secret *edwards25519.Scalar, t int, epoch uint32, nodes []NodeAddr, weights []int) ([]SliceAssignment, *share.Commitments, error) {
	if len(nodes) != len(weights) {
		return nil, nil, fmt.Errorf("slicing: %d nodes and %d weights", len(nodes), len(weights))
	}
	var indexes []uint32
	for i, w := range weights {
		if w < 1 || w > MaxBatch {
			return nil, nil, fmt.Errorf("slicing: node %s: weight %d (1 to %d)", nodes[i].Name, w, MaxBatch)
		}
		for range w {
			indexes = append(indexes, uint32(len(indexes)+1))
		}
	}
	shares, c, err := share.Deal(scheme, secret, t, indexes, epoch)
	if err != nil {
		return nil, nil, err
	}
	h := c.Hash()
	assign := make([]SliceAssignment, len(nodes))
	k := 0
	for i, w := range weights {
		assign[i].Node = nodes[i]
		for range w {
			b, err := shares[k].MarshalBinary()
			clearShare(&shares[k])
			if err != nil {
				return nil, nil, err
			}
			assign[i].Slices = append(assign[i].Slices, &Slice{UserID: user, KeyID: key, Epoch: epoch, Index: indexes[k], Commitment: h, Share: b})
			k++
		}
	}
	return assign, c, nil
}

// Register stores each assignment's slices on its node, sealed to the HPKE
// key the node reports over its authenticated connection: the shares leave
// the device only sealed. c are the sharing's commitments. It returns nil
// once every node has acknowledged (so holds its slices durably), or the
// failures by node ([NodeErrors]).
func Register(ctx context.Context, cl *NodeClient, c *share.Commitments, assign []SliceAssignment) error {
	return eachNode(ctx, len(assign), func(ctx context.Context, i int) (string, error) {
		a := assign[i]
		return a.Node.Name, placeSlices(ctx, cl, c, a, opStore)
	})
}

// RefreshNodes stores a new epoch's slices, dealt afresh by a holder of the
// secret, on their nodes, as Register does, with refresh requests: each
// node then refuses the older epoch and deletes its slices.
func RefreshNodes(ctx context.Context, cl *NodeClient, c *share.Commitments, assign []SliceAssignment) error {
	return eachNode(ctx, len(assign), func(ctx context.Context, i int) (string, error) {
		a := assign[i]
		return a.Node.Name, placeSlices(ctx, cl, c, a, opRefresh)
	})
}

func placeSlices(ctx context.Context, cl *NodeClient, c *share.Commitments, a SliceAssignment, o op) error {
	nc, err := cl.Dial(ctx, a.Node)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, err := nc.Status(ctx)
	if err != nil {
		return err
	}
	batch := make([]*SealedSlice, len(a.Slices))
	for i, s := range a.Slices {
		if batch[i], err = SealSlice(st.PublicKey, s); err != nil {
			return err
		}
	}
	return nc.store(ctx, o, c, batch)
}

// Holding is the share indexes a node holds.
type Holding struct {
	Node    NodeAddr
	Indexes []uint32
}

// RefreshSharing moves a user key's sharing to the next epoch without
// anyone learning the secret (package share's proactive refresh): the
// caller (the key's owner or an institution) deals a zero sharing over
// every index, and each node adds its delta shares to its own. cur are the
// current commitments; holders say which node holds which indexes. It
// returns the new commitments once every node has them; a node that fails
// is named in [NodeErrors] and is left at the old epoch, whose shares the
// new commitments refuse (repair its slices, or refresh again).
func RefreshSharing(ctx context.Context, cl *NodeClient, user, key string, cur *share.Commitments, holders []Holding) (*share.Commitments, error) {
	var indexes []uint32
	for _, h := range holders {
		indexes = append(indexes, h.Indexes...)
	}
	if cur.Epoch == math.MaxUint32 {
		return nil, fmt.Errorf("slicing: epoch %d is the last", cur.Epoch)
	}
	next := cur.Epoch + 1
	deltas, deltaC, err := share.DealZero(cur.Scheme, cur.Threshold(), indexes, next)
	if err != nil {
		return nil, err
	}
	defer func() {
		for i := range deltas {
			clearShare(&deltas[i])
		}
	}()
	want, err := share.RefreshCommitments(cur, []*share.Commitments{deltaC}, next)
	if err != nil {
		return nil, err
	}
	byIndex := make(map[uint32]*share.Share, len(deltas))
	for i := range deltas {
		byIndex[deltas[i].Index] = &deltas[i]
	}
	h := deltaC.Hash()
	err = eachNode(ctx, len(holders), func(ctx context.Context, i int) (string, error) {
		hd := holders[i]
		nc, err := cl.Dial(ctx, hd.Node)
		if err != nil {
			return hd.Node.Name, err
		}
		defer nc.Close()
		st, err := nc.Status(ctx)
		if err != nil {
			return hd.Node.Name, err
		}
		batch := make([]*SealedSlice, len(hd.Indexes))
		for k, x := range hd.Indexes {
			b, err := byIndex[x].MarshalBinary()
			if err != nil {
				return hd.Node.Name, err
			}
			batch[k], err = SealSlice(st.PublicKey, &Slice{UserID: user, KeyID: key, Epoch: next, Index: x, Commitment: h, Share: b})
			clear(b)
			if err != nil {
				return hd.Node.Name, err
			}
		}
		got, err := nc.ApplyRefresh(ctx, deltaC, batch)
		if err != nil {
			return hd.Node.Name, err
		}
		if got.Hash() != want.Hash() {
			return hd.Node.Name, fmt.Errorf("%w: key node %s computed other commitments", ErrBadMessage, hd.Node.Name)
		}
		return hd.Node.Name, nil
	})
	if err != nil {
		return nil, err
	}
	return want, nil
}

// eachNode runs f for 0..n-1, at most maxParallel at once, and collects the
// errors by the name f returns.
func eachNode(ctx context.Context, n int, f func(context.Context, int) (string, error)) error {
	var mu sync.Mutex
	errs := NodeErrors{}
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name, err := f(ctx, i)
			if err != nil {
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// RecoverRequest is what [Recover] needs.
type RecoverRequest struct {
	UserID, KeyID string
	Epoch         uint32
	// Authorization is an institution's signed authorisation
	// ([custody.Authorization.Sign]) naming Requester's public key.
	Authorization []byte
	// Requester is the fresh private key the authorisation names; the
	// released slices open only with it.
	Requester *custody.PrivateKey
	// Nodes are the nodes to ask; unreachable ones are skipped.
	Nodes []NodeAddr
	// Commitment, if not zero, is the hash of the sharing's commitments
	// (share.Commitments.Hash), known from a trusted record: only slices
	// of that sharing count, and Recover stops asking nodes once it has t
	// valid ones. If zero, every node is asked and the recovery fails if
	// nodes offer two sharings that both reach their threshold.
	Commitment [CommitmentSize]byte
}

// RecoverError is a recovery that did not gather a threshold of valid
// shares of one sharing. It wraps [ErrNotEnough] and the nodes' errors.
type RecoverError struct {
	Got, Need int
	Failed    NodeErrors
}

func (e *RecoverError) Error() string {
	s := fmt.Sprintf("%v: %d valid distinct slices of the %d needed", ErrNotEnough, e.Got, e.Need)
	if e.Need == 0 {
		s = fmt.Sprintf("%v: no valid slices", ErrNotEnough)
	}
	if len(e.Failed) > 0 {
		s += " (" + e.Failed.Error() + ")"
	}
	return s
}

func (e *RecoverError) Unwrap() []error { return []error{ErrNotEnough, e.Failed} }

// ErrAmbiguous reports a recovery without an expected commitment hash in
// which the nodes offered more than one complete sharing.
var ErrAmbiguous = errors.New("slicing: nodes offered more than one sharing")

// Recovery is the result of [Recover].
type Recovery struct {
	// Secret is the recovered secret. Secret.
	Secret *edwards25519.Scalar
	// Commitments are the sharing's commitments; for Feldman, their
	// PublicKey is the key's public key.
	Commitments *share.Commitments
	// Failed names the nodes that could not be reached, refused, or
	// released slices that did not open or verify (tampered ones are
	// named with their index).
	Failed NodeErrors
}

// group gathers the valid shares of one sharing.
type group struct {
	c      *share.Commitments
	shares map[uint32]*share.Share
}

// Recover fetches the user key's slices from the nodes, re-sealed to the
// requester's key, opens them, verifies each against the commitments its
// node sent, and recovers the secret with package share from t valid
// shares of one sharing. Nodes that fail, and slices that do not open or
// verify, are named in Recovery.Failed (and in the error) and skipped.
func Recover(ctx context.Context, cl *NodeClient, r *RecoverRequest) (*Recovery, error) {
	if r.Requester == nil {
		return nil, errors.New("slicing: recover needs the requester key")
	}
	anchored := r.Commitment != [CommitmentSize]byte{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	groups := map[[CommitmentSize]byte]*group{}
	failed := NodeErrors{}
	complete := func(g *group) bool { return len(g.shares) >= g.c.Threshold() }
	enough := func() bool {
		if !anchored {
			return false
		}
		g := groups[r.Commitment]
		return g != nil && complete(g)
	}
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for _, node := range r.Nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, opened, err := fetchFrom(ctx, cl, node, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !enough() { // not a casualty of our own cancel
					failed[node.Name] = err
				}
				return
			}
			h := c.Hash()
			if anchored && h != r.Commitment {
				failed[node.Name] = fmt.Errorf("%w: key node %s sent commitments of another sharing", share.ErrBadShare, node.Name)
				return
			}
			g := groups[h]
			if g == nil {
				g = &group{c: c, shares: map[uint32]*share.Share{}}
				groups[h] = g
			}
			var bad []error
			for i := range opened {
				sh := &opened[i]
				if err := c.Verify(sh); err != nil {
					bad = append(bad, fmt.Errorf("slice %d: %w", sh.Index, err))
				} else if _, dup := g.shares[sh.Index]; !dup { // two valid shares of one index are equal
					keep := *sh
					g.shares[sh.Index] = &keep
				}
				clearShare(sh)
			}
			if len(bad) > 0 {
				failed[node.Name] = errors.Join(bad...)
			}
			if enough() {
				cancel()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, g := range groups {
			for _, sh := range g.shares {
				clearShare(sh)
			}
		}
	}()
	var best *group
	got, need := 0, 0
	for h, g := range groups {
		if anchored && h != r.Commitment {
			continue
		}
		if complete(g) {
			if best != nil {
				return nil, fmt.Errorf("%w (%d of them)", ErrAmbiguous, len(groups))
			}
			best = g
		}
		if len(g.shares) >= got {
			got, need = len(g.shares), g.c.Threshold()
		}
	}
	if best == nil {
		return nil, &RecoverError{Got: got, Need: need, Failed: failed}
	}
	shares := make([]share.Share, 0, len(best.shares))
	for _, sh := range best.shares {
		shares = append(shares, *sh)
	}
	secret, _, err := share.Recover(best.c, shares)
	for i := range shares {
		clearShare(&shares[i])
	}
	if err != nil {
		return nil, err
	}
	return &Recovery{Secret: secret, Commitments: best.c, Failed: failed}, nil
}

func fetchFrom(ctx context.Context, cl *NodeClient, node NodeAddr, r *RecoverRequest) (*share.Commitments, []share.Share, error) {
	nc, err := cl.Dial(ctx, node)
	if err != nil {
		return nil, nil, err
	}
	defer nc.Close()
	c, batch, err := nc.Release(ctx, r.UserID, r.KeyID, r.Epoch, r.Authorization)
	if err != nil {
		return nil, nil, err
	}
	out := make([]share.Share, 0, len(batch))
	fail := func(err error) (*share.Commitments, []share.Share, error) {
		for i := range out {
			clearShare(&out[i])
		}
		return nil, nil, err
	}
	for _, ss := range batch {
		s, err := ss.Open(r.Requester)
		if err != nil {
			return fail(fmt.Errorf("key node %s: %w", node.Name, err))
		}
		var sh share.Share
		err = sh.UnmarshalBinary(s.Share)
		clear(s.Share)
		if err != nil {
			return fail(fmt.Errorf("key node %s: slice %d: %w", node.Name, ss.Index, err))
		}
		if sh.Index != ss.Index || sh.Epoch != ss.Epoch {
			x := sh.Index
			clearShare(&sh)
			return fail(fmt.Errorf("%w: key node %s: slice %d holds share %d", ErrBadSlice, node.Name, ss.Index, x))
		}
		out = append(out, sh)
	}
	return c, out, nil
}
