package cosign

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/internal/tooltest"
)

// TestOpenSSLVerifies: OpenSSL, which this project did not write, checks
// the RA's certificate chain of a user and of the organisation (`openssl
// verify`), the user's co-signature of its authorisation entry and the
// organisation's signature of the document (`openssl pkeyutl -verify
// -rawin`, with the key taken from each certificate by `openssl x509
// -pubkey`); an altered signature and another document do not verify.
func TestOpenSSLVerifies(t *testing.T) {
	openssl := tooltest.Require(t, "openssl")
	e := newEnv(t)
	ctx := context.Background()
	cred := e.enrol(t, "alice")
	rc, err := e.client("alice").Sign(ctx, cred, doc("contract"), "openssl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	write("ca.pem", certPEM(e.ra.CA.Certificate))
	write("user.pem", certPEM(cred.Cert))
	write("org.pem", certPEM(e.svc.OrgCertificate()))
	for _, c := range []string{"user.pem", "org.pem"} {
		if out, err := run("verify", "-CAfile", "ca.pem", c); err != nil || !strings.Contains(out, ": OK") {
			t.Fatalf("openssl verify %s: %v: %s", c, err, out)
		}
		if out, err := run("x509", "-in", c, "-pubkey", "-noout", "-out", c+".pub"); err != nil {
			t.Fatalf("openssl x509 -pubkey: %v: %s", err, out)
		}
	}
	// A certificate from another CA does not verify.
	other := newEnv(t)
	write("other.pem", certPEM(other.svc.OrgCertificate()))
	if out, err := run("verify", "-CAfile", "ca.pem", "other.pem"); err == nil {
		t.Fatalf("openssl verifies a certificate of another RA: %s", out)
	}

	verify := func(pub string, msg, sig []byte) (bool, string) {
		write("msg", msg)
		write("sig", sig)
		out, err := run("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", "msg", "-sigfile", "sig")
		return err == nil && strings.Contains(out, "Signature Verified Successfully"), out
	}
	auth := rc.Entries[0]
	msg := mustMessage(t, auth, e.svc.Log().Origin())
	if ok, out := verify("user.pem.pub", msg, auth.Signature); !ok {
		t.Fatalf("openssl rejects the user's co-signature: %s", out)
	}
	bad := append([]byte{}, auth.Signature...)
	bad[10] ^= 1
	if ok, _ := verify("user.pem.pub", msg, bad); ok {
		t.Fatal("openssl accepts an altered co-signature")
	}
	if ok, out := verify("org.pem.pub", DocumentMessage(doc("contract")), rc.OrgSignature); !ok {
		t.Fatalf("openssl rejects the organisation's signature: %s", out)
	}
	if ok, _ := verify("org.pem.pub", DocumentMessage(doc("another contract")), rc.OrgSignature); ok {
		t.Fatal("openssl accepts the organisation's signature of another document")
	}
	// docs/CUSTODY.md's recipe, which makes the message with the shell
	// and openssl alone.
	if sh, err := exec.LookPath("sh"); err == nil {
		write("contract", []byte("contract"))
		write("contract.sig", rc.OrgSignature)
		cmd := exec.Command(sh, "-c", `{ printf 'maskshare/cosign/document/v1\0'; "$0" dgst -sha256 -binary contract; } > recipe.msg &&
			"$0" pkeyutl -verify -pubin -inkey org.pem.pub -rawin -in recipe.msg -sigfile contract.sig`, openssl)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
			t.Fatalf("the documented recipe: %v: %s", err, out)
		}
	}
}
