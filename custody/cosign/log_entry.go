package cosign

import (
	"crypto"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits of an [Entry], checked by [ParseEntry] and [Entry.Marshal].
const (
	// MaxUserLen bounds a user id, in bytes (as custody's ids).
	MaxUserLen = 128
	// MaxPayload bounds an entry's payload: room for a request with its
	// document hash, ids and a certificate, not for the document itself.
	MaxPayload = 64 << 10
	// MaxEntrySize is the largest entry encoding.
	MaxEntrySize = entryFixed + MaxUserLen + MaxPayload

	entryVersion = 0x01
	// version, kind, signer, time, user length, payload length, signature.
	entryFixed = 1 + 1 + 1 + 8 + 1 + 4 + ed25519.SignatureSize
)

// entryContext prefixes the message an entry's signature covers. Its NUL
// byte keeps these messages apart from signed-note texts, which cannot
// contain one, so the log key may sign both.
const entryContext = "maskshare/cosign/entry/v1\x00"

// Kind is what an entry records.
type Kind uint8

// The kinds of action the log records.
const (
	// KindEnrolment: a user's key was enrolled (its certificate issued).
	KindEnrolment Kind = 1
	// KindAuthorisation: a user authorised a request with its split key.
	KindAuthorisation Kind = 2
	// KindKeyUse: the service used the organisation's key for a user's
	// authorised request.
	KindKeyUse Kind = 3
	// KindRefusal: the service refused a request. Signed by the service.
	KindRefusal Kind = 4
	// KindRevocation: a user's key or certificate was revoked, by the user
	// or by the service.
	KindRevocation Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindEnrolment:
		return "enrolment"
	case KindAuthorisation:
		return "authorisation"
	case KindKeyUse:
		return "key-use"
	case KindRefusal:
		return "refusal"
	case KindRevocation:
		return "revocation"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Signer says whose key signed an entry.
type Signer uint8

const (
	// SignedByUser: the entry's user signed it, with the key [UserKeys]
	// gives for the user at the entry's time.
	SignedByUser Signer = 1
	// SignedByService: the service signed it with the log key, the key of
	// the checkpoints.
	SignedByService Signer = 2
)

func (s Signer) String() string {
	switch s {
	case SignedByUser:
		return "user"
	case SignedByService:
		return "service"
	}
	return fmt.Sprintf("signer(%d)", uint8(s))
}

// allowed reports whether kind k may be signed by s: what a user does
// carries the user's signature, so that the user cannot deny it later; a
// refusal is the service's statement; a revocation may be either's.
func allowed(k Kind, s Signer) bool {
	switch k {
	case KindEnrolment, KindAuthorisation, KindKeyUse:
		return s == SignedByUser
	case KindRefusal:
		return s == SignedByService
	case KindRevocation:
		return s == SignedByUser || s == SignedByService
	}
	return false
}

// Entry is one action record of the log.
//
// Encoding (integers big-endian; the body is everything but the signature):
//
//	entry = 0x01 || kind u8 || signer u8 || time u64 (Unix nanoseconds) ||
//	        u8 len || user || u32 len || payload || signature (64)
//	signed message = "maskshare/cosign/entry/v1" || 0x00 || u8 len || origin || body
//
// The origin (the log's name) in the signed message binds an entry to one
// log: it does not verify in another.
type Entry struct {
	Kind    Kind
	Signer  Signer
	Time    time.Time // kept to the nanosecond, in UTC
	User    string    // the user the action is by or about: 1–128 bytes of UTF-8, no control characters
	Payload []byte    // what the action was on, such as a request id and document hash; ≤ MaxPayload
	// Signature is the Ed25519 signature of [Entry.Message].
	Signature []byte
}

// validate checks the fields' limits, not the signature.
func (e *Entry) validate() error {
	if !allowed(e.Kind, e.Signer) {
		return fmt.Errorf("%w: entry of kind %v signed by %v", ErrMalformed, e.Kind, e.Signer)
	}
	if err := checkUser(e.User); err != nil {
		return err
	}
	if len(e.Payload) > MaxPayload {
		return fmt.Errorf("%w: entry payload of %d bytes (limit %d)", ErrMalformed, len(e.Payload), MaxPayload)
	}
	if !e.Time.After(time.Unix(0, 0)) || e.Time.After(time.Unix(0, 1<<63-1)) {
		return fmt.Errorf("%w: entry time %v out of range", ErrMalformed, e.Time)
	}
	return nil
}

func checkUser(u string) error {
	if len(u) == 0 || len(u) > MaxUserLen || !utf8.ValidString(u) {
		return fmt.Errorf("%w: user id must be 1–%d bytes of UTF-8", ErrMalformed, MaxUserLen)
	}
	for _, r := range u {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in user id", ErrMalformed)
		}
	}
	return nil
}

func (e *Entry) appendBody(b []byte) []byte {
	b = append(b, entryVersion, byte(e.Kind), byte(e.Signer))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = append(b, byte(len(e.User)))
	b = append(b, e.User...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Payload)))
	return append(b, e.Payload...)
}

// Message returns the bytes the entry's signature covers in the log named
// origin. It is what a signer that is not a crypto.Signer (a user's split
// key, signing with FROST) signs.
func (e *Entry) Message(origin string) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if len(origin) == 0 || len(origin) > 255 {
		return nil, fmt.Errorf("%w: origin must be 1–255 bytes", ErrMalformed)
	}
	b := make([]byte, 0, len(entryContext)+1+len(origin)+entryFixed+len(e.User)+len(e.Payload))
	b = append(b, entryContext...)
	b = append(b, byte(len(origin)))
	b = append(b, origin...)
	return e.appendBody(b), nil
}

// Sign sets e.Signature to key's signature of the entry's message in the
// log named origin. key must be an Ed25519 key (an ed25519.PrivateKey, or
// a crypto.Signer whose public key is ed25519.PublicKey).
func (e *Entry) Sign(origin string, key crypto.Signer) error {
	if _, ok := key.Public().(ed25519.PublicKey); !ok {
		return fmt.Errorf("cosign: entry signer is %T, not an Ed25519 key", key.Public())
	}
	msg, err := e.Message(origin)
	if err != nil {
		return err
	}
	sig, err := key.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("cosign: signing entry: %w", err)
	}
	e.Signature = sig
	return nil
}

// Verify checks the entry's signature in the log named origin with pub.
func (e *Entry) Verify(origin string, pub ed25519.PublicKey) error {
	msg, err := e.Message(origin)
	if err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize || len(e.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, e.Signature) {
		return fmt.Errorf("%w: %v entry of %q signed by %v", ErrEntrySignature, e.Kind, e.User, e.Signer)
	}
	return nil
}

// Marshal returns the entry's encoding, the log's record data.
func (e *Entry) Marshal() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	if len(e.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: entry signature of %d bytes", ErrMalformed, len(e.Signature))
	}
	b := make([]byte, 0, entryFixed+len(e.User)+len(e.Payload))
	return append(e.appendBody(b), e.Signature...), nil
}

// ParseEntry decodes an entry. It accepts exactly the encodings Marshal
// produces and checks the fields' limits, not the signature.
func ParseEntry(b []byte) (*Entry, error) {
	bad := func(what string) (*Entry, error) {
		return nil, fmt.Errorf("%w: entry: %s", ErrMalformed, what)
	}
	if len(b) < entryFixed || len(b) > MaxEntrySize {
		return bad("length")
	}
	if b[0] != entryVersion {
		return bad("unknown version")
	}
	e := &Entry{Kind: Kind(b[1]), Signer: Signer(b[2])}
	ns := binary.BigEndian.Uint64(b[3:11])
	if ns == 0 || ns > 1<<63-1 {
		return bad("time out of range")
	}
	e.Time = time.Unix(0, int64(ns)).UTC()
	rest := b[11:]
	ul := int(rest[0])
	rest = rest[1:]
	if len(rest) < ul+4 {
		return bad("truncated user id")
	}
	e.User = string(rest[:ul])
	rest = rest[ul:]
	pl := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if pl > MaxPayload || uint64(len(rest)) != uint64(pl)+ed25519.SignatureSize {
		return bad("payload length")
	}
	e.Payload = append([]byte{}, rest[:pl]...)
	e.Signature = append([]byte{}, rest[pl:]...)
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}
