package slicing

import (
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

// BenchmarkKeyNodeRelease is a node's work for one release of a key it
// holds 2 slices of (no network): verify the authorisation, record its
// nonce durably, open the 2 slices and seal them to the requester.
func BenchmarkKeyNodeRelease(b *testing.B) {
	_, inst, _ := ed25519.GenerateKey(nil)
	st, err := custody.OpenStore(filepath.Join(b.TempDir(), "db"), &custody.StoreConfig{Buckets: KeyNodeBuckets})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key := knKey(b)
	node, err := NewKeyNode(st, key, &KeyNodeConfig{Name: "node-a", Institutions: []ed25519.PublicKey{inst.Public().(ed25519.PublicKey)}})
	if err != nil {
		b.Fatal(err)
	}
	c, ss := knWireSharing(b, key, 1)
	peerKey, _, _ := ed25519.GenerateKey(nil)
	peer := Peer{Name: "u", Key: peerKey}
	req, _ := (&request{op: opStore, commitments: c, slices: ss}).marshal()
	if _, err := parseResponse("node-a", opStore, node.Handle(peer, req)); err != nil {
		b.Fatal(err)
	}
	requester := knKey(b)
	for b.Loop() {
		b.StopTimer()
		nonce, _ := custody.NewNonce()
		a := &custody.Authorization{UserID: "u", KeyID: "k", Epoch: 1, Requester: requester.Public(),
			Expiry: time.Now().Add(time.Minute), Nonce: nonce}
		auth, err := a.Sign(inst)
		if err != nil {
			b.Fatal(err)
		}
		q, _ := (&request{op: opRelease, user: "u", key: "k", epoch: 1, auth: auth}).marshal()
		b.StartTimer()
		if _, err := parseResponse("node-a", opRelease, node.Handle(peer, q)); err != nil {
			b.Fatal(err)
		}
	}
}
