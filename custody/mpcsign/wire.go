package mpcsign

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/binfmt"
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
	codeBusy
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
	codeBusy:               ErrBusy,
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

// parseResponse returns a success body or the node's refusal as a
// *RemoteError.
func parseResponse(node string, b []byte) ([]byte, error) {
	c, body, text, err := custody.SplitResponse(b, math.MaxUint16)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: response from %s: %v", ErrBadMessage, node, err)
	case c == uint8(codeOK):
		return body, nil
	case c >= uint8(codeLimit):
		return nil, fmt.Errorf("%w: error response from %s", ErrBadMessage, node)
	}
	return nil, &RemoteError{Node: node, Err: codeErrors[c], Text: text}
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
		b = binfmt.AppendBytes32(b, q.record)
		b = binfmt.AppendBytes32(b, q.sealed)
	case opRound1:
		b = binfmt.AppendBytes32(b, q.record)
		b = binfmt.AppendBytes16(b, q.auth)
		b = binary.BigEndian.AppendUint16(b, q.id)
		b = binfmt.AppendBytes32(b, q.sealed)
		b = binfmt.AppendBytes32(b, q.message)
	case opRound2:
		b = append(b, q.reqID[:]...)
		b = binfmt.AppendBytes32(b, q.pkg)
	case opCheck:
		b = binfmt.AppendBytes32(b, q.record)
		b = binary.BigEndian.AppendUint16(b, q.id)
		b = binfmt.AppendBytes32(b, q.sealed)
	case opDKGStart:
		b = append(b, q.session[:]...)
		b = binfmt.AppendString8(b, q.account)
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
		b = binfmt.AppendBytes32(b, q.pkg)
	case opDKGFinish:
		b = append(b, q.session[:]...)
		b = binfmt.AppendBytes32(b, q.pkg)
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
	r := binfmt.NewReader(b)
	if v := r.U8(); v != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadMessage, v)
	}
	q := &request{op: op(r.U8())}
	switch q.op {
	case opStatus:
	case opEnrol:
		q.record = r.Bytes32(MaxRecordSize)
		q.sealed = r.Bytes32(MaxSealedTOTP)
	case opRound1:
		q.record = r.Bytes32(MaxRecordSize)
		n := r.U16()
		if n > MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, n)
		}
		q.auth = r.Bytes(int(n))
		q.id = r.U16()
		q.sealed = r.Bytes32(MaxSealedShare)
		q.message = r.Bytes32(MaxMessage)
	case opRound2:
		r.Fill(q.reqID[:])
		q.pkg = r.Bytes32(9 + 66*MaxSigners + 4 + MaxMessage)
	case opCheck:
		q.record = r.Bytes32(MaxRecordSize)
		q.id = r.U16()
		q.sealed = r.Bytes32(MaxSealedShare)
	case opDKGStart:
		r.Fill(q.session[:])
		q.account = r.String8()
		q.t, q.n, q.id = int(r.U16()), int(r.U16()), r.U16()
		if !r.Failed() && (!custody.ValidID(q.account) || q.n < 1 || q.n > MaxSigners || q.t < 1 || q.t > q.n || q.id < 1 || int(q.id) > q.n) {
			return nil, fmt.Errorf("%w: DKG account, t = %d, n = %d, id = %d", ErrBadMessage, q.t, q.n, q.id)
		}
	case opDKGRound1:
		r.Fill(q.session[:])
		n := r.U8()
		if n < 1 || n > MaxSigners {
			return nil, fmt.Errorf("%w: %d DKG static keys", ErrBadMessage, n)
		}
		for range n {
			if k := r.Bytes(32); k != nil {
				q.staticKeys = append(q.staticKeys, k)
			}
		}
	case opDKGRound2:
		r.Fill(q.session[:])
		q.pkg = r.Bytes32(maxDKGMessage)
	case opDKGFinish:
		r.Fill(q.session[:])
		q.pkg = r.Bytes32(maxDKGMessage)
		q.holderKey = r.Bytes(custody.PublicKeySize)
	default:
		return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, byte(q.op))
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, q.op)
	}
	return q, nil
}
