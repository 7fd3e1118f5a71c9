package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults used when a [Config] field is left zero (or the Config is nil).
const (
	// DefaultMaxMessageSize is the default [Config.MaxMessageSize]: 2 GiB.
	// It lets a vector of 1e8 records of up to 21 bytes (1e8 × 21 B =
	// 2.1e9 B < 2^31 B) pass as one message; larger payloads must be split
	// by the caller or the limit raised explicitly. A peer can make the
	// receiver allocate up to this much per connection, so set it to what
	// the session can legitimately need, or bound each message by what it
	// may hold with [RecvLimit], as the coordinator does.
	DefaultMaxMessageSize = 2 << 30

	// DefaultHandshakeTimeout is the default [Config.HandshakeTimeout].
	DefaultHandshakeTimeout = 10 * time.Second

	// DefaultDialBackoff is the default [Config.DialBackoff]: the pause
	// after the first failed connection attempt.
	DefaultDialBackoff = 100 * time.Millisecond

	// MaxDialBackoff caps the pause between connection attempts (unless
	// [Config.DialBackoff] itself is larger).
	MaxDialBackoff = 5 * time.Second

	// DefaultKeepAlive is the default [Config.KeepAlive] period.
	DefaultKeepAlive = 15 * time.Second

	// DefaultHoldTimeout is the default [Config.HoldTimeout].
	DefaultHoldTimeout = 30 * time.Second
)

// ALPN is the application protocol negotiated in the TLS handshake; a peer
// speaking anything else is refused.
const ALPN = "maskshare/1"

// Config configures [Dial], [Listen] and [Router]. Make it with
// [ServerConfig] (for Listen) or [ClientConfig] (for Dial), which also record
// how to authenticate the peer, then set the other fields; a copy of the
// struct keeps that record. A zero field means the documented default; since
// [Config.TLS] is required, Dial and Listen refuse a nil *Config.
type Config struct {
	// TLS is the TLS configuration. Required. It is cloned; MinVersion is
	// forced to TLS 1.3 and NextProtos to [ALPN]. The peer must be
	// verified, by a CA or by a pinned key.
	//
	// In a Config made by ServerConfig or ClientConfig, TLS may be changed
	// in place, but the checks of its [Trust] still apply, and they need
	// crypto/tls to verify the chain when the Trust has roots. Replacing
	// TLS by another *tls.Config (even its Clone) makes Dial and Listen
	// refuse the Config: those checks were made for the original, and
	// dropping them silently would weaken authentication.
	//
	// A TLS brought by the caller in a Config of its own must have
	// crypto/tls verify the peer's chain, which then names the peer: a
	// server configuration must set tls.RequireAndVerifyClientCert, and
	// one that sets InsecureSkipVerify is refused.
	TLS *tls.Config

	// MaxMessageSize bounds the size of one message, sent or received;
	// zero means [DefaultMaxMessageSize]. A received message that declares
	// a larger size is refused before any of it is allocated. Negative is
	// an error.
	MaxMessageSize int64

	// HandshakeTimeout bounds the TLS handshake and each step of the
	// admission exchange that follows it (hello, reply, confirmation), on
	// both sides; zero means [DefaultHandshakeTimeout]. It does not bound
	// a party's wait for the coordinator's reply (see HoldTimeout), which
	// Dial leaves to its context.
	HandshakeTimeout time.Duration

	// DialBackoff is the pause after the first failed connection attempt
	// of [Dial]; the pause doubles after each further failure, up to
	// [MaxDialBackoff], with up to 25% random jitter. Zero means
	// [DefaultDialBackoff].
	DialBackoff time.Duration

	// KeepAlive is the TCP keep-alive probe period; zero means
	// [DefaultKeepAlive], negative disables keep-alive probes.
	KeepAlive time.Duration

	// Compress makes this end compress the messages it sends with zstd
	// where that pays: a message of at least 1 KiB is compressed when a
	// trial on its first 16 KiB saves at least 10%. It is off by default
	// because the length of a compressed message tells a network observer
	// how compressible its content was (see the package documentation);
	// set it only for traffic whose structure is not secret. Compressed
	// messages are always accepted.
	Compress bool

	// HoldTimeout is how long a [Router] holds an authenticated connection
	// for a session that no [Router.Expect] is waiting for yet, so that a
	// party that starts before the coordinator opens the session is not
	// turned away. Zero means [DefaultHoldTimeout]; negative means such
	// connections are refused at once.
	HoldTimeout time.Duration

	// Logger receives connection events (handshake failures, refusals,
	// retries); nil means no logging. Payloads are never logged.
	Logger *slog.Logger

	// verify authenticates the peer in a Config made by ServerConfig or
	// ClientConfig; nil in a Config the caller made.
	verify *verifier
}

// config is a Config with defaults applied.
type config struct {
	tls              *tls.Config
	verify           *verifier
	maxMessageSize   int64
	handshakeTimeout time.Duration
	dialBackoff      time.Duration
	keepAlive        time.Duration
	compress         bool
	holdTimeout      time.Duration
	log              *slog.Logger
}

var (
	errNoTLS       = errors.New("transport: Config.TLS is required")
	errReplacedTLS = errors.New("transport: Config.TLS is not the one ServerConfig or ClientConfig made (change that one in place)")
)

// resolve applies defaults. server selects the checks for Listen.
func (c *Config) resolve(server bool) (*config, error) {
	if c == nil || c.TLS == nil {
		return nil, errNoTLS
	}
	r := &config{
		maxMessageSize:   c.MaxMessageSize,
		handshakeTimeout: c.HandshakeTimeout,
		dialBackoff:      c.DialBackoff,
		keepAlive:        c.KeepAlive,
		compress:         c.Compress,
		holdTimeout:      c.HoldTimeout,
		log:              c.Logger,
	}
	switch {
	case r.maxMessageSize < 0:
		return nil, fmt.Errorf("transport: negative Config.MaxMessageSize %d", r.maxMessageSize)
	case r.maxMessageSize == 0:
		r.maxMessageSize = DefaultMaxMessageSize
	}
	// A message must fit in a slice.
	r.maxMessageSize = min(r.maxMessageSize, math.MaxInt)
	if r.handshakeTimeout <= 0 {
		r.handshakeTimeout = DefaultHandshakeTimeout
	}
	if r.dialBackoff <= 0 {
		r.dialBackoff = DefaultDialBackoff
	}
	if r.keepAlive == 0 {
		r.keepAlive = DefaultKeepAlive
	}
	if r.holdTimeout == 0 {
		r.holdTimeout = DefaultHoldTimeout
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}

	// The peer must be verified by a CA or by a pin: by crypto/tls, or by
	// the verifier of a Config made by this package, which also checks the
	// chain when its Trust has roots.
	r.verify = chainVerifier
	if v := c.verify; v != nil {
		if c.TLS != v.tls {
			return nil, errReplacedTLS
		}
		if v.forServer != server {
			if server {
				return nil, errors.New("transport: Listen needs a Config from ServerConfig, not ClientConfig")
			}
			return nil, errors.New("transport: Dial needs a Config from ClientConfig, not ServerConfig")
		}
		r.verify = v
	}
	t := c.TLS.Clone()
	t.MinVersion = tls.VersionTLS13
	if t.MaxVersion != 0 && t.MaxVersion < tls.VersionTLS13 {
		return nil, errors.New("transport: Config.TLS.MaxVersion must allow TLS 1.3")
	}
	t.NextProtos = []string{ALPN}
	if t.InsecureSkipVerify && r.verify.chain {
		return nil, errors.New("transport: Config.TLS.InsecureSkipVerify is refused: the peer must be verified by a CA or by a pinned key (see ClientConfig)")
	}
	if server {
		if len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
			return nil, errors.New("transport: Config.TLS has no server certificate")
		}
		pinOnly := t.ClientAuth == tls.RequireAnyClientCert && !r.verify.chain
		if t.ClientAuth != tls.RequireAndVerifyClientCert && !pinOnly {
			return nil, errors.New("transport: Config.TLS.ClientAuth must be tls.RequireAndVerifyClientCert, or the Config must come from ServerConfig with pinned keys")
		}
		// Resumption would skip the client certificate.
		t.SessionTicketsDisabled = true
	} else if len(t.Certificates) == 0 && t.GetClientCertificate == nil {
		return nil, errors.New("transport: Config.TLS has no client certificate")
	}
	r.tls = t
	return r, nil
}
