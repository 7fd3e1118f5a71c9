package mpcsign

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
)

// SessionName is the transport session a pool node serves.
const SessionName = "maskshare-signer/1"

// Limits. Every request and response is bounded before it is read
// (transport.RecvLimit), and every length inside one is checked against
// what is left before anything is allocated for it.
const (
	// MaxMessage bounds the message an account signs (sign a hash of
	// larger data).
	MaxMessage = 64 << 10
	// MaxSigners bounds n, the shares of an account, and so the pool a
	// request may draw from and the node set of an authorisation.
	MaxSigners = 64
	// MaxPackageSize bounds an encoded frost.PublicKeyPackage.
	MaxPackageSize = 39 + 34*MaxSigners
	// MaxSealedShare bounds a sealed share (an envelope of a 103-byte
	// frost.KeyShare).
	MaxSealedShare = custody.EnvelopeOverhead + 103
	// MaxTOTPSecret bounds an account's TOTP secret, in bytes.
	MaxTOTPSecret = 64
	// MaxSealedTOTP bounds a sealed TOTP secret.
	MaxSealedTOTP = custody.EnvelopeOverhead + MaxTOTPSecret
	// MaxRecordSize bounds an encoded account record.
	MaxRecordSize = 1 + 1 + custody.MaxIDLen + 32 + 1 + 2 + 4 + 4 + MaxPackageSize
	// MaxRequestSize bounds a request.
	MaxRequestSize = 2 + 4 + MaxRecordSize + 4 + MaxSealedTOTP + 2 + MaxAuthorizationSize + 2 + 4 + MaxSealedShare + 4 + MaxMessage
	// MaxResponseSize bounds a response.
	MaxResponseSize = 2 + custody.PublicKeySize + 8 + 2 + maxErrorText
	// maxErrorText bounds the text of an error response.
	maxErrorText = 512
)

const wireVersion = 1

type op byte

// Requests are version (1) || op || body; responses version (1) || code ||
// body, body = u16 len || text when code is not 0.
const (
	opStatus op = 1 // body: -; reply: node HPKE public key || u64 accounts
	opEnrol  op = 2 // body: u32 len || record || u32 len || sealed TOTP secret; reply: -
	opRound1 op = 3 // body: u32 len || record || u16 len || auth || u16 id || u32 len || sealed share || u32 len || message; reply: SigningCommitments
	opRound2 op = 4 // body: request id || u32 len || SigningPackage; reply: SignatureShare
	opCheck  op = 5 // body: u32 len || record (epoch e+1) || u16 id || u32 len || sealed share; reply: u32 epoch || u16 id || verifying share
)

func (o op) String() string {
	switch o {
	case opStatus:
		return "status"
	case opEnrol:
		return "enrol"
	case opRound1:
		return "round1"
	case opRound2:
		return "round2"
	case opCheck:
		return "check-share"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

type code byte

const (
	codeOK code = iota
	codeBadMessage
	codeBadDeviceSignature
	codeBadCode
	codeStaleCode
	codeCodeReused
	codeReplay
	codeWrongMessage
	codeNotInNodeSet
	codeUnknownAccount
	codeForbidden
	codeConflict
	codeEpoch
	codeBadShare
	codeNoSession
	codeInternal
	codeUnauthorized
	codeTooFewNodes
	codeLimit
)

var codeErrors = [codeLimit]error{
	codeBadMessage:         ErrBadMessage,
	codeBadDeviceSignature: ErrBadDeviceSignature,
	codeBadCode:            ErrBadCode,
	codeStaleCode:          ErrStaleCode,
	codeCodeReused:         ErrCodeReused,
	codeReplay:             ErrReplay,
	codeWrongMessage:       ErrWrongMessage,
	codeNotInNodeSet:       ErrNotInNodeSet,
	codeUnknownAccount:     ErrUnknownAccount,
	codeForbidden:          ErrForbidden,
	codeConflict:           ErrConflict,
	codeEpoch:              ErrEpoch,
	codeBadShare:           ErrBadShare,
	codeNoSession:          ErrNoSession,
	codeInternal:           ErrNodeInternal,
	codeUnauthorized:       ErrUnauthorized,
	codeTooFewNodes:        ErrTooFewNodes,
}

func codeOf(err error) code {
	for c := codeOK + 1; c < codeLimit; c++ {
		if c != codeUnauthorized && errors.Is(err, codeErrors[c]) {
			return c
		}
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		return codeUnauthorized
	case errors.Is(err, frost.ErrEncoding), errors.Is(err, custody.ErrBadEnvelope), errors.Is(err, custody.ErrBadKey):
		return codeBadMessage
	case errors.Is(err, custody.ErrOpen), errors.Is(err, frost.ErrInconsistentKey), errors.Is(err, frost.ErrIdentifier):
		return codeBadShare
	}
	return codeInternal
}

func okResponse(body []byte) []byte { return append([]byte{wireVersion, byte(codeOK)}, body...) }

func errorResponse(c code, text string) []byte {
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	b := []byte{wireVersion, byte(c)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(text)))
	return append(b, text...)
}

// parseResponse returns a success body or the node's refusal as a
// *RemoteError.
func parseResponse(node string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != wireVersion {
		return nil, fmt.Errorf("%w: response from %s", ErrBadMessage, node)
	}
	if b[1] == byte(codeOK) {
		return b[2:], nil
	}
	r := &reader{b: b[2:]}
	text := string(r.take(r.u16()))
	if !r.done() || b[1] >= byte(codeLimit) {
		return nil, fmt.Errorf("%w: error response from %s", ErrBadMessage, node)
	}
	return nil, &RemoteError{Node: node, Err: codeErrors[b[1]], Text: text}
}

// reader decodes big-endian fields; a short read sets err and returns
// zeros, so callers check once at the end.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || n < 0 || n > len(r.b) {
		r.err = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

func (r *reader) u32() uint32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.take(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// bytes32 reads u32 len || data with len ≤ max.
func (r *reader) bytes32(max int) []byte {
	n := r.u32()
	if n > uint32(max) {
		r.err = true
		return nil
	}
	return r.take(int(n))
}

func (r *reader) string8() string { return string(r.take(r.u8())) }

func (r *reader) done() bool { return !r.err && len(r.b) == 0 }

func appendBytes32(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendString8(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// request is a decoded request.
type request struct {
	op      op
	record  []byte // enrol, check (validated by parseRecord)
	sealed  []byte // enrol: TOTP secret; round1, check: share
	auth    []byte // round1
	id      uint16 // round1, check
	message []byte // round1
	reqID   [RequestIDSize]byte
	pkg     []byte // round2
}

func (q *request) marshal() []byte {
	b := []byte{wireVersion, byte(q.op)}
	switch q.op {
	case opEnrol:
		b = appendBytes32(b, q.record)
		b = appendBytes32(b, q.sealed)
	case opRound1:
		b = appendBytes32(b, q.record)
		b = binary.BigEndian.AppendUint16(b, uint16(len(q.auth)))
		b = append(b, q.auth...)
		b = binary.BigEndian.AppendUint16(b, q.id)
		b = appendBytes32(b, q.sealed)
		b = appendBytes32(b, q.message)
	case opRound2:
		b = append(b, q.reqID[:]...)
		b = appendBytes32(b, q.pkg)
	case opCheck:
		b = appendBytes32(b, q.record)
		b = binary.BigEndian.AppendUint16(b, q.id)
		b = appendBytes32(b, q.sealed)
	}
	return b
}

// parseRequest decodes a request and checks its bounds; the parts are
// validated further by their own decoders where they are used.
func parseRequest(b []byte) (*request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrBadMessage, len(b))
	}
	r := &reader{b: b}
	if v := r.u8(); v != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadMessage, v)
	}
	q := &request{op: op(r.u8())}
	switch q.op {
	case opStatus:
	case opEnrol:
		q.record = r.bytes32(MaxRecordSize)
		q.sealed = r.bytes32(MaxSealedTOTP)
	case opRound1:
		q.record = r.bytes32(MaxRecordSize)
		n := r.u16()
		if n > MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, n)
		}
		q.auth = r.take(n)
		q.id = uint16(r.u16())
		q.sealed = r.bytes32(MaxSealedShare)
		q.message = r.bytes32(MaxMessage)
	case opRound2:
		copy(q.reqID[:], r.take(RequestIDSize))
		q.pkg = r.bytes32(9 + 66*MaxSigners + 4 + MaxMessage)
	case opCheck:
		q.record = r.bytes32(MaxRecordSize)
		q.id = uint16(r.u16())
		q.sealed = r.bytes32(MaxSealedShare)
	default:
		return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, byte(q.op))
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, q.op)
	}
	return q, nil
}
