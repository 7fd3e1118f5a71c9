package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func newTestRouter(t testing.TB, p *testPKI, hold time.Duration) *Router {
	t.Helper()
	cfg := p.serverConfig(t, AnyPeer)
	cfg.HoldTimeout = hold
	r := NewRouter(listenLoopback(t, cfg))
	t.Cleanup(func() { r.Close() })
	return r
}

type dialResult struct {
	party, session string
	c              Conn
	err            error
}

func dialAsync(ctx context.Context, t testing.TB, p *testPKI, r *Router, party, session string, out chan<- dialResult) {
	cfg := p.clientConfig(t, party)
	go func() {
		c, err := Dial(ctx, r.Listener().Addr().String(), session, cfg)
		out <- dialResult{party, session, c, err}
	}()
}

// TestRouterSessions runs two sessions with different (overlapping) peer sets
// whose parties connect interleaved, some before their session is expected.
func TestRouterSessions(t *testing.T) {
	p := newTestPKI(t, "a", "b", "c", "d")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	dials := make(chan dialResult, 8)
	sessions := map[string][]string{"s1": {"a", "b"}, "s2": {"b", "c", "d"}}

	// c (s2) and a (s1) start before any Expect: they are held.
	dialAsync(ctx, t, p, r, "c", "s2", dials)
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	type expectResult struct {
		session string
		conns   map[string]Conn
		err     error
	}
	expects := make(chan expectResult, 2)
	for _, s := range []string{"s1", "s2"} {
		go func() {
			conns, err := r.Expect(ctx, s, sessions[s])
			expects <- expectResult{s, conns, err}
		}()
	}
	dialAsync(ctx, t, p, r, "b", "s2", dials)
	dialAsync(ctx, t, p, r, "d", "s2", dials)
	dialAsync(ctx, t, p, r, "b", "s1", dials)

	// Every party gets in and says who it is.
	for range 5 {
		d := <-dials
		if d.err != nil {
			t.Fatalf("%s/%s: %v", d.party, d.session, d.err)
		}
		defer d.c.Close()
		if err := d.c.Send(ctx, []byte(d.party+"@"+d.session)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		e := <-expects
		if e.err != nil {
			t.Fatalf("Expect %s: %v", e.session, e.err)
		}
		var names []string
		for peer, c := range e.conns {
			defer c.Close()
			names = append(names, peer)
			got, err := c.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := peer + "@" + e.session; string(got) != want {
				t.Errorf("connection routed as %s got %q", want, got)
			}
		}
		sort.Strings(names)
		if !slices.Equal(names, sessions[e.session]) {
			t.Errorf("session %s got peers %v", e.session, names)
		}
	}
}

func TestRouterUnknownSession(t *testing.T) {
	p := newTestPKI(t, "a")
	ctx := testContext(t)
	for _, hold := range []time.Duration{-1, 50 * time.Millisecond} {
		r := newTestRouter(t, p, hold)
		_, err := Dial(ctx, r.Listener().Addr().String(), "nobody-expects-this", p.clientConfig(t, "a"))
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || re.Session != "nobody-expects-this" {
			t.Fatalf("hold %v: Dial: %v", hold, err)
		}
		t.Logf("hold %v: Dial: %v", hold, err)
	}
}

func TestRouterUnexpectedPeer(t *testing.T) {
	p := newTestPKI(t, "a", "b", "mallory")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	addr := r.Listener().Addr().String()

	// mallory is certified by the CA but not part of s1: refused when
	// s1's Expect picks up the held connection...
	dials := make(chan dialResult, 4)
	dialAsync(ctx, t, p, r, "mallory", "s1", dials)
	waitHeld(t, r, 1)
	expect := make(chan error, 1)
	go func() {
		conns, err := r.Expect(ctx, "s1", []string{"a", "b"})
		for _, c := range conns {
			c.Close()
		}
		expect <- err
	}()
	d := <-dials
	if !errors.Is(d.err, ErrRefused) {
		t.Fatalf("held mallory: %v", d.err)
	}
	// ...and at once while Expect waits.
	waitWaiting(t, r, "s1")
	if _, err := Dial(ctx, addr, "s1", p.clientConfig(t, "mallory")); !errors.Is(err, ErrRefused) {
		t.Fatalf("mallory: %v", err)
	}
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	dialAsync(ctx, t, p, r, "b", "s1", dials)
	for range 2 {
		if d := <-dials; d.err != nil {
			t.Fatal(d.err)
		} else {
			defer d.c.Close()
		}
	}
	if err := <-expect; err != nil {
		t.Fatal(err)
	}
}

// waitHeld waits until the router holds n connections.
func waitHeld(t testing.TB, r *Router, n int) {
	t.Helper()
	for i := 0; ; i++ {
		r.mu.Lock()
		got := r.nheld
		r.mu.Unlock()
		if got == n {
			return
		}
		if i > 10000 {
			t.Fatalf("router holds %d connections, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitAdmitted waits until peer is admitted to session.
func waitAdmitted(t testing.TB, r *Router, session, peer string) {
	t.Helper()
	for i := 0; ; i++ {
		r.mu.Lock()
		e := r.waiting[session]
		ok := e != nil && e.slots[peer] != nil && e.slots[peer].admitted
		r.mu.Unlock()
		if ok {
			return
		}
		if i > 10000 {
			t.Fatalf("%s not admitted to %q", peer, session)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitWaiting waits until an Expect for session is registered.
func waitWaiting(t testing.TB, r *Router, session string) {
	t.Helper()
	for i := 0; ; i++ {
		r.mu.Lock()
		_, ok := r.waiting[session]
		r.mu.Unlock()
		if ok {
			return
		}
		if i > 10000 {
			t.Fatalf("no Expect for %q", session)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRouterExpectFails(t *testing.T) {
	p := newTestPKI(t, "a", "b")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)

	// a connects, b never does: Expect gives up, a's connection is closed.
	dials := make(chan dialResult, 1)
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	ectx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Expect(ectx, "s1", []string{"a", "b"})
		errc <- err
	}()
	d := <-dials
	if d.err != nil {
		t.Fatal(d.err)
	}
	// A second Expect for the same session is refused meanwhile.
	waitWaiting(t, r, "s1")
	waitAdmitted(t, r, "s1", "a")
	if _, err := r.Expect(ctx, "s1", []string{"a"}); !errors.Is(err, ErrSessionBusy) {
		t.Fatalf("second Expect: %v", err)
	}
	cancel()
	err := <-errc
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, context.Canceled) || !slices.Equal(ee.Missing, []string{"b"}) {
		t.Fatalf("Expect: %v", err)
	}
	t.Logf("Expect: %v", err)
	if _, err := d.c.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("a's Recv: %v", err)
	}

	// Bad arguments.
	for _, peers := range [][]string{nil, {"a", "a"}, {"not a name"}} {
		if _, err := r.Expect(ctx, "s2", peers); err == nil {
			t.Errorf("Expect(%q) succeeded", peers)
		}
	}
	// Closing the router fails pending Expects.
	go func() {
		_, err := r.Expect(ctx, "s3", []string{"a"})
		errc <- err
	}()
	waitWaiting(t, r, "s3")
	r.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Expect after Close: %v", err)
	}
	if _, err := r.Expect(ctx, "s4", []string{"a"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Expect on a closed router: %v", err)
	}
}

// TestRouterReconnect checks that a party that reconnects before its session
// starts replaces its earlier connection.
func TestRouterReconnect(t *testing.T) {
	p := newTestPKI(t, "a")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	dials := make(chan dialResult, 2)
	// The first attempt gives up (its Dial context ends) while held.
	dctx, cancel := context.WithCancel(ctx)
	dialAsync(dctx, t, p, r, "a", "s1", dials)
	waitHeld(t, r, 1)
	cancel()
	if d := <-dials; d.err == nil {
		t.Fatal("cancelled Dial succeeded")
	}
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	conns, err := r.Expect(ctx, "s1", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	d := <-dials
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.c.Close()
	if err := conns["a"].Send(ctx, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.c.Recv(ctx); err != nil || string(got) != "hi" {
		t.Fatalf("Recv: %q, %v", got, err)
	}
}

func TestRouterManySessions(t *testing.T) {
	p := newTestPKI(t, "a", "b", "c")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	const sessions = 10
	peers := []string{"a", "b", "c"}
	dials := make(chan dialResult, sessions*len(peers))
	for i := range sessions {
		for _, peer := range peers {
			dialAsync(ctx, t, p, r, peer, fmt.Sprint("session ", i), dials)
		}
	}
	errc := make(chan error, sessions)
	for i := range sessions {
		go func() {
			s := fmt.Sprint("session ", i)
			conns, err := r.Expect(ctx, s, peers)
			if err != nil {
				errc <- err
				return
			}
			for peer, c := range conns {
				got, err := c.Recv(ctx)
				if err == nil && string(got) != peer+"@"+s {
					err = fmt.Errorf("%s@%s got %q", peer, s, got)
				}
				if err != nil {
					errc <- err
					return
				}
				c.Close()
			}
			errc <- nil
		}()
	}
	for range sessions * len(peers) {
		d := <-dials
		if d.err != nil {
			t.Fatal(d.err)
		}
		defer d.c.Close()
		if err := d.c.Send(ctx, []byte(d.party+"@"+d.session)); err != nil {
			t.Fatal(err)
		}
	}
	for range sessions {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRouterSupersededGetsReason checks that an admitted connection that a
// newer one of the same party supersedes is told why it is closed, rather
// than just seeing the connection end.
func TestRouterSupersededGetsReason(t *testing.T) {
	p := newTestPKI(t, "a", "b")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	type expectResult struct {
		conns map[string]Conn
		err   error
	}
	done := make(chan expectResult, 1)
	go func() {
		conns, err := r.Expect(ctx, "s1", []string{"a", "b"})
		done <- expectResult{conns, err}
	}()
	dials := make(chan dialResult, 3)
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	first := <-dials
	if first.err != nil {
		t.Fatal(first.err)
	}
	defer first.c.Close()
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	second := <-dials
	if second.err != nil {
		t.Fatal(second.err)
	}
	defer second.c.Close()
	_, err := first.c.Recv(ctx)
	var ce *ClosedError
	if !errors.As(err, &ce) || !errors.Is(err, ErrClosed) || !strings.Contains(ce.Reason, "superseded") {
		t.Fatalf("superseded connection's Recv: %v, want a ClosedError saying it was superseded", err)
	}
	t.Logf("Recv: %v", err)
	dialAsync(ctx, t, p, r, "b", "s1", dials)
	if d := <-dials; d.err != nil {
		t.Fatal(d.err)
	} else {
		defer d.c.Close()
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The newer connection is the one in the session.
	if err := res.conns["a"].Send(ctx, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, err := second.c.Recv(ctx); err != nil || string(got) != "hi" {
		t.Fatalf("Recv: %q, %v", got, err)
	}
}

// TestRefuseDuringAdmission checks that a connection dropped between the
// coordinator's "admitted" and the party's confirmation (a newer connection
// superseding it just then) is closed with its reason, which the party's
// Recv reports, not delivered to it as a message.
func TestRefuseDuringAdmission(t *testing.T) {
	p := newTestPKI(t, "a")
	l := listenLoopback(t, p.serverConfig(t))
	ctx := testContext(t)
	dials := make(chan dialResult, 1)
	go func() {
		c, err := Dial(ctx, l.Addr().String(), "s1", p.clientConfig(t, "a"))
		dials <- dialResult{c: c, err: err}
	}()
	in, err := l.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first half of admit, then the drop.
	if err := in.c.offer(ctx); err != nil {
		t.Fatal(err)
	}
	in.c.refuse("superseded by a newer connection")
	d := <-dials
	if d.err != nil {
		t.Fatalf("Dial: %v", d.err)
	}
	defer d.c.Close()
	msg, err := d.c.Recv(ctx)
	var ce *ClosedError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "superseded") {
		t.Fatalf("Recv = %q, %v; want a ClosedError saying it was superseded", msg, err)
	}
}
