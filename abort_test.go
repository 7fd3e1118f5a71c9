package maskshare

import (
	"context"
	"crypto/ed25519"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// session runs a session over pipes, letting the test wrap each party's
// coordinator-side connection and give each party its own params and
// config. It returns every participant's outcome.
type session struct {
	params      Params
	partyParams []Params // per party; defaults to params
	tables      []*Table
	cfg         *Config   // coordinator
	partyCfg    []*Config // per party
	wrap        func(i int, c transport.Conn) transport.Conn
	// partyConn, if set, wraps party i's own end of its connection, with
	// the party's session at hand: a party that deviates.
	partyConn   func(i int, ps *partySession, c transport.Conn) transport.Conn
	timeout     time.Duration
	coordinator *Coordinator // reused across runs if set
}

type outcome struct {
	results  []*Result
	errs     []error // per party
	report   *Report
	coord    error
	sessions []*partySession // what each party received and derived
}

func (s *session) run(t *testing.T) outcome {
	t.Helper()
	n := len(s.params.Parties)
	if s.timeout == 0 {
		s.timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	// Every party gets an identity of its own, pinned at the others, unless
	// the test gives its own (s.cfg with pinned keys, s.partyCfg with an
	// identity or running without).
	coordCfg, partyCfgs, err := LocalConfigs(s.params, s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg != nil && s.cfg.PeerKeys != nil {
		coordCfg = s.cfg
	}
	coord := s.coordinator
	if coord == nil {
		if coord, err = NewCoordinator(s.params, coordCfg); err != nil {
			t.Fatal(err)
		}
	}
	out := outcome{results: make([]*Result, n), errs: make([]error, n), sessions: make([]*partySession, n)}
	cEnds := make([]transport.Conn, n)
	var wg sync.WaitGroup
	for i := range n {
		c, p := transport.Pipe()
		defer c.Close()
		if s.wrap != nil {
			c = s.wrap(i, c)
		}
		cEnds[i] = c
		params := s.params
		if s.partyParams != nil {
			params = s.partyParams[i]
		}
		cfg := partyCfgs[i]
		if s.partyCfg != nil && s.partyCfg[i] != nil {
			c := *s.partyCfg[i]
			if c.Identity == nil && !c.InsecureNoIdentities {
				c.Identity, c.PeerKeys = cfg.Identity, cfg.PeerKeys
			}
			cfg = &c
		}
		party, err := NewParty(params.Parties[i], params, s.tables[i], cfg)
		if err != nil {
			t.Fatal(err)
		}
		out.sessions[i] = party.newSession(p)
		if s.partyConn != nil {
			out.sessions[i].conn = s.partyConn(i, out.sessions[i], p)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.results[i], out.errs[i] = out.sessions[i].runAll(ctx)
		}()
	}
	out.report, out.coord = coord.Run(ctx, cEnds)
	wg.Wait()
	return out
}

// expectAbort checks that the session failed everywhere, that party `bad`
// (or the coordinator, bad = -1) failed with want and everyone else with an
// *AbortError naming the culprit that also matches want, and that nobody
// got a result.
func expectAbort(t *testing.T, o outcome, params Params, bad int, want error) {
	t.Helper()
	culprit := "coordinator"
	if bad >= 0 {
		culprit = "party " + params.Parties[bad]
	}
	if o.report != nil || o.coord == nil {
		t.Fatalf("coordinator finished without error")
	}
	if !errors.Is(o.coord, want) {
		t.Fatalf("coordinator error %v, want %v", o.coord, want)
	}
	for i, err := range o.errs {
		if o.results[i] != nil || err == nil {
			t.Fatalf("party %d got a result", i)
		}
		if !errors.Is(err, want) {
			t.Fatalf("party %d: error %v, want %v", i, err, want)
		}
		if i == bad {
			continue
		}
		var ae *AbortError
		if !errors.As(err, &ae) {
			t.Fatalf("party %d: error %v is not an *AbortError", i, err)
		}
		if ae.Party != culprit {
			t.Fatalf("party %d: abort blames %q, want %q", i, ae.Party, culprit)
		}
	}
}

func smallSession(n int) *session {
	rng := rand.New(rand.NewPCG(7, 7))
	params := testParams(n, 2)
	return &session{params: params, tables: genTables(rng, n, 2, 30, 1000)}
}

func TestAbortDuplicateID(t *testing.T) {
	s := smallSession(3)
	tb := s.tables[1]
	tb.AddRow("  "+tb.IDs[0]+" ", 1, 2) // same after trimming
	o := s.run(t)
	expectAbort(t, o, s.params, 1, ErrDuplicateID)
	var ie *InputError
	if !errors.As(o.errs[1], &ie) || ie.Row != tb.Len()-1 || ie.Other != 0 {
		t.Fatalf("duplicate error %v does not name rows %d and 0", o.errs[1], tb.Len()-1)
	}
	// The others learn the category, not the rows.
	if strings.Contains(o.errs[0].Error(), "row") {
		t.Fatalf("abort reason leaks row numbers: %v", o.errs[0])
	}
}

func TestAbortBadInput(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(s *session)
		want   error
	}{
		{"empty", func(s *session) { s.tables[2] = NewTable(2) }, ErrEmptyInput},
		{"missing column", func(s *session) { s.tables[2].Values = s.tables[2].Values[:1] }, ErrSchema},
		{"ragged column", func(s *session) { s.tables[2].Values[1] = s.tables[2].Values[1][1:] }, ErrSchema},
		{"overflow", func(s *session) {
			s.tables[2].Values[0][0] = math.MaxInt64/3 + 1
		}, ErrOverflow},
		{"overflow by sum", func(s *session) {
			s.tables[2].Values[1][0] = math.MaxInt64 / 6
			s.tables[2].Values[1][1] = -(math.MaxInt64 / 6)
			s.tables[2].Values[1][2] = 1000
		}, ErrOverflow},
		{"min int64", func(s *session) { s.tables[2].Values[0][3] = math.MinInt64 }, ErrOverflow},
		{"empty id", func(s *session) { s.tables[2].IDs[4] = "  \t" }, ErrInvalidID},
		{"bad utf-8", func(s *session) { s.tables[2].IDs[4] = "cust\xff" }, ErrInvalidID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := smallSession(3)
			tc.break_(s)
			expectAbort(t, s.run(t), s.params, 2, tc.want)
		})
	}
}

func TestAbortParamsMismatch(t *testing.T) {
	s := smallSession(3)
	other := s.params
	other.Columns = []Column{{Name: "col0"}, {Name: "col1", Type: Decimal, Scale: 2}}
	s.partyParams = []Params{s.params, other, s.params}
	o := s.run(t)
	expectAbort(t, o, s.params, 1, ErrParamsMismatch)
	if !strings.Contains(o.errs[1].Error(), "column 1") {
		t.Fatalf("mismatch error %q does not name the column", o.errs[1])
	}
}

func TestAbortResultTooSmall(t *testing.T) {
	s := smallSession(3)
	want := len(oracle(s.params, s.tables))
	s.params.MinResultSize = want + 1
	expectAbort(t, s.run(t), s.params, -1, ErrResultTooSmall)
	s.params.MinResultSize = want
	if o := s.run(t); o.coord != nil {
		t.Fatalf("result of exactly the minimum size refused: %v", o.coord)
	}
}

// silentConn passes messages until it has delivered `after` messages from
// the party, then swallows everything the party sends.
type silentConn struct {
	transport.Conn
	after int
	seen  int
}

func (c *silentConn) Recv(ctx context.Context) ([]byte, error) {
	for {
		msg, err := c.Conn.Recv(ctx)
		if err != nil {
			return nil, err
		}
		c.seen++
		if c.seen <= c.after {
			return msg, nil
		}
	}
}

func TestAbortPartyStopsAnswering(t *testing.T) {
	for _, after := range []int{0, 1, 2, 3} {
		s := smallSession(4)
		s.cfg = &Config{PhaseTimeout: time.Second}
		s.wrap = func(i int, c transport.Conn) transport.Conn {
			if i == 3 {
				return &silentConn{Conn: c, after: after}
			}
			return c
		}
		o := s.run(t)
		if !errors.Is(o.coord, ErrPartyUnavailable) || !strings.Contains(o.coord.Error(), "bank-d") {
			t.Fatalf("after %d: coordinator error %v, want bank-d unavailable", after, o.coord)
		}
		if !errors.Is(o.errs[3], ErrPartyUnavailable) {
			t.Fatalf("after %d: the silent party was not told: %v", after, o.errs[3])
		}
		for i := range 3 {
			var ae *AbortError
			if !errors.As(o.errs[i], &ae) || !errors.Is(o.errs[i], ErrPartyUnavailable) {
				t.Fatalf("after %d: party %d error %v, want an abort for an unavailable party", after, i, o.errs[i])
			}
		}
	}
}

// tamperConn flips a bit in the first sealed box the coordinator relays to
// its party.
type tamperConn struct {
	transport.Conn
	done bool
}

func (c *tamperConn) Send(ctx context.Context, msg []byte) error {
	if t, _ := wire.Peek(msg); t == wire.TypeSealed && !c.done {
		c.done = true
		msg = append([]byte(nil), msg...)
		msg[len(msg)-1] ^= 1 // inside the last box's tag
	}
	return c.Conn.Send(ctx, msg)
}

func TestAbortTamperedPart(t *testing.T) {
	s := smallSession(3)
	s.wrap = func(i int, c transport.Conn) transport.Conn {
		if i == 0 {
			return &tamperConn{Conn: c}
		}
		return c
	}
	expectAbort(t, s.run(t), s.params, 0, ErrAuthentication)
}

func TestIdentities(t *testing.T) {
	s := smallSession(3)
	keys := map[string]ed25519.PublicKey{}
	s.partyCfg = make([]*Config, 3)
	for i, name := range s.params.Parties {
		pub, priv, _ := ed25519.GenerateKey(nil)
		keys[name] = pub
		s.partyCfg[i] = &Config{Identity: priv, PeerKeys: keys}
	}
	s.cfg = &Config{PeerKeys: keys}
	o := s.run(t)
	if o.coord != nil {
		t.Fatalf("signed session failed: %v", o.coord)
	}
	checkAgainstOracle(t, s.params, s.tables, o.results, o.report)

	// A party signing with a key nobody knows is refused by everyone.
	_, stranger, _ := ed25519.GenerateKey(nil)
	others := maps.Clone(keys)
	delete(others, "bank-c")
	s.partyCfg[2] = &Config{Identity: stranger, PeerKeys: others}
	s.cfg = &Config{InsecureNoIdentities: true} // only the parties check
	o = s.run(t)
	for i := range 2 {
		if !errors.Is(o.errs[i], ErrAuthentication) {
			t.Fatalf("party %d accepted an unsigned key: %v", i, o.errs[i])
		}
	}
	if o.coord == nil {
		t.Fatal("coordinator finished a session whose parties refused a key")
	}
}

// A participant without identities is refused before it runs, unless the
// session opts out of them explicitly.
func TestNoIdentitiesRefused(t *testing.T) {
	s := smallSession(3)
	pub, priv, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name string
		cfg  *Config
	}{
		{"nil config", nil},
		{"no identity", &Config{PeerKeys: map[string]ed25519.PublicKey{"bank-b": pub, "bank-c": pub}}},
		{"a peer not pinned", &Config{Identity: priv, PeerKeys: map[string]ed25519.PublicKey{"bank-b": pub}}},
		{"own pin is another key", &Config{Identity: priv, PeerKeys: map[string]ed25519.PublicKey{"bank-a": make(ed25519.PublicKey, 32), "bank-b": pub, "bank-c": pub}}},
	} {
		if _, err := NewParty("bank-a", s.params, s.tables[0], tc.cfg); !errors.Is(err, ErrNoIdentities) {
			t.Errorf("%s: NewParty error %v, want ErrNoIdentities", tc.name, err)
		}
	}
	for _, cfg := range []*Config{nil, {}, {PeerKeys: map[string]ed25519.PublicKey{"bank-a": pub, "bank-b": pub}}} {
		if _, err := NewCoordinator(s.params, cfg); !errors.Is(err, ErrNoIdentities) {
			t.Errorf("NewCoordinator(%+v) error %v, want ErrNoIdentities", cfg, err)
		}
	}
	// Opting out runs the session (and says so in the name of the field).
	s.cfg = &Config{InsecureNoIdentities: true}
	s.partyCfg = []*Config{s.cfg, s.cfg, s.cfg}
	o := s.run(t)
	if o.coord != nil {
		t.Fatalf("session without identities, opted in: %v", o.coord)
	}
	checkAgainstOracle(t, s.params, s.tables, o.results, o.report)
}

// The coordinator refuses runs beyond Config.MaxRuns and closer together
// than Config.MinRunInterval, telling the parties why.
func TestRunLimits(t *testing.T) {
	s := smallSession(3)
	_, partyCfgs, err := LocalConfigs(s.params, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.partyCfg = partyCfgs
	s.coordinator, err = NewCoordinator(s.params, &Config{PeerKeys: partyCfgs[0].PeerKeys, MaxRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	for run := range 3 {
		o := s.run(t)
		if run < 2 {
			if o.coord != nil {
				t.Fatalf("run %d: %v", run, o.coord)
			}
			continue
		}
		expectAbort(t, o, s.params, -1, ErrRunLimit)
	}
	if s.coordinator, err = NewCoordinator(s.params, &Config{PeerKeys: partyCfgs[0].PeerKeys, MinRunInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if o := s.run(t); o.coord != nil {
		t.Fatal(o.coord)
	}
	o := s.run(t)
	expectAbort(t, o, s.params, -1, ErrRunLimit)
	if !strings.Contains(o.errs[0].Error(), "apart") {
		t.Fatalf("refusal %q does not say why", o.errs[0])
	}
}
