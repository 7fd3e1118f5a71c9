package slicing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

// knNet is a CA, an institution and a user's device, with key nodes
// started on loopback as the tests need them.
type knNet struct {
	t    *testing.T
	ca   *transport.CA
	inst *transport.Identity // "bank-1": signs authorisations
	user *NodeClient         // "alice-phone"
}

func newKnNet(t *testing.T) *knNet {
	ca, err := transport.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := ca.Issue("bank-1")
	if err != nil {
		t.Fatal(err)
	}
	n := &knNet{t: t, ca: ca, inst: inst}
	n.user = n.client("alice-phone")
	return n
}

func (n *knNet) client(name string) *NodeClient {
	id, err := n.ca.Issue(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return &NodeClient{Identity: id, Trust: transport.Trust{Roots: n.ca.Pool()}, DialTimeout: 5 * time.Second}
}

// serverConfig is a key node's transport configuration.
func (n *knNet) serverConfig(name string) *transport.Config {
	id, err := n.ca.Issue(name)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg, err := transport.ServerConfig(id, transport.Trust{Roots: n.ca.Pool()}, []string{transport.AnyPeer})
	if err != nil {
		n.t.Fatal(err)
	}
	cfg.MaxMessageSize = MaxRequestSize
	return cfg
}

func (n *knNet) institutions() []ed25519.PublicKey {
	return []ed25519.PublicKey{n.inst.PublicKey()}
}

// start runs a key node with its data in dir, serving until the test ends.
func (n *knNet) start(name, dir string) (NodeAddr, *KeyNode) {
	t := n.t
	node, err := OpenKeyNode(dir, &KeyNodeConfig{Name: name, Institutions: n.institutions()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := transport.Listen("127.0.0.1:0", n.serverConfig(name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		node.Close()
	})
	return NodeAddr{Name: name, Addr: l.Addr().String()}, node
}

func (n *knNet) authorize(requester *custody.PrivateKey, edit func(*custody.Authorization)) []byte {
	nonce, err := custody.NewNonce()
	if err != nil {
		n.t.Fatal(err)
	}
	a := &custody.Authorization{UserID: "alice", KeyID: "signing", Epoch: 1, Requester: requester.Public(),
		Expiry: time.Now().Add(10 * time.Minute), Nonce: nonce}
	if edit != nil {
		edit(a)
	}
	b, err := a.Sign(n.inst.PrivateKey)
	if err != nil {
		n.t.Fatal(err)
	}
	return b
}

func (n *knNet) dial(c *NodeClient, node NodeAddr) *NodeConn {
	nc, err := c.Dial(context.Background(), node)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { nc.Close() })
	return nc
}

// TestRegisterRecover registers a key's slices on three nodes over mutual
// TLS, then recovers them with an institution's authorisation, with one
// node down.
func TestRegisterRecover(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	c, _ := n.start("node-c", t.TempDir())
	down := NodeAddr{Name: "node-d", Addr: "127.0.0.1:1"} // nothing listens
	assign := []SliceAssignment{
		{Node: a, Slices: []*Slice{knSlice("alice", "signing", 1, 1), knSlice("alice", "signing", 1, 2)}},
		{Node: b, Slices: []*Slice{knSlice("alice", "signing", 1, 3)}},
		{Node: c, Slices: []*Slice{knSlice("alice", "signing", 1, 4)}},
	}
	ctx := context.Background()
	if err := Register(ctx, n.user, assign); err != nil {
		t.Fatal(err)
	}
	// A new device after the old one is lost: a fresh identity and key.
	device := n.client("alice-new-phone")
	device.DialTimeout = 300 * time.Millisecond
	req := knKey(t)
	got, failed, err := Recover(ctx, device, &RecoverRequest{
		UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: n.authorize(req, nil), Requester: req,
		Nodes: []NodeAddr{down, a, b, c}, Need: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("recovered %d slices, want 4", len(got))
	}
	for i, s := range got {
		want := knSlice("alice", "signing", 1, uint32(i+1))
		if s.Index != want.Index || !bytes.Equal(s.Share, want.Share) || s.Commitment != want.Commitment {
			t.Fatalf("slice %d: %+v, want %+v", i, s, want)
		}
	}
	_ = failed // node-d may or may not have been tried before the others sufficed
	// The same authorisation again: every node refuses the replay.
	auth := n.authorize(req, nil)
	r := &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1, Authorization: auth, Requester: req,
		Nodes: []NodeAddr{a, b, c}, Need: 4}
	if _, _, err := Recover(ctx, device, r); err != nil {
		t.Fatal(err)
	}
	_, failed, err = Recover(ctx, device, r)
	if !errors.Is(err, ErrNotEnough) || !errors.Is(err, custody.ErrReplay) || len(failed) != 3 {
		t.Fatalf("replayed recovery: %v", err)
	}
	// Too few nodes up: a clear error naming the missing ones.
	r.Authorization = n.authorize(req, nil)
	r.Nodes = []NodeAddr{down, b, c}
	_, failed, err = Recover(ctx, device, r)
	var re *RecoverError
	if !errors.As(err, &re) || re.Got != 2 || re.Need != 4 || failed[down.Name] == nil {
		t.Fatalf("recovery from too few nodes: %v", err)
	}
	t.Log(err)
}

func TestReleaseRefused(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	ctx := context.Background()
	if err := Register(ctx, n.user, []SliceAssignment{{Node: a, Slices: []*Slice{knSlice("alice", "signing", 1, 1)}}}); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	nc := n.dial(n.client("someone"), a)
	release := func(auth []byte) error {
		_, err := nc.Release(ctx, "alice", "signing", 1, auth)
		return err
	}
	stranger, err := n.ca.Issue("bank-impostor")
	if err != nil {
		t.Fatal(err)
	}
	replayed := n.authorize(req, nil)
	if err := release(replayed); err != nil {
		t.Fatalf("first use: %v", err)
	}
	otherUser := n.authorize(req, func(a *custody.Authorization) { a.UserID = "bob" })
	tests := []struct {
		name string
		auth []byte
		want error
	}{
		{"no authorisation", nil, custody.ErrBadAuthorization},
		{"expired", n.authorize(req, func(a *custody.Authorization) { a.Expiry = time.Now().Add(-time.Second) }), custody.ErrExpired},
		{"replayed nonce", replayed, custody.ErrReplay},
		{"signed by a non-institution key", func() []byte {
			nonce, _ := custody.NewNonce()
			a := &custody.Authorization{UserID: "alice", KeyID: "signing", Epoch: 1, Requester: req.Public(),
				Expiry: time.Now().Add(time.Minute), Nonce: nonce}
			b, err := a.Sign(stranger.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}(), custody.ErrUntrustedIssuer},
		{"for another user", otherUser, custody.ErrWrongSubject},
		{"for another key", n.authorize(req, func(a *custody.Authorization) { a.KeyID = "other" }), custody.ErrWrongSubject},
		{"for other nodes", n.authorize(req, func(a *custody.Authorization) { a.Nodes = []string{"node-b"} }), custody.ErrWrongSubject},
	}
	for _, tt := range tests {
		err := release(tt.auth)
		var re *RemoteError
		if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Node != "node-a" {
			t.Errorf("%s: %v, want %v from node-a", tt.name, err, tt.want)
		}
	}
	// A release for a user the node does not hold, properly authorised,
	// is not found; without authorisation, the node does not say.
	auth := n.authorize(req, func(a *custody.Authorization) { a.UserID = "bob" })
	if _, err := nc.Release(ctx, "bob", "signing", 1, auth); !errors.Is(err, ErrSliceNotFound) {
		t.Errorf("authorised release of an unknown user: %v", err)
	}
	if _, err := nc.Release(ctx, "bob", "signing", 1, otherUser[:len(otherUser)-1]); errors.Is(err, ErrSliceNotFound) {
		t.Errorf("an unauthorised request learnt that the user is unknown: %v", err)
	}
	// A released slice opens only with the requester's key.
	auth = n.authorize(req, nil)
	batch, err := nc.Release(ctx, "alice", "signing", 1, auth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := batch[0].Open(knKey(t)); !errors.Is(err, custody.ErrOpen) {
		t.Errorf("released slice opened with another key: %v", err)
	}
	if _, err := batch[0].Open(req); err != nil {
		t.Errorf("released slice does not open with the requester's key: %v", err)
	}
}

func TestStoreRules(t *testing.T) {
	n := newKnNet(t)
	a, nodeA := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	ctx := context.Background()
	owner := n.dial(n.user, a)
	st, err := owner.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.PublicKey.Equal(nodeA.PublicKey()) || st.Keys != 0 {
		t.Fatalf("status %+v", st)
	}
	seal := func(to *custody.PublicKey, s *Slice) *SealedSlice {
		ss, err := SealSlice(to, s)
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	s1 := seal(st.PublicKey, knSlice("alice", "signing", 1, 1))
	if err := owner.Store(ctx, []*SealedSlice{s1}); err != nil {
		t.Fatal(err)
	}
	if err := owner.Store(ctx, []*SealedSlice{s1}); err != nil {
		t.Fatalf("retried store: %v", err)
	}
	if err := owner.Store(ctx, []*SealedSlice{seal(st.PublicKey, knSlice("alice", "signing", 1, 1))}); !errors.Is(err, ErrConflict) {
		t.Errorf("overwrite of a slice: %v, want ErrConflict", err)
	}
	// A slice sealed for node B is refused by node A.
	stB, err := n.dial(n.user, b).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Store(ctx, []*SealedSlice{seal(stB.PublicKey, knSlice("alice", "signing", 1, 2))}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("store of a slice sealed for another node: %v, want ErrBadMessage", err)
	}
	// Another peer may neither add to, refresh nor list alice's key.
	other := n.dial(n.client("mallory"), a)
	if err := other.Store(ctx, []*SealedSlice{seal(st.PublicKey, knSlice("alice", "signing", 1, 5))}); !errors.Is(err, ErrForbidden) {
		t.Errorf("store by another peer: %v, want ErrForbidden", err)
	}
	if err := other.Refresh(ctx, []*SealedSlice{seal(st.PublicKey, knSlice("alice", "signing", 9, 1))}); !errors.Is(err, ErrForbidden) {
		t.Errorf("refresh by another peer: %v, want ErrForbidden", err)
	}
	if _, err := other.List(ctx, "alice", "signing"); !errors.Is(err, ErrForbidden) {
		t.Errorf("list by another peer: %v, want ErrForbidden", err)
	}
	l, err := owner.List(ctx, "alice", "signing")
	if err != nil || l.Epoch != 1 || len(l.Entries) != 1 || l.Entries[0].Index != 1 {
		t.Fatalf("list: %+v, %v", l, err)
	}
	if st, _ := owner.Status(ctx); st.Keys != 1 {
		t.Errorf("status counts %d keys, want 1", st.Keys)
	}
}

// TestRefreshEpochs: after a refresh, the old epoch is neither stored nor
// released, and its slices are gone from the node's disk.
func TestRefreshEpochs(t *testing.T) {
	n := newKnNet(t)
	dir := t.TempDir()
	a, node := n.start("node-a", dir)
	ctx := context.Background()
	old := []*Slice{knSlice("alice", "signing", 1, 1), knSlice("alice", "signing", 1, 2)}
	if err := Register(ctx, n.user, []SliceAssignment{{Node: a, Slices: old}}); err != nil {
		t.Fatal(err)
	}
	if err := RefreshNodes(ctx, n.user, []SliceAssignment{{Node: a, Slices: old}}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("refresh to the same epoch: %v, want ErrStaleEpoch", err)
	}
	fresh := []*Slice{knSlice("alice", "signing", 2, 1), knSlice("alice", "signing", 2, 2)}
	// An institution may refresh a user's key (the user may have lost
	// its device).
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust}
	if err := RefreshNodes(ctx, bank, []SliceAssignment{{Node: a, Slices: fresh}}); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	nc := n.dial(n.client("someone"), a)
	_, err := nc.Release(ctx, "alice", "signing", 1, n.authorize(req, nil))
	if !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("release of the old epoch: %v, want ErrStaleEpoch", err)
	}
	if err := Register(ctx, n.user, []SliceAssignment{{Node: a, Slices: []*Slice{knSlice("alice", "signing", 1, 3)}}}); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("store of the old epoch: %v, want ErrStaleEpoch", err)
	}
	batch, err := nc.Release(ctx, "alice", "signing", 2, n.authorize(req, func(a *custody.Authorization) { a.Epoch = 2 }))
	if err != nil || len(batch) != 2 || batch[0].Epoch != 2 {
		t.Fatalf("release of the new epoch: %d slices, %v", len(batch), err)
	}
	var epochs []uint64
	err = node.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(slicesBucket, nil, func(_, v []byte) error {
			ss, err := ParseSealedSlice(v)
			if err != nil {
				return err
			}
			epochs = append(epochs, ss.Epoch)
			return nil
		})
	})
	if err != nil || len(epochs) != 2 || epochs[0] != 2 || epochs[1] != 2 {
		t.Fatalf("slices on disk have epochs %v (%v), want only epoch 2", epochs, err)
	}
}

// TestSweepAfterCrashedRefresh: a node that stopped between a refresh's
// commit and the deletion of the old slices deletes them when it starts.
func TestSweepAfterCrashedRefresh(t *testing.T) {
	dir := t.TempDir()
	n := newKnNet(t)
	node, err := OpenKeyNode(dir, &KeyNodeConfig{Name: "node-a", Institutions: n.institutions()})
	if err != nil {
		t.Fatal(err)
	}
	prefix := keyPrefix("alice", "signing")
	var stale []byte
	for epoch := uint64(1); epoch <= 2; epoch++ {
		ss, err := SealSlice(node.PublicKey(), knSlice("alice", "signing", epoch, 1))
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := ss.MarshalBinary()
		if epoch == 1 {
			stale = sliceKey(prefix, epoch, 1)
		}
		if err := node.store.Put(slicesBucket, sliceKey(prefix, epoch, 1), enc); err != nil {
			t.Fatal(err)
		}
	}
	meta := &keyMeta{epoch: 2, owner: n.user.Identity.PublicKey()}
	if err := node.store.Put(keysBucket, prefix, meta.marshal()); err != nil {
		t.Fatal(err)
	}
	node.Close()
	node, err = OpenKeyNode(dir, &KeyNodeConfig{Name: "node-a", Institutions: n.institutions()})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, err := node.store.Get(slicesBucket, stale); !errors.Is(err, custody.ErrNotFound) {
		t.Fatalf("stale slice still there after restart: %v", err)
	}
	if _, err := node.store.Get(slicesBucket, sliceKey(prefix, 2, 1)); err != nil {
		t.Fatalf("current slice lost: %v", err)
	}
}

func TestNodeKeyPersists(t *testing.T) {
	dir := t.TempDir()
	n := newKnNet(t)
	cfg := &KeyNodeConfig{Name: "node-a", Institutions: n.institutions()}
	node, err := OpenKeyNode(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pub := node.PublicKey()
	node.Close()
	node, err = OpenKeyNode(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if !node.PublicKey().Equal(pub) {
		t.Fatal("the node key changed across a restart")
	}
	if _, err := custody.ReadPrivateKeyFile(filepath.Join(dir, NodeKeyFile)); err != nil {
		t.Fatal(err)
	}
}
