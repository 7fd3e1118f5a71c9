package cosign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/transport"
)

// Certificate lifetimes of the registration authority.
const (
	// UserCertValidity is how long a user's signing certificate is valid.
	UserCertValidity = 365 * 24 * time.Hour
	// OrgCertValidity is how long an organisation's certificate is valid.
	OrgCertValidity = 3 * 365 * 24 * time.Hour
	// raBackdate tolerates clocks a little behind the RA's.
	raBackdate = 5 * time.Minute
)

// RA is the registration authority: a small CA (crypto/x509, Ed25519) that
// certifies the organisation's key and each user's split signing key. It
// wraps a [transport.CA], so the same files (maskshare ca) serve both the
// deployment's TLS identities and the signing certificates; the signing
// certificates differ from TLS ones by their key usage (digital signature
// and content commitment, no TLS usage).
type RA struct {
	CA *transport.CA
	// Now is the RA's clock; nil means time.Now.
	Now func() time.Time
}

func (ra *RA) now() time.Time {
	if ra.Now != nil {
		return ra.Now()
	}
	return time.Now()
}

// Roots returns a pool holding the RA's certificate.
func (ra *RA) Roots() *x509.CertPool { return ra.CA.Pool() }

func (ra *RA) issue(subject pkix.Name, pub ed25519.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key of %d bytes", ErrCertificate, len(pub))
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := ra.now()
	notAfter := now.Add(validity)
	if notAfter.After(ra.CA.Certificate.NotAfter) {
		notAfter = ra.CA.Certificate.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-raBackdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		// Content commitment (non-repudiation): what this key signs, its
		// holder stands behind.
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ra.CA.Certificate, pub, ra.CA.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("cosign: issuing certificate for %q: %w", subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// IssueOrg certifies the organisation's Ed25519 key under its name.
func (ra *RA) IssueOrg(org string, pub ed25519.PublicKey) (*x509.Certificate, error) {
	if err := checkName(org); err != nil {
		return nil, err
	}
	return ra.issue(pkix.Name{CommonName: org, Organization: []string{org}}, pub, OrgCertValidity)
}

// IssueUser certifies user's split signing key: the group key of the DKG
// whose success certificate is dkg. It checks the DKG certificate (every
// participant signed the same transcript) and that its group key is that
// of own, the public key package the service got from the same DKG, so
// the RA certifies only keys the service holds a share of. The
// certificate names the user (CommonName) in org (Organization).
func (ra *RA) IssueUser(org, user string, dkg *frost.DKGCertificate, own *frost.PublicKeyPackage) (*x509.Certificate, error) {
	if err := checkName(org); err != nil {
		return nil, err
	}
	if err := checkName(user); err != nil {
		return nil, err
	}
	if dkg == nil {
		return nil, fmt.Errorf("%w: no DKG certificate", ErrCertificate)
	}
	if err := dkg.Verify(); err != nil {
		return nil, fmt.Errorf("%w: DKG certificate: %w", ErrCertificate, err)
	}
	pkg, err := dkg.PublicKeyPackage()
	if err != nil {
		return nil, fmt.Errorf("%w: DKG certificate: %w", ErrCertificate, err)
	}
	if pkg.Suite() != frost.Ed25519 {
		return nil, fmt.Errorf("%w: DKG of suite %v, not Ed25519", ErrCertificate, pkg.Suite())
	}
	if own == nil || !bytes.Equal(own.GroupKey(), pkg.GroupKey()) {
		return nil, fmt.Errorf("%w: the service did not take part in the DKG", ErrCertificate)
	}
	return ra.issue(pkix.Name{CommonName: user, Organization: []string{org}}, ed25519.PublicKey(pkg.GroupKey()), UserCertValidity)
}

// checkName checks an organisation or user name: a transport name (ASCII
// letters, digits, '.', '-', '_'), which is also a valid log user id.
func checkName(name string) error {
	if !transport.ValidName(name) {
		return fmt.Errorf("%w: name %q (1–64 ASCII letters, digits, '.', '-', '_')", ErrBadRequest, name)
	}
	return nil
}

// VerifyCert checks cert against the RA roots at time at: its chain, its
// validity, its key usage and its Ed25519 key, which it returns. It does
// not check revocation (the service's registry does).
func VerifyCert(cert *x509.Certificate, roots *x509.CertPool, at time.Time) (ed25519.PublicKey, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: none", ErrCertificate)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrCertificate, cert.Subject.CommonName, err)
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: %q not for signatures", ErrCertificate, cert.Subject.CommonName)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %q has no Ed25519 key", ErrCertificate, cert.Subject.CommonName)
	}
	return pub, nil
}
