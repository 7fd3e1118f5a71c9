package idpay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/maskshare/maskshare/custody"
)

var ctx = context.Background()

// TestOnlinePayment: a payment made by the two wallets is recorded once,
// with its details, and survives reopening the store.
func TestOnlinePayment(t *testing.T) {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 1250)
	rec, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Amount != 1250 || rec.Currency != "EUR" || rec.Payee.User != "alice" || rec.Payer.User != "bob" || rec.Mode != Online {
		t.Fatalf("record %v", rec)
	}
	got, err := f.backend.Lookup(p.Request.TxID)
	if err != nil || !bytes.Equal(got.Raw, p.Bytes()) {
		t.Fatalf("lookup: %v", err)
	}
}

// TestSignaturesVerifyWithCryptoEd25519: every signature in an online
// payment and an offline receipt verifies with crypto/ed25519 directly over
// the documented message (context string, kind, zero byte, body), and the
// body is the encoding without its last 64 bytes.
func TestSignaturesVerifyWithCryptoEd25519(t *testing.T) {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 5)
	rc := f.offlineReceipt(t, 7)
	check := func(name string, pub ed25519.PublicKey, kind byte, enc []byte) {
		t.Helper()
		body, sig := enc[:len(enc)-64], enc[len(enc)-64:]
		msg := append([]byte("maskshare/idpay/v1 "+string(kind)+"\x00"), body...)
		if !ed25519.Verify(pub, msg, sig) {
			t.Errorf("%s: crypto/ed25519 refuses the signature", name)
		}
		msg[len(msg)-1] ^= 1
		if ed25519.Verify(pub, msg, sig) {
			t.Errorf("%s: crypto/ed25519 accepts an altered message", name)
		}
	}
	check("payee certificate", f.shop.PublicKey(), 'C', p.Request.Payee.Bytes())
	check("payer certificate", f.bank.PublicKey(), 'C', p.Payer.Bytes())
	check("online request", f.alice.Certificate().PublicKey, 'R', p.Request.Bytes())
	check("payment", f.bob.Certificate().PublicKey, 'P', p.Bytes())
	check("offline request", f.alice.Certificate().PublicKey, 'R', rc.Request.Bytes())
	check("acceptance", f.bob.Certificate().PublicKey, 'A', rc.Acceptance.Bytes())
	l, err := f.shop.Revoke(1, t0, t0.Add(time.Hour), []uint64{9, 3})
	if err != nil {
		t.Fatal(err)
	}
	check("revocation list", f.shop.PublicKey(), 'L', l.Bytes())
}

// TestTamperedPaymentRefused: changing the amount, currency, payee,
// certificate or a signature in a signed payment makes the back end refuse
// it with ErrBadSignature (or a certificate error), and records nothing.
func TestTamperedPaymentRefused(t *testing.T) {
	f := newFixture(t, true)
	mallory, _ := f.wallet(t, f.shop, "mallory", t0.Add(-time.Hour), t0.Add(time.Hour))
	cases := []struct {
		name string
		edit func(p *Payment)
	}{
		{"amount", func(p *Payment) { p.Request.Amount++ }},
		{"currency", func(p *Payment) { p.Request.Currency = "USD" }},
		{"payee", func(p *Payment) { p.Request.Payee = mallory.Certificate() }},
		{"payee certificate validity", func(p *Payment) {
			c := *p.Request.Payee
			c.NotAfter = c.NotAfter.Add(time.Hour)
			p.Request.Payee = &c
		}},
		{"payer certificate user", func(p *Payment) {
			c := *p.Payer
			c.User = "carol"
			p.Payer = &c
		}},
		{"payer signature", func(p *Payment) { p.Signature = flip(p.Signature) }},
		{"payee signature", func(p *Payment) { p.Request.Signature = flip(p.Request.Signature) }},
		{"challenge", func(p *Payment) { p.Challenge[0] ^= 1 }},
		{"signed-at", func(p *Payment) { p.SignedAt = p.SignedAt.Add(time.Second) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.onlinePayment(t, 100)
			c.edit(p)
			_, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second))
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("got %v, want ErrBadSignature", err)
			}
			if _, err := f.backend.Lookup(p.Request.TxID); err == nil {
				t.Fatal("a refused payment was recorded")
			}
		})
	}
	// The payer's own wallet refuses a request whose amount was changed
	// after the payee signed it.
	q, _ := f.alice.Request(Online, 100, "EUR", t0)
	q.Amount = 1
	ch, _ := f.backend.NewChallenge(ctx, t0)
	if _, err := f.bob.Pay(q, ch, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("payer signed a tampered request: %v", err)
	}
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)/2] ^= 0x10
	return c
}

// TestWrongSubdomain: a certificate the shop's issuer signed for a user of
// the bank's sub-domain is refused as ErrWrongSubdomain; a certificate
// from an unknown issuer as ErrUntrustedIssuer.
func TestWrongSubdomain(t *testing.T) {
	f := newFixture(t, false)
	pub, _, _ := ed25519.GenerateKey(nil)
	// An issuer that claims the bank's sub-domain but holds the shop's key.
	rogue := &Issuer{subdomain: "bank.example", key: f.shop.key, id: f.shop.id}
	c, err := rogue.Issue("eve", pub, t0.Add(-time.Hour), t0.Add(time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	err = f.trust.VerifyCertificate(c, t0)
	var ce *CertificateError
	if !errors.Is(err, ErrWrongSubdomain) || !errors.As(err, &ce) || ce.User != "eve" {
		t.Fatalf("got %v, want ErrWrongSubdomain", err)
	}
	stranger := newIssuer(t, "shop.example")
	c, _ = stranger.Issue("eve", pub, t0.Add(-time.Hour), t0.Add(time.Hour), 1)
	if err := f.trust.VerifyCertificate(c, t0); !errors.Is(err, ErrUntrustedIssuer) {
		t.Fatalf("got %v, want ErrUntrustedIssuer", err)
	}
	other := newIssuer(t, "other.example")
	c, _ = other.Issue("eve", pub, t0.Add(-time.Hour), t0.Add(time.Hour), 1)
	if err := f.trust.VerifyCertificate(c, t0); !errors.Is(err, ErrUntrustedIssuer) {
		t.Fatalf("got %v, want ErrUntrustedIssuer", err)
	}
}

// TestClockSkewLimits: a certificate is accepted exactly up to ClockSkew
// before its not-before and after its not-after, and refused one second
// beyond; the same for a request's age and a challenge's expiry.
func TestClockSkewLimits(t *testing.T) {
	f := newFixture(t, true)
	skew := f.trust.Config().ClockSkew
	c := f.alice.Certificate()
	for _, tc := range []struct {
		at   time.Time
		want error
	}{
		{c.NotBefore.Add(-skew), nil},
		{c.NotBefore.Add(-skew - time.Second), ErrNotYetValid},
		{c.NotAfter.Add(skew), nil},
		{c.NotAfter.Add(skew + time.Second), ErrExpired},
	} {
		if err := f.trust.VerifyCertificate(c, tc.at); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("at %v: got %v, want %v", tc.at, err, tc.want)
		}
	}
	q, _ := f.alice.Request(Offline, 1, "EUR", t0)
	maxAge := f.trust.Config().OfferMaxAge
	for _, tc := range []struct {
		at   time.Time
		want error
	}{
		{t0.Add(maxAge + skew), nil},
		{t0.Add(maxAge + skew + time.Second), ErrStale},
		{t0.Add(-skew), nil},
		{t0.Add(-skew - time.Second), ErrStale},
	} {
		if err := f.bob.CheckRequest(q, Offline, tc.at); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("request checked at %v: got %v, want %v", tc.at, err, tc.want)
		}
	}
	// A challenge answered just after expiry plus skew is refused.
	q, _ = f.alice.Request(Online, 1, "EUR", t0)
	ch, _ := f.backend.NewChallenge(ctx, t0)
	late := ch.Expires.Add(skew + time.Second)
	p, err := f.bob.Pay(q, &Challenge{Value: ch.Value, Expires: late}, late) // a lying payer wallet
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), late); !errors.Is(err, ErrStale) {
		t.Fatalf("late challenge: got %v, want ErrStale", err)
	}
	if _, err := f.bob.Pay(q, ch, late); !errors.Is(err, ErrStale) {
		t.Fatalf("payer wallet answered an expired challenge: %v", err)
	}
}

// TestExpiredAndRevoked: the back end refuses a payment from an expired
// payer certificate and, after the issuer's revocation list names it,
// from a revoked payee certificate; an older list cannot undo it; a stale
// list is refused when RequireFreshList is set.
func TestExpiredAndRevoked(t *testing.T) {
	f := newFixture(t, true)
	carol, _ := f.wallet(t, f.bank, "carol", t0.Add(-48*time.Hour), t0.Add(-24*time.Hour))
	q, _ := f.alice.Request(Online, 10, "EUR", t0)
	ch, _ := f.backend.NewChallenge(ctx, t0)
	// Carol's own wallet still signs (its clock may be wrong); the back
	// end must refuse.
	p := &Payment{Request: q, Challenge: ch.Value, Payer: carol.Certificate(), SignedAt: t0}
	p.Signature = ed25519.Sign(carol.key, p.SignedMessage())
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired payer: got %v", err)
	}

	l1, _ := f.shop.Revoke(1, t0.Add(-time.Minute), t0.Add(time.Hour), []uint64{f.alice.Certificate().Serial})
	if err := f.backendTrust.SetRevocationList(l1); err != nil {
		t.Fatal(err)
	}
	p = f.onlinePayment(t, 10)
	_, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second))
	var ce *CertificateError
	if !errors.Is(err, ErrRevoked) || !errors.As(err, &ce) || ce.Role != "payee" {
		t.Fatalf("revoked payee: got %v", err)
	}
	l0, _ := f.shop.Revoke(0, t0.Add(-2*time.Minute), t0.Add(time.Hour), nil)
	if err := f.backendTrust.SetRevocationList(l0); !errors.Is(err, ErrStaleList) {
		t.Fatalf("older list accepted: %v", err)
	}
	forged := *l1
	forged.Serials = nil
	forged.Number = 2
	if err := f.backendTrust.SetRevocationList(&forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged list: %v", err)
	}
	// The payer's wallet, given the list, refuses too.
	if err := f.trust.SetRevocationList(l1); err != nil {
		t.Fatal(err)
	}
	if err := f.bob.CheckRequest(p.Request, Online, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("payer wallet: %v", err)
	}

	strict := newTrust(&Config{RequireFreshList: true}, f.shop, f.bank)
	if err := strict.SetRevocationList(l1); err != nil {
		t.Fatal(err)
	}
	if err := strict.VerifyCertificate(f.bob.Certificate(), t0); !errors.Is(err, ErrStaleList) {
		t.Fatalf("no list for the bank: %v", err)
	}
	lb, _ := f.bank.Revoke(1, t0, t0.Add(time.Hour), nil)
	if err := strict.SetRevocationList(lb); err != nil {
		t.Fatal(err)
	}
	if err := strict.VerifyCertificate(f.bob.Certificate(), t0); err != nil {
		t.Fatalf("fresh list: %v", err)
	}
	if err := strict.VerifyCertificate(f.bob.Certificate(), t0.Add(time.Hour+3*time.Minute)); !errors.Is(err, ErrStaleList) {
		t.Fatalf("list past next-update: %v", err)
	}
}

// TestReplayRefused: the same payment submitted twice, a second payment
// answering a used challenge, a second payment for a recorded transaction
// ID, and a challenge the back end never issued are refused with
// ErrReplay; so is a replay after the back end restarts (the state is in
// the store).
func TestReplayRefused(t *testing.T) {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 10)
	at := t0.Add(6 * time.Second)
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), at); err != nil {
		t.Fatal(err)
	}
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("same payment: %v", err)
	}
	// Same challenge, new request.
	q2, _ := f.alice.Request(Online, 10, "EUR", t0)
	p2, _ := f.bob.Pay(q2, &Challenge{Value: p.Challenge, Expires: t0.Add(time.Minute)}, at)
	if _, err := f.backend.SubmitPayment(ctx, p2.Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("used challenge: %v", err)
	}
	// Same transaction, fresh challenge.
	ch, _ := f.backend.NewChallenge(ctx, at)
	p3, _ := f.bob.Pay(p.Request, ch, at)
	if _, err := f.backend.SubmitPayment(ctx, p3.Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("recorded transaction: %v", err)
	}
	// A challenge never issued.
	p4, _ := f.bob.Pay(q2, &Challenge{Expires: t0.Add(time.Minute)}, at)
	if _, err := f.backend.SubmitPayment(ctx, p4.Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("unknown challenge: %v", err)
	}
	// After a restart.
	path := f.backend.store.Path()
	f.backend.Close()
	b, err := OpenBackend(path, f.backendTrust)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.SubmitPayment(ctx, p.Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("after restart: %v", err)
	}
	// The unused challenge of p3 still works for a new transaction.
	q5, _ := f.alice.Request(Online, 11, "EUR", t0)
	p5, _ := f.bob.Pay(q5, ch, at)
	if _, err := b.SubmitPayment(ctx, p5.Bytes(), at); err != nil {
		t.Fatalf("unused challenge after restart: %v", err)
	}
	if n, err := b.Prune(ch.Expires.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d challenges, %v; want 2 (the used one and the one of p3 and p5)", n, err)
	}
}

// TestOfflinePayment: the payer verifies the request with the issuer keys
// alone (a Trust with no back end), the user is asked, the payee verifies
// the acceptance, and both receipts settle once.
func TestOfflinePayment(t *testing.T) {
	f := newFixture(t, true)
	q, err := f.alice.Request(Offline, 420, "EUR", t0)
	if err != nil {
		t.Fatal(err)
	}
	// The payer only ever scanned the QR code's bytes.
	scanned, err := ParseRequest(q.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	if _, err := f.bob.Accept(scanned, t0, func(r *Request) bool { asked = r.String(); return false }); !errors.Is(err, ErrDeclined) {
		t.Fatalf("declined: %v", err)
	}
	if !bytes.Contains([]byte(asked), []byte("420 EUR")) || !bytes.Contains([]byte(asked), []byte("shop.example/alice")) {
		t.Fatalf("the user was shown %q", asked)
	}
	a, err := f.bob.Accept(scanned, t0, func(*Request) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ParseAcceptance(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	payeeReceipt, err := f.alice.Complete(q, a2, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	payerReceipt := &Receipt{Request: scanned, Acceptance: a}
	if !bytes.Equal(payeeReceipt.Bytes(), payerReceipt.Bytes()) {
		t.Fatal("the two sides keep different receipts")
	}
	at := t0.Add(3 * time.Hour)
	rec, err := f.backend.SubmitReceipt(ctx, payeeReceipt.Bytes(), at)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Amount != 420 || rec.Payer.User != "bob" || rec.Mode != Offline {
		t.Fatalf("record %v", rec)
	}
	again, err := f.backend.SubmitReceipt(ctx, payerReceipt.Bytes(), at)
	if !errors.Is(err, ErrDuplicateReceipt) || again == nil || again.TxID != q.TxID {
		t.Fatalf("second submission: %v", err)
	}
	n := 0
	f.backend.Records(func(*Record) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// TestOfflineRefusals: the payee refuses an acceptance of another request,
// a tampered or late acceptance; the payer refuses a request with a
// tampered amount, an online request, and an expired payee certificate.
func TestOfflineRefusals(t *testing.T) {
	f := newFixture(t, false)
	yes := func(*Request) bool { return true }
	q, _ := f.alice.Request(Offline, 5, "EUR", t0)
	bad := *q
	bad.Amount = 500
	if _, err := f.bob.Accept(&bad, t0, yes); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered amount: %v", err)
	}
	qon, _ := f.alice.Request(Online, 5, "EUR", t0)
	if _, err := f.bob.Accept(qon, t0, yes); !errors.Is(err, ErrMismatch) {
		t.Fatalf("online request accepted offline: %v", err)
	}
	if _, err := f.bob.Accept(q, f.alice.Certificate().NotAfter.Add(time.Hour), yes); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired payee: %v", err)
	}
	a, _ := f.bob.Accept(q, t0, yes)
	q2, _ := f.alice.Request(Offline, 5, "EUR", t0)
	if _, err := f.alice.Complete(q2, a, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("acceptance of another request: %v", err)
	}
	ta := *a
	ta.Signature = flip(a.Signature)
	if _, err := f.alice.Complete(q, &ta, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered acceptance: %v", err)
	}
	if _, err := f.alice.Complete(q, a, t0.Add(time.Hour)); !errors.Is(err, ErrStale) {
		t.Fatalf("late acceptance: %v", err)
	}
	if _, err := f.bob.Complete(q, a, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a wallet completed another's request: %v", err)
	}
}

// TestDoubleSpentReceipt: a payer that signs two acceptances of one
// request, or reuses its nonce in another transaction, is caught at
// settlement: only the first receipt is recorded.
func TestDoubleSpentReceipt(t *testing.T) {
	f := newFixture(t, true)
	yes := func(*Request) bool { return true }
	at := t0.Add(time.Hour)
	q, _ := f.alice.Request(Offline, 5, "EUR", t0)
	a1, _ := f.bob.Accept(q, t0, yes)
	a2, _ := f.bob.Accept(q, t0.Add(time.Second), yes)
	if _, err := f.backend.SubmitReceipt(ctx, (&Receipt{q, a1}).Bytes(), at); err != nil {
		t.Fatal(err)
	}
	if _, err := f.backend.SubmitReceipt(ctx, (&Receipt{q, a2}).Bytes(), at); !errors.Is(err, ErrDoubleSpend) {
		t.Fatalf("two acceptances of one transaction: %v", err)
	}
	// The same payer nonce in another transaction (a wallet that reuses
	// its randomness, or a forged replay of its acceptance fields).
	q3, _ := f.alice.Request(Offline, 6, "EUR", t0)
	a3 := &Acceptance{RequestHash: q3.Hash(), Payer: f.bob.Certificate(), PayerNonce: a1.PayerNonce, SignedAt: t0}
	a3.Signature = ed25519.Sign(f.bobKey, a3.SignedMessage())
	if _, err := f.backend.SubmitReceipt(ctx, (&Receipt{q3, a3}).Bytes(), at); !errors.Is(err, ErrDoubleSpend) {
		t.Fatalf("reused payer nonce: %v", err)
	}
	// An online transaction ID cannot be settled again offline.
	p := f.onlinePayment(t, 9)
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}
	qo := *p.Request
	qo.Mode = Offline
	qo.Signature = ed25519.Sign(f.aliceKey, qo.SignedMessage())
	ao, _ := f.bob.Accept(&qo, t0, yes)
	if _, err := f.backend.SubmitReceipt(ctx, (&Receipt{&qo, ao}).Bytes(), at); !errors.Is(err, ErrReplay) {
		t.Fatalf("online transaction settled offline: %v", err)
	}
	// A receipt whose payee was revoked since is refused at settlement;
	// one older than ReceiptMaxAge too.
	rc := f.offlineReceipt(t, 3)
	if _, err := f.backend.SubmitReceipt(ctx, rc.Bytes(), t0.Add(31*24*time.Hour)); !errors.Is(err, ErrStale) {
		t.Fatalf("old receipt: %v", err)
	}
	l, _ := f.shop.Revoke(1, t0, t0.Add(time.Hour), []uint64{f.alice.Certificate().Serial})
	f.backendTrust.SetRevocationList(l)
	if _, err := f.backend.SubmitReceipt(ctx, rc.Bytes(), at); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked payee at settlement: %v", err)
	}
}

// TestSelfPaymentRefused: a wallet cannot pay itself.
func TestSelfPaymentRefused(t *testing.T) {
	f := newFixture(t, true)
	q, _ := f.alice.Request(Online, 1, "EUR", t0)
	ch, _ := f.backend.NewChallenge(ctx, t0)
	if _, err := f.alice.Pay(q, ch, t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("got %v", err)
	}
}

// TestConcurrentSubmissions: the same payment submitted from 8 goroutines
// at once is recorded exactly once; the others get ErrReplay.
func TestConcurrentSubmissions(t *testing.T) {
	f := newFixture(t, true)
	p := f.onlinePayment(t, 77)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0.Add(6*time.Second))
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, ErrReplay):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d submissions accepted, want 1", ok)
	}
}

// TestChallengesDoNotAccumulate: asking for challenges (anyone may) stores
// nothing; only answered challenges are kept, and a later payment drops
// them once they have expired.
func TestChallengesDoNotAccumulate(t *testing.T) {
	f := newFixture(t, true)
	for i := range 1000 {
		if _, err := f.backend.NewChallenge(ctx, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.storedChallenges(t); n != 0 {
		t.Fatalf("%d challenges stored after asking for 1000, want 0", n)
	}
	f.pay(t, 1, t0) // one answered
	if n := f.storedChallenges(t); n != 1 {
		t.Fatalf("%d challenges stored after one payment, want 1", n)
	}
	later := t0.Add(DefaultChallengeTTL + DefaultClockSkew + time.Minute)
	f.pay(t, 2, later) // prunes the first
	if n := f.storedChallenges(t); n != 1 {
		t.Fatalf("%d challenges stored after a payment once the first expired, want 1", n)
	}
}

// TestChallengeForgeries: a challenge counts only as the back end issued
// it. One with its expiry moved, one with its MAC changed, one from
// another back end (another key) are refused as not issued here; an
// expired one as stale.
func TestChallengeForgeries(t *testing.T) {
	f := newFixture(t, true)
	other, err := OpenBackend(filepath.Join(t.TempDir(), "other.db"), f.backendTrust)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign, _ := other.NewChallenge(ctx, t0)
	for name, edit := range map[string]func(c *Challenge){
		"expiry moved":    func(c *Challenge) { c.Value[7]++ },
		"MAC changed":     func(c *Challenge) { c.Value[ChallengeSize-1] ^= 1 },
		"nonce changed":   func(c *Challenge) { c.Value[8] ^= 1 },
		"another backend": func(c *Challenge) { *c = *foreign },
	} {
		ch, _ := f.backend.NewChallenge(ctx, t0)
		edit(ch)
		q, _ := f.alice.Request(Online, 10, "EUR", t0)
		p, _ := f.bob.Pay(q, ch, t0)
		if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), t0); !errors.Is(err, ErrReplay) {
			t.Errorf("%s: %v, want ErrReplay", name, err)
		}
	}
	// Answered in time (the wallet refuses an expired challenge), submitted
	// once it has expired.
	p := f.onlinePayment(t, 10)
	late := t0.Add(DefaultChallengeTTL + DefaultClockSkew + time.Second)
	if _, err := f.backend.SubmitPayment(ctx, p.Bytes(), late); !errors.Is(err, ErrStale) {
		t.Errorf("expired challenge: %v, want ErrStale", err)
	}
}

// storedChallenges counts the back end's stored challenges.
func (f *fixture) storedChallenges(t *testing.T) int {
	t.Helper()
	n := 0
	err := f.backend.store.View(func(tx *custody.Tx) error {
		return tx.ForEachPrefix(bucketChallenges, nil, func(k, v []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
