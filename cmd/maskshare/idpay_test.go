package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestIdpayBackendCommand runs `maskshare idpay backend` with a revocation
// list from `idpay issue --revoke`: a payment from the revoked payer is
// refused (422, naming the revocation), one from a valid payer recorded,
// and the server stops when its context ends.
func TestIdpayBackendCommand(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	key := func(name string) string {
		out.Reset()
		must(idpayKeygen(&out, []string{"--out", p(name)}))
		return strings.TrimSpace(out.String())
	}
	shop, alice, bob, carol := key("shop.key"), key("alice.key"), key("bob.key"), key("carol.key")
	os.WriteFile(p("trust"), []byte("shop.example "+shop+"\n"), 0o644)
	for i, u := range []struct{ name, pub string }{{"alice", alice}, {"bob", bob}, {"carol", carol}} {
		must(idpayIssue(&out, []string{"--issuer-key", p("shop.key"), "--subdomain", "shop.example", "--user", u.name,
			"--pubkey", u.pub, "--serial", strconv.Itoa(i + 1), "--out", p(u.name + ".cert")}))
	}
	must(idpayIssue(&out, []string{"--revoke", "--issuer-key", p("shop.key"), "--subdomain", "shop.example", "--number", "1", "--serials", "2", "--out", p("crl")}))

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- idpayBackend(ctx, []string{"--listen", addr, "--db", p("backend.db"), "--trust", p("trust"), "--crl", p("crl")})
	}()
	url := "http://" + addr
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		} else if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	now := time.Now()
	pay := func(payer string) error {
		must(idpayRequest(&out, []string{"--key", p("alice.key"), "--cert", p("alice.cert"), "--amount", "5", "--currency", "EUR", "--out", p("req")}, now))
		out.Reset()
		return idpayPay(ctx, &out, nil, []string{"--key", p(payer + ".key"), "--cert", p(payer + ".cert"), "--trust", p("trust"), "--request", p("req.txt"), "--backend", url}, now)
	}
	if err := pay("bob"); err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked payer: %v", err)
	}
	if err := pay("carol"); err != nil || !strings.Contains(out.String(), "from shop.example/carol") {
		t.Fatalf("valid payer: %v %s", err, out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("backend: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not stop")
	}
}

// TestIdpayServerStalledBody: the back end's server closes a connection
// whose client sent its headers and then stalls its body, instead of
// holding it (and a goroutine) for ever. The server runs with a short
// timeout; the test waits for the close, not for a given time.
func TestIdpayServerStalledBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body) })
	srv := idpayServer(handler, 200*time.Millisecond)
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/payment HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
	// A generous bound, so that a server that never closes fails the test
	// rather than hanging it.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the server did not close the stalled connection: %v", err)
	}
}
