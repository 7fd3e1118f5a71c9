package custody

import (
	"bytes"
	"context"
	"testing"
	"time"

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
	return []byte{0x01, 0xff}, nil
}

func (c *stalledConn) Send(ctx context.Context, _ []byte) error {
	_, c.bounded = ctx.Deadline()
	c.sent = true
	return nil
}

func (c *stalledConn) Close() error { return nil }

// TestServeConnBoundsSend: the answer is sent under a deadline, so a peer
// that stops reading cannot hold one of MaxConnections for ever. Every
// custody server (key node, signer, co-signing service) answers through
// ServeConn.
func TestServeConnBoundsSend(t *testing.T) {
	s := &Server{MaxRequestSize: 1 << 10, IdleTimeout: time.Minute, Handle: func(Peer, []byte) []byte { return []byte{0} }}
	c := &stalledConn{}
	s.ServeConn(context.Background(), &transport.Incoming{Conn: c, Peer: "alice"})
	if !c.sent || !c.bounded {
		t.Fatalf("answer sent %v, with a deadline %v", c.sent, c.bounded)
	}
}

// FuzzSplitResponse: any bytes decode or are refused without a panic,
// and what decodes encodes back to the same bytes.
func FuzzSplitResponse(f *testing.F) {
	f.Add(OKResponse([]byte("body")))
	f.Add(ErrorResponse(3, "refused"))
	f.Add([]byte{responseVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, body, text, err := SplitResponse(b, MaxErrorText)
		if err != nil {
			return
		}
		again := OKResponse(body)
		if c != 0 {
			again = ErrorResponse(c, text)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to code %d, which encodes to %x", b, c, again)
		}
	})
}
