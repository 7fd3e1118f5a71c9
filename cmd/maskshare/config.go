package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maskshare/maskshare"
	"github.com/maskshare/maskshare/internal/netsession"
	"github.com/maskshare/maskshare/transport"
)

// Paths in a configuration file are relative to the file's directory.

// coordinatorConfig is the JSON configuration of `maskshare coordinator`.
type coordinatorConfig struct {
	// Listen is the TCP address to listen on, such as "0.0.0.0:7443".
	Listen string `json:"listen"`
	// Name is the coordinator's name; default: the name in its
	// certificate, which it must equal if given.
	Name string `json:"name,omitempty"`
	// Key is the coordinator's private key (maskshare keygen's NAME.key).
	Key string `json:"key"`
	// Cert is the coordinator's certificate, self-signed or from a CA; it
	// must hold the key.
	Cert string `json:"cert"`
	// CA, if set, is the certificate of a CA that must also have issued
	// every party's certificate.
	CA string `json:"ca,omitempty"`
	// PhaseTimeout bounds how long the coordinator waits for the parties in
	// one phase, as a Go duration ("10m"); empty means no bound.
	PhaseTimeout duration `json:"phase_timeout,omitempty"`
	// WorkDir is the coordinator's working directory for bucketed sessions
	// (params.bucket_rows > 0): each such session keeps its checkpoints in
	// a subdirectory named after it, so that a restarted coordinator
	// resumes it. Required if a session is bucketed; created with mode
	// 0700.
	WorkDir string `json:"work_dir,omitempty"`
	// Memory is the process's soft memory limit (debug.SetMemoryLimit),
	// such as "512MiB"; default 384MiB if a session is bucketed, no limit
	// otherwise.
	Memory byteSize `json:"memory,omitempty"`
	// Sessions lists the sessions served; each may run any number of times
	// (within its limits), and different sessions run at the same time.
	Sessions []sessionConfig `json:"sessions"`
}

type sessionConfig struct {
	// Name identifies the session; parties name it to join.
	Name string `json:"name"`
	// Params are the session parameters; every party's must be equal.
	Params maskshare.Params `json:"params"`
	// Peers pins the public key of every party of the session, by name:
	// the key of its TLS certificate and of the signature on its session
	// key. A name has one key across all sessions.
	Peers map[string]string `json:"peers"`
	// MaxRuns bounds how many times the session may run to the point of
	// revealing a result; 0 means no bound.
	MaxRuns int `json:"max_runs,omitempty"`
	// MinInterval is the least time between two such runs, as a Go
	// duration; default "1m", and "0s" means no minimum.
	MinInterval *duration `json:"min_interval,omitempty"`
}

// defaultMinInterval is a session's min_interval when the configuration
// does not set it: a party that reruns a session with changed inputs learns
// from the difference of two results, so reruns are not free by default.
const defaultMinInterval = time.Minute

// partyConfig is the JSON configuration of `maskshare party`.
type partyConfig struct {
	// Name is this party's name in the session and in its certificate.
	Name string `json:"name"`
	// Coordinator is the coordinator's address, such as "hub.example:7443".
	Coordinator string `json:"coordinator"`
	// CoordinatorName is the coordinator's name in its certificate;
	// default "coordinator".
	CoordinatorName string `json:"coordinator_name,omitempty"`
	// Session is the name of the session to join.
	Session string `json:"session"`
	// Key is this party's private key (maskshare keygen's NAME.key).
	Key string `json:"key"`
	// Cert is this party's certificate, self-signed or from a CA; it must
	// hold the key.
	Cert string `json:"cert"`
	// CA, if set, is the certificate of a CA that must have issued the
	// coordinator's certificate and those of the other parties.
	CA string `json:"ca,omitempty"`
	// CoordinatorKey, if set, pins the coordinator's public key. At least
	// one of CA and CoordinatorKey is required.
	CoordinatorKey string `json:"coordinator_key,omitempty"`
	// Peers pins the public key of every other party of the session, by
	// name; their session keys must be signed with these keys, and their
	// direct links must present them.
	Peers map[string]string `json:"peers"`
	// IDColumn is the CSV column holding the identifier; default "id".
	// A source's identifier is its query's first column instead.
	IDColumn string `json:"id_column,omitempty"`
	// Source, if set, reads the table from a database by a query, in
	// place of --data CSV (exactly one of them).
	Source *sourceConfig `json:"source,omitempty"`
	// Timeout bounds the whole run, including waiting for the coordinator
	// and the other parties; default 1h.
	Timeout duration `json:"timeout,omitempty"`
	// DirectListen, if set, is an address on which this party accepts
	// sealed parts delivered directly by other parties (mutual TLS).
	DirectListen string `json:"direct_listen,omitempty"`
	// DirectPeers maps other parties' names to the addresses they accept
	// direct deliveries on. Parts for parties not listed, or that cannot be
	// reached, are relayed through the coordinator, sealed end to end.
	DirectPeers map[string]string `json:"direct_peers,omitempty"`
	// Params are the session parameters; they must equal the coordinator's.
	Params maskshare.Params `json:"params"`
	// WorkDir is the party's working directory for a bucketed session
	// (params.bucket_rows > 0): the copy of its table read from the
	// source, the session's sealed state, and what a restarted party
	// needs to resume. Required for a bucketed session; created with mode
	// 0700. It holds the party's data: protect it as the source.
	WorkDir string `json:"work_dir,omitempty"`
	// Memory is the process's soft memory limit (debug.SetMemoryLimit),
	// such as "512MiB"; default 384MiB in a bucketed session, no limit
	// otherwise. With a limit the GC percent is 400 (bucketedGCPercent).
	Memory byteSize `json:"memory,omitempty"`
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

// byteSize is a number of bytes written in JSON as a string with a unit:
// "512MiB", "2GiB", "1500MB", "1048576B" (a bare number is bytes).
type byteSize int64

// Limits of the memory field: below minMemory the garbage collector would
// run all the time.
const (
	minMemory          = 32 << 20
	defaultBucketedMem = 384 << 20
)

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

func (b *byteSize) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	mult := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("size %q: want a whole number of bytes with a unit, such as 512MiB or 2GiB", t)
	}
	*b = byteSize(n * mult)
	return nil
}

func (b byteSize) MarshalText() ([]byte, error) {
	switch {
	case b%(1<<30) == 0 && b != 0:
		return fmt.Appendf(nil, "%dGiB", b>>30), nil
	case b%(1<<20) == 0 && b != 0:
		return fmt.Appendf(nil, "%dMiB", b>>20), nil
	}
	return fmt.Appendf(nil, "%dB", int64(b)), nil
}

// memoryLimit checks the memory field and returns the limit to set, or 0
// for none: the field's value, else defaultBucketedMem if bucketed.
func (c checker) memoryLimit(m byteSize, bucketed bool) (int64, error) {
	switch {
	case m != 0 && m < minMemory:
		return 0, c.errorf("memory", "%s is below the least of %dMiB", byteCount(int64(m)), minMemory>>20)
	case m != 0:
		return int64(m), nil
	case bucketed:
		return defaultBucketedMem, nil
	}
	return 0, nil
}

// workDir checks a work_dir field: required where bucketed is true, and
// refused otherwise (a field that would do nothing is a mistake). It
// makes the directory (mode 0700) and refuses one that others may read or
// enter: it holds the participant's data and sealed session state.
func (c checker) workDir(field, dir string, bucketed bool) (string, error) {
	switch {
	case dir == "" && bucketed:
		return "", c.errorf(field, "required for a bucketed session (params.bucket_rows > 0): a directory for its table and checkpoints")
	case dir == "":
		return "", nil
	case !bucketed:
		return "", c.errorf(field, "set, but no session is bucketed (params.bucket_rows): it would not be used")
	}
	path, err := filepath.Abs(c.file(dir))
	if err != nil {
		return "", c.errorf(field, "%w", err)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return "", c.errorf(field, "%w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", c.errorf(field, "%w", err)
	}
	if !fi.IsDir() {
		return "", c.errorf(field, "%s is not a directory", path)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return "", c.errorf(field, "%s has mode %04o: it holds data and session state and must be accessible by its owner only (chmod 700 %s)", path, m, path)
	}
	return path, nil
}

// readConfig decodes a JSON file strictly: unknown fields are errors, so a
// misspelt field does not silently fall back to a default.
func readConfig(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeConfig(path, data, v)
}

// decodeConfig is readConfig on the file's contents.
func decodeConfig(path string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.Contains(err.Error(), `unknown field "certs"`) {
			err = fmt.Errorf(`%w (the certs directory gave way to "key", "cert", "ca" and pinned "peers": see the README)`, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	// Anything but white space after the object is refused, a stray
	// closing bracket included (which Decoder.More would let pass).
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: data after the configuration object at byte %d", path, dec.InputOffset())
	}
	return nil
}

// checker collects a configuration file's checks, naming the file and the
// field in every error.
type checker struct {
	path string
}

func (c checker) errorf(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", c.path, field, fmt.Errorf(format, args...))
}

// file resolves a path from the configuration against its directory.
func (c checker) file(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// identity loads the key and certificate named by the key and cert fields.
func (c checker) identity(key, cert string) (*transport.Identity, error) {
	if key == "" {
		return nil, c.errorf("key", "required (the private key made by maskshare keygen)")
	}
	if cert == "" {
		return nil, c.errorf("cert", "required (the certificate made by maskshare keygen, or issued by a CA)")
	}
	if err := checkPrivateFile(c.file(key)); err != nil {
		return nil, c.errorf("key", "%w", err)
	}
	id, err := transport.LoadIdentity(c.file(cert), c.file(key))
	if err != nil {
		return nil, c.errorf("key, cert", "%w", err)
	}
	return id, nil
}

// roots loads the ca field, if set.
func (c checker) roots(ca string) (*x509.CertPool, error) {
	if ca == "" {
		return nil, nil
	}
	pool, err := transport.LoadCAPool(c.file(ca))
	if err != nil {
		return nil, c.errorf("ca", "%w", err)
	}
	return pool, nil
}

// ownCertificate checks this participant's own certificate against the clock
// and, with a CA, against the CA: the peers would refuse it anyway, each
// after its own wait, so a certificate that cannot work fails at start-up.
func (c checker) ownCertificate(id *transport.Identity, roots *x509.CertPool, now time.Time) error {
	crt := id.Certificate
	if now.Before(crt.NotBefore) {
		return c.errorf("cert", "not valid before %s (the clock says %s)", crt.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(crt.NotAfter) {
		return c.errorf("cert", "expired at %s", crt.NotAfter.UTC().Format(time.RFC3339))
	}
	if roots == nil {
		return nil
	}
	if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return c.errorf("cert, ca", "the certificate is not issued by the CA: %w", err)
	}
	return nil
}

// pins parses a peers field that must name exactly the parties in want.
func (c checker) pins(field string, peers map[string]string, want []string) (map[string]ed25519.PublicKey, error) {
	if len(peers) == 0 {
		return nil, c.errorf(field, "required: the public key of every party in %s", strings.Join(want, ", "))
	}
	keys := make(map[string]ed25519.PublicKey, len(peers))
	owner := make(map[string]string, len(peers))
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		if !slices.Contains(want, name) {
			return nil, c.errorf(fmt.Sprintf("%s[%q]", field, name), "not a party of the session (want %s)", strings.Join(want, ", "))
		}
		k, err := transport.ParsePublicKey(peers[name])
		if err != nil {
			return nil, c.errorf(fmt.Sprintf("%s[%q]", field, name), "%w", err)
		}
		if other, dup := owner[string(k)]; dup {
			return nil, c.errorf(field, "%s and %s have the same key", other, name)
		}
		owner[string(k)] = name
		keys[name] = k
	}
	for _, name := range want {
		if keys[name] == nil {
			return nil, c.errorf(field, "no key for party %s", name)
		}
	}
	return keys, nil
}

// checkPrivateFile refuses a private key file that others may read.
func checkPrivateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: a private key must be readable by its owner only (chmod 600 %s)", path, m, path)
	}
	return nil
}

// coordinatorSetup is a checked coordinator configuration.
type coordinatorSetup struct {
	cfg      coordinatorConfig
	id       *transport.Identity
	trust    transport.Trust
	allowed  []string
	sessions []sessionSetup
	memory   int64  // the soft memory limit to set, 0 for none
	workDir  string // work_dir, absolute; "" if no session is bucketed
}

type sessionSetup struct {
	sessionConfig
	mcfg    *maskshare.Config // without logger and progress
	workDir string            // a bucketed session's checkpoints, absolute; "" otherwise
}

// loadCoordinator reads and checks a coordinator configuration: every field,
// the key and certificates and every session, before anything listens.
func loadCoordinator(path string) (*coordinatorSetup, error) {
	s := &coordinatorSetup{}
	if err := readConfig(path, &s.cfg); err != nil {
		return nil, err
	}
	c := checker{path}
	cfg := &s.cfg
	if cfg.Listen == "" {
		return nil, c.errorf("listen", "required (an address such as 0.0.0.0:7443)")
	}
	var err error
	if s.id, err = c.identity(cfg.Key, cfg.Cert); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = s.id.Name
	} else if cfg.Name != s.id.Name {
		return nil, c.errorf("name", "%q, but the certificate names %q", cfg.Name, s.id.Name)
	}
	if s.trust.Roots, err = c.roots(cfg.CA); err != nil {
		return nil, err
	}
	if err := c.ownCertificate(s.id, s.trust.Roots, time.Now()); err != nil {
		return nil, err
	}
	if cfg.PhaseTimeout < 0 {
		return nil, c.errorf("phase_timeout", "negative")
	}
	if len(cfg.Sessions) == 0 {
		return nil, c.errorf("sessions", "none")
	}
	s.trust.Pins = make(map[string]ed25519.PublicKey)
	pinnedIn := make(map[string]int) // party → the session that first pinned it
	names := make(map[string]bool)
	for i, sc := range cfg.Sessions {
		field := fmt.Sprintf("sessions[%d]", i)
		if !transport.ValidSession(sc.Name) {
			return nil, c.errorf(field+".name", "%q is not a valid session name", sc.Name)
		}
		if names[sc.Name] {
			return nil, c.errorf(field+".name", "%q appears twice", sc.Name)
		}
		names[sc.Name] = true
		if err := sc.Params.Validate(); err != nil {
			return nil, c.errorf(field+".params", "%w", err)
		}
		for j, name := range sc.Params.Parties {
			// A party connects under the name in its certificate.
			if !transport.ValidName(name) {
				return nil, c.errorf(fmt.Sprintf("%s.params.parties[%d]", field, j), "%q is not a valid name (letters, digits, '.', '-' and '_', as in a certificate)", name)
			}
		}
		keys, err := c.pins(field+".peers", sc.Peers, sc.Params.Parties)
		if err != nil {
			return nil, err
		}
		for _, name := range sc.Params.Parties {
			if old, ok := s.trust.Pins[name]; ok && !old.Equal(keys[name]) {
				return nil, c.errorf(fmt.Sprintf("%s.peers[%q]", field, name), "differs from the key in sessions[%d]: a party has one key", pinnedIn[name])
			}
			if keys[name].Equal(s.id.PublicKey()) {
				return nil, c.errorf(fmt.Sprintf("%s.peers[%q]", field, name), "is the coordinator's own key")
			}
			if _, ok := s.trust.Pins[name]; !ok {
				s.trust.Pins[name], pinnedIn[name] = keys[name], i
				s.allowed = append(s.allowed, name)
			}
		}
		if sc.MaxRuns < 0 {
			return nil, c.errorf(field+".max_runs", "negative")
		}
		interval := defaultMinInterval
		if sc.MinInterval != nil {
			interval = time.Duration(*sc.MinInterval)
		}
		if interval < 0 {
			return nil, c.errorf(field+".min_interval", "negative")
		}
		s.sessions = append(s.sessions, sessionSetup{sessionConfig: sc, mcfg: &maskshare.Config{
			PeerKeys: keys, MaxRuns: sc.MaxRuns, MinRunInterval: interval,
			PhaseTimeout: time.Duration(cfg.PhaseTimeout),
		}})
	}
	bucketed := slices.ContainsFunc(cfg.Sessions, func(sc sessionConfig) bool { return sc.Params.BucketRows > 0 })
	if s.workDir, err = c.workDir("work_dir", cfg.WorkDir, bucketed); err != nil {
		return nil, err
	}
	for i := range s.sessions {
		ss := &s.sessions[i]
		if ss.Params.BucketRows == 0 {
			continue
		}
		// Session names are valid file names (transport.ValidSession).
		ss.workDir = filepath.Join(s.workDir, ss.Name)
		if err := os.MkdirAll(ss.workDir, 0o700); err != nil {
			return nil, c.errorf("work_dir", "%w", err)
		}
		ss.mcfg.WorkDir = ss.workDir
	}
	if s.memory, err = c.memoryLimit(cfg.Memory, bucketed); err != nil {
		return nil, err
	}
	// Two names with one key would let one institution act as two.
	owner := make(map[string]string)
	for _, name := range s.allowed {
		if other, dup := owner[string(s.trust.Pins[name])]; dup {
			return nil, c.errorf("sessions", "parties %s and %s have the same key", other, name)
		}
		owner[string(s.trust.Pins[name])] = name
	}
	return s, nil
}

// partySetup is a checked party configuration.
type partySetup struct {
	cfg         partyConfig
	id          *transport.Identity
	coordTrust  transport.Trust              // for the coordinator
	peersTrust  transport.Trust              // for the other parties' direct links
	peerKeys    map[string]ed25519.PublicKey // every party, this one included
	directPeers map[string]string            // every other party → address ("" relays)
	src         *dbSource                    // nil: the table is --data CSV
	workDir     string                       // a bucketed session's working directory, absolute
	memory      int64                        // the soft memory limit to set, 0 for none
}

// loadParty reads and checks a party configuration.
func loadParty(path string) (*partySetup, error) {
	s := &partySetup{}
	if err := readConfig(path, &s.cfg); err != nil {
		return nil, err
	}
	c := checker{path}
	cfg := &s.cfg
	if cfg.CoordinatorName == "" {
		cfg.CoordinatorName = netsession.CoordinatorName
	}
	if cfg.Source != nil && cfg.IDColumn != "" {
		return nil, c.errorf("id_column", "names a CSV column; with source, the identifier is the query's first column")
	}
	if cfg.IDColumn == "" {
		cfg.IDColumn = "id"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = duration(time.Hour)
	}
	switch {
	case !transport.ValidName(cfg.Name):
		return nil, c.errorf("name", "%q is not a valid name", cfg.Name)
	case cfg.Coordinator == "":
		return nil, c.errorf("coordinator", "required (the coordinator's address, such as hub.example:7443)")
	case !transport.ValidName(cfg.CoordinatorName):
		return nil, c.errorf("coordinator_name", "%q is not a valid name", cfg.CoordinatorName)
	case !transport.ValidSession(cfg.Session):
		return nil, c.errorf("session", "%q is not a valid session name", cfg.Session)
	case cfg.Timeout < 0:
		return nil, c.errorf("timeout", "negative")
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, c.errorf("params", "%w", err)
	}
	if !slices.Contains(cfg.Params.Parties, cfg.Name) {
		return nil, c.errorf("name", "%q is not among params.parties", cfg.Name)
	}
	bucketed := cfg.Params.BucketRows > 0
	var err error
	if s.memory, err = c.memoryLimit(cfg.Memory, bucketed); err != nil {
		return nil, err
	}
	if s.workDir, err = c.workDir("work_dir", cfg.WorkDir, bucketed); err != nil {
		return nil, err
	}
	if cfg.Source != nil {
		if s.src, err = c.source(cfg.Source); err != nil {
			return nil, err
		}
	}
	if s.id, err = c.identity(cfg.Key, cfg.Cert); err != nil {
		return nil, err
	}
	if s.id.Name != cfg.Name {
		return nil, c.errorf("cert", "names %q, but name is %q", s.id.Name, cfg.Name)
	}
	roots, err := c.roots(cfg.CA)
	if err != nil {
		return nil, err
	}
	if err := c.ownCertificate(s.id, nil, time.Now()); err != nil { // the clock only: the coordinator judges its CA
		return nil, err
	}
	s.coordTrust.Roots, s.peersTrust.Roots = roots, roots
	if cfg.CoordinatorKey != "" {
		k, err := transport.ParsePublicKey(cfg.CoordinatorKey)
		if err != nil {
			return nil, c.errorf("coordinator_key", "%w", err)
		}
		s.coordTrust.Pins = map[string]ed25519.PublicKey{cfg.CoordinatorName: k}
	} else if roots == nil {
		return nil, c.errorf("ca, coordinator_key", "at least one is required to authenticate the coordinator")
	}

	var others []string
	for _, name := range cfg.Params.Parties {
		if name != cfg.Name {
			others = append(others, name)
		}
	}
	peers := maps.Clone(cfg.Peers)
	if own, ok := peers[cfg.Name]; ok {
		// Its own entry may be there (one list for everyone), if right.
		k, err := transport.ParsePublicKey(own)
		if err != nil || !k.Equal(s.id.PublicKey()) {
			return nil, c.errorf(fmt.Sprintf("peers[%q]", cfg.Name), "is not this party's own key %s", transport.FormatPublicKey(s.id.PublicKey()))
		}
		delete(peers, cfg.Name)
	}
	if s.peersTrust.Pins, err = c.pins("peers", peers, others); err != nil {
		return nil, err
	}
	s.peerKeys = maps.Clone(s.peersTrust.Pins)
	s.peerKeys[cfg.Name] = s.id.PublicKey()
	for name, k := range s.peersTrust.Pins {
		if k.Equal(s.id.PublicKey()) {
			return nil, c.errorf(fmt.Sprintf("peers[%q]", name), "is this party's own key")
		}
		if s.coordTrust.Pins != nil && k.Equal(s.coordTrust.Pins[cfg.CoordinatorName]) {
			return nil, c.errorf(fmt.Sprintf("peers[%q]", name), "is the coordinator's key")
		}
	}

	for name := range cfg.DirectPeers {
		if !slices.Contains(others, name) {
			return nil, c.errorf(fmt.Sprintf("direct_peers[%q]", name), "not another party of the session")
		}
	}
	if cfg.DirectListen != "" || len(cfg.DirectPeers) > 0 {
		s.directPeers = make(map[string]string, len(others))
		for _, name := range others {
			s.directPeers[name] = cfg.DirectPeers[name]
		}
	}
	return s, nil
}
