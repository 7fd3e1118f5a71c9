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
	"slices"
	"time"

	"github.com/maskshare/maskshare/internal/durable"
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

// A CA certifies the identities of one deployment, from the certificate
// requests of their owners ([CA.IssueRequest]). [NewCA] makes a self-signed
// Ed25519 CA.
type CA struct {
	Name        string
	Certificate *x509.Certificate
	PrivateKey  ed25519.PrivateKey
}

// An Identity is a long-term Ed25519 key with a certificate naming it. Name is
// the certificate's CommonName, which is also its DNS subject alternative
// name; it is the name the other end authenticates (see [ServerConfig]).
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

// identityTemplate is the certificate of an identity: name as CommonName and
// DNS name, plus the loopback addresses 127.0.0.1 and ::1, usable for TLS
// client and server authentication.
func identityTemplate(name string, serial *big.Int, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             time.Now().Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// Issue makes a new identity named name: a fresh Ed25519 key and a
// certificate for it (see [CA.IssueRequest]). The CA then holds the
// identity's private key, so it suits tests and single-operator setups;
// between institutions each makes its own key and sends a request.
func (ca *CA) Issue(name string) (*Identity, error) {
	pub, priv, serial, err := freshKey(name)
	if err != nil {
		return nil, err
	}
	cert, err := ca.issue(name, pub, serial)
	if err != nil {
		return nil, err
	}
	return &Identity{Name: name, Certificate: cert, PrivateKey: priv}, nil
}

// IssueRequest issues a certificate for the key of a certificate request
// (see [Identity.CertificateRequest]), so that the CA never sees the
// private key. It checks the request's signature, which shows that the
// requester holds the key, and its name: a valid CommonName, which must be
// the request's one and only DNS name, and no other names or addresses.
// Nothing else is copied from the request: like [CA.Issue], the certificate
// has the name as CommonName and DNS name, the loopback addresses 127.0.0.1
// and ::1, TLS client and server usage, and is valid for
// [IdentityValidity] (never beyond the CA's own expiry).
func (ca *CA) IssueRequest(csr *x509.CertificateRequest) (*x509.Certificate, error) {
	if csr == nil {
		return nil, fmt.Errorf("%w: none", ErrBadRequest)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadRequest, err)
	}
	name := csr.Subject.CommonName
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if !slices.Equal(csr.DNSNames, []string{name}) || len(csr.IPAddresses) > 0 || len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, fmt.Errorf("%w: it must name %q and nothing else", ErrBadRequest, name)
	}
	pub, ok := csr.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key", ErrBadRequest)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return ca.issue(name, pub, serial)
}

func (ca *CA) issue(name string, pub ed25519.PublicKey, serial *big.Int) (*x509.Certificate, error) {
	notAfter := time.Now().Add(IdentityValidity)
	if notAfter.After(ca.Certificate.NotAfter) {
		notAfter = ca.Certificate.NotAfter
	}
	tmpl := identityTemplate(name, serial, notAfter)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, pub, ca.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("transport: issuing certificate for %q: %w", name, err)
	}
	return x509.ParseCertificate(der)
}

// noExpiry is the NotAfter of self-signed identities: RFC 5280's
// 99991231235959Z, "no well-defined expiration date".
var noExpiry = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// NewSelfSigned makes a new identity named name: a fresh Ed25519 key and a
// certificate for it signed by the key itself, with the names, addresses
// and usages of one from [CA.Issue]. Peers trust it by pinning its key
// ([Trust].Pins), which does not expire, so neither does the certificate.
// Its owner can still have it certified by a CA through
// [Identity.CertificateRequest].
func NewSelfSigned(name string) (*Identity, error) {
	pub, priv, serial, err := freshKey(name)
	if err != nil {
		return nil, err
	}
	tmpl := identityTemplate(name, serial, noExpiry)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("transport: self-signing a certificate for %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Name: name, Certificate: cert, PrivateKey: priv}, nil
}

// CertificateRequest returns a PKCS #10 certificate request for the
// identity's name and key, signed with the key: what an institution sends to
// a CA ([CA.IssueRequest]) instead of ever sending its private key.
func (id *Identity) CertificateRequest() (*x509.CertificateRequest, error) {
	if err := checkIdentity(id); err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: id.Name},
		DNSNames: []string{id.Name},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, id.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("transport: certificate request for %q: %w", id.Name, err)
	}
	return x509.ParseCertificateRequest(der)
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
	return writeKeyPair(ca.Certificate, ca.PrivateKey, certPath, keyPath, false)
}

// CreateFiles is WriteFiles for a new CA: it fails (with an error matching
// fs.ErrExist) rather than replace a file at keyPath, so that a private key
// is never lost to a second run.
func (ca *CA) CreateFiles(certPath, keyPath string) error {
	return writeKeyPair(ca.Certificate, ca.PrivateKey, certPath, keyPath, true)
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
	return writeKeyPair(id.Certificate, id.PrivateKey, certPath, keyPath, false)
}

// CreateFiles is WriteFiles for a new identity: it fails (with an error
// matching fs.ErrExist) rather than replace a file at keyPath, so that a
// private key whose public key was already given out is never lost to a
// second run.
func (id *Identity) CreateFiles(certPath, keyPath string) error {
	return writeKeyPair(id.Certificate, id.PrivateKey, certPath, keyPath, true)
}

// WriteCertificate saves cert as PEM (mode 0644), replacing the file
// atomically.
func WriteCertificate(path string, cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("transport: no certificate")
	}
	return durable.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// loadPEM returns the DER of the single PEM block of type typ in the file
// at path.
func loadPEM(path, typ string) ([]byte, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	return decodeOne(path, data, typ)
}

// LoadCertificate reads the single PEM certificate in the file at path.
func LoadCertificate(path string) (*x509.Certificate, error) {
	der, err := loadPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %w", path, err)
	}
	return cert, nil
}

// WriteCertificateRequest saves csr as PEM (mode 0644), replacing the file
// atomically.
func WriteCertificateRequest(path string, csr *x509.CertificateRequest) error {
	if csr == nil {
		return errors.New("transport: no certificate request")
	}
	return durable.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}), 0o644)
}

// LoadCertificateRequest reads the single PEM certificate request in the
// file at path and checks its signature (a request that fails wraps
// [ErrBadRequest]).
func LoadCertificateRequest(path string) (*x509.CertificateRequest, error) {
	der, err := loadPEM(path, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadRequest, path, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %s: signature: %v", ErrBadRequest, path, err)
	}
	return csr, nil
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

// writeKeyPair writes the key, then the certificate. With exclusive, it
// fails if the key file exists.
func writeKeyPair(cert *x509.Certificate, key ed25519.PrivateKey, certPath, keyPath string, exclusive bool) error {
	if cert == nil || key == nil {
		return errors.New("transport: missing certificate or key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	write := durable.WriteFile
	if exclusive {
		write = createFile
	}
	err = write(keyPath, keyPEM, 0o600)
	clear(keyPEM)
	if err != nil {
		return err
	}
	return WriteCertificate(certPath, cert)
}

// createFile writes data to a new file at path with the given mode; it fails
// if path exists.
func createFile(path string, data []byte, mode os.FileMode) error {
	return durable.CreateFile(path, data, mode)
}
