package transport

import (
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	id := p.ids["bank-1"]
	c := id.Certificate
	if id.Name != "bank-1" || c.Subject.CommonName != "bank-1" || !slices.Equal(c.DNSNames, []string{"bank-1"}) {
		t.Fatalf("names: %q %q %q", id.Name, c.Subject.CommonName, c.DNSNames)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Fatalf("IP SANs %v", c.IPAddresses)
	}
	if c.IsCA || !p.ca.Certificate.IsCA {
		t.Fatal("CA flags")
	}
	if !id.PublicKey().Equal(c.PublicKey) {
		t.Fatal("PublicKey does not match the certificate")
	}
	if got := time.Until(p.ca.Certificate.NotAfter); got < CAValidity-2*time.Hour {
		t.Fatalf("CA valid for %v", got)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: p.pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "bank-1"}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: p.pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "127.0.0.1"}); err != nil {
			t.Errorf("loopback, usage %v: %v", usage, err)
		}
	}
	other := newTestPKI(t)
	if _, err := c.Verify(x509.VerifyOptions{Roots: other.pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("verified against another CA")
	}
	if _, err := p.ca.Issue("bad name"); !errors.Is(err, ErrBadName) {
		t.Fatalf("Issue(bad name): %v", err)
	}
}

func TestValidName(t *testing.T) {
	good := []string{"a", "bank-1", "Bank_2.example", "coordinator", "x9"}
	bad := []string{"", "-a", "a-", ".a", "a b", "*", "é", "a/b", string(slices.Repeat([]byte("a"), MaxNameLen+1))}
	for _, n := range good {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range bad {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
}

func TestFiles(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	dir := t.TempDir()
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	cert, key := filepath.Join(dir, "bank.pem"), filepath.Join(dir, "bank.key")
	// A pre-existing, world-readable key file must not keep its mode.
	if err := os.WriteFile(key, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.ca.WriteFiles(caCert, caKey); err != nil {
		t.Fatal(err)
	}
	if err := p.ids["bank-1"].WriteFiles(cert, key); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{caKey, key} {
		fi, err := os.Stat(k)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", k, fi.Mode().Perm())
		}
	}
	id, err := LoadIdentity(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "bank-1" || !id.Certificate.Equal(p.ids["bank-1"].Certificate) || !id.PrivateKey.Equal(p.ids["bank-1"].PrivateKey) {
		t.Fatal("loaded identity differs")
	}
	pool, err := LoadCAPool(caCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.Certificate.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue("bank-2"); err != nil {
		t.Fatal(err)
	}
	// Mismatched key, leaf as CA pool, CA cert as identity.
	if _, err := LoadIdentity(cert, caKey); err == nil {
		t.Error("LoadIdentity accepted a key that does not match")
	}
	if _, err := LoadCAPool(cert); err == nil {
		t.Error("LoadCAPool accepted a leaf certificate")
	}
	if _, err := LoadIdentity(caCert, caKey); err == nil {
		t.Error("LoadIdentity accepted a CA certificate without DNS name")
	}
	if _, err := LoadCAPool(key); err == nil {
		t.Error("LoadCAPool accepted a key file")
	}
}
