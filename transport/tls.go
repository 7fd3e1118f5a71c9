package transport

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// AnyPeer, as the only entry of [ServerConfig]'s allow-list, admits any
// peer that the [Trust] vouches for. It is not a valid name, so it cannot be
// confused with one.
const AnyPeer = "*"

// Trust says how a participant authenticates its peers. A peer's name is
// always the CommonName of its certificate, which must also be one of the
// certificate's DNS names; never anything the peer says. What vouches for
// that name is:
//
//   - Roots alone: the certificate chains to one of the roots (a CA).
//   - Pins alone: the certificate holds the key pinned for the name. The
//     certificate may be self-signed ([NewSelfSigned]): only its name and
//     key count, and the TLS handshake proves that the peer holds the key.
//     No CA is involved, so no CA can vouch for an impostor.
//   - Both: both must hold.
//
// A Trust with neither is refused ([ErrNoTrust]).
type Trust struct {
	// Roots are the trusted CAs; nil means none.
	Roots *x509.CertPool
	// Pins maps peers' names to their Ed25519 public keys. When it is not
	// empty, a peer without a pin is refused, whatever the roots say.
	Pins map[string]ed25519.PublicKey
}

// ServerConfig returns the [Listen] configuration of a participant that
// presents id and accepts clients as trust says, whose names are in
// allowedPeers; anything else fails the handshake (with [ErrPeerNotAllowed]
// for a name not on the list or without a pin, [ErrPinMismatch] for a key
// that is not the pinned one). Pass []string{AnyPeer} to leave the choice of
// peers to a [Router]'s per-session lists. An empty list is an error, so that
// a missing list never means "everyone"; with pins, every name on the list
// must be pinned.
//
// The other fields of the result are zero: set them before calling Listen.
// The peer checks travel with the Config, not with its TLS field (see
// [Config.TLS]).
func ServerConfig(id *Identity, trust Trust, allowedPeers []string) (*Config, error) {
	if err := checkIdentity(id); err != nil {
		return nil, err
	}
	v, err := newVerifier(trust)
	if err != nil {
		return nil, err
	}
	if v.allowed, err = allowList(allowedPeers); err != nil {
		return nil, err
	}
	if v.pins != nil {
		for name := range v.allowed {
			if v.pins[name] == nil {
				return nil, fmt.Errorf("transport: allowed peer %q has no pinned key", name)
			}
		}
	}
	v.forServer = true
	cfg := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{id.TLSCertificate()},
		ClientAuth:             tls.RequireAnyClientCert, // checked by v
		NextProtos:             []string{ALPN},
		SessionTicketsDisabled: true,
		VerifyConnection:       v.verifyConnection,
	}
	if trust.Roots != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = trust.Roots
	}
	v.tls = cfg
	return &Config{TLS: cfg, verify: v}, nil
}

// ClientConfig returns the [Dial] configuration of a participant that presents
// id and accepts only a server named serverName that trust vouches for (with
// pins, serverName must be pinned). As with [ServerConfig], set the other
// fields of the result before calling Dial.
func ClientConfig(id *Identity, trust Trust, serverName string) (*Config, error) {
	if err := checkIdentity(id); err != nil {
		return nil, err
	}
	if err := checkName(serverName); err != nil {
		return nil, err
	}
	v, err := newVerifier(trust)
	if err != nil {
		return nil, err
	}
	v.server = serverName
	if v.pins != nil && v.pins[serverName] == nil {
		return nil, fmt.Errorf("transport: server %q has no pinned key", serverName)
	}
	cert := id.TLSCertificate()
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Always present the identity, even to a server that names other
		// CAs, so that the server can say why it refuses it.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		// With roots, crypto/tls verifies the chain and that serverName
		// is among the certificate's DNS names; v then insists on the
		// exact identity name and the pin, if any.
		ServerName:       serverName,
		RootCAs:          trust.Roots,
		NextProtos:       []string{ALPN},
		VerifyConnection: v.verifyConnection,
	}
	if trust.Roots == nil {
		// Nothing for crypto/tls to chain to: v checks the pinned key
		// (Dial accepts this only with v).
		cfg.InsecureSkipVerify = true
	}
	v.tls = cfg
	return &Config{TLS: cfg, verify: v}, nil
}

func checkIdentity(id *Identity) error {
	if id == nil || id.Certificate == nil || id.PrivateKey == nil {
		return errors.New("transport: incomplete identity")
	}
	return nil
}

func allowList(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, errors.New("transport: empty allow-list (use AnyPeer to allow any trusted peer)")
	}
	if slices.Contains(names, AnyPeer) {
		if len(names) != 1 {
			return nil, errors.New("transport: AnyPeer must be the only entry of an allow-list")
		}
		return nil, nil
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if err := checkName(n); err != nil {
			return nil, err
		}
		m[n] = true
	}
	return m, nil
}

// verifier authenticates the peer of a TLS handshake. It runs twice: in the
// handshake (VerifyConnection, so that a refused peer gets an alert) and
// again when Dial or the Listener names the peer of the finished handshake,
// so that changing the TLS configuration's VerifyConnection cannot bypass it.
type verifier struct {
	chain     bool                         // crypto/tls must have verified a chain
	pins      map[string]ed25519.PublicKey // nil: no pinning
	allowed   map[string]bool              // server side; nil: any name
	server    string                       // client side: the server's name
	forServer bool                         // made by ServerConfig
	// tls is the configuration made with v, whose roots (or lack of
	// them) v relies on: resolve pairs v with no other.
	tls *tls.Config
}

// chainVerifier is the verifier of a Config whose TLS the caller brought: it
// accepts the peer only if crypto/tls verified its chain.
var chainVerifier = &verifier{chain: true}

func newVerifier(trust Trust) (*verifier, error) {
	if trust.Roots == nil && len(trust.Pins) == 0 {
		return nil, ErrNoTrust
	}
	v := &verifier{chain: trust.Roots != nil}
	if len(trust.Pins) > 0 {
		v.pins = make(map[string]ed25519.PublicKey, len(trust.Pins))
		for name, pub := range trust.Pins {
			if err := checkName(name); err != nil {
				return nil, err
			}
			if len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%w: the key pinned for %q has %d bytes", ErrBadPublicKey, name, len(pub))
			}
			v.pins[name] = slices.Clone(pub)
		}
	}
	return v, nil
}

func (v *verifier) verifyConnection(cs tls.ConnectionState) error {
	_, _, err := v.peer(cs)
	return err
}

// peer returns the name and key of the peer of a completed handshake, from
// the certificate that crypto/tls verified or, without roots, from the
// certificate whose key the handshake proved the peer holds.
func (v *verifier) peer(cs tls.ConnectionState) (string, ed25519.PublicKey, error) {
	var leaf *x509.Certificate
	if v.chain {
		if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
			return "", nil, errNotVerified
		}
		leaf = cs.VerifiedChains[0][0]
	} else {
		if len(cs.PeerCertificates) == 0 {
			return "", nil, errNotVerified
		}
		leaf = cs.PeerCertificates[0]
	}
	name, key, err := certIdentity(leaf)
	if err != nil {
		return "", nil, err
	}
	if v.server != "" && name != v.server {
		return "", nil, fmt.Errorf("%w: server %q (want %q)", ErrPeerNotAllowed, name, v.server)
	}
	if v.allowed != nil && !v.allowed[name] {
		return "", nil, fmt.Errorf("%w: client %q", ErrPeerNotAllowed, name)
	}
	if v.pins != nil {
		pin := v.pins[name]
		if pin == nil {
			return "", nil, fmt.Errorf("%w: no pinned key for %q", ErrPeerNotAllowed, name)
		}
		if !pin.Equal(key) {
			return "", nil, fmt.Errorf("%w: %q presented %s (%s); pinned is %s (%s)",
				ErrPinMismatch, name, FormatPublicKey(key), Fingerprint(key), FormatPublicKey(pin), Fingerprint(pin))
		}
	}
	return name, key, nil
}

var errNotVerified = errors.New("transport: peer certificate was not verified")
