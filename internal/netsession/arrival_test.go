package netsession

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/demo"
	"github.com/maskshare/maskshare/transport"
	"golang.org/x/sync/errgroup"
)

// arrivalRig is a coordinator's router with a CA, and the parties of a
// three-party session.
type arrivalRig struct {
	t       *testing.T
	ca      *transport.CA
	router  *transport.Router
	addr    string
	params  maskshare.Params
	tables  []*maskshare.Table
	coord   *maskshare.Coordinator
	parties []*maskshare.Party
}

func newArrivalRig(t *testing.T) *arrivalRig {
	params := demo.Params(3, maskshare.Keyed, 0)
	ca, router, addr := listenTLS(t, "test-ca", params)
	r := &arrivalRig{t: t, ca: ca, router: router, addr: addr, params: params,
		tables: demo.Generate(1, 3, 200, 0.5, 3)}
	coordCfg, partyCfgs, _ := maskshare.LocalConfigs(params, nil)
	var err error
	if r.coord, err = maskshare.NewCoordinator(params, coordCfg); err != nil {
		t.Fatal(err)
	}
	for i, name := range params.Parties {
		p, err := maskshare.NewParty(name, params, r.tables[i], partyCfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		r.parties = append(r.parties, p)
	}
	return r
}

func (r *arrivalRig) clientConfig(i int) *transport.Config {
	id, _ := r.ca.Issue(r.params.Parties[i])
	ccfg, err := transport.ClientConfig(id, transport.Trust{Roots: r.ca.Pool()}, CoordinatorName)
	if err != nil {
		r.t.Fatal(err)
	}
	return ccfg
}

// join runs parties idx in the background; their errors come on the
// returned function.
func (r *arrivalRig) join(ctx context.Context, session string, idx ...int) func() []error {
	errs := make([]error, len(idx))
	var g errgroup.Group
	for k, i := range idx {
		ccfg := r.clientConfig(i)
		g.Go(func() error {
			_, _, errs[k] = Join(ctx, r.addr, session, r.parties[i], ccfg)
			return nil
		})
	}
	return func() []error { g.Wait(); return errs }
}

// A session whose party never arrives ends after the arrival bound for the
// parties that did, naming who is missing (issue 9, item 1).
func TestServeArrivalTimeout(t *testing.T) {
	r := newArrivalRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := r.join(ctx, "s", 0, 1) // bank 2 never comes
	start := time.Now()
	_, _, err := ServeWithin(ctx, r.router, "s", r.params, r.coord, time.Second)
	missing := r.params.Parties[2]
	if !errors.Is(err, maskshare.ErrPartyUnavailable) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("coordinator: %v", err)
	}
	for i, err := range wait() {
		var ae *maskshare.AbortError
		if !errors.As(err, &ae) || ae.Party != "coordinator" || !errors.Is(err, maskshare.ErrPartyUnavailable) || !strings.Contains(ae.Reason, missing) {
			t.Fatalf("party %d: %v", i, err)
		}
		t.Logf("party %d: %v", i, err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the parties ended %v after the start, for an arrival bound of 1s", d)
	}
}

// A party that cannot take part and says so (Decline) ends the session at
// once for those waiting, with its name and reason (issue 9, item 1).
func TestServeDecline(t *testing.T) {
	r := newArrivalRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := r.join(ctx, "s", 0) // bank 1 is late, bank 2 cannot take part
	serveErr := make(chan error, 1)
	go func() {
		_, _, err := ServeWithin(ctx, r.router, "s", r.params, r.coord, time.Hour)
		serveErr <- err
	}()
	// Let bank 0 arrive, then bank 2 says why it cannot take part.
	time.Sleep(500 * time.Millisecond)
	conn, err := transport.Dial(ctx, r.addr, "s", r.clientConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	cause := &maskshare.InputError{Row: 7, Other: 3, Err: maskshare.ErrDuplicateID}
	if err := maskshare.Decline(ctx, conn, r.params, r.params.Parties[2], cause); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	start := time.Now()
	name := r.params.Parties[2]
	var ae *maskshare.AbortError
	if err := <-serveErr; !errors.As(err, &ae) || ae.Party != "party "+name || !errors.Is(err, maskshare.ErrDuplicateID) {
		t.Fatalf("coordinator: %v", err)
	}
	for i, err := range wait() {
		if !errors.As(err, &ae) || !errors.Is(err, maskshare.ErrDuplicateID) || !strings.Contains(ae.Reason, name+" cannot take part") {
			t.Fatalf("party %d: %v", i, err)
		}
		if strings.Contains(err.Error(), "row 7") {
			t.Fatalf("party %d learnt the decliner's row: %v", i, err)
		}
		t.Logf("party %d: %v", i, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the parties ended %v after the decline", d)
	}
	// Bank 1, late, is told at once why the run ended, even while a new
	// run of the session waits for its parties.
	go ServeWithin(ctx, r.router, "s", r.params, r.coord, time.Hour)
	late := r.join(ctx, "s", 1)()[0]
	var re *transport.RefusedError
	if !errors.As(late, &re) || !strings.Contains(re.Reason, "ended before this party arrived") || !strings.Contains(re.Reason, name) || strings.Contains(re.Reason, "row 7") {
		t.Fatalf("late party: %v", late)
	}
	t.Logf("late party: %v", late)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the late party ended %v after the decline", d)
	}
}

// Stopping the coordinator (its ctx ends) tells the waiting parties that it
// stopped, blaming no party (issue 9, item 6).
func TestServeStoppedWhileWaiting(t *testing.T) {
	r := newArrivalRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := r.join(ctx, "s", 0, 1)
	sctx, stop := context.WithCancelCause(ctx)
	go func() {
		time.Sleep(time.Second)
		stop(errors.New("coordinator shutting down"))
	}()
	_, _, err := ServeWithin(sctx, r.router, "s", r.params, r.coord, time.Hour)
	if !errors.Is(err, maskshare.ErrStopped) || errors.Is(err, maskshare.ErrPartyUnavailable) {
		t.Fatalf("coordinator: %v", err)
	}
	for i, err := range wait() {
		var ae *maskshare.AbortError
		if !errors.As(err, &ae) || ae.Party != "coordinator" || !errors.Is(err, maskshare.ErrStopped) || !strings.Contains(ae.Reason, "shutting down") {
			t.Fatalf("party %d: %v", i, err)
		}
	}
}

// Stopping the coordinator during a run tells every party it stopped,
// rather than blaming one of them (issue 9, item 6).
func TestCoordinatorStoppedDuringRun(t *testing.T) {
	params := demo.Params(2, maskshare.Keyed, 0)
	coordCfg, _, err := maskshare.LocalConfigs(params, nil)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := maskshare.NewCoordinator(params, coordCfg)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]transport.Conn, 2)
	partyEnds := make([]transport.Conn, 2)
	for i := range conns {
		conns[i], partyEnds[i] = transport.Pipe()
		defer conns[i].Close()
	}
	ctx, stop := context.WithCancelCause(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := coord.Run(ctx, conns)
		errc <- err
	}()
	// The parties read the Open and say nothing: the run waits for them.
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range partyEnds {
		if _, err := c.Recv(rctx); err != nil {
			t.Fatal(err)
		}
	}
	stop(errors.New("coordinator shutting down"))
	err = <-errc
	if !errors.Is(err, maskshare.ErrStopped) || errors.Is(err, maskshare.ErrPartyUnavailable) {
		t.Fatalf("coordinator: %v", err)
	}
	for i, c := range partyEnds {
		msg, err := c.Recv(rctx)
		if err != nil {
			t.Fatalf("party %d heard nothing: %v", i, err)
		}
		if !strings.Contains(string(msg), "shutting down") || strings.Contains(string(msg), params.Parties[0]) || strings.Contains(string(msg), params.Parties[1]) {
			t.Fatalf("party %d was told %q", i, msg)
		}
	}
}

// A permanent failure to serve is reported as such, not retried.
func TestServeCannotServe(t *testing.T) {
	r := newArrivalRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := ServeWithin(ctx, r.router, "bad\x00name", r.params, r.coord, time.Second)
	if !errors.Is(err, ErrCannotServe) || !errors.Is(err, transport.ErrBadName) {
		t.Fatalf("ServeWithin: %v", err)
	}
	// A party name the session engine takes but no certificate can hold.
	params := r.params
	params.Parties = []string{"bank-a", "Bank B"}
	coord, err := maskshare.NewCoordinator(params, &maskshare.Config{InsecureNoIdentities: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ServeWithin(ctx, r.router, "s", params, coord, time.Second); !errors.Is(err, ErrCannotServe) || !errors.Is(err, transport.ErrBadName) {
		t.Fatalf("ServeWithin with party %q: %v", params.Parties[1], err)
	}
}
