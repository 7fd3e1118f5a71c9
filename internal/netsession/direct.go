package netsession

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/transport"
)

// Limits of direct delivery.
const (
	// maxDirectMessage bounds a direct delivery: the sender's be16 index
	// and one sealed box. It is the listener's MaxMessageSize, so a
	// connection that declares a longer message is refused before anything
	// is allocated for it, and Send refuses to send more.
	maxDirectMessage = 2 + wire.MaxSealedSize

	// minDirectMessage is the shortest delivery: the index and a box of at
	// least one byte (an empty box is the relay's "delivered directly").
	minDirectMessage = 3

	// maxSlotsPerPeer bounds the deliveries one sending peer (named by its
	// certificate) may have here at once, being received or held for
	// sessions that have not collected them; a delivery beyond it is
	// refused, so the sender relays the box. An honest peer delivers one
	// box per session to this party, which the session collects within
	// seconds of its arrival (see heldExpiry), so it needs one slot per
	// session it is running with this party at that moment, plus one for
	// each recent session that ended without collecting its box. 8 is
	// ample for that, and a refusal costs only relay traffic. The slots of
	// one peer are its own: a peer that fills them holds up no one else.
	// Only the peers named to NewDirect can connect, so everything held
	// is bounded by maxSlotsPerPeer × peers × maxDirectMessage bytes.
	maxSlotsPerPeer = 8

	// heldExpiry is how long a delivery is held for a session that has not
	// collected it. The sender delivers just before it sends its relayed
	// message, and the recipient collects the box as soon as the relay
	// brings it the empty box that stands for it: seconds later, or as
	// long as the slowest party takes to exchange keys. A delivery still
	// held after 10 minutes belongs to a session that ended without it (it
	// aborted, or the sender missed the acknowledgement and relayed the
	// box), and is dropped, freeing its slot. Expired deliveries are swept
	// whenever a delivery arrives or a session asks for one.
	heldExpiry = 10 * time.Minute

	// takeTimeout bounds how long the recipient waits for the message of
	// an admitted connection and writes its acknowledgement: twice the 5
	// second bound the session engine gives a Send, so an honest sender is
	// never cut off, while a silent one frees its slot.
	takeTimeout = 10 * time.Second

	// acceptors is how many connections are admitted at once. Admission
	// takes a round trip with the sender (bounded by the transport's
	// handshake timeout), so several run side by side: a peer that stalls
	// one admission does not stall every other peer's delivery.
	acceptors = 4
)

// The recipient answers a delivery with a one-byte message on the same
// connection, then closes it. A delivery it cannot read (too large, a broken
// frame) gets no answer: the connection is just closed.
const (
	ackHeld    byte = 0 // the box is held for the session
	ackRefused byte = 1 // refused: malformed, over the peer's quota, or a duplicate
)

// errDirectClosed is returned by Recv once the Direct is closed and holds no
// box for the session.
var errDirectClosed = errors.New("netsession: direct links closed")

// Direct delivers sealed boxes between parties over their own mutually
// authenticated TLS links, so they need not pass through the coordinator's
// relay. It implements maskshare.DirectLinks. Every party that takes direct
// deliveries listens; a sender dials the recipient's address, says which
// session the box is for, sends it, waits for the recipient's acknowledgement
// and hangs up. The recipient names the sender by its certificate, never by
// anything the sender says.
//
// A recipient holds at most one box per session and sender, at most
// maxSlotsPerPeer per sender, each for at most heldExpiry; a box it does not
// hold is not acknowledged, so its sender relays it.
type Direct struct {
	id      *transport.Identity
	trust   transport.Trust
	peers   map[string]string // peer name → address; absent means relay
	allowed map[string]bool   // peers that may deliver, fixed by NewDirect
	l       *transport.Listener
	log     *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // acceptors and takes
	once   sync.Once

	mu      sync.Mutex
	held    map[mailKey]*delivery
	slots   map[string]int      // peer → deliveries being received or held
	waiters map[mailKey]*waiter // sessions waiting in Recv
	now     func() time.Time    // the clock; time.Now except in tests
	expiry  time.Duration       // heldExpiry except in tests
	closed  bool                // Close was called

	delivered atomic.Int64
}

// mailKey names a mailbox: one session, one sender (by certificate name).
type mailKey struct {
	session [32]byte
	peer    string
}

type delivery struct {
	msg     []byte
	expires time.Time
}

// waiter wakes the Recv calls waiting for one mailbox.
type waiter struct {
	ch chan struct{} // closed when a box arrives or the Direct closes
	n  int           // Recv calls waiting
}

// Delivered returns how many boxes this party delivered directly, counting
// only deliveries the recipient acknowledged.
func (d *Direct) Delivered() int64 { return d.delivered.Load() }

// NewDirect returns direct links for identity id: it listens on listen (if
// not empty) for deliveries from the parties named in peers, and delivers to
// those peers at their addresses (an empty address: never deliver, relay).
// Peers are authenticated, on both ends, as trust says.
func NewDirect(id *transport.Identity, trust transport.Trust, listen string, peers map[string]string, log *slog.Logger) (*Direct, error) {
	d := &Direct{
		id: id, trust: trust, peers: peers, log: log,
		allowed: make(map[string]bool, len(peers)),
		held:    map[mailKey]*delivery{},
		slots:   map[string]int{},
		waiters: map[mailKey]*waiter{},
		now:     time.Now,
		expiry:  heldExpiry,
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if listen == "" {
		return d, nil
	}
	var names []string
	for name := range peers {
		names = append(names, name)
		d.allowed[name] = true
	}
	scfg, err := transport.ServerConfig(id, trust, names)
	if err != nil {
		return nil, fmt.Errorf("netsession: direct links: %w", err)
	}
	scfg.Logger, scfg.MaxMessageSize = log, maxDirectMessage
	if d.l, err = transport.Listen(listen, scfg); err != nil {
		return nil, fmt.Errorf("netsession: direct links: %w", err)
	}
	for range acceptors {
		d.wg.Add(1)
		go d.accept()
	}
	return d, nil
}

// Addr returns the address Direct listens on, or "" if it does not.
func (d *Direct) Addr() string {
	if d.l == nil {
		return ""
	}
	return d.l.Addr().String()
}

// Close stops listening, interrupts the deliveries being received, and ends
// the Recv calls waiting for a box. Boxes already held can still be
// collected.
func (d *Direct) Close() error {
	var err error
	d.once.Do(func() {
		d.cancel()
		if d.l != nil {
			err = d.l.Close()
		}
		d.wg.Wait()
		d.mu.Lock()
		d.closed = true
		for k, w := range d.waiters {
			close(w.ch)
			delete(d.waiters, k)
		}
		d.mu.Unlock()
	})
	return err
}

func (d *Direct) accept() {
	defer d.wg.Done()
	for {
		// Accept skips connections that fail admission; it returns an
		// error only once d.ctx ends or the listener is closed.
		in, err := d.l.Accept(d.ctx)
		if err != nil {
			return
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.take(in)
		}()
	}
}

// take reads the one message of an incoming delivery into its mailbox and
// acknowledges it, or refuses it.
func (d *Direct) take(in *transport.Incoming) {
	defer in.Conn.Close()
	ctx, cancel := context.WithTimeout(d.ctx, takeTimeout)
	defer cancel()
	log := d.log.With("peer", in.Peer)
	refuse := func(reason string) {
		log.Warn("direct delivery refused", "reason", reason)
		_ = in.Conn.Send(ctx, []byte{ackRefused})
	}
	raw, err := hex.DecodeString(in.Session)
	if err != nil || len(raw) != 32 || !d.allowed[in.Peer] {
		refuse("malformed session or unknown peer")
		return
	}
	key := mailKey{session: [32]byte(raw), peer: in.Peer}
	if !d.reserve(in.Peer) {
		refuse("peer over its quota")
		return
	}
	msg, err := in.Conn.Recv(ctx)
	if err != nil {
		// Too large, a broken frame, or no message in time: the
		// transport has refused it or the sender is gone.
		d.release(in.Peer)
		log.Warn("direct delivery failed", "err", err)
		return
	}
	if len(msg) < minDirectMessage || len(msg) > maxDirectMessage {
		d.release(in.Peer)
		refuse("malformed message")
		return
	}
	if !d.store(key, msg) {
		refuse("a second delivery for the same session")
		return
	}
	// Once held, the box stays held even if the acknowledgement does not
	// arrive: the sender then relays it, and the held copy expires.
	if err := in.Conn.Send(ctx, []byte{ackHeld}); err != nil {
		log.Info("direct delivery held but not acknowledged", "err", err)
	}
}

// reserve takes one of peer's slots for a delivery about to be received.
func (d *Direct) reserve(peer string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep()
	if d.slots[peer] >= maxSlotsPerPeer {
		return false
	}
	d.slots[peer]++
	return true
}

// release gives back a slot taken by reserve, or held by a delivery.
func (d *Direct) release(peer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.releaseLocked(peer)
}

func (d *Direct) releaseLocked(peer string) {
	if d.slots[peer]--; d.slots[peer] <= 0 {
		delete(d.slots, peer)
	}
}

// store holds msg in its mailbox, in the slot reserved for it, and wakes the
// Recv waiting for it. A mailbox that already holds a box keeps it; store
// then gives the slot back and reports false.
func (d *Direct) store(key mailKey, msg []byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep()
	if d.held[key] != nil {
		d.releaseLocked(key.peer)
		return false
	}
	d.held[key] = &delivery{msg: msg, expires: d.now().Add(d.expiry)}
	if w := d.waiters[key]; w != nil {
		close(w.ch)
		delete(d.waiters, key)
	}
	return true
}

// sweep drops expired deliveries and frees their slots. d.mu must be held.
// It visits at most maxSlotsPerPeer deliveries per peer.
func (d *Direct) sweep() {
	now := d.now()
	for k, h := range d.held {
		if !now.Before(h.expires) {
			delete(d.held, k)
			d.releaseLocked(k.peer)
			d.log.Info("direct delivery expired uncollected", "peer", k.peer)
		}
	}
}

// Send implements maskshare.DirectLinks: it delivers msg (at most
// 2 + wire.MaxSealedSize bytes) to peer and returns nil once peer has
// acknowledged holding it. Any other outcome, including ctx ending first, is
// an error, and the caller relays the box.
func (d *Direct) Send(ctx context.Context, session [32]byte, peer string, msg []byte) error {
	addr := d.peers[peer]
	if addr == "" {
		return fmt.Errorf("netsession: no direct address for %s", peer)
	}
	if len(msg) < minDirectMessage || len(msg) > maxDirectMessage {
		return fmt.Errorf("netsession: direct delivery of %d bytes; want %d to %d", len(msg), minDirectMessage, maxDirectMessage)
	}
	cfg, err := transport.ClientConfig(d.id, d.trust, peer)
	if err != nil {
		return fmt.Errorf("netsession: direct delivery to %s: %w", peer, err)
	}
	cfg.Logger, cfg.MaxMessageSize = d.log, maxDirectMessage
	conn, err := transport.Dial(ctx, addr, hex.EncodeToString(session[:]), cfg)
	if err != nil {
		return fmt.Errorf("netsession: direct delivery to %s: %w", peer, err)
	}
	defer conn.Close()
	if err := conn.Send(ctx, msg); err != nil {
		return fmt.Errorf("netsession: direct delivery to %s: %w", peer, err)
	}
	ack, err := conn.Recv(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("netsession: direct delivery to %s not acknowledged: %w", peer, err)
	case len(ack) == 1 && ack[0] == ackHeld:
		d.delivered.Add(1)
		return nil
	case len(ack) == 1 && ack[0] == ackRefused:
		return fmt.Errorf("netsession: direct delivery refused by %s", peer)
	default:
		return fmt.Errorf("netsession: malformed acknowledgement from %s", peer)
	}
}

// Recv implements maskshare.DirectLinks: it returns the box peer delivered
// for session, at once if it is held, and otherwise waits for it until ctx
// ends. The box is then removed, freeing peer's slot. A box that expired is
// not returned.
func (d *Direct) Recv(ctx context.Context, session [32]byte, peer string) ([]byte, error) {
	key := mailKey{session: session, peer: peer}
	for {
		d.mu.Lock()
		d.sweep()
		if h := d.held[key]; h != nil {
			delete(d.held, key)
			d.releaseLocked(peer)
			d.mu.Unlock()
			return h.msg, nil
		}
		if d.closed {
			d.mu.Unlock()
			return nil, errDirectClosed
		}
		w := d.waiters[key]
		if w == nil {
			w = &waiter{ch: make(chan struct{})}
			d.waiters[key] = w
		}
		w.n++
		d.mu.Unlock()

		select {
		case <-w.ch:
			// A box arrived (store removed the waiter) or the Direct
			// closed: look again.
		case <-ctx.Done():
			d.mu.Lock()
			if w.n--; w.n == 0 && d.waiters[key] == w {
				delete(d.waiters, key)
			}
			d.mu.Unlock()
			return nil, fmt.Errorf("netsession: waiting for a direct delivery from %s: %w", peer, ctx.Err())
		}
	}
}
