// Package transport carries maskshare messages between the coordinator and the
// parties.
//
// A session uses one [Conn] per party, between that party and the coordinator;
// peer-to-peer parts travel through the coordinator sealed end to end, so the
// transport never needs to see inside a message. This package provides an
// in-memory transport for tests and single-process runs ([Pipe]), and a
// network transport:
//
//   - Identities are long-term Ed25519 keys, each made by its owner on its
//     own machine ([NewSelfSigned]), with a certificate that names it. The
//     other participants trust an identity by pinning its public key
//     ([Trust], [FormatPublicKey], [ParsePublicKey], [Fingerprint]), by a
//     CA that certified it from a certificate request
//     ([Identity.CertificateRequest], [CA.IssueRequest]), or both. Nobody
//     but its owner ever holds a private key.
//   - Connections are TLS 1.3 with mutual authentication: each side checks
//     that the other's certificate holds the pinned key or chains to the
//     CA, or both, and names an allowed peer ([ServerConfig],
//     [ClientConfig]).
//   - A party calls [Dial], which retries until the coordinator is up; the
//     coordinator serves sessions through a [Listener] and, for many sessions
//     at once, a [Router].
//   - Messages are framed, split into chunks of at most [MaxFrameSize] bytes
//     and bounded by [Config.MaxMessageSize] (see [ProtocolVersion] for the
//     wire format). With [Config.Compress] they are also compressed with zstd
//     where that pays.
//   - [Metered] counts the traffic of any Conn.
//
// Compression is off by default. TLS hides a message's content but not its
// length, and the length of a compressed message depends on the content: an
// observer of the network could learn how repetitive a message was, and from
// that something about what it holds (how many indices are small, how many
// records matched). The session's messages are random (masked vectors, tags,
// ciphertexts) or padded, so compressing them would gain nothing but that
// leak.
package transport

import (
	"context"
	"errors"
	"sync"
)

// Conn carries whole messages, in order, in both directions between a party
// and the coordinator. Send and Recv may be called concurrently with each other
// but not with themselves. Both return ctx.Err() (wrapped) when ctx ends first.
type Conn interface {
	// Send delivers msg. The caller must not modify msg afterwards.
	Send(ctx context.Context, msg []byte) error
	// Recv returns the next message. The caller owns the returned slice.
	Recv(ctx context.Context) ([]byte, error)
	// Close releases the connection; pending and later calls on either end
	// return ErrClosed.
	Close() error
}

// ErrClosed is returned by a Conn whose end, or whose peer's end, was closed.
var ErrClosed = errors.New("transport: connection closed")

// LimitedReceiver is implemented by Conns that can bound the size of one
// received message below their configured limit, as a receiver that knows
// what the next message may legitimately hold does: the connections of
// [Dial] and [Listener], [Pipe] ends and [MeteredConn].
type LimitedReceiver interface {
	// RecvLimit is Recv, refusing a message of more than max bytes with
	// an error wrapping [ErrMessageTooLarge] (a [*SizeError]). A max of
	// zero or less means no limit beyond the Conn's own.
	RecvLimit(ctx context.Context, max int64) ([]byte, error)
}

// RecvLimit receives the next message on c, refusing one of more than max
// bytes with a [*SizeError] (wrapping [ErrMessageTooLarge]). Over a network
// connection the refusal comes from the message's first frame header, before
// anything is allocated for it, and the connection is closed; a Conn that
// does not implement [LimitedReceiver] has its message checked once received.
func RecvLimit(ctx context.Context, c Conn, max int64) ([]byte, error) {
	if lr, ok := c.(LimitedReceiver); ok {
		return lr.RecvLimit(ctx, max)
	}
	msg, err := c.Recv(ctx)
	if err != nil {
		return nil, err
	}
	if max > 0 && int64(len(msg)) > max {
		return nil, &SizeError{Size: uint64(len(msg)), Limit: max}
	}
	return msg, nil
}

// pipeQueue is the buffered direction of a Pipe. It is unbounded so that a
// sender never blocks on a receiver that is itself waiting to send: the
// session protocol's messages are bounded by the session's size.
type pipeQueue struct {
	mu     sync.Mutex
	msgs   [][]byte
	notify chan struct{} // closed and replaced when a message arrives
}

func newPipeQueue() *pipeQueue { return &pipeQueue{notify: make(chan struct{})} }

func (q *pipeQueue) push(m []byte) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
}

// pop returns the next message, or nil and a channel that is closed when one
// arrives.
func (q *pipeQueue) pop() ([]byte, chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return nil, q.notify
	}
	m := q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	return m, nil
}

type pipeShared struct {
	once   sync.Once
	closed chan struct{}
}

type pipeEnd struct {
	in, out *pipeQueue
	shared  *pipeShared
}

// Pipe returns the two ends of an in-memory connection. Messages are passed by
// reference: a sender must not modify a message after sending it.
func Pipe() (Conn, Conn) {
	a, b := newPipeQueue(), newPipeQueue()
	s := &pipeShared{closed: make(chan struct{})}
	return &pipeEnd{in: a, out: b, shared: s}, &pipeEnd{in: b, out: a, shared: s}
}

func (p *pipeEnd) Send(ctx context.Context, msg []byte) error {
	select {
	case <-p.shared.closed:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if msg == nil {
		msg = []byte{} // nil marks "no message" in the queue
	}
	p.out.push(msg)
	return nil
}

func (p *pipeEnd) Recv(ctx context.Context) ([]byte, error) {
	for {
		m, wait := p.in.pop()
		if m != nil {
			return m, nil
		}
		select {
		case <-wait:
		case <-p.shared.closed:
			// Deliver what was sent before the close.
			if m, _ := p.in.pop(); m != nil {
				return m, nil
			}
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// RecvLimit implements [LimitedReceiver]. The message is already in memory:
// one over max is dropped.
func (p *pipeEnd) RecvLimit(ctx context.Context, max int64) ([]byte, error) {
	msg, err := p.Recv(ctx)
	if err != nil {
		return nil, err
	}
	if max > 0 && int64(len(msg)) > max {
		return nil, &SizeError{Size: uint64(len(msg)), Limit: max}
	}
	return msg, nil
}

func (p *pipeEnd) Close() error {
	p.shared.once.Do(func() { close(p.shared.closed) })
	return nil
}
