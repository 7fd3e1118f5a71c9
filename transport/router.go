package transport

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// maxHeld bounds the connections a Router holds for sessions that no Expect
// is waiting for yet; more are refused.
const maxHeld = 1024

// Router serves many sessions on one [Listener]: each [Router.Expect] call
// waits for the parties of one session, and the Router hands every
// authenticated connection to the Expect call of the session it asked for.
//
// A connection is refused (the party's [Dial] fails with a [RefusedError]) if
// its peer is not among the session's expected peers, or if no Expect for its
// session arrives within [Config.HoldTimeout]: connections that arrive before
// their session's Expect are held until then, so parties may start before the
// coordinator opens the session. If a peer connects again for a session before
// the session is complete, the newer connection replaces the older one (which
// is closed): the party probably restarted.
type Router struct {
	l    *Listener
	cfg  *config
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu      sync.Mutex
	closed  bool
	waiting map[string]*expectation        // by session
	held    map[string]map[string]*pending // by session, then peer
	nheld   int
	running map[string]int // sessions handed out by Expect and not yet released
	ended   map[string]*endedRun
}

// endedRun is a run that ended before some of its peers arrived (see
// [Router.Ended]).
type endedRun struct {
	late   map[string]bool
	reason string
	until  time.Time
}

type expectation struct {
	want   map[string]bool
	slots  map[string]*pending // by peer
	notify chan struct{}       // capacity 1: "slots changed"
	spoke  string              // the first admitted peer that sent a message
}

// pending is a connection waiting for its session: held for a session not
// yet expected, or gathered by an Expect (and maybe admitted, waiting for
// the others). It is watched for a hang-up all along.
type pending struct {
	in       *Incoming
	timer    *time.Timer // hold timeout, while held
	admitted bool

	wmu  sync.Mutex
	stop func() bool // ends the hang-up watch; reports if still usable
}

// newPending starts watching in for a hang-up.
func (r *Router) newPending(in *Incoming) *pending {
	p := &pending{in: in}
	p.watch(r)
	return p
}

// watch (re)starts the hang-up watch of p. Once p is admitted, a message
// from its party is kept for the session, and noted.
func (p *pending) watch(r *Router) {
	p.wmu.Lock()
	p.stop = p.in.c.watchHangup(func(err error) { r.gone(p, err) }, p.admitted, func() { r.spoke(p) })
	p.wmu.Unlock()
}

// spoke notes that the admitted party of p sent a message before its
// session was complete (an abort, say).
func (r *Router) spoke(p *pending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.waiting[p.in.Session]; e != nil && e.slots[p.in.Peer] == p {
		if e.spoke == "" {
			e.spoke = p.in.Peer
		}
		select {
		case e.notify <- struct{}{}:
		default:
		}
	}
}

// stopWatch ends the hang-up watch and reports whether the connection is
// still usable.
func (p *pending) stopWatch() bool {
	p.wmu.Lock()
	stop := p.stop
	p.wmu.Unlock()
	return stop()
}

// drop refuses a pending connection.
func (r *Router) drop(p *pending, reason string) {
	p.stopWatch()
	r.refuse(p.in, reason)
}

// Release tells the Router that a run of session, whose connections an
// Expect returned, has ended. Until then, connections for the session are
// held as for a session not yet expected, and one whose hold times out is
// refused as "session busy" rather than as unknown.
func (r *Router) Release(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[session] > 1 {
		r.running[session]--
	} else {
		delete(r.running, session)
	}
}

// Ended records that a run of session ended, for the reason given, before
// the peers in late arrived. For the next within, a connection from one of
// them for session is refused once with that reason instead of being
// gathered for a new run: a party late for a run that ended at once
// (another party could not take part, say) learns why at once rather than
// waiting for partners that have gone. The reason is sent to the peer: it
// must hold nothing the peer may not learn.
func (r *Router) Ended(session string, late []string, reason string, within time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for s, e := range r.ended { // forget the runs whose notice expired
		if now.After(e.until) {
			delete(r.ended, s)
		}
	}
	if len(late) == 0 || within <= 0 || r.closed {
		delete(r.ended, session)
		return
	}
	e := &endedRun{late: make(map[string]bool, len(late)), reason: reason, until: now.Add(within)}
	for _, p := range late {
		e.late[p] = true
	}
	r.ended[session] = e
}

// lateFor reports, under r.mu, why in's session ended before in's peer
// arrived, if it did recently, and forgets the peer.
func (r *Router) lateFor(in *Incoming) (string, bool) {
	e := r.ended[in.Session]
	if e == nil || !e.late[in.Peer] {
		return "", false
	}
	delete(e.late, in.Peer)
	if len(e.late) == 0 {
		delete(r.ended, in.Session)
	}
	if time.Now().After(e.until) {
		return "", false
	}
	return e.reason, true
}

// NewRouter starts routing the connections accepted by l, which the Router
// then owns: do not call l.Accept, and close the Router rather than l.
func NewRouter(l *Listener) *Router {
	l.routed.Store(true)
	r := &Router{
		l:       l,
		cfg:     l.cfg,
		done:    make(chan struct{}),
		waiting: make(map[string]*expectation),
		held:    make(map[string]map[string]*pending),
		running: make(map[string]int),
		ended:   make(map[string]*endedRun),
	}
	r.wg.Add(1)
	go r.loop()
	return r
}

// Listener returns the Router's listener (for its address, say).
func (r *Router) Listener() *Listener { return r.l }

// Close closes the listener, refuses held connections and makes pending
// Expect calls fail with [ErrClosed]. Connections already returned by Expect
// are not closed.
func (r *Router) Close() error {
	var err error
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		held := r.held
		r.held, r.nheld = nil, 0
		r.mu.Unlock()
		close(r.done)
		for _, byPeer := range held {
			for _, p := range byPeer {
				p.timer.Stop()
				r.drop(p, "coordinator shutting down")
			}
		}
		err = r.l.Close()
		r.wg.Wait()
	})
	return err
}

func (r *Router) loop() {
	defer r.wg.Done()
	for {
		in, err := r.l.next(context.Background())
		if err != nil {
			return // listener closed
		}
		r.route(in)
	}
}

func (r *Router) refuse(in *Incoming, reason string) {
	r.cfg.log.Info("transport: refusing connection",
		"peer", in.Peer, "session", in.Session, "remote", in.RemoteAddr, "reason", reason)
	in.c.refuse(reason)
}

func (r *Router) route(in *Incoming) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.refuse(in, "coordinator shutting down")
		return
	}
	if reason, ok := r.lateFor(in); ok {
		r.mu.Unlock()
		r.refuse(in, "the run of this session ended before this party arrived: "+reason)
		return
	}
	if e := r.waiting[in.Session]; e != nil {
		if !e.want[in.Peer] {
			r.mu.Unlock()
			r.refuse(in, "peer not expected in this session")
			return
		}
		old := e.slots[in.Peer]
		e.slots[in.Peer] = r.newPending(in)
		select {
		case e.notify <- struct{}{}:
		default:
		}
		r.mu.Unlock()
		if old != nil {
			r.drop(old, "superseded by a newer connection")
		}
		return
	}
	if r.cfg.holdTimeout < 0 {
		r.mu.Unlock()
		r.refuse(in, "unknown session")
		return
	}
	byPeer := r.held[in.Session]
	old := byPeer[in.Peer]
	if old == nil && r.nheld >= maxHeld {
		r.mu.Unlock()
		r.refuse(in, "too many connections waiting for their session")
		return
	}
	if byPeer == nil {
		byPeer = make(map[string]*pending)
		r.held[in.Session] = byPeer
	}
	p := r.newPending(in)
	p.timer = time.AfterFunc(r.cfg.holdTimeout, func() { r.expire(p) })
	byPeer[in.Peer] = p
	if old != nil {
		old.timer.Stop()
	} else {
		r.nheld++
	}
	r.mu.Unlock()
	if old != nil {
		r.drop(old, "superseded by a newer connection")
	}
}

// unhold removes p from the held connections (under r.mu), reporting whether
// it was there.
func (r *Router) unhold(p *pending) bool {
	byPeer := r.held[p.in.Session]
	if byPeer[p.in.Peer] != p {
		return false // taken by Expect, replaced, or Close
	}
	delete(byPeer, p.in.Peer)
	if len(byPeer) == 0 {
		delete(r.held, p.in.Session)
	}
	r.nheld--
	p.timer.Stop()
	return true
}

// expire refuses a held connection whose session was not opened in time.
func (r *Router) expire(p *pending) {
	r.mu.Lock()
	ok := r.unhold(p)
	busy := r.running[p.in.Session] > 0
	r.mu.Unlock()
	if ok {
		reason := "unknown session"
		if busy {
			reason = "session busy: a run of it is in progress; retry when it has ended"
		}
		r.drop(p, reason)
	}
}

// gone forgets a pending connection whose party hung up (the watch has
// closed it).
func (r *Router) gone(p *pending, err error) {
	r.mu.Lock()
	found := r.unhold(p)
	if e := r.waiting[p.in.Session]; !found && e != nil && e.slots[p.in.Peer] == p {
		// Admitted or not, a party that hung up is not present.
		delete(e.slots, p.in.Peer)
		found = true
	}
	r.mu.Unlock()
	if found {
		r.cfg.log.Info("transport: party hung up while waiting for its session",
			"peer", p.in.Peer, "session", p.in.Session, "remote", p.in.RemoteAddr, "admitted", p.admitted, "err", err)
	}
}

// Expect waits until every one of peers has connected for session, and
// returns their connections by peer name. Connections for the session that
// arrived before the call (within [Config.HoldTimeout]) count; a connection
// from a peer not in peers is refused. Each party's [Dial] returns as soon as
// its connection is taken for the session.
//
// If ctx ends (or the Router is closed) first, Expect closes the connections
// it had gathered and returns an [*ExpectError] naming the missing peers.
// Only one Expect per session may be pending at a time ([ErrSessionBusy]);
// after it returns, the session name may be used again.
func (r *Router) Expect(ctx context.Context, session string, peers []string) (map[string]Conn, error) {
	return r.expect(ctx, session, peers, false, 0)
}

// Gather is [Router.Expect], except that if it fails, the connections of
// the peers that had been admitted are not closed but returned in
// [ExpectError.Arrived], for the caller to tell them why before it closes
// them; and that it fails ([ErrSpokeEarly], naming the peer in
// [ExpectError.Spoke]) as soon as an admitted peer sends a message before the
// others have arrived (a party that cannot take part and says why), the
// message being kept for the connection's next Recv. Admitted connections
// are watched while they wait: a party that hangs up is no longer counted as
// present, and may connect again.
//
// If arrival is positive, it bounds how long the peers that have been
// admitted wait for the others: the bound starts when the first is admitted
// (and again if all of them leave), and when it passes Gather fails with
// [ErrArrivalTimeout]. Before anyone arrives, nobody waits.
func (r *Router) Gather(ctx context.Context, session string, peers []string, arrival time.Duration) (map[string]Conn, error) {
	return r.expect(ctx, session, peers, true, arrival)
}

func (r *Router) expect(ctx context.Context, session string, peers []string, keep bool, arrival time.Duration) (map[string]Conn, error) {
	if err := checkSession(session); err != nil {
		return nil, err
	}
	if len(peers) == 0 {
		return nil, errors.New("transport: Expect with no peers")
	}
	want := make(map[string]bool, len(peers))
	for _, p := range peers {
		if err := checkName(p); err != nil {
			return nil, err
		}
		if want[p] {
			return nil, fmt.Errorf("transport: Expect: peer %q listed twice", p)
		}
		want[p] = true
	}
	e := &expectation{want: want, slots: make(map[string]*pending), notify: make(chan struct{}, 1)}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if r.waiting[session] != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrSessionBusy, session)
	}
	r.waiting[session] = e
	var unwanted []*pending
	for peer, p := range r.held[session] {
		p.timer.Stop()
		r.nheld--
		if want[peer] {
			e.slots[peer] = p
		} else {
			unwanted = append(unwanted, p)
		}
	}
	delete(r.held, session)
	r.mu.Unlock()
	for _, p := range unwanted {
		r.drop(p, "peer not expected in this session")
	}

	var bound *time.Timer
	var boundC <-chan time.Time
	defer func() {
		if bound != nil {
			bound.Stop()
		}
	}()
	for {
		if err := r.admitPending(ctx, e); err != nil {
			return nil, r.abandon(session, e, err, keep)
		}
		if conns := r.take(session, e); conns != nil {
			return conns, nil
		}
		r.mu.Lock()
		spoke := e.spoke
		waiting := false
		for _, p := range e.slots {
			waiting = waiting || p.admitted
		}
		r.mu.Unlock()
		switch {
		case arrival > 0 && waiting && bound == nil:
			bound = time.NewTimer(arrival)
			boundC = bound.C
		case !waiting && bound != nil:
			bound.Stop()
			bound, boundC = nil, nil
		}
		if keep && spoke != "" {
			err := r.abandon(session, e, fmt.Errorf("%w: %s", ErrSpokeEarly, spoke), keep)
			err.(*ExpectError).Spoke = spoke
			return nil, err
		}
		select {
		case <-e.notify:
		case <-ctx.Done():
			return nil, r.abandon(session, e, ctx.Err(), keep)
		case <-r.done:
			return nil, r.abandon(session, e, ErrClosed, keep)
		case <-boundC:
			return nil, r.abandon(session, e, fmt.Errorf("%w (%v)", ErrArrivalTimeout, arrival), keep)
		}
	}
}

// take returns the connections of e if every wanted peer is admitted and
// still there, ending their hang-up watches; otherwise nil, with the watches
// of those still there running again.
func (r *Router) take(session string, e *expectation) map[string]Conn {
	r.mu.Lock()
	if !r.complete(e) {
		r.mu.Unlock()
		return nil
	}
	slots := make([]*pending, 0, len(e.slots))
	for _, p := range e.slots {
		slots = append(slots, p)
	}
	r.mu.Unlock()
	// Stop the watches outside r.mu: a watch that finds a hang-up takes it.
	alive := make([]bool, len(slots))
	all := true
	for i, p := range slots {
		alive[i] = p.stopWatch()
		all = all && alive[i]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	same := len(e.slots) == len(slots)
	for _, p := range slots {
		same = same && e.slots[p.in.Peer] == p
	}
	if all && same && r.complete(e) {
		delete(r.waiting, session)
		r.running[session]++
		conns := make(map[string]Conn, len(e.slots))
		for peer, p := range e.slots {
			conns[peer] = p.in.Conn
		}
		return conns
	}
	// Someone hung up or was replaced meanwhile: wait on.
	for i, p := range slots {
		if alive[i] && e.slots[p.in.Peer] == p {
			p.watch(r)
		}
	}
	select {
	case e.notify <- struct{}{}:
	default:
	}
	return nil
}

// complete reports (under r.mu) whether every wanted peer is admitted.
func (r *Router) complete(e *expectation) bool {
	for p := range e.want {
		if s := e.slots[p]; s == nil || !s.admitted {
			return false
		}
	}
	return true
}

// admitPending admits the connections gathered for e and not yet admitted.
// A connection that cannot be admitted, or whose party has hung up, is
// dropped (its party may connect again).
func (r *Router) admitPending(ctx context.Context, e *expectation) error {
	r.mu.Lock()
	var todo []*pending
	for _, p := range e.slots {
		if !p.admitted {
			todo = append(todo, p)
		}
	}
	r.mu.Unlock()
	// Admit concurrently: each admission waits for a round trip.
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, p := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !p.stopWatch() {
				errs[i] = ErrClosed // the watch has logged why
				return
			}
			errs[i] = p.in.c.admit(ctx)
		}()
	}
	wg.Wait()
	for i, p := range todo {
		err := errs[i]
		r.mu.Lock()
		if e.slots[p.in.Peer] == p { // not replaced meanwhile
			if err == nil {
				// Watch it while it waits for the others.
				p.admitted = true
				p.watch(r)
			} else {
				delete(e.slots, p.in.Peer)
			}
		}
		r.mu.Unlock()
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				r.cfg.log.Info("transport: admission failed",
					"peer", p.in.Peer, "session", p.in.Session, "err", err)
			}
			p.in.c.Close()
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// abandon ends a failed Expect: it closes the connections gathered and
// reports the missing peers.
func (r *Router) abandon(session string, e *expectation, cause error, keep bool) error {
	r.mu.Lock()
	if r.waiting[session] == e {
		delete(r.waiting, session)
	}
	var missing []string
	for p := range e.want {
		if s := e.slots[p]; s == nil || !s.admitted {
			missing = append(missing, p)
		}
	}
	slots := e.slots
	e.slots = nil
	r.mu.Unlock()
	var arrived map[string]Conn
	for peer, p := range slots {
		if keep && p.admitted {
			if p.stopWatch() {
				if arrived == nil {
					arrived = make(map[string]Conn)
				}
				arrived[peer] = p.in.Conn
			}
			continue
		}
		r.drop(p, "session abandoned by the coordinator")
	}
	sort.Strings(missing)
	return &ExpectError{Session: session, Missing: missing, Err: cause, Arrived: arrived}
}
