package maskshare

import (
	"context"
	"errors"
	"fmt"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/psi"
)

// coordBuckets is what the coordinator keeps of a bucketed session
// between steps.
type coordBuckets struct {
	buckets int
	attempt int
	sizes   []int   // every bucket's result size
	lists   [][]int // every party's list size in every bucket
}

// runBucketed is the rest of run for a bucketed session, after the keys
// (or the rejoin of a suspended session, which resumes at step start): the
// steps of its bucketPlan. Between two passes the coordinator keeps only
// the sizes: the parties send a bucket's tags again for its aggregation.
func (s *coordSession) runBucketed(ctx context.Context, rep *Report, start int) (*Report, error) {
	cb := s.buckets
	cb.buckets = bucketCount(s.hellos, s.params.BucketRows)
	plan := newBucketPlan(&s.params, cb.buckets)
	if cb.sizes == nil {
		cb.sizes, cb.lists = make([]int, cb.buckets), make([][]int, cb.buckets)
	}
	for step := start; step <= plan.last(); step++ {
		kind, b := plan.step(step)
		rec := &stepRecord{step: uint32(step), attempt: uint32(cb.attempt)}
		switch kind {
		case stepIntersect, stepWhole:
			if step == start || b == 0 {
				s.ph.hold = false
				phase := "aggregate" // a bucket whole: intersection and aggregation
				if kind == stepIntersect {
					phase = "intersect"
				}
				s.ph.start(phase)
				s.ph.hold = true
			}
			if s.params.Mode == ECDH {
				if err := s.blindingRounds(ctx); err != nil {
					return nil, err
				}
			}
			size, found, cands, err := s.bucketRecords(ctx, b)
			if err != nil {
				return nil, err
			}
			cb.sizes[b], cb.lists[b] = size, s.listSizes
			rec.sizes = []uint32{uint32(size)}
			for _, l := range cb.lists[b] {
				rec.lists = append(rec.lists, uint32(l))
			}
			if kind == stepIntersect {
				ack := (&wire.Ack{Bucket: uint32(b)}).Encode()
				for i := range s.conns {
					if err := s.send(ctx, i, ack); err != nil {
						return nil, err
					}
				}
			}
			if kind == stepWhole {
				if b == 0 {
					s.revealedRun()
					s.counted = true
				}
				if err := s.settle(ctx, rep, found, size, cands); err != nil {
					return nil, err
				}
				if b == cb.buckets-1 {
					rec.totals = fromInt64(rep.Totals)
				}
			}
			s.listSizes = nil
			s.ph.step(b+1, cb.buckets, 0)
		case stepSizes:
			s.ph.hold = false
			if err := s.sendSizes(ctx, rep); err != nil {
				return nil, err
			}
		case stepAggregate:
			if step == start || b == 0 {
				s.ph.hold = false
				s.ph.start("aggregate")
				s.ph.hold = true
			}
			s.listSizes = cb.lists[b]
			size, found, cands, err := s.bucketRecords(ctx, b)
			if err != nil {
				return nil, err
			}
			if size != cb.sizes[b] {
				return nil, fmt.Errorf("%w: bucket %d has %d records in its aggregation, %d in its intersection: a party's tags changed", ErrProtocol, b, size, cb.sizes[b])
			}
			if err := s.settle(ctx, rep, found, size, cands); err != nil {
				return nil, err
			}
			if b == cb.buckets-1 {
				rec.totals = fromInt64(rep.Totals)
			}
			s.ph.step(b+1, cb.buckets, 0)
		}
		if s.cp != nil {
			if err := s.cp.appendStep(rec); err != nil {
				return nil, err
			}
		}
	}
	s.ph.hold = false
	if err := s.sizesReport(rep); err != nil {
		return nil, err
	}
	if err := s.confirm(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}

// sizesReport fills rep with the set and result sizes of the buckets.
func (s *coordSession) sizesReport(rep *Report) error {
	cb := s.buckets
	rep.SetSizes, rep.Size = make([]int, s.n), 0
	for b, l := range cb.lists {
		for i, x := range l {
			rep.SetSizes[i] += x
		}
		rep.Size += cb.sizes[b]
	}
	for i, h := range s.hellos {
		if !withinBound(rep.SetSizes[i], h.Bound) {
			return fmt.Errorf("%w: party %s's buckets hold %d rows, which its set size bound %d does not allow", ErrProtocol, s.params.Parties[i], rep.SetSizes[i], h.Bound)
		}
	}
	return nil
}

// sendSizes checks the result size against the minimum and tells the
// parties every bucket's (the total only, under the cardinality policy).
func (s *coordSession) sendSizes(ctx context.Context, rep *Report) error {
	if err := s.sizesReport(rep); err != nil {
		return err
	}
	s.ph.log.Info("intersection", "set_sizes", rep.SetSizes, "result_size", rep.Size, "buckets", s.buckets.buckets)
	s.revealedRun()
	s.counted = true
	if rep.Size < s.params.MinResultSize {
		return ErrResultTooSmall
	}
	m := &wire.Sizes{}
	if s.params.Reveal == CardinalityOnly {
		m.Sizes = []uint32{uint32(rep.Size)}
	} else {
		for _, x := range s.buckets.sizes {
			m.Sizes = append(m.Sizes, uint32(x))
		}
	}
	msg := m.Encode()
	for i := range s.conns {
		if err := s.send(ctx, i, msg); err != nil {
			return err
		}
	}
	return nil
}

// openCheckpoint opens the coordinator's checkpoint for a bucketed session
// with a working directory, and reports whether it holds a suspended
// session, whose id it sets.
func (s *coordSession) openCheckpoint() (resuming bool, err error) {
	if s.params.BucketRows == 0 || s.cfg == nil || s.cfg.WorkDir == "" {
		return false, nil
	}
	dir := coordCheckpointDir(s.cfg.WorkDir, &s.wp)
	var key [32]byte
	if id := s.cfg.identity(); len(id) != 0 {
		key, err = identityCheckpointKey(id)
	} else {
		key, err = workDirKey(s.cfg.WorkDir)
	}
	if err != nil {
		return false, err
	}
	if s.cp, err = openCheckpoint(dir, key); err != nil {
		return false, err
	}
	if s.cp.session == nil {
		return false, nil
	}
	if s.sid, s.hellos, err = decodeCoordSession(s.cp.session, s.n); err != nil {
		return false, err
	}
	return true, nil
}

// rejoin resumes the suspended session of the checkpoint: it opens it at
// every party, gathers how far each got, and resumes all at the first step
// someone has not completed, with an attempt number none has used. It
// returns that step.
func (s *coordSession) rejoin(ctx context.Context) (int, error) {
	for i := range s.conns {
		if err := s.send(ctx, i, (&wire.Open{Session: s.sid, Index: uint16(i), Params: s.wp}).Encode()); err != nil {
			return 0, err
		}
	}
	done, attempt := s.cp.done(), s.cp.attempt
	furthest := done
	if err := s.gather(ctx, wire.TypeRejoin, limitAll(msgHeaderSize+8), func(i int, msg []byte) error {
		m, err := wire.DecodeRejoin(msg)
		if err != nil {
			return err
		}
		done, attempt, furthest = min(done, m.Done), max(attempt, m.Attempt), max(furthest, m.Done)
		return nil
	}); err != nil {
		return 0, err
	}
	s.redone = int(furthest - done)
	if attempt == ^uint32(0) {
		return 0, fmt.Errorf("%w: no attempt number left", ErrProtocol)
	}
	attempt++
	if err := s.cp.appendAttempt(attempt); err != nil {
		return 0, err
	}
	start := done + 1
	s.cp.rollBack(start)
	cb := s.buckets
	cb.attempt = int(attempt)
	cb.buckets = bucketCount(s.hellos, s.params.BucketRows)
	cb.sizes, cb.lists = make([]int, cb.buckets), make([][]int, cb.buckets)
	for _, r := range s.cp.steps {
		if b := int(r.step) - 1; b < cb.buckets && len(r.sizes) == 1 && len(r.lists) == s.n {
			cb.sizes[b] = int(r.sizes[0])
			cb.lists[b] = make([]int, s.n)
			for i, x := range r.lists {
				cb.lists[b][i] = int(x)
			}
		}
	}
	if r := s.cp.at(start - 1); r != nil && r.totals != nil && s.params.CoordinatorSeesResult {
		s.restoredTotals = toInt64(r.totals)
	}
	msg := (&wire.Resume{Step: start, Attempt: attempt}).Encode()
	for i := range s.conns {
		if err := s.send(ctx, i, msg); err != nil {
			return 0, err
		}
	}
	s.ph.log.Info("session resumed", "session", fmt.Sprintf("%x", s.sid[:8]), "step", start, "attempt", attempt, "steps_redone", s.redone)
	return int(start), nil
}

// lost turns the loss of a participant (or the coordinator's stop) in a
// session that can resume into its suspension.
func (s *coordSession) lost(err error) error {
	if s.cp == nil || errors.Is(err, ErrSuspended) || errors.Is(err, ErrCheating) {
		return err
	}
	if errors.Is(err, ErrPartyUnavailable) || errors.Is(err, ErrStopped) {
		return fmt.Errorf("%w: %w", ErrSuspended, err)
	}
	return err
}

// bucketRecords finds the records of bucket b: from the parties' tags, or
// in the oprf mode from their OPRF runs (relayed) and candidate tags, with
// each record's candidate bytes.
func (s *coordSession) bucketRecords(ctx context.Context, b int) (size int, found [][]psi.Match, cands [][]uint8, err error) {
	if s.params.Mode != OPRF {
		size, found, err = s.bucketTags(ctx, b)
		return size, found, nil, err
	}
	if err := s.oprfRelay(ctx); err != nil {
		return 0, nil, nil, err
	}
	tags, err := s.oprfTags(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	s.listSizes = make([]int, s.n)
	for i, t := range tags {
		s.listSizes[i] = int(t.Rows)
	}
	if size, found, cands, err = s.oprfRecords(tags); err != nil {
		s.abortAll(err, -1)
		return 0, nil, nil, err
	}
	return size, found, cands, nil
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
	if s.buckets != nil {
		return uint64(n) <= uint64(b)
	}
	return withinBound(n, b)
}

// matchBound is the largest result size the match check's words must
// cover: the set size bounds' for a whole session, the bucket's size in a
// bucketed one.
func (s *coordSession) matchBound(size int) uint64 {
	if s.buckets != nil {
		return uint64(size)
	}
	return maxResultSize(s.hellos, s.params.threshold())
}
