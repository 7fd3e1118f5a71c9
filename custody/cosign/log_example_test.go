package cosign_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/cosign"
)

// A service logs a user's authorisation; the user's client checks that it
// is in the log and keeps the checkpoint it saw.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "cosign-example")
	defer os.RemoveAll(dir)

	// The service's log, in its store.
	store, err := custody.OpenStore(filepath.Join(dir, "service.db"), &custody.StoreConfig{Buckets: cosign.LogBuckets})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, logKey, _ := ed25519.GenerateKey(rand.Reader)
	alicePub, alice, _ := ed25519.GenerateKey(rand.Reader)
	users := cosign.UserKeyMap{"alice": alicePub} // from the users' certificates, later
	l, err := cosign.OpenLog(store, "org.example/cosign-log", logKey, users, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Alice authorises a request; her signature makes the entry hers.
	e := &cosign.Entry{Kind: cosign.KindAuthorisation, Signer: cosign.SignedByUser, Time: time.Now(),
		User: "alice", Payload: []byte("request 1: sign contract.pdf sha256:9f86d0…")}
	if err := e.Sign(l.Origin(), alice); err != nil {
		log.Fatal(err)
	}
	index, _, err := l.Append(ctx, e)
	if err != nil {
		log.Fatal(err)
	}

	// Alice's client keeps the log's checkpoint and checks the entry.
	m, err := cosign.NewMonitor(nil, l.VerifierKey())
	if err != nil {
		log.Fatal(err)
	}
	c, err := m.Sync(ctx, l)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := l.ProveInclusion(ctx, index, c.Size)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.VerifyEntry(proof, e, users); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry %d of %s is in the tree of size %d, signed by %s\n", index, c.Origin, c.Size, e.User)
	// Output: entry 0 of org.example/cosign-log is in the tree of size 1, signed by alice
}
