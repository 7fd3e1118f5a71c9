package idpay

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/internal/tooltest"
)

// TestOpenSSLVerifiesCertificate: a certificate's signature verifies with
// OpenSSL (`openssl pkeyutl -verify -rawin`) under the issuer key, over
// the documented message; an altered certificate does not.
func TestOpenSSLVerifiesCertificate(t *testing.T) {
	openssl := tooltest.Require(t, "openssl")
	f := newFixture(t, false)
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(f.shop.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	verify := func(c *Certificate) bool {
		os.WriteFile(filepath.Join(dir, "msg"), c.SignedMessage(), 0o600)
		os.WriteFile(filepath.Join(dir, "sig"), c.Signature, 0o600)
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return err == nil && strings.Contains(string(out), "Signature Verified Successfully")
	}
	c := f.alice.Certificate()
	if !verify(c) {
		t.Fatal("openssl refuses the certificate signature")
	}
	bad := *c
	bad.User = "mallory"
	if verify(&bad) {
		t.Fatal("openssl accepts an altered certificate")
	}
}
