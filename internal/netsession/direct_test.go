package netsession

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/maskshare/maskshare/transport"
)

// directNet is a recipient, bob, that takes direct deliveries from alice
// (honest) and mallory (hostile), over loopback TLS with a test CA.
type directNet struct {
	ca                *transport.CA
	bob, alice, malio *Direct
}

func newDirectNet(t *testing.T) *directNet {
	t.Helper()
	ca, err := transport.NewCA("direct-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	n := &directNet{ca: ca}
	n.bob = newTestDirect(t, ca, "bob", "127.0.0.1:0", map[string]string{"alice": "", "mallory": ""})
	n.alice = newTestDirect(t, ca, "alice", "", map[string]string{"bob": n.bob.Addr()})
	n.malio = newTestDirect(t, ca, "mallory", "", map[string]string{"bob": n.bob.Addr()})
	return n
}

func newTestDirect(t *testing.T, ca *transport.CA, name, listen string, peers map[string]string) *Direct {
	t.Helper()
	id, err := ca.Issue(name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirect(id, transport.Trust{Roots: ca.Pool()}, listen, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newSession(t *testing.T) [32]byte {
	t.Helper()
	var s [32]byte
	if _, err := rand.Read(s[:]); err != nil {
		t.Fatal(err)
	}
	return s
}

// newBox returns a delivery of n bytes: an index and a random "box".
func newBox(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawDeliver delivers msg to bob as `from` would, without Send's checks and
// with the transport's default (2 GiB) message limit, and returns nil only if
// bob acknowledged holding it.
func (n *directNet) rawDeliver(ctx context.Context, t *testing.T, from, session string, msg []byte) error {
	t.Helper()
	id, err := n.ca.Issue(from)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := transport.ClientConfig(id, transport.Trust{Roots: n.ca.Pool()}, "bob")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := transport.Dial(ctx, n.bob.Addr(), session, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Send(ctx, msg); err != nil {
		return err
	}
	ack, err := conn.Recv(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(ack, []byte{ackHeld}) {
		return errRefusedByte
	}
	return nil
}

var errRefusedByte = errors.New("delivery refused with a refusal byte")

// holding returns how many deliveries d holds and how many slots peer has.
func holding(d *Direct, peer string) (held, slots int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.held), d.slots[peer]
}

// settle waits until d holds want deliveries and peer has want slots (a
// refused delivery's slot is given back just after its connection closes),
// and fails the test if that does not happen within a few seconds.
func settle(t *testing.T, d *Direct, peer string, wantHeld, wantSlots int) {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	for {
		held, slots := holding(d, peer)
		if held == wantHeld && slots == wantSlots {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("holding %d deliveries, %s has %d slots; want %d and %d", held, peer, slots, wantHeld, wantSlots)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// recvNow collects a box that must be held already.
func recvNow(t *testing.T, d *Direct, session [32]byte, peer string, want []byte) {
	t.Helper()
	got, err := d.Recv(testCtx(t, 5*time.Second), session, peer)
	if err != nil {
		t.Fatalf("Recv from %s: %v", peer, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Recv from %s: got a different box", peer)
	}
}

// recvNothing checks that Recv finds no box, ending with its ctx.
func recvNothing(t *testing.T, d *Direct, session [32]byte, peer string) {
	t.Helper()
	ctx := testCtx(t, 200*time.Millisecond)
	got, err := d.Recv(ctx, session, peer)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv from %s with no box: %d bytes, err %v; want a deadline error", peer, len(got), err)
	}
}

// A message longer than one sealed box is refused by the transport, before
// it is read: the connection is closed with no answer, and nothing is held.
// An honest delivery then works.
func TestDirectOversizedRefused(t *testing.T) {
	n := newDirectNet(t)
	for _, size := range []int{maxDirectMessage + 1, 64 << 10, transport.MaxFrameSize + 1} {
		err := n.rawDeliver(testCtx(t, 5*time.Second), t, "mallory", hex.EncodeToString(make([]byte, 32)), newBox(t, size))
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("%d-byte delivery: %v; want the connection closed with no answer", size, err)
		}
		settle(t, n.bob, "mallory", 0, 0)
	}
	// Send refuses to send one.
	if err := n.malio.Send(testCtx(t, 5*time.Second), newSession(t), "bob", newBox(t, maxDirectMessage+1)); err == nil {
		t.Fatal("Send of an oversized delivery succeeded")
	}
	// The largest allowed message passes.
	s := newSession(t)
	box := newBox(t, maxDirectMessage)
	if err := n.alice.Send(testCtx(t, 5*time.Second), s, "bob", box); err != nil {
		t.Fatalf("honest delivery after the oversized ones: %v", err)
	}
	recvNow(t, n.bob, s, "alice", box)
	settle(t, n.bob, "alice", 0, 0)
	if n.alice.Delivered() != 1 || n.malio.Delivered() != 0 {
		t.Fatalf("Delivered: alice %d, mallory %d; want 1 and 0", n.alice.Delivered(), n.malio.Delivered())
	}
}

// Deliveries that name no valid session, or carry no box, are refused.
func TestDirectMalformedRefused(t *testing.T) {
	n := newDirectNet(t)
	for _, c := range []struct {
		session string
		msg     []byte
	}{
		{"not-a-session-id", newBox(t, 100)},
		{hex.EncodeToString(make([]byte, 31)), newBox(t, 100)},
		{hex.EncodeToString(make([]byte, 32)), newBox(t, minDirectMessage-1)},
	} {
		if err := n.rawDeliver(testCtx(t, 5*time.Second), t, "mallory", c.session, c.msg); err == nil {
			t.Fatalf("session %q, %d bytes: acknowledged", c.session, len(c.msg))
		}
		settle(t, n.bob, "mallory", 0, 0)
	}
}

// A peer flooding deliveries for many sessions fills its own quota and no
// more; another peer's delivery is still held, acknowledged and collected.
func TestDirectPeerQuota(t *testing.T) {
	n := newDirectNet(t)
	sessions := make([][32]byte, 3*maxSlotsPerPeer)
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for i := range sessions {
		sessions[i] = newSession(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.malio.Send(testCtx(t, 10*time.Second), sessions[i], "bob", newBox(t, 100))
		}()
	}
	wg.Wait()
	var held [][32]byte
	for i, err := range errs {
		if err == nil {
			held = append(held, sessions[i])
		}
	}
	if len(held) != maxSlotsPerPeer {
		t.Fatalf("%d of mallory's %d deliveries acknowledged, want %d", len(held), len(sessions), maxSlotsPerPeer)
	}
	settle(t, n.bob, "mallory", maxSlotsPerPeer, maxSlotsPerPeer)
	if err := n.malio.Send(testCtx(t, 5*time.Second), newSession(t), "bob", newBox(t, 100)); err == nil {
		t.Fatal("delivery over the quota acknowledged")
	}

	s := newSession(t)
	box := newBox(t, 100)
	if err := n.alice.Send(testCtx(t, 5*time.Second), s, "bob", box); err != nil {
		t.Fatalf("alice's delivery while mallory is at its quota: %v", err)
	}
	recvNow(t, n.bob, s, "alice", box)

	// Collecting one of mallory's frees one slot.
	if _, err := n.bob.Recv(testCtx(t, 5*time.Second), held[0], "mallory"); err != nil {
		t.Fatal(err)
	}
	if err := n.malio.Send(testCtx(t, 5*time.Second), newSession(t), "bob", newBox(t, 100)); err != nil {
		t.Fatalf("delivery after a slot was freed: %v", err)
	}
	settle(t, n.bob, "mallory", maxSlotsPerPeer, maxSlotsPerPeer)
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func useClock(d *Direct, c *testClock) {
	d.mu.Lock()
	d.now = c.Now
	d.mu.Unlock()
}

// Deliveries no session collects expire, freeing their slots, and Recv does
// not return them.
func TestDirectExpiry(t *testing.T) {
	n := newDirectNet(t)
	clock := &testClock{t: time.Unix(1_700_000_000, 0)}
	useClock(n.bob, clock)

	early := make([][32]byte, maxSlotsPerPeer-1)
	for i := range early {
		early[i] = newSession(t)
		if err := n.malio.Send(testCtx(t, 5*time.Second), early[i], "bob", newBox(t, 100)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(heldExpiry / 2)
	late := newSession(t)
	lateBox := newBox(t, 100)
	if err := n.malio.Send(testCtx(t, 5*time.Second), late, "bob", lateBox); err != nil {
		t.Fatal(err)
	}
	if err := n.malio.Send(testCtx(t, 5*time.Second), newSession(t), "bob", newBox(t, 100)); err == nil {
		t.Fatal("delivery over the quota acknowledged")
	}

	// The early ones expire; the late one has half its time left.
	clock.Add(heldExpiry / 2)
	recvNothing(t, n.bob, early[0], "mallory")
	settle(t, n.bob, "mallory", 1, 1)
	next := newSession(t)
	nextBox := newBox(t, 100)
	if err := n.malio.Send(testCtx(t, 5*time.Second), next, "bob", nextBox); err != nil {
		t.Fatalf("delivery after expiry freed the quota: %v", err)
	}
	recvNow(t, n.bob, late, "mallory", lateBox)

	// Then the last one expires too.
	clock.Add(heldExpiry)
	recvNothing(t, n.bob, next, "mallory")
	settle(t, n.bob, "mallory", 0, 0)
}

// A second delivery for the same session and sender is refused, and the
// first one is kept.
func TestDirectDuplicateRefused(t *testing.T) {
	n := newDirectNet(t)
	s := newSession(t)
	first, second := newBox(t, 100), newBox(t, 100)
	if err := n.alice.Send(testCtx(t, 5*time.Second), s, "bob", first); err != nil {
		t.Fatal(err)
	}
	if err := n.alice.Send(testCtx(t, 5*time.Second), s, "bob", second); err == nil {
		t.Fatal("second delivery for the same session acknowledged")
	}
	settle(t, n.bob, "alice", 1, 1)
	recvNow(t, n.bob, s, "alice", first)
	settle(t, n.bob, "alice", 0, 0)
	// The same session from another sender is another mailbox.
	if err := n.malio.Send(testCtx(t, 5*time.Second), s, "bob", second); err != nil {
		t.Fatal(err)
	}
	recvNow(t, n.bob, s, "mallory", second)
}

// Send to a recipient that takes the message but never acknowledges it ends
// with ctx, with an error.
func TestDirectSendUnacknowledged(t *testing.T) {
	ca, err := transport.NewCA("direct-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	silentID, err := ca.Issue("silent")
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := transport.ServerConfig(silentID, transport.Trust{Roots: ca.Pool()}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := transport.Listen("127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	got := make(chan []byte, 1)
	go func() {
		in, err := l.Accept(context.Background())
		if err != nil {
			return
		}
		defer in.Conn.Close()
		msg, _ := in.Conn.Recv(context.Background())
		got <- msg
		<-done // read, and stay silent
	}()
	alice := newTestDirect(t, ca, "alice", "", map[string]string{"silent": l.Addr().String()})

	ctx := testCtx(t, time.Second)
	sent := make(chan error, 1)
	go func() { sent <- alice.Send(ctx, newSession(t), "silent", newBox(t, 100)) }()
	guard := testCtx(t, 10*time.Second)
	select {
	case err := <-sent:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send to a silent recipient: %v; want a deadline error", err)
		}
	case <-guard.Done():
		t.Fatal("Send to a silent recipient did not return after its ctx ended")
	}
	select {
	case msg := <-got:
		if len(msg) != 100 {
			t.Fatalf("silent recipient read %d bytes", len(msg))
		}
	default:
		t.Fatal("the silent recipient did not get the message")
	}
	if alice.Delivered() != 0 {
		t.Fatalf("Delivered %d, want 0", alice.Delivered())
	}
}

// Recv returns a held box at once, waits for one on its way, and without one
// ends with its ctx (or when the Direct closes).
func TestDirectRecv(t *testing.T) {
	n := newDirectNet(t)
	s := newSession(t)
	box := newBox(t, 100)
	if err := n.alice.Send(testCtx(t, 5*time.Second), s, "bob", box); err != nil {
		t.Fatal(err)
	}
	recvNow(t, n.bob, s, "alice", box)
	// Collected: not returned twice.
	recvNothing(t, n.bob, s, "alice")

	// A Recv already waiting gets the box when it arrives.
	s2 := newSession(t)
	type result struct {
		msg []byte
		err error
	}
	waiting := make(chan result, 1)
	go func() {
		msg, err := n.bob.Recv(testCtx(t, 5*time.Second), s2, "alice")
		waiting <- result{msg, err}
	}()
	if err := n.alice.Send(testCtx(t, 5*time.Second), s2, "bob", box); err != nil {
		t.Fatal(err)
	}
	if r := <-waiting; r.err != nil || !bytes.Equal(r.msg, box) {
		t.Fatalf("waiting Recv: %d bytes, %v", len(r.msg), r.err)
	}
	settle(t, n.bob, "alice", 0, 0)
	n.bob.mu.Lock()
	if len(n.bob.waiters) != 0 {
		t.Errorf("%d waiters left", len(n.bob.waiters))
	}
	n.bob.mu.Unlock()

	// Close ends a waiting Recv.
	go func() {
		_, err := n.bob.Recv(testCtx(t, 5*time.Second), newSession(t), "alice")
		waiting <- result{nil, err}
	}()
	guard := testCtx(t, 5*time.Second)
	for {
		n.bob.mu.Lock()
		w := len(n.bob.waiters)
		n.bob.mu.Unlock()
		if w == 1 {
			break
		}
		select {
		case <-guard.Done():
			t.Fatal("Recv did not start waiting")
		case <-time.After(time.Millisecond):
		}
	}
	n.bob.Close()
	if r := <-waiting; !errors.Is(r.err, errDirectClosed) {
		t.Fatalf("Recv across Close: %v; want %v", r.err, errDirectClosed)
	}
}
