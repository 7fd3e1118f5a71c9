package netsession

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/maskshare/maskshare/transport"
)

// Direct delivers sealed boxes between parties over their own mutually
// authenticated TLS links, so they need not pass through the coordinator's
// relay. It implements maskshare.DirectLinks. Every party that takes direct
// deliveries listens; a sender dials the recipient's address, says which
// session the box is for, sends it and hangs up. The recipient names the
// sender by its certificate, never by anything the sender says.
type Direct struct {
	id    *transport.Identity
	trust transport.Trust
	peers map[string]string // peer name → address; absent means relay
	l     *transport.Listener
	log   *slog.Logger

	mu    sync.Mutex
	boxes map[string]chan []byte // "session/sender" → the sender's message

	delivered atomic.Int64
}

// Delivered returns how many boxes this party delivered directly.
func (d *Direct) Delivered() int64 { return d.delivered.Load() }

// maxHeldDeliveries bounds how many deliveries a Direct holds for sessions
// that have not asked for them yet, so that peers cannot fill its memory.
const maxHeldDeliveries = 4096

// NewDirect returns direct links for identity id: it listens on listen (if
// not empty) for deliveries from the parties named in peers, and delivers to
// those peers at their addresses (an empty address: never deliver, relay).
// Peers are authenticated, on both ends, as trust says.
func NewDirect(id *transport.Identity, trust transport.Trust, listen string, peers map[string]string, log *slog.Logger) (*Direct, error) {
	d := &Direct{id: id, trust: trust, peers: peers, log: log, boxes: map[string]chan []byte{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if listen == "" {
		return d, nil
	}
	var names []string
	for name := range peers {
		names = append(names, name)
	}
	serverTLS, err := transport.ServerTLSConfig(id, trust, names)
	if err != nil {
		return nil, err
	}
	if d.l, err = transport.Listen(listen, &transport.Config{TLS: serverTLS, Logger: log}); err != nil {
		return nil, err
	}
	go d.accept()
	return d, nil
}

// Addr returns the address Direct listens on, or "" if it does not.
func (d *Direct) Addr() string {
	if d.l == nil {
		return ""
	}
	return d.l.Addr().String()
}

// Close stops listening.
func (d *Direct) Close() error {
	if d.l == nil {
		return nil
	}
	return d.l.Close()
}

func (d *Direct) accept() {
	for {
		in, err := d.l.Accept(context.Background())
		if err != nil {
			return // closed
		}
		go d.take(in)
	}
}

// take reads the one message of an incoming delivery into its mailbox.
func (d *Direct) take(in *transport.Incoming) {
	defer in.Conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), transport.DefaultHandshakeTimeout)
	defer cancel()
	msg, err := in.Conn.Recv(ctx)
	if err != nil {
		d.log.Warn("direct delivery failed", "peer", in.Peer, "err", err)
		return
	}
	box, ok := d.box(in.Session, in.Peer, true)
	if !ok {
		d.log.Warn("direct delivery dropped: too many held", "peer", in.Peer)
		return
	}
	select {
	case box <- msg:
	default:
		d.log.Warn("direct delivery dropped: a second one for the same session", "peer", in.Peer)
	}
}

func (d *Direct) box(session, peer string, incoming bool) (chan []byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := session + "/" + peer
	b := d.boxes[key]
	if b == nil {
		if incoming && len(d.boxes) >= maxHeldDeliveries {
			return nil, false
		}
		b = make(chan []byte, 1)
		d.boxes[key] = b
	}
	return b, true
}

// Send implements maskshare.DirectLinks.
func (d *Direct) Send(ctx context.Context, session [32]byte, peer string, msg []byte) error {
	addr := d.peers[peer]
	if addr == "" {
		return fmt.Errorf("netsession: no direct address for %s", peer)
	}
	clientTLS, err := transport.ClientTLSConfig(d.id, d.trust, peer)
	if err != nil {
		return err
	}
	conn, err := transport.Dial(ctx, addr, hex.EncodeToString(session[:]), &transport.Config{TLS: clientTLS, Logger: d.log})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Send(ctx, msg); err != nil {
		return err
	}
	d.delivered.Add(1)
	return nil
}

// Recv implements maskshare.DirectLinks.
func (d *Direct) Recv(ctx context.Context, session [32]byte, peer string) ([]byte, error) {
	sid := hex.EncodeToString(session[:])
	box, _ := d.box(sid, peer, false)
	defer func() {
		d.mu.Lock()
		delete(d.boxes, sid+"/"+peer)
		d.mu.Unlock()
	}()
	select {
	case msg := <-box:
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
