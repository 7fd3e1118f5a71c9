package idpay

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// The payment benchmarks beside crypto/ed25519 in the same run: a payment
// signature is one Ed25519 signature over about 450 bytes; verifying it at
// the back end is four Ed25519 verifications (two certificates, request,
// payment).

func BenchmarkEd25519Sign(b *testing.B) {
	_, k, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 450)
	for b.Loop() {
		ed25519.Sign(k, msg)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, k, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 450)
	sig := ed25519.Sign(k, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
}

// BenchmarkPaySign: the payer's wallet checks the request (certificate and
// request signature) and signs the payment.
func BenchmarkPaySign(b *testing.B) {
	f := newFixture(b, true)
	q, _ := f.alice.Request(Online, 1250, "EUR", t0)
	ch, _ := f.backend.NewChallenge(ctx, t0)
	for b.Loop() {
		if _, err := f.bob.Pay(q, ch, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayVerify: the back end's checks of an online payment without
// the store write (parse, two certificates, two signatures, windows).
func BenchmarkPayVerify(b *testing.B) {
	f := newFixture(b, true)
	p := f.onlinePayment(b, 1250)
	raw := p.Bytes()
	tr := f.backendTrust
	now := t0.Add(6 * time.Second)
	for b.Loop() {
		p, err := ParsePayment(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.checkRequest(p.Request, Online, now, false); err != nil {
			b.Fatal(err)
		}
		if err := tr.verifyCertificate(p.Payer, now, "payer", false); err != nil {
			b.Fatal(err)
		}
		if !ed25519.Verify(p.Payer.PublicKey, p.SignedMessage(), p.Signature) {
			b.Fatal("signature")
		}
	}
}

// BenchmarkOfflineAccept: the payer's offline check and signature.
func BenchmarkOfflineAccept(b *testing.B) {
	f := newFixture(b, false)
	q, _ := f.alice.Request(Offline, 1250, "EUR", t0)
	yes := func(*Request) bool { return true }
	for b.Loop() {
		if _, err := f.bob.Accept(q, t0, yes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQREncode: base45 and QR encoding of an offline request at level
// M, rendered as PNG at 4 pixels per module.
func BenchmarkQREncode(b *testing.B) {
	f := newFixture(b, false)
	q, _ := f.alice.Request(Offline, 1250, "EUR", t0)
	raw := q.Bytes()
	for b.Loop() {
		c, err := QRCode(raw, M)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.PNG(4); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQRRender: the PNG rendering alone (the rest of QREncode is the
// encoder's mask search).
func BenchmarkQRRender(b *testing.B) {
	f := newFixture(b, false)
	q, _ := f.alice.Request(Offline, 1250, "EUR", t0)
	c, _ := QRCode(q.Bytes(), M)
	for b.Loop() {
		if _, err := c.PNG(4); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQRDecode: gozxing reads the PNG of an offline request at level M
// and base45 decodes it.
func BenchmarkQRDecode(b *testing.B) {
	f := newFixture(b, false)
	q, _ := f.alice.Request(Offline, 1250, "EUR", t0)
	c, _ := QRCode(q.Bytes(), M)
	img, _ := c.PNG(4)
	for b.Loop() {
		if _, err := Base45Decode(decodeGo(b, img)); err != nil {
			b.Fatal(err)
		}
	}
}
