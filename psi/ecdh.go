package psi

import (
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"filippo.io/edwards25519"

	"github.com/maskshare/maskshare/internal/ristretto255"
)

// ElementSize is the size in bytes of an encoded ristretto255 element.
const ElementSize = 32

// scalarSize is the size in bytes of an encoded ristretto255 scalar.
const scalarSize = 32

// ecdhDST is the domain separation tag of hash_to_ristretto255 in ECDH mode.
const ecdhDST = "maskshare-ecdh-v1"

// ecChunk is the number of elements a goroutine takes at a time in
// HashAndBlind and Blind. A scalar multiplication takes tens of
// microseconds, so a chunk is a few milliseconds of work: far more than
// taking it costs, and little for the other goroutines to wait for at the
// end.
const ecChunk = 64

// An Element is the canonical 32-byte encoding of a ristretto255 group
// element (RFC 9496, Section 4.3.2).
type Element [ElementSize]byte

// ErrInvalidElement is returned (wrapped) by Key.Blind for an input that is
// not the canonical encoding of a ristretto255 element, or that encodes the
// identity element.
var ErrInvalidElement = errors.New("psi: invalid group element")

// Reasons for rejecting a scalar or, appended to ErrInvalidElement, an element.
var (
	errScalarSize      = errors.New("psi: scalar is not 32 bytes")
	errScalarEncoding  = errors.New("psi: scalar is not canonically encoded")
	errScalarZero      = errors.New("psi: scalar is zero")
	errIdentityElement = errors.New("identity element")
	errNonCanonical    = errors.New("not a canonical ristretto255 encoding")
)

// A Key is a party's secret blinding scalar in ECDH mode: a uniformly random
// non-zero scalar modulo the ristretto255 group order ℓ. A Key must be used
// for one session only and never disclosed. It is safe for concurrent use
// (its scalar is only read). The zero Key is not usable; keys come from
// NewKey.
type Key struct {
	s *edwards25519.Scalar
}

// NewKey returns a new Key drawn uniformly from the non-zero scalars, using
// crypto/rand.
func NewKey() (*Key, error) {
	var b [scalarSize]byte
	defer clear(b[:])
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("psi: reading randomness: %w", err)
		}
		// ℓ is just above 2²⁵², so rejection sampling from [0, 2²⁵³) is
		// exactly uniform and needs two draws on average.
		b[scalarSize-1] &= 0x1f
		if k, err := keyFromBytes(b[:]); err == nil {
			return k, nil
		}
	}
}

// keyFromBytes returns the Key whose scalar is encoded as b: 32 bytes, little
// endian, less than ℓ, and not zero. It exists for known-answer tests; keys
// in a session must come from NewKey.
func keyFromBytes(b []byte) (*Key, error) {
	if len(b) != scalarSize {
		return nil, errScalarSize
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		return nil, errScalarEncoding
	}
	if s.Equal(edwards25519.NewScalar()) == 1 {
		return nil, errScalarZero
	}
	return &Key{s: s}, nil
}

// Bytes returns the encoding of k's scalar (32 bytes, little endian), for a
// party's sealed checkpoint: a bucketed session that resumes must blind
// with the key its Hello committed to.
func (k *Key) Bytes() []byte { return k.scalar().Bytes() }

// KeyFromBytes returns the Key that Bytes encoded. It refuses any other
// encoding (non-canonical, or zero).
func KeyFromBytes(b []byte) (*Key, error) { return keyFromBytes(b) }

// scalar returns k's scalar, which its users only read.
func (k *Key) scalar() *edwards25519.Scalar {
	if k.s == nil {
		panic("psi: Key not created by NewKey")
	}
	return k.s
}

// HashAndBlind sets dst[i] to k·H(session || ids[i]) for every i, where H is
// hash_to_ristretto255 from RFC 9380 (expand_message_xmd with SHA-512, then
// RFC 9496 element derivation) with the domain separation tag
// "maskshare-ecdh-v1". The identifiers should be
// outputs of Normalize. The work is spread over GOMAXPROCS goroutines.
// HashAndBlind panics if len(dst) != len(ids).
func (k *Key) HashAndBlind(dst []Element, ids []string, session [32]byte) {
	k.hashAndBlind(dst, ids, session, nil)
}

// HashAndBlindSum is HashAndBlind that also returns the weighted sum
// Σ coef[i]·dst[i] of its outputs, computed as they are made (variable
// time in coef: see multiScalarMul). It panics if len(coef) != len(ids).
func (k *Key) HashAndBlindSum(dst []Element, ids []string, session [32]byte, coef []uint64) Element {
	if len(coef) != len(ids) {
		panic(fmt.Sprintf("psi: HashAndBlindSum with %d coefficients for %d identifiers", len(coef), len(ids)))
	}
	var sum Element
	encodeElement(&sum, k.hashAndBlind(dst, ids, session, coef))
	return sum
}

func (k *Key) hashAndBlind(dst []Element, ids []string, session [32]byte, coef []uint64) *edwards25519.Point {
	if len(dst) != len(ids) {
		panic(fmt.Sprintf("psi: HashAndBlind with %d destinations for %d identifiers", len(dst), len(ids)))
	}
	ks := k.scalar()
	sums := make([]*edwards25519.Point, runtime.GOMAXPROCS(0))
	runDynamic(len(ids), ecChunk, func(g int, next func() (int, int, bool)) {
		var h, out edwards25519.Point
		dstTag := []byte(ecdhDST)
		msg := make([]byte, 0, len(session)+64)
		msg = append(msg, session[:]...)
		var acc *msmAcc
		if coef != nil {
			acc = newMSMAcc(perWorker(len(ids)))
		}
		for lo, hi, ok := next(); ok; lo, hi, ok = next() {
			for i := lo; i < hi; i++ {
				msg = append(msg[:len(session)], ids[i]...)
				// The identity has probability about 2⁻²⁵² here, so it is
				// not checked for; Blind would reject it downstream.
				ristretto255.HashToElement(&h, msg, dstTag)
				out.ScalarMult(ks, &h)
				encodeElement(&dst[i], &out)
				if acc != nil {
					acc.add(&out, coef[i])
				}
			}
		}
		if acc != nil {
			sums[g] = acc.sum()
		}
	})
	if coef == nil {
		return nil
	}
	return mergeSums(sums)
}

// Blind sets dst[i] to k·src[i] for every i; dst may be src itself. Every
// element of src is decoded and checked first: if one is not a canonical
// ristretto255 encoding or is the identity, Blind returns an error wrapping
// ErrInvalidElement that names the index of the first such element, and dst
// is left unchanged. The work is spread over GOMAXPROCS goroutines. Blind
// panics if len(dst) != len(src).
func (k *Key) Blind(dst, src []Element) error {
	_, err := k.blind(dst, src, nil)
	return err
}

// BlindSum is Blind that also returns the weighted sum Σ coef[i]·src[i] of
// its inputs, on the elements Blind decodes anyway (variable time in coef:
// see multiScalarMul). It panics if len(coef) != len(src).
func (k *Key) BlindSum(dst, src []Element, coef []uint64) (Element, error) {
	if len(coef) != len(src) {
		panic(fmt.Sprintf("psi: BlindSum with %d coefficients for %d elements", len(coef), len(src)))
	}
	var sum Element
	p, err := k.blind(dst, src, coef)
	if err != nil {
		return sum, err
	}
	encodeElement(&sum, p)
	return sum, nil
}

func (k *Key) blind(dst, src []Element, coef []uint64) (*edwards25519.Point, error) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("psi: Blind with %d destinations for %d elements", len(dst), len(src)))
	}
	// Results go to a scratch slice so that dst, which may alias src, is
	// untouched on error; decoding twice instead would cost an extra
	// inverse square root per element.
	ks := k.scalar()
	out := make([]Element, len(src))
	sums := make([]*edwards25519.Point, runtime.GOMAXPROCS(0))
	var firstBad atomic.Int64
	firstBad.Store(int64(len(src)))
	runDynamic(len(src), ecChunk, func(g int, next func() (int, int, bool)) {
		var in, res edwards25519.Point
		var acc *msmAcc
		if coef != nil {
			acc = newMSMAcc(perWorker(len(src)))
		}
	chunks:
		for lo, hi, ok := next(); ok; lo, hi, ok = next() {
			for i := lo; i < hi; i++ {
				// A bad element before i has been found: nothing from
				// here on can be the first one.
				if firstBad.Load() < int64(i) {
					break chunks
				}
				if err := decodeElement(&in, &src[i]); err != nil {
					storeMin(&firstBad, int64(i))
					break chunks
				}
				if acc != nil {
					acc.add(&in, coef[i])
				}
				encodeElement(&out[i], res.ScalarMult(ks, &in))
			}
		}
		if acc != nil {
			sums[g] = acc.sum()
		}
	})
	if i := firstBad.Load(); i < int64(len(src)) {
		// Decode the culprit again for the reason; workers only keep its index.
		why := decodeElement(new(edwards25519.Point), &src[i])
		return nil, fmt.Errorf("%w at index %d: %v", ErrInvalidElement, i, why)
	}
	copy(dst, out)
	if coef == nil {
		return nil, nil
	}
	return mergeSums(sums), nil
}

// Div returns the key k·t⁻¹. A party that blinded its list with a one-time
// key t, and gets it back blinded by every other party, applies k.Div(t)
// to remove t and apply its own key in one multiplication.
func (k *Key) Div(t *Key) *Key {
	inv := edwards25519.NewScalar().Invert(t.scalar())
	return &Key{s: inv.Multiply(k.scalar(), inv)}
}

// ecdhTagLabel separates the tags of fully blinded elements.
const ecdhTagLabel = "maskshare ecdh tag v2"

// ElementTags sets tags[i] and secrets[i] to the first and the second 16
// bytes of
//
//	SHA-512("maskshare ecdh tag v2" || session || elems[i])
//
// for every i: the tag the coordinator intersects, and the secret that only
// the holders of the identifier learn. elems are fully blinded elements,
// computed by the party itself. The work is spread over GOMAXPROCS
// goroutines. ElementTags panics if the lengths differ.
func ElementTags(tags []Tag, secrets []Secret, elems []Element, session [32]byte) {
	if len(tags) != len(elems) || len(secrets) != len(elems) {
		panic(fmt.Sprintf("psi: ElementTags with %d tags and %d secrets for %d elements", len(tags), len(secrets), len(elems)))
	}
	forChunks(len(elems), tagChunk, func(lo, hi int) {
		h := sha512.New()
		var sum [sha512.Size]byte
		for i := lo; i < hi; i++ {
			h.Reset()
			h.Write([]byte(ecdhTagLabel))
			h.Write(session[:])
			h.Write(elems[i][:])
			h.Sum(sum[:0])
			tags[i], secrets[i] = Tag(sum[:TagSize]), Secret(sum[TagSize:TagSize+SecretSize])
		}
	})
}

// decodeElement sets e to the element encoded as b and rejects non-canonical
// encodings and the identity. The identity must be rejected because k·0 = 0
// for every key: it would carry over unchanged and match across parties.
func decodeElement(e *edwards25519.Point, b *Element) error {
	if ristretto255.Decode(e, b[:]) != nil {
		return errNonCanonical
	}
	if ristretto255.IsIdentity(e) {
		return errIdentityElement
	}
	return nil
}

// encodeElement writes the canonical encoding of e to b.
func encodeElement(b *Element, e *edwards25519.Point) {
	ristretto255.AppendEncoding(b[:0], e)
}

// storeMin lowers v to x if x is smaller.
func storeMin(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x >= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}
