package idpay

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// KeyID names an issuer key: the first 8 bytes of SHA-256 over a context
// string, the sub-domain and the public key, so that one key ID belongs to
// one (sub-domain, key) pair.
type KeyID [KeyIDSize]byte

// IssuerKeyID returns the key ID of an issuer key for a sub-domain.
func IssuerKeyID(subdomain string, pub ed25519.PublicKey) KeyID {
	h := sha256.New()
	h.Write([]byte(sigContext + "issuer key id\x00"))
	h.Write(appendID(nil, subdomain))
	h.Write(pub)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// Certificate ties an Ed25519 public key to (sub-domain ID, user ID) for a
// validity period, signed by the sub-domain's issuer.
//
// Encoding (big-endian; the signature covers "maskshare/idpay/v1 C\x00"
// followed by every byte before it):
//
//	version   1  = 1
//	kind      1  = 'C'
//	subdomain 1+s  length, 1..32 bytes of printable ASCII
//	user      1+u  length, 1..64 bytes of printable ASCII
//	publicKey 32 Ed25519
//	notBefore 8  Unix seconds
//	notAfter  8  Unix seconds, > notBefore
//	serial    8
//	issuerKey 8  [KeyID] of the signing issuer key
//	signature 64 Ed25519
type Certificate struct {
	Subdomain string
	User      string
	PublicKey ed25519.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
	Serial    uint64
	IssuerKey KeyID
	Signature []byte
}

func (c *Certificate) appendBody(b []byte) []byte {
	b = append(b, Version, kindCertificate)
	b = appendID(b, c.Subdomain)
	b = appendID(b, c.User)
	b = append(b, c.PublicKey...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotAfter.Unix()))
	b = binary.BigEndian.AppendUint64(b, c.Serial)
	return append(b, c.IssuerKey[:]...)
}

// Bytes returns the certificate's encoding.
func (c *Certificate) Bytes() []byte {
	return append(c.appendBody(nil), c.Signature...)
}

// SignedMessage returns the exact message the issuer signed, for checking
// the signature with another Ed25519 implementation.
func (c *Certificate) SignedMessage() []byte {
	return signedMessage(kindCertificate, c.appendBody(nil))
}

// ParseCertificate decodes a certificate; it checks the encoding, not the
// signature or validity (see [Trust.VerifyCertificate]).
func ParseCertificate(b []byte) (*Certificate, error) {
	r := &reader{b: b}
	c := readCertificate(r)
	if err := r.end(); err != nil {
		return nil, err
	}
	return c, nil
}

func readCertificate(r *reader) *Certificate {
	r.header(kindCertificate)
	c := &Certificate{
		Subdomain: r.id(MaxSubdomainLen, "sub-domain"),
		User:      r.id(MaxUserLen, "user ID"),
		PublicKey: ed25519.PublicKey(r.bytes(ed25519.PublicKeySize, "public key")),
	}
	nb, na := r.u64("not-before"), r.u64("not-after")
	c.Serial = r.u64("serial")
	copy(c.IssuerKey[:], r.bytes(KeyIDSize, "issuer key ID"))
	c.Signature = r.bytes(ed25519.SignatureSize, "signature")
	if r.err != nil {
		return nil
	}
	if nb > 1<<62 || na > 1<<62 || na <= nb {
		r.fail("validity period")
		return nil
	}
	c.NotBefore, c.NotAfter = time.Unix(int64(nb), 0).UTC(), time.Unix(int64(na), 0).UTC()
	return c
}

// Issuer certifies users of one business sub-domain with its Ed25519 key.
type Issuer struct {
	subdomain string
	key       ed25519.PrivateKey
	id        KeyID
}

// NewIssuer returns the issuer of subdomain with key.
func NewIssuer(subdomain string, key ed25519.PrivateKey) (*Issuer, error) {
	if err := checkID(subdomain, MaxSubdomainLen, "sub-domain"); err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: issuer key size %d", ErrInvalid, len(key))
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Issuer{subdomain: subdomain, key: key, id: IssuerKeyID(subdomain, pub)}, nil
}

// String describes is by its sub-domain and key id, never its private
// key, so that printing or logging an issuer does not leak the key.
func (is *Issuer) String() string {
	return fmt.Sprintf("idpay.Issuer{%q, key %x}", is.subdomain, is.id[:])
}

// GoString is String.
func (is *Issuer) GoString() string { return is.String() }

// Subdomain returns the issuer's sub-domain ID.
func (is *Issuer) Subdomain() string { return is.subdomain }

// PublicKey returns the issuer's public key, which wallets and the back end
// configure in their [Trust].
func (is *Issuer) PublicKey() ed25519.PublicKey { return is.key.Public().(ed25519.PublicKey) }

// KeyID returns the issuer's key ID.
func (is *Issuer) KeyID() KeyID { return is.id }

// Issue certifies pub, made on the user's device, for user over
// [notBefore, notAfter] (truncated to seconds) with serial, which the
// issuer keeps unique so that revocation names one certificate.
func (is *Issuer) Issue(user string, pub ed25519.PublicKey, notBefore, notAfter time.Time, serial uint64) (*Certificate, error) {
	if err := checkID(user, MaxUserLen, "user ID"); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key size %d", ErrInvalid, len(pub))
	}
	nb, na := notBefore.Unix(), notAfter.Unix()
	if nb < 0 || na > 1<<62 || na <= nb {
		return nil, fmt.Errorf("%w: validity period %v to %v", ErrInvalid, notBefore, notAfter)
	}
	c := &Certificate{
		Subdomain: is.subdomain, User: user, PublicKey: slices.Clone(pub),
		NotBefore: time.Unix(nb, 0).UTC(), NotAfter: time.Unix(na, 0).UTC(),
		Serial: serial, IssuerKey: is.id,
	}
	c.Signature = ed25519.Sign(is.key, c.SignedMessage())
	return c, nil
}

// RevocationList is an issuer's signed list of revoked serials. Number
// increases with every list; a verifier refuses a list older than the one it
// has, and (in the back end) a list past NextUpdate.
//
// Encoding (signature over "maskshare/idpay/v1 L\x00" and every byte before
// it):
//
//	version    1 = 1
//	kind       1 = 'L'
//	subdomain  1+s
//	issuerKey  8
//	number     8
//	issuedAt   8 Unix seconds
//	nextUpdate 8 Unix seconds, > issuedAt
//	count      4 <= MaxRevoked
//	serials    8 each, strictly increasing
//	signature  64
type RevocationList struct {
	Subdomain  string
	IssuerKey  KeyID
	Number     uint64
	IssuedAt   time.Time
	NextUpdate time.Time
	Serials    []uint64 // sorted, distinct
	Signature  []byte
}

func (l *RevocationList) appendBody(b []byte) []byte {
	b = append(b, Version, kindRevocation)
	b = appendID(b, l.Subdomain)
	b = append(b, l.IssuerKey[:]...)
	b = binary.BigEndian.AppendUint64(b, l.Number)
	b = binary.BigEndian.AppendUint64(b, uint64(l.IssuedAt.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(l.NextUpdate.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Serials)))
	for _, s := range l.Serials {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	return b
}

// Bytes returns the list's encoding.
func (l *RevocationList) Bytes() []byte { return append(l.appendBody(nil), l.Signature...) }

// SignedMessage returns the exact message the issuer signed.
func (l *RevocationList) SignedMessage() []byte {
	return signedMessage(kindRevocation, l.appendBody(nil))
}

// Revoked reports whether serial is on the list.
func (l *RevocationList) Revoked(serial uint64) bool {
	_, ok := slices.BinarySearch(l.Serials, serial)
	return ok
}

// ParseRevocationList decodes a revocation list (not its signature).
func ParseRevocationList(b []byte) (*RevocationList, error) {
	r := &reader{b: b}
	r.header(kindRevocation)
	l := &RevocationList{Subdomain: r.id(MaxSubdomainLen, "sub-domain")}
	copy(l.IssuerKey[:], r.bytes(KeyIDSize, "issuer key ID"))
	l.Number = r.u64("number")
	ia, nu := r.u64("issued-at"), r.u64("next-update")
	n := r.u32("count")
	if r.err == nil && (n > MaxRevoked || int(n)*8 > len(b)-r.off) {
		r.fail("serial count")
	}
	if r.err == nil {
		l.Serials = make([]uint64, n)
		for i := range l.Serials {
			l.Serials[i] = r.u64("serial")
			if i > 0 && l.Serials[i] <= l.Serials[i-1] {
				r.fail("serials not strictly increasing")
			}
		}
	}
	l.Signature = r.bytes(ed25519.SignatureSize, "signature")
	if err := r.end(); err != nil {
		return nil, err
	}
	if ia > 1<<62 || nu > 1<<62 || nu <= ia {
		return nil, fmt.Errorf("%w: revocation list validity", ErrMalformed)
	}
	l.IssuedAt, l.NextUpdate = time.Unix(int64(ia), 0).UTC(), time.Unix(int64(nu), 0).UTC()
	return l, nil
}

// Revoke signs revocation list number, listing serials, issued at issuedAt
// and due to be replaced by nextUpdate.
func (is *Issuer) Revoke(number uint64, issuedAt, nextUpdate time.Time, serials []uint64) (*RevocationList, error) {
	s := slices.Clone(serials)
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) > MaxRevoked {
		return nil, fmt.Errorf("%w: %d serials (at most %d)", ErrInvalid, len(s), MaxRevoked)
	}
	ia, nu := issuedAt.Unix(), nextUpdate.Unix()
	if ia < 0 || nu > 1<<62 || nu <= ia {
		return nil, fmt.Errorf("%w: revocation list period", ErrInvalid)
	}
	l := &RevocationList{
		Subdomain: is.subdomain, IssuerKey: is.id, Number: number,
		IssuedAt: time.Unix(ia, 0).UTC(), NextUpdate: time.Unix(nu, 0).UTC(), Serials: s,
	}
	l.Signature = ed25519.Sign(is.key, l.SignedMessage())
	return l, nil
}
