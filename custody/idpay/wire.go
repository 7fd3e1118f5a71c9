package idpay

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Version is the encoding version of every object in this package: the
// first byte of each encoding. A decoder refuses any other.
const Version = 1

// Kinds: the second byte of each encoding.
const (
	kindCertificate = 'C'
	kindRevocation  = 'L'
	kindRequest     = 'R'
	kindAcceptance  = 'A'
	kindPayment     = 'P'
	kindReceipt     = 'T'
	kindChallenge   = 'H'
)

// Limits.
const (
	MaxSubdomainLen = 32      // bytes of a sub-domain ID
	MaxUserLen      = 64      // bytes of a user ID
	MaxRevoked      = 1 << 16 // serials on one revocation list
	MaxEncodedLen   = 4096    // bytes of any encoding but a revocation list
	TxIDSize        = 16      // random transaction ID
	NonceSize       = 16      // random nonce of a request or acceptance
	ChallengeSize   = 32      // random challenge from the back end
	KeyIDSize       = 8       // issuer key ID
)

// sigContext is prefixed, with the kind, to every signed message, so that a
// signature over one kind never verifies as another.
const sigContext = "maskshare/idpay/v1 "

func signedMessage(kind byte, body []byte) []byte {
	m := make([]byte, 0, len(sigContext)+2+len(body))
	m = append(m, sigContext...)
	m = append(m, kind, 0)
	return append(m, body...)
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, what, r.off)
	}
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("truncated " + what)
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8(what string) byte {
	v := r.bytes(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u32(what string) uint32 {
	v := r.bytes(4, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) u64(what string) uint64 {
	v := r.bytes(8, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// id reads a length-prefixed ID and validates it.
func (r *reader) id(max int, what string) string {
	n := int(r.u8(what + " length"))
	v := r.bytes(n, what)
	if r.err != nil {
		return ""
	}
	if err := checkID(string(v), max, what); err != nil {
		r.fail(err.Error())
		return ""
	}
	return string(v)
}

// header reads and checks the version and kind bytes.
func (r *reader) header(kind byte) {
	if v := r.u8("version"); r.err == nil && v != Version {
		r.fail(fmt.Sprintf("version %d (want %d)", v, Version))
	}
	if k := r.u8("kind"); r.err == nil && k != kind {
		r.fail(fmt.Sprintf("kind %q (want %q)", k, kind))
	}
}

// end refuses trailing bytes.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("trailing bytes")
	}
	return r.err
}

func appendID(b []byte, id string) []byte {
	b = append(b, byte(len(id)))
	return append(b, id...)
}

// checkID accepts 1 to max bytes of printable ASCII without spaces, so that
// an ID prints unambiguously and compares bytewise.
func checkID(id string, max int, what string) error {
	if len(id) == 0 || len(id) > max {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalid, what, max)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%w: %s must be printable ASCII without spaces", ErrInvalid, what)
		}
	}
	return nil
}

// checkCurrency accepts three upper-case ASCII letters (ISO 4217 style).
func checkCurrency(c string) error {
	if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return fmt.Errorf("%w: currency must be three letters A-Z", ErrInvalid)
	}
	return nil
}

// Base45 (RFC 9285) carries binary payloads in the QR alphanumeric mode:
// 2 bytes in 3 characters of 5.5 bits, against 4 characters of 8 bits in
// base64 in byte mode (see docs/CUSTODY.md for the measured QR versions).
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// Base45Encode encodes b as RFC 9285 base45.
func Base45Encode(b []byte) string {
	var s strings.Builder
	s.Grow(len(b)/2*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45%45])
		s.WriteByte(base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45])
	}
	return s.String()
}

var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// Base45Decode decodes RFC 9285 base45 strictly: it refuses characters
// outside the alphabet, a length of 1 mod 3, and groups whose value does
// not fit (so every byte string has exactly one encoding).
func Base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: base45 length %d", ErrMalformed, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		g := s[i:min(i+3, len(s))]
		n := 0
		for j := len(g) - 1; j >= 0; j-- {
			v := base45Value[g[j]]
			if v < 0 {
				return nil, fmt.Errorf("%w: base45 character %q at %d", ErrMalformed, g[j], i+j)
			}
			n = n*45 + int(v)
		}
		if len(g) == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: base45 group at %d out of range", ErrMalformed, i)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("%w: base45 group at %d out of range", ErrMalformed, i)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
