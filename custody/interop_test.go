package custody

import (
	"bytes"
	"crypto/rand"
	"testing"

	circl "github.com/cloudflare/circl/hpke"
)

// circlSuite is s in cloudflare/circl's HPKE, an implementation this
// project did not write.
func circlSuite(t *testing.T, s Suite) circl.Suite {
	aead := circl.AEAD_ChaCha20Poly1305
	if s.AEAD == aeadAES256GCM {
		aead = circl.AEAD_AES256GCM
	}
	if s.KEM != uint16(circl.KEM_XWING) || s.KDF != uint16(circl.KDF_HKDF_SHA256) {
		t.Fatalf("suite %v is not X-Wing with HKDF-SHA256", s)
	}
	return circl.NewSuite(circl.KEM_XWING, circl.KDF_HKDF_SHA256, aead)
}

// TestInteropCircl checks the envelopes against cloudflare/circl's HPKE
// (RFC 9180 with X-Wing, KEM 0x647a): circl opens what Seal makes with the
// node's private key as its encoding gives it, and Open opens what circl
// seals to the node's encoded public key.
func TestInteropCircl(t *testing.T) {
	for _, s := range Suites {
		t.Run(s.String(), func(t *testing.T) {
			suite := circlSuite(t, s)
			k := mustKey(t, s)
			info := Info("interop", []byte("alice"), []byte("signing"))
			msg := []byte("a share for an independent implementation")

			// Ours to circl.
			env, err := Seal(k.Public(), info, msg)
			if err != nil {
				t.Fatal(err)
			}
			e, err := ParseEnvelope(env)
			if err != nil {
				t.Fatal(err)
			}
			skb, err := k.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			sk, err := circl.KEM_XWING.Scheme().UnmarshalBinaryPrivateKey(skb[1+suiteSize:])
			if err != nil {
				t.Fatal(err)
			}
			recv, err := suite.NewReceiver(sk, info)
			if err != nil {
				t.Fatal(err)
			}
			opener, err := recv.Setup(e.Enc)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := opener.Open(e.Ciphertext, nil)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("circl cannot open our envelope: %v", err)
			}

			// circl to ours.
			pk, err := circl.KEM_XWING.Scheme().UnmarshalBinaryPublicKey(k.Public().Bytes()[1+suiteSize:])
			if err != nil {
				t.Fatal(err)
			}
			send, err := suite.NewSender(pk, info)
			if err != nil {
				t.Fatal(err)
			}
			enc, sealer, err := send.Setup(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := sealer.Seal(msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			theirs := (&Envelope{Suite: s, Enc: enc, Ciphertext: ct}).Bytes()
			got, err := Open(k, info, theirs)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("we cannot open circl's envelope: %v", err)
			}
			// And circl's, bound to another info, does not open.
			if _, err := Open(k, Info("interop", []byte("bob"), []byte("signing")), theirs); err == nil {
				t.Fatal("circl's envelope opened with another info")
			}
		})
	}
}
