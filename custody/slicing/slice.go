package slicing

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/internal/binfmt"
)

// Limits of a slice.
const (
	// MaxShareSize bounds a slice's share bytes: a Pedersen share is two
	// scalars and an index, under 100 bytes, so this leaves room for any
	// encoding package share chooses.
	MaxShareSize = 1024
	// MaxSealedSliceSize bounds an encoded [SealedSlice].
	MaxSealedSliceSize = 1 + 2*(1+custody.MaxIDLen) + 4 + 4 + CommitmentSize + 4 + custody.EnvelopeOverhead + MaxShareSize
	// CommitmentSize is the size of a slice's commitment hash.
	CommitmentSize = 32
)

// Sentinel errors of the key node and its client (package slicing).
var (
	// ErrBadSlice reports a slice or sealed slice that does not decode or
	// validate, or that does not open for its node.
	ErrBadSlice = errors.New("slicing: invalid slice")
	// ErrBadMessage reports a key node request or response that does not
	// decode.
	ErrBadMessage = errors.New("slicing: malformed key node message")
	// ErrStaleEpoch reports a slice of an epoch older than the one the
	// node holds (refresh made it obsolete), or a refresh that does not
	// move to a newer epoch.
	ErrStaleEpoch = errors.New("slicing: stale epoch")
	// ErrSliceNotFound reports that a node holds no slice for the user,
	// key and epoch asked for.
	ErrSliceNotFound = errors.New("slicing: no such slice")
	// ErrForbidden reports a store, refresh or list by a peer that neither
	// registered the key nor is an institution.
	ErrForbidden = errors.New("slicing: not allowed for this peer")
	// ErrConflict reports a store of a slice whose index the node already
	// holds, at the same epoch, with other content: slices are never
	// overwritten.
	ErrConflict = errors.New("slicing: a different slice is already stored")
	// ErrNodeInternal reports a failure inside the key node (its disk,
	// say).
	ErrNodeInternal = errors.New("slicing: key node failure")
)

// Slice is one share of a user key, as the user's device makes it and a
// node keeps it. The share bytes are opaque here: package share makes and
// checks them.
type Slice struct {
	UserID, KeyID string
	// Epoch counts refreshes: the slices of one epoch are shares of one
	// sharing; a refresh makes new ones of the same secret. It is the
	// epoch of the share and of its commitments (package share).
	Epoch uint32
	// Index is the share index, 1 or more (0 would be the secret).
	Index uint32
	// Commitment is the hash of the sharing's public commitments, which
	// the share verifies against.
	Commitment [CommitmentSize]byte
	// Share is the share, in package share's encoding. Secret.
	Share []byte
}

// String describes s without its share, so that printing or logging a
// slice does not leak it.
func (s Slice) String() string {
	return fmt.Sprintf("slicing.Slice{user %q, key %q, epoch %d, index %d}", s.UserID, s.KeyID, s.Epoch, s.Index)
}

// GoString is String, so that %#v does not print the share either.
func (s Slice) GoString() string { return s.String() }

func checkHeader(user, key string, index uint32) error {
	switch {
	case !custody.ValidID(user):
		return fmt.Errorf("%w: user id %q", ErrBadSlice, user)
	case !custody.ValidID(key):
		return fmt.Errorf("%w: key id %q", ErrBadSlice, key)
	case index == 0:
		return fmt.Errorf("%w: share index 0", ErrBadSlice)
	}
	return nil
}

// sliceInfo binds a sealed slice to its user, key, epoch, index and
// commitment: an envelope moved to another of any of them does not open.
func sliceInfo(user, key string, epoch uint32, index uint32, commitment *[CommitmentSize]byte) []byte {
	return custody.Info("slicing/slice",
		[]byte(user), []byte(key),
		binary.BigEndian.AppendUint32(nil, epoch),
		binary.BigEndian.AppendUint32(nil, index),
		commitment[:])
}

// SealedSlice is a [Slice] sealed to one recipient: a key node's public key
// while the node keeps it, the requester's fresh key once released. Its
// header is public; the share is inside the envelope, whose HPKE info binds
// the header (see [custody.Info]: label "slicing/slice", fields user id,
// key id, u32 epoch, u32 index, commitment).
type SealedSlice struct {
	UserID, KeyID string
	Epoch         uint32
	Index         uint32
	Commitment    [CommitmentSize]byte
	Envelope      []byte
}

// SealSlice seals s to the recipient's public key.
func SealSlice(to *custody.PublicKey, s *Slice) (*SealedSlice, error) {
	if err := checkHeader(s.UserID, s.KeyID, s.Index); err != nil {
		return nil, err
	}
	if len(s.Share) == 0 || len(s.Share) > MaxShareSize {
		return nil, fmt.Errorf("%w: share of %d bytes (1 to %d)", ErrBadSlice, len(s.Share), MaxShareSize)
	}
	env, err := custody.Seal(to, sliceInfo(s.UserID, s.KeyID, s.Epoch, s.Index, &s.Commitment), s.Share)
	if err != nil {
		return nil, err
	}
	return &SealedSlice{UserID: s.UserID, KeyID: s.KeyID, Epoch: s.Epoch, Index: s.Index, Commitment: s.Commitment, Envelope: env}, nil
}

// Open opens ss with the recipient's private key. It fails (wrapping
// [custody.ErrOpen]) if ss was sealed to another key or its header was
// changed.
func (ss *SealedSlice) Open(priv *custody.PrivateKey) (*Slice, error) {
	if err := checkHeader(ss.UserID, ss.KeyID, ss.Index); err != nil {
		return nil, err
	}
	share, err := custody.Open(priv, sliceInfo(ss.UserID, ss.KeyID, ss.Epoch, ss.Index, &ss.Commitment), ss.Envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: user %q, key %q, epoch %d, index %d: %w", ErrBadSlice, ss.UserID, ss.KeyID, ss.Epoch, ss.Index, err)
	}
	if len(share) == 0 || len(share) > MaxShareSize {
		clear(share)
		return nil, fmt.Errorf("%w: share of %d bytes", ErrBadSlice, len(share))
	}
	return &Slice{UserID: ss.UserID, KeyID: ss.KeyID, Epoch: ss.Epoch, Index: ss.Index, Commitment: ss.Commitment, Share: share}, nil
}

const sealedSliceVersion = 1

// AppendBinary appends the encoding of ss:
//
//	version (1) || u8 len || user id || u8 len || key id || u32 epoch ||
//	u32 index || commitment (32) || u32 len || envelope
//
// Integers are big-endian.
func (ss *SealedSlice) AppendBinary(b []byte) ([]byte, error) {
	if err := checkHeader(ss.UserID, ss.KeyID, ss.Index); err != nil {
		return nil, err
	}
	if len(ss.Envelope) > custody.EnvelopeOverhead+MaxShareSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes", ErrBadSlice, len(ss.Envelope))
	}
	b = append(b, sealedSliceVersion)
	b = binfmt.AppendString8(b, ss.UserID)
	b = binfmt.AppendString8(b, ss.KeyID)
	b = binary.BigEndian.AppendUint32(b, ss.Epoch)
	b = binary.BigEndian.AppendUint32(b, ss.Index)
	b = append(b, ss.Commitment[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ss.Envelope)))
	return append(b, ss.Envelope...), nil
}

// MarshalBinary returns the encoding of ss (see [SealedSlice.AppendBinary]).
func (ss *SealedSlice) MarshalBinary() ([]byte, error) { return ss.AppendBinary(nil) }

// ParseSealedSlice decodes [SealedSlice.MarshalBinary], checking the header
// and the envelope's framing.
func ParseSealedSlice(b []byte) (*SealedSlice, error) {
	if len(b) > MaxSealedSliceSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadSlice, len(b), MaxSealedSliceSize)
	}
	r := newWireReader(b)
	ss, err := r.sealedSlice()
	if err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, fmt.Errorf("%w: %d bytes after the envelope", ErrBadSlice, r.Len())
	}
	return ss, nil
}

func (r *wireReader) sealedSlice() (*SealedSlice, error) {
	if v := r.U8(); v != sealedSliceVersion && !r.Failed() {
		return nil, fmt.Errorf("%w: version %d", ErrBadSlice, v)
	}
	ss := &SealedSlice{}
	ss.UserID = r.String8()
	ss.KeyID = r.String8()
	ss.Epoch = r.U32()
	ss.Index = r.U32()
	r.Fill(ss.Commitment[:])
	n := r.U32()
	if n > custody.EnvelopeOverhead+MaxShareSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes", ErrBadSlice, n)
	}
	ss.Envelope = r.Bytes(int(n))
	if r.Failed() {
		return nil, fmt.Errorf("%w: truncated", ErrBadSlice)
	}
	if err := checkHeader(ss.UserID, ss.KeyID, ss.Index); err != nil {
		return nil, err
	}
	if _, err := custody.ParseEnvelope(ss.Envelope); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSlice, err)
	}
	return ss, nil
}

// wireReader decodes slices and key node messages: the shared field
// reader and this package's composite fields.
type wireReader struct{ binfmt.Reader }

func newWireReader(b []byte) *wireReader {
	r := new(wireReader)
	r.Reset(b)
	return r
}
