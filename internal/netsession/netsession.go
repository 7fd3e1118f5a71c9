// Package netsession runs maskshare sessions over the network transport:
// the coordinator side (wait for every party of a session on a Router, then
// run it) and the party side (dial, then run), with byte counts per role.
// The CLI, the demo and the benchmark harness use it.
package netsession

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/transport"
)

// CoordinatorName is the certificate name the demo and the CLI give the
// coordinator by default.
const CoordinatorName = "coordinator"

// Stats are the bytes a participant moved: message bytes (what the session
// engine sent and received) and wire bytes (after framing, compression and
// TLS), when the transport counts them.
type Stats struct {
	Messages transport.Stats
	Wire     transport.Stats
	HasWire  bool
}

func statsOf(conns ...*transport.MeteredConn) Stats {
	var s Stats
	for _, c := range conns {
		s.Messages = s.Messages.Add(c.Stats())
		if w, ok := c.Wire(); ok {
			s.Wire, s.HasWire = s.Wire.Add(w), true
		}
	}
	return s
}

// Serve waits on router until every party of params has connected for
// session, then runs one session with coord. The connections are closed
// when it returns. It waits for the parties as long as ctx allows; see
// ServeWithin for a bound.
func Serve(ctx context.Context, router *transport.Router, session string, params maskshare.Params, coord *maskshare.Coordinator) (*maskshare.Report, Stats, error) {
	return ServeWithin(ctx, router, session, params, coord, 0)
}

// ErrCannotServe wraps a permanent failure to serve a session (an invalid
// session or party name, a session served twice, a closed router): trying
// again cannot help.
var ErrCannotServe = errors.New("netsession: cannot serve the session")

// ServeWithin is Serve with a bound on how long the parties that have
// arrived wait for the others (arrival, counted from the first arrival; 0
// means none). If a party has not arrived in time, the session
// ends for those that have, with a reason naming who is missing, and the
// error wraps maskshare.ErrPartyUnavailable. If a party that has arrived
// says it cannot take part (an Abort before the session starts), the
// session ends at once for the others with its name and reason. If ctx
// ends, the parties that have arrived are told that the coordinator stopped
// (maskshare.ErrStopped, with the cause of ctx).
func ServeWithin(ctx context.Context, router *transport.Router, session string, params maskshare.Params, coord *maskshare.Coordinator, arrival time.Duration) (*maskshare.Report, Stats, error) {
	byName, err := router.Gather(ctx, session, params.Parties, arrival)
	if err != nil {
		var ee *transport.ExpectError
		if !errors.As(err, &ee) {
			return nil, Stats{}, fmt.Errorf("%w %q: %w", ErrCannotServe, session, err)
		}
		err := abandon(ctx, coord, params, ee, arrival)
		within := arrival
		if within <= 0 {
			within = lateNotice
		}
		router.Ended(session, ee.Missing, err.Error(), within) // what the others were told
		return nil, Stats{}, err
	}
	defer router.Release(session)
	conns := make([]transport.Conn, len(params.Parties))
	metered := make([]*transport.MeteredConn, len(params.Parties))
	for i, name := range params.Parties {
		metered[i] = transport.Metered(byName[name])
		conns[i] = metered[i]
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	rep, err := coord.Run(ctx, conns)
	if err != nil {
		linger(conns)
	}
	return rep, statsOf(metered...), err
}

// lateNotice is how long the parties missing from a run that ended
// before they arrived are told why when they do, if the session has no
// arrival bound (with one, for as long as that bound).
const lateNotice = time.Minute

// abandon ends a session whose parties did not all arrive: it tells those
// that did why, and closes their connections.
func abandon(ctx context.Context, coord *maskshare.Coordinator, params maskshare.Params, ee *transport.ExpectError, arrival time.Duration) error {
	conns := make([]transport.Conn, len(params.Parties))
	for i, name := range params.Parties {
		if c := ee.Arrived[name]; c != nil {
			conns[i] = c
			defer c.Close()
		}
	}
	var cause error
	switch {
	case errors.Is(ee.Err, transport.ErrClosed):
		cause = fmt.Errorf("%w: coordinator shutting down", maskshare.ErrStopped)
	case ctx.Err() != nil:
		cause = fmt.Errorf("%w: %v", maskshare.ErrStopped, context.Cause(ctx))
	case errors.Is(ee.Err, transport.ErrArrivalTimeout):
		cause = fmt.Errorf("%w: %s did not arrive within %v (of the first arrival)", maskshare.ErrPartyUnavailable, strings.Join(ee.Missing, ", "), arrival)
	default:
		cause = fmt.Errorf("%w: session %q: %v", maskshare.ErrPartyUnavailable, ee.Session, ee.Err)
	}
	spoke := slices.Index(params.Parties, ee.Spoke)
	if ee.Spoke == "" {
		spoke = -1
	}
	return coord.Abandon(ctx, conns, spoke, cause)
}

// lingerTimeout bounds how long an aborted session's connections stay open.
const lingerTimeout = 5 * time.Second

// linger keeps reading the connections of an aborted session until each
// party hangs up or lingerTimeout passes. A party may be in the middle of
// sending a large message when the coordinator aborts; closing at once
// would fail its send before it could read the abort and its reason.
func linger(conns []transport.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), lingerTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := c.Recv(ctx); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Join dials the coordinator at addr for session and runs party over the
// connection. Dial retries until ctx ends, so a party may start before the
// coordinator.
func Join(ctx context.Context, addr, session string, party *maskshare.Party, cfg *transport.Config) (*maskshare.Result, Stats, error) {
	conn, err := transport.Dial(ctx, addr, session, cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	m := transport.Metered(conn)
	defer m.Close()
	res, err := party.Run(ctx, m)
	return res, statsOf(m), err
}

// Loopback is the outcome of RunLoopback.
type Loopback struct {
	Results    []*maskshare.Result
	Report     *maskshare.Report
	PartyStats []Stats
	CoordStats Stats
	// DirectDeliveries counts the sealed boxes delivered directly.
	DirectDeliveries int64
}

// RunLoopback runs a whole session in this process over loopback TCP with
// mutual TLS, set up as separate institutions would be: the coordinator and
// every party make their own identity (a self-signed certificate), and each
// pins the keys of the others, with no CA; the parties' identities also
// sign their session keys. cfg (may be nil) supplies the logger, progress
// callback and phase timeout for every participant.
func RunLoopback(ctx context.Context, params maskshare.Params, tables []*maskshare.Table, cfg *maskshare.Config) (*Loopback, error) {
	return RunLoopbackWith(ctx, params, tables, cfg, LoopbackOptions{})
}

// LoopbackOptions are the options of RunLoopbackWith.
type LoopbackOptions struct {
	// Direct makes the parties deliver their sealed boxes to one another
	// over direct mutual-TLS links instead of through the relay.
	Direct bool
}

// RunLoopbackWith is RunLoopback with options.
func RunLoopbackWith(ctx context.Context, params maskshare.Params, tables []*maskshare.Table, cfg *maskshare.Config, opts LoopbackOptions) (*Loopback, error) {
	if len(tables) != len(params.Parties) {
		return nil, fmt.Errorf("netsession: %d tables for %d parties", len(tables), len(params.Parties))
	}
	coordID, err := transport.NewSelfSigned(CoordinatorName)
	if err != nil {
		return nil, err
	}
	ids := make([]*transport.Identity, len(params.Parties))
	keys := make(map[string]ed25519.PublicKey, len(ids))
	for i, name := range params.Parties {
		if ids[i], err = transport.NewSelfSigned(name); err != nil {
			return nil, err
		}
		keys[name] = ids[i].PublicKey()
	}
	// What the parties give the coordinator, and what the coordinator
	// gives the parties: public keys only.
	partiesTrust := transport.Trust{Pins: keys}
	coordTrust := transport.Trust{Pins: map[string]ed25519.PublicKey{CoordinatorName: coordID.PublicKey()}}
	scfg, err := transport.ServerConfig(coordID, partiesTrust, params.Parties)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	if cfg != nil {
		logger = cfg.Logger
	}
	scfg.Logger = logger
	l, err := transport.Listen("127.0.0.1:0", scfg)
	if err != nil {
		return nil, err
	}
	router := transport.NewRouter(l)
	defer router.Close()

	directs := make([]*Direct, len(ids))
	if opts.Direct {
		// Listen first, then tell everyone the addresses.
		peers := make([]map[string]string, len(ids))
		addrs := make(map[string]string, len(ids))
		for i, id := range ids {
			peers[i] = make(map[string]string)
			for _, name := range params.Parties {
				if name != id.Name {
					peers[i][name] = ""
				}
			}
			if directs[i], err = NewDirect(id, partiesTrust, "127.0.0.1:0", peers[i], logger); err != nil {
				return nil, err
			}
			defer directs[i].Close()
			addrs[id.Name] = directs[i].Addr()
		}
		for i := range directs {
			for name := range peers[i] {
				peers[i][name] = addrs[name]
			}
		}
	}
	withKeys := func(id ed25519.PrivateKey) *maskshare.Config {
		c := &maskshare.Config{Identity: id, PeerKeys: keys}
		if cfg != nil {
			c.Logger, c.Progress, c.PhaseTimeout = cfg.Logger, cfg.Progress, cfg.PhaseTimeout
		}
		return c
	}
	coord, err := maskshare.NewCoordinator(params, withKeys(nil))
	if err != nil {
		return nil, err
	}
	out := &Loopback{Results: make([]*maskshare.Result, len(tables)), PartyStats: make([]Stats, len(tables))}
	errs := make([]error, len(tables)+1)
	session := fmt.Sprintf("loopback-%d", time.Now().UnixNano())
	var g errgroup.Group
	g.Go(func() error {
		out.Report, out.CoordStats, errs[len(tables)] = Serve(ctx, router, session, params, coord)
		return nil
	})
	for i, name := range params.Parties {
		pcfg := withKeys(ids[i].PrivateKey)
		if directs[i] != nil {
			pcfg.Direct = directs[i]
		}
		party, err := maskshare.NewParty(name, params, tables[i], pcfg)
		if err != nil {
			return nil, err
		}
		ccfg, err := transport.ClientConfig(ids[i], coordTrust, CoordinatorName)
		if err != nil {
			return nil, err
		}
		ccfg.Logger = logger
		g.Go(func() error {
			out.Results[i], out.PartyStats[i], errs[i] = Join(ctx, l.Addr().String(), session, party, ccfg)
			return nil
		})
	}
	g.Wait()
	for _, d := range directs {
		if d != nil {
			out.DirectDeliveries += d.Delivered()
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, maskshare.Cause(errs...)
		}
	}
	return out, nil
}

// RunMemory runs a whole session in this process over in-memory pipes, as
// maskshare.RunLocal does (with an identity per party), and also counts the
// message bytes of every role.
func RunMemory(ctx context.Context, params maskshare.Params, tables []*maskshare.Table, cfg *maskshare.Config) (*Loopback, error) {
	n := len(tables)
	if n != len(params.Parties) {
		return nil, fmt.Errorf("netsession: %d tables for %d parties", n, len(params.Parties))
	}
	coordCfg, partyCfgs, err := maskshare.LocalConfigs(params, cfg)
	if err != nil {
		return nil, err
	}
	coord, err := maskshare.NewCoordinator(params, coordCfg)
	if err != nil {
		return nil, err
	}
	parties := make([]*maskshare.Party, n)
	for i, t := range tables {
		if parties[i], err = maskshare.NewParty(params.Parties[i], params, t, partyCfgs[i]); err != nil {
			return nil, err
		}
	}
	coordEnds := make([]*transport.MeteredConn, n)
	partyEnds := make([]*transport.MeteredConn, n)
	conns := make([]transport.Conn, n)
	for i := range conns {
		a, b := transport.Pipe()
		coordEnds[i], partyEnds[i] = transport.Metered(a), transport.Metered(b)
		conns[i] = coordEnds[i]
		defer a.Close()
	}
	out := &Loopback{Results: make([]*maskshare.Result, n), PartyStats: make([]Stats, n)}
	errs := make([]error, n+1)
	var g errgroup.Group
	g.Go(func() error {
		out.Report, errs[n] = coord.Run(ctx, conns)
		return nil
	})
	for i, p := range parties {
		g.Go(func() error {
			out.Results[i], errs[i] = p.Run(ctx, partyEnds[i])
			return nil
		})
	}
	g.Wait()
	if err := maskshare.Cause(errs...); err != nil {
		return nil, err
	}
	for i, c := range partyEnds {
		out.PartyStats[i] = statsOf(c)
	}
	out.CoordStats = statsOf(coordEnds...)
	return out, nil
}
