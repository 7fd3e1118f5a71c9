package custody

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/transport"
)

// Limits of an authorisation.
const (
	// MaxIDLen bounds a user or key identifier, in bytes.
	MaxIDLen = 128
	// MaxAuthorizedNodes bounds the node set of an authorisation.
	MaxAuthorizedNodes = 255
	// MaxAuthorizationLifetime bounds how far in the future an
	// authorisation may expire, as a node sees it. A node keeps every
	// accepted nonce until its authorisation expires, so this bounds the
	// nonce table by the rate of releases.
	MaxAuthorizationLifetime = 24 * time.Hour
	// NonceSize is the size of an authorisation's nonce.
	NonceSize = 16
	// MaxAuthorizationSize bounds an encoded authorisation.
	MaxAuthorizationSize = 1 + 2*(1+MaxIDLen) + 8 + PublicKeySize + 1 +
		MaxAuthorizedNodes*(1+transport.MaxNameLen) + 8 + NonceSize + ed25519.PublicKeySize + ed25519.SignatureSize
)

const (
	authorizationVersion = 1
	// authorizationContext prefixes the signed bytes, so that a signature
	// made for anything else by the same key never verifies here.
	authorizationContext = "maskshare/custody/authorisation/v1\x00"
)

// Authorization is an institution's statement that whoever holds the
// private key of Requester may obtain the slices of (UserID, KeyID) at
// Epoch from the listed Nodes (or any node, when Nodes is empty) until
// Expiry, once per node (Nonce).
type Authorization struct {
	UserID    string
	KeyID     string
	Epoch     uint64
	Requester *PublicKey
	Nodes     []string // empty: any node
	Expiry    time.Time
	Nonce     [NonceSize]byte

	// Issuer and Signature are set by [Authorization.Sign] and
	// [ParseAuthorization].
	Issuer    ed25519.PublicKey
	Signature []byte
}

// ValidID reports whether s can identify a user or a key: 1 to
// [MaxIDLen] bytes of UTF-8 without control characters.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// NewNonce returns a random nonce.
func NewNonce() ([NonceSize]byte, error) {
	var n [NonceSize]byte
	_, err := rand.Read(n[:])
	return n, err
}

func (a *Authorization) check() error {
	switch {
	case !ValidID(a.UserID):
		return fmt.Errorf("%w: user id %q", ErrBadAuthorization, a.UserID)
	case !ValidID(a.KeyID):
		return fmt.Errorf("%w: key id %q", ErrBadAuthorization, a.KeyID)
	case a.Requester == nil:
		return fmt.Errorf("%w: no requester key", ErrBadAuthorization)
	case len(a.Nodes) > MaxAuthorizedNodes:
		return fmt.Errorf("%w: %d nodes, more than %d", ErrBadAuthorization, len(a.Nodes), MaxAuthorizedNodes)
	case a.Expiry.Unix() <= 0:
		return fmt.Errorf("%w: no expiry", ErrBadAuthorization)
	}
	for _, n := range a.Nodes {
		if !transport.ValidName(n) {
			return fmt.Errorf("%w: node name %q", ErrBadAuthorization, n)
		}
	}
	return nil
}

// body encodes everything but the signature:
//
//	version (1) || u8 len || user id || u8 len || key id || u64 epoch ||
//	requester public key ([PublicKeySize]) || u8 node count ||
//	(u8 len || node name)... || u64 expiry (Unix seconds) || nonce (16) ||
//	issuer Ed25519 public key (32)
//
// Integers are big-endian.
func (a *Authorization) body(issuer ed25519.PublicKey) []byte {
	b := make([]byte, 0, MaxAuthorizationSize)
	b = append(b, authorizationVersion)
	b = binfmt.AppendString8(b, a.UserID)
	b = binfmt.AppendString8(b, a.KeyID)
	b = binary.BigEndian.AppendUint64(b, a.Epoch)
	b = append(b, a.Requester.Bytes()...)
	b = append(b, byte(len(a.Nodes)))
	for _, n := range a.Nodes {
		b = binfmt.AppendString8(b, n)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(a.Expiry.Unix()))
	b = append(b, a.Nonce[:]...)
	return append(b, issuer...)
}

func signedMessage(body []byte) []byte {
	return append([]byte(authorizationContext), body...)
}

// Sign signs a with the institution key priv and returns the encoding: the
// body (see the source) followed by the 64-byte Ed25519 signature of
// "maskshare/custody/authorisation/v1\x00" || body. It sets a.Issuer and
// a.Signature. Expiry is kept to the second.
func (a *Authorization) Sign(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: institution key of %d bytes", ErrBadKey, len(priv))
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	issuer := priv.Public().(ed25519.PublicKey)
	body := a.body(issuer)
	sig := ed25519.Sign(priv, signedMessage(body))
	a.Issuer, a.Signature = issuer, sig
	return append(body, sig...), nil
}

// ParseAuthorization decodes an authorisation made by [Authorization.Sign].
// It checks the encoding only; [Verifier.Verify] checks the signature and
// everything else.
func ParseAuthorization(b []byte) (*Authorization, error) {
	if len(b) > MaxAuthorizationSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadAuthorization, len(b), MaxAuthorizationSize)
	}
	r := binfmt.NewReader(b)
	if v := r.U8(); v != authorizationVersion && !r.Failed() {
		return nil, fmt.Errorf("%w: version %d", ErrBadAuthorization, v)
	}
	a := &Authorization{}
	a.UserID = r.String8()
	a.KeyID = r.String8()
	a.Epoch = r.U64()
	pk := r.Bytes(PublicKeySize)
	n := r.U8()
	if !r.Failed() {
		a.Nodes = make([]string, 0, n)
	}
	for range n {
		a.Nodes = append(a.Nodes, r.String8())
	}
	exp := r.U64()
	r.Fill(a.Nonce[:])
	a.Issuer = ed25519.PublicKey(r.Bytes(ed25519.PublicKeySize))
	a.Signature = r.Bytes(ed25519.SignatureSize)
	if r.Failed() {
		return nil, fmt.Errorf("%w: truncated", ErrBadAuthorization)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the signature", ErrBadAuthorization, r.Len())
	}
	if exp == 0 || exp > 1<<40 {
		return nil, fmt.Errorf("%w: expiry %d", ErrBadAuthorization, exp)
	}
	a.Expiry = time.Unix(int64(exp), 0)
	var err error
	if a.Requester, err = ParsePublicKey(pk); err != nil {
		return nil, fmt.Errorf("%w: requester key: %w", ErrBadAuthorization, err)
	}
	if len(a.Nodes) == 0 {
		a.Nodes = nil
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// Buckets a [Verifier] keeps its nonces in; list them in
// [StoreConfig.Buckets].
const (
	NonceBucket       = "custody.nonces"        // nonce -> u64 expiry
	NonceExpiryBucket = "custody.nonces.expiry" // u64 expiry || nonce -> empty
)

// Subject is what a node is asked to release, which an authorisation must
// name exactly.
type Subject struct {
	UserID, KeyID string
	Epoch         uint64
}

// Verifier checks authorisations at one node.
type Verifier struct {
	// Institutions are the trusted institutions' Ed25519 keys.
	Institutions []ed25519.PublicKey
	// Node is this node's name, checked against an authorisation's node
	// set.
	Node string
	// Store keeps the accepted nonces (buckets [NonceBucket] and
	// [NonceExpiryBucket]).
	Store *Store
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Verify decodes raw and accepts it for subject at this node, or says why
// not with an [*AuthorizationError]: the issuer must be one of the
// institutions, the signature must verify, the authorisation must name
// subject and this node (or any node), must not have expired nor expire
// more than [MaxAuthorizationLifetime] from now, and its nonce must be new
// to this node. The nonce is then recorded (durably) until the expiry, in
// the same transaction that checked it, so concurrent requests with one
// nonce succeed once.
func (v *Verifier) Verify(raw []byte, subject Subject) (*Authorization, error) {
	a, err := ParseAuthorization(raw)
	if err != nil {
		return nil, err
	}
	fail := func(err error, format string, args ...any) (*Authorization, error) {
		return nil, &AuthorizationError{UserID: subject.UserID, KeyID: subject.KeyID, Err: err, Detail: fmt.Sprintf(format, args...)}
	}
	trusted := false
	for _, k := range v.Institutions {
		if len(k) == ed25519.PublicKeySize && subtle.ConstantTimeCompare(k, a.Issuer) == 1 {
			trusted = true
		}
	}
	if !trusted {
		return fail(ErrUntrustedIssuer, "issuer %s", transport.FormatPublicKey(a.Issuer))
	}
	if !ed25519.Verify(a.Issuer, signedMessage(raw[:len(raw)-ed25519.SignatureSize]), a.Signature) {
		return fail(ErrBadSignature, "")
	}
	if a.UserID != subject.UserID || a.KeyID != subject.KeyID || a.Epoch != subject.Epoch {
		return fail(ErrWrongSubject, "authorises user %q, key %q, epoch %d; asked for epoch %d", a.UserID, a.KeyID, a.Epoch, subject.Epoch)
	}
	if a.Nodes != nil {
		listed := false
		for _, n := range a.Nodes {
			listed = listed || n == v.Node
		}
		if !listed {
			return fail(ErrWrongSubject, "node %q is not in the authorisation's node set", v.Node)
		}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	if !t.Before(a.Expiry) {
		return fail(ErrExpired, "expired at %s", a.Expiry.UTC().Format(time.RFC3339))
	}
	if a.Expiry.Sub(t) > MaxAuthorizationLifetime {
		return fail(ErrBadAuthorization, "expires at %s, more than %v from now", a.Expiry.UTC().Format(time.RFC3339), MaxAuthorizationLifetime)
	}
	if v.Store == nil {
		return nil, fmt.Errorf("custody: Verifier without a Store cannot refuse replays")
	}
	replayed := false
	err = v.Store.Update(func(tx *Tx) error {
		if err := purgeNonces(tx, t); err != nil {
			return err
		}
		if _, err := tx.Get(NonceBucket, a.Nonce[:]); err == nil {
			replayed = true
			return nil
		}
		exp := binary.BigEndian.AppendUint64(nil, uint64(a.Expiry.Unix()))
		if err := tx.Put(NonceBucket, a.Nonce[:], exp); err != nil {
			return err
		}
		return tx.Put(NonceExpiryBucket, append(exp, a.Nonce[:]...), nil)
	})
	if err != nil {
		return nil, err
	}
	if replayed {
		return fail(ErrReplay, "")
	}
	return a, nil
}

// purgeNonces forgets the nonces of expired authorisations, which Verify
// refuses anyway.
func purgeNonces(tx *Tx, now time.Time) error {
	var old [][]byte
	limit := uint64(now.Unix())
	stop := fmt.Errorf("stop")
	err := tx.ForEachPrefix(NonceExpiryBucket, nil, func(k, _ []byte) error {
		if len(k) != 8+NonceSize || binary.BigEndian.Uint64(k) >= limit || len(old) >= 1024 {
			return stop
		}
		old = append(old, k)
		return nil
	})
	if err != nil && err != stop {
		return err
	}
	for _, k := range old {
		if err := tx.Delete(NonceExpiryBucket, k); err != nil {
			return err
		}
		if err := tx.Delete(NonceBucket, k[8:]); err != nil {
			return err
		}
	}
	return nil
}
