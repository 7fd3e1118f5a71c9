package transport

import (
	"context"
	"sync/atomic"
)

// Stats counts the traffic of a connection.
type Stats struct {
	MsgsSent, MsgsRecv   int64
	BytesSent, BytesRecv int64
}

// Add returns the sum of s and t, to total the connections of a role.
func (s Stats) Add(t Stats) Stats {
	return Stats{
		MsgsSent:  s.MsgsSent + t.MsgsSent,
		MsgsRecv:  s.MsgsRecv + t.MsgsRecv,
		BytesSent: s.BytesSent + t.BytesSent,
		BytesRecv: s.BytesRecv + t.BytesRecv,
	}
}

// MeteredConn is a Conn that counts the messages and message bytes that pass
// through it. It is safe for concurrent use as far as the wrapped Conn is.
type MeteredConn struct {
	c                    Conn
	msgsSent, msgsRecv   atomic.Int64
	bytesSent, bytesRecv atomic.Int64
}

// Metered wraps c (any Conn, including a [Pipe] end) to count its traffic.
func Metered(c Conn) *MeteredConn { return &MeteredConn{c: c} }

// Send implements [Conn]; it counts msg if it was sent.
func (m *MeteredConn) Send(ctx context.Context, msg []byte) error {
	if err := m.c.Send(ctx, msg); err != nil {
		return err
	}
	m.msgsSent.Add(1)
	m.bytesSent.Add(int64(len(msg)))
	return nil
}

// Recv implements [Conn]; it counts the message received.
func (m *MeteredConn) Recv(ctx context.Context) ([]byte, error) {
	msg, err := m.c.Recv(ctx)
	if err != nil {
		return nil, err
	}
	m.msgsRecv.Add(1)
	m.bytesRecv.Add(int64(len(msg)))
	return msg, nil
}

// RecvLimit implements [LimitedReceiver], with the wrapped Conn's RecvLimit
// (see the function [RecvLimit]).
func (m *MeteredConn) RecvLimit(ctx context.Context, max int64) ([]byte, error) {
	msg, err := RecvLimit(ctx, m.c, max)
	if err != nil {
		return nil, err
	}
	m.msgsRecv.Add(1)
	m.bytesRecv.Add(int64(len(msg)))
	return msg, nil
}

// Close implements [Conn].
func (m *MeteredConn) Close() error { return m.c.Close() }

// Unwrap returns the wrapped Conn.
func (m *MeteredConn) Unwrap() Conn { return m.c }

// Stats returns the messages and message bytes (before compression and
// framing) sent and received so far.
func (m *MeteredConn) Stats() Stats {
	return Stats{
		MsgsSent:  m.msgsSent.Load(),
		MsgsRecv:  m.msgsRecv.Load(),
		BytesSent: m.bytesSent.Load(),
		BytesRecv: m.bytesRecv.Load(),
	}
}

// Wire returns the wrapped connection's [WireMeter] statistics, if it has
// any (Pipe ends do not).
func (m *MeteredConn) Wire() (Stats, bool) {
	if w, ok := m.c.(WireMeter); ok {
		return w.WireStats(), true
	}
	return Stats{}, false
}
