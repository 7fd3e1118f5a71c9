package slicing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// knNet is a CA, an institution and a user's device, with key nodes
// started on loopback as the tests need them.
type knNet struct {
	t    *testing.T
	ca   *transport.CA
	inst *transport.Identity // "bank-1": signs authorisations
	user *NodeClient         // "alice"
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
	n.user = n.client("alice") // the user's device, certified for its user id
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
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
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

// knSharing is a real sharing of a random secret.
type knSharing struct {
	secret *edwards25519.Scalar
	c      *share.Commitments
	slices map[uint32]*Slice
}

func knDeal(t *testing.T, user, key string, epoch uint32, threshold, n int) *knSharing {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return knDealSecret(t, user, key, epoch, threshold, n, secret)
}

func knDealSecret(t *testing.T, user, key string, epoch uint32, threshold, n int, secret *edwards25519.Scalar) *knSharing {
	indexes := make([]uint32, n)
	for i := range indexes {
		indexes[i] = uint32(i + 1)
	}
	shares, c, err := share.Deal(share.Feldman, secret, threshold, indexes, epoch)
	if err != nil {
		t.Fatal(err)
	}
	ks := &knSharing{secret: secret, c: c, slices: map[uint32]*Slice{}}
	for _, sh := range shares {
		b, err := sh.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		ks.slices[sh.Index] = &Slice{UserID: user, KeyID: key, Epoch: epoch, Index: sh.Index, Commitment: c.Hash(), Share: b}
	}
	return ks
}

func (ks *knSharing) pick(indexes ...uint32) []*Slice {
	out := make([]*Slice, len(indexes))
	for i, x := range indexes {
		out[i] = ks.slices[x]
	}
	return out
}

func (ks *knSharing) seal(t *testing.T, to *custody.PublicKey, indexes ...uint32) []*SealedSlice {
	out := make([]*SealedSlice, len(indexes))
	for i, s := range ks.pick(indexes...) {
		var err error
		if out[i], err = SealSlice(to, s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRegisterRecover: a device deals a key's slices over three nodes and
// registers them over mutual TLS; a new device recovers the key with an
// institution's authorisation, with one node down; the authorisation is
// refused the second time; too few nodes give a clear error.
func TestRegisterRecover(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	c, _ := n.start("node-c", t.TempDir())
	down := NodeAddr{Name: "node-d", Addr: "127.0.0.1:1"} // nothing listens
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	assign, com, err := DealSlices("alice", "signing", share.Feldman, secret, 3, 1,
		[]NodeAddr{a, b, c}, []int{2, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := Register(ctx, n.user, com, assign); err != nil {
		t.Fatal(err)
	}
	// A new device after the old one is lost: a fresh identity and key.
	device := n.client("alice-new-phone")
	device.DialTimeout = 300 * time.Millisecond
	req := knKey(t)
	r := &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: n.authorize(req, nil), Requester: req,
		Nodes: []NodeAddr{down, a, b, c}, Commitment: com.Hash()}
	rec, err := Recover(ctx, device, r)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Secret.Equal(secret) != 1 {
		t.Fatal("recovered another secret")
	}
	pub, err := rec.Commitments.PublicKey()
	if err != nil || pub.Equal(new(edwards25519.Point).ScalarBaseMult(secret)) != 1 {
		t.Fatalf("commitments' public key is not secret·B: %v", err)
	}
	// The same authorisation again: every node refuses the replay.
	r.Nodes = []NodeAddr{a, b, c}
	_, err = Recover(ctx, device, r)
	if !errors.Is(err, ErrNotEnough) || !errors.Is(err, custody.ErrReplay) {
		t.Fatalf("replayed recovery: %v", err)
	}
	// Without the expected hash, every node is asked.
	r.Authorization, r.Commitment = n.authorize(req, nil), [CommitmentSize]byte{}
	if rec, err := Recover(ctx, device, r); err != nil || rec.Secret.Equal(secret) != 1 {
		t.Fatalf("recovery without an expected hash: %v", err)
	}
	// Too few nodes up: a clear error naming the missing one.
	r.Authorization = n.authorize(req, nil)
	r.Nodes = []NodeAddr{down, b, c}
	_, err = Recover(ctx, device, r)
	var re *RecoverError
	if !errors.As(err, &re) || re.Got != 2 || re.Need != 3 || re.Failed[down.Name] == nil {
		t.Fatalf("recovery from too few nodes: %v", err)
	}
	t.Log(err)
}

// TestRecoverSkipsTampered: a node that releases a tampered share is named,
// and the key is recovered from the others.
func TestRecoverSkipsTampered(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, nodeB := n.start("node-b", t.TempDir())
	c, _ := n.start("node-c", t.TempDir())
	ks := knDeal(t, "alice", "signing", 1, 2, 3)
	ctx := context.Background()
	assign := []SliceAssignment{{Node: a, Slices: ks.pick(1)}, {Node: b, Slices: ks.pick(2)}, {Node: c, Slices: ks.pick(3)}}
	if err := Register(ctx, n.user, ks.c, assign); err != nil {
		t.Fatal(err)
	}
	// Node B's disk is altered: its share gains 1.
	var sh share.Share
	if err := sh.UnmarshalBinary(ks.slices[2].Share); err != nil {
		t.Fatal(err)
	}
	sh.Value.Add(&sh.Value, edwards25519.NewScalar().Add(edwards25519.NewScalar(), scalarOne()))
	bad, err := nodeB.sealShare("alice", "signing", &sh, ks.c)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := bad.MarshalBinary()
	if err := nodeB.store.Put(slicesBucket, sliceKey(keyPrefix("alice", "signing"), 1, 2), enc); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	rec, err := Recover(ctx, n.client("alice-new-phone"), &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: n.authorize(req, nil), Requester: req, Nodes: []NodeAddr{b, a, c}}) // every node asked
	if err != nil {
		t.Fatal(err)
	}
	if rec.Secret.Equal(ks.secret) != 1 {
		t.Fatal("recovered another secret")
	}
	if !errors.Is(rec.Failed["node-b"], share.ErrBadShare) {
		t.Fatalf("the tampered node is not named: %v", rec.Failed)
	}
}

func scalarOne() *edwards25519.Scalar {
	b := make([]byte, 32)
	b[0] = 1
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		panic(err)
	}
	return s
}

func TestReleaseRefused(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	ctx := context.Background()
	ks := knDeal(t, "alice", "signing", 1, 1, 1)
	if err := Register(ctx, n.user, ks.c, []SliceAssignment{{Node: a, Slices: ks.pick(1)}}); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	nc := n.dial(n.client("someone"), a)
	release := func(auth []byte) error {
		_, _, err := nc.Release(ctx, "alice", "signing", 1, auth)
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
		{"for another epoch", n.authorize(req, func(a *custody.Authorization) { a.Epoch = 2 }), custody.ErrWrongSubject},
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
	if _, _, err := nc.Release(ctx, "bob", "signing", 1, auth); !errors.Is(err, ErrSliceNotFound) {
		t.Errorf("authorised release of an unknown user: %v", err)
	}
	if _, _, err := nc.Release(ctx, "bob", "signing", 1, otherUser[:len(otherUser)-1]); errors.Is(err, ErrSliceNotFound) {
		t.Errorf("an unauthorised request learnt that the user is unknown: %v", err)
	}
	// A released slice opens only with the requester's key.
	_, batch, err := nc.Release(ctx, "alice", "signing", 1, n.authorize(req, nil))
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
	ks := knDeal(t, "alice", "signing", 1, 2, 5)
	s1 := ks.seal(t, st.PublicKey, 1)
	if err := owner.Store(ctx, ks.c, s1); err != nil {
		t.Fatal(err)
	}
	if err := owner.Store(ctx, ks.c, s1); err != nil {
		t.Fatalf("retried store: %v", err)
	}
	if err := owner.Store(ctx, ks.c, ks.seal(t, st.PublicKey, 1)); !errors.Is(err, ErrConflict) {
		t.Errorf("overwrite of a slice: %v, want ErrConflict", err)
	}
	other := knDeal(t, "alice", "signing", 1, 2, 5)
	if err := owner.Store(ctx, other.c, other.seal(t, st.PublicKey, 2)); !errors.Is(err, ErrConflict) {
		t.Errorf("a second sharing at the same epoch: %v, want ErrConflict", err)
	}
	if err := owner.Store(ctx, other.c, ks.seal(t, st.PublicKey, 2)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("slices not bound to the commitments sent: %v, want ErrBadMessage", err)
	}
	// A share that does not verify is refused.
	var sh share.Share
	if err := sh.UnmarshalBinary(ks.slices[3].Share); err != nil {
		t.Fatal(err)
	}
	sh.Value.Add(&sh.Value, scalarOne())
	tampered := *ks.slices[3]
	tampered.Share, _ = sh.MarshalBinary()
	ts, err := SealSlice(st.PublicKey, &tampered)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Store(ctx, ks.c, []*SealedSlice{ts}); !errors.Is(err, share.ErrBadShare) {
		t.Errorf("store of a tampered share: %v, want share.ErrBadShare", err)
	}
	// A slice sealed for node B is refused by node A.
	stB, err := n.dial(n.user, b).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Store(ctx, ks.c, ks.seal(t, stB.PublicKey, 2)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("store of a slice sealed for another node: %v, want ErrBadMessage", err)
	}
	// Another peer may neither add to, refresh nor list alice's key.
	mallory := n.dial(n.client("mallory"), a)
	if err := mallory.Store(ctx, ks.c, ks.seal(t, st.PublicKey, 5)); !errors.Is(err, ErrForbidden) {
		t.Errorf("store by another peer: %v, want ErrForbidden", err)
	}
	next := knDeal(t, "alice", "signing", 2, 2, 5)
	if err := mallory.Refresh(ctx, next.c, next.seal(t, st.PublicKey, 1)); !errors.Is(err, ErrForbidden) {
		t.Errorf("refresh by another peer: %v, want ErrForbidden", err)
	}
	if _, err := mallory.List(ctx, "alice", "signing"); !errors.Is(err, ErrForbidden) {
		t.Errorf("list by another peer: %v, want ErrForbidden", err)
	}
	// Nor register bob's key before bob does.
	bob := knDeal(t, "bob", "signing", 1, 1, 1)
	if err := mallory.Store(ctx, bob.c, bob.seal(t, st.PublicKey, 1)); !errors.Is(err, ErrForbidden) {
		t.Errorf("squatting bob's key: %v, want ErrForbidden", err)
	}
	if err := n.dial(n.client("bob"), a).Store(ctx, bob.c, bob.seal(t, st.PublicKey, 1)); err != nil {
		t.Errorf("bob registers his key: %v", err)
	}
	if err := owner.Store(ctx, ks.c, ks.seal(t, st.PublicKey, 4)); err != nil {
		t.Fatal(err)
	}
	l, err := owner.List(ctx, "alice", "signing")
	if err != nil || l.Epoch() != 1 || len(l.Indexes) != 2 || l.Indexes[0] != 1 || l.Indexes[1] != 4 || l.Commitments.Hash() != ks.c.Hash() {
		t.Fatalf("list: %+v, %v", l, err)
	}
	if st, _ := owner.Status(ctx); st.Keys != 2 {
		t.Errorf("status counts %d keys, want 2", st.Keys)
	}
}

// knEpochsOnDisk returns the epochs of the slices and commitments a node
// holds.
func knEpochsOnDisk(t *testing.T, node *KeyNode) (slices, commitments []uint32) {
	err := node.store.View(func(tx *custody.Tx) error {
		err := tx.ForEachPrefix(slicesBucket, nil, func(_, v []byte) error {
			ss, err := ParseSealedSlice(v)
			if err != nil {
				return err
			}
			slices = append(slices, ss.Epoch)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ForEachPrefix(commitmentsBucket, nil, func(_, v []byte) error {
			var c share.Commitments
			if err := c.UnmarshalBinary(v); err != nil {
				return err
			}
			commitments = append(commitments, c.Epoch)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return slices, commitments
}

// TestRefreshEpochs: after a refresh, the old epoch is neither stored nor
// released, and its slices are gone from the node's disk.
func TestRefreshEpochs(t *testing.T) {
	n := newKnNet(t)
	a, node := n.start("node-a", t.TempDir())
	ctx := context.Background()
	old := knDeal(t, "alice", "signing", 1, 2, 2)
	if err := Register(ctx, n.user, old.c, []SliceAssignment{{Node: a, Slices: old.pick(1, 2)}}); err != nil {
		t.Fatal(err)
	}
	if err := RefreshNodes(ctx, n.user, old.c, []SliceAssignment{{Node: a, Slices: old.pick(1, 2)}}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("refresh to the same epoch: %v, want ErrStaleEpoch", err)
	}
	fresh := knDealSecret(t, "alice", "signing", 2, 2, 2, old.secret)
	// An institution may refresh a user's key (the user may have lost
	// its device).
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust}
	if err := RefreshNodes(ctx, bank, fresh.c, []SliceAssignment{{Node: a, Slices: fresh.pick(1, 2)}}); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	nc := n.dial(n.client("someone"), a)
	if _, _, err := nc.Release(ctx, "alice", "signing", 1, n.authorize(req, nil)); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("release of the old epoch: %v, want ErrStaleEpoch", err)
	}
	more := knDeal(t, "alice", "signing", 1, 2, 3)
	if err := Register(ctx, n.user, more.c, []SliceAssignment{{Node: a, Slices: more.pick(3)}}); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("store of the old epoch: %v, want ErrStaleEpoch", err)
	}
	c, batch, err := nc.Release(ctx, "alice", "signing", 2, n.authorize(req, func(a *custody.Authorization) { a.Epoch = 2 }))
	if err != nil || len(batch) != 2 || batch[0].Epoch != 2 || c.Hash() != fresh.c.Hash() {
		t.Fatalf("release of the new epoch: %d slices, %v", len(batch), err)
	}
	s, cs := knEpochsOnDisk(t, node)
	if len(s) != 2 || s[0] != 2 || s[1] != 2 || len(cs) != 1 || cs[0] != 2 {
		t.Fatalf("on disk: slices of epochs %v, commitments of epochs %v; want only epoch 2", s, cs)
	}
}

// TestProactiveRefresh: an institution moves a key's sharing to the next
// epoch at the nodes without anyone rebuilding the secret; the key is
// recovered from the new shares, the old epoch is refused, and the old
// shares do not verify against the new commitments.
func TestProactiveRefresh(t *testing.T) {
	n := newKnNet(t)
	a, nodeA := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	c, _ := n.start("node-c", t.TempDir())
	ks := knDeal(t, "alice", "signing", 1, 3, 4)
	ctx := context.Background()
	assign := []SliceAssignment{{Node: a, Slices: ks.pick(1, 2)}, {Node: b, Slices: ks.pick(3)}, {Node: c, Slices: ks.pick(4)}}
	if err := Register(ctx, n.user, ks.c, assign); err != nil {
		t.Fatal(err)
	}
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust}
	holders := []Holding{{Node: a, Indexes: []uint32{1, 2}}, {Node: b, Indexes: []uint32{3}}, {Node: c, Indexes: []uint32{4}}}
	newC, err := RefreshSharing(ctx, bank, "alice", "signing", ks.c, holders)
	if err != nil {
		t.Fatal(err)
	}
	if newC.Epoch != 2 || newC.Hash() == ks.c.Hash() {
		t.Fatalf("new commitments of epoch %d", newC.Epoch)
	}
	if pk1, _ := ks.c.PublicKey(); func() bool { pk2, _ := newC.PublicKey(); return pk1.Equal(pk2) != 1 }() {
		t.Fatal("the refresh changed the public key")
	}
	for x, s := range ks.slices {
		var sh share.Share
		if err := sh.UnmarshalBinary(s.Share); err != nil {
			t.Fatal(err)
		}
		if err := newC.Verify(&sh); err == nil {
			t.Fatalf("old share %d verifies against the new commitments", x)
		}
	}
	req := knKey(t)
	rec, err := Recover(ctx, n.client("alice-new-phone"), &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 2,
		Authorization: n.authorize(req, func(a *custody.Authorization) { a.Epoch = 2 }), Requester: req,
		Nodes: []NodeAddr{a, b, c}, Commitment: newC.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Secret.Equal(ks.secret) != 1 {
		t.Fatal("the refresh changed the secret")
	}
	nc := n.dial(n.client("someone"), b)
	if _, _, err := nc.Release(ctx, "alice", "signing", 1, n.authorize(req, nil)); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("release of the old epoch: %v, want ErrStaleEpoch", err)
	}
	// Applying the same step again is refused: the nodes are at epoch 2.
	if _, err := RefreshSharing(ctx, bank, "alice", "signing", ks.c, holders); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("a second refresh from epoch 1: %v, want ErrStaleEpoch", err)
	}
	if s, cs := knEpochsOnDisk(t, nodeA); len(s) != 2 || s[0] != 2 || len(cs) != 1 || cs[0] != 2 {
		t.Fatalf("node A holds slices of epochs %v, commitments of %v", s, cs)
	}
	// Another peer may not refresh.
	if _, err := RefreshSharing(ctx, n.client("mallory"), "alice", "signing", newC, holders); !errors.Is(err, ErrForbidden) {
		t.Errorf("refresh by another peer: %v, want ErrForbidden", err)
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
	for epoch := uint32(1); epoch <= 2; epoch++ {
		ks := knDeal(t, "alice", "signing", epoch, 1, 1)
		enc, _ := ks.seal(t, node.PublicKey(), 1)[0].MarshalBinary()
		cenc, _ := ks.c.MarshalBinary()
		if err := node.store.Put(slicesBucket, sliceKey(prefix, epoch, 1), enc); err != nil {
			t.Fatal(err)
		}
		if err := node.store.Put(commitmentsBucket, epochKey(prefix, epoch), cenc); err != nil {
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
	if s, cs := knEpochsOnDisk(t, node); len(s) != 1 || s[0] != 2 || len(cs) != 1 || cs[0] != 2 {
		t.Fatalf("after restart: slices of epochs %v, commitments of %v; want only epoch 2", s, cs)
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

// TestRepair: node C is lost; helper nodes A and B rebuild its share for a
// new node E without anyone rebuilding the secret; the key is then
// recovered from B and E alone, and E holds exactly the lost share.
func TestRepair(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	c, _ := n.start("node-c", t.TempDir())
	e, nodeE := n.start("node-e", t.TempDir())
	ks := knDeal(t, "alice", "signing", 1, 2, 4)
	ctx := context.Background()
	assign := []SliceAssignment{{Node: a, Slices: ks.pick(1, 2)}, {Node: b, Slices: ks.pick(3)}, {Node: c, Slices: ks.pick(4)}}
	if err := Register(ctx, n.user, ks.c, assign); err != nil {
		t.Fatal(err)
	}
	helpers := []Holding{{Node: a, Indexes: []uint32{1, 2}}, {Node: b, Indexes: []uint32{3}}}
	for _, cl := range []*NodeClient{n.client("mallory"), n.user} {
		if err := RepairSlice(ctx, cl, "alice", "signing", ks.c, helpers, 4, e); !errors.Is(err, ErrForbidden) {
			t.Fatalf("repair by %s: %v, want ErrForbidden", cl.Identity.Name, err)
		}
	}
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust}
	if err := RepairSlice(ctx, bank, "alice", "signing", ks.c, helpers, 4, e); err != nil {
		t.Fatal(err)
	}
	var stored []*SealedSlice
	nodeE.store.View(func(tx *custody.Tx) error {
		var err error
		stored, err = getSlices(tx, keyPrefix("alice", "signing"), 1)
		return err
	})
	if len(stored) != 1 || stored[0].Index != 4 {
		t.Fatalf("node E holds %d slices", len(stored))
	}
	got, err := nodeE.openShare(stored[0])
	if err != nil {
		t.Fatal(err)
	}
	var want share.Share
	if err := want.UnmarshalBinary(ks.slices[4].Share); err != nil {
		t.Fatal(err)
	}
	if got.Value.Equal(&want.Value) != 1 {
		t.Fatal("the repaired share is not the lost one")
	}
	req := knKey(t)
	rec, err := Recover(ctx, n.client("alice-new-phone"), &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1,
		Authorization: n.authorize(req, nil), Requester: req, Nodes: []NodeAddr{b, e}, Commitment: ks.c.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Secret.Equal(ks.secret) != 1 {
		t.Fatal("recovered another secret")
	}
	// Too few helper indexes (t = 2): refused by the share package.
	if err := RepairSlice(ctx, bank, "alice", "signing", ks.c, []Holding{{Node: b, Indexes: []uint32{3}}}, 4, e); !errors.Is(err, ErrBadMessage) {
		t.Errorf("repair with one helper: %v, want ErrBadMessage", err)
	}
}

// TestOversizeRequest: a request over MaxRequestSize is refused from its
// first frame header and the connection closed; the node serves on.
func TestOversizeRequest(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	ctx := context.Background()
	cfg, err := transport.ClientConfig(n.user.Identity, n.user.Trust, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxMessageSize = 2 * MaxRequestSize
	conn, err := transport.Dial(ctx, a.Addr, SessionName, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := make([]byte, MaxRequestSize+1)
	big[0], big[1] = wireVersion, byte(opStatus)
	conn.Send(ctx, big) // may fail part-way once the node hangs up
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := conn.Recv(rctx); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("after an oversize request: %v, want a closed connection", err)
	}
	if _, err := n.dial(n.user, a).Status(ctx); err != nil {
		t.Fatalf("the node stopped serving: %v", err)
	}
}

// TestRecoverAmbiguous: two nodes offer complete sharings of different
// secrets; without an expected hash the recovery refuses to choose, with
// one it takes that sharing and names the other node.
func TestRecoverAmbiguous(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	x := knDeal(t, "alice", "signing", 1, 1, 1)
	y := knDeal(t, "alice", "signing", 1, 1, 1)
	ctx := context.Background()
	if err := Register(ctx, n.user, x.c, []SliceAssignment{{Node: a, Slices: x.pick(1)}}); err != nil {
		t.Fatal(err)
	}
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust} // or a dishonest node
	if err := Register(ctx, bank, y.c, []SliceAssignment{{Node: b, Slices: y.pick(1)}}); err != nil {
		t.Fatal(err)
	}
	req := knKey(t)
	dev := n.client("alice-new-phone")
	r := &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 1, Authorization: n.authorize(req, nil),
		Requester: req, Nodes: []NodeAddr{a, b}}
	if _, err := Recover(ctx, dev, r); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("two complete sharings: %v, want ErrAmbiguous", err)
	}
	r.Authorization, r.Commitment = n.authorize(req, nil), x.c.Hash()
	r.Nodes = []NodeAddr{b, a}
	rec, err := Recover(ctx, dev, r)
	if err != nil || rec.Secret.Equal(x.secret) != 1 {
		t.Fatalf("anchored recovery: %v", err)
	}
}

// TestNoShareOnDisk: a node's database holds slices only sealed: no share
// appears in it in clear.
func TestNoShareOnDisk(t *testing.T) {
	n := newKnNet(t)
	dir := t.TempDir()
	a, node := n.start("node-a", dir)
	ks := knDeal(t, "alice", "signing", 1, 2, 3)
	if err := Register(context.Background(), n.user, ks.c, []SliceAssignment{{Node: a, Slices: ks.pick(1, 2, 3)}}); err != nil {
		t.Fatal(err)
	}
	// Read the file while the node runs: every write is committed.
	db, err := os.ReadFile(filepath.Join(dir, NodeStoreFile))
	if err != nil {
		t.Fatal(err)
	}
	for x, s := range ks.slices {
		var sh share.Share
		if err := sh.UnmarshalBinary(s.Share); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(db, s.Share) || bytes.Contains(db, sh.Value.Bytes()) {
			t.Fatalf("share %d is in the database in clear", x)
		}
	}
	// The slices are there, sealed.
	enc, _ := ks.seal(t, node.PublicKey(), 1)[0].MarshalBinary()
	if !bytes.Contains(db, enc[:40]) {
		t.Fatal("the sealed slices' headers are not in the database: the test reads the wrong file")
	}
}

// TestConcurrentClients: many devices register and recover at one node at
// once.
func TestConcurrentClients(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	ctx := context.Background()
	const users = 12
	sharings := make([]*knSharing, users)
	for i := range sharings {
		sharings[i] = knDeal(t, fmt.Sprintf("user-%d", i), "signing", 1, 2, 2)
	}
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Go(func() {
			ks := sharings[i]
			user := fmt.Sprintf("user-%d", i)
			if err := Register(ctx, n.client(user), ks.c, []SliceAssignment{{Node: a, Slices: ks.pick(1, 2)}}); err != nil {
				errs <- err
				return
			}
			req, err := custody.GenerateKey(custody.DefaultSuite)
			if err != nil {
				errs <- err
				return
			}
			auth := n.authorize(req, func(a *custody.Authorization) { a.UserID = user })
			rec, err := Recover(ctx, n.user, &RecoverRequest{UserID: user, KeyID: "signing", Epoch: 1,
				Authorization: auth, Requester: req, Nodes: []NodeAddr{a}, Commitment: ks.c.Hash()})
			if err == nil && rec.Secret.Equal(ks.secret) != 1 {
				err = fmt.Errorf("%s: recovered another secret", user)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRepairAfterMissedRefresh: node C is down during a proactive refresh
// and is left at the old epoch; an institution repairs its index at the new
// epoch in place, and the key is recovered with C's repaired slice.
func TestRepairAfterMissedRefresh(t *testing.T) {
	n := newKnNet(t)
	a, _ := n.start("node-a", t.TempDir())
	b, _ := n.start("node-b", t.TempDir())
	c, nodeC := n.start("node-c", t.TempDir())
	ks := knDeal(t, "alice", "signing", 1, 2, 3)
	ctx := context.Background()
	assign := []SliceAssignment{{Node: a, Slices: ks.pick(1)}, {Node: b, Slices: ks.pick(2)}, {Node: c, Slices: ks.pick(3)}}
	if err := Register(ctx, n.user, ks.c, assign); err != nil {
		t.Fatal(err)
	}
	bank := &NodeClient{Identity: n.inst, Trust: n.user.Trust, DialTimeout: 300 * time.Millisecond}
	downC := NodeAddr{Name: "node-c", Addr: "127.0.0.1:1"} // C cannot be reached during the refresh
	holders := []Holding{{Node: a, Indexes: []uint32{1}}, {Node: b, Indexes: []uint32{2}}, {Node: downC, Indexes: []uint32{3}}}
	_, err := RefreshSharing(ctx, bank, "alice", "signing", ks.c, holders)
	var ne NodeErrors
	if !errors.As(err, &ne) || len(ne) != 1 || ne["node-c"] == nil {
		t.Fatalf("refresh with C down: %v", err)
	}
	// The new commitments, as A (and B) hold them.
	l, err := n.dial(bank, a).List(ctx, "alice", "signing")
	if err != nil || l.Epoch() != 2 {
		t.Fatalf("list at A: %v", err)
	}
	if err := RepairSlice(ctx, bank, "alice", "signing", l.Commitments,
		[]Holding{{Node: a, Indexes: []uint32{1}}, {Node: b, Indexes: []uint32{2}}}, 3, c); err != nil {
		t.Fatal(err)
	}
	if s, cs := knEpochsOnDisk(t, nodeC); len(s) != 1 || s[0] != 2 || len(cs) != 1 || cs[0] != 2 {
		t.Fatalf("node C holds slices of epochs %v, commitments of %v; want epoch 2 only", s, cs)
	}
	req := knKey(t)
	rec, err := Recover(ctx, n.client("alice-new-phone"), &RecoverRequest{UserID: "alice", KeyID: "signing", Epoch: 2,
		Authorization: n.authorize(req, func(a *custody.Authorization) { a.Epoch = 2 }), Requester: req,
		Nodes: []NodeAddr{a, c}, Commitment: l.Commitments.Hash()})
	if err != nil || rec.Secret.Equal(ks.secret) != 1 {
		t.Fatalf("recovery with the repaired slice: %v", err)
	}
}
