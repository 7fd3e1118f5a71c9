package slicing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

// DefaultDialTimeout is the default [NodeClient.DialTimeout].
const DefaultDialTimeout = 10 * time.Second

// maxParallel bounds the nodes a client talks to at once.
const maxParallel = 8

// ErrNotEnough reports a recovery that gathered fewer distinct slices than
// it needed.
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
	if err := nc.conn.Send(ctx, b); err != nil {
		return nil, fmt.Errorf("slicing: key node %s: %v: %w", nc.name, q.op, err)
	}
	resp, err := transport.RecvLimit(ctx, nc.conn, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("slicing: key node %s: %v: %w", nc.name, q.op, err)
	}
	return parseResponse(nc.name, q.op, resp)
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

func (nc *NodeConn) store(ctx context.Context, o op, batch []*SealedSlice) error {
	r, err := nc.roundTrip(ctx, &request{op: o, slices: batch})
	if err != nil {
		return err
	}
	if !r.done() {
		return fmt.Errorf("%w: %v response with a body", ErrBadMessage, o)
	}
	return nil
}

// Store stores slices of one user key and epoch, sealed to this node. It
// returns nil only once the node has them on disk.
func (nc *NodeConn) Store(ctx context.Context, batch []*SealedSlice) error {
	return nc.store(ctx, opStore, batch)
}

// Refresh replaces the node's slices of a user key by those of a newer
// epoch: batch must hold every slice of the new epoch this node keeps.
func (nc *NodeConn) Refresh(ctx context.Context, batch []*SealedSlice) error {
	return nc.store(ctx, opRefresh, batch)
}

// Release asks the node for its slices of (user, key) at epoch, with an
// institution's authorisation; they come back sealed to the authorisation's
// requester key.
func (nc *NodeConn) Release(ctx context.Context, user, key string, epoch uint64, auth []byte) ([]*SealedSlice, error) {
	r, err := nc.roundTrip(ctx, &request{op: opRelease, user: user, key: key, epoch: epoch, auth: auth})
	if err != nil {
		return nil, err
	}
	batch, err := r.batch()
	if err != nil {
		return nil, err
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: release response with trailing bytes", ErrBadMessage)
	}
	for _, ss := range batch {
		if ss.UserID != user || ss.KeyID != key || ss.Epoch != epoch {
			return nil, fmt.Errorf("%w: key node %s released a slice of another user key or epoch", ErrBadSlice, nc.name)
		}
	}
	return batch, nil
}

// List asks what the node holds of (user, key): its epoch, the indexes and
// their commitments. Only the key's owner and institutions may ask.
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

// Register stores each assignment's slices on its node, sealed to the HPKE
// key the node reports over its authenticated connection: the shares leave
// the device only sealed. It returns nil once every node has acknowledged
// (so holds its slices durably), or the failures by node (NodeErrors).
func Register(ctx context.Context, c *NodeClient, assign []SliceAssignment) error {
	return eachNode(ctx, len(assign), func(ctx context.Context, i int) (string, error) {
		a := assign[i]
		return a.Node.Name, placeSlices(ctx, c, a, false)
	})
}

// RefreshNodes stores a new epoch's slices on their nodes, as Register
// does, with refresh requests: each node then refuses the older epoch and
// deletes its slices.
func RefreshNodes(ctx context.Context, c *NodeClient, assign []SliceAssignment) error {
	return eachNode(ctx, len(assign), func(ctx context.Context, i int) (string, error) {
		a := assign[i]
		return a.Node.Name, placeSlices(ctx, c, a, true)
	})
}

func placeSlices(ctx context.Context, c *NodeClient, a SliceAssignment, refresh bool) error {
	nc, err := c.Dial(ctx, a.Node)
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
	if refresh {
		return nc.Refresh(ctx, batch)
	}
	return nc.Store(ctx, batch)
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
	Epoch         uint64
	// Authorization is an institution's signed authorisation
	// ([custody.Authorization.Sign]) naming Requester's public key.
	Authorization []byte
	// Requester is the fresh private key the authorisation names; the
	// released slices open only with it.
	Requester *custody.PrivateKey
	// Nodes are the nodes to ask; unreachable ones are skipped.
	Nodes []NodeAddr
	// Need is the number of distinct share indexes wanted (the threshold
	// t); Recover stops asking once it has them.
	Need int
}

// RecoverError is a recovery that gathered fewer than Need distinct
// indexes. It wraps [ErrNotEnough] and the nodes' errors.
type RecoverError struct {
	Got, Need int
	Failed    NodeErrors
}

func (e *RecoverError) Error() string {
	s := fmt.Sprintf("%v: %d distinct slices of the %d needed", ErrNotEnough, e.Got, e.Need)
	if len(e.Failed) > 0 {
		s += " (" + e.Failed.Error() + ")"
	}
	return s
}

func (e *RecoverError) Unwrap() []error { return []error{ErrNotEnough, e.Failed} }

// Recover fetches the user key's slices from the nodes, re-sealed to the
// requester's key, and opens them, until it has Need distinct indexes. It
// returns every slice it opened (possibly more than Need, and more than one
// per index if nodes disagree), in index order, and the failures of the
// nodes it asked. The slices are not yet verified: check each against the
// sharing's commitments (package share) before combining them, and drop
// those that fail.
func Recover(ctx context.Context, c *NodeClient, r *RecoverRequest) ([]*Slice, NodeErrors, error) {
	if r.Requester == nil || r.Need < 1 {
		return nil, nil, errors.New("slicing: recover needs a requester key and Need of 1 or more")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var got []*Slice
	indexes := map[uint32]bool{}
	failed := NodeErrors{}
	enough := func() bool { return len(indexes) >= r.Need }
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for _, node := range r.Nodes {
		mu.Lock()
		done := enough()
		mu.Unlock()
		if done {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			opened, err := fetchFrom(ctx, c, node, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !enough() { // not a casualty of our own cancel
					failed[node.Name] = err
				}
				return
			}
			got = append(got, opened...)
			for _, s := range opened {
				indexes[s.Index] = true
			}
			if enough() {
				cancel()
			}
		})
	}
	wg.Wait()
	sort.SliceStable(got, func(i, j int) bool { return got[i].Index < got[j].Index })
	if len(indexes) < r.Need {
		for _, s := range got {
			clear(s.Share)
		}
		return nil, failed, &RecoverError{Got: len(indexes), Need: r.Need, Failed: failed}
	}
	return got, failed, nil
}

func fetchFrom(ctx context.Context, c *NodeClient, node NodeAddr, r *RecoverRequest) ([]*Slice, error) {
	nc, err := c.Dial(ctx, node)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	batch, err := nc.Release(ctx, r.UserID, r.KeyID, r.Epoch, r.Authorization)
	if err != nil {
		return nil, err
	}
	out := make([]*Slice, 0, len(batch))
	for _, ss := range batch {
		s, err := ss.Open(r.Requester)
		if err != nil {
			return nil, fmt.Errorf("key node %s: %w", node.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}
