package netsession

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
	"golang.org/x/sync/errgroup"
)

// fault is how a party misbehaves in a soak run.
type fault int

const (
	honest  fault = iota
	crash         // closes its connection instead of its nth message
	stall         // stops reading and sending at its nth message
	garbage       // sends random bytes instead of its nth message
)

func (f fault) String() string {
	return [...]string{"honest", "crash", "stall", "garbage"}[f]
}

var errStalled = errors.New("soak: stalled party released")

// faultyConn is a party's connection that misbehaves at its nth Send (0 is
// the first), or only counts the sends when the fault is honest.
type faultyConn struct {
	transport.Conn
	fault   fault
	n       int
	junk    func(msg []byte) []byte // the garbage sent instead of msg
	release <-chan struct{}         // ends a stall
	sends   atomic.Int64
	tripped atomic.Bool
	spoiled byte // the type byte of the message the fault struck
}

func (c *faultyConn) Send(ctx context.Context, msg []byte) error {
	i := int(c.sends.Add(1) - 1)
	if c.fault == honest || (i != c.n && !c.tripped.Load()) {
		return c.Conn.Send(ctx, msg)
	}
	if i == c.n && len(msg) > 1 {
		c.spoiled = msg[1]
	}
	c.tripped.Store(true)
	switch c.fault {
	case crash:
		c.Conn.Close()
		return transport.ErrClosed
	case stall:
		return c.block(ctx)
	default: // garbage, once; then as usual
		if i == c.n {
			return c.Conn.Send(ctx, c.junk(msg))
		}
		return c.Conn.Send(ctx, msg)
	}
}

func (c *faultyConn) Recv(ctx context.Context) ([]byte, error) {
	if c.fault == stall && c.tripped.Load() {
		return nil, c.block(ctx)
	}
	return c.Conn.Recv(ctx)
}

func (c *faultyConn) block(ctx context.Context) error {
	select {
	case <-c.release:
		return errStalled
	case <-ctx.Done():
		return ctx.Err()
	}
}

// garbageFor returns a way to spoil a message, drawn from rng: random
// bytes; random bytes after the message's own version and type, so that
// the receiver decodes them as that message; or the message with one byte
// after the header changed.
func garbageFor(rng *rand.Rand) (func(msg []byte) []byte, string) {
	random := func(n int) []byte {
		b := make([]byte, n)
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
		return b
	}
	switch rng.IntN(3) {
	case 0:
		n := 1 + rng.IntN(64)
		return func([]byte) []byte { return random(n) }, "random bytes"
	case 1:
		return func(msg []byte) []byte {
			return append(append([]byte(nil), msg[:min(2, len(msg))]...), random(rng.IntN(len(msg)+16))...)
		}, "random body"
	default:
		return func(msg []byte) []byte {
			out := append([]byte(nil), msg...)
			if len(out) > 2 {
				out[2+rng.IntN(len(out)-2)] ^= byte(1 + rng.IntN(255))
			}
			return out
		}, "one byte changed"
	}
}

// wireType names a message type byte, as internal/wire numbers them.
func wireType(b byte) string {
	names := [...]string{"", "open", "hello", "peers", "sealed", "tags", "elements", "match", "masked", "reveal", "confirm", "done", "abort"}
	if int(b) < len(names) && b != 0 {
		return names[b]
	}
	return fmt.Sprintf("type(%d)", b)
}

// soakSeed is the seed of TestSoak, from MASKSHARE_SOAK_SEED if set.
func soakSeed(t *testing.T) uint64 {
	if s := os.Getenv("MASKSHARE_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MASKSHARE_SOAK_SEED: %v", err)
		}
		return v
	}
	return 9
}

// namedFailure reports whether err is an ending a participant may have
// when a party misbehaves: an abort with a reason, or an error naming the
// failure's category. A party that finds a peer's sealed box tampered with
// cannot tell whether the peer or the relay did it, and says so
// (ErrAuthentication).
func namedFailure(err error) bool {
	var ae *maskshare.AbortError
	return errors.As(err, &ae) ||
		errors.Is(err, maskshare.ErrPartyUnavailable) ||
		errors.Is(err, maskshare.ErrProtocol) ||
		errors.Is(err, maskshare.ErrCheating) ||
		errors.Is(err, maskshare.ErrAuthentication)
}

// verifyOne checks party i's result against the plaintext join of tables.
func verifyOne(params maskshare.Params, tables []*maskshare.Table, i int, res *maskshare.Result) error {
	// demo.Verify checks results[j] against tables[j]; the join itself
	// does not depend on the tables' order.
	order := []*maskshare.Table{tables[i]}
	for j, tb := range tables {
		if j != i {
			order = append(order, tb)
		}
	}
	if err := demo.Verify(params, order, []*maskshare.Result{res}); err != nil {
		return fmt.Errorf("%s: %w", params.Parties[i], err)
	}
	return nil
}

// TestSoak runs consecutive sessions of the same name against one
// coordinator over loopback mutual TLS, with parties that crash, stall or
// send garbage at random (seeded, so a failure is reproducible with
// MASKSHARE_SOAK_SEED). An honest run must give every party the plaintext
// join's result; in a faulty run, every honest party must get that result
// or end, before its bound, with a named reason; and the coordinator must
// serve the next run (issue 9).
func TestSoak(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	seed := soakSeed(t)
	t.Logf("seed %d (set MASKSHARE_SOAK_SEED to change it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0x736f616b))

	const (
		session      = "soak"
		phaseTimeout = 2 * time.Second
		runBound     = 30 * time.Second
	)
	params := demo.Params(3, maskshare.Keyed, 2)
	ca, router, addr := listenTLS(t, "soak-ca", params)

	coordCfg, partyCfgs, err := maskshare.LocalConfigs(params, &maskshare.Config{PhaseTimeout: phaseTimeout})
	if err != nil {
		t.Fatal(err)
	}
	coord, err := maskshare.NewCoordinator(params, coordCfg)
	if err != nil {
		t.Fatal(err)
	}
	ccfgs := make([]*transport.Config, len(params.Parties))
	for i, name := range params.Parties {
		id, err := ca.Issue(name)
		if err != nil {
			t.Fatal(err)
		}
		if ccfgs[i], err = transport.ClientConfig(id, transport.Trust{Roots: ca.Pool()}, CoordinatorName); err != nil {
			t.Fatal(err)
		}
	}

	// sends[i] is how many messages party i sent in an honest run: a
	// fault strikes at one of them. Run 0 is honest and measures it.
	sends := make([]int, len(params.Parties))
	counts := map[fault]int{}
	for run := range runs {
		tables := demo.Generate(seed*1000+uint64(run), 3, 50, 0.5, len(params.Columns))
		f, bad, at := honest, -1, 0
		// Runs 1 to 3 have one fault of each kind, so that the short
		// test sees them all; later runs are honest one time in four.
		if run > 0 && (run <= 3 || rng.IntN(4) != 0) {
			f = fault(1 + rng.IntN(3))
			if run <= 3 {
				f = fault(run)
			}
			bad = rng.IntN(len(params.Parties))
			at = rng.IntN(sends[bad])
		}
		junk, kind := garbageFor(rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())))
		counts[f]++
		desc := fmt.Sprintf("run %d (seed %d): %v", run, seed, f)
		if f == garbage {
			desc += " (" + kind + ")"
		}
		if f != honest {
			desc += fmt.Sprintf(" by %s at its message %d of %d", params.Parties[bad], at, sends[bad])
		}

		parties := make([]*maskshare.Party, len(params.Parties))
		for i, name := range params.Parties {
			var err error
			if parties[i], err = maskshare.NewParty(name, params, tables[i], partyCfgs[i]); err != nil {
				t.Fatal(err)
			}
		}

		ctx, cancel := context.WithTimeout(context.Background(), runBound)
		release := make(chan struct{})
		results := make([]*maskshare.Result, len(params.Parties))
		errs := make([]error, len(params.Parties))
		conns := make([]*faultyConn, len(params.Parties))
		var coordErr error
		coordDone := make(chan struct{})
		go func() {
			defer close(coordDone)
			_, _, coordErr = ServeWithin(ctx, router, session, params, coord, 10*time.Second)
		}()
		var honestParties, badParty errgroup.Group
		for i, party := range parties {
			fc := &faultyConn{fault: honest, release: release}
			if i == bad {
				fc.fault, fc.n, fc.junk = f, at, junk
			}
			conns[i] = fc
			g := &honestParties
			if i == bad {
				g = &badParty
			}
			g.Go(func() error {
				conn, err := transport.Dial(ctx, addr, session, ccfgs[i])
				if err != nil {
					errs[i] = err
					return nil
				}
				fc.Conn = conn
				defer fc.Close()
				results[i], errs[i] = party.Run(ctx, fc)
				return nil
			})
		}
		honestParties.Wait()
		ended := ctx.Err() // the honest parties must have ended before their bound
		close(release)
		badParty.Wait()
		<-coordDone
		ctxErr := ctx.Err()
		cancel()
		if f != honest && conns[bad].tripped.Load() {
			desc += fmt.Sprintf(" (a %s message)", wireType(conns[bad].spoiled))
		}

		t.Logf("%s: coordinator: %v", desc, coordErr)
		for i, err := range errs {
			if i != bad {
				t.Logf("%s: %s: %v", desc, params.Parties[i], err)
			}
		}
		if ended != nil {
			t.Fatalf("%s: the honest parties did not end within %v", desc, runBound)
		}
		if ctxErr != nil {
			t.Fatalf("%s: the coordinator did not end within %v: %v", desc, runBound, coordErr)
		}
		if f == honest {
			if coordErr != nil {
				t.Fatalf("%s: coordinator: %v", desc, coordErr)
			}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("%s: %s: %v", desc, params.Parties[i], err)
				}
			}
			if err := demo.Verify(params, tables, results); err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			if run == 0 {
				for i, c := range conns {
					sends[i] = int(c.sends.Load())
					if sends[i] == 0 {
						t.Fatalf("%s: %s sent nothing", desc, params.Parties[i])
					}
				}
				t.Logf("messages sent per party in an honest run: %v", sends)
			}
			continue
		}
		// The coordinator may also find that the parties' transcripts
		// differ.
		if coordErr != nil && (errors.Is(coordErr, context.DeadlineExceeded) ||
			!(namedFailure(coordErr) || errors.Is(coordErr, maskshare.ErrTranscript))) {
			t.Errorf("%s: coordinator ended without a named reason: %v", desc, coordErr)
		}
		// A changed byte inside a message that still decodes is, for a
		// party's own tags or masked values, a change of its input, which no
		// protocol can tell from an honest one: then the honest parties
		// must agree with one another, not with the plaintext join.
		substituted := kind == "one byte changed"
		var agreed *maskshare.Result
		for i, err := range errs {
			if i == bad {
				continue
			}
			switch {
			case err == nil && substituted:
				if agreed == nil {
					agreed = results[i]
				} else if results[i].Size != agreed.Size || !slices.Equal(results[i].Totals, agreed.Totals) {
					t.Errorf("%s: honest parties disagree: %s has size %d totals %v, another size %d totals %v",
						desc, params.Parties[i], results[i].Size, results[i].Totals, agreed.Size, agreed.Totals)
				}
				if err := verifyOne(params, tables, i, results[i]); err != nil {
					t.Logf("%s: %v (the misbehaving party's input, in effect, changed)", desc, err)
				}
			case err == nil:
				if err := verifyOne(params, tables, i, results[i]); err != nil {
					t.Errorf("%s: %v", desc, err)
				}
			case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
				t.Errorf("%s: %s ended at its context bound: %v", desc, params.Parties[i], err)
			case !namedFailure(err):
				t.Errorf("%s: %s ended without a named reason: %v", desc, params.Parties[i], err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("runs: %v", counts)
}
