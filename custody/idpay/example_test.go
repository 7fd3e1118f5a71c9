package idpay_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody/idpay"
)

// mustWallet makes a key on the "device" and has the issuer certify it.
func mustWallet(is *idpay.Issuer, trust *idpay.Trust, user string, now time.Time, serial uint64) *idpay.Wallet {
	pub, key, _ := ed25519.GenerateKey(nil)
	cert, err := is.Issue(user, pub, now.Add(-time.Hour), now.Add(24*time.Hour), serial)
	if err != nil {
		panic(err)
	}
	w, err := idpay.NewWallet(key, cert, trust)
	if err != nil {
		panic(err)
	}
	return w
}

// An online payment: the payee shows a request, the payer answers the back
// end's challenge, the back end records the payment once.
func Example_online() {
	now := time.Now()
	_, shopKey, _ := ed25519.GenerateKey(nil)
	_, bankKey, _ := ed25519.GenerateKey(nil)
	shop, _ := idpay.NewIssuer("shop.example", shopKey)
	bank, _ := idpay.NewIssuer("bank.example", bankKey)
	trust := idpay.NewTrust(nil) // what wallets and the back end know: the issuers' keys
	trust.AddIssuer(shop.Subdomain(), shop.PublicKey())
	trust.AddIssuer(bank.Subdomain(), bank.PublicKey())
	alice := mustWallet(shop, trust, "alice", now, 1)
	bob := mustWallet(bank, trust, "bob", now, 1)

	dir, _ := os.MkdirTemp("", "idpay")
	defer os.RemoveAll(dir)
	backend, err := idpay.OpenBackend(filepath.Join(dir, "backend.db"), trust)
	if err != nil {
		panic(err)
	}
	defer backend.Close()

	req, _ := alice.Request(idpay.Online, 1250, "EUR", now) // shown as a QR code
	ch, _ := backend.NewChallenge(context.Background(), now)
	pay, err := bob.Pay(req, ch, now)
	if err != nil {
		panic(err)
	}
	rec, err := backend.SubmitPayment(context.Background(), pay.Bytes(), now)
	if err != nil {
		panic(err)
	}
	fmt.Println("recorded:", rec.Amount, rec.Currency, "from", rec.Payer.User, "to", rec.Payee.User)
	_, err = backend.SubmitPayment(context.Background(), pay.Bytes(), now)
	fmt.Println("again:", errors.Is(err, idpay.ErrReplay))
	// Output:
	// recorded: 1250 EUR from bob to alice
	// again: true
}

// An offline payment: the payer checks the payee's signed request with the
// issuer's key alone, asks its user, and signs back; the receipt settles
// once, whoever submits it.
func Example_offline() {
	now := time.Now()
	_, shopKey, _ := ed25519.GenerateKey(nil)
	shop, _ := idpay.NewIssuer("shop.example", shopKey)
	trust := idpay.NewTrust(nil)
	trust.AddIssuer(shop.Subdomain(), shop.PublicKey())
	alice := mustWallet(shop, trust, "alice", now, 1)
	bob := mustWallet(shop, trust, "bob", now, 2)

	req, _ := alice.Request(idpay.Offline, 300, "EUR", now)
	acc, err := bob.Accept(req, now, func(r *idpay.Request) bool {
		fmt.Printf("pay %d %s to %s/%s? yes\n", r.Amount, r.Currency, r.Payee.Subdomain, r.Payee.User)
		return true
	})
	if err != nil {
		panic(err)
	}
	receipt, err := alice.Complete(req, acc, now)
	if err != nil {
		panic(err)
	}

	dir, _ := os.MkdirTemp("", "idpay")
	defer os.RemoveAll(dir)
	backend, _ := idpay.OpenBackend(filepath.Join(dir, "backend.db"), trust)
	defer backend.Close()
	later := now.Add(2 * time.Hour)
	rec, err := backend.SubmitReceipt(context.Background(), receipt.Bytes(), later)
	fmt.Println("payee submits:", rec.Amount, rec.Currency, err)
	_, err = backend.SubmitReceipt(context.Background(), receipt.Bytes(), later)
	fmt.Println("payer submits the same receipt:", errors.Is(err, idpay.ErrDuplicateReceipt))
	// Output:
	// pay 300 EUR to shop.example/alice? yes
	// payee submits: 300 EUR <nil>
	// payer submits the same receipt: true
}

func ExampleBase45Encode() {
	fmt.Println(idpay.Base45Encode([]byte("Hello!!")))
	// Output: %69 VD92EX0
}
