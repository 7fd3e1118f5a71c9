package maskshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// memWriter is a ResumableWriter in memory that outlives the sessions of a
// test, as a party's result file outlives its process.
type memWriter struct {
	mu      sync.Mutex
	records []Record
	synced  int
}

func (w *memWriter) WriteRecord(r *Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records = append(w.records, *r)
	return nil
}

func (w *memWriter) Sync() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.synced = len(w.records)
	return int64(w.synced), nil
}

// Rewind drops the records after mark; a crash loses those not synced.
func (w *memWriter) Rewind(mark int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if mark < 0 || mark > int64(w.synced) {
		return fmt.Errorf("rewind to %d past the synced %d", mark, w.synced)
	}
	w.records = w.records[:mark]
	return nil
}

// tableSource reads a Table as a Source.
type tableSource struct {
	t   *Table
	row int
	buf []int64
}

func (s *tableSource) Next() (string, []int64, error) {
	if s.row == len(s.t.IDs) {
		return "", nil, io.EOF
	}
	s.buf = s.buf[:0]
	for _, col := range s.t.Values {
		s.buf = append(s.buf, col[s.row])
	}
	s.row++
	return s.t.IDs[s.row-1], s.buf, nil
}

// crashConn fails for good once its budget of messages (sent and
// received) is spent, closing the pipe under it: a participant killed
// there, whose peer sees the connection drop.
type crashConn struct {
	transport.Conn
	left atomic.Int64
}

func (c *crashConn) spend() error {
	if c.left.Add(-1) < 0 {
		c.Conn.Close()
		return transport.ErrClosed
	}
	return nil
}

func (c *crashConn) Send(ctx context.Context, msg []byte) error {
	if err := c.spend(); err != nil {
		return err
	}
	return c.Conn.Send(ctx, msg)
}

func (c *crashConn) Recv(ctx context.Context) ([]byte, error) {
	if err := c.spend(); err != nil {
		return nil, err
	}
	return c.Conn.Recv(ctx)
}

// spooledSession is a bucketed session of spooled parties whose
// participants keep their working directories and outputs across runs.
type spooledSession struct {
	params   Params
	tables   []*Table
	spools   []*Spool
	outs     []*memWriter
	coordCfg *Config
	cfgs     []*Config
	// wrap, if set, wraps party i's end of its connection.
	wrap func(i int, c transport.Conn) transport.Conn
	// coord, if set, is the coordinator of every run (one process);
	// otherwise each run has a new one (a restarted process).
	coord *Coordinator
}

func newSpooledSession(t *testing.T, params Params, tables []*Table) *spooledSession {
	t.Helper()
	ss := &spooledSession{params: params, tables: tables}
	var err error
	if ss.coordCfg, ss.cfgs, err = LocalConfigs(params, nil); err != nil {
		t.Fatal(err)
	}
	ss.coordCfg.WorkDir = t.TempDir()
	for _, tb := range tables {
		sp, err := SpoolTable(context.Background(), t.TempDir(), &tableSource{t: tb}, len(params.Columns))
		if err != nil {
			t.Fatal(err)
		}
		ss.spools = append(ss.spools, sp)
		ss.outs = append(ss.outs, &memWriter{})
	}
	return ss
}

// run runs the session once; crash[i] > 0 kills participant i (n is the
// coordinator) after that many messages.
func (ss *spooledSession) run(t *testing.T, crash []int64) ([]*Result, *Report, []error) {
	t.Helper()
	n := len(ss.tables)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	coord := ss.coord
	if coord == nil {
		var err error
		if coord, err = NewCoordinator(ss.params, ss.coordCfg); err != nil {
			t.Fatal(err)
		}
	}
	coordEnds := make([]transport.Conn, n)
	partyEnds := make([]transport.Conn, n)
	for i := range n {
		coordEnds[i], partyEnds[i] = transport.Pipe()
		if ss.wrap != nil {
			partyEnds[i] = ss.wrap(i, partyEnds[i])
		}
		if crash[i] > 0 {
			c := &crashConn{Conn: partyEnds[i]}
			c.left.Store(crash[i])
			partyEnds[i] = c
		}
	}
	coordCtx, stopCoord := context.WithCancel(ctx)
	defer stopCoord()
	if crash[n] > 0 { // the coordinator dies: every connection drops at once
		for i := range n {
			c := &crashConn{Conn: coordEnds[i]}
			c.left.Store(crash[n])
			coordEnds[i] = c
		}
	}
	results := make([]*Result, n)
	errs := make([]error, n+1)
	var rep *Report
	var wg sync.WaitGroup
	wg.Go(func() { rep, errs[n] = coord.Run(coordCtx, coordEnds) })
	for i := range n {
		sp, err := OpenSpool(ss.spools[i].Dir())
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewSpooledParty(ss.params.Parties[i], ss.params, sp, ss.outs[i], ss.cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { results[i], errs[i] = p.Run(ctx, partyEnds[i]) })
	}
	wg.Wait()
	for _, c := range coordEnds {
		c.Close()
	}
	return results, rep, errs
}

// TestResumeAfterCrash kills a party or the coordinator at a random point
// of a bucketed session, up to three times, and runs the session again
// with the same working directories until it finishes: it must finish
// with the oracle's result, every participant having been told the
// session is suspended, not aborted.
func TestResumeAfterCrash(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(11, seed))
	var resumedFromStart, cases atomic.Int64
	t.Cleanup(func() {
		// A crash before any step is done resumes at step 1; most must
		// resume further on, or the test does not test resuming.
		if c := cases.Load(); c > 4 && resumedFromStart.Load()*2 > c {
			t.Errorf("%d of %d sessions resumed from the first step", resumedFromStart.Load(), c)
		}
	})
	for _, mode := range []PSIMode{Keyed, ECDH, OPRF} {
		for _, reveal := range []RevealPolicy{PerRecord, TotalsOnly, CardinalityOnly} {
			for _, k := range []int{0, 2} {
				sub := rng.Uint64()
				twoPass := k == 2 && reveal != CardinalityOnly
				if mode == OPRF {
					k = 0 // k = n, in one pass or (with a minimum) two
				}
				t.Run(fmt.Sprintf("%v/%v/k=%d/two-pass=%v", mode, reveal, k, twoPass), func(t *testing.T) {
					t.Parallel()
					rng := rand.New(rand.NewPCG(sub, 5))
					n := 3
					params := testParams(n, 2)
					params.Mode, params.Reveal, params.Threshold = mode, reveal, k
					params.CoordinatorSeesResult = rng.IntN(2) == 0
					params.BucketRows = 4
					tables := genTables(rng, n, len(params.Columns), 30+rng.IntN(30), 1<<40)
					if twoPass {
						params.MinResultSize = 1
						addCommon(t, tables)
					}
					ss := newSpooledSession(t, params, tables)
					crashWithin := int64(120) // about the messages of a session
					cases.Add(1)
					var results []*Result
					var rep *Report
					for run := 0; ; run++ {
						crash := make([]int64, n+1)
						if run < 3 {
							crash[rng.IntN(n+1)] = 6 + rng.Int64N(crashWithin)
						}
						var errs []error
						results, rep, errs = ss.run(t, crash)
						if Cause(errs...) == nil {
							if run > 0 && rep.Resumed <= 1 {
								resumedFromStart.Add(1)
							}
							break
						}
						if errs[n] == nil {
							// Lost while the session confirmed: the
							// others finished, the lost party did not
							// get the result (it runs the session again).
							for i, err := range errs[:n] {
								if err != nil && crash[i] == 0 {
									t.Fatalf("run %d (crash %v): party %d failed: %v", run, crash, i, err)
								}
								if err != nil {
									results[i] = nil
								}
							}
							break
						}
						for i, err := range errs {
							if !errors.Is(err, ErrSuspended) {
								t.Fatalf("run %d (crash %v): participant %d ended with %v, want ErrSuspended", run, crash, i, err)
							}
						}
						t.Logf("run %d: crash %v: suspended (%v)", run, crash, Cause(errs...))
						if run == 3 {
							t.Fatalf("the session did not finish without crashes: %v", errs)
						}
					}
					if rep.Redone > 1 {
						t.Errorf("the resume at step %d ran %d completed steps again, want at most 1", rep.Resumed, rep.Redone)
					}
					for i, r := range results {
						if r != nil {
							r.Records = ss.outs[i].records
						}
					}
					checkAgainstOracle(t, params, tables, results, rep)
				})
			}
		}
	}
}

// rewriteConn lets a test rewrite the messages a party receives: a
// cheating coordinator.
type rewriteConn struct {
	transport.Conn
	edit func(msg []byte) []byte
}

func (c *rewriteConn) Recv(ctx context.Context) ([]byte, error) {
	msg, err := c.Conn.Recv(ctx)
	if err == nil {
		msg = c.edit(msg)
	}
	return msg, err
}

// TestResumeRefusesReusedKeys plays a coordinator that resumes a
// suspended session with an attempt number a party has used already, or
// at a step the party never reached: resuming there would derive the same
// masks for other messages, or skip work. The party must refuse with
// ErrCheating before it sends anything of the step.
func TestResumeRefusesReusedKeys(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m *wire.Resume)
	}{
		{"attempt reused", func(m *wire.Resume) { m.Attempt = 0 }},
		{"step not reached", func(m *wire.Resume) { m.Step += 1000 }},
		{"step zero", func(m *wire.Resume) { m.Step = 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 5))
			params := testParams(3, 1)
			params.BucketRows = 4
			tables := genTables(rng, 3, 1, 40, 1<<40)
			ss := newSpooledSession(t, params, tables)
			if _, _, errs := ss.run(t, []int64{0, 30, 0, 0}); !errors.Is(errs[0], ErrSuspended) {
				t.Fatalf("first run: %v, want a suspended session", errs[0])
			}
			ss.wrap = func(i int, conn transport.Conn) transport.Conn {
				if i != 0 {
					return conn
				}
				return &rewriteConn{Conn: conn, edit: func(msg []byte) []byte {
					if typ, _ := wire.Peek(msg); typ != wire.TypeResume {
						return msg
					}
					m, err := wire.DecodeResume(msg)
					if err != nil {
						t.Fatal(err)
					}
					c.edit(m)
					return m.Encode()
				}}
			}
			_, _, errs := ss.run(t, make([]int64, 4))
			var ce *CheatingError
			if !errors.As(errs[0], &ce) || ce.Check != "resume" {
				t.Fatalf("party 0 ended with %v, want a failed resume check", errs[0])
			}
			for i, err := range errs {
				if err == nil {
					t.Fatalf("participant %d finished", i)
				}
			}
		})
	}
}

// TestResumeWithoutCheckpointStartsAfresh loses a party's checkpoint while
// the session is suspended: the session cannot resume, so it aborts for
// everyone (not suspended again), every checkpoint is dropped, and the
// next run starts afresh and finishes with the oracle's result.
func TestResumeWithoutCheckpointStartsAfresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	params := testParams(3, 2)
	params.BucketRows = 4
	tables := genTables(rng, 3, 2, 50, 1<<40)
	ss := newSpooledSession(t, params, tables)
	if _, _, errs := ss.run(t, []int64{0, 0, 0, 40}); !errors.Is(errs[1], ErrSuspended) {
		t.Fatalf("first run: %v, want a suspended session", errs[1])
	}
	if err := os.RemoveAll(filepath.Join(ss.spools[1].Dir(), spoolSessions)); err != nil {
		t.Fatal(err)
	}
	_, _, errs := ss.run(t, make([]int64, 4))
	for i, err := range errs {
		if err == nil || errors.Is(err, ErrSuspended) {
			t.Fatalf("participant %d ended with %v, want the session aborted", i, err)
		}
	}
	for i := range ss.outs {
		ss.outs[i] = &memWriter{}
	}
	results, rep, errs := ss.run(t, make([]int64, 4))
	if err := Cause(errs...); err != nil {
		t.Fatalf("fresh run: %v", err)
	}
	if rep.Resumed != 0 {
		t.Fatalf("the fresh run resumed at step %d", rep.Resumed)
	}
	for i, r := range results {
		r.Records = ss.outs[i].records
	}
	checkAgainstOracle(t, params, tables, results, rep)
}

// TestBucketedAbortAttributed makes a party find a duplicate identifier in
// one of its buckets, mid-session: it aborts, signed for the session (not
// for the bucket's step), so every other party's error names it and the
// duplicate, and nobody keeps a checkpoint to resume.
func TestBucketedAbortAttributed(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	params := testParams(3, 1)
	params.BucketRows = 4
	tables := genTables(rng, 3, 1, 60, 1<<40)
	dup := tables[1].IDs[len(tables[1].IDs)/2]
	if err := tables[1].AddRow(dup, 1); err != nil {
		t.Fatal(err)
	}
	ss := newSpooledSession(t, params, tables)
	_, _, errs := ss.run(t, make([]int64, 4))
	var ie *InputError
	if !errors.As(errs[1], &ie) || !errors.Is(errs[1], ErrDuplicateID) || ie.Row != len(tables[1].IDs)-1 {
		t.Fatalf("party 1 ended with %v, want its duplicate at row %d", errs[1], len(tables[1].IDs)-1)
	}
	for _, i := range []int{0, 2, 3} {
		var ae *AbortError
		if !errors.As(errs[i], &ae) || ae.Party != "party "+params.Parties[1] || !errors.Is(errs[i], ErrDuplicateID) || errors.Is(errs[i], ErrSuspended) {
			t.Fatalf("participant %d ended with %v, want an abort by %s for a duplicate", i, errs[i], params.Parties[1])
		}
	}
	for i, sp := range ss.spools {
		if ents, _ := os.ReadDir(filepath.Join(sp.Dir(), spoolSessions)); len(ents) != 0 {
			t.Fatalf("party %d kept %d session directories", i, len(ents))
		}
	}
}

// TestResumeNotLimitedAsRerun resumes a suspended session at once under a
// coordinator whose runs must be an hour apart and that allows one run:
// the resumption is the same run, not a new one, so the limits do not
// refuse it; a second session afterwards is refused.
func TestResumeNotLimitedAsRerun(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	params := testParams(3, 1)
	params.BucketRows = 4
	tables := genTables(rng, 3, 1, 50, 1<<40)
	ss := newSpooledSession(t, params, tables)
	ss.coordCfg.MinRunInterval, ss.coordCfg.MaxRuns = time.Hour, 1
	coord, err := NewCoordinator(params, ss.coordCfg)
	if err != nil {
		t.Fatal(err)
	}
	ss.coord = coord
	if _, _, errs := ss.run(t, []int64{0, 60, 0, 0}); !errors.Is(errs[3], ErrSuspended) {
		t.Fatalf("first run: coordinator ended with %v, want a suspended session", errs[3])
	}
	results, rep, errs := ss.run(t, make([]int64, 4))
	if err := Cause(errs...); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	for i, r := range results {
		r.Records = ss.outs[i].records
	}
	checkAgainstOracle(t, params, tables, results, rep)
	if _, _, errs := ss.run(t, make([]int64, 4)); !errors.Is(errs[3], ErrRunLimit) {
		t.Fatalf("a second session: coordinator ended with %v, want the run limit", errs[3])
	}
}

// TestSuspendedPartyLostBeforeOpen: a party holding a suspended session's
// checkpoint that loses the coordinator before the session's Open comes
// (it never comes) still holds a suspended session: ErrSuspended, and the
// checkpoint is kept for the next run, which resumes.
func TestSuspendedPartyLostBeforeOpen(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	params := testParams(3, 1)
	params.BucketRows = 4
	tables := genTables(rng, 3, 1, 50, 1<<40)
	ss := newSpooledSession(t, params, tables)
	if _, _, errs := ss.run(t, []int64{0, 0, 40, 0}); !errors.Is(errs[0], ErrSuspended) {
		t.Fatalf("first run: %v, want a suspended session", errs[0])
	}
	sp, err := OpenSpool(ss.spools[0].Dir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewSpooledParty(params.Parties[0], params, sp, ss.outs[0], ss.cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	coordEnd, partyEnd := transport.Pipe()
	coordEnd.Close() // the coordinator is gone before it opens anything
	if _, err := p.Run(context.Background(), partyEnd); !errors.Is(err, ErrSuspended) {
		t.Fatalf("party lost before the Open: %v, want ErrSuspended", err)
	}
	results, rep, errs := ss.run(t, make([]int64, 4))
	if err := Cause(errs...); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if rep.Resumed <= 1 {
		t.Fatalf("the session resumed at step %d: the checkpoint was lost", rep.Resumed)
	}
	for i, r := range results {
		r.Records = ss.outs[i].records
	}
	checkAgainstOracle(t, params, tables, results, rep)
}
