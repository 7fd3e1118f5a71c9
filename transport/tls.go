package transport

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// AnyPeer, as the only entry of [ServerTLSConfig]'s allow-list, admits any
// peer whose certificate chains to the trusted roots. It is not a valid name,
// so it cannot be confused with one.
const AnyPeer = "*"

// ServerTLSConfig returns the TLS 1.3 configuration of a coordinator that
// presents id and requires every client to present a certificate that chains
// to roots and names a peer in allowedPeers; anything else fails the handshake
// (with [ErrPeerNotAllowed] for a name not on the list). Pass
// []string{AnyPeer} to leave the choice of peers to a [Router]'s per-session
// lists. An empty list is an error, so that a missing list never means
// "everyone".
func ServerTLSConfig(id *Identity, roots *x509.CertPool, allowedPeers []string) (*tls.Config, error) {
	if err := checkIdentity(id, roots); err != nil {
		return nil, err
	}
	allowed, err := allowList(allowedPeers)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{id.TLSCertificate()},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              roots,
		NextProtos:             []string{ALPN},
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			name, _, err := verifiedPeer(cs)
			if err != nil {
				return err
			}
			if allowed != nil && !allowed[name] {
				return fmt.Errorf("%w: client %q", ErrPeerNotAllowed, name)
			}
			return nil
		},
	}, nil
}

// ClientTLSConfig returns the TLS 1.3 configuration of a party that presents
// id and accepts only a coordinator whose certificate chains to roots and
// whose name is coordinator.
func ClientTLSConfig(id *Identity, roots *x509.CertPool, coordinator string) (*tls.Config, error) {
	if err := checkIdentity(id, roots); err != nil {
		return nil, err
	}
	if err := checkName(coordinator); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.TLSCertificate()},
		RootCAs:      roots,
		// crypto/tls verifies the chain and that coordinator is among the
		// certificate's DNS names; VerifyConnection then insists on the
		// exact identity name.
		ServerName: coordinator,
		NextProtos: []string{ALPN},
		VerifyConnection: func(cs tls.ConnectionState) error {
			name, _, err := verifiedPeer(cs)
			if err != nil {
				return err
			}
			if name != coordinator {
				return fmt.Errorf("%w: server %q (want %q)", ErrPeerNotAllowed, name, coordinator)
			}
			return nil
		},
	}, nil
}

func checkIdentity(id *Identity, roots *x509.CertPool) error {
	if id == nil || id.Certificate == nil || id.PrivateKey == nil {
		return errors.New("transport: incomplete identity")
	}
	if roots == nil {
		return errors.New("transport: no trusted roots")
	}
	return nil
}

func allowList(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, errors.New("transport: empty allow-list (use AnyPeer to allow any certified peer)")
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

// verifiedPeer returns the identity of the peer of a completed handshake,
// taken from the leaf of the chain that crypto/tls verified (never from
// anything the peer declares).
func verifiedPeer(cs tls.ConnectionState) (string, ed25519.PublicKey, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", nil, errors.New("transport: peer certificate was not verified")
	}
	return certIdentity(cs.VerifiedChains[0][0])
}
