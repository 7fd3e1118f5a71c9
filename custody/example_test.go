package custody_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody"
)

func ExampleSeal() {
	node, err := custody.GenerateKey(custody.DefaultSuite)
	if err != nil {
		panic(err)
	}
	info := custody.Info("example", []byte("alice"), []byte("signing"))
	env, err := custody.Seal(node.Public(), info, []byte("a share"))
	if err != nil {
		panic(err)
	}
	pt, err := custody.Open(node, info, env)
	fmt.Printf("%s %v\n", pt, err)
	// Bound to another context, it does not open.
	_, err = custody.Open(node, custody.Info("example", []byte("bob"), []byte("signing")), env)
	fmt.Println(errors.Is(err, custody.ErrOpen))
	// Output:
	// a share <nil>
	// true
}

func ExampleVerifier() {
	dir, err := os.MkdirTemp("", "custody-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := custody.OpenStore(filepath.Join(dir, "node.db"), &custody.StoreConfig{
		Buckets: []string{custody.NonceBucket, custody.NonceExpiryBucket}})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// The institution signs; the requester made a fresh key.
	instPub, instKey, _ := ed25519.GenerateKey(nil)
	requester, _ := custody.GenerateKey(custody.DefaultSuite)
	nonce, _ := custody.NewNonce()
	a := &custody.Authorization{UserID: "alice", KeyID: "signing", Epoch: 1,
		Requester: requester.Public(), Expiry: time.Now().Add(5 * time.Minute), Nonce: nonce}
	signed, err := a.Sign(instKey)
	if err != nil {
		panic(err)
	}

	v := &custody.Verifier{Institutions: []ed25519.PublicKey{instPub}, Node: "node-a", Store: store}
	subject := custody.Subject{UserID: "alice", KeyID: "signing", Epoch: 1}
	_, err = v.Verify(signed, subject)
	fmt.Println(err)
	_, err = v.Verify(signed, subject)
	fmt.Println(errors.Is(err, custody.ErrReplay))
	// Output:
	// <nil>
	// true
}
