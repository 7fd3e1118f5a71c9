package idpay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Mode says whether a payment request is for an online payment (the payer
// answers a back-end challenge) or an offline one (the payer answers the
// request's own nonce, and both sides keep receipts).
type Mode byte

const (
	Online  Mode = 1
	Offline Mode = 2
)

func (m Mode) String() string {
	switch m {
	case Online:
		return "online"
	case Offline:
		return "offline"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

// Request is what the payee's wallet shows in a QR code: its certificate,
// the amount, currency and a fresh transaction ID and nonce, signed by the
// payee. In an offline payment the nonce is the fresh challenge the payer
// signs back.
//
// Encoding (signature by the payee over "maskshare/idpay/v1 R\x00" and
// every byte before it):
//
//	version   1 = 1
//	kind      1 = 'R'
//	mode      1 = 1 online, 2 offline
//	payee     certificate encoding (self-delimiting)
//	amount    8 minor units, > 0
//	currency  3 letters A-Z
//	txID      16 random
//	nonce     16 random
//	createdAt 8 Unix seconds
//	signature 64
type Request struct {
	Mode      Mode
	Payee     *Certificate
	Amount    uint64
	Currency  string
	TxID      [TxIDSize]byte
	Nonce     [NonceSize]byte
	CreatedAt time.Time
	Signature []byte
}

func (q *Request) appendBody(b []byte) []byte {
	b = append(b, Version, kindRequest, byte(q.Mode))
	b = append(b, q.Payee.Bytes()...)
	b = binary.BigEndian.AppendUint64(b, q.Amount)
	b = append(b, q.Currency...)
	b = append(b, q.TxID[:]...)
	b = append(b, q.Nonce[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(q.CreatedAt.Unix()))
}

// Bytes returns the request's encoding.
func (q *Request) Bytes() []byte { return append(q.appendBody(nil), q.Signature...) }

// SignedMessage returns the exact message the payee signed.
func (q *Request) SignedMessage() []byte { return signedMessage(kindRequest, q.appendBody(nil)) }

// Hash is SHA-256 of the request's encoding: what an offline acceptance
// signs.
func (q *Request) Hash() [32]byte { return sha256.Sum256(q.Bytes()) }

func (q *Request) String() string {
	return fmt.Sprintf("%s payment of %d %s (minor units) to %s/%s, transaction %x",
		q.Mode, q.Amount, q.Currency, q.Payee.Subdomain, q.Payee.User, q.TxID)
}

// ParseRequest decodes a payment request (not its signatures).
func ParseRequest(b []byte) (*Request, error) {
	r := &reader{b: b}
	q := readRequest(r)
	if err := r.end(); err != nil {
		return nil, err
	}
	return q, nil
}

func readRequest(r *reader) *Request {
	r.header(kindRequest)
	q := &Request{Mode: Mode(r.u8("mode"))}
	if r.err == nil && q.Mode != Online && q.Mode != Offline {
		r.fail("mode")
	}
	q.Payee = readCertificate(r)
	q.Amount = r.u64("amount")
	q.Currency = string(r.bytes(3, "currency"))
	copy(q.TxID[:], r.bytes(TxIDSize, "transaction ID"))
	copy(q.Nonce[:], r.bytes(NonceSize, "nonce"))
	created := r.u64("created-at")
	q.Signature = r.bytes(ed25519.SignatureSize, "signature")
	if r.err != nil {
		return nil
	}
	if q.Amount == 0 {
		r.fail("zero amount")
	} else if checkCurrency(q.Currency) != nil {
		r.fail("currency")
	} else if created > 1<<62 {
		r.fail("created-at")
	}
	q.CreatedAt = time.Unix(int64(created), 0).UTC()
	return q
}

// Challenge is the back end's fresh random challenge for one online
// payment. It needs no signature: the back end accepts only challenges it
// stored itself, once.
//
// Encoding: version 1, kind 'H', challenge 32, expires 8 (Unix seconds).
type Challenge struct {
	Value   [ChallengeSize]byte
	Expires time.Time
}

// Bytes returns the challenge's encoding.
func (c *Challenge) Bytes() []byte {
	b := append([]byte{Version, kindChallenge}, c.Value[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(c.Expires.Unix()))
}

// ParseChallenge decodes a challenge.
func ParseChallenge(b []byte) (*Challenge, error) {
	r := &reader{b: b}
	r.header(kindChallenge)
	c := &Challenge{}
	copy(c.Value[:], r.bytes(ChallengeSize, "challenge"))
	exp := r.u64("expires")
	if err := r.end(); err != nil {
		return nil, err
	}
	if exp > 1<<62 {
		return nil, fmt.Errorf("%w: challenge expiry", ErrMalformed)
	}
	c.Expires = time.Unix(int64(exp), 0).UTC()
	return c, nil
}

// Payment is the payer's signed answer to an online request: the whole
// request, the back end's challenge, the payer's certificate and time.
//
// Encoding (signature by the payer over "maskshare/idpay/v1 P\x00" and
// every byte before it):
//
//	version   1 = 1
//	kind      1 = 'P'
//	request   request encoding (self-delimiting)
//	challenge 32
//	payer     certificate encoding
//	signedAt  8 Unix seconds
//	signature 64
type Payment struct {
	Request   *Request
	Challenge [ChallengeSize]byte
	Payer     *Certificate
	SignedAt  time.Time
	Signature []byte
}

func (p *Payment) appendBody(b []byte) []byte {
	b = append(b, Version, kindPayment)
	b = append(b, p.Request.Bytes()...)
	b = append(b, p.Challenge[:]...)
	b = append(b, p.Payer.Bytes()...)
	return binary.BigEndian.AppendUint64(b, uint64(p.SignedAt.Unix()))
}

// Bytes returns the payment's encoding.
func (p *Payment) Bytes() []byte { return append(p.appendBody(nil), p.Signature...) }

// SignedMessage returns the exact message the payer signed.
func (p *Payment) SignedMessage() []byte { return signedMessage(kindPayment, p.appendBody(nil)) }

// ParsePayment decodes an online payment (not its signatures).
func ParsePayment(b []byte) (*Payment, error) {
	if len(b) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	r := &reader{b: b}
	r.header(kindPayment)
	p := &Payment{Request: readRequest(r)}
	copy(p.Challenge[:], r.bytes(ChallengeSize, "challenge"))
	p.Payer = readCertificate(r)
	at := r.u64("signed-at")
	p.Signature = r.bytes(ed25519.SignatureSize, "signature")
	if err := r.end(); err != nil {
		return nil, err
	}
	if at > 1<<62 {
		return nil, fmt.Errorf("%w: signed-at", ErrMalformed)
	}
	p.SignedAt = time.Unix(int64(at), 0).UTC()
	return p, nil
}

// Acceptance is the payer's signed answer to an offline request: it signs
// the request's hash (so its amount, currency, payee, transaction ID and
// nonce) with the payer's certificate, a fresh payer nonce and the time.
//
// Encoding (signature by the payer over "maskshare/idpay/v1 A\x00" and
// every byte before it):
//
//	version     1 = 1
//	kind        1 = 'A'
//	requestHash 32 SHA-256 of the request encoding
//	payer       certificate encoding
//	payerNonce  16 random
//	signedAt    8 Unix seconds
//	signature   64
type Acceptance struct {
	RequestHash [32]byte
	Payer       *Certificate
	PayerNonce  [NonceSize]byte
	SignedAt    time.Time
	Signature   []byte
}

func (a *Acceptance) appendBody(b []byte) []byte {
	b = append(b, Version, kindAcceptance)
	b = append(b, a.RequestHash[:]...)
	b = append(b, a.Payer.Bytes()...)
	b = append(b, a.PayerNonce[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(a.SignedAt.Unix()))
}

// Bytes returns the acceptance's encoding.
func (a *Acceptance) Bytes() []byte { return append(a.appendBody(nil), a.Signature...) }

// SignedMessage returns the exact message the payer signed.
func (a *Acceptance) SignedMessage() []byte {
	return signedMessage(kindAcceptance, a.appendBody(nil))
}

// ParseAcceptance decodes an offline acceptance (not its signatures).
func ParseAcceptance(b []byte) (*Acceptance, error) {
	r := &reader{b: b}
	a := readAcceptance(r)
	if err := r.end(); err != nil {
		return nil, err
	}
	return a, nil
}

func readAcceptance(r *reader) *Acceptance {
	r.header(kindAcceptance)
	a := &Acceptance{}
	copy(a.RequestHash[:], r.bytes(32, "request hash"))
	a.Payer = readCertificate(r)
	copy(a.PayerNonce[:], r.bytes(NonceSize, "payer nonce"))
	at := r.u64("signed-at")
	a.Signature = r.bytes(ed25519.SignatureSize, "signature")
	if r.err == nil && at > 1<<62 {
		r.fail("signed-at")
	}
	a.SignedAt = time.Unix(int64(at), 0).UTC()
	return a
}

// Receipt is what payer and payee keep of an offline payment and submit
// to the back end when they reconnect.
//
// Encoding: version 1, kind 'T', request encoding, acceptance encoding.
type Receipt struct {
	Request    *Request
	Acceptance *Acceptance
}

// Bytes returns the receipt's encoding.
func (rc *Receipt) Bytes() []byte {
	b := append([]byte{Version, kindReceipt}, rc.Request.Bytes()...)
	return append(b, rc.Acceptance.Bytes()...)
}

// ParseReceipt decodes a receipt (not its signatures).
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	r := &reader{b: b}
	r.header(kindReceipt)
	rc := &Receipt{Request: readRequest(r)}
	rc.Acceptance = readAcceptance(r)
	if err := r.end(); err != nil {
		return nil, err
	}
	return rc, nil
}

// Wallet is a user's wallet: the private key made on the device, the
// certificate the sub-domain's issuer gave for it, and the trusted issuers.
type Wallet struct {
	key   ed25519.PrivateKey
	cert  *Certificate
	trust *Trust
}

// NewWallet returns a wallet; cert must certify key's public key.
func NewWallet(key ed25519.PrivateKey, cert *Certificate, trust *Trust) (*Wallet, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: key size %d", ErrInvalid, len(key))
	}
	if !bytes.Equal(key.Public().(ed25519.PublicKey), cert.PublicKey) {
		return nil, fmt.Errorf("%w: the certificate is for another key", ErrInvalid)
	}
	return &Wallet{key: key, cert: cert, trust: trust}, nil
}

// String describes w by its certificate's user, never its private key.
func (w *Wallet) String() string {
	return fmt.Sprintf("idpay.Wallet{%q@%q, serial %d}", w.cert.User, w.cert.Subdomain, w.cert.Serial)
}

// GoString is String.
func (w *Wallet) GoString() string { return w.String() }

// Certificate returns the wallet's certificate.
func (w *Wallet) Certificate() *Certificate { return w.cert }

// Request makes a signed payment request for amount (in minor units) of
// currency, with a fresh random transaction ID and nonce.
func (w *Wallet) Request(mode Mode, amount uint64, currency string, now time.Time) (*Request, error) {
	if mode != Online && mode != Offline {
		return nil, fmt.Errorf("%w: mode %d", ErrInvalid, mode)
	}
	if amount == 0 {
		return nil, fmt.Errorf("%w: zero amount", ErrInvalid)
	}
	if err := checkCurrency(currency); err != nil {
		return nil, err
	}
	q := &Request{Mode: mode, Payee: w.cert, Amount: amount, Currency: currency, CreatedAt: now.Truncate(time.Second).UTC()}
	rand.Read(q.TxID[:])
	rand.Read(q.Nonce[:])
	q.Signature = ed25519.Sign(w.key, q.SignedMessage())
	return q, nil
}

// CheckRequest is the payer's check of a scanned request, with the
// issuer's public key alone: the payee certificate is valid now, the
// request is signed by it, of the expected mode, and created within the
// last Config.OfferMaxAge (with the clock-skew tolerance).
func (w *Wallet) CheckRequest(q *Request, mode Mode, now time.Time) error {
	return w.trust.checkRequest(q, mode, now, false)
}

func (t *Trust) checkRequest(q *Request, mode Mode, now time.Time, requireFresh bool) error {
	if q.Mode != mode {
		return fmt.Errorf("%w: %s request, want %s", ErrMismatch, q.Mode, mode)
	}
	if err := t.verifyCertificate(q.Payee, now, "payee", requireFresh); err != nil {
		return err
	}
	if !ed25519.Verify(q.Payee.PublicKey, q.SignedMessage(), q.Signature) {
		return fmt.Errorf("payment request: %w", ErrBadSignature)
	}
	return t.checkWindow("payment request", q.CreatedAt, now, t.cfg.OfferMaxAge)
}

// checkWindow requires now-maxAge-skew <= at <= now+skew.
func (t *Trust) checkWindow(what string, at, now time.Time, maxAge time.Duration) error {
	skew := t.cfg.ClockSkew
	if at.After(now.Add(skew)) {
		return fmt.Errorf("%s made at %v, in the future at %v: %w", what, at, now, ErrStale)
	}
	if at.Before(now.Add(-maxAge - skew)) {
		return fmt.Errorf("%s made at %v, too old at %v: %w", what, at, now, ErrStale)
	}
	return nil
}

func (w *Wallet) checkNotSelf(payee *Certificate) error {
	if payee.Subdomain == w.cert.Subdomain && payee.User == w.cert.User {
		return fmt.Errorf("%w: payer and payee are the same user", ErrMismatch)
	}
	return nil
}

// Pay answers an online request with the back end's challenge, after
// checking the request as [Wallet.CheckRequest] does.
func (w *Wallet) Pay(q *Request, ch *Challenge, now time.Time) (*Payment, error) {
	if err := w.CheckRequest(q, Online, now); err != nil {
		return nil, err
	}
	if err := w.checkNotSelf(q.Payee); err != nil {
		return nil, err
	}
	if now.After(ch.Expires.Add(w.trust.cfg.ClockSkew)) {
		return nil, fmt.Errorf("challenge expired at %v: %w", ch.Expires, ErrStale)
	}
	p := &Payment{Request: q, Challenge: ch.Value, Payer: w.cert, SignedAt: now.Truncate(time.Second).UTC()}
	p.Signature = ed25519.Sign(w.key, p.SignedMessage())
	return p, nil
}

// Accept answers an offline request: it checks the request with the
// issuer's public key alone (as [Wallet.CheckRequest]), asks the user
// through confirm, and signs the request's hash with a fresh nonce.
func (w *Wallet) Accept(q *Request, now time.Time, confirm func(*Request) bool) (*Acceptance, error) {
	if err := w.CheckRequest(q, Offline, now); err != nil {
		return nil, err
	}
	if err := w.checkNotSelf(q.Payee); err != nil {
		return nil, err
	}
	if confirm == nil || !confirm(q) {
		return nil, ErrDeclined
	}
	a := &Acceptance{RequestHash: q.Hash(), Payer: w.cert, SignedAt: now.Truncate(time.Second).UTC()}
	rand.Read(a.PayerNonce[:])
	a.Signature = ed25519.Sign(w.key, a.SignedMessage())
	return a, nil
}

// Complete is the payee's check of the payer's acceptance of its own
// request q: it answers q, the payer's certificate is valid, the
// signature verifies, and it was made within Config.OfferMaxAge. It returns
// the receipt both sides keep.
func (w *Wallet) Complete(q *Request, a *Acceptance, now time.Time) (*Receipt, error) {
	if !bytes.Equal(q.Payee.Bytes(), w.cert.Bytes()) {
		return nil, fmt.Errorf("%w: the request is not this wallet's", ErrMismatch)
	}
	rc := &Receipt{Request: q, Acceptance: a}
	if err := w.trust.checkAcceptance(rc, now, false); err != nil {
		return nil, err
	}
	if err := w.trust.checkWindow("acceptance", a.SignedAt, now, w.trust.cfg.OfferMaxAge); err != nil {
		return nil, err
	}
	return rc, nil
}

// checkAcceptance checks what both the payee and the back end check of an
// offline receipt: the acceptance answers the request, both certificates
// were valid when the payer signed, both signatures verify, and the payer
// signed within OfferMaxAge of the request.
func (t *Trust) checkAcceptance(rc *Receipt, now time.Time, requireFresh bool) error {
	q, a := rc.Request, rc.Acceptance
	if q.Mode != Offline {
		return fmt.Errorf("%w: receipt of an %s request", ErrMismatch, q.Mode)
	}
	if h := q.Hash(); a.RequestHash != h {
		return fmt.Errorf("%w: the acceptance answers another request", ErrMismatch)
	}
	if a.SignedAt.After(now.Add(t.cfg.ClockSkew)) {
		return fmt.Errorf("acceptance signed at %v, in the future at %v: %w", a.SignedAt, now, ErrStale)
	}
	if err := t.verifyCertificate(q.Payee, a.SignedAt, "payee", false); err != nil {
		return err
	}
	if err := t.verifyCertificate(a.Payer, a.SignedAt, "payer", false); err != nil {
		return err
	}
	if requireFresh {
		// The back end refuses certificates revoked since, too.
		if err := t.verifyRevocation(q.Payee, now, "payee"); err != nil {
			return err
		}
		if err := t.verifyRevocation(a.Payer, now, "payer"); err != nil {
			return err
		}
	}
	if q.Payee.Subdomain == a.Payer.Subdomain && q.Payee.User == a.Payer.User {
		return fmt.Errorf("%w: payer and payee are the same user", ErrMismatch)
	}
	if !ed25519.Verify(q.Payee.PublicKey, q.SignedMessage(), q.Signature) {
		return fmt.Errorf("payment request: %w", ErrBadSignature)
	}
	if !ed25519.Verify(a.Payer.PublicKey, a.SignedMessage(), a.Signature) {
		return fmt.Errorf("acceptance: %w", ErrBadSignature)
	}
	return t.checkWindow("acceptance", a.SignedAt, q.CreatedAt.Add(t.cfg.OfferMaxAge), t.cfg.OfferMaxAge)
}

// verifyRevocation checks c against the current list, which must be fresh
// if the configuration requires it.
func (t *Trust) verifyRevocation(c *Certificate, now time.Time, role string) error {
	t.mu.RLock()
	list := t.lists[c.Subdomain]
	t.mu.RUnlock()
	var err error
	switch {
	case list != nil && list.Revoked(c.Serial):
		err = ErrRevoked
	case t.cfg.RequireFreshList && (list == nil || now.After(list.NextUpdate.Add(t.cfg.ClockSkew))):
		err = ErrStaleList
	}
	if err != nil {
		return &CertificateError{Role: role, Subdomain: c.Subdomain, User: c.User, Serial: c.Serial, Err: err}
	}
	return nil
}
