package psi

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

const (
	// KeySize is the size in bytes of the key shared by the parties in keyed
	// mode. It must be drawn uniformly at random (e.g. from crypto/rand).
	KeySize = 32

	// TagSize is the size in bytes of a keyed-mode tag. With 128-bit tags
	// the probability that any two of N distinct identifiers collide is at
	// most N²/2¹²⁹; for N = 5·10⁹ tags that is below 2⁻⁶⁴.
	TagSize = 16
)

// keyedLabel separates keyed-mode tags from any other use of the key. It is
// followed by the 32-byte session and then the identifier; both prefixes have
// a fixed length, so the encoding is injective without a length field.
const keyedLabel = "maskshare keyed tag v1"

// tagChunk is the smallest number of identifiers per goroutine in TagAll. A
// tag costs a few hundred nanoseconds, so below this starting a goroutine
// costs more than it saves.
const tagChunk = 2048

// maxPooledBuf bounds the message buffer that Tag keeps for reuse, so that an
// occasional very long identifier does not stay pinned in memory.
const maxPooledBuf = 1 << 10

// A Tag is the pseudonym of an identifier that the coordinator intersects.
type Tag [TagSize]byte

// SecretSize is the size in bytes of a record secret.
const SecretSize = 16

// A Secret is the part of an identifier's pseudorandom image that is never
// sent: it is known only to the parties that hold the identifier (and to
// whoever can evaluate the PRF on it). maskshare derives the mask that
// hides a record's aggregates from it.
type Secret [SecretSize]byte

// A Tagger computes the keyed-mode tags of one session. It is safe for
// concurrent use by multiple goroutines. The zero Tagger is not usable: it
// would tag under an all-zero key, so its methods panic.
type Tagger struct {
	key    [KeySize]byte
	prefix [len(keyedLabel) + 32]byte // keyedLabel || session
	pool   sync.Pool                  // of *tagState
}

// tagState is the per-goroutine scratch space of a Tagger.
type tagState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewTagger returns a Tagger for the session identified by session, under
// the shared key, which must be KeySize bytes long. Using a fresh session
// value for every run makes tags from different runs unlinkable even under
// the same key.
func NewTagger(key []byte, session [32]byte) (*Tagger, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("psi: keyed-mode key is %d bytes, want %d", len(key), KeySize)
	}
	t := new(Tagger)
	copy(t.key[:], key)
	copy(t.prefix[:], keyedLabel)
	copy(t.prefix[len(keyedLabel):], session[:])
	return t, nil
}

func (t *Tagger) newState() *tagState {
	// prefix starts with keyedLabel once NewTagger has run.
	if t.prefix[0] != keyedLabel[0] {
		panic("psi: Tagger not created by NewTagger")
	}
	st := &tagState{mac: hmac.New(sha256.New, t.key[:])}
	st.buf = append(make([]byte, 0, len(t.prefix)+64), t.prefix[:]...)
	return st
}

// tag computes the tag and secret of id with st's scratch space.
func (t *Tagger) tag(st *tagState, id string) (Tag, Secret) {
	// One Write of prefix || id: hmac.Hash has no WriteString, and writing
	// the parts separately would cost a []byte conversion of id.
	st.buf = append(st.buf[:len(t.prefix)], id...)
	st.mac.Reset()
	st.mac.Write(st.buf)
	sum := st.mac.Sum(st.sum[:0])
	return Tag(sum[:TagSize]), Secret(sum[TagSize:])
}

// Tag returns the tag and the secret of id: the first and the last 16 bytes
// of
//
//	HMAC-SHA256(key, "maskshare keyed tag v1" || session || id)
//
// id should be the output of Normalize.
func (t *Tagger) Tag(id string) (Tag, Secret) {
	st, _ := t.pool.Get().(*tagState)
	if st == nil {
		st = t.newState()
	}
	tg, sec := t.tag(st, id)
	if cap(st.buf) <= maxPooledBuf {
		t.pool.Put(st)
	}
	return tg, sec
}

// TagAll sets tags[i] and secrets[i] to t.Tag(ids[i]) for every i,
// spreading large inputs over GOMAXPROCS goroutines. secrets may be nil.
// It panics if a destination's length differs from len(ids).
func (t *Tagger) TagAll(tags []Tag, secrets []Secret, ids []string) {
	if len(tags) != len(ids) || secrets != nil && len(secrets) != len(ids) {
		panic(fmt.Sprintf("psi: TagAll with %d tags and %d secrets for %d identifiers", len(tags), len(secrets), len(ids)))
	}
	forChunks(len(ids), tagChunk, func(lo, hi int) {
		st := t.newState()
		for i := lo; i < hi; i++ {
			tg, sec := t.tag(st, ids[i])
			tags[i] = tg
			if secrets != nil {
				secrets[i] = sec
			}
		}
	})
}
