package idpay

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of [Config].
const (
	DefaultClockSkew     = 2 * time.Minute     // tolerated difference between clocks
	DefaultChallengeTTL  = 2 * time.Minute     // lifetime of a back-end challenge
	DefaultOfferMaxAge   = 5 * time.Minute     // age of an offline request a payer accepts
	DefaultReceiptMaxAge = 30 * 24 * time.Hour // age of an offline receipt the back end settles
)

// Config sets the time windows; nil or zero fields mean the defaults.
type Config struct {
	// ClockSkew is tolerated on both sides of every window: a
	// certificate is valid from NotBefore-ClockSkew to NotAfter+ClockSkew.
	ClockSkew time.Duration
	// ChallengeTTL is how long a back-end challenge may be answered.
	ChallengeTTL time.Duration
	// OfferMaxAge bounds the age of an offline payment request, and of
	// the payer's acceptance as seen by the payee.
	OfferMaxAge time.Duration
	// ReceiptMaxAge bounds the age of an offline receipt at settlement.
	ReceiptMaxAge time.Duration
	// RequireFreshList makes the back end refuse certificates of a
	// sub-domain for which it holds no revocation list before its
	// next-update (otherwise only short validity limits a stolen key).
	RequireFreshList bool
}

func (c *Config) withDefaults() Config {
	var v Config
	if c != nil {
		v = *c
	}
	if v.ClockSkew <= 0 {
		v.ClockSkew = DefaultClockSkew
	}
	if v.ChallengeTTL <= 0 {
		v.ChallengeTTL = DefaultChallengeTTL
	}
	if v.OfferMaxAge <= 0 {
		v.OfferMaxAge = DefaultOfferMaxAge
	}
	if v.ReceiptMaxAge <= 0 {
		v.ReceiptMaxAge = DefaultReceiptMaxAge
	}
	return v
}

// Trust is what a wallet or the back end knows in advance: each
// sub-domain's issuer public key and the newest revocation list seen. It is
// safe for concurrent use.
type Trust struct {
	cfg Config

	mu      sync.RWMutex
	issuers map[string]ed25519.PublicKey // sub-domain → issuer key
	byKeyID map[KeyID]string             // issuer key ID → sub-domain
	lists   map[string]*RevocationList
}

// NewTrust returns an empty trust store with cfg (nil means defaults).
func NewTrust(cfg *Config) *Trust {
	return &Trust{
		cfg:     cfg.withDefaults(),
		issuers: map[string]ed25519.PublicKey{},
		byKeyID: map[KeyID]string{},
		lists:   map[string]*RevocationList{},
	}
}

// Config returns the effective configuration.
func (t *Trust) Config() Config { return t.cfg }

// AddIssuer trusts pub as the issuer of subdomain, replacing any earlier key.
func (t *Trust) AddIssuer(subdomain string, pub ed25519.PublicKey) error {
	if err := checkID(subdomain, MaxSubdomainLen, "sub-domain"); err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: issuer key size %d", ErrInvalid, len(pub))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.issuers[subdomain]; ok {
		delete(t.byKeyID, IssuerKeyID(subdomain, old))
	}
	t.issuers[subdomain] = slices.Clone(pub)
	t.byKeyID[IssuerKeyID(subdomain, pub)] = subdomain
	return nil
}

// Issuer returns the trusted issuer key of subdomain, or nil.
func (t *Trust) Issuer(subdomain string) ed25519.PublicKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.issuers[subdomain]
}

// SetRevocationList verifies l with its sub-domain's issuer key and keeps it
// unless a list with a higher or equal number is already kept (an equal
// number with the same content is accepted again).
func (t *Trust) SetRevocationList(l *RevocationList) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	pub, ok := t.issuers[l.Subdomain]
	if !ok || l.IssuerKey != IssuerKeyID(l.Subdomain, pub) {
		return fmt.Errorf("revocation list of %q: %w", l.Subdomain, ErrUntrustedIssuer)
	}
	if !ed25519.Verify(pub, l.SignedMessage(), l.Signature) {
		return fmt.Errorf("revocation list of %q: %w", l.Subdomain, ErrBadSignature)
	}
	if old := t.lists[l.Subdomain]; old != nil && old.Number >= l.Number {
		if old.Number == l.Number && slices.Equal(old.Signature, l.Signature) {
			return nil
		}
		return fmt.Errorf("revocation list %d of %q, have %d: %w", l.Number, l.Subdomain, old.Number, ErrStaleList)
	}
	t.lists[l.Subdomain] = l
	return nil
}

// RevocationList returns the newest list kept for subdomain, or nil.
func (t *Trust) RevocationList(subdomain string) *RevocationList {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lists[subdomain]
}

// VerifyCertificate checks c at time now: its issuer is the trusted issuer
// of its sub-domain, the signature verifies, now is within its validity
// (with the clock-skew tolerance), and its serial is not on the newest
// revocation list of its sub-domain. With requireFresh (the back end's
// RequireFreshList) it also requires that list to be before its
// next-update. Refusals are [*CertificateError].
func (t *Trust) VerifyCertificate(c *Certificate, now time.Time) error {
	return t.verifyCertificate(c, now, "", t.cfg.RequireFreshList)
}

func (t *Trust) verifyCertificate(c *Certificate, now time.Time, role string, requireFresh bool) error {
	fail := func(err error) error {
		return &CertificateError{Role: role, Subdomain: c.Subdomain, User: c.User, Serial: c.Serial, Err: err}
	}
	t.mu.RLock()
	pub, ok := t.issuers[c.Subdomain]
	other, otherOK := t.byKeyID[c.IssuerKey]
	list := t.lists[c.Subdomain]
	t.mu.RUnlock()
	if !ok || c.IssuerKey != IssuerKeyID(c.Subdomain, pub) {
		if otherOK && other != c.Subdomain {
			return fail(fmt.Errorf("%w: signed by the issuer of %q", ErrWrongSubdomain, other))
		}
		return fail(ErrUntrustedIssuer)
	}
	if !ed25519.Verify(pub, c.SignedMessage(), c.Signature) {
		return fail(ErrBadSignature)
	}
	skew := t.cfg.ClockSkew
	if now.Before(c.NotBefore.Add(-skew)) {
		return fail(ErrNotYetValid)
	}
	if now.After(c.NotAfter.Add(skew)) {
		return fail(ErrExpired)
	}
	if list != nil && list.Revoked(c.Serial) {
		return fail(ErrRevoked)
	}
	if requireFresh && (list == nil || now.After(list.NextUpdate.Add(skew))) {
		return fail(ErrStaleList)
	}
	return nil
}
