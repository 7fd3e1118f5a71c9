package cosign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Limits of the text formats.
const (
	// MaxNoteSize bounds a signed checkpoint (room for the log's signature
	// and well over the 16 cosignatures c2sp.org/signed-note asks
	// verifiers to accept).
	MaxNoteSize = 64 << 10
	// MaxExtensions bounds a checkpoint's extension lines.
	MaxExtensions = 16
	// MaxOriginLen bounds a log's origin (its note key name).
	MaxOriginLen = 255
)

// Checkpoint is a log's tree head in the c2sp.org/tlog-checkpoint format:
//
//	<origin>
//	<tree size, decimal>
//	<root hash, base64>
//	[extension lines]
//
// signed as a c2sp.org/signed-note by the log key, whose name is the
// origin.
type Checkpoint struct {
	Origin     string
	Size       int64
	Hash       tlog.Hash // RFC 6962 root of the first Size entries
	Extensions []string
}

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256 of nothing.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// Text returns the checkpoint's note text.
func (c Checkpoint) Text() ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, err
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("%w: checkpoint size %d", ErrMalformed, c.Size)
	}
	if len(c.Extensions) > MaxExtensions {
		return nil, fmt.Errorf("%w: %d checkpoint extension lines", ErrMalformed, len(c.Extensions))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
	for _, x := range c.Extensions {
		if x == "" || !validLine(x) {
			return nil, fmt.Errorf("%w: checkpoint extension line %q", ErrMalformed, x)
		}
		b.WriteString(x)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// validLine: UTF-8 without control characters, as signed notes require.
func validLine(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func checkOrigin(o string) error {
	if o == "" || len(o) > MaxOriginLen || !validLine(o) || strings.ContainsRune(o, '+') || strings.ContainsFunc(o, unicode.IsSpace) {
		return fmt.Errorf("%w: origin %q (1–%d bytes of UTF-8, no spaces or '+')", ErrMalformed, o, MaxOriginLen)
	}
	return nil
}

// ParseCheckpoint parses a checkpoint's note text (without signatures).
// It is strict: decimal without leading zeroes, canonical base64 of 32
// bytes, no empty lines, the final newline.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	bad := func(what string) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %s", ErrMalformed, what)
	}
	if len(text) > MaxNoteSize || !bytes.HasSuffix(text, []byte("\n")) {
		return bad("size or final newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 || len(lines) > 3+MaxExtensions {
		return bad("number of lines")
	}
	c.Origin = lines[0]
	if err := checkOrigin(c.Origin); err != nil {
		return Checkpoint{}, err
	}
	n, ok := parseDecimal(lines[1])
	if !ok {
		return bad("tree size")
	}
	c.Size = n
	h, ok := parseHash(lines[2])
	if !ok {
		return bad("root hash")
	}
	c.Hash = h
	for _, x := range lines[3:] {
		if x == "" || !validLine(x) {
			return bad("extension line")
		}
		c.Extensions = append(c.Extensions, x)
	}
	return c, nil
}

// parseDecimal parses a non-negative int64 in ASCII decimal without
// leading zeroes or a sign.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// decodeBase64 decodes canonical standard base64. Go's decoder skips
// '\r' and '\n' even in strict mode; a canonical encoding has neither.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: line break in base64", ErrMalformed)
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// parseHash parses the canonical standard base64 of a 32-byte hash.
func parseHash(s string) (tlog.Hash, bool) {
	var h tlog.Hash
	if len(s) != 44 {
		return h, false
	}
	b, err := decodeBase64(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// LogSigner returns the note signer of the log named origin for an
// Ed25519 key: key id SHA-256(origin || 0x0A || 0x01 || public key)[:4]
// as c2sp.org/signed-note specifies. key may be a hardware module's
// crypto.Signer.
func LogSigner(origin string, key crypto.Signer) (note.Signer, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("cosign: log key is %T, not an Ed25519 key", key.Public())
	}
	return &logSigner{name: origin, hash: keyID(origin, pub), key: key}, nil
}

type logSigner struct {
	name string
	hash uint32
	key  crypto.Signer
}

func (s *logSigner) Name() string    { return s.name }
func (s *logSigner) KeyHash() uint32 { return s.hash }
func (s *logSigner) Sign(msg []byte) ([]byte, error) {
	return s.key.Sign(nil, msg, crypto.Hash(0))
}

func keyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', 0x01})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey returns the c2sp.org/signed-note verifier key (vkey) of the
// log named origin with Ed25519 public key pub: what clients and the
// offline verifier are configured with.
func VerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	if err := checkOrigin(origin); err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(origin, pub)
}

// ParseVerifierKey parses an Ed25519 vkey: it returns the note verifier,
// the key name (the log's origin) and the public key, which also verifies
// the entries the service signs.
func ParseVerifierKey(vkey string) (note.Verifier, ed25519.PublicKey, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: verifier key: %w", ErrMalformed, err)
	}
	// name+id+key, where only the key (base64) may hold more '+'.
	_, rest, _ := strings.Cut(vkey, "+")
	_, key, _ := strings.Cut(rest, "+")
	raw, err := decodeBase64(key)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x01 {
		return nil, nil, fmt.Errorf("%w: verifier key: not an Ed25519 key", ErrMalformed)
	}
	if err := checkOrigin(v.Name()); err != nil {
		return nil, nil, err
	}
	pub := ed25519.PublicKey(raw[1:])
	if keyID(v.Name(), pub) != v.KeyHash() {
		return nil, nil, fmt.Errorf("%w: verifier key: key id does not match the key", ErrMalformed)
	}
	return v, pub, nil
}

// SignCheckpoint returns c signed by s as a note.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	text, err := c.Text()
	if err != nil {
		return nil, err
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("cosign: signer %q for a checkpoint of %q", s.Name(), c.Origin)
	}
	return note.Sign(&note.Note{Text: string(text)}, s)
}

// OpenCheckpoint verifies that msg is a checkpoint note signed by v (other
// signatures, such as witnesses' cosignatures, are ignored as the
// signed-note spec requires) and whose origin is v's name, and parses it.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	if len(msg) > MaxNoteSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint note of %d bytes", ErrMalformed, len(msg))
	}
	n, err := note.Open(msg, note.VerifierList(v))
	// A note that does not parse carries no valid signature either. (The
	// note package does not export its malformed-note error.)
	if err != nil && err.Error() == "malformed note" {
		return Checkpoint{}, fmt.Errorf("%w: %w: checkpoint note", ErrCheckpointSignature, ErrMalformed)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpointSignature, err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %q, expected %q", ErrCheckpointSignature, c.Origin, v.Name())
	}
	return c, nil
}
