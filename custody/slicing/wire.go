package slicing

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/maskshare/maskshare/custody"
)

// SessionName is the transport session a key node serves: clients
// [transport.Dial] it, and a node refuses connections for anything else.
const SessionName = "maskshare-keynode/1"

// Limits of the key node protocol. Every request and response is bounded
// before it is read (transport.RecvLimit), so a peer cannot make a node
// allocate more.
const (
	// MaxBatch bounds the slices of one store or refresh request, and of
	// one release: the slices one node holds for one key (its weight).
	MaxBatch = 64
	// MaxRequestSize bounds a request.
	MaxRequestSize = 2 + 1 + MaxBatch*(4+MaxSealedSliceSize) + custody.MaxAuthorizationSize
	// MaxResponseSize bounds a response.
	MaxResponseSize = 2 + 1 + MaxBatch*(4+MaxSealedSliceSize) + 2 + maxErrorText
	// maxErrorText bounds the text of an error response.
	maxErrorText = 512
)

// Wire format. A request is version (1) || op (1) || body; a response is
// version (1) || code (1) || body, where code 0 means success and any other
// code is an error whose body is u16 len || text.
const wireVersion = 1

type op byte

const (
	opStatus  op = 1 // body: empty. Reply: node public key (custody.PublicKeySize) || u64 keys held
	opStore   op = 2 // body: slice batch. Reply: empty
	opRefresh op = 3 // body: slice batch. Reply: empty
	opRelease op = 4 // body: u8 len || user || u8 len || key || u64 epoch || u16 len || authorisation. Reply: slice batch
	opList    op = 5 // body: u8 len || user || u8 len || key. Reply: u64 epoch || u8 count || (u32 index || commitment)...
)

func (o op) String() string {
	switch o {
	case opStatus:
		return "status"
	case opStore:
		return "store"
	case opRefresh:
		return "refresh"
	case opRelease:
		return "release"
	case opList:
		return "list"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

// A slice batch is u8 count (1 to MaxBatch) || (u32 len || sealed slice)...,
// all of one user, key and epoch, with distinct indexes.

// Response codes and the errors they carry.
type code byte

const (
	codeOK code = iota
	codeBadRequest
	codeBadAuthorization
	codeUntrustedIssuer
	codeBadSignature
	codeExpired
	codeReplay
	codeWrongSubject
	codeStaleEpoch
	codeNotFound
	codeForbidden
	codeConflict
	codeInternal
	codeLimit // first unknown code
)

var codeErrors = [codeLimit]error{
	codeBadRequest:       ErrBadMessage,
	codeBadAuthorization: custody.ErrBadAuthorization,
	codeUntrustedIssuer:  custody.ErrUntrustedIssuer,
	codeBadSignature:     custody.ErrBadSignature,
	codeExpired:          custody.ErrExpired,
	codeReplay:           custody.ErrReplay,
	codeWrongSubject:     custody.ErrWrongSubject,
	codeStaleEpoch:       ErrStaleEpoch,
	codeNotFound:         ErrSliceNotFound,
	codeForbidden:        ErrForbidden,
	codeConflict:         ErrConflict,
	codeInternal:         ErrNodeInternal,
}

// codeOf maps an error of the node to its response code. Errors the node
// does not name are internal: their text stays in the node's log.
func codeOf(err error) code {
	for c := codeLimit - 1; c > codeOK; c-- {
		if c == codeBadAuthorization {
			continue // checked last: the finer refusals come first
		}
		if errors.Is(err, codeErrors[c]) {
			return c
		}
	}
	switch {
	case errors.Is(err, custody.ErrBadAuthorization):
		return codeBadAuthorization
	case errors.Is(err, ErrBadSlice), errors.Is(err, custody.ErrBadKey), errors.Is(err, custody.ErrBadEnvelope):
		return codeBadRequest
	}
	return codeInternal
}

// request is a decoded request.
type request struct {
	op     op
	slices []*SealedSlice // store, refresh
	user   string         // release, list
	key    string
	epoch  uint64 // release
	auth   []byte // release
}

func (q *request) marshal() ([]byte, error) {
	b := []byte{wireVersion, byte(q.op)}
	var err error
	switch q.op {
	case opStatus:
	case opStore, opRefresh:
		b, err = appendBatch(b, q.slices)
	case opRelease:
		if len(q.auth) > custody.MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, len(q.auth))
		}
		b = appendString8(b, q.user)
		b = appendString8(b, q.key)
		b = binary.BigEndian.AppendUint64(b, q.epoch)
		b = binary.BigEndian.AppendUint16(b, uint16(len(q.auth)))
		b = append(b, q.auth...)
	case opList:
		b = appendString8(b, q.user)
		b = appendString8(b, q.key)
	default:
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, q.op)
	}
	return b, err
}

// parseRequest decodes and validates a request.
func parseRequest(b []byte) (*request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrBadMessage, len(b))
	}
	r := &wireReader{b: b}
	if v := r.u8(); v != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadMessage, v)
	}
	q := &request{op: op(r.u8())}
	var err error
	switch q.op {
	case opStatus:
	case opStore, opRefresh:
		if q.slices, err = r.batch(); err != nil {
			return nil, err
		}
	case opRelease:
		q.user, q.key = r.string8(), r.string8()
		q.epoch = r.u64()
		q.auth = r.take(r.u16())
		if !r.err && len(q.auth) > custody.MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, len(q.auth))
		}
	case opList:
		q.user, q.key = r.string8(), r.string8()
	default:
		return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, byte(q.op))
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, q.op)
	}
	if q.op == opRelease || q.op == opList {
		if !custody.ValidID(q.user) || !custody.ValidID(q.key) {
			return nil, fmt.Errorf("%w: invalid user or key id", ErrBadMessage)
		}
	}
	return q, nil
}

func appendBatch(b []byte, slices []*SealedSlice) ([]byte, error) {
	if err := checkBatch(slices); err != nil {
		return nil, err
	}
	b = append(b, byte(len(slices)))
	for _, ss := range slices {
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		if b, err = ss.AppendBinary(b); err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return b, nil
}

// batch reads a slice batch.
func (r *wireReader) batch() ([]*SealedSlice, error) {
	n := r.u8()
	if r.err {
		return nil, fmt.Errorf("%w: truncated batch", ErrBadMessage)
	}
	if n == 0 || n > MaxBatch {
		return nil, fmt.Errorf("%w: batch of %d slices (1 to %d)", ErrBadMessage, n, MaxBatch)
	}
	slices := make([]*SealedSlice, 0, n)
	for range n {
		l := r.u32()
		if l > MaxSealedSliceSize {
			return nil, fmt.Errorf("%w: sealed slice of %d bytes", ErrBadMessage, l)
		}
		enc := r.take(int(l))
		if r.err {
			return nil, fmt.Errorf("%w: truncated batch", ErrBadMessage)
		}
		ss, err := ParseSealedSlice(enc)
		if err != nil {
			return nil, err
		}
		slices = append(slices, ss)
	}
	if err := checkBatch(slices); err != nil {
		return nil, err
	}
	return slices, nil
}

// checkBatch checks that a batch is of one user, key and epoch, with
// distinct indexes.
func checkBatch(slices []*SealedSlice) error {
	if len(slices) == 0 || len(slices) > MaxBatch {
		return fmt.Errorf("%w: batch of %d slices (1 to %d)", ErrBadMessage, len(slices), MaxBatch)
	}
	seen := make(map[uint32]bool, len(slices))
	for _, ss := range slices {
		f := slices[0]
		if ss.UserID != f.UserID || ss.KeyID != f.KeyID || ss.Epoch != f.Epoch {
			return fmt.Errorf("%w: a batch mixes users, keys or epochs", ErrBadMessage)
		}
		if seen[ss.Index] {
			return fmt.Errorf("%w: index %d twice in a batch", ErrBadMessage, ss.Index)
		}
		seen[ss.Index] = true
	}
	return nil
}

// NodeStatus is what a key node says about itself.
type NodeStatus struct {
	// PublicKey is the node's HPKE key, to which slices for it are sealed.
	// It comes over the node's authenticated TLS connection.
	PublicKey *custody.PublicKey
	// Keys is the number of user keys the node holds slices of.
	Keys uint64
}

// ListEntry is one slice a node holds, without its content.
type ListEntry struct {
	Index      uint32
	Commitment [CommitmentSize]byte
}

// KeyListing is what a node holds for one user key.
type KeyListing struct {
	Epoch   uint64
	Entries []ListEntry
}

func okResponse(body []byte) []byte {
	return append([]byte{wireVersion, byte(codeOK)}, body...)
}

func errorResponse(c code, text string) []byte {
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	b := []byte{wireVersion, byte(c)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(text)))
	return append(b, text...)
}

func marshalStatus(s *NodeStatus) []byte {
	b := s.PublicKey.Bytes()
	return binary.BigEndian.AppendUint64(b, s.Keys)
}

func marshalListing(l *KeyListing) []byte {
	b := binary.BigEndian.AppendUint64(nil, l.Epoch)
	b = append(b, byte(len(l.Entries)))
	for _, e := range l.Entries {
		b = binary.BigEndian.AppendUint32(b, e.Index)
		b = append(b, e.Commitment[:]...)
	}
	return b
}

// RemoteError is an error a key node returned: Err is the sentinel of its
// code (ErrStaleEpoch, custody.ErrReplay, ...), Text the node's message,
// sanitised.
type RemoteError struct {
	Node string
	Err  error
	Text string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("key node %s: %s", e.Node, e.Text)
}

func (e *RemoteError) Unwrap() error { return e.Err }

// parseResponse decodes a response for op, returning its body or the
// node's error.
func parseResponse(node string, o op, b []byte) (*wireReader, error) {
	if len(b) > MaxResponseSize {
		return nil, fmt.Errorf("%w: response of %d bytes", ErrBadMessage, len(b))
	}
	r := &wireReader{b: b}
	v, c := r.u8(), code(r.u8())
	if r.err || v != wireVersion {
		return nil, fmt.Errorf("%w: response version %d", ErrBadMessage, v)
	}
	if c == codeOK {
		return r, nil
	}
	text := string(r.take(r.u16()))
	if !r.done() || len(text) > maxErrorText {
		return nil, fmt.Errorf("%w: malformed error response", ErrBadMessage)
	}
	if c >= codeLimit {
		return nil, fmt.Errorf("%w: unknown response code %d", ErrBadMessage, c)
	}
	return nil, &RemoteError{Node: node, Err: codeErrors[c], Text: printable(text)}
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

func parseStatus(r *wireReader) (*NodeStatus, error) {
	pk := r.take(custody.PublicKeySize)
	n := r.u64()
	if !r.done() {
		return nil, fmt.Errorf("%w: status response", ErrBadMessage)
	}
	pub, err := custody.ParsePublicKey(pk)
	if err != nil {
		return nil, fmt.Errorf("%w: node key: %w", ErrBadMessage, err)
	}
	return &NodeStatus{PublicKey: pub, Keys: n}, nil
}

func parseListing(r *wireReader) (*KeyListing, error) {
	l := &KeyListing{Epoch: r.u64()}
	n := r.u8()
	if n > MaxBatch {
		return nil, fmt.Errorf("%w: listing of %d slices", ErrBadMessage, n)
	}
	for range n {
		var e ListEntry
		e.Index = r.u32()
		copy(e.Commitment[:], r.take(CommitmentSize))
		l.Entries = append(l.Entries, e)
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: list response", ErrBadMessage)
	}
	return l, nil
}
