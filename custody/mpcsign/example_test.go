package mpcsign_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody/mpcsign"
	"github.com/maskshare/maskshare/transport"
)

// A 2-of-3 account on a pool of three nodes over loopback mutual TLS: the
// key is made by COCKTAIL-DKG among the nodes, the owner's device
// authorises one message for two nodes the holder drew, and the
// signature verifies with crypto/ed25519.
func Example() {
	dir, _ := os.MkdirTemp("", "mpcsign-example")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca, _ := transport.NewCA("example-ca")
	trust := transport.Trust{Roots: ca.Pool()}

	var pool []mpcsign.NodeAddr
	for _, name := range []string{"signer-1", "signer-2", "signer-3"} {
		id, _ := ca.Issue(name)
		cfg, _ := transport.ServerConfig(id, trust, []string{transport.AnyPeer})
		cfg.MaxMessageSize = max(mpcsign.MaxRequestSize, mpcsign.MaxResponseSize)
		s, err := mpcsign.OpenSigner(filepath.Join(dir, name), &mpcsign.SignerConfig{Name: name})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		l, err := transport.Listen("127.0.0.1:0", cfg)
		if err != nil {
			log.Fatal(err)
		}
		go s.Serve(ctx, l)
		pool = append(pool, mpcsign.NodeAddr{Name: name, Addr: l.Addr().String()})
	}

	holderID, _ := ca.Issue("holder")
	h, err := mpcsign.OpenHolder(filepath.Join(dir, "holder"), &mpcsign.HolderConfig{Identity: holderID, Trust: trust, Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	// The owner's device: its key, and the TOTP key from the QR code.
	devPub, devKey, _ := ed25519.GenerateKey(rand.Reader)
	acct, totpKey, err := h.CreateAccount(ctx, "alice", devPub, &mpcsign.CreateOptions{Threshold: 2, Shares: 3})
	if err != nil {
		log.Fatal(err)
	}

	msg := []byte("pay 10 to bob")
	nodes, _ := h.ChooseNodes(ctx, "alice")
	code, _ := mpcsign.Code(totpKey, time.Now())
	a, _ := mpcsign.NewAuthorization("alice", msg, nodes, code, time.Now())
	auth, _ := a.Sign(devKey)

	sig, err := h.Sign(ctx, msg, auth)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("nodes:", len(nodes))
	fmt.Println("crypto/ed25519 verifies:", ed25519.Verify(acct.GroupKey(), msg, sig))
	// Output:
	// nodes: 2
	// crypto/ed25519 verifies: true
}
