package frost

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/internal/tooltest"
)

// TestOpenSSLVerifies: group signatures of a 2-of-3 and a 3-of-5 Ed25519 key
// verify with OpenSSL (`openssl pkeyutl -verify -rawin`), a verifier this
// project did not write; an altered signature and another message do not.
func TestOpenSSLVerifies(t *testing.T) {
	openssl := tooltest.Require(t, "openssl")
	dir := t.TempDir()
	verify := func(pubKey, msg, sig []byte) (bool, string) {
		der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pubKey))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			"pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			"msg":     msg,
			"sig":     sig,
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return err == nil && strings.Contains(string(out), "Signature Verified Successfully"), string(out)
	}
	for _, tn := range [][2]int{{2, 3}, {3, 5}} {
		pub, keys, err := Deal(Ed25519, nil, tn[0], idsUpTo(tn[1]))
		if err != nil {
			t.Fatal(err)
		}
		who := []int{0, 2, 4}[:tn[0]]
		// Not the empty message: OpenSSL 3.0's pkeyutl -rawin cannot read
		// an empty file ("Could not allocate 0 bytes").
		for _, msg := range [][]byte{[]byte("pay 10 to bob"), {0}, make([]byte, 1000)} {
			p, shares := signWith(t, keys, who, msg)
			sig, err := Aggregate(pub, p, shares)
			if err != nil {
				t.Fatal(err)
			}
			if ok, out := verify(pub.GroupKey(), msg, sig); !ok {
				t.Fatalf("openssl rejects a %d-of-%d group signature: %s", tn[0], tn[1], out)
			}
			bad := append([]byte(nil), sig...)
			bad[40] ^= 1
			if ok, _ := verify(pub.GroupKey(), msg, bad); ok {
				t.Fatal("openssl accepts an altered signature")
			}
			if ok, _ := verify(pub.GroupKey(), append(msg, '!'), sig); ok {
				t.Fatal("openssl accepts the signature on another message")
			}
		}
	}
}
