// Command qrpay shows identity-key QR payments (custody/idpay) end to end:
// two issuers certify keys made on the users' phones; an online payment
// goes through the back end's challenge; an offline payment is signed back
// and forth by QR code and settled later, once. It writes every QR code as
// a PNG (and its base45 text) into -out.
//
//	go run ./examples/qrpay -out /tmp/qrpay
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody/idpay"
)

func main() {
	out := flag.String("out", "", "directory for the QR images and the back end's database (default: a new temporary directory)")
	flag.Parse()
	if *out == "" {
		d, err := os.MkdirTemp("", "qrpay")
		if err != nil {
			log.Fatal(err)
		}
		*out = d
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		log.Fatal(err)
	}
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

// writeQR writes payload as NAME.png and NAME.txt and returns what a
// scanner reading the code gives the other phone.
func writeQR(dir, name string, payload []byte) ([]byte, error) {
	c, err := idpay.QRCode(payload, idpay.DefaultLevel)
	if err != nil {
		return nil, err
	}
	img, err := c.PNG(6)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), img, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(c.Text), 0o644); err != nil {
		return nil, err
	}
	fmt.Printf("  %s.png: %d bytes, %d base45 characters, QR version %d-%v\n", name, len(payload), len(c.Text), c.Version, c.Level)
	return idpay.Base45Decode(c.Text)
}

func run(dir string) error {
	ctx := context.Background()
	now := time.Now()

	// Issuers, one per business sub-domain; wallets and the back end know
	// their public keys, nothing else.
	issuer := func(sub string) *idpay.Issuer {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		is, _ := idpay.NewIssuer(sub, k)
		return is
	}
	shop, bank := issuer("shop.example"), issuer("bank.example")
	trust := func() *idpay.Trust {
		t := idpay.NewTrust(nil)
		t.AddIssuer(shop.Subdomain(), shop.PublicKey())
		t.AddIssuer(bank.Subdomain(), bank.PublicKey())
		return t
	}
	// Each phone makes its key; the issuer certifies the public key only.
	wallet := func(is *idpay.Issuer, user string, serial uint64) (*idpay.Wallet, error) {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		cert, err := is.Issue(user, pub, now.Add(-time.Minute), now.Add(7*24*time.Hour), serial)
		if err != nil {
			return nil, err
		}
		return idpay.NewWallet(key, cert, trust())
	}
	alice, err := wallet(shop, "alice", 1)
	if err != nil {
		return err
	}
	bob, err := wallet(bank, "bob", 1)
	if err != nil {
		return err
	}
	backend, err := idpay.OpenBackend(filepath.Join(dir, "backend.db"), trust())
	if err != nil {
		return err
	}
	defer backend.Close()

	fmt.Println("online payment (embodiment 1):")
	req, err := alice.Request(idpay.Online, 1250, "EUR", now)
	if err != nil {
		return err
	}
	scanned, err := writeQR(dir, "online-request", req.Bytes())
	if err != nil {
		return err
	}
	q, err := idpay.ParseRequest(scanned)
	if err != nil {
		return err
	}
	ch, err := backend.NewChallenge(ctx, now)
	if err != nil {
		return err
	}
	pay, err := bob.Pay(q, ch, now)
	if err != nil {
		return err
	}
	if _, err := writeQR(dir, "online-payment", pay.Bytes()); err != nil {
		return err
	}
	rec, err := backend.SubmitPayment(ctx, pay.Bytes(), now)
	if err != nil {
		return err
	}
	fmt.Println("  back end recorded:", rec)
	if !ed25519.Verify(bob.Certificate().PublicKey, pay.SignedMessage(), pay.Signature) {
		return errors.New("crypto/ed25519 refuses the payment signature")
	}
	fmt.Println("  crypto/ed25519.Verify accepts the payer's signature")
	if _, err := backend.SubmitPayment(ctx, pay.Bytes(), now); errors.Is(err, idpay.ErrReplay) {
		fmt.Println("  the same payment again: refused as a replay")
	} else {
		return fmt.Errorf("replay not refused: %v", err)
	}

	fmt.Println("offline payment (embodiment 2):")
	offer, err := alice.Request(idpay.Offline, 300, "EUR", now)
	if err != nil {
		return err
	}
	scanned, err = writeQR(dir, "offline-request", offer.Bytes())
	if err != nil {
		return err
	}
	q, err = idpay.ParseRequest(scanned)
	if err != nil {
		return err
	}
	acc, err := bob.Accept(q, now, func(r *idpay.Request) bool {
		fmt.Printf("  bob's phone, offline, checked with the issuer key alone: pay %d %s to %s/%s? yes\n",
			r.Amount, r.Currency, r.Payee.Subdomain, r.Payee.User)
		return true
	})
	if err != nil {
		return err
	}
	scanned, err = writeQR(dir, "offline-acceptance", acc.Bytes())
	if err != nil {
		return err
	}
	a, err := idpay.ParseAcceptance(scanned)
	if err != nil {
		return err
	}
	payeeReceipt, err := alice.Complete(offer, a, now)
	if err != nil {
		return err
	}
	payerReceipt := &idpay.Receipt{Request: q, Acceptance: acc}
	fmt.Printf("  alice verified bob's acceptance; both keep a %d-byte receipt\n", len(payeeReceipt.Bytes()))
	later := now.Add(3 * time.Hour)
	rec, err = backend.SubmitReceipt(ctx, payeeReceipt.Bytes(), later)
	if err != nil {
		return err
	}
	fmt.Println("  reconnected, alice's receipt settles:", rec)
	if _, err := backend.SubmitReceipt(ctx, payerReceipt.Bytes(), later); errors.Is(err, idpay.ErrDuplicateReceipt) {
		fmt.Println("  bob's copy of the same receipt: already settled, not counted twice")
	} else {
		return fmt.Errorf("duplicate receipt not detected: %v", err)
	}
	fmt.Println("QR images in", dir)
	return nil
}
