package custody

import (
	"crypto/hpke"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/internal/durable"
)

// Suite names an HPKE ciphersuite (RFC 9180 §7 identifiers). Only the suites
// in [Suites] are accepted anywhere: a decoder refuses any other, so an
// attacker cannot downgrade a node to a weaker KEM by naming one.
type Suite struct {
	KEM, KDF, AEAD uint16
}

// HPKE identifiers of the algorithms the accepted suites use
// (draft-ietf-hpke-pq for the KEM, RFC 9180 for the rest).
const (
	kemMLKEM768X25519    = 0x647a
	kdfHKDFSHA256        = 0x0001
	aeadAES256GCM        = 0x0002
	aeadChaCha20Poly1305 = 0x0003
)

// Sizes of the X-Wing (MLKEM768-X25519) KEM, draft-ietf-hpke-pq.
const (
	xwingPublicKeySize  = 1216
	xwingEncapsSize     = 1120
	xwingPrivateKeySize = 32 // the seed
)

// DefaultSuite is the hybrid post-quantum KEM MLKEM768-X25519 (X-Wing) with
// HKDF-SHA256 and ChaCha20Poly1305.
//
// The KEM stays secure if either ML-KEM-768 or X25519 does, so a slice sealed
// today is not opened by whoever records it and later builds a quantum
// computer. ChaCha20Poly1305 rather than AES-256-GCM: client nodes are
// users' phones and small machines, some without AES instructions, where a
// software AES is slow or leaks through cache timing; ChaCha20Poly1305 is
// constant time in plain software everywhere and its 256-bit key matches
// the KEM's post-quantum strength. AES-256-GCM is accepted as [SuiteAES]
// for nodes that prefer it.
var DefaultSuite = Suite{KEM: kemMLKEM768X25519, KDF: kdfHKDFSHA256, AEAD: aeadChaCha20Poly1305}

// SuiteAES is [DefaultSuite] with AES-256-GCM.
var SuiteAES = Suite{KEM: kemMLKEM768X25519, KDF: kdfHKDFSHA256, AEAD: aeadAES256GCM}

// Suites lists the accepted suites.
var Suites = []Suite{DefaultSuite, SuiteAES}

func (s Suite) String() string {
	return fmt.Sprintf("hpke(kem=%#04x,kdf=%#04x,aead=%#04x)", s.KEM, s.KDF, s.AEAD)
}

func (s Suite) check() error {
	for _, ok := range Suites {
		if s == ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %v", ErrUnsupportedSuite, s)
}

func (s Suite) primitives() (hpke.KEM, hpke.KDF, hpke.AEAD, error) {
	if err := s.check(); err != nil {
		return nil, nil, nil, err
	}
	kem, err := hpke.NewKEM(s.KEM)
	if err != nil {
		return nil, nil, nil, err
	}
	kdf, err := hpke.NewKDF(s.KDF)
	if err != nil {
		return nil, nil, nil, err
	}
	aead, err := hpke.NewAEAD(s.AEAD)
	if err != nil {
		return nil, nil, nil, err
	}
	return kem, kdf, aead, nil
}

func (s Suite) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, s.KEM)
	b = binary.BigEndian.AppendUint16(b, s.KDF)
	return binary.BigEndian.AppendUint16(b, s.AEAD)
}

func readSuite(b []byte) Suite {
	return Suite{binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[4:])}
}

const suiteSize = 6

// Format versions.
const (
	envelopeVersion   = 1
	publicKeyVersion  = 1
	privateKeyVersion = 1
)

// Limits.
const (
	// MaxPlaintext bounds what one envelope may carry: a slice is a few
	// scalars, an authorisation a few hundred bytes. It bounds what a
	// decoder allocates for a peer's envelope.
	MaxPlaintext = 64 << 10

	// aeadOverhead is the tag of both accepted AEADs.
	aeadOverhead = 16

	// EnvelopeOverhead is the size of an envelope beyond its plaintext:
	// version, suite, encapsulated key, tag.
	EnvelopeOverhead = 1 + suiteSize + xwingEncapsSize + aeadOverhead

	// MaxEnvelope bounds an encoded envelope.
	MaxEnvelope = EnvelopeOverhead + MaxPlaintext

	// PublicKeySize is the size of an encoded public key.
	PublicKeySize = 1 + suiteSize + xwingPublicKeySize
)

// PublicKey is a node's HPKE public key, with the suite it is used in.
type PublicKey struct {
	suite Suite
	k     hpke.PublicKey
}

// PrivateKey is a node's HPKE private key. It is made on the node
// ([GenerateKey]) and never leaves it.
type PrivateKey struct {
	suite Suite
	k     hpke.PrivateKey
	pub   *PublicKey
}

// GenerateKey makes a new key pair for suite (from crypto/rand).
func GenerateKey(suite Suite) (*PrivateKey, error) {
	kem, _, _, err := suite.primitives()
	if err != nil {
		return nil, err
	}
	k, err := kem.GenerateKey()
	if err != nil {
		return nil, err
	}
	return &PrivateKey{suite: suite, k: k, pub: &PublicKey{suite: suite, k: k.PublicKey()}}, nil
}

// Public returns the public key.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Suite returns the key's suite.
func (k *PrivateKey) Suite() Suite { return k.suite }

// Suite returns the key's suite.
func (p *PublicKey) Suite() Suite { return p.suite }

// Bytes encodes the public key: version (1) || suite (6: KEM, KDF, AEAD
// ids, big-endian) || the KEM's public key (1216 bytes for X-Wing).
func (p *PublicKey) Bytes() []byte {
	b := make([]byte, 0, PublicKeySize)
	b = append(b, publicKeyVersion)
	b = p.suite.append(b)
	return append(b, p.k.Bytes()...)
}

// Equal reports whether p and q are the same key in the same suite.
func (p *PublicKey) Equal(q *PublicKey) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.suite == q.suite && string(p.k.Bytes()) == string(q.k.Bytes())
}

// publicKeyPrefix marks the text form of a public key.
const publicKeyPrefix = "hpke1:"

// String returns the text form of the key: "hpke1:" and the unpadded
// base64url of [PublicKey.Bytes].
func (p *PublicKey) String() string {
	return publicKeyPrefix + base64.RawURLEncoding.EncodeToString(p.Bytes())
}

// ParsePublicKey decodes [PublicKey.Bytes].
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(b), PublicKeySize)
	}
	if b[0] != publicKeyVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadKey, b[0])
	}
	suite := readSuite(b[1:])
	kem, _, _, err := suite.primitives()
	if err != nil {
		return nil, err
	}
	k, err := kem.NewPublicKey(b[1+suiteSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return &PublicKey{suite: suite, k: k}, nil
}

// ParsePublicKeyString decodes [PublicKey.String], strictly.
func ParsePublicKeyString(s string) (*PublicKey, error) {
	enc, ok := strings.CutPrefix(s, publicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrBadKey, publicKeyPrefix)
	}
	if len(enc) != base64.RawURLEncoding.EncodedLen(PublicKeySize) {
		return nil, fmt.Errorf("%w: %d characters after the prefix, want %d", ErrBadKey, len(enc), base64.RawURLEncoding.EncodedLen(PublicKeySize))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != enc {
		return nil, fmt.Errorf("%w: not canonical base64url", ErrBadKey)
	}
	return ParsePublicKey(b)
}

// MarshalBinary encodes the private key: version (1) || suite (6) || the
// KEM's private key (the 32-byte seed for X-Wing). The result is secret.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	sk, err := k.k.Bytes()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+suiteSize+len(sk))
	b = append(b, privateKeyVersion)
	b = k.suite.append(b)
	b = append(b, sk...)
	clear(sk)
	return b, nil
}

// ParsePrivateKey decodes [PrivateKey.MarshalBinary].
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != 1+suiteSize+xwingPrivateKeySize {
		return nil, fmt.Errorf("%w: private key of %d bytes", ErrBadKey, len(b))
	}
	if b[0] != privateKeyVersion {
		return nil, fmt.Errorf("%w: private key version %d", ErrBadKey, b[0])
	}
	suite := readSuite(b[1:])
	kem, _, _, err := suite.primitives()
	if err != nil {
		return nil, err
	}
	k, err := kem.NewPrivateKey(b[1+suiteSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return &PrivateKey{suite: suite, k: k, pub: &PublicKey{suite: suite, k: k.PublicKey()}}, nil
}

// WritePrivateKeyFile writes k to a new file at path, mode 0600, synced to
// disk. It fails if the file exists: a node key is never replaced, since
// slices sealed to it would be lost.
func WritePrivateKeyFile(path string, k *PrivateKey) error {
	b, err := k.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	return durable.CreateFile(path, b, 0o600)
}

// ReadPrivateKeyFile reads a key written by [WritePrivateKeyFile], refusing
// a file that others may read.
func ReadPrivateKeyFile(path string) (*PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("custody: %s has mode %04o: a private key must be readable by its owner only", path, m)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte more than a key, so that a longer file is refused.
	b, err := io.ReadAll(io.LimitReader(f, 1+suiteSize+xwingPrivateKeySize+1))
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("custody: %s: %w", path, err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("custody: %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKey reads the node key at path, or makes one in suite and
// writes it there if there is none yet. created reports which.
func LoadOrCreateKey(path string, suite Suite) (k *PrivateKey, created bool, err error) {
	k, err = ReadPrivateKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if k, err = GenerateKey(suite); err != nil {
		return nil, false, err
	}
	if err = WritePrivateKeyFile(path, k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// Info builds the HPKE info string that binds an envelope to its context: a
// label naming the use, then the fields, each length-prefixed, so that no
// two different (label, fields) lists give the same bytes:
//
//	"maskshare/custody/v1" || u16 len(label) || label ||
//	u16 count || (u32 len(field) || field)...
//
// An envelope sealed with one Info opens only with the same Info. Info
// panics on a label or a field list longer than 65535 (bytes, entries),
// which only a programming error makes.
func Info(label string, fields ...[]byte) []byte {
	const prefix = "maskshare/custody/v1"
	if len(label) > 0xffff || len(fields) > 0xffff {
		panic("custody: Info label or field list too long")
	}
	n := len(prefix) + 2 + len(label) + 2
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	b = binfmt.AppendString16(b, label)
	b = binary.BigEndian.AppendUint16(b, uint16(len(fields)))
	for _, f := range fields {
		b = binfmt.AppendBytes32(b, f)
	}
	return b
}

// Envelope is a decoded sealed message.
//
// Encoding: version (1 byte, 1) || suite (6) || encapsulated key (1120 for
// X-Wing) || AEAD ciphertext (plaintext + 16-byte tag).
type Envelope struct {
	Suite      Suite
	Enc        []byte
	Ciphertext []byte
}

// ParseEnvelope decodes and validates an envelope's framing (not its
// content, which only [Open] can check).
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) < EnvelopeOverhead {
		return nil, fmt.Errorf("%w: %d bytes, less than the %d of an empty one", ErrBadEnvelope, len(b), EnvelopeOverhead)
	}
	if len(b) > MaxEnvelope {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadEnvelope, len(b), MaxEnvelope)
	}
	if b[0] != envelopeVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadEnvelope, b[0])
	}
	suite := readSuite(b[1:])
	if err := suite.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEnvelope, err)
	}
	rest := b[1+suiteSize:]
	return &Envelope{Suite: suite, Enc: rest[:xwingEncapsSize:xwingEncapsSize], Ciphertext: rest[xwingEncapsSize:]}, nil
}

// Bytes encodes e.
func (e *Envelope) Bytes() []byte {
	b := make([]byte, 0, 1+suiteSize+len(e.Enc)+len(e.Ciphertext))
	b = append(b, envelopeVersion)
	b = e.Suite.append(b)
	b = append(b, e.Enc...)
	return append(b, e.Ciphertext...)
}

// Seal encrypts plaintext to pub, bound to info (see [Info]), and returns
// the encoded envelope. Each call uses a fresh encapsulation (single-shot
// HPKE base mode).
func Seal(pub *PublicKey, info, plaintext []byte) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: nil public key", ErrBadKey)
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("custody: plaintext of %d bytes exceeds %d", len(plaintext), MaxPlaintext)
	}
	_, kdf, aead, err := pub.suite.primitives()
	if err != nil {
		return nil, err
	}
	ct, err := hpke.Seal(pub.k, kdf, aead, info, plaintext)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+suiteSize+len(ct))
	b = append(b, envelopeVersion)
	b = pub.suite.append(b)
	return append(b, ct...), nil
}

// Open decrypts an envelope made by [Seal] for priv's public key with the
// same info. Any mismatch (another recipient, another info, a modified
// byte) fails with [ErrOpen], without saying which.
func Open(priv *PrivateKey, info, envelope []byte) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrBadKey)
	}
	e, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if e.Suite != priv.suite {
		return nil, fmt.Errorf("%w: envelope for %v, key for %v", ErrOpen, e.Suite, priv.suite)
	}
	_, kdf, aead, err := priv.suite.primitives()
	if err != nil {
		return nil, err
	}
	pt, err := hpke.Open(priv.k, kdf, aead, info, envelope[1+suiteSize:])
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
