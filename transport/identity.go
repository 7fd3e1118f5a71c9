package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Certificate lifetimes and limits.
const (
	// CAValidity is how long a CA made by [NewCA] is valid.
	CAValidity = 10 * 365 * 24 * time.Hour

	// IdentityValidity is how long a certificate issued by [CA.Issue] is
	// valid (but never beyond the CA's own expiry).
	IdentityValidity = 2 * 365 * 24 * time.Hour

	// MaxNameLen bounds identity names (the X.509 upper bound for a
	// CommonName, RFC 5280).
	MaxNameLen = 64

	// backdate tolerates clocks that are a little behind the issuer's.
	backdate = time.Hour

	// maxPEMFile bounds what the Load functions read.
	maxPEMFile = 1 << 20
)

// A CA issues the identities of one deployment. [NewCA] makes a self-signed
// Ed25519 CA for test and small setups.
type CA struct {
	Name        string
	Certificate *x509.Certificate
	PrivateKey  ed25519.PrivateKey
}

// An Identity is a long-term Ed25519 key with a certificate naming it. Name is
// the certificate's CommonName, which is also its DNS subject alternative
// name; it is the name the other end authenticates (see [ServerTLSConfig]).
type Identity struct {
	Name        string
	Certificate *x509.Certificate
	PrivateKey  ed25519.PrivateKey
}

// ValidName reports whether name can name an identity: 1 to [MaxNameLen] ASCII
// letters, digits, '.', '-' and '_', starting and ending with a letter or
// digit.
// Names are compared exactly (case-sensitively).
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen {
		return false
	}
	alnum := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	// 127 random bits: positive and well within the 20-octet limit.
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// freshKey checks a certificate name and draws the certificate's Ed25519
// key pair and serial number.
func freshKey(name string) (ed25519.PublicKey, ed25519.PrivateKey, *big.Int, error) {
	if err := checkName(name); err != nil {
		return nil, nil, nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	return pub, priv, serial, nil
}

// NewCA makes a self-signed Ed25519 certificate authority named name, valid
// for [CAValidity].
func NewCA(name string) (*CA, error) {
	pub, priv, serial, err := freshKey(name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("transport: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Name: name, Certificate: cert, PrivateKey: priv}, nil
}

// Issue makes a new identity named name: a fresh Ed25519 key and a
// certificate with name as CommonName and DNS name, plus the loopback
// addresses 127.0.0.1 and ::1, usable for TLS client and server
// authentication, valid for [IdentityValidity].
func (ca *CA) Issue(name string) (*Identity, error) {
	pub, priv, serial, err := freshKey(name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(IdentityValidity)
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, pub, ca.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("transport: issuing certificate for %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Name: name, Certificate: cert, PrivateKey: priv}, nil
}

// Pool returns a pool holding just the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Certificate)
	return p
}

// WriteFiles saves the CA certificate (PEM, mode 0644) and private key
// (PKCS #8 PEM, mode 0600). Each file is replaced atomically.
func (ca *CA) WriteFiles(certPath, keyPath string) error {
	return writeKeyPair(ca.Certificate, ca.PrivateKey, certPath, keyPath)
}

// PublicKey returns the identity's public key.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return id.PrivateKey.Public().(ed25519.PublicKey)
}

// TLSCertificate returns the identity as a tls.Certificate.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{id.Certificate.Raw},
		PrivateKey:  id.PrivateKey,
		Leaf:        id.Certificate,
	}
}

// WriteFiles saves the certificate (PEM, mode 0644) and private key (PKCS #8
// PEM, mode 0600). Each file is replaced atomically.
func (id *Identity) WriteFiles(certPath, keyPath string) error {
	return writeKeyPair(id.Certificate, id.PrivateKey, certPath, keyPath)
}

// LoadIdentity loads an identity saved by [Identity.WriteFiles]. It checks
// that the key matches the certificate and that the certificate names a valid
// identity (CommonName equal to one of its DNS names).
func LoadIdentity(certPath, keyPath string) (*Identity, error) {
	cert, key, err := loadKeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	name, _, err := certIdentity(cert)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %w", certPath, err)
	}
	return &Identity{Name: name, Certificate: cert, PrivateKey: key}, nil
}

// LoadCA loads a CA saved by [CA.WriteFiles].
func LoadCA(certPath, keyPath string) (*CA, error) {
	cert, key, err := loadKeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("transport: %s is not a CA certificate", certPath)
	}
	return &CA{Name: cert.Subject.CommonName, Certificate: cert, PrivateKey: key}, nil
}

// LoadCAPool reads the PEM certificates in the file at path (as written by
// [CA.WriteFiles]) into a pool of trusted roots. Every block must be a CA
// certificate, and there must be at least one.
func LoadCAPool(path string) (*x509.CertPool, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("transport: %s: unexpected PEM block %q", path, b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("transport: %s: %w", path, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("transport: %s: certificate %q is not a CA", path, cert.Subject.CommonName)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("transport: %s: no PEM certificate", path)
	}
	return pool, nil
}

// certIdentity returns the identity a certificate names: its CommonName, which
// must be a valid name listed among its DNS names, and its Ed25519 key.
func certIdentity(cert *x509.Certificate) (string, ed25519.PublicKey, error) {
	name := cert.Subject.CommonName
	if !ValidName(name) {
		return "", nil, fmt.Errorf("%w: certificate CommonName %q", ErrBadName, name)
	}
	if !slices.Contains(cert.DNSNames, name) {
		return "", nil, fmt.Errorf("%w: certificate CommonName %q is not among its DNS names", ErrBadName, name)
	}
	key, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("transport: certificate %q does not hold an Ed25519 key", name)
	}
	return name, key, nil
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("transport: %s: larger than %d bytes", path, maxPEMFile)
	}
	return data, nil
}

// decodeOne returns the single PEM block of the given type in data.
func decodeOne(path string, data []byte, typ string) ([]byte, error) {
	b, rest := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("transport: %s: no PEM %s block", path, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("transport: %s: unexpected data after the %s block", path, typ)
	}
	return b.Bytes, nil
}

func loadKeyPair(certPath, keyPath string) (*x509.Certificate, ed25519.PrivateKey, error) {
	certPEM, err := readFileLimited(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := readFileLimited(keyPath)
	if err != nil {
		return nil, nil, err
	}
	der, err := decodeOne(certPath, certPEM, "CERTIFICATE")
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: %s: %w", certPath, err)
	}
	der, err = decodeOne(keyPath, keyPEM, "PRIVATE KEY")
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: %s: %w", keyPath, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("transport: %s: not an Ed25519 private key", keyPath)
	}
	certKey, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !certKey.Equal(key.Public()) {
		return nil, nil, fmt.Errorf("transport: %s does not match the key in %s", keyPath, certPath)
	}
	return cert, key, nil
}

func writeKeyPair(cert *x509.Certificate, key ed25519.PrivateKey, certPath, keyPath string) error {
	if cert == nil || key == nil {
		return errors.New("transport: missing certificate or key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, certPEM, 0o644)
}

// writeFileAtomic writes data to a temporary file in path's directory with
// the given mode, then renames it over path, so that the file never exists
// with a wider mode or partial contents.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// LoadPeerKey reads the certificate at path, checks that roots vouch for it
// and that it names name, and returns its Ed25519 key: how a participant
// learns the identity key another party signs its session keys with.
func LoadPeerKey(path string, roots *x509.CertPool, name string) (ed25519.PublicKey, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	der, err := decodeOne(path, data, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %w", path, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrAuthentication, path, err)
	}
	got, key, err := certIdentity(cert)
	if err != nil {
		return nil, err
	}
	if got != name {
		return nil, fmt.Errorf("%w: %s names %q, want %q", ErrAuthentication, path, got, name)
	}
	return key, nil
}
