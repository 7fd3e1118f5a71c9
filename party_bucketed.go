package maskshare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// maxSpooledRows bounds a bucketed session's tables: its set size bound
// must fit the Hello's 32 bits.
const maxSpooledRows = 1 << 31

// bucketRun is the state of a party's bucketed session across buckets.
type bucketRun struct {
	input   bucketInput
	out     RecordWriter
	parts   bucketTables
	plan    bucketPlan
	cp      *checkpoint // nil: the session cannot resume
	buckets int
	attempt int      // the attempt number steps derive their keys with
	sizes   []int    // the result size of every bucket so far (all of them once the Sizes came)
	carry   []uint64 // the party's own totals over the buckets done
	totals  []uint64 // the revealed totals, once the last bucket is done
	last    bool     // the bucket being aggregated is the last
	chain   []byte   // the bucket transcripts, hashed in turn
}

// runBucketed is Party.Run for a bucketed session: run's sequence with the
// intersection and the aggregation run bucket by bucket, in the steps of
// its bucketPlan. With a checkpoint, a session that is suspended
// (ErrSuspended) keeps its state and the next Run resumes it.
func (s *partySession) runBucketed(ctx context.Context) (*Result, error) {
	res, err := s.bucketSteps(ctx)
	br := s.bucket
	if err != nil && (br.cp != nil || s.holdsCheckpoint()) && s.suspends(ctx, err) {
		// Lost before the session's Open, a party with a checkpoint
		// still holds a suspended session: it has touched nothing.
		if br.cp != nil {
			br.cp.close()
		}
		if !errors.Is(err, ErrSuspended) {
			err = fmt.Errorf("%w: %w", ErrSuspended, err)
		}
		return nil, err
	}
	if br.parts != nil {
		br.parts.close()
	}
	if br.cp != nil {
		br.cp.discard()
	}
	return res, err
}

// holdsCheckpoint reports whether the party keeps the checkpoint of a
// suspended session in its working directory.
func (s *partySession) holdsCheckpoint() bool {
	sp, ok := s.bucket.input.(spoolInput)
	if !ok {
		return false
	}
	found, _ := filepath.Glob(filepath.Join(sp.sp.dir, spoolSessions, "*", checkpointFile))
	return len(found) > 0
}

// suspends reports whether err, a bucketed session's failure, suspends it
// rather than ending it: the coordinator or this party was lost or
// stopped, not a check failed.
func (s *partySession) suspends(ctx context.Context, err error) bool {
	if errors.Is(err, ErrCheating) {
		return false
	}
	return errors.Is(err, ErrSuspended) || errors.Is(err, ErrPartyUnavailable) || errors.Is(err, ErrStopped) || ctx.Err() != nil
}

func (s *partySession) bucketSteps(ctx context.Context) (*Result, error) {
	br := s.bucket
	s.ph.start("prepare")
	if err := br.input.check(&s.params); err != nil {
		return nil, s.learnSession(ctx, err)
	}
	if br.input.rows() > maxSpooledRows {
		return nil, s.learnSession(ctx, &InputError{Row: -1, Other: -1, Err: ErrSchema, Detail: fmt.Sprintf("%d rows exceed the limit of %d", br.input.rows(), maxSpooledRows)})
	}
	s.bound = sizeBound(int(br.input.rows()))

	s.ph.start("keys")
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	session := s.sid
	cp, err := s.openCheckpoint(session)
	if err != nil {
		return nil, err
	}
	br.cp = cp
	start := 1
	if cp != nil && cp.session != nil {
		if start, err = s.rejoin(ctx); err != nil {
			return nil, err
		}
	} else {
		if err := s.exchangeKeys(ctx); err != nil {
			return nil, err
		}
		if cp != nil {
			mark, err := br.out.(ResumableWriter).Sync()
			if err != nil {
				return nil, err
			}
			if err := cp.appendSession(s.keys(mark).encode()); err != nil {
				return nil, err
			}
		}
	}
	br.buckets = bucketCount(s.hellos, s.params.BucketRows)
	br.plan = newBucketPlan(&s.params, br.buckets)

	s.ph.start("partition")
	bk, err := newBucketer(s.group, session, br.buckets)
	if err != nil {
		return nil, err
	}
	if br.parts, err = br.input.partition(ctx, bk, &s.params, s.group, session); err != nil {
		return nil, err
	}

	if br.carry == nil {
		br.carry = make([]uint64, s.cols)
	}
	br.restoreSizes(start)
	res := &Result{Columns: slices.Clone(s.params.Columns)}
	for step := start; step <= br.plan.last(); step++ {
		kind, b := br.plan.step(step)
		switch kind {
		case stepIntersect:
			if step == start || step == 1 {
				s.ph.start("intersect")
				s.ph.hold = true
			}
			if err := s.intersectBucket(ctx, b); err != nil {
				return nil, err
			}
			if err := s.receiveAck(ctx, b); err != nil {
				return nil, err
			}
			s.ph.step(b+1, br.buckets, 0)
		case stepSizes:
			s.ph.hold = false
			if err := s.receiveSizes(ctx); err != nil {
				return nil, err
			}
		case stepAggregate, stepWhole:
			if step == start || b == 0 {
				s.ph.hold = false
				s.ph.start("aggregate")
				s.ph.hold = true
			}
			br.last = b == br.buckets-1
			if err := s.aggregateBucket(ctx, session, b, kind == stepWhole, res); err != nil {
				return nil, err
			}
			s.ph.step(b+1, br.buckets, 0)
		}
		if err := s.checkpointStep(step, kind, b); err != nil {
			return nil, err
		}
	}
	s.ph.hold = false
	for _, x := range br.sizes {
		res.Size += x
	}
	if br.totals != nil {
		res.Totals = toInt64(br.totals[:s.cols])
	}

	s.ph.start("confirm")
	s.sid, s.size = session, res.Size
	res.Transcript = s.transcript(nil, br.chain)
	if err := s.confirm(ctx, res.Transcript); err != nil {
		return nil, err
	}
	return res, nil
}

// openCheckpoint opens the party's checkpoint of session, if the party can
// resume sessions: its table is spooled, its output can be rolled back and
// it has an identity key to seal the checkpoint with. The checkpoints of
// other sessions are removed: the coordinator has started afresh.
func (s *partySession) openCheckpoint(session [32]byte) (*checkpoint, error) {
	sp, ok := s.bucket.input.(spoolInput)
	if _, resumable := s.bucket.out.(ResumableWriter); !ok || !resumable || len(s.cfg.identity()) == 0 {
		return nil, nil
	}
	root := filepath.Join(sp.sp.dir, spoolSessions)
	mine := hex.EncodeToString(session[:16])
	if old, err := os.ReadDir(root); err == nil {
		for _, e := range old {
			if e.Name() != mine {
				os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
	key, err := identityCheckpointKey(s.cfg.identity())
	if err != nil {
		return nil, err
	}
	return openCheckpoint(filepath.Join(root, mine), key)
}

// rejoin resumes the session of the party's checkpoint: it restores the
// keys, tells the coordinator how far it got, and rolls back to the step
// the coordinator resumes at, with the attempt number it gives, which must
// be new to this party. It returns the step to run next.
func (s *partySession) rejoin(ctx context.Context) (int, error) {
	br, cp := s.bucket, s.bucket.cp
	k, err := decodePartyKeys(cp.session, s.n)
	if err != nil {
		return 0, err
	}
	if err := s.restore(k); err != nil {
		return 0, err
	}
	if err := s.conn.Send(ctx, (&wire.Rejoin{Done: cp.done(), Attempt: cp.attempt}).Encode()); err != nil {
		return 0, s.unavailable(err)
	}
	msg, err := s.recv(ctx, wire.TypeResume)
	if err != nil {
		return 0, err
	}
	m, err := wire.DecodeResume(msg)
	if err != nil {
		return 0, coordinatorFault("resume", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	if m.Step < 1 || m.Step > cp.done()+1 || m.Attempt <= cp.attempt {
		// A step it has not reached, or an attempt number it has used:
		// resuming there would reuse keys for other messages.
		return 0, coordinatorFault("resume", fmt.Errorf("%w: resume at step %d, attempt %d; this party is at step %d, attempt %d",
			ErrProtocol, m.Step, m.Attempt, cp.done(), cp.attempt))
	}
	if err := cp.appendAttempt(m.Attempt); err != nil {
		return 0, err
	}
	br.attempt = int(m.Attempt)
	cp.rollBack(m.Step)
	mark := k.mark
	br.carry = make([]uint64, s.cols)
	// The state after step m.Step−1: the aggregation so far (the sizes
	// are restored once the plan is known).
	if r := cp.at(m.Step - 1); r != nil && m.Step-1 > 0 {
		mark = r.mark
		if len(r.carry) == s.cols {
			copy(br.carry, r.carry)
		}
		br.chain, br.totals = r.chain, r.totals
	}
	if err := br.out.(ResumableWriter).Rewind(mark); err != nil {
		return 0, err
	}
	return int(m.Step), nil
}

// checkpointStep logs that step, of kind and bucket b, is done, with
// what resuming after it needs.
func (s *partySession) checkpointStep(step, kind, b int) error {
	br := s.bucket
	if br.cp == nil {
		return nil
	}
	mark, err := br.out.(ResumableWriter).Sync()
	if err != nil {
		return err
	}
	r := &stepRecord{step: uint32(step), attempt: uint32(br.attempt), mark: mark,
		carry: br.carry, chain: br.chain, totals: br.totals}
	switch kind {
	case stepSizes:
		for _, x := range br.sizes {
			r.sizes = append(r.sizes, uint32(x))
		}
	case stepWhole:
		r.sizes = []uint32{uint32(br.sizes[b])}
	}
	return br.cp.appendStep(r)
}

// restoreSizes takes back, for a session resumed at step start, the
// result sizes received before it: from the Sizes, or bucket by bucket in
// a single pass.
func (br *bucketRun) restoreSizes(start int) {
	if br.cp == nil || start <= 1 {
		return
	}
	br.sizes = nil
	for step := 1; step < start; step++ {
		kind, _ := br.plan.step(step)
		r := br.cp.at(uint32(step))
		switch {
		case r == nil:
		case kind == stepSizes:
			br.sizes = br.sizes[:0]
			for _, x := range r.sizes {
				br.sizes = append(br.sizes, int(x))
			}
		case kind == stepWhole && len(r.sizes) == 1:
			br.sizes = append(br.sizes, int(r.sizes[0]))
		}
	}
}

// receiveAck waits for the coordinator's word that it has intersected
// bucket b: a party never gets more than a bucket ahead of it.
func (s *partySession) receiveAck(ctx context.Context, b int) error {
	msg, err := s.recv(ctx, wire.TypeAck)
	if err != nil {
		return err
	}
	m, err := wire.DecodeAck(msg)
	if err != nil {
		return coordinatorFault("ack", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	if int(m.Bucket) != b {
		return coordinatorFault("ack", fmt.Errorf("%w: ack of bucket %d, want %d", ErrProtocol, m.Bucket, b))
	}
	return nil
}

// receiveSizes reads the result size of every bucket and checks the total
// against the set size bounds and the session's minimum.
func (s *partySession) receiveSizes(ctx context.Context) error {
	br := s.bucket
	msg, err := s.recv(ctx, wire.TypeSizes)
	if err != nil {
		return err
	}
	want := br.buckets
	if s.params.Reveal == CardinalityOnly {
		want = 1
	}
	sz, err := wire.DecodeSizes(msg, want)
	if err != nil {
		return coordinatorFault("sizes", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	total := 0
	br.sizes = br.sizes[:0]
	for _, x := range sz.Sizes {
		br.sizes = append(br.sizes, int(x))
		total += int(x)
	}
	if uint64(total) > s.maxResultSize() {
		return coordinatorFault("sizes", fmt.Errorf("%w: result of %d records, more than the set sizes allow (%d)", ErrProtocol, total, s.maxResultSize()))
	}
	if total < s.params.MinResultSize {
		return coordinatorFault("sizes", fmt.Errorf("%w: result of %d below the minimum", ErrProtocol, total))
	}
	return nil
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
	case OPRF: // the OPRF runs of the bucket, to count its records
		session := s.sid
		s.sid = stepSession(session, passIntersect, b, s.bucket.attempt)
		defer func() { s.sid = session }()
		return s.oprfPSI(ctx)
	case ECDH:
		session := s.sid
		s.sid = stepSession(session, passIntersect, b, s.bucket.attempt)
		defer func() { s.sid = session }()
		s.keepTags = s.bucket.plan.twoPass
		if err := s.ecdhPSI(ctx); err != nil {
			return err
		}
		if !s.keepTags {
			return nil
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
func (s *partySession) aggregateBucket(ctx context.Context, session [32]byte, b int, whole bool, res *Result) error {
	offset := 0
	for _, x := range s.bucket.sizes[:b] {
		offset += x
	}
	s.sid = session
	rows, err := s.loadBucket(b)
	if err != nil {
		return err
	}
	switch {
	case s.params.Mode == Keyed:
		if err := s.keyedPSI(ctx); err != nil {
			return err
		}
	case s.params.Mode == OPRF:
		// OPRF runs of their own: in a single pass under the intersection
		// step's id, in the second under the aggregation step's (a run
		// never shares its keys with another; the first pass's values are
		// not kept).
		pass := passAggregate
		if whole {
			pass = passIntersect
		}
		s.sid = stepSession(session, pass, b, s.bucket.attempt)
		if err := s.oprfPSI(ctx); err != nil {
			return err
		}
	case whole: // ecdh, in a single pass: the ring, then the Match
		s.sid = stepSession(session, passIntersect, b, s.bucket.attempt)
		if err := s.ecdhPSI(ctx); err != nil {
			return err
		}
	default: // ecdh, second pass
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
	s.sid = stepSession(session, passAggregate, b, s.bucket.attempt)
	s.wantSize = -1
	if !whole {
		s.wantSize = s.bucket.sizes[b]
	}
	if err := s.receiveMatch(ctx); err != nil {
		return coordinatorFault("match", err)
	}
	if whole {
		s.bucket.sizes = append(s.bucket.sizes[:b], s.size)
		if total := uint64(offset + s.size); total > s.maxResultSize() {
			return coordinatorFault("match", fmt.Errorf("%w: result of %d records so far, more than the set sizes allow (%d)", ErrProtocol, total, s.maxResultSize()))
		}
	}
	if s.params.Mode == OPRF { // never under the cardinality policy, which aggregates nothing
		if err := s.oprfSecrets(ctx); err != nil {
			return err
		}
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
		s.bucket.totals = fromInt64(part.Totals)
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

func fromInt64(v []int64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}
