package slicing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/share"
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
	// MaxCommitmentsSize bounds encoded commitments (package share's
	// largest threshold).
	MaxCommitmentsSize = 8 + 32*share.MaxThreshold
	// MaxRequestSize bounds a request.
	MaxRequestSize = 2 + 4 + MaxCommitmentsSize + 2 + maxParcels*(10+maxParcelSize)
	// MaxResponseSize bounds a response: a release, or the repair pieces
	// of a node holding MaxBatch helper indexes.
	MaxResponseSize = 2 + 4 + MaxCommitmentsSize + 2 + maxParcels*(10+maxParcelSize)
	// maxErrorText bounds the text of an error response.
	maxErrorText = 512
)

// Wire format. A request is version (1) || op (1) || body; a response is
// version (1) || code (1) || body, where code 0 means success and any other
// code is an error whose body is u16 len || text.
const wireVersion = 1

type op byte

// Ops and their bodies. A slice batch is u8 count (1 to MaxBatch) ||
// (u32 len || sealed slice)..., all of one user, key and epoch, with
// distinct indexes; commitments are u32 len || package share's encoding.
const (
	// Body: empty. Reply: node public key (custody.PublicKeySize) || u64 keys held.
	opStatus op = 1
	// Body: commitments || batch. Reply: empty.
	opStore op = 2
	// Body: commitments || batch (a newer epoch). Reply: empty.
	opRefresh op = 3
	// Body: u8 len || user || u8 len || key || u32 epoch || u16 len || authorisation.
	// Reply: commitments || batch (sealed to the requester).
	opRelease op = 4
	// Body: u8 len || user || u8 len || key.
	// Reply: commitments || u8 count || u32 index....
	opList op = 5
	// Body: delta commitments || batch of delta shares for the next epoch.
	// Reply: the new commitments.
	opApplyRefresh op = 6
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
	case opApplyRefresh:
		return "apply-refresh"
	case opRepairSplit:
		return "repair-split"
	case opRepairCombine:
		return "repair-combine"
	case opRepairFinish:
		return "repair-finish"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

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
	codeBadShare
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
	codeBadShare:         share.ErrBadShare,
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
	case errors.Is(err, share.ErrEpoch):
		return codeStaleEpoch
	case errors.Is(err, ErrBadSlice), errors.Is(err, custody.ErrBadKey), errors.Is(err, custody.ErrBadEnvelope),
		errors.Is(err, share.ErrFormat), errors.Is(err, share.ErrParams):
		return codeBadRequest
	}
	return codeInternal
}

// request is a decoded request.
type request struct {
	op          op
	commitments *share.Commitments // store, refresh, apply-refresh
	slices      []*SealedSlice     // store, refresh, apply-refresh
	user        string             // release, list
	key         string
	epoch       uint32         // release
	auth        []byte         // release
	repair      *repairRequest // repair-split, -combine, -finish
}

func appendCommitments(b []byte, c *share.Commitments) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no commitments", ErrBadMessage)
	}
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := c.AppendBinary(b)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b, nil
}

func (r *wireReader) commitments() (*share.Commitments, error) {
	n := r.U32()
	if n > MaxCommitmentsSize {
		return nil, fmt.Errorf("%w: commitments of %d bytes", ErrBadMessage, n)
	}
	enc := r.Bytes(int(n))
	if r.Failed() {
		return nil, fmt.Errorf("%w: truncated commitments", ErrBadMessage)
	}
	c := new(share.Commitments)
	if err := c.UnmarshalBinary(enc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return c, nil
}

func (q *request) marshal() ([]byte, error) {
	if q.repair != nil {
		return q.repair.marshal()
	}
	b := []byte{wireVersion, byte(q.op)}
	var err error
	switch q.op {
	case opStatus:
	case opStore, opRefresh, opApplyRefresh:
		if b, err = appendCommitments(b, q.commitments); err != nil {
			return nil, err
		}
		b, err = appendBatch(b, q.slices)
	case opRelease:
		if len(q.auth) > custody.MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, len(q.auth))
		}
		b = binfmt.AppendString8(b, q.user)
		b = binfmt.AppendString8(b, q.key)
		b = binary.BigEndian.AppendUint32(b, q.epoch)
		b = binfmt.AppendBytes16(b, q.auth)
	case opList:
		b = binfmt.AppendString8(b, q.user)
		b = binfmt.AppendString8(b, q.key)
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
	r := newWireReader(b)
	if v := r.U8(); v != wireVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadMessage, v)
	}
	q := &request{op: op(r.U8())}
	var err error
	switch q.op {
	case opStatus:
	case opStore, opRefresh, opApplyRefresh:
		if q.commitments, err = r.commitments(); err != nil {
			return nil, err
		}
		if q.slices, err = r.batch(); err != nil {
			return nil, err
		}
		if err := checkCommitments(q.commitments, q.slices); err != nil {
			return nil, err
		}
	case opRelease:
		q.user, q.key = r.String8(), r.String8()
		q.epoch = r.U32()
		q.auth = r.Bytes16(math.MaxUint16)
		if !r.Failed() && len(q.auth) > custody.MaxAuthorizationSize {
			return nil, fmt.Errorf("%w: authorisation of %d bytes", ErrBadMessage, len(q.auth))
		}
	case opList:
		q.user, q.key = r.String8(), r.String8()
	case opRepairSplit, opRepairCombine, opRepairFinish:
		if q.repair, err = parseRepairRequest(q.op, r); err != nil {
			return nil, err
		}
		return q, nil
	default:
		return nil, fmt.Errorf("%w: unknown op %d", ErrBadMessage, byte(q.op))
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: %v request truncated or with trailing bytes", ErrBadMessage, q.op)
	}
	if q.op == opRelease || q.op == opList {
		if !custody.ValidID(q.user) || !custody.ValidID(q.key) {
			return nil, fmt.Errorf("%w: invalid user or key id", ErrBadMessage)
		}
	}
	return q, nil
}

// checkCommitments checks that a batch's slices are bound to c: same
// epoch, and c's hash as their commitment.
func checkCommitments(c *share.Commitments, batch []*SealedSlice) error {
	h := c.Hash()
	for _, ss := range batch {
		if ss.Epoch != c.Epoch || ss.Commitment != h {
			return fmt.Errorf("%w: slice %d (epoch %d) is not bound to the commitments sent with it (epoch %d)", ErrBadMessage, ss.Index, ss.Epoch, c.Epoch)
		}
	}
	return nil
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
	n := r.U8()
	if r.Failed() {
		return nil, fmt.Errorf("%w: truncated batch", ErrBadMessage)
	}
	if n == 0 || n > MaxBatch {
		return nil, fmt.Errorf("%w: batch of %d slices (1 to %d)", ErrBadMessage, n, MaxBatch)
	}
	slices := make([]*SealedSlice, 0, n)
	for range n {
		l := r.U32()
		if l > MaxSealedSliceSize {
			return nil, fmt.Errorf("%w: sealed slice of %d bytes", ErrBadMessage, l)
		}
		enc := r.Bytes(int(l))
		if r.Failed() {
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

// KeyListing is what a node holds for one user key.
type KeyListing struct {
	Commitments *share.Commitments // of the current epoch
	Indexes     []uint32
}

// Epoch is the node's current epoch for the key.
func (l *KeyListing) Epoch() uint32 { return l.Commitments.Epoch }

func marshalStatus(s *NodeStatus) []byte {
	b := s.PublicKey.Bytes()
	return binary.BigEndian.AppendUint64(b, s.Keys)
}

func marshalListing(l *KeyListing) ([]byte, error) {
	b, err := appendCommitments(nil, l.Commitments)
	if err != nil {
		return nil, err
	}
	b = append(b, byte(len(l.Indexes)))
	for _, x := range l.Indexes {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b, nil
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
	c, body, text, err := custody.SplitResponse(b, maxErrorText)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	case c == uint8(codeOK):
		return newWireReader(body), nil
	case c >= uint8(codeLimit):
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
	pk := r.Bytes(custody.PublicKeySize)
	n := r.U64()
	if !r.Done() {
		return nil, fmt.Errorf("%w: status response", ErrBadMessage)
	}
	pub, err := custody.ParsePublicKey(pk)
	if err != nil {
		return nil, fmt.Errorf("%w: node key: %w", ErrBadMessage, err)
	}
	return &NodeStatus{PublicKey: pub, Keys: n}, nil
}

func parseListing(r *wireReader) (*KeyListing, error) {
	c, err := r.commitments()
	if err != nil {
		return nil, err
	}
	l := &KeyListing{Commitments: c}
	n := r.U8()
	if n > MaxBatch {
		return nil, fmt.Errorf("%w: listing of %d slices", ErrBadMessage, n)
	}
	for range n {
		l.Indexes = append(l.Indexes, r.U32())
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: list response", ErrBadMessage)
	}
	return l, nil
}
