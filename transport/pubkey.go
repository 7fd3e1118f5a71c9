package transport

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// publicKeyPrefix names the algorithm of a public key string, so that a key
// of another kind can never be mistaken for one.
const publicKeyPrefix = "ed25519:"

// FormatPublicKey returns the text form of an Ed25519 public key:
// "ed25519:" followed by the unpadded standard base64 of its 32 bytes. This
// is what institutions exchange and pin in their configurations; as with
// WireGuard and SSH keys, the key is its own identifier, short enough to
// paste and compare whole.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return publicKeyPrefix + base64.RawStdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses the text form made by [FormatPublicKey]. It is
// strict: the prefix, the length and the base64 must be exactly as
// FormatPublicKey writes them (no padding, spaces, line breaks or
// non-zero trailing bits), so that every key has one spelling and two
// spellings never name the same key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	enc, ok := strings.CutPrefix(s, publicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: %s does not start with %q", ErrBadPublicKey, quoteKey(s), publicKeyPrefix)
	}
	if len(enc) != base64.RawStdEncoding.EncodedLen(ed25519.PublicKeySize) {
		return nil, fmt.Errorf("%w: %s is not %d base64 characters after the prefix",
			ErrBadPublicKey, quoteKey(s), base64.RawStdEncoding.EncodedLen(ed25519.PublicKeySize))
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(enc)
	// The decoder skips line breaks; re-encoding catches them.
	if err != nil || len(b) != ed25519.PublicKeySize || base64.RawStdEncoding.EncodeToString(b) != enc {
		return nil, fmt.Errorf("%w: %s is not canonical base64 of %d bytes", ErrBadPublicKey, quoteKey(s), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// quoteKey quotes a would-be key for an error message, cut short so that a
// configuration error does not echo a whole file.
func quoteKey(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}

// Fingerprint returns "SHA256:" followed by the unpadded standard base64 of
// the SHA-256 of the key's 32 bytes: a second, differently derived string
// for people to read to each other over the phone when they check that the
// key they were sent is the key that was made.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}
