package frost_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/maskshare/maskshare/frost"
)

// A 2-of-3 Ed25519 key made by COCKTAIL-DKG: nobody ever holds the key.
// The coordinator only relays; every participant ends with its key share,
// the same public key package and the same success certificate, which an
// auditor checks later. Then signers 1 and 3 sign.
func ExampleDKGParticipant() {
	const n, t = 3, 2
	cfg := &frost.DKGConfig{Suite: frost.Ed25519, Threshold: t}
	static := make([]*frost.DKGStaticKey, n)
	for i := range static {
		static[i], _ = frost.NewDKGStaticKey(frost.Ed25519)
		cfg.StaticKeys = append(cfg.StaticKeys, static[i].PublicKey())
	}
	sessionID := make([]byte, 32)
	rand.Read(sessionID)
	cfg.Context = frost.DKGContext(frost.Ed25519, sessionID, cfg.StaticKeys)

	coord, err := frost.NewDKGCoordinator(cfg)
	if err != nil {
		log.Fatal(err)
	}
	parts := make([]*frost.DKGParticipant, n)
	for i := range parts {
		parts[i], _ = frost.NewDKGParticipant(cfg, uint16(i+1), static[i])
		m, _ := parts[i].Round1()
		if err := coord.AddRound1(m); err != nil {
			log.Fatal(err)
		}
	}
	round2, _ := coord.Round2()
	for i, p := range parts {
		sig, err := p.Round2(round2[i])
		if err != nil {
			log.Fatal(err)
		}
		coord.AddSignature(sig)
	}
	sigs, _ := coord.Signatures()
	res := make([]*frost.DKGResult, n)
	for i, p := range parts {
		if res[i], err = p.Finish(sigs); err != nil {
			log.Fatal(err)
		}
	}

	// An auditor, later, from the certificate alone.
	cert, _ := frost.UnmarshalDKGCertificate(res[1].Certificate.Marshal())
	auditPub, _ := cert.PublicKeyPackage()
	fmt.Println("certificate valid:", cert.Verify() == nil)
	fmt.Println("same group key:", bytes.Equal(auditPub.GroupKey(), res[0].PublicKey.GroupKey()))

	msg := []byte("pay 10 to bob")
	n1, c1, _ := frost.Commit(res[0].KeyShare)
	n3, c3, _ := frost.Commit(res[2].KeyShare)
	pkg, _ := frost.NewSigningPackage(msg, []*frost.SigningCommitments{c1, c3})
	s1, _ := frost.Sign(res[0].KeyShare, n1, pkg)
	s3, _ := frost.Sign(res[2].KeyShare, n3, pkg)
	sig, _ := frost.Aggregate(res[0].PublicKey, pkg, []*frost.SignatureShare{s1, s3})
	fmt.Println("crypto/ed25519 verifies:", ed25519.Verify(auditPub.GroupKey(), msg, sig))
	// Output:
	// certificate valid: true
	// same group key: true
	// crypto/ed25519 verifies: true
}
