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
	// maxDKGMessage bounds a DKG message a node receives or sends (the
	// coordinator's Round 2 projection is the largest: every
	// participant's commitment, proof, ephemeral key and one ciphertext).
	maxDKGMessage = 16 + MaxSigners*(32*MaxSigners+32+64+8+48)
	// MaxRequestSize bounds a request.
	MaxRequestSize = max(2+4+MaxRecordSize+4+MaxSealedTOTP+2+MaxAuthorizationSize+2+4+MaxSealedShare+4+MaxMessage,
		2+dkgSessionSize+4+maxDKGMessage+custody.PublicKeySize)
	// MaxResponseSize bounds a response.
	MaxResponseSize = 2 + max(custody.PublicKeySize+8, 16+MaxSigners*(32+8+48)+32*MaxSigners+96, MaxSealedShare, maxErrorText+2)
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

	// COCKTAIL-DKG at account creation; the holder coordinates.
	opDKGStart  op = 6 // body: session || u8 len || account || u16 t || u16 n || u16 id; reply: static public key (32)
	opDKGRound1 op = 7 // body: session || u8 n || static key (32) × n; reply: frost DKGRound1
	opDKGRound2 op = 8 // body: session || u32 len || frost DKGRound2; reply: frost DKGSignature
	opDKGFinish op = 9 // body: session || u32 len || frost DKGSignatures || holder HPKE public key; reply: key share sealed to the holder
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
	case opDKGStart:
		return "dkg-start"
	case opDKGRound1:
		return "dkg-round1"
	case opDKGRound2:
		return "dkg-round2"
	case opDKGFinish:
		return "dkg-finish"
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
	pkg     []byte // round2; dkg-round2, -finish: the frost DKG message

	session    [dkgSessionSize]byte // dkg-*
	account    string               // dkg-start
	t, n       int                  // dkg-start
	staticKeys [][]byte             // dkg-round1
	holderKey  []byte               // dkg-finish
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
	case opDKGStart:
		b = append(b, q.session[:]...)
		b = appendString8(b, q.account)
		b = binary.BigEndian.AppendUint16(b, uint16(q.t))
		b = binary.BigEndian.AppendUint16(b, uint16(q.n))
		b = binary.BigEndian.AppendUint16(b, q.id)
	case opDKGRound1:
		b = append(b, q.session[:]...)
		b = append(b, byte(len(q.staticKeys)))
		for _, k := range q.staticKeys {
			b = append(b, k...)
		}
	case opDKGRound2:
		b = append(b, q.session[:]...)
		b = appendBytes32(b, q.pkg)
	case opDKGFinish:
		b = append(b, q.session[:]...)
		b = appendBytes32(b, q.pkg)
		b = append(b, q.holderKey...)
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
	case opDKGStart:
		copy(q.session[:], r.take(dkgSessionSize))
		q.account = r.string8()
		q.t, q.n, q.id = r.u16(), r.u16(), uint16(r.u16())
		if !r.err && (!custody.ValidID(q.account) || q.n < 1 || q.n > MaxSigners || q.t < 1 || q.t > q.n || q.id < 1 || int(q.id) > q.n) {
			return nil, fmt.Errorf("%w: DKG account, t = %d, n = %d, id = %d", ErrBadMessage, q.t, q.n, q.id)
		}
	case opDKGRound1:
		copy(q.session[:], r.take(dkgSessionSize))
		n := r.u8()
		if n < 1 || n > MaxSigners {
			return nil, fmt.Errorf("%w: %d DKG static keys", ErrBadMessage, n)
		}
		for range n {
			if k := r.take(32); k != nil {
				q.staticKeys = append(q.staticKeys, k)
			}
		}
	case opDKGRound2:
		copy(q.session[:], r.take(dkgSessionSize))
		q.pkg = r.bytes32(maxDKGMessage)
	case opDKGFinish:
		copy(q.session[:], r.take(dkgSessionSize))
		q.pkg = r.bytes32(maxDKGMessage)
		q.holderKey = r.take(custody.PublicKeySize)
	default:
		return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, byte(q.op))
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, q.op)
	}
	return q, nil
}
