package cosign

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/transport"
)

// Server limits, as the key node's (custody/slicing).
const (
	// MaxConnections bounds the connections the service serves at once.
	MaxConnections = 64
	// IdleTimeout is how long the service waits for the next request on
	// a connection before closing it.
	IdleTimeout = 30 * time.Second
	// DefaultDialTimeout bounds [Dial]'s connection attempts.
	DefaultDialTimeout = 10 * time.Second
)

// Serve accepts connections on l (the transport's mutual TLS) and answers
// their requests until ctx ends, then closes l and waits for the
// connections it was serving. Each connection carries any number of
// requests, one at a time; the peer is the name and key of its
// certificate.
func (s *Service) Serve(ctx context.Context, l *transport.Listener) error {
	srv := s.server()
	defer srv.Wait()
	return srv.Serve(ctx, l)
}

// server is the service's connection handling (custody.Server).
func (s *Service) server() *custody.Server {
	return &custody.Server{Session: SessionName, MaxConnections: MaxConnections, MaxRequestSize: MaxRequestSize,
		IdleTimeout: IdleTimeout, Handle: s.Handle, Logger: s.logger, Name: "cosign"}
}

// NetConn is a connection to the service over the mutual-TLS transport.
// Its RoundTrip must not be called concurrently.
type NetConn struct {
	conn transport.Conn
}

// Dial connects to the service named name (its certificate name) at addr
// as identity id.
func Dial(ctx context.Context, id *transport.Identity, trust transport.Trust, name, addr string, logger *slog.Logger) (*NetConn, error) {
	cfg, err := transport.ClientConfig(id, trust, name)
	if err != nil {
		return nil, err
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	cfg.Logger = logger
	dctx, cancel := context.WithTimeout(ctx, DefaultDialTimeout)
	defer cancel()
	conn, err := transport.Dial(dctx, addr, SessionName, cfg)
	if err != nil {
		return nil, fmt.Errorf("cosign: service %s: %w", name, err)
	}
	return &NetConn{conn: conn}, nil
}

// RoundTrip sends a request and returns the response.
func (c *NetConn) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	if err := c.conn.Send(ctx, req); err != nil {
		return nil, err
	}
	return transport.RecvLimit(ctx, c.conn, MaxResponseSize)
}

// Close closes the connection.
func (c *NetConn) Close() error { return c.conn.Close() }

// Listen returns a listener for the service as identity id, accepting the
// clients trust vouches for.
func Listen(addr string, id *transport.Identity, trust transport.Trust, logger *slog.Logger) (*transport.Listener, error) {
	cfg, err := transport.ServerConfig(id, trust, []string{transport.AnyPeer})
	if err != nil {
		return nil, err
	}
	cfg.MaxMessageSize = max(MaxRequestSize, MaxResponseSize)
	cfg.Logger = logger
	return transport.Listen(addr, cfg)
}
