package cosign_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/transport"
)

// A user enrols (two-party DKG with the service) and has a document signed
// with the organisation's key; the organisation's signature and the user's
// co-signed authorisation are plain Ed25519 signatures.
func ExampleService() {
	dir, _ := os.MkdirTemp("", "cosign-example")
	defer os.RemoveAll(dir)
	ca, _ := transport.NewCA("acme-ra")
	ra := &cosign.RA{CA: ca}
	org, err := cosign.InitService(filepath.Join(dir, "svc"), "acme", "acme.example/log", ra)
	if err != nil {
		log.Fatal(err)
	}
	svc, err := cosign.OpenService(filepath.Join(dir, "svc"), &cosign.ServiceConfig{RA: ra})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	// Alice's phone, authenticated as "alice" (over TLS in a deployment).
	tlsKey, _, _ := ed25519.GenerateKey(rand.Reader)
	phone := cosign.NewClient(svc.Local(cosign.Peer{Name: "alice", Key: tlsKey}))
	ctx := context.Background()
	cred, _, err := phone.Enrol(ctx, "alice", nil)
	if err != nil {
		log.Fatal(err)
	}
	doc := sha256.Sum256([]byte("acme buys 1000 widgets"))
	rc, err := phone.Sign(ctx, cred, doc, "supplier contract")
	if err != nil {
		log.Fatal(err)
	}
	auth := rc.Entries[0]
	msg, _ := auth.Message(svc.Log().Origin())
	fmt.Println("organisation signature:", ed25519.Verify(org.PublicKey.(ed25519.PublicKey), cosign.DocumentMessage(doc), rc.OrgSignature))
	fmt.Println("alice's authorisation:", auth.Kind, ed25519.Verify(cred.Cert.PublicKey.(ed25519.PublicKey), msg, auth.Signature))
	// Output:
	// organisation signature: true
	// alice's authorisation: authorisation true
}
