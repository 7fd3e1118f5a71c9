package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/transport"
)

// coordinatorConfig is the JSON configuration of `maskshare coordinator`.
type coordinatorConfig struct {
	// Listen is the TCP address to listen on, such as "0.0.0.0:7443".
	Listen string `json:"listen"`
	// Name is the coordinator's certificate name; default "coordinator".
	Name string `json:"name"`
	// Certs is the directory holding ca.crt, NAME.crt and NAME.key for the
	// coordinator, and PARTY.crt for every party (made by maskshare keygen).
	Certs string `json:"certs"`
	// PhaseTimeout bounds how long the coordinator waits for the parties in
	// one phase, as a Go duration ("10m"); empty means no bound.
	PhaseTimeout duration `json:"phase_timeout"`
	// Sessions lists the sessions served; each may run any number of times,
	// one after another, and different sessions run at the same time.
	Sessions []sessionConfig `json:"sessions"`
}

type sessionConfig struct {
	// Name identifies the session; parties name it to join.
	Name string `json:"name"`
	// Params are the session parameters; every party's must be equal.
	Params maskshare.Params `json:"params"`
}

// partyConfig is the JSON configuration of `maskshare party`.
type partyConfig struct {
	// Name is this party's name in the session and its certificate name.
	Name string `json:"name"`
	// Coordinator is the coordinator's address, such as "hub.example:7443".
	Coordinator string `json:"coordinator"`
	// CoordinatorName is the coordinator's certificate name; default
	// "coordinator".
	CoordinatorName string `json:"coordinator_name"`
	// Session is the name of the session to join.
	Session string `json:"session"`
	// Certs is the directory holding ca.crt, NAME.crt and NAME.key for this
	// party and PEER.crt for every other party, whose identity keys sign
	// their session keys.
	Certs string `json:"certs"`
	// IDColumn is the CSV column holding the identifier; default "id".
	IDColumn string `json:"id_column"`
	// Timeout bounds the whole run, including waiting for the coordinator
	// and the other parties; default 1h.
	Timeout duration `json:"timeout"`
	// DirectListen, if set, is an address on which this party accepts
	// sealed parts delivered directly by other parties (mutual TLS).
	DirectListen string `json:"direct_listen,omitempty"`
	// DirectPeers maps other parties' names to the addresses they accept
	// direct deliveries on. Parts for parties not listed, or that cannot be
	// reached, are relayed through the coordinator, sealed end to end.
	DirectPeers map[string]string `json:"direct_peers,omitempty"`
	// Params are the session parameters; they must equal the coordinator's.
	Params maskshare.Params `json:"params"`
}

// duration is a time.Duration written as a Go duration string in JSON.
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// readConfig decodes a JSON file strictly: unknown fields are errors, so a
// misspelt field does not silently fall back to a default.
func readConfig(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// pki is what a participant loads from its certs directory.
type pki struct {
	id    *transport.Identity
	roots *x509.CertPool
}

func loadPKI(dir, name string) (*pki, error) {
	roots, err := transport.LoadCAPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	id, err := transport.LoadIdentity(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	return &pki{id: id, roots: roots}, nil
}

// peerKeys loads the identity keys of the named parties from dir, each
// checked against the CA.
func (p *pki) peerKeys(dir string, names []string) (map[string]ed25519.PublicKey, error) {
	keys := make(map[string]ed25519.PublicKey, len(names))
	for _, name := range names {
		k, err := transport.LoadPeerKey(filepath.Join(dir, name+".crt"), p.roots, name)
		if err != nil {
			return nil, fmt.Errorf("identity of %s: %w", name, err)
		}
		keys[name] = k
	}
	return keys, nil
}
