package idpay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"
)

// t0 is the fixed "now" of the tests; certificates are valid for a day
// around it.
var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

type fixture struct {
	shop, bank   *Issuer
	trust        *Trust
	alice, bob   *Wallet // alice (shop) is the payee, bob (bank) the payer
	aliceKey     ed25519.PrivateKey
	bobKey       ed25519.PrivateKey
	backend      *Backend
	nextSerial   uint64
	backendTrust *Trust
}

func newIssuer(t testing.TB, sub string) *Issuer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(sub, k)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func newTrust(cfg *Config, issuers ...*Issuer) *Trust {
	tr := NewTrust(cfg)
	for _, is := range issuers {
		if err := tr.AddIssuer(is.Subdomain(), is.PublicKey()); err != nil {
			panic(err)
		}
	}
	return tr
}

// wallet makes a key "on the device" and has is certify it.
func (f *fixture) wallet(t testing.TB, is *Issuer, user string, nb, na time.Time) (*Wallet, ed25519.PrivateKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.nextSerial++
	cert, err := is.Issue(user, pub, nb, na, f.nextSerial)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWallet(key, cert, f.trust)
	if err != nil {
		t.Fatal(err)
	}
	return w, key
}

func newFixture(t testing.TB, withBackend bool) *fixture {
	t.Helper()
	f := &fixture{shop: newIssuer(t, "shop.example"), bank: newIssuer(t, "bank.example")}
	f.trust = newTrust(nil, f.shop, f.bank)
	f.alice, f.aliceKey = f.wallet(t, f.shop, "alice", t0.Add(-12*time.Hour), t0.Add(12*time.Hour))
	f.bob, f.bobKey = f.wallet(t, f.bank, "bob", t0.Add(-12*time.Hour), t0.Add(12*time.Hour))
	if withBackend {
		f.backendTrust = newTrust(nil, f.shop, f.bank)
		b, err := OpenBackend(filepath.Join(t.TempDir(), "backend.db"), f.backendTrust)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		f.backend = b
	}
	return f
}

// onlinePayment runs the payee and payer sides of an online payment up to
// the submission.
func (f *fixture) onlinePayment(t testing.TB, amount uint64) *Payment {
	t.Helper()
	return f.onlinePaymentAt(t, amount, t0)
}

// onlinePaymentAt is onlinePayment with the request made at `at` and the
// payment 5 s later.
func (f *fixture) onlinePaymentAt(t testing.TB, amount uint64, at time.Time) *Payment {
	t.Helper()
	q, err := f.alice.Request(Online, amount, "EUR", at)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := f.backend.NewChallenge(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.bob.Pay(q, ch, at.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pay makes an online payment at `at` and has the back end record it.
func (f *fixture) pay(t testing.TB, amount uint64, at time.Time) {
	t.Helper()
	p := f.onlinePaymentAt(t, amount, at)
	if _, err := f.backend.SubmitPayment(context.Background(), p.Bytes(), at.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// offlineReceipt runs an offline payment to the payee's receipt.
func (f *fixture) offlineReceipt(t testing.TB, amount uint64) *Receipt {
	t.Helper()
	q, err := f.alice.Request(Offline, amount, "EUR", t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.bob.Accept(q, t0.Add(10*time.Second), func(*Request) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.alice.Complete(q, a, t0.Add(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
