package maskshare

import (
	"context"
	"fmt"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
)

// runBucketed is the rest of run for a bucketed session, after the keys:
// every bucket's intersection, the result sizes (checked against the
// minimum before anything else), then every bucket's Match and
// aggregation. Between the passes the coordinator keeps only the sizes:
// the parties send a bucket's tags again for its aggregation.
func (s *coordSession) runBucketed(ctx context.Context, rep *Report) (*Report, error) {
	s.bucketed = true
	session := s.sid
	buckets := bucketCount(s.hellos, s.params.BucketRows)
	sizes := make([]int, buckets)
	lists := make([][]int, buckets) // every party's list size in every bucket
	rep.SetSizes = make([]int, s.n)

	s.ph.start("intersect")
	s.ph.hold = true
	for b := range buckets {
		if s.params.Mode == ECDH {
			s.sid = stepSession(session, passIntersect, b, 0)
			if err := s.blindingRounds(ctx); err != nil {
				return nil, err
			}
		}
		size, _, err := s.bucketTags(ctx, b)
		if err != nil {
			return nil, err
		}
		sizes[b], lists[b] = size, s.listSizes
		for i, l := range s.listSizes {
			rep.SetSizes[i] += l
		}
		s.listSizes = nil
		s.ph.step(b+1, buckets, 0)
	}
	s.ph.hold = false
	s.sid = session
	for i, h := range s.hellos {
		if !withinBound(rep.SetSizes[i], h.Bound) {
			return nil, fmt.Errorf("%w: party %s's buckets hold %d rows, which its set size bound %d does not allow", ErrProtocol, s.params.Parties[i], rep.SetSizes[i], h.Bound)
		}
	}
	total := 0
	for _, x := range sizes {
		total += x
	}
	rep.Size = total
	s.ph.log.Info("intersection", "set_sizes", rep.SetSizes, "result_size", total, "buckets", buckets)
	s.revealedRun()
	s.counted = true
	if total < s.params.MinResultSize {
		return nil, ErrResultTooSmall
	}
	m := &wire.Sizes{}
	if s.params.Reveal == CardinalityOnly {
		m.Sizes = []uint32{uint32(total)}
	} else {
		for _, x := range sizes {
			m.Sizes = append(m.Sizes, uint32(x))
		}
	}
	msg := m.Encode()
	for i := range s.conns {
		if err := s.send(ctx, i, msg); err != nil {
			return nil, err
		}
	}

	if s.params.Reveal != CardinalityOnly {
		s.ph.start("aggregate")
		s.ph.hold = true
		for b := range buckets {
			s.sid = stepSession(session, passAggregate, b, 0)
			s.listSizes = lists[b]
			size, found, err := s.bucketTags(ctx, b)
			if err != nil {
				return nil, err
			}
			if size != sizes[b] {
				return nil, fmt.Errorf("%w: bucket %d has %d records in its aggregation, %d in its intersection: a party's tags changed", ErrProtocol, b, size, sizes[b])
			}
			if err := s.settle(ctx, rep, found, size, nil); err != nil {
				return nil, err
			}
			s.ph.step(b+1, buckets, 0)
		}
		s.ph.hold = false
		s.sid = session
	}
	if err := s.confirm(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}

// bucketTags gathers every party's tags of bucket b and intersects them.
// Each list must fit its party's bound and, where s.listSizes is set (the
// ecdh lists, or the first pass's), have that size; s.listSizes is set to
// the sizes found.
func (s *coordSession) bucketTags(ctx context.Context, b int) (size int, found [][]psi.Match, err error) {
	tags := make([][]psi.Tag, s.n)
	if err := s.gather(ctx, wire.TypeTags, func(i int) int64 { return tagsSize(s.hellos[i].Bound) }, func(i int, msg []byte) error {
		m, err := wire.DecodeTags(msg)
		if err != nil {
			return err
		}
		if !s.listFits(len(m.Tags), s.hellos[i].Bound) || s.listSizes != nil && len(m.Tags) != s.listSizes[i] {
			return fmt.Errorf("%w: party %s sent %d tags for bucket %d, which its set size bound %d or list does not allow", ErrProtocol, s.params.Parties[i], len(m.Tags), b, s.hellos[i].Bound)
		}
		tags[i] = m.Tags
		return nil
	}); err != nil {
		return 0, nil, err
	}
	size, found, err = psi.Intersect(tags, s.params.threshold())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	s.listSizes = listSizes(tags)
	return size, found, nil
}

// listFits reports whether a list of n items fits the bound b a party
// announced: within a factor of two of it for a whole table, at most it for
// a bucket of one.
func (s *coordSession) listFits(n int, b uint32) bool {
	if s.bucketed {
		return uint64(n) <= uint64(b)
	}
	return withinBound(n, b)
}

// matchBound is the largest result size the match check's words must
// cover: the set size bounds' for a whole session, the bucket's size in a
// bucketed one.
func (s *coordSession) matchBound(size int) uint64 {
	if s.bucketed {
		return uint64(size)
	}
	return maxResultSize(s.hellos, s.params.threshold())
}
