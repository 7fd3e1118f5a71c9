package custody

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/maskshare/maskshare/internal/binfmt"
	"github.com/maskshare/maskshare/transport"
)

// Peer is the authenticated peer of a request: the name and key of its
// certificate.
type Peer struct {
	Name string
	Key  ed25519.PublicKey
}

// Server runs a request/response protocol over the mutual-TLS transport,
// as the custody systems' nodes and services do: each connection carries
// any number of requests, one at a time, each answered by Handle.
type Server struct {
	// Session is the transport session name the protocol uses; connections
	// for another are closed.
	Session string
	// MaxConnections bounds the connections served at once; more are
	// closed at once.
	MaxConnections int
	// MaxRequestSize bounds one request.
	MaxRequestSize int64
	// IdleTimeout closes a connection without a request for this long, and
	// bounds sending an answer, so that a peer that stops reading cannot
	// hold a connection for ever.
	IdleTimeout time.Duration
	// Handle answers one encoded request.
	Handle func(peer Peer, req []byte) []byte
	// Logger receives connection events, prefixed with Name; nil discards.
	Logger *slog.Logger
	Name   string
	// Conns, if not nil, counts the connections being served instead of
	// the Server's own count (for an owner that waits for them on Close).
	Conns *sync.WaitGroup

	wg sync.WaitGroup
}

// Serve accepts connections on l and answers their requests until ctx
// ends, then closes l. [Server.Wait] waits for the connections still being
// served.
func (s *Server) Serve(ctx context.Context, l *transport.Listener) error {
	defer l.Close()
	sem := make(chan struct{}, s.MaxConnections)
	for {
		in, err := l.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if in.Session != s.Session {
			s.log().Info(s.Name+": connection for another session", "peer", in.Peer, "session", in.Session)
			in.Conn.Close()
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			s.log().Warn(s.Name+": too many connections; closing", "peer", in.Peer)
			in.Conn.Close()
			continue
		}
		wg := s.conns()
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer in.Conn.Close()
			s.ServeConn(ctx, in)
		}()
	}
}

// Wait waits until no connection is being served.
func (s *Server) Wait() { s.conns().Wait() }

func (s *Server) conns() *sync.WaitGroup {
	if s.Conns != nil {
		return s.Conns
	}
	return &s.wg
}

// ServeConn answers the requests of one connection, one at a time, until
// the peer is idle for IdleTimeout, closes it or ctx ends.
func (s *Server) ServeConn(ctx context.Context, in *transport.Incoming) {
	peer := Peer{Name: in.Peer, Key: in.PeerKey}
	for {
		rctx, cancel := context.WithTimeout(ctx, s.IdleTimeout)
		req, err := transport.RecvLimit(rctx, in.Conn, s.MaxRequestSize)
		cancel()
		if err != nil {
			if !errors.Is(err, transport.ErrClosed) {
				s.log().Info(s.Name+": connection ends", "peer", peer.Name, "err", err)
			}
			return
		}
		resp := s.Handle(peer, req)
		sctx, cancel := context.WithTimeout(ctx, s.IdleTimeout)
		err = in.Conn.Send(sctx, resp)
		cancel()
		if err != nil {
			s.log().Info(s.Name+": sending response", "peer", peer.Name, "err", err)
			return
		}
	}
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// The answers of a custody server: a version (1), a code (0 when the
// request was served; the protocol names the others), then the body, or
// for a refusal its text (string16, at most MaxErrorText bytes).
const (
	responseVersion = 1
	MaxErrorText    = 512
)

// ErrBadResponse reports an answer that is not of the format above.
var ErrBadResponse = errors.New("custody: malformed response")

// OKResponse is the answer of a served request.
func OKResponse(body []byte) []byte {
	return append([]byte{responseVersion, 0}, body...)
}

// ErrorResponse is the answer of a refused request: its code (not 0) and
// its text, cut to MaxErrorText bytes.
func ErrorResponse(code uint8, text string) []byte {
	if len(text) > MaxErrorText {
		text = text[:MaxErrorText]
	}
	return binfmt.AppendString16([]byte{responseVersion, code}, text)
}

// SplitResponse decodes an answer: its code, and the body if the code is 0,
// else the refusal's text, which may be at most maxText bytes.
func SplitResponse(b []byte, maxText int) (code uint8, body []byte, text string, err error) {
	if len(b) < 2 || b[0] != responseVersion {
		return 0, nil, "", fmt.Errorf("%w: %d bytes, or not version %d", ErrBadResponse, len(b), responseVersion)
	}
	if b[1] == 0 {
		return 0, b[2:], "", nil
	}
	r := binfmt.NewReader(b[2:])
	text = r.String16(maxText)
	if !r.Done() {
		return 0, nil, "", fmt.Errorf("%w: refusal text", ErrBadResponse)
	}
	return b[1], nil, text, nil
}
