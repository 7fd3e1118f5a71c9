package mpcsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"image/png"
	"io"
	"slices"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/transport"
)

// Authorisation limits.
const (
	// RequestIDSize is the size of a request id.
	RequestIDSize = 16
	// MaxClockSkew bounds the distance between an authorisation's time
	// and the node's clock.
	MaxClockSkew = 2 * time.Minute
	// RequestLifetime is how long a node remembers a request id (and a
	// used TOTP step): longer than any authorisation stays acceptable.
	RequestLifetime = 2*MaxClockSkew + 2*MaxPeriod*time.Second
	// MaxAuthorizationSize bounds an encoded authorisation.
	MaxAuthorizationSize = 1 + 1 + custody.MaxIDLen + RequestIDSize + 8 + sha256.Size + 1 +
		MaxSigners*(1+transport.MaxNameLen) + 1 + 8 + ed25519.SignatureSize
	// staleSteps is how far back a code is recognised as stale rather
	// than wrong.
	staleSteps = 20
)

const (
	authorizationVersion = 1
	authorizationContext = "maskshare/mpcsign/authorisation/v1\x00"
)

// Authorization is the owner's consent to one signature: the device key
// signs the account, the SHA-256 of the exact message, a fresh request id,
// the time, the node set chosen for the request and a TOTP code.
//
//	body      = 0x01 || u8 len || account || request id (16) || u64 time (Unix s) ||
//	            SHA-256(message) || u8 n || (u8 len || node name) × n || u8 len || code
//	signature = Ed25519(device, "maskshare/mpcsign/authorisation/v1" || 0x00 || body)
//	encoding  = body || signature
type Authorization struct {
	Account     string
	RequestID   [RequestIDSize]byte
	Time        time.Time
	MessageHash [sha256.Size]byte
	Nodes       []string // sorted, distinct
	Code        string   // the TOTP code, 6 or 8 digits
	Signature   []byte   // set by Sign and ParseAuthorization
}

// NewAuthorization makes an unsigned authorisation of message for the
// nodes, with a random request id.
func NewAuthorization(account string, message []byte, nodes []string, code string, now time.Time) (*Authorization, error) {
	a := &Authorization{Account: account, Time: now, MessageHash: sha256.Sum256(message), Nodes: slices.Sorted(slices.Values(nodes)), Code: code}
	if _, err := rand.Read(a.RequestID[:]); err != nil {
		return nil, err
	}
	if len(message) > MaxMessage {
		return nil, fmt.Errorf("%w: message of %d bytes (max %d)", ErrBadMessage, len(message), MaxMessage)
	}
	return a, a.check()
}

func (a *Authorization) check() error {
	if !custody.ValidID(a.Account) {
		return fmt.Errorf("%w: account id", ErrBadMessage)
	}
	if len(a.Nodes) == 0 || len(a.Nodes) > MaxSigners {
		return fmt.Errorf("%w: %d nodes", ErrBadMessage, len(a.Nodes))
	}
	for i, n := range a.Nodes {
		if !transport.ValidName(n) || (i > 0 && a.Nodes[i-1] >= n) {
			return fmt.Errorf("%w: node names must be valid, sorted and distinct", ErrBadMessage)
		}
	}
	if len(a.Code) != 6 && len(a.Code) != 8 {
		return fmt.Errorf("%w: code of %d digits", ErrBadMessage, len(a.Code))
	}
	for _, c := range a.Code {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: code is not digits", ErrBadMessage)
		}
	}
	if a.Time.Unix() < 0 {
		return fmt.Errorf("%w: time", ErrBadMessage)
	}
	return nil
}

func (a *Authorization) body() []byte {
	b := []byte{authorizationVersion}
	b = binfmt.AppendString8(b, a.Account)
	b = append(b, a.RequestID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time.Unix()))
	b = append(b, a.MessageHash[:]...)
	b = append(b, byte(len(a.Nodes)))
	for _, n := range a.Nodes {
		b = binfmt.AppendString8(b, n)
	}
	return binfmt.AppendString8(b, a.Code)
}

func signedBytes(body []byte) []byte { return append([]byte(authorizationContext), body...) }

// Sign signs a with the device key and returns the encoding.
func (a *Authorization) Sign(device ed25519.PrivateKey) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	body := a.body()
	a.Signature = ed25519.Sign(device, signedBytes(body))
	return append(body, a.Signature...), nil
}

// ParseAuthorization decodes and validates an authorisation's format (not
// its signature, which needs the account's device key).
func ParseAuthorization(b []byte) (*Authorization, error) {
	if len(b) > MaxAuthorizationSize || len(b) < ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, len(b))
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	r := binfmt.NewReader(body)
	if v := r.U8(); v != authorizationVersion {
		return nil, fmt.Errorf("%w: authorisation version %d", ErrBadMessage, v)
	}
	a := &Authorization{Account: r.String8()}
	r.Fill(a.RequestID[:])
	t := r.U64()
	r.Fill(a.MessageHash[:])
	n := r.U8()
	if n > MaxSigners {
		return nil, fmt.Errorf("%w: %d nodes", ErrBadMessage, n)
	}
	for range n {
		if r.Failed() {
			break
		}
		a.Nodes = append(a.Nodes, r.String8())
	}
	a.Code = r.String8()
	if !r.Done() || t > 1<<62 {
		return nil, fmt.Errorf("%w: authorisation truncated or with trailing bytes", ErrBadMessage)
	}
	a.Time = time.Unix(int64(t), 0)
	a.Signature = bytes.Clone(sig)
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// NewTOTPKey makes an account's TOTP key (RFC 6238, HMAC-SHA1, a 20-byte
// secret from crypto/rand) for the owner's authenticator; its URL is the
// otpauth:// provisioning URI the device scans.
func NewTOTPKey(account string, digits, period int) (*otp.Key, error) {
	d := otp.DigitsSix
	if digits == 8 {
		d = otp.DigitsEight
	}
	return totp.Generate(totp.GenerateOpts{
		Issuer: "maskshare", AccountName: account, Period: uint(period), Digits: d,
		SecretSize: 20, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
}

// WriteQR writes key's provisioning URI as a QR code PNG of size×size
// pixels, for the device to scan.
func WriteQR(w io.Writer, key *otp.Key, size int) error {
	img, err := key.Image(size, size)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// Code returns the TOTP code of key at time t: what the owner's
// authenticator shows.
func Code(key *otp.Key, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(key.Secret(), t, totp.ValidateOpts{
		Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm(),
	})
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpSecret returns the raw secret of key.
func totpSecret(key *otp.Key) ([]byte, error) {
	s, err := b32.DecodeString(key.Secret())
	if err != nil || len(s) == 0 || len(s) > MaxTOTPSecret {
		return nil, fmt.Errorf("mpcsign: TOTP secret: bad encoding")
	}
	return s, nil
}

// codeAt is the TOTP code for time step `step` (RFC 6238, HMAC-SHA1).
func codeAt(secret []byte, digits, period int, step int64) (string, error) {
	d := otp.DigitsSix
	if digits == 8 {
		d = otp.DigitsEight
	}
	return totp.GenerateCodeCustom(b32.EncodeToString(secret), time.Unix(step*int64(period), 0),
		totp.ValidateOpts{Period: uint(period), Digits: d, Algorithm: otp.AlgorithmSHA1})
}

// matchCode returns the time step whose code is code, among the steps a
// node accepts at now (one step of drift either way, RFC 6238 §5.2): the
// result is ErrStaleCode for a code of an older step or an
// authorisation whose time is too far from now, and ErrBadCode for a
// code of no recent step. Codes are compared in constant time.
func matchCode(secret []byte, acct *Account, a *Authorization, now time.Time) (int64, error) {
	if d := now.Sub(a.Time); d > MaxClockSkew || d < -MaxClockSkew {
		return 0, fmt.Errorf("%w: authorisation time %s, node time %s", ErrStaleCode, a.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	cur := now.Unix() / int64(acct.Period)
	for d := int64(-1); d <= 1; d++ {
		c, err := codeAt(secret, acct.Digits, acct.Period, cur+d)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(c), []byte(a.Code)) == 1 {
			return cur + d, nil
		}
	}
	for d := int64(2); d <= staleSteps; d++ {
		c, err := codeAt(secret, acct.Digits, acct.Period, cur-d)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(c), []byte(a.Code)) == 1 {
			return 0, fmt.Errorf("%w: code of %d steps ago", ErrStaleCode, d)
		}
	}
	return 0, ErrBadCode
}
