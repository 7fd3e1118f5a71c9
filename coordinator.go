package maskshare

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/sync/errgroup"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/transport"
)

// abortTimeout bounds how long telling the others about an abort may take.
const abortTimeout = 5 * time.Second

// Coordinator organises sessions: it deals the zero-sum masks, relays
// sealed messages between parties, intersects pseudonymous tags and adds up
// masked vectors. It never sees an identifier or an individual value.
type Coordinator struct {
	params Params
	wp     wire.Params
	cfg    *Config

	// Runs that revealed a result size, for Config.MaxRuns and
	// Config.MinRunInterval.
	mu         sync.Mutex
	inflight   int
	revealed   int
	lastReveal time.Time
}

// NewCoordinator returns a coordinator for sessions with params. cfg may be
// nil.
func NewCoordinator(params Params, cfg *Config) (*Coordinator, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkIdentities(&params, -1); err != nil {
		return nil, err
	}
	return &Coordinator{params: params, wp: params.wire(), cfg: cfg}, nil
}

// Report is what the coordinator knows at the end of a session.
type Report struct {
	Session [32]byte
	// SetSizes is the number of records each party submitted.
	SetSizes []int
	// Size is the number of qualifying records.
	Size int
	// Aggregates[c][r] and Totals[c] are set only when the session lets the
	// coordinator see the result (Params.CoordinatorSeesResult) and the
	// policy reveals them: Aggregates for PerRecord, Totals for both
	// PerRecord and TotalsOnly. Records are in canonical order. A
	// bucketed session keeps no Aggregates (they would not fit in memory).
	Aggregates [][]int64
	Totals     []int64
	Phases     []PhaseTime
	// Resumed is the step a resumed bucketed session continued from (0 if
	// it ran from the start), and Redone the number of steps some
	// participant had completed that the resume ran again: the work lost
	// (a step is one bucket's intersection or aggregation).
	Resumed, Redone int
}

// startRun admits a run under Config.MaxRuns and Config.MinRunInterval.
func (c *Coordinator) startRun() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil
	}
	if max := c.cfg.MaxRuns; max > 0 && c.revealed+c.inflight >= max {
		return fmt.Errorf("%w: %d runs allowed", ErrRunLimit, max)
	}
	if d := c.cfg.MinRunInterval; d > 0 {
		if c.inflight > 0 {
			return fmt.Errorf("%w: a run is in progress and runs must be %v apart", ErrRunLimit, d)
		}
		if wait := d - time.Since(c.lastReveal); !c.lastReveal.IsZero() && wait > 0 {
			return fmt.Errorf("%w: runs must be %v apart; the next may start in %v", ErrRunLimit, d, wait.Round(time.Second))
		}
	}
	c.inflight++
	return nil
}

// resumeRun admits the resumption of a suspended run, which startRun
// admitted before.
func (c *Coordinator) resumeRun() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight++
}

// revealedRun counts a run that got as far as revealing a result size (or
// that it is below the minimum).
func (c *Coordinator) revealedRun() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revealed++
	c.inflight--
	c.lastReveal = time.Now()
}

// endRun ends a run admitted by startRun; a run counted by revealedRun has
// already left the in-flight count.
func (s *coordSession) endRun() {
	if s.counted {
		return
	}
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
}

// coordSession is one run of the coordinator.
type coordSession struct {
	*Coordinator
	conns []transport.Conn
	sid   [32]byte
	n     int
	ph    *phases
	// aborted is set once the parties have been told the session is over.
	aborted bool
	// counted is set once the run counts against Config.MaxRuns.
	counted bool

	hellos []wire.Hello
	// listSizes are the sizes of the ecdh lists, which the tags must match.
	listSizes []int
	// buckets is a bucketed session's state, nil for a session in one
	// piece; cp its checkpoint, nil if it cannot resume.
	buckets        *coordBuckets
	cp             *checkpoint
	restoredTotals []int64
	redone         int
}

// Run runs one session with the parties on conns, conns[i] being party i's
// connection. If any party fails or stops answering, every other party is
// sent the reason and Run returns it; nothing is revealed.
func (c *Coordinator) Run(ctx context.Context, conns []transport.Conn) (*Report, error) {
	if len(conns) != len(c.params.Parties) {
		return nil, fmt.Errorf("%w: %d connections for %d parties", ErrParams, len(conns), len(c.params.Parties))
	}
	s := &coordSession{Coordinator: c, conns: conns, n: len(conns), ph: newPhases("coordinator", c.cfg)}
	rand.Read(s.sid[:])
	if c.params.BucketRows > 0 {
		s.buckets = &coordBuckets{}
	}
	var rep *Report
	resuming, err := s.openCheckpoint()
	if err == nil && resuming {
		// The rest of a run admitted before: not a new run for the
		// limits, and counted once, when it reveals the result size.
		c.resumeRun()
	} else if err == nil {
		err = c.startRun()
	}
	if err == nil {
		rep, err = s.run(ctx, resuming)
		s.endRun()
	}
	s.ph.end()
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, ErrSuspended) {
		// The coordinator was stopped: no party is to blame.
		err = s.lost(stoppedError(ctx))
	}
	if s.cp != nil {
		if err != nil && errors.Is(err, ErrSuspended) {
			s.cp.close() // the next Run resumes the session
		} else {
			s.cp.discard()
		}
	}
	if err != nil {
		var ae *AbortError
		if !errors.As(err, &ae) || ae.Party == "coordinator" {
			s.abortAll(err, -1)
		}
		s.ph.log.Warn("session aborted", "session", fmt.Sprintf("%x", s.sid[:8]), "err", publicReason(err))
		return nil, err
	}
	rep.Phases = s.ph.list
	return rep, nil
}

func (s *coordSession) run(ctx context.Context, resuming bool) (*Report, error) {
	rep := &Report{Session: s.sid}
	k := s.params.threshold()

	s.ph.start("keys")
	if resuming {
		start, err := s.rejoin(ctx)
		if err != nil {
			return nil, err
		}
		rep.Totals = s.restoredTotals
		rep.Resumed, rep.Redone = start, s.redone
		return s.runBucketed(ctx, rep, start)
	}
	if err := s.exchangeKeys(ctx); err != nil {
		return nil, err
	}
	if s.cp != nil {
		if err := s.cp.appendSession(coordSessionRecord(s.sid, s.hellos)); err != nil {
			return nil, err
		}
	}
	if s.buckets != nil {
		return s.runBucketed(ctx, rep, 1)
	}

	s.ph.start("intersect")
	if s.params.Mode == ECDH {
		if err := s.blindingRounds(ctx); err != nil {
			return nil, err
		}
	}
	var (
		size      int
		found     [][]psi.Match
		candBytes [][]uint8 // oprf: each record's candidate bytes, per party
	)
	if s.params.Mode == OPRF {
		if err := s.oprfRelay(ctx); err != nil {
			return nil, err
		}
		tags, err := s.oprfTags(ctx)
		if err != nil {
			return nil, err
		}
		rep.SetSizes = make([]int, s.n)
		for i, t := range tags {
			rep.SetSizes[i] = int(t.Rows)
		}
		if size, found, candBytes, err = s.oprfRecords(tags); err != nil {
			s.abortAll(err, -1)
			return nil, err
		}
	} else {
		lists := make([][]psi.Tag, s.n)
		if err := s.gather(ctx, wire.TypeTags, func(i int) int64 { return tagsSize(s.hellos[i].Bound) }, func(i int, msg []byte) error {
			m, err := wire.DecodeTags(msg)
			if err != nil {
				return err
			}
			if !withinBound(len(m.Tags), s.hellos[i].Bound) || s.listSizes != nil && len(m.Tags) != s.listSizes[i] {
				return fmt.Errorf("%w: party %s sent %d tags, which its set size bound %d does not allow", ErrProtocol, s.params.Parties[i], len(m.Tags), s.hellos[i].Bound)
			}
			lists[i] = m.Tags
			return nil
		}); err != nil {
			return nil, err
		}
		var err error
		size, found, err = psi.Intersect(lists, k)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		rep.SetSizes = listSizes(lists)
	}
	rep.Size = size
	s.ph.log.Info("intersection", "set_sizes", rep.SetSizes, "result_size", size)
	s.revealedRun()
	s.counted = true
	if size < s.params.MinResultSize {
		return nil, ErrResultTooSmall
	}
	if err := s.settle(ctx, rep, found, size, candBytes); err != nil {
		return nil, err
	}
	if err := s.confirm(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}

// exchangeKeys opens the session at every party, collects and checks the
// hellos, deals the zero-sum masks and relays the sealed boxes.
func (s *coordSession) exchangeKeys(ctx context.Context) error {
	for i := range s.conns {
		if err := s.send(ctx, i, (&wire.Open{Session: s.sid, Index: uint16(i), Params: s.wp}).Encode()); err != nil {
			return err
		}
	}
	s.hellos = make([]wire.Hello, s.n)
	if err := s.gather(ctx, wire.TypeHello, limitAll(helloSize), func(i int, msg []byte) error {
		h, err := wire.DecodeHello(msg)
		if err != nil {
			return err
		}
		if pub, check := s.cfg.pinnedKey(s.params.Parties[i]); check && !verifyHello(pub, s.sid, i, h, paramsDigest(&s.wp)) {
			return fmt.Errorf("%w: party %s's session key is not signed by its identity", ErrAuthentication, s.params.Parties[i])
		}
		if err := checkCommitment(s.params.Mode, &h.Blind); err != nil {
			return fmt.Errorf("%w: party %s's hello: %v", ErrProtocol, s.params.Parties[i], err)
		}
		if s.params.Mode == OPRF && h.Bound > oprfMaxRows && s.params.BucketRows == 0 {
			return fmt.Errorf("%w: party %s's set size bound %d exceeds the oprf mode's %d", ErrProtocol, s.params.Parties[i], h.Bound, oprfMaxRows)
		}
		s.hellos[i] = *h
		return nil
	}); err != nil {
		return err
	}
	masks, err := mask.ZeroSum(s.n)
	if err != nil {
		return err
	}
	perm := randomPermutation(s.n)
	for i := range s.conns {
		m := masks[perm[i]] // which ring position a party gets is random
		if err := s.send(ctx, i, (&wire.Peers{Hellos: s.hellos, MaskPlus: m.Plus, MaskMinus: m.Minus}).Encode()); err != nil {
			return err
		}
	}

	// Relay the sealed boxes: party i's box for j goes to j marked as from i.
	inbox := make([][]wire.Box, s.n)
	sealed := make([]*wire.Sealed, s.n)
	if err := s.gather(ctx, wire.TypeSealed, limitAll(sealedSize(s.n)), func(i int, msg []byte) (err error) {
		sealed[i], err = wire.DecodeSealed(msg, s.n, i)
		return err
	}); err != nil {
		return err
	}
	for i, m := range sealed {
		for _, b := range m.Boxes {
			inbox[b.Peer] = append(inbox[b.Peer], wire.Box{Peer: uint16(i), Sealed: b.Sealed})
		}
	}
	for j := range s.conns {
		if err := s.send(ctx, j, (&wire.Sealed{Boxes: inbox[j]}).Encode()); err != nil {
			return err
		}
	}
	return nil
}

// settle sends every party its Match for a result of size records found
// by the intersection and runs the rounds that follow: the oprf mode's
// record secrets, the match check and the aggregation, filling rep.
func (s *coordSession) settle(ctx context.Context, rep *Report, found [][]psi.Match, size int, candBytes [][]uint8) error {
	k := s.params.threshold()
	setSizes := rep.SetSizes
	if s.buckets != nil { // the bucket's lists
		setSizes = s.listSizes
	}
	// Per-record with k = n the designated holder of index r is party
	// r mod n, by rule (§6.1).
	reveal := s.params.Reveal
	matches := canonicalOrder(found, size, reveal == PerRecord && k == s.n)
	for i := range s.conns {
		m := &wire.Match{Size: uint32(size), Padded: uint32(padded(reveal, setSizes[i], size))}
		if reveal != CardinalityOnly {
			m.Matches = matches[i]
			if candBytes != nil { // in the order of found[i], as matches[i]
				w := s.n - 1
				m.Width, m.Cands = w, make([]uint8, len(found[i])*w)
				for e, x := range found[i] {
					copy(m.Cands[e*w:(e+1)*w], candBytes[i][int(x.Index)*w:])
				}
			}
		} else if candBytes != nil {
			m.Width = s.n - 1
		}
		if err := s.send(ctx, i, m.Encode()); err != nil {
			return err
		}
	}
	found, candBytes = nil, nil
	if s.params.Mode == OPRF && reveal != CardinalityOnly {
		s.ph.start("record secrets")
		if err := s.oprfRelaySecrets(ctx, size); err != nil {
			return err
		}
	}

	var maskedTotals []uint64
	if reveal != CardinalityOnly {
		// The match check: one column, a word per index the set size
		// bounds allow (per-record: per index of the result) and a total;
		// every party gets the sums at its records' indexes.
		if matchCheckRound(reveal, k, s.n) {
			s.ph.start("check match")
			mw := matchCheckWords(reveal, size, s.matchBound(size))
			sum, err := s.aggregate(ctx, 1, mw, "")
			if err != nil {
				return err
			}
			if err := s.reveal(ctx, sum, 1, mw, matches, func(i int) (int, int) {
				return len(matches[i]), padded(reveal, setSizes[i], size)
			}); err != nil {
				return err
			}
		}

		s.ph.start("aggregate")
		cols := len(s.params.Columns)
		vc := cols + checkWords // the values' columns and the value check's
		w := 1                  // words per column: one per record (per-record policy) and the total
		if reveal == PerRecord {
			w = size + 1
		}
		sum, err := s.aggregate(ctx, vc, w, "sum")
		if err != nil {
			return err
		}
		maskedTotals = make([]uint64, cols)
		for c := range maskedTotals {
			maskedTotals[c] = sum[c*w+w-1]
		}
		s.ph.start("reveal")
		if err := s.reveal(ctx, sum, vc, w, matches, func(i int) (int, int) {
			if reveal != PerRecord {
				return 0, 0
			}
			return len(matches[i]), padded(reveal, setSizes[i], size)
		}); err != nil {
			return err
		}
		if s.params.CoordinatorSeesResult {
			rep.Totals = toInt64(maskedTotals)
			if reveal == PerRecord && s.buckets == nil { // a bucketed session keeps no result in memory
				for c := 0; c < cols; c++ {
					rep.Aggregates = append(rep.Aggregates, toInt64(sum[c*w:c*w+size]))
				}
			}
		}
	}

	return nil
}

// confirm relays the parties' transcript MACs and checks that they agree.
func (s *coordSession) confirm(ctx context.Context) error {
	s.ph.start("confirm")
	macs := make([][32]byte, s.n)
	if err := s.gather(ctx, wire.TypeConfirm, limitAll(confirmSize), func(i int, msg []byte) error {
		m, err := wire.DecodeConfirm(msg)
		macs[i] = m.MAC
		return err
	}); err != nil {
		return err
	}
	done := (&wire.Done{MACs: macs}).Encode()
	for i := range s.conns {
		if s.buckets != nil {
			// Every party has confirmed: the session is done, and a
			// party lost now only misses its Done (and its result)
			// while the others get theirs. Nothing is left to resume.
			if err := s.conns[i].Send(ctx, done); err != nil {
				s.ph.log.Warn("party lost while confirming", "party", s.params.Parties[i], "err", err)
			}
			continue
		}
		if err := s.send(ctx, i, done); err != nil {
			return err
		}
	}
	// The MACs are keyed with a secret of the parties, but equal transcripts
	// give equal MACs, so the coordinator can tell whether they agree.
	for i := 1; i < s.n; i++ {
		if macs[i] != macs[0] {
			return fmt.Errorf("%w: parties %s and %s", ErrTranscript, s.params.Parties[0], s.params.Parties[i])
		}
	}
	return nil
}

// aggregate gathers every party's masked vector of cols columns of w words
// and returns their sum, starting phase (unless empty) once all have come.
func (s *coordSession) aggregate(ctx context.Context, cols, w int, phase string) ([]uint64, error) {
	sum := make([]uint64, cols*w)
	err := s.gatherThen(ctx, wire.TypeMasked, limitAll(maskedSize(cols, w)), phase, func(i int, msg []byte) error {
		mcols, mw, words, err := wire.MaskedWords(msg)
		if err != nil {
			return err
		}
		if int(mcols) != cols || int(mw) != w {
			return fmt.Errorf("%w: party %s sent %d×%d words, want %d×%d", ErrProtocol, s.params.Parties[i], mcols, mw, cols, w)
		}
		mask.AddLE(sum, words) // handlers run one at a time
		return nil
	})
	return sum, err
}

// reveal sends every party the total words of sum (cols columns of w
// words) and, for the first count(i) of its matches, the words at their
// indexes, padded to pad(i) records.
func (s *coordSession) reveal(ctx context.Context, sum []uint64, cols, w int, matches [][]wire.MatchEntry, count func(i int) (count, pad int)) error {
	totals := make([]uint64, cols)
	for c := range totals {
		totals[c] = sum[c*w+w-1]
	}
	// A party's records come in the order of its Match, which is random
	// against the canonical order: with the words record by record, each
	// of its records is one read, not one per column.
	var byRecord []uint64
	for i := range s.conns {
		if n, _ := count(i); n > 0 && byRecord == nil {
			byRecord = make([]uint64, (w-1)*cols)
			forColumns(cols, func(c int) {
				for r, x := range sum[c*w : c*w+w-1] {
					byRecord[r*cols+c] = x
				}
			})
		}
	}
	// Each party's Reveal is gathered, encoded and sent on its own core:
	// the parties wait for theirs, and the gathering is random access.
	errs := make([]error, s.n)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range s.conns {
		g.Go(func() error {
			n, pad := count(i)
			m := &wire.Reveal{Totals: totals, Count: uint32(n), Padded: uint32(pad)}
			if n > 0 {
				m.Values = make([]uint64, n*cols)
				for q, x := range matches[i][:n] {
					copy(m.Values[q*cols:(q+1)*cols], byRecord[int(x.Index)*cols:])
				}
			}
			msg := m.Encode()
			m = nil
			errs[i] = s.conns[i].Send(ctx, msg)
			return nil
		})
	}
	g.Wait()
	for i, err := range errs {
		if err != nil {
			if ctx.Err() != nil {
				return stoppedError(ctx) // Run tells the parties
			}
			return s.sendFailed(i, err)
		}
	}
	return nil
}

// canonicalOrder numbers the qualifying records with a fresh uniformly
// random permutation of 0..size−1, so that a record's index says nothing
// about its tag (which a party could compute for identifiers it does not
// hold), and designates for each record one of its holders, uniformly at
// random, to add the record's output mask. found[i] are list i's matches
// as psi.Intersect numbers them (by tag order).
//
// With byIndex (every party holds every record: k = n), the designated
// holder of the record at canonical index r is party r mod n instead, a
// rule every party can check.
func canonicalOrder(found [][]psi.Match, size int, byIndex bool) [][]wire.MatchEntry {
	perm := randomPermutation(size)
	// pick[r] is which of record r's holders, counted in party order, adds
	// its mask; seen[r] counts the holders met so far.
	holders := make([]uint16, size)
	for _, ms := range found {
		for _, x := range ms {
			holders[x.Index] = x.Holders
		}
	}
	pick := make([]uint16, size)
	var buf [8 * 512]byte
	for r := 0; r < size && !byIndex; r += 512 {
		rand.Read(buf[:])
		for j := r; j < min(r+512, size); j++ {
			hi, _ := bits.Mul64(binary.LittleEndian.Uint64(buf[8*(j-r):]), uint64(holders[j]))
			pick[j] = uint16(hi)
		}
	}
	if byIndex { // every record's holders are all n parties, in party order
		for j := range pick {
			pick[j] = uint16(int(perm[j]) % len(found))
		}
	}
	seen := make([]uint16, size)
	out := make([][]wire.MatchEntry, len(found))
	for i, ms := range found {
		out[i] = make([]wire.MatchEntry, len(ms))
		for j, x := range ms {
			out[i][j] = wire.MatchEntry{Pos: x.Pos, Index: uint32(perm[x.Index]), Holders: x.Holders, Designated: seen[x.Index] == pick[x.Index]}
			seen[x.Index]++
		}
	}
	return out
}

// blindingRounds runs the ecdh mode's rounds: each list, blinded by its
// owner with a one-time key, travels round the ring of the other parties,
// each applying its key, and goes back to its owner, which finishes it and
// sends its tags. The coordinator shuffles a list before every hop and
// undoes the shuffle when it comes back, so that no party can link an
// element it blinds to the owner's rows, nor to what another party saw.
// Each list's MAC and check chain travel with it unchanged: the parties
// check them.
func (s *coordSession) blindingRounds(ctx context.Context) error {
	lists := make([]*wire.Elements, s.n) // as last produced: MAC, chain and elements in the owner's order
	// Hop 0: every party sends its own list blinded with its one-time key.
	if err := s.gather(ctx, wire.TypeElements, func(i int) int64 { return elementsSize(s.n, 1, s.hellos[i].Bound) }, func(i int, msg []byte) error {
		m, err := wire.DecodeElements(msg, s.n)
		if err != nil {
			return err
		}
		if int(m.Owner) != i || m.Hop != 0 || !s.listFits(len(m.Elems), s.hellos[i].Bound) {
			return fmt.Errorf("%w: party %s sent list %d hop %d with %d elements, want its own list within its bound %d", ErrProtocol, s.params.Parties[i], m.Owner, m.Hop, len(m.Elems), s.hellos[i].Bound)
		}
		lists[i] = m
		return nil
	}); err != nil {
		return err
	}
	s.listSizes = make([]int, s.n)
	var all int64 // elements in all lists, relayed at every hop
	for i, l := range lists {
		s.listSizes[i] = len(l.Elems)
		all += int64(len(l.Elems))
	}
	s.ph.step(1, s.n, all)
	perms := make([][]int32, s.n)
	for hop := 1; hop < s.n; hop++ {
		// Party j blinds the list of owner j−hop.
		for j := range s.conns {
			owner := (j - hop + s.n) % s.n
			l := lists[owner]
			perms[owner] = randomPermutation(len(l.Elems))
			shuffled := make([]psi.Element, len(l.Elems))
			for to, from := range perms[owner] {
				shuffled[to] = l.Elems[from]
			}
			msg := (&wire.Elements{Owner: uint16(owner), Hop: uint16(hop), MAC: l.MAC, Chain: l.Chain, Proofs: l.Proofs, Elems: shuffled}).Encode()
			if err := s.send(ctx, j, msg); err != nil {
				return err
			}
		}
		listLimit := func(j int) int64 {
			return elementsSize(s.n, hop+1, uint32(len(lists[(j-hop+s.n)%s.n].Elems)))
		}
		if err := s.gather(ctx, wire.TypeElements, listLimit, func(j int, msg []byte) error {
			m, err := wire.DecodeElements(msg, s.n)
			if err != nil {
				return err
			}
			owner := (j - hop + s.n) % s.n
			l := lists[owner]
			if int(m.Owner) != owner || int(m.Hop) != hop || len(m.Chain) != hop+1 {
				return fmt.Errorf("%w: party %s returned list %d hop %d with a chain of %d, want list %d hop %d with %d",
					ErrProtocol, s.params.Parties[j], m.Owner, m.Hop, len(m.Chain), owner, hop, hop+1)
			}
			if len(m.Elems) != len(l.Elems) {
				// Only the party can have changed the size of a list it
				// was to blind.
				return &CheatingError{Check: "ecdh list size", Party: "party " + s.params.Parties[j], Err: fmt.Errorf(
					"it returned the list of party %s at hop %d with %d elements, handed %d", s.params.Parties[owner], hop, len(m.Elems), len(l.Elems))}
			}
			for to, from := range perms[owner] {
				l.Elems[from] = m.Elems[to]
			}
			l.MAC, l.Chain, l.Proofs = m.MAC, m.Chain, m.Proofs
			return nil
		}); err != nil {
			return err
		}
		s.ph.step(hop+1, s.n, int64(hop+1)*all)
	}
	// Hop n: every list goes back to its owner, in the owner's order.
	for i := range s.conns {
		l := lists[i]
		msg := (&wire.Elements{Owner: uint16(i), Hop: uint16(s.n), MAC: l.MAC, Chain: l.Chain, Proofs: l.Proofs, Elems: l.Elems}).Encode()
		lists[i] = nil
		if err := s.send(ctx, i, msg); err != nil {
			return err
		}
	}
	return nil
}

// gather receives one message of type want from every party, concurrently,
// and hands each to handle, one at a time. An Abort from a party, a
// malformed message or a party that does not answer before ctx ends fails
// the gather. Party i's message may be at most limit(i) bytes (or an Abort,
// whatever limit says): the most its phase can legitimately carry, so that
// a party cannot make the coordinator allocate more; over the network, a
// larger message is refused on the word of its frame header, before it is
// allocated (transport.RecvLimit).
func (s *coordSession) gather(ctx context.Context, want wire.Type, limit func(i int) int64, handle func(i int, msg []byte) error) error {
	return s.gatherThen(ctx, want, limit, "", handle)
}

// gatherThen is gather that starts phase (unless empty) once every message
// has arrived, before handling them, so that waiting and work are timed
// apart.
func (s *coordSession) gatherThen(ctx context.Context, want wire.Type, limit func(i int) int64, phase string, handle func(i int, msg []byte) error) error {
	msgs := make([][]byte, s.n)
	parent := ctx
	if d := s.cfg.phaseTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, conn := range s.conns {
		g.Go(func() error {
			lim := max(limit(i), maxAbortSize)
			msg, err := transport.RecvLimit(gctx, conn, lim)
			if err != nil {
				if parent.Err() != nil {
					return stoppedError(parent) // Run tells the parties
				}
				if ctx.Err() == nil && gctx.Err() != nil {
					return gctx.Err() // another party failed first
				}
				var se *transport.SizeError
				if errors.As(err, &se) {
					return &partyError{party: i, err: fmt.Errorf("%w: party %s sent a %v message of %d bytes, more than the %d bytes it may hold",
						ErrProtocol, s.params.Parties[i], want, se.Size, lim)}
				}
				return &partyError{party: i, err: fmt.Errorf("%w: party %s: %v", ErrPartyUnavailable, s.params.Parties[i], err)}
			}
			t, err := wire.Peek(msg)
			if err != nil {
				return &partyError{party: i, err: fmt.Errorf("%w: from party %s: %v", ErrProtocol, s.params.Parties[i], err)}
			}
			if t == wire.TypeAbort {
				m, err := wire.DecodeAbort(msg)
				if err != nil {
					return &partyError{party: i, err: fmt.Errorf("%w: from party %s: %v", ErrProtocol, s.params.Parties[i], err)}
				}
				return s.partyAbort(i, m, msg)
			}
			if t != want {
				return &partyError{party: i, err: fmt.Errorf("%w: party %s sent %v, want %v", ErrProtocol, s.params.Parties[i], t, want)}
			}
			msgs[i] = msg
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		var pe *partyError
		if errors.As(err, &pe) {
			pe.err = s.lost(pe.err)
			// A party that aborted itself needs no telling; one that is
			// merely slow or sent garbage does.
			skip := -1
			if pe.abort != nil {
				skip = pe.party
			}
			if pe.relay != nil {
				s.sendAbort(pe.relay, skip)
			} else {
				s.abortAll(pe.err, skip)
			}
			return pe.err
		}
		return err
	}
	if phase != "" {
		s.ph.start(phase)
	}
	for i, msg := range msgs {
		msgs[i] = nil // handled messages can go
		if err := handle(i, msg); err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrCheating) {
				err = fmt.Errorf("%w: from party %s: %v", ErrProtocol, s.params.Parties[i], err)
			}
			s.abortAll(err, -1)
			return &partyError{party: i, err: err}
		}
	}
	return nil
}

// The most a party's message of each phase can hold, in bytes, on the wire
// format (docs/PROTOCOL.md §11): what gather lets a party send.
const (
	msgHeaderSize = 2 // version and type
	// An Abort, which a party may send in any phase.
	maxAbortSize = msgHeaderSize + 2 + 1 + 2 + wire.MaxReasonLen + 2 + wire.MaxSigLen
	helloSize    = msgHeaderSize + wire.KeySize + wire.ElementSize + 4 + 2 + wire.MaxSigLen
	confirmSize  = msgHeaderSize + wire.KeySize
)

// sealedSize bounds a Sealed of a session of n parties: n−1 boxes.
func sealedSize(n int) int64 {
	return msgHeaderSize + 2 + int64(n-1)*(2+2+wire.MaxSealedSize)
}

// tagsSize bounds the Tags of a party whose signed set size bound is b.
func tagsSize(b uint32) int64 {
	return msgHeaderSize + 4 + int64(b)*wire.TagSize
}

// elementsSize bounds an Elements of a session of n parties with a chain of
// chain points and at most elems elements.
func elementsSize(n, chain int, elems uint32) int64 {
	chain = min(chain, n)
	return msgHeaderSize + 2 + 2 + wire.KeySize + 2 + int64(chain)*wire.ElementSize +
		int64(chain-1)*wire.ProofSize + 4 + int64(elems)*wire.ElementSize
}

// maskedSize bounds a Masked of cols columns of w words.
func maskedSize(cols, w int) int64 {
	return msgHeaderSize + 2 + 4 + 8*int64(cols)*int64(w)
}

// limitAll is a gather limit that is the same for every party.
func limitAll(n int64) func(int) int64 { return func(int) int64 { return n } }

// partyError is a failure attributed to one party; abortAll has already
// told the others. For an Abort from the party, abort is the message and
// relay what the others are sent.
type partyError struct {
	party int
	err   error
	abort *wire.Abort
	relay []byte
}

// partyAbort is the failure for an Abort that party i sent as msg (decoded:
// m). A party speaks only for itself. If its abort is signed by it for this
// session (or there is nothing to verify, without identities), the others
// are sent the party's message as it came, so they can check the signature
// themselves. Otherwise the abort still ends the session, but the others
// hear of it as the coordinator's: the coordinator cannot prove it came
// from party i, and must not relay what they would take for a forgery.
func (s *coordSession) partyAbort(i int, m *wire.Abort, msg []byte) *partyError {
	name := s.params.Parties[i]
	pub, check := s.cfg.pinnedKey(name)
	signed := int(m.From) == i && (!check || verifyAbort(pub, s.sid, m))
	claimed := m.From
	m.From = uint16(i)
	ae := abortError(m, s.params.Parties)
	if signed {
		return &partyError{party: i, err: ae, abort: m, relay: msg}
	}
	what := "not signed by its identity for this session"
	if int(claimed) != i {
		what = fmt.Sprintf("claiming sender index %d", claimed)
	}
	ae.Reason = fmt.Sprintf("%s (the abort is %s)", ae.Reason, what)
	relay := &wire.Abort{
		From:   wire.Coordinator,
		Code:   m.Code,
		Reason: fmt.Sprintf("party %s's connection aborted the session with an abort %s: %s", name, what, m.Reason),
	}
	return &partyError{party: i, err: ae, abort: m, relay: relay.Encode()}
}

func (e *partyError) Error() string { return e.err.Error() }
func (e *partyError) Unwrap() error { return e.err }

// abortAll tells every party but skip that the session is over because of
// err. It does not wait long: a party that cannot be reached is already
// gone. The abort is the coordinator's own (From is wire.Coordinator, no
// signature) even when err is about a party, which err names: only a
// party's signed abort, relayed as it came, speaks for the party.
func (s *coordSession) abortAll(err error, skip int) {
	msg := (&wire.Abort{From: wire.Coordinator, Code: abortCode(err), Reason: publicReason(err)}).Encode()
	s.sendAbort(msg, skip)
}

// sendAbort sends the Abort msg to every party but skip, once per session.
func (s *coordSession) sendAbort(msg []byte, skip int) {
	if s.aborted {
		return
	}
	s.aborted = true
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	for i, conn := range s.conns {
		if i != skip {
			_ = conn.Send(ctx, msg) // best effort: the session is over either way
		}
	}
}

// stoppedError is the error of a session ended by ctx, the coordinator's.
func stoppedError(ctx context.Context) error {
	return fmt.Errorf("%w: %v", ErrStopped, context.Cause(ctx))
}

// Abandon ends a session that never started, for the parties on conns
// (conns[i] is party i's connection, nil for a party that did not arrive):
// each is told the reason at once, by the coordinator's Abort, instead of
// waiting for its own timeout. It does not close conns.
//
// If spoke is a party's index, that party sent a message before the others
// had arrived: a party that cannot take part says so with an Abort (see
// Party.Run). Abandon reads it and returns an *AbortError naming the party
// and its reason, and tells the others that party's name and reason, in the
// coordinator's own words (the abort is not signed for a session, so the
// coordinator cannot vouch for it as the party's). Otherwise it tells every
// party cause (say, an error wrapping ErrPartyUnavailable naming the
// parties that did not arrive) and returns it.
func (c *Coordinator) Abandon(ctx context.Context, conns []transport.Conn, spoke int, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err, tell := cause, cause
	if spoke >= 0 && spoke < len(conns) && conns[spoke] != nil {
		name := c.params.Parties[spoke]
		err = fmt.Errorf("%w: party %s sent a message before the session started", ErrProtocol, name)
		tell = err
		if msg, rerr := conns[spoke].Recv(ctx); rerr == nil {
			if t, perr := wire.Peek(msg); perr == nil && t == wire.TypeAbort {
				if m, derr := wire.DecodeAbort(msg); derr == nil {
					reason := printable(m.Reason)
					err = &AbortError{Party: "party " + name, Reason: reason, code: m.Code}
					tell = &AbortError{Party: "coordinator", Reason: fmt.Sprintf("party %s cannot take part: %s", name, reason), code: m.Code}
				}
			}
		}
	}
	msg := (&wire.Abort{From: wire.Coordinator, Code: abortCode(tell), Reason: wire.FitReason(publicReason(tell))}).Encode()
	for i, conn := range conns {
		if conn != nil && i != spoke {
			_ = conn.Send(ctx, msg) // best effort: the session is over either way
		}
	}
	return err
}

// printable replaces what is not printable in a peer's text.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, strings.ToValidUTF8(s, "?"))
}

func (s *coordSession) send(ctx context.Context, i int, msg []byte) error {
	if err := s.conns[i].Send(ctx, msg); err != nil {
		if ctx.Err() != nil {
			return stoppedError(ctx) // Run tells the parties
		}
		return s.sendFailed(i, err)
	}
	return nil
}

// sendFailed ends the session because sending to party i failed with err.
func (s *coordSession) sendFailed(i int, err error) error {
	err = s.lost(fmt.Errorf("%w: party %s: %v", ErrPartyUnavailable, s.params.Parties[i], err))
	s.abortAll(err, i)
	return &partyError{party: i, err: err}
}

func listSizes[T any](lists [][]T) []int {
	out := make([]int, len(lists))
	for i, l := range lists {
		out[i] = len(l)
	}
	return out
}

func toInt64(v []uint64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// randomPermutation returns a uniformly random permutation of 0..n−1
// (Fisher–Yates) drawn from crypto/rand. Indexes are taken as the high word
// of r·(i+1) for a 64-bit random r, whose bias is below (i+1)/2^64.
func randomPermutation(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	buf := make([]byte, 8*min(n, 4096))
	for i := n - 1; i > 0; {
		rand.Read(buf)
		for b := 0; b+8 <= len(buf) && i > 0; b, i = b+8, i-1 {
			j, _ := bits.Mul64(binary.LittleEndian.Uint64(buf[b:]), uint64(i+1))
			p[i], p[j] = p[j], p[i]
		}
	}
	return p
}
