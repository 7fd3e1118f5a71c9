package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPublicKeyText(t *testing.T) {
	id, err := NewSelfSigned("bank-a")
	if err != nil {
		t.Fatal(err)
	}
	pub := id.PublicKey()
	s := FormatPublicKey(pub)
	if !strings.HasPrefix(s, "ed25519:") || len(s) != len("ed25519:")+43 {
		t.Fatalf("FormatPublicKey = %q", s)
	}
	got, err := ParsePublicKey(s)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParsePublicKey(%q) = %x, %v", s, got, err)
	}
	fp := Fingerprint(pub)
	if !strings.HasPrefix(fp, "SHA256:") || len(fp) != len("SHA256:")+43 || fp == Fingerprint(make([]byte, 32)) {
		t.Fatalf("Fingerprint = %q", fp)
	}
	enc := s[len("ed25519:"):]
	bad := []string{
		"",
		"ed25519:",
		enc,                                     // no prefix
		"ED25519:" + enc,                        // prefix is case-sensitive
		"ssh-ed25519 " + enc,                    // another format
		s + "=",                                 // padding
		" " + s,                                 // spaces
		s + "\n",                                // line break
		"ed25519:" + enc[:20] + "\n" + enc[20:], // line break inside (the decoder would skip it)
		"ed25519:" + enc[:42],                   // 31.5 bytes
		s + "AAAA",                              // 35 bytes
		"ed25519:" + strings.Repeat("A", 42) + "B", // non-zero trailing bits
		"ed25519:" + strings.Repeat("-", 42) + "A", // URL alphabet
		"ed25519:" + strings.Repeat("A", 42) + "!",
		FormatPublicKey(make([]byte, 31)),
		FormatPublicKey(make([]byte, 33)),
	}
	for _, b := range bad {
		if k, err := ParsePublicKey(b); err == nil {
			t.Errorf("ParsePublicKey(%q) = %x, want an error", b, k)
		} else if !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("ParsePublicKey(%q): %v, want ErrBadPublicKey", b, err)
		}
	}
	if _, err := ParsePublicKey(strings.Repeat("x", 10000)); err == nil || len(err.Error()) > 200 {
		t.Errorf("long input: error %q", err)
	}
}

// FuzzParsePublicKey checks that ParsePublicKey accepts exactly the strings
// FormatPublicKey writes.
func FuzzParsePublicKey(f *testing.F) {
	id, err := NewSelfSigned("x")
	if err != nil {
		f.Fatal(err)
	}
	s := FormatPublicKey(id.PublicKey())
	for _, seed := range []string{s, s + "=", s[:len(s)-1], "ed25519:", "", s[:20] + "\n" + s[20:], "ed25519:" + strings.Repeat("/", 43)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			if k != nil || !errors.Is(err, ErrBadPublicKey) {
				t.Fatalf("ParsePublicKey(%q) = %x, %v", s, k, err)
			}
			return
		}
		if len(k) != ed25519.PublicKeySize || FormatPublicKey(k) != s {
			t.Fatalf("ParsePublicKey(%q) = %x, which formats as %q", s, k, FormatPublicKey(k))
		}
	})
}

func TestSelfSigned(t *testing.T) {
	id, err := NewSelfSigned("bank-a")
	if err != nil {
		t.Fatal(err)
	}
	c := id.Certificate
	if id.Name != "bank-a" || c.Subject.CommonName != "bank-a" || !slices.Equal(c.DNSNames, []string{"bank-a"}) || len(c.IPAddresses) != 2 {
		t.Fatalf("names: %q %q %q %v", id.Name, c.Subject.CommonName, c.DNSNames, c.IPAddresses)
	}
	if c.IsCA || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Fatalf("usage: CA %v, %v", c.IsCA, c.ExtKeyUsage)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if !c.NotAfter.Equal(noExpiry) || !id.PublicKey().Equal(c.PublicKey) {
		t.Fatalf("NotAfter %v", c.NotAfter)
	}
	if _, err := NewSelfSigned("bad name"); !errors.Is(err, ErrBadName) {
		t.Fatalf("NewSelfSigned(bad name): %v", err)
	}

	// CreateFiles never replaces a key.
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "bank-a.crt"), filepath.Join(dir, "bank-a.key")
	if err := id.CreateFiles(crt, key); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	other, _ := NewSelfSigned("bank-a")
	if err := other.CreateFiles(crt, key); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateFiles: %v", err)
	}
	loaded, err := LoadIdentity(crt, key)
	if err != nil || !loaded.PrivateKey.Equal(id.PrivateKey) || loaded.Name != "bank-a" {
		t.Fatalf("LoadIdentity after a refused CreateFiles: %v", err)
	}
	if c2, err := LoadCertificate(crt); err != nil || !c2.Equal(c) {
		t.Fatalf("LoadCertificate: %v", err)
	}
}

func TestCertificateRequest(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := NewSelfSigned("bank-a")
	csr, err := id.CertificateRequest()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bank-a.csr")
	if err := WriteCertificateRequest(path, csr); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCertificateRequest(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueRequest(loaded)
	if err != nil {
		t.Fatal(err)
	}
	if !id.PublicKey().Equal(cert.PublicKey) || cert.Subject.CommonName != "bank-a" || !slices.Equal(cert.DNSNames, []string{"bank-a"}) {
		t.Fatalf("issued %q %q for another key", cert.Subject.CommonName, cert.DNSNames)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "bank-a", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	// The issued certificate and the original key make an identity that a
	// peer trusting the CA and the pin accepts.
	issued := &Identity{Name: "bank-a", Certificate: cert, PrivateKey: id.PrivateKey}
	coord, _ := ca.Issue(coordName)
	trust := Trust{Roots: ca.Pool(), Pins: map[string]ed25519.PublicKey{"bank-a": id.PublicKey(), coordName: coord.PublicKey()}}
	if in, err := tryConnect(t, coord, trust, issued, trust); err != nil || in.Peer != "bank-a" {
		t.Fatalf("CA-issued identity from a request: %v", err)
	}

	// A tampered request: the signature no longer holds.
	raw := slices.Clone(csr.Raw)
	raw[len(raw)-1] ^= 1
	tampered, err := x509.ParseCertificateRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.IssueRequest(tampered); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("IssueRequest(tampered): %v", err)
	}
	if err := WriteCertificateRequest(path, tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCertificateRequest(path); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("LoadCertificateRequest(tampered): %v", err)
	}

	// Requests for more than one valid name, or for another kind of key.
	for _, tc := range []struct {
		name string
		tmpl x509.CertificateRequest
		key  any
	}{
		{"two names", x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank-a"}, DNSNames: []string{"bank-a", "coordinator"}}, id.PrivateKey},
		{"no DNS name", x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank-a"}}, id.PrivateKey},
		{"bad name", x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank a"}, DNSNames: []string{"bank a"}}, id.PrivateKey},
		{"ECDSA", x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank-a"}, DNSNames: []string{"bank-a"}}, mustECDSA(t)},
	} {
		der, err := x509.CreateCertificateRequest(rand.Reader, &tc.tmpl, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		req, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ca.IssueRequest(req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: IssueRequest: %v", tc.name, err)
		}
	}
}

func mustECDSA(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tryConnect serves srv with trust st (any peer) and dials it as cli with
// trust ct. It returns the server's view of the connection, or Dial's error;
// a failed Dial must leave the server with nothing accepted.
func tryConnect(t *testing.T, srv *Identity, st Trust, cli *Identity, ct Trust) (*Incoming, error) {
	t.Helper()
	scfg, err := ServerConfig(srv, st, []string{AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := ClientConfig(cli, ct, srv.Name)
	if err != nil {
		t.Fatal(err)
	}
	return tryConfigs(t, scfg, ccfg)
}

// tryConfigs is tryConnect with the server's and the client's Configs.
func tryConfigs(t *testing.T, scfg, ccfg *Config) (*Incoming, error) {
	t.Helper()
	scfg.Logger, ccfg.Logger = testLogger(t), testLogger(t)
	l := listenLoopback(t, scfg)
	ctx := testContext(t)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *Incoming, 1)
	go func() {
		in, _ := l.Accept(actx)
		ch <- in
	}()
	c, err := Dial(ctx, l.Addr().String(), "s1", ccfg)
	if err != nil {
		cancel()
		if in := <-ch; in != nil {
			t.Errorf("the server accepted %q although Dial failed", in.Peer)
		}
		return nil, err
	}
	in := <-ch
	t.Cleanup(func() { c.Close(); in.Conn.Close() })
	if in == nil {
		t.Fatal("Dial succeeded but Accept did not")
	}
	return in, nil
}

func pins(ids ...*Identity) map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey)
	for _, id := range ids {
		m[id.Name] = id.PublicKey()
	}
	return m
}

// TestTrust runs a handshake for every way of trusting a peer, on each side.
func TestTrust(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	caCoord, caBank := p.coord, p.ids["bank-1"]
	ssCoord, _ := NewSelfSigned(coordName)
	ssBank, _ := NewSelfSigned("bank-1")
	// Same names, other keys: an impostor with a self-signed certificate,
	// and one the CA certified (the CA itself may be wrong or coerced).
	ssCoord2, _ := NewSelfSigned(coordName)
	ssBank2, _ := NewSelfSigned("bank-1")
	caCoord2, _ := p.ca.Issue(coordName)
	caBank2, _ := p.ca.Issue("bank-1")
	ssBank3, _ := NewSelfSigned("bank-2")
	other := newTestPKI(t, "bank-1")

	ca := Trust{Roots: p.pool}
	pinOnly := func(ids ...*Identity) Trust { return Trust{Pins: pins(ids...)} }
	caPin := func(ids ...*Identity) Trust { return Trust{Roots: p.pool, Pins: pins(ids...)} }

	for _, tc := range []struct {
		name     string
		srv      *Identity
		st       Trust
		cli      *Identity
		ct       Trust
		wantErr  error // nil: connects
		wantPeer *Identity
	}{
		{"pin only, self-signed", ssCoord, pinOnly(ssBank), ssBank, pinOnly(ssCoord), nil, ssBank},
		{"pin only, CA-issued certificates", caCoord, pinOnly(caBank), caBank, pinOnly(caCoord), nil, caBank},
		{"CA only", caCoord, ca, caBank, ca, nil, caBank},
		{"CA and pin", caCoord, caPin(caBank), caBank, caPin(caCoord), nil, caBank},
		{"CA server, pinning client", caCoord, ca, caBank, pinOnly(caCoord), nil, caBank},
		{"pinning server, CA client", caCoord, pinOnly(caBank), caBank, ca, nil, caBank},

		// The client refuses the server.
		{"pin only, wrong server key", ssCoord2, pinOnly(ssBank), ssBank, pinOnly(ssCoord), ErrPinMismatch, nil},
		{"CA and pin, CA-certified server with another key", caCoord2, caPin(caBank), caBank, caPin(caCoord), ErrPinMismatch, nil},
		{"CA and pin, pinned server not certified", ssCoord, caPin(caBank), caBank, caPin(ssCoord), x509.UnknownAuthorityError{}, nil},
		{"CA only, self-signed server", ssCoord, ca, caBank, ca, x509.UnknownAuthorityError{}, nil},
		{"CA only, server from another CA", other.coord, ca, caBank, ca, x509.UnknownAuthorityError{}, nil},

		// The server refuses the client (the client sees an alert).
		{"pin only, wrong client key", ssCoord, pinOnly(ssBank), ssBank2, pinOnly(ssCoord), ErrAuthentication, nil},
		{"CA and pin, CA-certified client with another key", caCoord, caPin(caBank), caBank2, caPin(caCoord), ErrAuthentication, nil},
		{"CA and pin, pinned client not certified", caCoord, caPin(ssBank), ssBank, caPin(caCoord), ErrAuthentication, nil},
		{"CA only, self-signed client", caCoord, ca, ssBank, ca, ErrAuthentication, nil},
		{"pin only, client not pinned", ssCoord, pinOnly(ssBank), ssBank3, pinOnly(ssCoord), ErrAuthentication, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := tryConnect(t, tc.srv, tc.st, tc.cli, tc.ct)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if in.Peer != tc.wantPeer.Name || !in.PeerKey.Equal(tc.wantPeer.PublicKey()) {
					t.Fatalf("peer %q %x", in.Peer, in.PeerKey)
				}
				return
			}
			t.Logf("Dial: %v", err)
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("Dial: %v, want ErrAuthentication", err)
			}
			var uae x509.UnknownAuthorityError
			if _, ok := tc.wantErr.(x509.UnknownAuthorityError); ok {
				if !errors.As(err, &uae) {
					t.Fatalf("Dial: %v, want x509.UnknownAuthorityError", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Dial: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestPinnedNameFromCertificate checks that a peer cannot borrow another
// pinned name: the name is the certificate's, and it must be among the
// certificate's DNS names.
func TestPinnedNameFromCertificate(t *testing.T) {
	coord, _ := NewSelfSigned(coordName)
	a, _ := NewSelfSigned("bank-a")
	b, _ := NewSelfSigned("bank-b")
	st := Trust{Pins: pins(a, b)}
	ct := Trust{Pins: pins(coord)}
	// bank-b's key in a certificate that says bank-a.
	forged := selfSignedWith(t, b.PrivateKey, "bank-a", []string{"bank-a"})
	if _, err := tryConnect(t, coord, st, forged, ct); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("bank-b's key under bank-a's name: %v", err)
	}
	// bank-b's key, CommonName bank-b, but the DNS name bank-a.
	odd := selfSignedWith(t, b.PrivateKey, "bank-b", []string{"bank-a"})
	if _, err := tryConnect(t, coord, st, odd, ct); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("CommonName not among DNS names: %v", err)
	}
	// The real bank-b gets in, as bank-b.
	if in, err := tryConnect(t, coord, st, b, ct); err != nil || in.Peer != "bank-b" {
		t.Fatalf("bank-b: %v", err)
	}
}

func selfSignedWith(t *testing.T, key ed25519.PrivateKey, cn string, dns []string) *Identity {
	t.Helper()
	tmpl := identityTemplate(cn, big.NewInt(1), time.Now().Add(time.Hour))
	tmpl.DNSNames = dns
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Name: cn, Certificate: cert, PrivateKey: key}
}

func TestTrustConfigErrors(t *testing.T) {
	id, _ := NewSelfSigned(coordName)
	bank, _ := NewSelfSigned("bank-1")
	if _, err := ServerConfig(id, Trust{}, []string{AnyPeer}); !errors.Is(err, ErrNoTrust) {
		t.Errorf("ServerConfig with no trust: %v", err)
	}
	if _, err := ClientConfig(id, Trust{Pins: map[string]ed25519.PublicKey{}}, "x"); !errors.Is(err, ErrNoTrust) {
		t.Errorf("ClientConfig with no trust: %v", err)
	}
	if _, err := ClientConfig(bank, Trust{Pins: pins(bank)}, coordName); err == nil {
		t.Error("ClientConfig without a pin for the server")
	}
	if _, err := ServerConfig(id, Trust{Pins: pins(bank)}, []string{"bank-1", "bank-2"}); err == nil {
		t.Error("ServerConfig allowing a peer without a pin")
	}
	if _, err := ServerConfig(id, Trust{Pins: map[string]ed25519.PublicKey{"bank-1": make([]byte, 31)}}, []string{AnyPeer}); !errors.Is(err, ErrBadPublicKey) {
		t.Errorf("a short pin: %v", err)
	}
	if _, err := ServerConfig(id, Trust{Pins: map[string]ed25519.PublicKey{"bank 1": bank.PublicKey()}}, []string{AnyPeer}); !errors.Is(err, ErrBadName) {
		t.Errorf("a pin for an invalid name: %v", err)
	}
	// Pins are copied: changing the map afterwards changes nothing.
	m := pins(bank)
	scfg, err := ServerConfig(id, Trust{Pins: m}, []string{AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSelfSigned("bank-1")
	m["bank-1"] = other.PublicKey()
	ccfg, _ := ClientConfig(other, Trust{Pins: pins(id)}, coordName)
	if _, err := tryConfigs(t, scfg, ccfg); !errors.Is(err, ErrAuthentication) {
		t.Errorf("a pin changed after the configuration was made: %v", err)
	}
}

// TestUnverifiedConfigRefused checks that Dial and Listen refuse a TLS
// configuration that verifies the peer neither by a CA nor by a pin.
func TestUnverifiedConfigRefused(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	ctx := testContext(t)
	l := listenLoopback(t, p.serverConfig(t, AnyPeer))
	addr := l.Addr().String()
	bank := p.ids["bank-1"]

	// Hand-made: skips verification and checks nothing instead.
	handMade := &Config{TLS: &tls.Config{Certificates: []tls.Certificate{bank.TLSCertificate()}, InsecureSkipVerify: true}}
	// Made here for pins, but its TLS taken into a Config of the caller's
	// own: without the pins, nothing verifies the server.
	pinned, err := ClientConfig(bank, Trust{Pins: pins(p.coord)}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	taken := &Config{TLS: pinned.TLS}
	// Made here for a CA, then told to skip verification.
	skipping, err := ClientConfig(bank, Trust{Roots: p.pool}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	skipping.TLS.InsecureSkipVerify = true
	for name, cfg := range map[string]*Config{"hand-made": handMade, "TLS taken out": taken, "CA config skipping": skipping} {
		if _, err := Dial(ctx, addr, "s1", cfg); err == nil || !strings.Contains(err.Error(), "InsecureSkipVerify") {
			t.Errorf("%s: Dial: %v", name, err)
		}
	}
	// The original pin-only configuration is accepted.
	if _, err := tryConfigs(t, mustServer(t, p.coord, Trust{Pins: pins(bank)}), pinned); err != nil {
		t.Errorf("pin-only configuration: %v", err)
	}

	// Servers: a hand-made one that does not verify client certificates,
	// a CA configuration told not to, and the TLS of a pin-only one in a
	// Config of the caller's own.
	noVerify := &Config{TLS: &tls.Config{Certificates: []tls.Certificate{p.coord.TLSCertificate()}, ClientAuth: tls.RequireAnyClientCert}}
	caServer := mustServer(t, p.coord, Trust{Roots: p.pool})
	caServer.TLS.ClientAuth = tls.RequireAnyClientCert
	takenServer := &Config{TLS: mustServer(t, p.coord, Trust{Pins: pins(bank)}).TLS}
	for name, cfg := range map[string]*Config{"hand-made": noVerify, "CA config not verifying": caServer, "TLS taken out": takenServer} {
		if l, err := Listen("127.0.0.1:0", cfg); err == nil {
			l.Close()
			t.Errorf("%s: Listen accepted a server that does not verify clients", name)
		}
	}
}

// TestConfigCopied checks that a copy of a Config made by ServerConfig or
// ClientConfig keeps its peer checks, while a hand-made TLS configuration
// that skips verification is still refused.
func TestConfigCopied(t *testing.T) {
	coord, _ := NewSelfSigned(coordName)
	a, _ := NewSelfSigned("bank-a")
	b, _ := NewSelfSigned("bank-b")
	scfg, err := ServerConfig(coord, Trust{Pins: pins(a, b)}, []string{"bank-a"})
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(c *Config) *Config { d := *c; return &d }
	for _, id := range []*Identity{a, b} {
		ccfg, err := ClientConfig(id, Trust{Pins: pins(coord)}, coordName)
		if err != nil {
			t.Fatal(err)
		}
		in, err := tryConfigs(t, copyOf(scfg), copyOf(ccfg))
		switch {
		case id == a && (err != nil || in.Peer != "bank-a"):
			t.Errorf("bank-a through copied Configs: %v", err)
		case id == b && !errors.Is(err, ErrAuthentication):
			// The copy keeps the allow-list.
			t.Errorf("bank-b, not on the copied allow-list: %v", err)
		}
	}

	handMade := &Config{TLS: &tls.Config{Certificates: []tls.Certificate{a.TLSCertificate()}, InsecureSkipVerify: true}}
	if _, err := Dial(cancelledContext(), "127.0.0.1:1", "s1", handMade); err == nil || !strings.Contains(err.Error(), "InsecureSkipVerify") {
		t.Errorf("hand-made InsecureSkipVerify: Dial: %v", err)
	}
}

// TestReplacedTLSRefused checks that a Config made by ServerConfig or
// ClientConfig whose TLS was replaced, even by its own clone, is refused
// rather than checked by the chain alone: the clone of a CA configuration
// would pass that check but lose its allow-list and pins.
func TestReplacedTLSRefused(t *testing.T) {
	p := newTestPKI(t, "bank-1")
	bank := p.ids["bank-1"]
	// Nothing is dialled: the Config is refused first.
	ctx := cancelledContext()
	for _, trust := range []Trust{{Roots: p.pool}, {Pins: pins(p.coord, bank)}, {Roots: p.pool, Pins: pins(p.coord, bank)}} {
		scfg, err := ServerConfig(p.coord, trust, []string{"bank-1"})
		if err != nil {
			t.Fatal(err)
		}
		scfg.TLS = scfg.TLS.Clone()
		if l, err := Listen("127.0.0.1:0", scfg); !errors.Is(err, errReplacedTLS) {
			if err == nil {
				l.Close()
			}
			t.Errorf("Listen with a replaced TLS: %v", err)
		}
		ccfg, err := ClientConfig(bank, trust, coordName)
		if err != nil {
			t.Fatal(err)
		}
		ccfg.TLS = ccfg.TLS.Clone()
		if _, err := Dial(ctx, "127.0.0.1:1", "s1", ccfg); !errors.Is(err, errReplacedTLS) {
			t.Errorf("Dial with a replaced TLS: %v", err)
		}
	}

	// Each side's Config is for that side only.
	if _, err := Dial(ctx, "127.0.0.1:1", "s1", p.serverConfig(t)); err == nil || !strings.Contains(err.Error(), "ClientConfig") {
		t.Errorf("Dial with a server Config: %v", err)
	}
	if l, err := Listen("127.0.0.1:0", p.clientConfig(t, "bank-1")); err == nil || !strings.Contains(err.Error(), "ServerConfig") {
		if err == nil {
			l.Close()
		}
		t.Errorf("Listen with a client Config: %v", err)
	}
}

// TestVerifyConnectionReplaced checks that the peer checks run again when
// the peer is named, so that removing VerifyConnection from the TLS of a
// Config made here lets no unpinned peer in.
func TestVerifyConnectionReplaced(t *testing.T) {
	coord, _ := NewSelfSigned(coordName)
	coord2, _ := NewSelfSigned(coordName)
	bank, _ := NewSelfSigned("bank-1")
	bank2, _ := NewSelfSigned("bank-1")

	// The server does not check in the handshake; a client with the wrong
	// key gets no further.
	scfg := mustServer(t, coord, Trust{Pins: pins(bank)})
	scfg.TLS.VerifyConnection = nil
	ccfg, err := ClientConfig(bank2, Trust{Pins: pins(coord)}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tryConfigs(t, scfg, ccfg); err == nil {
		t.Error("the server admitted a client with the wrong key")
	}

	// The client does not check in the handshake; it refuses a server
	// with the wrong key all the same.
	ccfg, err = ClientConfig(bank, Trust{Pins: pins(coord)}, coordName)
	if err != nil {
		t.Fatal(err)
	}
	ccfg.TLS.VerifyConnection = nil
	if _, err := tryConfigs(t, mustServer(t, coord2, Trust{Pins: pins(bank)}), ccfg); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("Dial to a server with the wrong key: %v", err)
	}
}

// cancelledContext makes Dial fail at once should it get past its checks.
func cancelledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func mustServer(t *testing.T, id *Identity, trust Trust) *Config {
	t.Helper()
	c, err := ServerConfig(id, trust, []string{AnyPeer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
