package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// slotGone waits until peer no longer has a slot in session's Expect.
func slotGone(t testing.TB, r *Router, session, peer string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		e := r.waiting[session]
		gone := e != nil && e.slots[peer] == nil
		r.mu.Unlock()
		if gone {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s still counted as present in %q %v after it hung up", peer, session, d)
}

// An admitted party that hangs up while it waits for the others is no
// longer counted as present: the session does not start with its dead
// connection, and its new connection takes its place (issue 9, item 2).
func TestRouterAdmittedHangUp(t *testing.T) {
	p := newTestPKI(t, "a", "b")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	type result struct {
		conns map[string]Conn
		err   error
	}
	expect := make(chan result, 1)
	go func() {
		conns, err := r.Expect(ctx, "s1", []string{"a", "b"})
		expect <- result{conns, err}
	}()
	dials := make(chan dialResult, 3)
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	first := <-dials
	if first.err != nil {
		t.Fatal(first.err)
	}
	waitAdmitted(t, r, "s1", "a")
	first.c.Close() // a gives up while it waits for b
	slotGone(t, r, "s1", "a", 5*time.Second)

	dialAsync(ctx, t, p, r, "b", "s1", dials)
	b := <-dials
	if b.err != nil {
		t.Fatal(b.err)
	}
	defer b.c.Close()
	select {
	case res := <-expect:
		t.Fatalf("session started without a: %v", res.err)
	case <-time.After(300 * time.Millisecond):
	}

	dialAsync(ctx, t, p, r, "a", "s1", dials)
	a := <-dials
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	res := <-expect
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The session has a's new connection.
	if err := a.c.Send(ctx, []byte("a again")); err != nil {
		t.Fatal(err)
	}
	if got, err := res.conns["a"].Recv(ctx); err != nil || string(got) != "a again" {
		t.Fatalf("a's connection in the session: %q, %v", got, err)
	}
}

// A message an admitted party sends while it waits is kept for the session.
func TestRouterAdmittedMessageKept(t *testing.T) {
	p := newTestPKI(t, "a", "b")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	dials := make(chan dialResult, 2)
	errc := make(chan error, 1)
	var conns map[string]Conn
	go func() {
		var err error
		conns, err = r.Expect(ctx, "s1", []string{"a", "b"})
		errc <- err
	}()
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	a := <-dials
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	waitAdmitted(t, r, "s1", "a")
	if err := a.c.Send(ctx, []byte("early")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	dialAsync(ctx, t, p, r, "b", "s1", dials)
	b := <-dials
	if b.err != nil {
		t.Fatal(b.err)
	}
	defer b.c.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got, err := conns["a"].Recv(ctx); err != nil || string(got) != "early" {
		t.Fatalf("a's early message: %q, %v", got, err)
	}
}

// Gather ends as soon as an admitted party speaks before the others have
// arrived, and hands back the open connections of those that arrived, the
// message kept (issue 9, item 1: a party that cannot take part says so).
func TestRouterGatherSpokeEarly(t *testing.T) {
	p := newTestPKI(t, "a", "b", "c")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	dials := make(chan dialResult, 2)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Gather(ctx, "s1", []string{"a", "b", "c"}, 0)
		errc <- err
	}()
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	a := <-dials
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	waitAdmitted(t, r, "s1", "a")
	dialAsync(ctx, t, p, r, "b", "s1", dials)
	b := <-dials
	if b.err != nil {
		t.Fatal(b.err)
	}
	defer b.c.Close()
	waitAdmitted(t, r, "s1", "b")
	if err := b.c.Send(ctx, []byte("cannot take part")); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("Gather did not end when b spoke")
	}
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, ErrSpokeEarly) || ee.Spoke != "b" || len(ee.Arrived) != 2 {
		t.Fatalf("Gather: %v (%+v)", err, ee)
	}
	if got, err := ee.Arrived["b"].Recv(ctx); err != nil || string(got) != "cannot take part" {
		t.Fatalf("b's message: %q, %v", got, err)
	}
	// a is still connected: the caller can tell it why.
	if err := ee.Arrived["a"].Send(ctx, []byte("b cannot take part")); err != nil {
		t.Fatal(err)
	}
	if got, err := a.c.Recv(ctx); err != nil || string(got) != "b cannot take part" {
		t.Fatalf("a heard: %q, %v", got, err)
	}
	for _, c := range ee.Arrived {
		c.Close()
	}

	// On a deadline, Gather names the missing and hands back who came.
	dialAsync(ctx, t, p, r, "a", "s2", dials)
	gctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = r.Gather(gctx, "s2", []string{"a", "c"}, 0)
	a2 := <-dials
	if a2.err != nil {
		t.Fatal(a2.err)
	}
	defer a2.c.Close()
	if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) || len(ee.Missing) != 1 || ee.Missing[0] != "c" || ee.Arrived["a"] == nil {
		t.Fatalf("Gather s2: %v (%+v)", err, ee)
	}
	ee.Arrived["a"].Close()
}

// A party that arrives for a session while a run of it is in progress is
// told the session is busy, not that it is unknown (issue 9, item 8).
func TestRouterBusySession(t *testing.T) {
	p := newTestPKI(t, "a")
	r := newTestRouter(t, p, 100*time.Millisecond)
	ctx := testContext(t)
	dials := make(chan dialResult, 1)
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	conns, err := r.Expect(ctx, "s1", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	defer conns["a"].Close()
	if d := <-dials; d.err != nil {
		t.Fatal(d.err)
	} else {
		defer d.c.Close()
	}
	// The run is in progress: the next run's party is held, then told why.
	_, err = Dial(ctx, r.Listener().Addr().String(), "s1", p.clientConfig(t, "a"))
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "busy") {
		t.Fatalf("Dial during a run: %v", err)
	}
	t.Logf("Dial during a run: %v", err)
	// Once released, an unopened session is unknown again.
	r.Release("s1")
	_, err = Dial(ctx, r.Listener().Addr().String(), "s1", p.clientConfig(t, "a"))
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "unknown session") {
		t.Fatalf("Dial after the run: %v", err)
	}
}

// The arrival bound of Gather starts with the first arrival: before it,
// nobody waits and the gathering goes on.
func TestRouterGatherArrivalBound(t *testing.T) {
	p := newTestPKI(t, "a", "b")
	r := newTestRouter(t, p, 0)
	ctx := testContext(t)
	const bound = 300 * time.Millisecond
	errc := make(chan error, 1)
	go func() {
		_, err := r.Gather(ctx, "s1", []string{"a", "b"}, bound)
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Gather ended with nobody there: %v", err)
	case <-time.After(3 * bound):
	}
	dials := make(chan dialResult, 1)
	start := time.Now()
	dialAsync(ctx, t, p, r, "a", "s1", dials)
	a := <-dials
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.c.Close()
	err := <-errc
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, ErrArrivalTimeout) || len(ee.Missing) != 1 || ee.Missing[0] != "b" || ee.Arrived["a"] == nil {
		t.Fatalf("Gather: %v", err)
	}
	ee.Arrived["a"].Close()
	if d := time.Since(start); d < bound || d > 10*bound {
		t.Fatalf("Gather ended %v after a arrived, for a bound of %v", d, bound)
	}
}
