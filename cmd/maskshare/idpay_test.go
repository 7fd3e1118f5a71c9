package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/maskshare/maskshare/custody/idpay"
)

// TestIdpayCLI runs the idpay subcommands as a user would: issuers and
// users make keys, the issuers certify the users, a payee shows an offline
// request, the payer signs back, the payee verifies and submits the
// receipt to a back end (once: the second submission is refused), and an
// online payment goes through the back end's HTTP API (once).
func TestIdpayCLI(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	run := func(fn func(*bytes.Buffer) error) string {
		t.Helper()
		var out bytes.Buffer
		if err := fn(&out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return out.String()
	}
	keygen := func(name string) string {
		return strings.TrimSpace(run(func(o *bytes.Buffer) error { return idpayKeygen(o, []string{"--out", p(name)}) }))
	}
	shopPub, bankPub := keygen("shop.key"), keygen("bank.key")
	alicePub, bobPub := keygen("alice.key"), keygen("bob.key")
	os.WriteFile(p("trust"), []byte("# issuers\nshop.example "+shopPub+"\nbank.example "+bankPub+"\n"), 0o644)
	run(func(o *bytes.Buffer) error {
		return idpayIssue(o, []string{"--issuer-key", p("shop.key"), "--subdomain", "shop.example", "--user", "alice", "--pubkey", alicePub, "--serial", "1", "--out", p("alice.cert")})
	})
	run(func(o *bytes.Buffer) error {
		return idpayIssue(o, []string{"--issuer-key", p("bank.key"), "--subdomain", "bank.example", "--user", "bob", "--pubkey", bobPub, "--serial", "1", "--out", p("bob.cert")})
	})
	if out := run(func(o *bytes.Buffer) error {
		return idpayVerify(context.Background(), o, []string{"--trust", p("trust"), "--cert", p("bob.cert")}, time.Now())
	}); !strings.Contains(out, "valid: bank.example/bob serial 1") {
		t.Fatalf("verify --cert: %s", out)
	}

	tr, err := idpayReadTrust(p("trust"), nil)
	if err != nil {
		t.Fatal(err)
	}
	be, err := idpay.OpenBackend(p("backend.db"), tr)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	srv := httptest.NewServer(idpayHandler(be, time.Now))
	defer srv.Close()

	// Offline.
	now := time.Now()
	run(func(o *bytes.Buffer) error {
		return idpayRequest(o, []string{"--key", p("alice.key"), "--cert", p("alice.cert"), "--amount", "300", "--currency", "EUR", "--offline", "--out", p("offer")}, now)
	})
	payer := []string{"--key", p("bob.key"), "--cert", p("bob.cert"), "--trust", p("trust"), "--request", p("offer.txt"), "--offline", "--out", p("acc")}
	var no bytes.Buffer
	if err := idpayPay(context.Background(), &no, strings.NewReader("n\n"), payer, now); err == nil || !strings.Contains(no.String(), "pay 300 EUR (minor units) to shop.example/alice? [y/N]") {
		t.Fatalf("declined payment: %v\n%s", err, no.String())
	}
	run(func(o *bytes.Buffer) error {
		return idpayPay(context.Background(), o, strings.NewReader("y\n"), payer, now)
	})
	out := run(func(o *bytes.Buffer) error {
		return idpayVerify(context.Background(), o, []string{"--key", p("alice.key"), "--cert", p("alice.cert"), "--trust", p("trust"),
			"--request", p("offer.txt"), "--acceptance", p("acc.txt"), "--out", p("alice.receipt")}, now)
	})
	if !strings.Contains(out, "paid by bank.example/bob") {
		t.Fatalf("verify: %s", out)
	}
	a, _ := os.ReadFile(p("alice.receipt"))
	b, _ := os.ReadFile(p("acc.receipt"))
	if !bytes.Equal(a, b) {
		t.Fatal("payer and payee keep different receipts")
	}
	submit := func(path string) (string, error) {
		var o bytes.Buffer
		err := idpayVerify(context.Background(), &o, []string{"--receipt", path, "--backend", srv.URL}, now)
		return o.String(), err
	}
	if out, err := submit(p("alice.receipt")); err != nil || !strings.Contains(out, "settled: offline payment") {
		t.Fatalf("settle: %v %s", err, out)
	}
	if _, err := submit(p("acc.receipt")); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second settlement: %v", err)
	}

	// Online.
	run(func(o *bytes.Buffer) error {
		return idpayRequest(o, []string{"--key", p("alice.key"), "--cert", p("alice.cert"), "--amount", "1250", "--currency", "EUR", "--out", p("req")}, now)
	})
	online := []string{"--key", p("bob.key"), "--cert", p("bob.cert"), "--trust", p("trust"), "--request", p("req.txt"), "--backend", srv.URL}
	if out := run(func(o *bytes.Buffer) error { return idpayPay(context.Background(), o, nil, online, now) }); !strings.Contains(out, "paid: online payment") {
		t.Fatalf("online: %s", out)
	}
	var o bytes.Buffer
	if err := idpayPay(context.Background(), &o, nil, online, now); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("second online payment of the same request: %v", err)
	}

	// A key file others can read is refused.
	os.Chmod(p("bob.key"), 0o644)
	if err := idpayPay(context.Background(), &o, nil, online, now); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("world-readable key: %v", err)
	}
}

// FuzzIdpayParseTrust: the trust-file parser never panics, and every
// issuer it accepts is a 32-byte key under a valid sub-domain.
func FuzzIdpayParseTrust(f *testing.F) {
	f.Add([]byte("# issuers\nshop.example " + strings.Repeat("ab", 32) + "\n"))
	f.Add([]byte("a b c\n"))
	f.Add([]byte("x " + strings.Repeat("0", 63)))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := idpayParseTrust(b, nil)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			if fs := strings.Fields(line); len(fs) == 2 && len(tr.Issuer(fs[0])) != 32 {
				t.Fatalf("issuer %q accepted without a 32-byte key", fs[0])
			}
		}
	})
}
