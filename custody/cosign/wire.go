package cosign

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// SessionName is the transport session the co-signing service serves.
const SessionName = "maskshare-cosign/1"

// Limits of the service protocol. Every message is bounded before it is
// read (transport.RecvLimit).
const (
	// MaxRequestSize bounds a request: a proposal with the largest entry
	// payload and its commitments or signatures.
	MaxRequestSize = 1 << 17
	// MaxResponseSize bounds a response (a proof, an entry, an enrolment
	// with its certificates).
	MaxResponseSize = 1 << 17
	// maxFrostMsg bounds one encoded frost message (DKG round message,
	// signature list, commitments, share, piece).
	maxFrostMsg = 4 << 10
	// maxCheckpoint bounds a signed checkpoint.
	maxCheckpoint = 4 << 10
	maxErrorText  = 512
)

const wireVersion = 1

type op byte

// Ops; docs/CUSTODY.md, "Escrowed co-signing", gives their bodies.
const (
	opEnrolInit   op = 1
	opEnrolRound1 op = 2
	opEnrolSign   op = 3
	opEnrolCert   op = 4
	opPropose     op = 5
	opCommit      op = 6
	opRevoke      op = 7
	opCheckpoint  op = 8
	opConsistency op = 9
	opInclusion   op = 10
	opEntry       op = 11
	opStatus      op = 12
	opLimit       op = 13
)

func (o op) String() string {
	names := [...]string{"", "enrol-init", "enrol-round1", "enrol-sign", "enrol-cert", "propose", "commit",
		"revoke", "checkpoint", "consistency", "inclusion", "entry", "status"}
	if o > 0 && o < opLimit {
		return names[o]
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

type code byte

const (
	codeOK code = iota
	codeBadMessage
	codeBadRequest
	codeForbidden
	codeNotEnrolled
	codeRevoked
	codeReplay
	codeSignature
	codeCertificate
	codeSession
	codeClockSkew
	codeNotFound
	codeInternal
	codeLimit
)

var codeErrors = [codeLimit]error{
	codeBadMessage:  ErrBadMessage,
	codeBadRequest:  ErrBadRequest,
	codeForbidden:   ErrForbidden,
	codeNotEnrolled: ErrNotEnrolled,
	codeRevoked:     ErrRevoked,
	codeReplay:      ErrReplay,
	codeSignature:   ErrSignature,
	codeCertificate: ErrCertificate,
	codeSession:     ErrSession,
	codeClockSkew:   ErrClockSkew,
	codeNotFound:    ErrNotFound,
	codeInternal:    ErrInternal,
}

func codeOf(err error) code {
	for c := codeLimit - 1; c > codeOK; c-- {
		if errors.Is(err, codeErrors[c]) {
			return c
		}
	}
	switch {
	case errors.Is(err, ErrDuplicate):
		return codeReplay
	case errors.Is(err, ErrEntrySignature):
		return codeSignature
	case errors.Is(err, ErrUnknownUser):
		return codeNotEnrolled
	case errors.Is(err, ErrMalformed):
		return codeBadRequest
	}
	return codeInternal
}

// reader decodes the service's messages: the shared field reader and the
// one composite field several messages carry, a proposal.
type reader struct{ binfmt.Reader }

func newReader(b []byte) *reader {
	r := new(reader)
	r.Reset(b)
	return r
}

// Proposal encoding: action u8 || u8 len || user || time u64 (Unix ns) ||
// u32 len || payload.
func (p *Proposal) append(b []byte) []byte {
	b = append(b, byte(p.Action))
	b = binfmt.AppendString8(b, p.User)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Time.UnixNano()))
	return binfmt.AppendBytes32(b, p.Payload)
}

func (r *reader) proposal() *Proposal {
	p := &Proposal{Action: Action(r.U8())}
	p.User = r.String8()
	ns := r.U64()
	p.Payload = r.Bytes32(MaxPayload)
	if ns == 0 || ns > 1<<63-1 {
		r.Fail(ErrBadMessage) // time out of range
	}
	p.Time = time.Unix(0, int64(ns)).UTC()
	return p
}

// request is a decoded request.
type request struct {
	op       op
	user     string // enrol-init, revoke
	static   []byte // enrol-init: the client's DKG static key
	recovery *custody.PublicKey
	session  []byte // enrol-round1, -sign, -cert
	msg      []byte // enrol-round1, -sign: frost message; enrol-cert: repair piece (may be empty)
	proposal *Proposal
	frost    [][]byte // propose: commitments; commit: signatures
	reason   string   // revoke
	a, b     uint64   // consistency (old, new), inclusion (index, size), entry (index)
}

const sessionIDSize = 16

func (q *request) marshal() []byte {
	b := []byte{wireVersion, byte(q.op)}
	switch q.op {
	case opEnrolInit:
		b = binfmt.AppendString8(b, q.user)
		b = append(b, q.static...)
		if q.recovery == nil {
			b = append(b, 0)
		} else {
			b = binfmt.AppendBytes32(append(b, 1), q.recovery.Bytes())
		}
	case opEnrolRound1, opEnrolSign, opEnrolCert:
		b = append(b, q.session...)
		b = binfmt.AppendBytes32(b, q.msg)
	case opPropose, opCommit:
		b = q.proposal.append(b)
		b = append(b, byte(len(q.frost)))
		for _, m := range q.frost {
			b = binfmt.AppendBytes32(b, m)
		}
	case opRevoke:
		b = binfmt.AppendString8(b, q.user)
		b = binfmt.AppendString8(b, q.reason)
	case opConsistency, opInclusion:
		b = binary.BigEndian.AppendUint64(b, q.a)
		b = binary.BigEndian.AppendUint64(b, q.b)
	case opEntry:
		b = binary.BigEndian.AppendUint64(b, q.a)
	}
	return b
}

// maxProposalEntries is the most entries one proposal signs (a use: the
// authorisation and the key-use entry).
const maxProposalEntries = 2

func parseRequest(b []byte) (*request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrBadMessage, len(b))
	}
	r := newReader(b)
	v, o := r.U8(), op(r.U8())
	if r.Failed() || v != wireVersion || o == 0 || o >= opLimit {
		return nil, fmt.Errorf("%w: request version %d op %d", ErrBadMessage, v, o)
	}
	q := &request{op: o}
	switch o {
	case opEnrolInit:
		q.user = r.String8()
		q.static = r.Bytes(32)
		switch r.U8() {
		case 0:
		case 1:
			pk, err := custody.ParsePublicKey(r.Bytes32(custody.PublicKeySize))
			if err != nil && !r.Failed() {
				return nil, fmt.Errorf("%w: recovery key: %w", ErrBadMessage, err)
			}
			q.recovery = pk
		default:
			r.Fail(ErrBadMessage) // recovery key flag neither 0 nor 1
		}
	case opEnrolRound1, opEnrolSign, opEnrolCert:
		q.session = r.Bytes(sessionIDSize)
		q.msg = r.Bytes32(maxFrostMsg)
	case opPropose, opCommit:
		q.proposal = r.proposal()
		n := int(r.U8())
		if n == 0 || n > maxProposalEntries {
			r.Fail(ErrBadMessage)
		}
		for i := 0; i < n && !r.Failed(); i++ {
			q.frost = append(q.frost, r.Bytes32(maxFrostMsg))
		}
	case opRevoke:
		q.user = r.String8()
		q.reason = r.String8()
	case opConsistency, opInclusion:
		q.a, q.b = r.U64(), r.U64()
	case opEntry:
		q.a = r.U64()
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: %v request", ErrBadMessage, o)
	}
	if q.a > 1<<62 || q.b > 1<<62 {
		return nil, fmt.Errorf("%w: index out of range", ErrBadMessage)
	}
	return q, nil
}

// parseResponse decodes a response, returning a reader on its body or the
// service's error.
func parseResponse(b []byte) (*reader, error) {
	if len(b) > MaxResponseSize {
		return nil, fmt.Errorf("%w: response of %d bytes", ErrBadMessage, len(b))
	}
	c, body, text, err := custody.SplitResponse(b, maxErrorText)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	case c == uint8(codeOK):
		return newReader(body), nil
	case c >= uint8(codeLimit):
		return nil, fmt.Errorf("%w: malformed error response", ErrBadMessage)
	}
	return nil, &RemoteError{Err: codeErrors[c], Text: printable(text)}
}

// printable makes a peer's text safe to print.
func printable(s string) string {
	b := []rune{}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd {
			r = '?'
		}
		b = append(b, r)
	}
	return string(b)
}
