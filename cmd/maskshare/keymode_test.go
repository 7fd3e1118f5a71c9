package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maskshare/maskshare/transport"
)

// TestCustodyKeyModes: the cosign client, the cosign RA and the wallet's
// device key refuse a private key file others can read (mode 0644), as the
// data-sharing commands do, before using it.
func TestCustodyKeyModes(t *testing.T) {
	dir := t.TempDir()
	ca, err := transport.NewCA("test-ra")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteFiles(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue("alice")
	if err != nil {
		t.Fatal(err)
	}
	key, cert := filepath.Join(dir, "alice.key"), filepath.Join(dir, "alice.crt")
	if err := id.WriteFiles(cert, key); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(dir, "msg")
	if err := os.WriteFile(msg, []byte("pay 10"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{key, filepath.Join(dir, "ca.key")} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "0644") {
			t.Errorf("%s with a key file of mode 0644: %v", what, err)
		}
	}
	cf := clientFlags{service: "cosign=127.0.0.1:1", key: key, cert: cert, ca: filepath.Join(dir, "ca.crt")}
	_, _, err = cf.dial(context.Background())
	refused("cosign client", err)
	_, err = loadRA(dir)
	refused("cosign RA", err)
	err = runWallet(context.Background(), io.Discard, []string{"authorize", "--dir", filepath.Join(dir, "holder"),
		"--account", "acct", "--message-file", msg, "--device-key", key, "--device-cert", cert,
		"--code", "123456", "--nodes", "a,b", "--out", filepath.Join(dir, "auth")})
	refused("wallet authorize", err)
}
