package netsession

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
	"golang.org/x/sync/errgroup"
)

func TestRunLoopback(t *testing.T) {
	for _, mode := range []maskshare.PSIMode{maskshare.Keyed, maskshare.ECDH} {
		params := demo.Params(3, mode, 2)
		tables := demo.Generate(5, 3, 300, 0.3, len(params.Columns))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := RunLoopback(ctx, params, tables, nil)
		cancel()
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if err := demo.Verify(params, tables, out.Results); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		for i, s := range out.PartyStats {
			if !s.HasWire || s.Wire.BytesSent < s.Messages.BytesSent/2 || s.Messages.BytesSent == 0 {
				t.Fatalf("party %d: stats %+v", i, s)
			}
		}
	}
}

func TestRunLoopbackDirect(t *testing.T) {
	params := demo.Params(3, maskshare.Keyed, 0)
	tables := demo.Generate(6, 3, 300, 0.5, len(params.Columns))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := RunLoopbackWith(ctx, params, tables, nil, LoopbackOptions{Direct: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Verify(params, tables, out.Results); err != nil {
		t.Fatal(err)
	}
	if out.DirectDeliveries != 6 {
		t.Fatalf("%d boxes delivered directly, want 6 (3 parties × 2 peers)", out.DirectDeliveries)
	}
}

// Two sessions served at once by one coordinator: one aborts because a
// party's input is bad, the other completes undisturbed.
func TestConcurrentSessionsIsolated(t *testing.T) {
	params := demo.Params(3, maskshare.Keyed, 0)
	ca, router, addr := listenTLS(t, "test-ca", params)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	good := demo.Generate(1, 3, 500, 0.5, 3)
	bad := demo.Generate(2, 3, 500, 0.5, 3)
	bad[1].AddRow(bad[1].IDs[0], 1, 1, 1) // a duplicate identifier

	type outcome struct {
		results []*maskshare.Result
		errs    []error
		coord   error
	}
	run := func(session string, tables []*maskshare.Table) outcome {
		o := outcome{results: make([]*maskshare.Result, 3), errs: make([]error, 3)}
		coordCfg, partyCfgs, _ := maskshare.LocalConfigs(params, nil)
		coord, _ := maskshare.NewCoordinator(params, coordCfg)
		var g errgroup.Group
		g.Go(func() error {
			_, _, o.coord = Serve(ctx, router, session, params, coord)
			return nil
		})
		for i, name := range params.Parties {
			id, _ := ca.Issue(name)
			ccfg, _ := transport.ClientConfig(id, transport.Trust{Roots: ca.Pool()}, CoordinatorName)
			party, err := maskshare.NewParty(name, params, tables[i], partyCfgs[i])
			if err != nil {
				t.Error(err)
				continue
			}
			g.Go(func() error {
				o.results[i], _, o.errs[i] = Join(ctx, addr, session, party, ccfg)
				return nil
			})
		}
		g.Wait()
		return o
	}
	var goodOut, badOut outcome
	var g errgroup.Group
	g.Go(func() error { goodOut = run("good", good); return nil })
	g.Go(func() error { badOut = run("bad", bad); return nil })
	g.Wait()

	if goodOut.coord != nil {
		t.Fatalf("good session: %v", goodOut.coord)
	}
	if err := demo.Verify(params, good, goodOut.results); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(badOut.coord, maskshare.ErrDuplicateID) {
		t.Fatalf("bad session: coordinator %v", badOut.coord)
	}
	for i, err := range badOut.errs {
		if !errors.Is(err, maskshare.ErrDuplicateID) {
			t.Fatalf("bad session: party %d: %v", i, err)
		}
	}
}

// listenTLS starts a coordinator's mutual-TLS listener on loopback for the
// parties of params, with a fresh CA that issues every certificate, and
// returns the CA, a router on the listener (closed when the test ends) and
// its address.
func listenTLS(t *testing.T, caName string, params maskshare.Params) (*transport.CA, *transport.Router, string) {
	t.Helper()
	ca, err := transport.NewCA(caName)
	if err != nil {
		t.Fatal(err)
	}
	coordID, err := ca.Issue(CoordinatorName)
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := transport.ServerConfig(coordID, transport.Trust{Roots: ca.Pool()}, params.Parties)
	if err != nil {
		t.Fatal(err)
	}
	l, err := transport.Listen("127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	router := transport.NewRouter(l)
	t.Cleanup(func() { router.Close() })
	return ca, router, l.Addr().String()
}
