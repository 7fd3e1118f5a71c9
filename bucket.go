package maskshare

// Bucketed sessions (docs/PROTOCOL.md, "Bucketed sessions"): the parties
// split their tables into buckets by a keyed hash of the identifier, which
// all of them compute alike and the coordinator cannot, and the session
// runs bucket by bucket, so that no participant holds more than a bucket's
// lists, vectors and records at a time.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
)

// MaxBucketRows bounds Params.BucketRows; MaxOPRFBucketRows bounds it in
// the oprf mode, whose bucket must fit one OPRF run (2^20 rows): a bucket's
// expected size is at most BucketRows, and at 2^19 it exceeds 2^20 with
// probability below e^-(2^19/3) (Chernoff).
const (
	MaxBucketRows     = 1 << 24
	MaxOPRFBucketRows = oprfMaxRows / 2
)

// labelBucket derives the key of the bucket function.
const labelBucket = "maskshare bucket key v1"

// Passes of a bucketed session, which domain-separate its steps.
const (
	passIntersect = 1 // every bucket's intersection: the result sizes
	passAggregate = 2 // every bucket's Match, checks and aggregation
)

// Kinds of steps of a bucketed session.
const (
	stepIntersect = iota // a bucket's intersection (first pass)
	stepSizes            // the result sizes
	stepAggregate        // a bucket's aggregation (second pass)
	stepWhole            // a bucket's intersection and aggregation (a single pass)
)

// bucketPlan is the sequence of steps of a bucketed session. With a
// minimum result size the session runs two passes, so that the size is
// known, and checked, before any bucket's values are revealed: every
// bucket's intersection, the sizes, every bucket's aggregation. Without
// one, it runs each bucket whole, in a single pass. Under the cardinality
// policy it runs the intersections and the sizes only.
type bucketPlan struct {
	buckets     int
	twoPass     bool
	cardinality bool
}

func newBucketPlan(p *Params, buckets int) bucketPlan {
	return bucketPlan{buckets: buckets, twoPass: p.MinResultSize > 0, cardinality: p.Reveal == CardinalityOnly}
}

// last is the number of the last step; steps are numbered from 1.
func (p bucketPlan) last() int {
	switch {
	case p.cardinality:
		return p.buckets + 1
	case p.twoPass:
		return 2*p.buckets + 1
	}
	return p.buckets
}

// step returns the kind of step number step and its bucket.
func (p bucketPlan) step(step int) (kind, bucket int) {
	switch {
	case p.cardinality || p.twoPass:
		if step <= p.buckets {
			return stepIntersect, step - 1
		}
		if step == p.buckets+1 {
			return stepSizes, 0
		}
		return stepAggregate, step - p.buckets - 2
	}
	return stepWhole, step - 1
}

// bucketCount is the number of buckets of a session whose largest set size
// bound is bound and whose parameters ask for rows rows per bucket: the
// smallest power of two B with bound ≤ B·rows, at most wire.MaxBuckets.
// Every participant computes it from the signed hellos.
func bucketCount(hellos []wire.Hello, rows int) int {
	var bound uint64
	for _, h := range hellos {
		bound = max(bound, uint64(h.Bound))
	}
	need := (bound + uint64(rows) - 1) / uint64(rows)
	b := 1
	if need > 1 {
		b = 1 << bits.Len64(need-1)
	}
	return min(b, wire.MaxBuckets)
}

// stepSession is the session id a step of a bucketed session derives its
// keys, masks and checks from in place of the session's own: every bucket
// of every pass gets fresh ones, and a step run again after a resume
// (attempt > 0) gets fresh ones again, so no mask or check key is ever used
// for two different messages.
func stepSession(sid [32]byte, pass, bucket, attempt int) [32]byte {
	h := sha256.New()
	h.Write([]byte("maskshare bucket step v1"))
	h.Write(sid[:])
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:], uint32(pass))
	binary.BigEndian.PutUint32(b[4:], uint32(bucket))
	binary.BigEndian.PutUint32(b[8:], uint32(attempt))
	h.Write(b[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// bucketer maps a normalised identifier to its bucket: the first 32 bits of
// a CBC-MAC under AES-128 of the identifier's length and then its bytes
// (a prefix-free encoding, on which CBC-MAC is a pseudorandom function),
// reduced to the bucket count, a power of two. Its key comes from the
// group secret, so the coordinator cannot compute it: a bucket says no more
// about an identifier than its tag does.
type bucketer struct {
	block cipher.Block
	mask  uint32
}

func newBucketer(group, sid [32]byte, buckets int) (*bucketer, error) {
	if buckets < 1 || buckets&(buckets-1) != 0 {
		return nil, fmt.Errorf("maskshare: %d buckets, want a power of two", buckets)
	}
	key := deriveKey(group, sid, labelBucket)
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	return &bucketer{block: block, mask: uint32(buckets - 1)}, nil
}

// of returns the bucket of the normalised identifier id.
func (b *bucketer) of(id string) int {
	var x, chunk [16]byte
	binary.BigEndian.PutUint64(x[8:], uint64(len(id)))
	b.block.Encrypt(x[:], x[:])
	for len(id) > 0 {
		n := copy(chunk[:], id)
		clear(chunk[n:])
		for i := range x {
			x[i] ^= chunk[i]
		}
		b.block.Encrypt(x[:], x[:])
		id = id[n:]
	}
	return int(binary.BigEndian.Uint32(x[:4]) & b.mask)
}

// bucketInput is a party's table as a bucketed session reads it.
type bucketInput interface {
	// rows is the number of rows of the whole table.
	rows() int64
	// check checks what can be checked of the whole table before the
	// session: the schema and overflow of the n-party sums.
	check(p *Params) error
	// partition splits the table into buckets by the bucket of each row's
	// identifier (normalised under p).
	partition(ctx context.Context, b *bucketer, p *Params, group, sid [32]byte) (bucketTables, error)
}

// bucketTables is a partitioned table.
type bucketTables interface {
	// load returns bucket b as a table, and the row of the whole table
	// each of its rows is.
	load(b int) (t *Table, rows []int64, err error)
	// stash keeps the state an ecdh intersection leaves for bucket b until
	// the bucket's aggregation; unstash returns it.
	stash(b int, st *bucketState) error
	unstash(b int) (*bucketState, error)
	// close releases what the partition holds.
	close() error
}

// bucketState is what a party keeps of a bucket's ecdh intersection for
// its aggregation: the tags it sent, in the order sent, the row of each,
// and the record secrets by row.
type bucketState struct {
	tags    []psi.Tag
	order   []int32
	secrets []psi.Secret
}

// tableInput is an in-memory table split into buckets in memory: a
// bucketed session over a Table, as the tests run them.
type tableInput struct{ t *Table }

func (in tableInput) rows() int64 {
	if in.t == nil {
		return 0
	}
	return int64(len(in.t.IDs))
}

func (in tableInput) check(p *Params) error {
	_, err := prepare(in.t, p)
	return err
}

func (in tableInput) partition(_ context.Context, b *bucketer, p *Params, _, _ [32]byte) (bucketTables, error) {
	parts := &tableBuckets{t: in.t, states: map[int]*bucketState{}}
	parts.rows = make([][]int64, b.mask+1)
	for r, id := range in.t.IDs {
		norm, err := psi.Normalize(id, p.FoldCase) // check has refused invalid ones
		if err != nil {
			return nil, &InputError{Row: r, Other: -1, Err: ErrInvalidID, Detail: err.Error()}
		}
		k := b.of(norm)
		parts.rows[k] = append(parts.rows[k], int64(r))
	}
	return parts, nil
}

type tableBuckets struct {
	t      *Table
	rows   [][]int64
	states map[int]*bucketState
}

func (tb *tableBuckets) load(b int) (*Table, []int64, error) {
	t := NewTable(len(tb.t.Values))
	vals := make([]int64, len(tb.t.Values))
	for _, r := range tb.rows[b] {
		for c := range vals {
			vals[c] = tb.t.Values[c][r]
		}
		t.AddRow(tb.t.IDs[r], vals...)
	}
	return t, tb.rows[b], nil
}

func (tb *tableBuckets) stash(b int, st *bucketState) error {
	tb.states[b] = st
	return nil
}

func (tb *tableBuckets) unstash(b int) (*bucketState, error) {
	st := tb.states[b]
	if st == nil {
		return nil, fmt.Errorf("maskshare: no intersection state for bucket %d", b)
	}
	delete(tb.states, b)
	return st, nil
}

func (tb *tableBuckets) close() error { return nil }
