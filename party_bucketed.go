package maskshare

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/maskshare/maskshare/internal/wire"
)

// RecordWriter takes a bucketed session's records as each bucket is done,
// so that a party's result need not fit in memory. Records come bucket
// after bucket, in canonical order within a bucket. If the session fails
// afterwards the records written are not a result: the caller discards them
// (the CLI writes them to a temporary file that only success renames).
type RecordWriter interface {
	WriteRecord(r *Record) error
}

// bucketRun is the state of a party's bucketed session across buckets.
type bucketRun struct {
	input   bucketInput
	out     RecordWriter
	parts   bucketTables
	buckets int
	sizes   []int    // the result size of every bucket, from the Sizes
	carry   []uint64 // the party's own totals over the buckets done
	last    bool     // the bucket being aggregated is the last
	chain   []byte   // the bucket transcripts, hashed in turn
}

// runBucketed is Party.Run for a bucketed session. It is run's sequence
// with the intersection and the aggregation each run bucket by bucket: all
// buckets' intersections first, so that the result size is known (and
// checked against the minimum) before any bucket's values are revealed.
func (s *partySession) runBucketed(ctx context.Context) (*Result, error) {
	br := s.bucket
	s.ph.start("prepare")
	if err := br.input.check(&s.params); err != nil {
		return nil, s.learnSession(ctx, err)
	}
	s.bound = sizeBound(int(min(br.input.rows(), MaxRecords)))
	if br.input.rows() > int64(^uint32(0)>>1) {
		return nil, s.learnSession(ctx, &InputError{Row: -1, Other: -1, Err: ErrSchema, Detail: fmt.Sprintf("%d rows exceed the limit of %d", br.input.rows(), ^uint32(0)>>1)})
	}

	s.ph.start("keys")
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := s.exchangeKeys(ctx); err != nil {
		return nil, err
	}
	session := s.sid
	br.buckets = bucketCount(s.hellos, s.params.BucketRows)

	s.ph.start("partition")
	bk, err := newBucketer(s.group, session, br.buckets)
	if err != nil {
		return nil, err
	}
	if br.parts, err = br.input.partition(ctx, bk, &s.params, s.group, session); err != nil {
		return nil, err
	}
	defer br.parts.close()

	s.ph.start("intersect")
	s.ph.hold = true
	for b := range br.buckets {
		if err := s.intersectBucket(ctx, b); err != nil {
			return nil, err
		}
		s.ph.step(b+1, br.buckets, 0)
	}
	s.ph.hold = false
	msg, err := s.recv(ctx, wire.TypeSizes)
	if err != nil {
		return nil, err
	}
	want := br.buckets
	if s.params.Reveal == CardinalityOnly {
		want = 1
	}
	sz, err := wire.DecodeSizes(msg, want)
	if err != nil {
		return nil, coordinatorFault("sizes", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	total := 0
	for _, x := range sz.Sizes {
		br.sizes = append(br.sizes, int(x))
		total += int(x)
	}
	if uint64(total) > s.maxResultSize() {
		return nil, coordinatorFault("sizes", fmt.Errorf("%w: result of %d records, more than the set sizes allow (%d)", ErrProtocol, total, s.maxResultSize()))
	}
	if total < s.params.MinResultSize {
		return nil, coordinatorFault("sizes", fmt.Errorf("%w: result of %d below the minimum", ErrProtocol, total))
	}
	res := &Result{Size: total, Columns: slices.Clone(s.params.Columns)}

	if s.params.Reveal != CardinalityOnly {
		s.ph.start("aggregate")
		s.ph.hold = true
		br.carry = make([]uint64, s.cols)
		offset := 0
		for b := range br.buckets {
			br.last = b == br.buckets-1
			s.sid = stepSession(session, passAggregate, b, 0)
			if err := s.aggregateBucket(ctx, b, offset, res); err != nil {
				return nil, err
			}
			offset += br.sizes[b]
			s.ph.step(b+1, br.buckets, int64(offset))
		}
		s.ph.hold = false
	}

	s.ph.start("confirm")
	s.sid, s.size = session, total
	var chain []byte
	if br.chain != nil {
		chain = br.chain
	}
	res.Transcript = s.transcript(nil, chain)
	if err := s.confirm(ctx, res.Transcript); err != nil {
		return nil, err
	}
	return res, nil
}

// loadBucket makes bucket b the party's table for the next step, with its
// identifiers checked and normalised; rows maps its rows to the whole
// table's. A bucket may be empty.
func (s *partySession) loadBucket(b int) (rows []int64, err error) {
	t, rows, err := s.bucket.parts.load(b)
	if err != nil {
		return nil, err
	}
	in, err := prepareBucket(t, &s.params)
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) { // name the rows of the whole table
			if ie.Row >= 0 {
				ie.Row = int(rows[ie.Row])
			}
			if ie.Other >= 0 {
				ie.Other = int(rows[ie.Other])
			}
		}
		return nil, err
	}
	s.table, s.in = t, in
	return rows, nil
}

// intersectBucket runs bucket b's intersection: the tags of its rows to the
// coordinator (in the ecdh mode, after the lists' round of the ring, whose
// outcome is stashed for the aggregation).
func (s *partySession) intersectBucket(ctx context.Context, b int) error {
	if _, err := s.loadBucket(b); err != nil {
		return err
	}
	switch s.params.Mode {
	case Keyed:
		return s.keyedPSI(ctx)
	case ECDH:
		session := s.sid
		s.sid = stepSession(session, passIntersect, b, 0)
		defer func() { s.sid = session }()
		s.keepTags = true
		if err := s.ecdhPSI(ctx); err != nil {
			return err
		}
		st := &bucketState{tags: s.sentTags, order: s.order, secrets: s.secrets}
		s.sentTags, s.order, s.secrets = nil, nil, nil
		return s.bucket.parts.stash(b, st)
	}
	return fmt.Errorf("%w: mode %v has no bucketed sessions", ErrParams, s.params.Mode)
}

// aggregateBucket runs bucket b's aggregation: the tags again (the
// coordinator keeps no bucket between the passes), the Match, the checks
// and the masked vectors; its records go to the output with their
// canonical indexes offset by the records of the buckets before.
func (s *partySession) aggregateBucket(ctx context.Context, b, offset int, res *Result) error {
	rows, err := s.loadBucket(b)
	if err != nil {
		return err
	}
	switch s.params.Mode {
	case Keyed:
		if err := s.keyedPSI(ctx); err != nil {
			return err
		}
	case ECDH:
		st, err := s.bucket.parts.unstash(b)
		if err != nil {
			return err
		}
		s.in = nil
		s.order, s.secrets, s.listSize = st.order, st.secrets, len(st.order)
		if err := s.conn.Send(ctx, (&wire.Tags{Tags: st.tags}).Encode()); err != nil {
			return s.unavailable(err)
		}
	}
	s.wantSize = s.bucket.sizes[b]
	if err := s.receiveMatch(ctx); err != nil {
		return coordinatorFault("match", err)
	}
	part := &Result{Size: s.size, Columns: res.Columns}
	maskedTotals, valuesDigest, err := s.aggregate(ctx, part)
	if err != nil {
		return err
	}
	t := s.transcript(maskedTotals, valuesDigest)
	h := sha256.New()
	h.Write([]byte("maskshare bucket transcripts v1"))
	h.Write(s.bucket.chain)
	h.Write(t[:])
	s.bucket.chain = h.Sum(nil)
	if s.bucket.last {
		res.Totals = part.Totals
	}
	for i := range part.Records {
		r := &part.Records[i]
		r.Row = int(rows[r.Row])
		r.Index += offset
		if s.bucket.out == nil {
			res.Records = append(res.Records, *r)
		} else if err := s.bucket.out.WriteRecord(r); err != nil {
			return err
		}
	}
	return nil
}

// bucketTotals is what the party puts in a bucket's total words: nothing
// until the last bucket, then its totals over all buckets. The revealed
// totals of the other buckets are zero, so no bucket's own totals are
// revealed, only the session's.
func (s *partySession) bucketTotals(totals []uint64) {
	br := s.bucket
	if br == nil {
		return
	}
	for c, t := range totals {
		br.carry[c] += t
		totals[c] = 0
		if br.last {
			totals[c] = br.carry[c]
		}
	}
}

// listFits reports whether a list of n items fits the bound b a party
// announced: within a factor of two of it for a whole table, at most it for
// a bucket of one.
func (s *partySession) listFits(n int, b uint32) bool {
	if s.bucket != nil {
		return uint64(n) <= uint64(b)
	}
	return withinBound(n, b)
}

// matchBound is the largest result size the match check's words must
// cover: the set size bounds' for a whole session, the announced size of
// the bucket in a bucketed one (whose bucket sizes are revealed).
func (s *partySession) matchBound() uint64 {
	if s.bucket != nil {
		return uint64(s.size)
	}
	return s.maxResultSize()
}

// prepareBucket is prepare for one bucket of a table, which may be empty.
func prepareBucket(t *Table, p *Params) (*prepared, error) {
	if len(t.IDs) == 0 {
		return &prepared{}, nil
	}
	return prepare(t, p)
}
