package mpcsign

import (
	"context"
	"testing"

	"github.com/maskshare/maskshare/transport"
)

// stalledConn delivers one request, then records whether the server's
// answer was sent with a bounded context: a peer that stops reading makes
// an unbounded Send block until the server shuts down.
type stalledConn struct {
	delivered, sent, bounded bool
}

func (c *stalledConn) Recv(ctx context.Context) ([]byte, error) {
	if c.delivered {
		return nil, transport.ErrClosed
	}
	c.delivered = true
	return []byte{0x01, 0xff}, nil // any request: a refusal is an answer too
}

func (c *stalledConn) Send(ctx context.Context, _ []byte) error {
	_, c.bounded = ctx.Deadline()
	c.sent = true
	return nil
}

func (c *stalledConn) Close() error { return nil }

type refuseAll struct{}

func (refuseAll) Handle(Peer, []byte) []byte { return errorResponse(codeBadMessage, "no") }

// TestServeConnBoundsSend: a node's answer is sent under a deadline, so a
// peer that stops reading cannot hold one of MaxConnections for ever.
func TestServeConnBoundsSend(t *testing.T) {
	c := &stalledConn{}
	server(refuseAll{}, nil).ServeConn(context.Background(), &transport.Incoming{Conn: c, Peer: "holder"})
	if !c.sent || !c.bounded {
		t.Fatalf("answer sent %v, with a deadline %v", c.sent, c.bounded)
	}
}
